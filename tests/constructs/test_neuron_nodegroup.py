"""NeuronNodegroup: its rules (each fails without it), warnings, and the synthesized node groups: the tags Cluster
Autoscaler reads, Bottlerocket's launch template and node auto-repair.

Templates come from the session-wide example apps (one synth each); rule tests build constructs without synthesizing.
"""

from __future__ import annotations

import json
import tomllib
from typing import Any

import pytest
import synth_support
from synth_support import Synthesized

from inferentia_cdk import catalog
from inferentia_cdk.config.models import NodeGroupSpec
from inferentia_cdk.config.problems import ConfigError, errors, warnings
from inferentia_cdk.manifests.node_contract import node_template_tags
from inferentia_cdk.planning.capacity import NodeGroupCapacity
from inferentia_cdk.planning.validation import check_node_group

NEURON = "k8s.io/cluster-autoscaler/node-template/resources/aws.amazon.com/neuron"
NEURONCORE = "k8s.io/cluster-autoscaler/node-template/resources/aws.amazon.com/neuroncore"


# --- pure: the tags Cluster Autoscaler reads --------------------------------------------------------------------------


def test_node_template_tags_carry_per_node_counts_of_inf1_6xlarge() -> None:
    capacity = NodeGroupCapacity.of(NodeGroupSpec(name="big", instance_types=["inf1.6xlarge"], max_size=2))
    assert node_template_tags(capacity) == {NEURON: "4", NEURONCORE: "16"}


def test_node_template_tags_promise_only_what_every_instance_type_has() -> None:
    capacity = NodeGroupCapacity.of(NodeGroupSpec(name="mixed", instance_types=["inf2.24xlarge", "inf2.xlarge"]))
    tags = node_template_tags(capacity)
    assert (tags[NEURON], tags[NEURONCORE]) == ("1", "2")


# --- warnings: the group is built, the choice is reported ---------------------------------------------------------


def test_a_group_of_several_sizes_is_warned_about_cluster_autoscalers_single_node_template() -> None:
    spec = NodeGroupSpec(name="g", instance_types=["inf2.xlarge", "inf2.8xlarge"])
    found = check_node_group(spec, ("node_groups", 0))
    assert errors(found) == []
    (warning,) = warnings(found)
    assert (warning.path, warning.code) == (("node_groups", 0, "instance_types"), "NG005")
    assert (
        "mixes instance sizes (inf2.xlarge: 4 vCPUs, 16 GiB, 1 chip; inf2.8xlarge: 32 vCPUs, 128 GiB" in warning.message
    )
    assert "Cluster Autoscaler" in warning.message and "one instance type per node group" in warning.message


@pytest.mark.parametrize(
    "instance_types",
    [["inf2.xlarge"], ["trn1.32xlarge"], ["inf2.xlarge", "inf2.xlarge"], ["inf1.xlarge", "inf2.xlarge"]],
)
def test_one_size_or_an_invalid_group_gets_no_size_warning(instance_types: list[str]) -> None:
    found = check_node_group(NodeGroupSpec(name="g", instance_types=instance_types))
    assert "NG005" not in {w.code for w in warnings(found)}


def test_inf1_is_warned_about_its_legacy_neuron_driver_and_stays_valid() -> None:
    (warning,) = check_node_group(NodeGroupSpec(name="g", instance_types=["inf1.xlarge"]))
    assert (warning.code, warning.severity, warning.path) == ("NG006", "warning", ("instance_types",))
    assert warning.message.startswith("inf1.xlarge: Neuron drivers after 2.24 no longer support inf1")
    assert check_node_group(NodeGroupSpec(name="g", instance_types=["inf2.xlarge"])) == []


# --- rules: ConfigError before any resource ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def bare_cluster() -> Any:
    return synth_support.bare_cluster("Rules")


def _build(cluster: Any, **overrides: Any) -> Any:
    from inferentia_cdk.constructs.neuron_nodegroup import NeuronNodegroup

    props: dict[str, Any] = {"name": "g", "instance_types": ["inf2.xlarge"], **overrides}
    return NeuronNodegroup(cluster.stack, f"Group{len(cluster.stack.node.children)}", cluster=cluster, **props)


def _rejected(cluster: Any, **overrides: Any) -> str:
    children = len(cluster.stack.node.children)
    with pytest.raises(ConfigError) as raised:
        _build(cluster, **overrides)
    assert len(cluster.stack.node.children) == children, "nothing is created for a rejected node group"
    return str(raised.value)


def test_non_neuron_instance_type_is_rejected_with_the_neuron_types(bare_cluster: Any) -> None:
    message = _rejected(bare_cluster, instance_types=["g5.xlarge"])
    assert "instance_types[0]: 'g5.xlarge' is not a Neuron instance type" in message and "[NG002]" in message
    assert all(name in message for name in catalog.NEURON_INSTANCE_TYPE_NAMES)


def test_mixed_families_are_rejected(bare_cluster: Any) -> None:
    message = _rejected(bare_cluster, instance_types=["inf1.xlarge", "inf2.xlarge"])
    assert "[NG003]" in message
    assert "inf1: inf1.xlarge" in message and "inf2: inf2.xlarge" in message


@pytest.mark.parametrize(
    ("ami", "reason"),
    [
        ("AL2_x86_64_GPU", "NVIDIA AMIs carry CUDA drivers"),
        ("AL2023_x86_64_NVIDIA", "NVIDIA AMIs carry CUDA drivers"),
        ("bottlerocket_nvidia", "NVIDIA AMIs carry CUDA drivers"),
        ("al2", "Amazon Linux 2 EKS AMIs reached end of support"),
        ("AL2_x86_64", "Amazon Linux 2 EKS AMIs reached end of support"),
        ("AL2023_ARM_64_STANDARD", "Neuron instances are x86_64"),
        ("ubuntu", "not an AMI choice"),
    ],
)
def test_non_neuron_ami_is_rejected_with_a_reason(bare_cluster: Any, ami: str, reason: str) -> None:
    message = _rejected(bare_cluster, ami=ami)
    assert f"ami: {ami!r} " in message and "[NG010]" in message
    assert reason in message
    assert "'al2023'" in message and "'bottlerocket'" in message


@pytest.mark.parametrize(
    ("sizes", "path", "code"),
    [
        ({"min_size": 2, "desired_size": 1, "max_size": 3}, "desired_size: ", "NG007"),
        ({"min_size": 0, "desired_size": 4, "max_size": 3}, "desired_size: ", "NG007"),
        ({"min_size": 0, "desired_size": 0, "max_size": 0}, "max_size: ", "CFG004"),
        ({"min_size": -1}, "min_size: ", "CFG004"),
        ({"disk_size": 10}, "disk_size: ", "CFG004"),
    ],
)
def test_bad_sizes_are_rejected(bare_cluster: Any, sizes: dict[str, int], path: str, code: str) -> None:
    (line,) = _rejected(bare_cluster, **sizes).splitlines()[1:]
    assert line.strip().startswith(path) and line.endswith(f"[{code}]")


def test_capacity_type_must_be_on_demand_or_spot(bare_cluster: Any) -> None:
    message = _rejected(bare_cluster, capacity_type="capacity_block")
    assert "capacity_type: 'capacity_block' is not valid" in message and "'on_demand' or 'spot'" in message
    assert message.endswith("[CFG005]")


def test_every_problem_is_reported_at_once(bare_cluster: Any) -> None:
    message = _rejected(bare_cluster, ami="al2", instance_types=["m5.large"], min_size=3, desired_size=1)
    assert [line.rsplit(" ", 1)[1] for line in message.splitlines()[1:]] == ["[NG010]", "[NG002]", "[NG007]"]


def test_warnings_become_acknowledgeable_annotations_on_the_group(bare_cluster: Any) -> None:
    group = _build(bare_cluster, instance_types=["inf1.xlarge", "inf1.2xlarge"])
    messages = [str(entry.data) for entry in group.node.metadata if entry.type == "aws:cdk:warning"]
    assert len(messages) == len(group.warnings) == 2
    assert all("[ack: inferentia-cdk:instance_types]" in m for m in messages)
    assert any("mixes instance sizes" in m for m in messages) and any(
        "inf1.xlarge, inf1.2xlarge" in m for m in messages
    )
    quiet = _build(bare_cluster, instance_types=["inf2.xlarge"])
    assert quiet.warnings == () and not [e for e in quiet.node.metadata if e.type == "aws:cdk:warning"]


def test_node_auto_repair_is_on_unless_turned_off(bare_cluster: Any) -> None:
    from aws_cdk import aws_eks_v2 as eks

    def repair(group: Any) -> Any:
        resource = group.nodegroup.node.default_child
        assert isinstance(resource, eks.CfnNodegroup)
        return bare_cluster.stack.resolve(resource.node_repair_config)

    assert repair(_build(bare_cluster)) == {"enabled": True}
    assert repair(_build(bare_cluster, node_auto_repair=False)) is None


def test_node_auto_repair_follows_the_config(bare_cluster: Any) -> None:
    from aws_cdk import aws_eks_v2 as eks

    from inferentia_cdk.constructs.neuron_nodegroup import NeuronNodegroup

    spec = NodeGroupSpec(name="debug", instance_types=["inf2.xlarge"], node_auto_repair=False)
    group = NeuronNodegroup.from_spec(bare_cluster.stack, "FromConfig", cluster=bare_cluster, spec=spec)
    resource = group.nodegroup.node.default_child
    assert isinstance(resource, eks.CfnNodegroup)
    assert resource.node_repair_config is None
    assert group.spec.node_auto_repair is False


def test_valid_props_expose_capacity(bare_cluster: Any) -> None:
    group = _build(bare_cluster, name="big", instance_types=["inf1.6xlarge"], capacity_type="spot", max_size=3)
    capacity = group.capacity
    assert capacity.instance_type_names == ("inf1.6xlarge",)
    assert (capacity.max_nodes, capacity.vcpus_per_node, capacity.chips_per_node) == (3, 24, 4)
    assert capacity.neuroncores_per_node == 16
    assert capacity.quota.code == "L-B5D1601B"
    assert group.nodegroup.node.id == "Resource"
    assert group.spec.name == "big"


# --- the synthesized example apps -------------------------------------------------------------------------------------


def _resources(template: dict[str, Any], resource_type: str) -> dict[str, dict[str, Any]]:
    return {k: r for k, r in template["Resources"].items() if r["Type"] == resource_type}


def _neuron_nodegroups(app: Synthesized) -> list[dict[str, Any]]:
    groups = _resources(app.template("Cluster"), "AWS::EKS::Nodegroup").values()
    return [g["Properties"] for g in groups if "aws.amazon.com/neuron" in g["Properties"].get("Labels", {})]


def test_default_app_has_an_al2023_neuron_node_group_with_taint_and_labels(default_app: Synthesized) -> None:
    from aws_cdk.assertions import Match, Template

    Template.from_json(default_app.template("Cluster")).has_resource_properties(
        "AWS::EKS::Nodegroup",
        {
            "AmiType": "AL2023_x86_64_NEURON",
            "CapacityType": "ON_DEMAND",
            "InstanceTypes": ["inf1.xlarge"],
            "Labels": {"aws.amazon.com/neuron": "true", "inferentia-cdk/node-group": "inf1"},
            "Taints": [{"Effect": "NO_SCHEDULE", "Key": "aws.amazon.com/neuron", "Value": "true"}],
            "ScalingConfig": {"MinSize": 0, "DesiredSize": 1, "MaxSize": 4},
            "DiskSize": 100,
            "Subnets": Match.array_with([{"Ref": Match.string_like_regexp("^Vpcnodes")}]),
        },
    )


def test_neuron_node_groups_run_in_private_subnets_only(any_app: Synthesized) -> None:
    for group in _neuron_nodegroups(any_app):
        assert group["Subnets"] and all(s["Ref"].startswith("Vpcnodes") for s in group["Subnets"])


def test_bottlerocket_and_spot_on_request(full_app: Synthesized) -> None:
    by_ami = {g["AmiType"]: g for g in _neuron_nodegroups(full_app)}
    assert set(by_ami) == {"AL2023_x86_64_NEURON", "BOTTLEROCKET_x86_64"}
    assert by_ami["BOTTLEROCKET_x86_64"]["CapacityType"] == "SPOT"


def test_stack_exposes_neuron_nodegroups_by_name(full_app: Synthesized) -> None:
    from aws_cdk import aws_eks_v2 as eks

    groups = full_app.stacks["cluster"].neuron_cluster.capacity.neuron_nodegroups
    assert set(groups) == {g.name for g in full_app.stacks["cluster"].config.node_groups}
    for name, group in groups.items():
        assert isinstance(group.nodegroup, eks.Nodegroup)
        assert group.spec.name == name


def test_every_neuron_group_has_node_auto_repair(any_app: Synthesized) -> None:
    groups = _neuron_nodegroups(any_app)
    assert groups and all(g["NodeRepairConfig"] == {"Enabled": True} for g in groups)


def test_node_monitoring_agent_add_on_reports_what_auto_repair_acts_on(any_app: Synthesized) -> None:
    addons = {a["Properties"]["AddonName"] for a in _resources(any_app.template("Cluster"), "AWS::EKS::Addon").values()}
    assert "eks-node-monitoring-agent" in addons


def test_scale_from_zero_tags_are_on_the_node_group_itself(full_app: Synthesized) -> None:
    """Cluster Autoscaler reads them with eks:DescribeNodegroup; labels and taints come from the group as they are."""
    by_name = {g["Labels"]["inferentia-cdk/node-group"]: g for g in _neuron_nodegroups(full_app)}
    assert by_name["inf1-large"]["Tags"] == {NEURON: "4", NEURONCORE: "16"}
    assert by_name["inf2-spot"]["Tags"] == {NEURON: "1", NEURONCORE: "2"}


def test_no_deploy_time_calls_rewrite_the_auto_scaling_groups(any_app: Synthesized) -> None:
    """EKS tags a managed node group's Auto Scaling group for Cluster Autoscaler's discovery itself."""
    for template in any_app.templates.values():
        assert _resources(template, "Custom::AWS") == {}
        assert "CreateOrUpdateTags" not in json.dumps(template)


def _launch_templates(app: Synthesized) -> dict[str, dict[str, Any]]:
    return _resources(app.template("Cluster"), "AWS::EC2::LaunchTemplate")


def test_bottlerocket_gets_a_launch_template_that_hands_neuron_devices_to_the_pods_user(full_app: Synthesized) -> None:
    (bottlerocket,) = [g for g in _neuron_nodegroups(full_app) if g["AmiType"] == "BOTTLEROCKET_x86_64"]
    templates = _launch_templates(full_app)
    (template_id,) = templates
    assert bottlerocket["LaunchTemplate"]["Id"] == {"Ref": template_id}
    assert bottlerocket["LaunchTemplate"]["Version"] == {"Fn::GetAtt": [template_id, "LatestVersionNumber"]}
    data = templates[template_id]["Properties"]["LaunchTemplateData"]
    settings = tomllib.loads(data["UserData"]["Fn::Base64"])
    # Only our setting: EKS merges in the cluster settings, and the AMI comes from the group's AmiType.
    assert settings == {"settings": {"kubernetes": {"device-ownership-from-security-context": True}}}
    assert "ImageId" not in data


def test_bottlerocket_disk_is_its_data_volume_sized_in_the_launch_template(full_app: Synthesized) -> None:
    (bottlerocket,) = [g for g in _neuron_nodegroups(full_app) if g["AmiType"] == "BOTTLEROCKET_x86_64"]
    assert "DiskSize" not in bottlerocket, "EKS rejects a disk size beside a launch template"
    (template,) = _launch_templates(full_app).values()
    data = template["Properties"]["LaunchTemplateData"]
    (volume,) = data["BlockDeviceMappings"]
    assert volume["DeviceName"] == "/dev/xvdb"
    assert volume["Ebs"] == {"VolumeSize": 100, "VolumeType": "gp3", "Encrypted": True, "DeleteOnTermination": True}
    assert data["MetadataOptions"] == {"HttpTokens": "required", "HttpPutResponseHopLimit": 2}


def test_al2023_groups_keep_ekss_own_launch_template(default_app: Synthesized) -> None:
    (group,) = _neuron_nodegroups(default_app)
    assert "LaunchTemplate" not in group and group["DiskSize"] == 100
    assert _launch_templates(default_app) == {}


def test_bottlerocket_user_data_is_valid_toml_without_formats_eks_cannot_merge() -> None:
    from inferentia_cdk.constructs.neuron_nodegroup import BOTTLEROCKET_USER_DATA

    assert tomllib.loads(BOTTLEROCKET_USER_DATA)["settings"]["kubernetes"]["device-ownership-from-security-context"]
    # EKS's merge does not support quoted keys in bracketed headers, among others (EKS User Guide, launch templates).
    assert '"' not in BOTTLEROCKET_USER_DATA


def test_a_warning_acknowledged_by_code_becomes_no_annotation(bare_cluster: Any) -> None:
    group = _build(bare_cluster, instance_types=["inf1.xlarge"], acknowledge={"NG006": "an inf1-compiled model"})
    assert group.warnings == ()
    assert [(a.problem.code, a.reason) for a in group.acknowledged] == [("NG006", "an inf1-compiled model")]
    assert [entry for entry in group.node.metadata if entry.type == "aws:cdk:warning"] == []
    shown = _build(bare_cluster, instance_types=["inf1.xlarge"])
    (annotation,) = [str(e.data) for e in shown.node.metadata if e.type == "aws:cdk:warning"]
    assert "[NG006]" in annotation and "[ack: inferentia-cdk:instance_types]" in annotation


@pytest.mark.parametrize(
    ("acknowledge", "code"),
    [
        ({"NG007": "sizes"}, "ACK001"),
        ({"XX001": "typo"}, "ACK001"),
        ({"NG006": ""}, "ACK002"),
        ({"NG006": None}, "ACK002"),
        (["NG006"], "ARG001"),
    ],
)
def test_a_construct_refuses_what_the_config_refuses_in_acknowledge(
    bare_cluster: Any, acknowledge: Any, code: str
) -> None:
    message = _rejected(bare_cluster, instance_types=["inf1.xlarge"], acknowledge=acknowledge)
    assert message.endswith(f"[{code}]") and "acknowledge" in message
