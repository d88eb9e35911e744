"""NeuronNodegroup: an EKS managed node group of Neuron instances that schedules, and scales from zero, on current EKS.

Built on ``aws_eks_v2.Nodegroup`` directly. ``Cluster.add_nodegroup_capacity`` is never used: for Neuron types it
picks the AL2 GPU AMI (none exists for Kubernetes 1.33+) and adds a stale device plugin from a private-account image
without RBAC (aws/aws-cdk issue 29262). The device plugin comes from :class:`NeuronDevicePlugin` instead.
"""

from __future__ import annotations

from collections.abc import Sequence

import aws_cdk as cdk
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_eks_v2 as eks
from aws_cdk import aws_iam as iam
from aws_cdk import custom_resources as cr
from constructs import Construct
from pydantic import ValidationError

from ..core.capacity import NodeGroupCapacity
from ..core.validation import check_node_group
from ..kube.neuron import (
    NEURON_TAINT_KEY,
    NEURON_TAINT_VALUE,
    autoscaling_group_tags,
    node_labels,
)
from ..spec.models import NodeGroupSpec, cluster_name_error
from ..spec.problems import ConfigError, Problem, argument_problem, pydantic_problems, raise_for_errors, shown
from ._arns import any_autoscaling_group_arn

AMI_TYPES = {"al2023": "AL2023_x86_64_NEURON", "bottlerocket": "BOTTLEROCKET_x86_64"}
"""``AmiType`` of AWS::EKS::Nodegroup per ``ami``: the x86_64 AMIs that carry the Neuron driver."""

_CAPACITY_TYPES = {"on_demand": eks.CapacityType.ON_DEMAND, "spot": eks.CapacityType.SPOT}
# The Neuron families among aws-cdk-lib's GPU instance classes (aws-eks-v2 private/nodegroup.ts isGpuInstanceType).
_AWS_CDK_LIB_GPU_FAMILIES = frozenset({"inf1", "inf2"})


def ami_problem(ami: str) -> Problem | None:
    """Why ``ami`` cannot run Neuron instances, or None for a supported choice."""
    valid = "valid: 'al2023' (AL2023_x86_64_NEURON, the default) or 'bottlerocket' (BOTTLEROCKET_x86_64)"
    if not isinstance(ami, str):
        return Problem(("ami",), f"{shown(ami)} is not an AMI choice; {valid}")
    if ami in AMI_TYPES:
        return None
    lowered = ami.lower()
    if "nvidia" in lowered or "gpu" in lowered:
        reason = "NVIDIA AMIs carry CUDA drivers, not the Neuron driver, so the node would advertise no Neuron devices"
    elif lowered.startswith("al2") and not lowered.startswith("al2023"):
        reason = (
            "Amazon Linux 2 EKS AMIs reached end of support on 2025-11-26 and none exists for Kubernetes 1.33 and later"
        )
    elif "arm" in lowered:
        reason = "Neuron instances are x86_64; an Arm AMI cannot boot them"
    elif "windows" in lowered:
        reason = "there is no Neuron driver for Windows"
    else:
        reason = "it is not an AMI choice of this library"
    return Problem(("ami",), f"{shown(ami)} cannot run Neuron instance types: {reason}; {valid}")


def nodegroup_name(nodegroup: eks.Nodegroup) -> str:
    """The node group's own name, as the EKS and Auto Scaling APIs know it.

    ``Nodegroup.nodegroup_name`` is the resource's ``Ref``, which is ``<cluster>/<node group>`` (aws/aws-cdk issue
    22442); ``Fn::GetAtt NodegroupName`` is the name alone.
    """
    resource = nodegroup.node.default_child
    assert isinstance(resource, eks.CfnNodegroup)
    return resource.attr_nodegroup_name


def literal_cluster_name(cluster: eks.ICluster, cluster_name: str | None = None) -> str:
    """The cluster's name as a literal string.

    Cluster Autoscaler's tag keys embed the cluster name, and IAM condition keys and tag-map keys cannot hold a
    deploy-time token; ``Cluster(cluster_name=...)`` keeps the literal on its CfnCluster.
    """
    if cluster_name is not None:
        return cluster_name
    if not cdk.Token.is_unresolved(cluster.cluster_name):
        return cluster.cluster_name
    resource = cluster.node.default_child
    if isinstance(resource, eks.CfnCluster) and resource.name and not cdk.Token.is_unresolved(resource.name):
        return resource.name
    raise ValueError(
        f"cluster {cluster.node.path} has no literal name: give it cluster_name=... or pass cluster_name= here, "
        "since Cluster Autoscaler's discovery tags contain the name"
    )


class NeuronNodegroup(Construct):
    """A managed node group of one Neuron family, labelled, tainted and tagged for Cluster Autoscaler.

    Every node carries the labels ``aws.amazon.com/neuron=true`` and ``inferentia-cdk/node-group=<name>`` and the taint
    ``aws.amazon.com/neuron=true:NoSchedule``, so that only pods that ask for Neuron land on these nodes. Nodes run in
    the cluster VPC's private subnets.

    Keyword arguments (all sizes are node counts):

    - ``name``: the group's name in labels and tags, a DNS label.
    - ``instance_types``: Neuron types of one family (e.g. ``["inf2.xlarge", "inf2.8xlarge"]``).
    - ``ami``: ``"al2023"`` (default, AMI type AL2023_x86_64_NEURON, with the Neuron driver) or ``"bottlerocket"``
      (BOTTLEROCKET_x86_64). Any other value raises ``ConfigError`` saying why.
    - ``capacity_type``: ``"on_demand"`` (default) or ``"spot"``.
    - ``min_size`` (default 0: no cost while idle, Cluster Autoscaler adds nodes for pending pods),
      ``desired_size`` (default 1: one node at first deploy), ``max_size`` (default 1: the most nodes, and so
      the vCPUs the Inf/Trn quota must cover); 0 <= min <= desired <= max and max >= 1.
    - ``disk_size``: root volume GiB, default 100 (Neuron images run to several GiB).
    - ``cluster_name``: the cluster's literal name, needed only when ``cluster`` was created without one.

    Raises ``problems.ConfigError`` naming each wrong field, its value and the valid choices before creating any
    resource. ``capacity`` (a :class:`NodeGroupCapacity`) gives instance types, max nodes, vCPUs, chips and cores per
    node and the quota code of the group's capacity type.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        cluster: eks.ICluster,
        name: str,
        instance_types: Sequence[str],
        ami: str = "al2023",
        capacity_type: str = "on_demand",
        min_size: int = 0,
        desired_size: int = 1,
        max_size: int = 1,
        disk_size: int = 100,
        cluster_name: str | None = None,
    ) -> None:
        # A rejected argument is a problem of its own; a valid stand-in lets every other problem be found too.
        bad_ami = ami_problem(ami)
        problems = [bad_ami] if bad_ami else []
        if isinstance(instance_types, (str, bytes)) or not isinstance(instance_types, Sequence):
            problems.append(
                argument_problem(
                    "instance_types",
                    instance_types,
                    "a list of Neuron instance types of one family, such as ['inf2.xlarge']",
                )
            )
            instance_types = ["inf2.xlarge"]
        name_error = None if cluster_name is None else cluster_name_error(cluster_name)
        if name_error:
            problems.append(Problem(("cluster_name",), name_error))
        try:
            spec = NodeGroupSpec(
                name=name,
                instance_types=list(instance_types),
                ami="al2023" if bad_ami else ami,
                capacity_type=capacity_type,  # the Literal is checked by pydantic
                min_size=min_size,
                desired_size=desired_size,
                max_size=max_size,
                disk_size=disk_size,
            )
        except ValidationError as error:
            raise ConfigError(problems + pydantic_problems(error)) from None
        raise_for_errors(problems + check_node_group(spec))
        super().__init__(scope, construct_id)
        self.spec = spec
        self.capacity = NodeGroupCapacity.of(spec)
        self.cluster = cluster
        self.cluster_name = literal_cluster_name(cluster, cluster_name)

        self.nodegroup = eks.Nodegroup(
            self,
            "Resource",
            cluster=cluster,
            # aws-cdk-lib checks the AMI type against the instance types: inf1/inf2 count as GPU types (GPU AMI types
            # only, so not Bottlerocket's standard x86_64 variant, which carries the Neuron driver) and trn1/trn2 as
            # plain x86_64. The real AMI type is set on the resource just below.
            ami_type=(
                eks.NodegroupAmiType.AL2023_X86_64_NEURON
                if self.capacity.family.name in _AWS_CDK_LIB_GPU_FAMILIES
                else eks.NodegroupAmiType.AL2023_X86_64_STANDARD
            ),
            capacity_type=_CAPACITY_TYPES[spec.capacity_type],
            instance_types=[ec2.InstanceType(t) for t in spec.instance_types],
            min_size=spec.min_size,
            desired_size=spec.desired_size,
            max_size=spec.max_size,
            disk_size=spec.disk_size,
            subnets=ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS),
            labels=node_labels(spec.name),
            taints=[
                # NoSchedule: render_neuron.NEURON_TAINT_EFFECT, which the autoscaler's taint tag carries.
                eks.TaintSpec(effect=eks.TaintEffect.NO_SCHEDULE, key=NEURON_TAINT_KEY, value=NEURON_TAINT_VALUE)
            ],
        )
        resource = self.nodegroup.node.default_child
        assert isinstance(resource, eks.CfnNodegroup)
        resource.ami_type = AMI_TYPES[spec.ami]
        self.autoscaling_group_tags = autoscaling_group_tags(self.capacity, self.cluster_name)
        self._tag_autoscaling_group()

    @classmethod
    def from_spec(
        cls,
        scope: Construct,
        construct_id: str,
        *,
        cluster: eks.ICluster,
        spec: NodeGroupSpec,
        cluster_name: str | None = None,
    ) -> NeuronNodegroup:
        """A node group from a config's ``node_groups`` entry."""
        return cls(
            scope,
            construct_id,
            cluster=cluster,
            name=spec.name,
            instance_types=spec.instance_types,
            ami=spec.ami,
            capacity_type=spec.capacity_type,
            min_size=spec.min_size,
            desired_size=spec.desired_size,
            max_size=spec.max_size,
            disk_size=spec.disk_size,
            cluster_name=cluster_name,
        )

    def _tag_autoscaling_group(self) -> None:
        """Put the Cluster Autoscaler tags on the Auto Scaling group that EKS creates for the node group.

        Managed node group tags stay on the EKS resource and never reach its Auto Scaling group, and CloudFormation
        does not return the group's name. Two SDK calls at deploy time close the gap:
        ``eks:DescribeNodegroup`` reads ``resources.autoScalingGroups[0].name``, then
        ``autoscaling:CreateOrUpdateTags`` writes the tags there. Both run on create and on every update whose
        parameters change: new tags, or a replaced node group (a new name and so a new Auto Scaling group). Nothing
        runs on delete: the Auto Scaling group, and its tags, go with the node group. The tag keys of one Auto
        Scaling group never change (they derive from its name, cluster and instance types, and changing any of those
        replaces the node group), so no stale tag can remain.

        The write permission names no group: the group's name holds a random suffix unknown until deploy. Instead it
        is conditioned on the tags EKS itself puts on the group (``eks:cluster-name``, ``eks:nodegroup-name``), so
        the function can tag this node group's Auto Scaling group and no other.
        """
        stack = cdk.Stack.of(self)
        own_name = nodegroup_name(self.nodegroup)
        asg_name_path = "nodegroup.resources.autoScalingGroups.0.name"
        describe = cr.AwsSdkCall(
            service="EKS",
            action="describeNodegroup",
            parameters={"clusterName": self.cluster.cluster_name, "nodegroupName": own_name},
            physical_resource_id=cr.PhysicalResourceId.of(own_name),
            # The whole answer can exceed the 4 KiB a custom resource may return.
            output_paths=[asg_name_path],
        )
        self.autoscaling_group_lookup = cr.AwsCustomResource(
            self,
            "AutoScalingGroupName",
            on_create=describe,
            on_update=describe,
            install_latest_aws_sdk=False,
            policy=cr.AwsCustomResourcePolicy.from_statements(
                [iam.PolicyStatement(actions=["eks:DescribeNodegroup"], resources=[self.nodegroup.nodegroup_arn])]
            ),
        )
        autoscaling_group_name = self.autoscaling_group_lookup.get_response_field(asg_name_path)
        tag = cr.AwsSdkCall(
            service="AutoScaling",
            action="createOrUpdateTags",
            parameters={
                "Tags": [
                    {
                        "ResourceId": autoscaling_group_name,
                        "ResourceType": "auto-scaling-group",
                        "Key": key,
                        "Value": value,
                        # Labels and taints reach nodes through the node group itself; tags on instances add nothing.
                        "PropagateAtLaunch": False,
                    }
                    for key, value in sorted(self.autoscaling_group_tags.items())
                ]
            },
            physical_resource_id=cr.PhysicalResourceId.of(autoscaling_group_name),
        )
        self.autoscaling_group_tagging = cr.AwsCustomResource(
            self,
            "AutoScalingGroupTags",
            on_create=tag,
            on_update=tag,
            install_latest_aws_sdk=False,
            policy=cr.AwsCustomResourcePolicy.from_statements(
                [
                    iam.PolicyStatement(
                        actions=["autoscaling:CreateOrUpdateTags"],
                        resources=[any_autoscaling_group_arn(stack)],
                        conditions={
                            "StringEquals": {
                                "aws:ResourceTag/eks:cluster-name": self.cluster.cluster_name,
                                "aws:ResourceTag/eks:nodegroup-name": own_name,
                            }
                        },
                    )
                ]
            ),
        )
