"""NeuronNodegroup: its rules (each fails without it), the synthesized node groups and their Auto Scaling group tags.

Templates come from the session-wide example apps (one synth each); rule tests build constructs without synthesizing.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from synth_support import Synthesized, _flatten

from inferentia_cdk.core.capacity import NodeGroupCapacity
from inferentia_cdk.facts import catalog
from inferentia_cdk.kube.neuron import autoscaling_group_tags, node_template_tags
from inferentia_cdk.spec.models import NodeGroupSpec
from inferentia_cdk.spec.problems import ConfigError

NEURON = "k8s.io/cluster-autoscaler/node-template/resources/aws.amazon.com/neuron"
NEURONCORE = "k8s.io/cluster-autoscaler/node-template/resources/aws.amazon.com/neuroncore"
TAINT = "k8s.io/cluster-autoscaler/node-template/taint/aws.amazon.com/neuron"


# --- pure: the tags Cluster Autoscaler reads --------------------------------------------------------------------------


def test_node_template_tags_carry_per_node_counts_of_inf1_6xlarge() -> None:
    capacity = NodeGroupCapacity.of(NodeGroupSpec(name="big", instance_types=["inf1.6xlarge"], max_size=2))
    tags = node_template_tags(capacity)
    assert tags[NEURON] == "4"
    assert tags[NEURONCORE] == "16"
    assert tags[TAINT] == "true:NoSchedule"
    assert tags["k8s.io/cluster-autoscaler/node-template/label/aws.amazon.com/neuron"] == "true"
    assert tags["k8s.io/cluster-autoscaler/node-template/label/inferentia-cdk/node-group"] == "big"


def test_node_template_tags_promise_only_what_every_instance_type_has() -> None:
    capacity = NodeGroupCapacity.of(NodeGroupSpec(name="mixed", instance_types=["inf2.24xlarge", "inf2.xlarge"]))
    tags = node_template_tags(capacity)
    assert (tags[NEURON], tags[NEURONCORE]) == ("1", "2")


def test_autoscaling_group_tags_include_discovery_tags_of_the_cluster() -> None:
    capacity = NodeGroupCapacity.of(NodeGroupSpec(name="g", instance_types=["inf2.xlarge"]))
    tags = autoscaling_group_tags(capacity, "prod")
    assert tags["k8s.io/cluster-autoscaler/enabled"] == "true"
    assert tags["k8s.io/cluster-autoscaler/prod"] == "owned"


# --- rules: ConfigError before any resource ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def bare_cluster() -> Any:
    """A stack with a cluster and nothing else; never synthesized."""
    import aws_cdk as cdk
    from aws_cdk import aws_eks_v2 as eks

    stack = cdk.Stack(cdk.App(), "RulesStack")
    return eks.Cluster(
        stack,
        "Cluster",
        cluster_name="rules",
        version=eks.KubernetesVersion.V1_36,
        default_capacity_type=eks.DefaultCapacityType.NODEGROUP,
        default_capacity=0,
    )


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
    assert "instance_types[0]: 'g5.xlarge' is not a Neuron instance type" in message
    assert all(name in message for name in catalog.NEURON_INSTANCE_TYPE_NAMES)


def test_mixed_families_are_rejected(bare_cluster: Any) -> None:
    message = _rejected(bare_cluster, instance_types=["inf1.xlarge", "inf2.xlarge"])
    assert "mixes Neuron families" in message
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
    assert f"ami: {ami!r} cannot run Neuron instance types" in message
    assert reason in message
    assert "'al2023'" in message and "'bottlerocket'" in message


@pytest.mark.parametrize(
    ("sizes", "expected"),
    [
        ({"min_size": 2, "desired_size": 1, "max_size": 3}, "0 <= min_size <= desired_size <= max_size"),
        ({"min_size": 0, "desired_size": 4, "max_size": 3}, "0 <= min_size <= desired_size <= max_size"),
        ({"min_size": 0, "desired_size": 0, "max_size": 0}, "max_size: Input should be greater than or equal to 1"),
        ({"min_size": -1}, "min_size: Input should be greater than or equal to 0"),
        ({"disk_size": 10}, "disk_size: Input should be greater than or equal to 20"),
    ],
)
def test_bad_sizes_are_rejected(bare_cluster: Any, sizes: dict[str, int], expected: str) -> None:
    assert expected in _rejected(bare_cluster, **sizes)


def test_capacity_type_must_be_on_demand_or_spot(bare_cluster: Any) -> None:
    message = _rejected(bare_cluster, capacity_type="capacity_block")
    assert "capacity_type: 'capacity_block' is not valid" in message and "'on_demand' or 'spot'" in message


def test_every_problem_is_reported_at_once(bare_cluster: Any) -> None:
    message = _rejected(bare_cluster, ami="al2", instance_types=["m5.large"], min_size=3, desired_size=1)
    assert "3 problems" in message


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

    groups = full_app.stacks["cluster"].neuron_nodegroups
    assert set(groups) == {g.name for g in full_app.stacks["cluster"].config.node_groups}
    for name, group in groups.items():
        assert isinstance(group.nodegroup, eks.Nodegroup)
        assert group.spec.name == name


def _sdk_calls(template: dict[str, Any], action: str) -> list[dict[str, Any]]:
    calls = []
    for resource in _resources(template, "Custom::AWS").values():
        for phase in ("Create", "Update"):
            call = json.loads(_flatten(resource["Properties"][phase]))
            if call["action"] == action:
                calls.append(call)
    return calls


def _asg_tags(app: Synthesized) -> list[dict[str, str]]:
    """The tags written to each Neuron node group's Auto Scaling group (one dict per create and per update call)."""
    calls = _sdk_calls(app.template("Cluster"), "createOrUpdateTags")
    return [{tag["Key"]: tag["Value"] for tag in call["parameters"]["Tags"]} for call in calls]


def test_autoscaler_tags_reach_the_auto_scaling_group_on_create_and_update(any_app: Synthesized) -> None:
    tag_sets = _asg_tags(any_app)
    groups = any_app.stacks["cluster"].config.node_groups
    assert len(tag_sets) == 2 * len(groups)
    for call in _sdk_calls(any_app.template("Cluster"), "createOrUpdateTags"):
        assert {t["ResourceType"] for t in call["parameters"]["Tags"]} == {"auto-scaling-group"}
    lookups = _sdk_calls(any_app.template("Cluster"), "describeNodegroup")
    assert len(lookups) == 2 * len(groups)
    assert {tuple(c["outputPaths"]) for c in lookups} == {("nodegroup.resources.autoScalingGroups.0.name",)}


def test_discovery_tags_on_every_neuron_group(any_app: Synthesized) -> None:
    cluster_name = any_app.stacks["cluster"].config.cluster.name
    for tags in _asg_tags(any_app):
        assert tags["k8s.io/cluster-autoscaler/enabled"] == "true"
        assert tags[f"k8s.io/cluster-autoscaler/{cluster_name}"] == "owned"
        assert tags[TAINT] == "true:NoSchedule"


def test_inf1_6xlarge_group_advertises_4_chips_and_16_cores_at_zero_nodes(full_app: Synthesized) -> None:
    group = next(g for g in full_app.stacks["cluster"].config.node_groups if g.instance_types == ["inf1.6xlarge"])
    label = "k8s.io/cluster-autoscaler/node-template/label/inferentia-cdk/node-group"
    tags = [t for t in _asg_tags(full_app) if t[label] == group.name]
    assert tags and all((t[NEURON], t[NEURONCORE]) == ("4", "16") for t in tags)


def _policy_statements(template: dict[str, Any], logical_id_part: str) -> list[dict[str, Any]]:
    return [
        statement
        for logical_id, policy in _resources(template, "AWS::IAM::Policy").items()
        if logical_id_part in logical_id
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
    ]


def test_tagging_may_write_only_to_this_node_groups_auto_scaling_group(default_app: Synthesized) -> None:
    statements = _policy_statements(default_app.template("Cluster"), "AutoScalingGroupTags")
    (statement,) = statements
    assert statement["Action"] == "autoscaling:CreateOrUpdateTags"
    assert statement["Resource"] != "*"
    conditions = statement["Condition"]["StringEquals"]
    (cluster_id,) = _resources(default_app.template("Cluster"), "AWS::EKS::Cluster")
    assert conditions["aws:ResourceTag/eks:cluster-name"] == {"Ref": cluster_id}
    assert conditions["aws:ResourceTag/eks:nodegroup-name"]["Fn::GetAtt"][1] == "NodegroupName"
    (lookup,) = _policy_statements(default_app.template("Cluster"), "AutoScalingGroupName")
    assert lookup["Action"] == "eks:DescribeNodegroup"
    assert lookup["Resource"]["Fn::GetAtt"][1] == "Arn"


def test_node_group_names_come_from_getatt_not_ref(default_app: Synthesized) -> None:
    """``Ref`` of a node group is ``<cluster>/<group>``, which DescribeNodegroup rejects (aws/aws-cdk issue 22442)."""
    template = default_app.template("Cluster")
    for resource in _resources(template, "Custom::AWS").values():
        create = resource["Properties"]["Create"]
        text = json.dumps(create)
        if "describeNodegroup" in text:
            parts = create["Fn::Join"][1]
            index = next(i for i, p in enumerate(parts) if isinstance(p, str) and p.endswith('"nodegroupName":"'))
            assert parts[index + 1]["Fn::GetAtt"][1] == "NodegroupName"
