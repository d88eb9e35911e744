"""Neuron as it is today: the catalog's newer instance types and prices, the scheduler extension's chip counts on
torus-connected types, the logical NeuronCore configuration (LNC) and NeuronCore requests. Each rule test fails
without its rule; construct tests build on one shared bare cluster and resolve without synthesizing."""

from __future__ import annotations

import base64
from typing import Any

import pytest
import synth_support

from inferentia_cdk import catalog
from inferentia_cdk.config.models import ApiSpec, ComputeSpec, InferentiaConfig, NodeGroupSpec
from inferentia_cdk.config.problems import ConfigError, errors, warnings
from inferentia_cdk.manifests.api import render_api
from inferentia_cdk.manifests.node_contract import neuron_node_affinity, node_template_tags
from inferentia_cdk.planning.capacity import NodeGroupCapacity
from inferentia_cdk.planning.sizing import replica_needs, size_api
from inferentia_cdk.planning.validation import check_api, check_config, check_node_group

NEURONCORE_TAG = "k8s.io/cluster-autoscaler/node-template/resources/aws.amazon.com/neuroncore"


def _api(name: str = "m", group: str = "g", **compute: Any) -> ApiSpec:
    return ApiSpec(name=name, node_group=group, image="example.com/model:1", compute=ComputeSpec(**compute))


def _codes(problems: list[Any]) -> list[str]:
    return [p.code for p in problems]


# --- catalog ----------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["trn2.3xlarge", "trn1n.32xlarge", "trn2u.48xlarge"])
def test_the_newer_instance_types_are_in_the_catalog_and_the_device_plugins_affinity(name: str) -> None:
    assert catalog.lookup(name) is not None
    (term,) = neuron_node_affinity()["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"][
        "nodeSelectorTerms"
    ]
    assert name in term["matchExpressions"][0]["values"]
    assert errors(check_node_group(NodeGroupSpec(name="g", instance_types=[name]))) == []


def test_every_type_has_a_price_with_its_source_date_and_region() -> None:
    for instance_type in catalog.INSTANCE_TYPES.values():
        assert instance_type.price_per_hour_usd > 0, instance_type.name
        assert instance_type.price_source and instance_type.price.region, instance_type.name
        assert len(instance_type.price_date) == 10 and instance_type.price_date.startswith("20"), instance_type.name


def test_trn2_counts_logical_cores_at_its_lnc() -> None:
    trn2 = catalog.lookup("trn2.48xlarge")
    assert trn2 is not None
    assert (trn2.family.cores_per_chip, trn2.neuroncores, trn2.neuroncores_at(1)) == (4, 64, 128)
    assert trn2.family.device_memory_gib_per_core == 24 and trn2.family.with_lnc(1).device_memory_gib_per_core == 12
    assert catalog.lookup("trn2.3xlarge").neuroncores == 4  # type: ignore[union-attr]


def test_trn1n_and_trn2u_share_their_chips_family_so_one_group_may_hold_both() -> None:
    assert catalog.family_of("trn1n.32xlarge") == "trn1" and catalog.family_of("trn2u.48xlarge") == "trn2"
    spec = NodeGroupSpec(name="g", instance_types=["trn1.32xlarge", "trn1n.32xlarge"])
    assert not [p for p in check_node_group(spec) if "mixes Neuron families" in p.message]


def test_trainium3_is_left_out_with_the_reason() -> None:
    assert not [n for n in catalog.INSTANCE_TYPES if n.startswith("trn3")]
    assert "UltraServers" in catalog.TRAINIUM3_NOTE


# --- topology: what the scheduler extension grants on a 2D torus ------------------------------------------------------


def test_three_chips_on_trn1_32xlarge_are_refused_naming_the_grantable_counts() -> None:
    group = NodeGroupSpec(name="g", instance_types=["trn1.32xlarge"])
    for extension in (False, True):
        found = check_api(_api(inf=3), group, ("apis", 0), scheduler_extension=extension)
        (problem,) = [p for p in found if p.code == "API301"]
        assert problem.path == ("apis", 0, "compute", "inf")
        assert "1, 4, 8, 16" in problem.message and "inf2.24xlarge" in problem.message


@pytest.mark.parametrize("inf", [1, 4, 8, 16])
def test_grantable_counts_pass_on_trn1n(inf: int) -> None:
    group = NodeGroupSpec(name="g", instance_types=["trn1n.32xlarge"])
    assert "API301" not in _codes(check_api(_api(inf=inf), group, scheduler_extension=True))


def test_a_ring_connected_inf2_takes_any_count() -> None:
    group = NodeGroupSpec(name="g", instance_types=["inf2.48xlarge"])
    assert not {"API301", "API302"} & set(_codes(check_api(_api(inf=3), group, scheduler_extension=True)))


def test_trn2_counts_beyond_one_or_all_are_warned_as_undocumented() -> None:
    group = NodeGroupSpec(name="g", instance_types=["trn2.48xlarge"])
    assert "API302" in _codes(warnings(check_api(_api(inf=4), group, scheduler_extension=True)))
    assert "API301" in _codes(errors(check_api(_api(inf=5), group, scheduler_extension=True)))
    assert not {"API301", "API302"} & set(_codes(check_api(_api(inf=16), group, scheduler_extension=True)))


def test_a_core_request_is_judged_by_the_chips_it_spans() -> None:
    group = NodeGroupSpec(name="g", instance_types=["trn1.32xlarge"])
    # 6 cores of 2 per chip span 3 chips.
    assert "API301" in _codes(check_api(_api(neuroncores=6), group, scheduler_extension=True))
    assert "API301" not in _codes(check_api(_api(neuroncores=8), group, scheduler_extension=True))


# --- LNC --------------------------------------------------------------------------------------------------------------


def test_lnc_is_refused_on_families_without_it() -> None:
    found = check_node_group(NodeGroupSpec(name="g", instance_types=["inf2.xlarge"], lnc=1), ("node_groups", 0))
    (problem,) = [p for p in found if p.code == "NG301"]
    assert problem.path == ("node_groups", 0, "lnc") and "trn2" in problem.message


def test_a_non_default_lnc_is_refused_on_bottlerocket() -> None:
    spec = NodeGroupSpec(name="g", instance_types=["trn2.48xlarge"], ami="bottlerocket", lnc=1)
    assert "NG302" in _codes(check_node_group(spec))
    assert "NG302" not in _codes(check_node_group(spec.model_copy(update={"lnc": 2})))


def test_lnc_1_doubles_the_cores_of_a_trn2_group_and_its_autoscaler_tag() -> None:
    default = NodeGroupCapacity.of(NodeGroupSpec(name="g", instance_types=["trn2.48xlarge"]))
    lnc1 = NodeGroupCapacity.of(NodeGroupSpec(name="g", instance_types=["trn2.48xlarge"], lnc=1))
    assert (default.neuroncores_per_node, lnc1.neuroncores_per_node) == (64, 128)
    assert (node_template_tags(default)[NEURONCORE_TAG], node_template_tags(lnc1)[NEURONCORE_TAG]) == ("64", "128")


def test_lnc_reaches_the_pods_neuron_env() -> None:
    api = _api(inf=1)
    env_of = {
        lnc: {
            e["name"]: e["value"]
            for e in render_api(api, NodeGroupSpec(name="g", instance_types=["trn2.3xlarge"], lnc=lnc))[1]["spec"][
                "template"
            ]["spec"]["containers"][0]["env"]
        }
        for lnc in (1, 2)
    }
    assert env_of[1]["NEURON_LOGICAL_NC_CONFIG"] == "1" and env_of[1]["NEURON_RT_NUM_CORES"] == "8"
    assert env_of[2]["NEURON_LOGICAL_NC_CONFIG"] == "2" and env_of[2]["NEURON_RT_NUM_CORES"] == "4"
    inf2 = render_api(api, NodeGroupSpec(name="g", instance_types=["inf2.xlarge"]))[1]
    assert "NEURON_LOGICAL_NC_CONFIG" not in {
        e["name"] for e in inf2["spec"]["template"]["spec"]["containers"][0]["env"]
    }


def test_an_api_may_not_set_the_lnc_variable_itself() -> None:
    api = _api(inf=1).model_copy(update={"env": {"NEURON_LOGICAL_NC_CONFIG": "1"}})
    group = NodeGroupSpec(name="g", instance_types=["trn2.3xlarge"])
    assert [p for p in errors(check_api(api, group)) if p.path[-1] == "NEURON_LOGICAL_NC_CONFIG"]


@pytest.fixture(scope="module")
def bare_cluster() -> Any:
    return synth_support.bare_cluster("NeuronToday")


def test_an_al2023_lnc_1_group_writes_the_lnc_file_from_its_launch_template(bare_cluster: Any) -> None:
    from aws_cdk import aws_ec2 as ec2
    from aws_cdk import aws_eks_v2 as eks

    from inferentia_cdk.constructs.neuron_nodegroup import NeuronNodegroup

    group = NeuronNodegroup(
        bare_cluster.stack, "Lnc1", cluster=bare_cluster, name="lnc1", instance_types=["trn2.48xlarge"], lnc=1
    )
    assert group.capacity.neuroncores_per_node == 128
    template = group.launch_template
    assert template is not None
    resource = template.node.default_child
    assert isinstance(resource, ec2.CfnLaunchTemplate)
    data = bare_cluster.stack.resolve(resource.launch_template_data)
    user_data = data["userData"]["Fn::Base64"]
    assert "NEURON_LOGICAL_NC_CONFIG=%d" in user_data and "' 1 > /opt/aws/neuron/logical_nc_config" in user_data
    assert data["blockDeviceMappings"][0]["deviceName"] == "/dev/xvda"
    nodegroup = group.nodegroup.node.default_child
    assert isinstance(nodegroup, eks.CfnNodegroup) and nodegroup.disk_size is None
    default = NeuronNodegroup(
        bare_cluster.stack, "Lnc2", cluster=bare_cluster, name="lnc2", instance_types=["trn2.48xlarge"]
    )
    assert default.launch_template is None


def test_the_construct_refuses_lnc_on_inf2(bare_cluster: Any) -> None:
    from inferentia_cdk.constructs.neuron_nodegroup import NeuronNodegroup

    with pytest.raises(ConfigError) as raised:
        NeuronNodegroup(
            bare_cluster.stack, "Bad", cluster=bare_cluster, name="b", instance_types=["inf2.xlarge"], lnc=1
        )
    assert "[NG301]" in str(raised.value)


def test_lnc_user_data_is_multipart_that_eks_can_merge() -> None:
    from inferentia_cdk.constructs.neuron_nodegroup import AL2023_LNC_USER_DATA

    text = AL2023_LNC_USER_DATA.format(lnc=1)
    assert text.startswith("MIME-Version: 1.0\n") and "text/x-shellscript" in text
    assert base64.b64encode(text.encode())  # plain ASCII


# --- NeuronCore requests ----------------------------------------------------------------------------------------------


def test_exactly_one_of_inf_and_neuroncores() -> None:
    with pytest.raises(ValueError, match="give one: inf for whole chips"):
        ComputeSpec(inf=1, neuroncores=1)
    assert ComputeSpec().unit == "chips" and ComputeSpec(neuroncores=2).unit == "neuroncores"


def test_a_neuroncore_api_requests_aws_amazon_com_neuroncore() -> None:
    deployment = render_api(_api(neuroncores=1), NodeGroupSpec(name="g", instance_types=["inf2.xlarge"]))[1]
    resources = deployment["spec"]["template"]["spec"]["containers"][0]["resources"]
    assert (
        resources["limits"]["aws.amazon.com/neuroncore"] == "1" and "aws.amazon.com/neuron" not in resources["limits"]
    )


def test_replica_needs_counts_chips_and_cores_alike() -> None:
    inf2 = catalog.FAMILIES["inf2"]
    assert replica_needs(ComputeSpec(neuroncores=1), inf2).chip_share == 0.5
    assert replica_needs(ComputeSpec(inf=2), inf2).neuroncores == 4
    trn2_lnc1 = catalog.FAMILIES["trn2"].with_lnc(1)
    assert replica_needs(ComputeSpec(neuroncores=9), trn2_lnc1).chips == 2


def test_two_one_core_apis_share_one_inf2_chip() -> None:
    config = InferentiaConfig(
        node_groups=[NodeGroupSpec(name="g", instance_types=["inf2.xlarge"], max_size=1)],
        apis=[_api("a", neuroncores=1), _api("b", neuroncores=1)],
    )
    assert errors(check_config(config)) == []
    crowded = config.model_copy(update={"apis": [*config.apis, _api("c", neuroncores=1)]})
    assert [p for p in errors(check_config(crowded)) if p.path == ("node_groups", 0, "max_size")]


def test_core_requests_keep_every_sizing_rule() -> None:
    group = NodeGroupSpec(name="g", instance_types=["inf2.24xlarge"])
    too_many = check_api(_api(neuroncores=13), group)
    assert [p for p in errors(too_many) if p.path[-1] == "neuroncores" and "at most 12" in p.message]
    uneven = _api(neuroncores=3).model_copy(update={"processes_per_replica": 2})
    assert [
        p for p in errors(check_api(uneven, group, scheduler_extension=True)) if p.path[-1] == "processes_per_replica"
    ]
    scattered = check_api(_api(neuroncores=3), group)
    assert [p for p in errors(scattered) if "scheduler_extension" in p.message]
    compiled = _api(neuroncores=2).model_copy(update={"compiled_neuroncores": 4})
    assert [
        p for p in errors(check_api(compiled, group, scheduler_extension=True)) if p.path[-1] == "compiled_neuroncores"
    ]


def test_a_core_request_shares_its_chips_memory_with_other_pods() -> None:
    sizing = size_api(ComputeSpec(neuroncores=1), catalog.FAMILIES["inf2"], 1)
    assert (sizing.neuroncores, sizing.inf, sizing.whole_chips) == (1, 1, False)


# --- plan -------------------------------------------------------------------------------------------------------------

TRN2_WHOLE_NODE = """\
node_groups:
  - name: big
    instance_types: [trn2.48xlarge]
    lnc: {lnc}
apis:
  - name: llm
    node_group: big
    image: repo/llm:1
    compute: {{inf: 16, cpu: "8", mem: 64Gi}}
"""


def _plan(tmp_path: Any, text: str, *flags: str) -> str:
    import io

    from inferentia_cdk.cli.main import EXIT_VALID, main

    path = tmp_path / "config.yaml"
    path.write_text(text)
    out, err = io.StringIO(), io.StringIO()
    assert main(["plan", str(path), *flags], out=out, err=err) == EXIT_VALID, err.getvalue()
    return out.getvalue()


def test_plan_shows_twice_the_cores_for_an_lnc_1_trn2_group(tmp_path: Any) -> None:
    import json

    cores = {lnc: json.loads(_plan(tmp_path, TRN2_WHOLE_NODE.format(lnc=lnc), "--json"))["apis"][0] for lnc in (1, 2)}
    assert (cores[2]["neuroncores"], cores[1]["neuroncores"]) == (64, 128)
    assert (cores[2]["lnc"], cores[1]["lnc"]) == (2, 1)
    assert "8 NeuronCores per trn2 chip at LNC 1 = 128 NeuronCores" in _plan(tmp_path, TRN2_WHOLE_NODE.format(lnc=1))


def test_plan_of_two_one_core_apis_on_one_inf2_chip(tmp_path: Any) -> None:
    text = """\
node_groups: [{name: small, instance_types: [inf2.xlarge]}]
apis:
  - {name: a, node_group: small, image: repo/a:1, compute: {neuroncores: 1}}
  - {name: b, node_group: small, image: repo/b:1, compute: {neuroncores: 1}}
"""
    out = _plan(tmp_path, text)
    assert out.count("neuroncores 1 (2 per inf2 chip; other pods may hold the rest of its chips)") == 2
    assert out.count("2 per inf2.xlarge node when alone (limited by its NeuronCores)") == 2
    # Packed together, the two one-core replicas share the one chip of a single node.
    assert "| small      | inf2.xlarge | on-demand |      1 |        1 |         1 |        1 |" in out


# --- pins -------------------------------------------------------------------------------------------------------------


def test_the_load_balancer_controller_takes_its_policy_from_aws_cdk_libs_built_in_release() -> None:
    from aws_cdk import aws_eks_v2 as eks

    from inferentia_cdk.catalog import versions

    built_in = versions.AWS_LOAD_BALANCER_CONTROLLER_POLICY_OF.upper().replace(".", "_")
    assert hasattr(eks.AlbControllerVersion, built_in)
    assert versions.AWS_LOAD_BALANCER_CONTROLLER == "v" + versions.AWS_LOAD_BALANCER_CONTROLLER_CHART
    # Once aws-cdk-lib knows the pinned release, its own version (and policy) should replace the chart override.
    assert not hasattr(eks.AlbControllerVersion, versions.AWS_LOAD_BALANCER_CONTROLLER.upper().replace(".", "_"))


@pytest.mark.parametrize("name", ["trn2.3xlarge", "trn1n.32xlarge", "trn2u.48xlarge"])
def test_aws_cdk_lib_builds_a_node_group_of_each_newer_type(bare_cluster: Any, name: str) -> None:
    from aws_cdk import aws_eks_v2 as eks

    from inferentia_cdk.constructs.neuron_nodegroup import NeuronNodegroup

    group = NeuronNodegroup(
        bare_cluster.stack, f"New{name.replace('.', '')}", cluster=bare_cluster, name="n", instance_types=[name]
    )
    resource = group.nodegroup.node.default_child
    assert isinstance(resource, eks.CfnNodegroup)
    assert resource.ami_type == "AL2023_x86_64_NEURON"
    assert bare_cluster.stack.resolve(resource.instance_types) == [name]
