"""``enforce_network_policies``: the Amazon VPC CNI as an EKS add-on with its network policy agent on, so that the
NetworkPolicies the library ships (every API's, the Neuron add-ons') are enforced rather than stored and ignored."""

from __future__ import annotations

from aws_cdk import aws_eks_v2 as eks
from constructs import Construct

ADDON_NAME = "vpc-cni"
# The add-on's configuration value that turns on the network policy agent on every node (EKS user guide, "Restrict Pod
# network traffic with Kubernetes network policies", cni-network-policy-configure, checked 2026-12-04). EKS's network
# policy controller runs in the control plane of every cluster of a supported version.
ADDON_CONFIGURATION = {"enableNetworkPolicy": "true"}


def enforce_network_policies(scope: Construct, construct_id: str, *, cluster: eks.Cluster) -> eks.Addon:
    """The ``vpc-cni`` add-on on ``cluster`` with ``ADDON_CONFIGURATION``, at the version EKS picks for the cluster.

    EKS installs the VPC CNI on every new cluster itself (unmanaged); the add-on adopts that installation, and
    ``OVERWRITE`` lets it take over the fields EKS set, the policy agent's flag among them."""
    addon = eks.Addon(
        scope, construct_id, cluster=cluster, addon_name=ADDON_NAME, configuration_values=ADDON_CONFIGURATION
    )
    # L1 escape hatch: aws-cdk-lib 2.275's Addon has no resolveConflicts property; AWS::EKS::Addon has one.
    resource = addon.node.default_child
    assert isinstance(resource, eks.CfnAddon)
    resource.resolve_conflicts = "OVERWRITE"
    return addon
