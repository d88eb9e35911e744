"""NeuronNodegroup: an EKS managed node group of Neuron instances that schedules, and scales from zero, on current EKS.

Built on ``aws_eks_v2.Nodegroup`` directly. ``Cluster.add_nodegroup_capacity`` is never used: for Neuron types it
picks the AL2 GPU AMI (none exists for Kubernetes 1.33+) and adds a stale device plugin from a private-account image
without RBAC (aws/aws-cdk issue 29262). The device plugin comes from :class:`NeuronDevicePlugin` instead.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import aws_cdk as cdk
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_eks_v2 as eks
from constructs import Construct
from pydantic import ValidationError

from .. import catalog
from ..config.models import NodeGroupSpec
from ..config.problems import (
    ConfigError,
    Problem,
    argument_problem,
    pydantic_problems,
    raise_for_errors,
    rule,
    shown,
    warnings,
)
from ..manifests.node_contract import NEURON_TAINT_KEY, NEURON_TAINT_VALUE, node_labels, node_template_tags
from ..planning.capacity import NodeGroupCapacity
from ..planning.validation import check_node_group
from ._acknowledge import acknowledgement_problems, report_warnings

AMI_TYPES = {"al2023": "AL2023_x86_64_NEURON", "bottlerocket": "BOTTLEROCKET_x86_64"}
"""``AmiType`` of AWS::EKS::Nodegroup per ``ami``: the x86_64 AMIs that carry the Neuron driver."""

BOTTLEROCKET_USER_DATA = """\
[settings.kubernetes]
device-ownership-from-security-context = true
"""
"""Bottlerocket settings (TOML) that EKS merges into the user data it writes to join the cluster (EKS User Guide,
"Customize managed nodes with launch templates"). Without this setting a non-root container cannot open the
``/dev/neuron*`` devices the device plugin hands it; with it, they belong to the pod's ``runAsUser``/``runAsGroup``
(EKS User Guide, "Use EKS-optimized accelerated AMIs", EKS Bottlerocket Neuron AMIs)."""
AL2023_LNC_USER_DATA = """\
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="==INFERENTIA-CDK=="

--==INFERENTIA-CDK==
Content-Type: text/x-shellscript; charset="us-ascii"

#!/bin/bash
set -euo pipefail
install -d -m 0755 /opt/aws/neuron
printf 'NEURON_LOGICAL_NC_CONFIG=%d\\n' {lnc} > /opt/aws/neuron/logical_nc_config

--==INFERENTIA-CDK==--
"""
"""AL2023 user data (MIME multi-part, which EKS merges with its own) that sets the node's logical NeuronCore
configuration before the kubelet and the device plugin start: the mechanism of the Neuron docs ("EKS prerequisites",
Trn2 LNC configuration: the launch template's user data writes ``NEURON_LOGICAL_NC_CONFIG`` to
``/opt/aws/neuron/logical_nc_config``; seen 2026-12-04). The device plugin reads ``/opt/aws`` from the host and then
advertises the node's cores at that LNC."""
AL2023_ROOT_VOLUME = "/dev/xvda"
BOTTLEROCKET_DATA_VOLUME = "/dev/xvdb"
"""Bottlerocket's data volume (images, containers, emptyDirs; the OS volume is /dev/xvda), as Karpenter maps it
(aws/karpenter-provider-aws, pkg/providers/amifamily/bottlerocket.go)."""

_CAPACITY_TYPES = {"on_demand": eks.CapacityType.ON_DEMAND, "spot": eks.CapacityType.SPOT}
# The Neuron families among aws-cdk-lib's GPU instance classes (aws-eks-v2 private/nodegroup.ts isGpuInstanceType).
_AWS_CDK_LIB_GPU_FAMILIES = frozenset({"inf1", "inf2"})


NEURON_AMI = rule("NG010", "error", "a node group's ami is an AMI choice that runs Neuron instance types")


def ami_problem(ami: str) -> Problem | None:
    """Why ``ami`` cannot run Neuron instances, or None for a supported choice."""
    valid = "valid: 'al2023' (AL2023_x86_64_NEURON, the default) or 'bottlerocket' (BOTTLEROCKET_x86_64)"
    if not isinstance(ami, str):
        return NEURON_AMI.problem(("ami",), f"{shown(ami)} is not an AMI choice; {valid}")
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
    return NEURON_AMI.problem(("ami",), f"{shown(ami)} cannot run Neuron instance types: {reason}; {valid}")


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

    Cluster Autoscaler's discovery tag keys embed the cluster name, and IAM condition keys cannot hold a deploy-time
    token; ``Cluster(cluster_name=...)`` keeps the literal on its CfnCluster.
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
    the cluster VPC's private subnets. The node group's tags tell Cluster Autoscaler how many Neuron chips and cores
    a node has, so it can scale the group up from zero nodes. A Bottlerocket group gets a launch template whose user
    data hands the Neuron devices to the pod's user. Node auto-repair replaces a node whose Neuron devices fail, as
    the EKS node monitoring agent reports it.

    Keyword arguments (all sizes are node counts):

    - ``name``: the group's name in labels and tags, a DNS label.
    - ``instance_types``: Neuron types of one family (e.g. ``["inf2.xlarge", "inf2.8xlarge"]``).
    - ``ami``: ``"al2023"`` (default, AMI type AL2023_x86_64_NEURON, with the Neuron driver) or ``"bottlerocket"``
      (BOTTLEROCKET_x86_64). Any other value raises ``ConfigError`` saying why.
    - ``capacity_type``: ``"on_demand"`` (default) or ``"spot"``.
    - ``min_size`` (default 0: no cost while idle, Cluster Autoscaler adds nodes for pending pods),
      ``desired_size`` (default 1: one node at first deploy), ``max_size`` (default 1: the most nodes, and so
      the vCPUs the Inf/Trn quota must cover); 0 <= min <= desired <= max and max >= 1.
    - ``disk_size``: GiB of the disk that holds images and pod scratch space, default 100 (Neuron images run to
      several GiB): the root volume on AL2023, the data volume on Bottlerocket.
    - ``node_auto_repair``: default ``True``: EKS replaces (or reboots) nodes that turn unhealthy, including those
      whose Neuron devices the node monitoring agent reports as failed. ``False`` leaves broken nodes in place.
    - ``lnc``: the logical NeuronCore configuration of trn2 nodes (1 or 2; default: the family's, 2). A value other
      than the default is written on each AL2023 node by a launch template's user data; other families refuse it.

    Raises ``problems.ConfigError`` naming each wrong field, its value and the valid choices before creating any
    resource. Warnings (several instance sizes in one group, inf1 on a legacy Neuron driver) become warning
    annotations with the id ``inferentia-cdk:instance_types``, which ``Annotations.of(group).acknowledge_warning``
    accepts, and stay in :attr:`warnings`; ``acknowledge={"NG006": "reason"}`` acknowledges them by rule code
    (docs/rules.md) instead, and keeps them in :attr:`acknowledged`. ``capacity`` (a :class:`NodeGroupCapacity`)
    gives instance types, max nodes, vCPUs, chips and cores per node and the quota code of the group's capacity type.
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
        node_auto_repair: bool = True,
        lnc: int | None = None,
        acknowledge: Mapping[str, str] | None = None,
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
        if not isinstance(node_auto_repair, bool):
            problems.append(argument_problem("node_auto_repair", node_auto_repair, "True or False"))
            node_auto_repair = True
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
                node_auto_repair=node_auto_repair,
                lnc=lnc,
            )
        except ValidationError as error:
            raise ConfigError(problems + pydantic_problems(error)) from None
        group_problems = check_node_group(spec)
        raise_for_errors(problems + group_problems + acknowledgement_problems(acknowledge))
        super().__init__(scope, construct_id)
        self.spec = spec
        self.capacity = NodeGroupCapacity.of(spec)
        self.cluster = cluster
        self.warnings, self.acknowledged = report_warnings(self, warnings(group_problems), acknowledge)
        self.node_template_tags = node_template_tags(self.capacity)
        family = self.capacity.family
        self.lnc_user_data = (
            AL2023_LNC_USER_DATA.format(lnc=family.lnc)
            if spec.ami == "al2023"
            and spec.lnc is not None
            and family.has_lnc
            and family.lnc != catalog.FAMILIES[family.name].lnc
            else None
        )
        if spec.ami == "bottlerocket":
            self.launch_template: ec2.LaunchTemplate | None = self._launch_template(
                BOTTLEROCKET_USER_DATA, BOTTLEROCKET_DATA_VOLUME
            )
        elif self.lnc_user_data is not None:
            self.launch_template = self._launch_template(self.lnc_user_data, AL2023_ROOT_VOLUME)
        else:
            self.launch_template = None

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
            # EKS refuses a disk size beside a launch template; the template sizes the disk instead.
            disk_size=None if self.launch_template else spec.disk_size,
            launch_template_spec=(
                eks.LaunchTemplateSpec(
                    id=self.launch_template.launch_template_id, version=self.launch_template.latest_version_number
                )
                if self.launch_template
                else None
            ),
            subnets=ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS),
            labels=node_labels(spec.name),
            taints=[
                # NoSchedule: manifests.node_contract.NEURON_TAINT_EFFECT, the effect API pods tolerate.
                eks.TaintSpec(effect=eks.TaintEffect.NO_SCHEDULE, key=NEURON_TAINT_KEY, value=NEURON_TAINT_VALUE)
            ],
            # Cluster Autoscaler reads the node group's own tags through eks:DescribeNodegroup; EKS does not copy
            # them to the Auto Scaling group, which carries EKS's own discovery tags.
            tags=self.node_template_tags,
            enable_node_auto_repair=spec.node_auto_repair,
        )
        resource = self.nodegroup.node.default_child
        assert isinstance(resource, eks.CfnNodegroup)
        resource.ami_type = AMI_TYPES[spec.ami]

    @classmethod
    def from_spec(
        cls,
        scope: Construct,
        construct_id: str,
        *,
        cluster: eks.ICluster,
        spec: NodeGroupSpec,
        acknowledge: Mapping[str, str] | None = None,
    ) -> NeuronNodegroup:
        """A node group from a config's ``node_groups`` entry (and the config's ``acknowledge``)."""
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
            node_auto_repair=spec.node_auto_repair,
            lnc=spec.lnc,
            acknowledge=acknowledge,
        )

    def _launch_template(self, user_data: str, disk_device: str) -> ec2.LaunchTemplate:
        """User data EKS merges into its own (Bottlerocket's Neuron setting, or AL2023's LNC script), and the disk that
        a launch template must size in place of the node group.

        No AMI id: EKS keeps choosing and updating the AMI of the group's AMI type and adds the settings that join the
        node to the cluster. Instance metadata is two network hops away, as in the launch template EKS makes for a
        managed node group, so pods reach it alike on either AMI; only IMDSv2 answers.
        """
        return ec2.LaunchTemplate(
            self,
            "LaunchTemplate",
            user_data=ec2.UserData.custom(user_data),
            block_devices=[
                ec2.BlockDevice(
                    device_name=disk_device,
                    volume=ec2.BlockDeviceVolume.ebs(
                        self.spec.disk_size,
                        encrypted=True,
                        volume_type=ec2.EbsDeviceVolumeType.GP3,
                        # Nodes come and go with Cluster Autoscaler; their disks must go with them.
                        delete_on_termination=True,
                    ),
                )
            ],
            require_imdsv2=True,
            http_put_response_hop_limit=2,
        )
