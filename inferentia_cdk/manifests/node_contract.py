"""The contract between a Neuron node group and what runs on it: node labels, taint and toleration, the extended
resources the device plugin advertises, where Neuron DaemonSets may run, and the tags by which Cluster Autoscaler
finds a group and scales it from zero."""

from __future__ import annotations

from typing import Final

from .. import catalog
from ..planning.capacity import NodeGroupCapacity
from .objects import Manifest

NEURON_RESOURCE: Final = "aws.amazon.com/neuron"
"""Extended resource the device plugin advertises: whole Neuron chips of a node."""
NEURONCORE_RESOURCE: Final = "aws.amazon.com/neuroncore"
"""Extended resource the device plugin advertises: NeuronCores of a node."""
NEURON_LABEL: Final = "aws.amazon.com/neuron"
NODE_GROUP_LABEL: Final = "inferentia-cdk/node-group"
"""Label naming a node's Neuron node group; API pods select their group with it."""
NEURON_TAINT_KEY: Final = "aws.amazon.com/neuron"
NEURON_TAINT_VALUE: Final = "true"
NEURON_TAINT_EFFECT: Final = "NoSchedule"

# Fargate, EKS hybrid nodes and EKS Auto Mode nodes never run this plugin (Auto Mode brings its own).
_EXCLUDED_COMPUTE_TYPES: Final = ("fargate", "hybrid", "auto")

# The tag prefix from which Cluster Autoscaler's AWS provider reads what a node of a group with no nodes yet would
# offer (kubernetes/autoscaler cluster-autoscaler/cloudprovider/aws/README.md, "Auto-Discovery Setup").
NODE_TEMPLATE_TAG_PREFIX: Final = "k8s.io/cluster-autoscaler/node-template"
AUTOSCALER_ENABLED_TAG: Final = "k8s.io/cluster-autoscaler/enabled"


def autoscaler_owner_tag(cluster_name: str) -> str:
    """The discovery tag key that ties an Auto Scaling group to one cluster's Cluster Autoscaler."""
    return f"k8s.io/cluster-autoscaler/{cluster_name}"


# --- Neuron node groups ---------------------------------------------------------------------------------------------


def node_labels(group_name: str) -> dict[str, str]:
    """Labels of every node of a Neuron node group."""
    return {NEURON_LABEL: "true", NODE_GROUP_LABEL: group_name}


def neuron_toleration() -> Manifest:
    """The toleration a pod needs to run on Neuron nodes."""
    return {"key": NEURON_TAINT_KEY, "operator": "Exists", "effect": NEURON_TAINT_EFFECT}


def discovery_tags(cluster_name: str) -> dict[str, str]:
    """Tags by which Cluster Autoscaler finds the Auto Scaling groups it may scale (``--node-group-auto-discovery``),
    and on which its IAM write permissions are conditioned. EKS puts them on the Auto Scaling group of every managed
    node group (EKS User Guide, "Simplify node lifecycle with managed node groups")."""
    return {AUTOSCALER_ENABLED_TAG: "true", autoscaler_owner_tag(cluster_name): "owned"}


def node_template_tags(capacity: NodeGroupCapacity) -> dict[str, str]:
    """Tags of a Neuron managed node group that let Cluster Autoscaler scale it up from zero nodes.

    With no node to look at, the autoscaler knows only the instance type's CPU and memory, and would believe a new
    node offers no ``aws.amazon.com/neuron``, so that no pending Neuron pod fits it. For a managed node group, Cluster
    Autoscaler 1.24+ calls ``eks:DescribeNodegroup`` and takes the group's own labels and taints, and since 1.28 these
    resource tags of the node group (kubernetes/autoscaler cloudprovider/aws/managed_nodegroup_cache.go and
    aws_manager.go ``buildNodeFromTemplate``); labels and taints therefore need no tags. The counts are per node,
    the smallest over the group's instance types (what every new node is sure to have).
    """
    return {
        f"{NODE_TEMPLATE_TAG_PREFIX}/resources/{NEURON_RESOURCE}": str(capacity.chips_per_node),
        f"{NODE_TEMPLATE_TAG_PREFIX}/resources/{NEURONCORE_RESOURCE}": str(capacity.neuroncores_per_node),
    }


def neuron_node_affinity() -> Manifest:
    """Only nodes of a Neuron instance type, and never Fargate, hybrid or Auto Mode nodes.

    Without it the device plugin crash-loops on ordinary nodes (eksctl issue 2329). The list is the whole catalog,
    so one DaemonSet serves every Neuron node group of the cluster.
    """
    return {
        "nodeAffinity": {
            "requiredDuringSchedulingIgnoredDuringExecution": {
                "nodeSelectorTerms": [
                    {
                        "matchExpressions": [
                            {
                                "key": "node.kubernetes.io/instance-type",
                                "operator": "In",
                                "values": list(catalog.NEURON_INSTANCE_TYPE_NAMES),
                            },
                            {
                                "key": "eks.amazonaws.com/compute-type",
                                "operator": "NotIn",
                                "values": list(_EXCLUDED_COMPUTE_TYPES),
                            },
                        ]
                    }
                ]
            }
        }
    }


def neuron_node_tolerations() -> list[Manifest]:
    return [{"key": "CriticalAddonsOnly", "operator": "Exists"}, neuron_toleration()]
