"""NeuronCluster and NeuronCapacity: the app's templates keep every logical id, and both entry points work in a stack
of the user's own."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from synth_support import Synthesized

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "logical_ids_before_neuron_cluster.json"
"""Logical id -> resource type of every template, and the output ids, of both examples as synthesized by the commit
before the cluster stack became a NeuronCluster (main at dee9d43)."""


def _before(example: str, stack: str) -> tuple[dict[str, str], list[str]]:
    recorded = json.loads(FIXTURE.read_text())
    return recorded[f"{example}/{stack}"], recorded[f"{example}/{stack}#outputs"]


@pytest.mark.parametrize("fixture", ["default_app", "full_app"])
def test_the_cluster_stack_keeps_every_logical_id_and_output(fixture: str, request: pytest.FixtureRequest) -> None:
    """A changed logical id would make CloudFormation replace the running EKS cluster, its node groups or its VPC."""
    app: Synthesized = request.getfixturevalue(fixture)
    example = {"default_app": "inferentia", "full_app": "full"}[fixture]
    resources, outputs = _before(example, "InferentiaCluster")
    template = app.template("Cluster")
    now = {logical_id: r["Type"] for logical_id, r in template["Resources"].items()}
    missing = {logical_id: kind for logical_id, kind in resources.items() if now.get(logical_id) != kind}
    assert missing == {}
    assert set(outputs) <= set(template.get("Outputs", {}))


def _values(value: Any, path: str = "") -> list[tuple[str, str]]:
    if isinstance(value, str):
        return [(path, value)]
    if isinstance(value, dict):
        return [found for key, item in value.items() for found in _values(item, f"{path}/{key}")]
    if isinstance(value, list):
        return [found for i, item in enumerate(value) for found in _values(item, f"{path}[{i}]")]
    return []


def test_no_deployed_value_names_the_default_segment(any_app: Synthesized) -> None:
    """Name tags and descriptions that aws-cdk-lib derives from construct paths are what they were before the
    NeuronCluster named Default: a new Name on the Bottlerocket launch template would roll every node of its group."""
    template = any_app.template("Cluster")
    found = [
        (logical_id, path, value)
        for logical_id, resource in template["Resources"].items()
        for path, value in _values(resource.get("Properties", {}))
        if "/Default/" in f"{value}/" and "InferentiaCluster/" in value
    ]
    assert found == []


# --- both entry points in stacks of the user's own, with cdk-nag ---------------------------------------------------


@dataclass
class UserApp:
    """One app synthesized once: a platform stack holding a NeuronCluster on its own VPC, and a stack whose own EKS
    cluster gets NeuronCapacity, each with an InferentiaApi built against the facts it produced."""

    outdir: Path
    templates: dict[str, dict[str, Any]]
    neuron_cluster: Any
    capacity: Any


def _users_vpc(stack: Any) -> Any:
    from aws_cdk import aws_ec2 as ec2

    vpc = ec2.Vpc(stack, "TeamVpc", max_azs=2, restrict_default_security_group=True)
    vpc.add_flow_log("FlowLog")
    return vpc


def _users_cluster(stack: Any, vpc: Any) -> tuple[Any, Any]:
    from aws_cdk import aws_ec2 as ec2
    from aws_cdk import aws_eks_v2 as eks
    from aws_cdk.lambda_layer_kubectl_v36 import KubectlV36Layer

    cluster = eks.Cluster(
        stack,
        "Cluster",
        cluster_name="ml",
        version=eks.KubernetesVersion.V1_36,
        vpc=vpc,
        endpoint_access=eks.EndpointAccess.PRIVATE,
        cluster_logging=[
            eks.ClusterLoggingTypes.API,
            eks.ClusterLoggingTypes.AUDIT,
            eks.ClusterLoggingTypes.AUTHENTICATOR,
            eks.ClusterLoggingTypes.CONTROLLER_MANAGER,
            eks.ClusterLoggingTypes.SCHEDULER,
        ],
        default_capacity_type=eks.DefaultCapacityType.NODEGROUP,
        default_capacity=0,
        kubectl_provider_options=eks.KubectlProviderOptions(kubectl_layer=KubectlV36Layer(stack, "Kubectl")),
    )
    system = eks.Nodegroup(
        stack,
        "System",
        cluster=cluster,
        instance_types=[ec2.InstanceType("m5.large")],
        labels={"inferentia-cdk/role": "system"},
    )
    return cluster, system


@pytest.fixture(scope="module")
def user_app(tmp_path_factory: pytest.TempPathFactory) -> UserApp:
    import aws_cdk as cdk
    from cdk_nag import AwsSolutionsChecks
    from synth_support import EXAMPLES, cli_context, read_templates

    from inferentia_cdk import InferentiaApi, NeuronCapacity, NeuronCluster, load_config
    from inferentia_cdk.stacks.nag import acknowledge_findings

    config = load_config(EXAMPLES / "inferentia.yaml").config
    outdir = tmp_path_factory.mktemp("user-cdk.out")
    app = cdk.App(outdir=str(outdir), context=cli_context(EXAMPLES / "inferentia.yaml"))
    cdk.Validations.of(app).add_plugins(AwsSolutionsChecks(app))

    platform = cdk.Stack(app, "Platform")
    neuron_cluster = NeuronCluster(platform, "Neuron", config=config, vpc=_users_vpc(platform))
    for spec in config.apis:
        InferentiaApi(platform, spec.name, cluster=neuron_cluster.cluster, facts=neuron_cluster.facts, spec=spec)
    acknowledge_findings(platform)

    existing = cdk.Stack(app, "Existing")
    cluster, system = _users_cluster(existing, _users_vpc(existing))
    ml = config.model_copy(update={"cluster": config.cluster.model_copy(update={"name": "ml"})})
    capacity = NeuronCapacity(existing, "Neuron", cluster=cluster, config=ml, system_nodegroups=[system])
    for spec in ml.apis:
        InferentiaApi(existing, spec.name, cluster=cluster, facts=capacity.facts, spec=spec)
    acknowledge_findings(existing)

    app.synth()
    templates, _ = read_templates(outdir)
    return UserApp(outdir, templates, neuron_cluster, capacity)


def test_both_entry_points_synthesize_with_cdk_nag_clean_in_the_users_stacks(user_app: UserApp) -> None:
    from test_gates import unacknowledged_findings

    report = json.loads((user_app.outdir / "validation-report.json").read_text())
    assert {r["pluginName"] for r in report["pluginReports"]} >= {"AwsSolutions"}
    assert unacknowledged_findings(report) == []


def test_neuron_cluster_runs_on_the_users_vpc(user_app: UserApp) -> None:
    platform = user_app.templates["Platform"]["Resources"]
    (vpc_id,) = [logical_id for logical_id, r in platform.items() if r["Type"] == "AWS::EC2::VPC"]
    assert vpc_id.startswith("TeamVpc")
    (cluster,) = [r for r in platform.values() if r["Type"] == "AWS::EKS::Cluster"]
    assert cluster["Properties"]["Name"] == "inferentia"
    assert user_app.neuron_cluster.facts.node_group_names == ("inf1",)


def test_neuron_capacity_adds_the_neuron_part_to_the_users_cluster(user_app: UserApp) -> None:
    existing = user_app.templates["Existing"]["Resources"]
    assert [r["Type"] for r in existing.values()].count("AWS::EKS::Cluster") == 1
    groups = [r["Properties"] for r in existing.values() if r["Type"] == "AWS::EKS::Nodegroup"]
    assert sorted(g["AmiType"] for g in groups) == ["AL2023_x86_64_NEURON", "AL2023_x86_64_STANDARD"]
    addons = {r["Properties"]["AddonName"] for r in existing.values() if r["Type"] == "AWS::EKS::Addon"}
    assert {"eks-node-monitoring-agent", "amazon-cloudwatch-observability"} <= addons
    assert "Custom::NeuronQuotaCheck" in {r["Type"] for r in existing.values()}
    assert user_app.capacity.cluster_autoscaler is not None and user_app.capacity.keda is not None


def test_capacity_refuses_a_config_that_names_another_cluster() -> None:
    import aws_cdk as cdk
    from synth_support import EXAMPLES

    from inferentia_cdk import ConfigError, NeuronCapacity, load_config

    stack = cdk.Stack(cdk.App(), "Existing")
    cluster, _ = _users_cluster(stack, None)
    config = load_config(EXAMPLES / "inferentia.yaml").config  # cluster.name: inferentia
    with pytest.raises(ConfigError) as caught:
        NeuronCapacity(stack, "Neuron", cluster=cluster, config=config)
    assert [(p.code, p.path) for p in caught.value.problems] == [("CLU102", ("cluster", "name"))]
    assert stack.node.try_find_child("Neuron") is None


def test_capacity_and_cluster_check_their_arguments() -> None:
    import aws_cdk as cdk

    from inferentia_cdk import ConfigError, NeuronCapacity, NeuronCluster

    stack = cdk.Stack(cdk.App(), "Probe")
    with pytest.raises(ConfigError) as caught:
        NeuronCapacity(stack, "A", cluster="ml", config={"cluster": {}}, system_nodegroups="system")
    assert [p.path[0] for p in caught.value.problems] == ["config", "cluster", "system_nodegroups"]
    with pytest.raises(ConfigError) as caught:
        NeuronCluster(stack, "B", config=None, vpc="vpc-123")
    assert [(p.code, p.path) for p in caught.value.problems] == [("ARG100", ("config",)), ("ARG100", ("vpc",))]
    assert not stack.node.children


@pytest.mark.parametrize("fixture", ["default_app", "full_app"])
def test_api_manifests_keep_their_logical_ids(fixture: str, request: pytest.FixtureRequest) -> None:
    """InferentiaApi is the manifest, with the id Default in a scope named after the API: the manifest's logical id is
    what it was before the cluster stack became a NeuronCluster (only endpoints and dashboards moved,
    docs/upgrading.md)."""
    app: Synthesized = request.getfixturevalue(fixture)
    example = {"default_app": "inferentia", "full_app": "full"}[fixture]
    recorded = json.loads(FIXTURE.read_text())
    manifest = "Custom::AWSCDK-EKS-KubernetesResource"
    before = {
        (name.split("/", 1)[1], logical_id)
        for name, resources in recorded.items()
        if name.startswith(f"{example}/") and name.endswith(".nested")
        for logical_id, kind in resources.items()
        if kind == manifest
    }
    now = {
        (name, logical_id)
        for name, template in app.nested_templates.items()
        for logical_id, resource in template["Resources"].items()
        if resource["Type"] == manifest
    }
    assert before and before == now


def test_two_neuron_clusters_share_a_stack() -> None:
    """Each NeuronCluster's device plugin sits beside its own cluster, not at the stack's top where the second
    cluster's would collide with the first's."""
    import aws_cdk as cdk
    from synth_support import EXAMPLES

    from inferentia_cdk import NeuronCluster, load_config

    config = load_config(EXAMPLES / "inferentia.yaml").config
    other = config.model_copy(update={"cluster": config.cluster.model_copy(update={"name": "other"})})
    stack = cdk.Stack(cdk.App(), "TwoClusters")
    first = NeuronCluster(stack, "First", config=config)
    second = NeuronCluster(stack, "Second", config=other)
    assert first.capacity.device_plugin is not second.capacity.device_plugin
    assert first.capacity.device_plugin.node.scope is first and second.capacity.device_plugin.node.scope is second


def _zoned_config() -> Any:
    from synth_support import EXAMPLES

    from inferentia_cdk import load_config

    config = load_config(EXAMPLES / "inferentia.yaml").config
    zoned = config.cluster.model_copy(
        update={"region": "us-east-1", "availability_zones": ["us-east-1b", "us-east-1d"]}
    )
    return config.model_copy(update={"cluster": zoned})


def _environment_specific_stack(app: Any, stack_class: Any) -> Any:
    import aws_cdk as cdk

    return stack_class(app, "Platform", env=cdk.Environment(account="123456789012", region="us-east-1"))


def test_named_zones_in_the_users_stack_need_that_stack_to_list_them(tmp_path: Path) -> None:
    """aws-cdk-lib checks a VPC's zones against its stack's availability_zones: a stack of the user's own that lists
    the config's zones (docs/constructs.md) synthesizes offline; one that does not asks the CDK CLI for a lookup."""
    import aws_cdk as cdk

    from inferentia_cdk import NeuronCluster
    from inferentia_cdk.planning.endpoints import CLUSTER_VPC_CIDR

    config = _zoned_config()
    zones = list(config.cluster.availability_zones)

    class PlatformStack(cdk.Stack):
        @property
        def availability_zones(self) -> list[str]:
            return zones

    app = cdk.App(outdir=str(tmp_path))
    stack = _environment_specific_stack(app, PlatformStack)
    NeuronCluster(stack, "Neuron", config=config)
    assembly = app.synth()
    assert "missing" not in json.loads((tmp_path / "manifest.json").read_text())
    resources = assembly.get_stack_by_name("Platform").template["Resources"].values()
    assert sorted({r["Properties"]["AvailabilityZone"] for r in resources if r["Type"] == "AWS::EC2::Subnet"}) == zones
    (vpc,) = [r for r in resources if r["Type"] == "AWS::EC2::VPC"]
    assert vpc["Properties"]["CidrBlock"] == CLUSTER_VPC_CIDR

    unlisted = tmp_path / "unlisted"
    plain_app = cdk.App(outdir=str(unlisted))
    NeuronCluster(_environment_specific_stack(plain_app, cdk.Stack), "Neuron", config=config)
    plain_app.synth()
    missing = json.loads((unlisted / "manifest.json").read_text()).get("missing", [])
    assert [entry["provider"] for entry in missing] == ["availability-zones"]


def test_the_load_balancer_takes_the_cidr_of_the_vpc_it_sits_in() -> None:
    """Our own VPC's CIDR is CLUSTER_VPC_CIDR; a caller's VPC gives its own when it is a literal (an imported or
    looked-up VPC), and one whose CIDR is known only at deploy time is refused by the load balancer (ARG250)."""
    import aws_cdk as cdk
    from aws_cdk import aws_ec2 as ec2
    from synth_support import EXAMPLES

    from inferentia_cdk import ConfigError, NeuronCluster, load_config
    from inferentia_cdk.planning.endpoints import CLUSTER_VPC_CIDR

    config = load_config(EXAMPLES / "full.yaml").config
    assert config.endpoints is not None
    app = cdk.App()
    environment = cdk.Environment(account="123456789012", region="us-east-1")

    own = NeuronCluster(cdk.Stack(app, "Own", env=environment), "Neuron", config=config)
    assert own.api_load_balancer is not None and own.api_load_balancer.vpc_cidr == CLUSTER_VPC_CIDR

    imported_stack = cdk.Stack(app, "Imported", env=environment)
    imported = ec2.Vpc.from_vpc_attributes(
        imported_stack,
        "TeamVpc",
        vpc_id="vpc-0123456789abcdef0",
        vpc_cidr_block="172.16.0.0/16",
        availability_zones=["us-east-1a", "us-east-1b"],
        public_subnet_ids=["subnet-0a", "subnet-0b"],
        public_subnet_ipv4_cidr_blocks=["172.16.0.0/24", "172.16.1.0/24"],
        private_subnet_ids=["subnet-1a", "subnet-1b"],
        private_subnet_ipv4_cidr_blocks=["172.16.32.0/19", "172.16.64.0/19"],
    )
    theirs = NeuronCluster(imported_stack, "Neuron", config=config, vpc=imported)
    assert theirs.api_load_balancer is not None and theirs.api_load_balancer.vpc_cidr == "172.16.0.0/16"
    assert theirs.api_load_balancer.subnet_cidrs == ("172.16.0.0/24", "172.16.1.0/24")
    from inferentia_cdk.constructs.api_endpoint import ApiEndpoint

    exposed = theirs.api_load_balancer.plan.apis[0]
    endpoint = ApiEndpoint(
        imported_stack, "Endpoint", api=exposed, listener=theirs.api_load_balancer.listener, vpc=imported
    )
    assert endpoint.target_group is not None

    created_stack = cdk.Stack(app, "Created", env=environment)
    created = ec2.Vpc(created_stack, "TeamVpc", availability_zones=["us-east-1a", "us-east-1b"])
    with pytest.raises(ConfigError) as caught:
        NeuronCluster(created_stack, "Neuron", config=config, vpc=created)
    assert [p.code for p in caught.value.problems] == ["ARG250"]


# --- the config is checked once per synth, and each entry point still checks it -------------------------------------


def _count_config_checks(monkeypatch: pytest.MonkeyPatch) -> list[object]:
    """Counts every call of ``planning.validation.check_config``, wherever our modules imported it from."""
    import sys

    from inferentia_cdk.planning import validation

    original = validation.check_config
    calls: list[object] = []

    def counted(config: Any) -> Any:
        calls.append(config)
        return original(config)

    for module in list(sys.modules.values()):
        if (
            getattr(module, "__name__", "").startswith("inferentia_cdk")
            and vars(module).get("check_config") is original
        ):
            monkeypatch.setattr(module, "check_config", counted)
    return calls


def _on_missing_group(config: Any) -> Any:
    """``config`` with its first API on a node group it does not have: well-formed, refused by its rules (API007)."""
    api = config.apis[0].model_copy(update={"node_group": "nope"})
    return config.model_copy(update={"apis": [api, *config.apis[1:]]})


def test_the_app_path_checks_the_config_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """app.py's path (load the file, build both stacks) and build_app on a config made in Python each check the
    config once, not again in NeuronCluster and NeuronCapacity."""
    import aws_cdk as cdk
    from synth_support import EXAMPLES

    from inferentia_cdk import load_config
    from inferentia_cdk.planning import validation
    from inferentia_cdk.stacks.app import build_app, build_app_from_context

    calls = _count_config_checks(monkeypatch)
    api_checks: list[str] = []
    check_api_on = validation._check_api_on
    monkeypatch.setattr(
        validation, "_check_api_on", lambda api, *a, **k: api_checks.append(api.name) or check_api_on(api, *a, **k)
    )
    context = {"config": str(EXAMPLES / "inferentia.yaml"), "nag": "false"}
    _, cluster_stack, apis_stack = build_app_from_context(cdk.App(context=context))
    assert len(calls) == 1
    assert cluster_stack.neuron_cluster.capacity.neuron_nodegroups
    # Each API's rules run twice: in the config's check and in its InferentiaApi; the stack-level warnings read what
    # the constructs reported instead of checking every API a third time.
    assert sorted(api_checks) == sorted(2 * list(apis_stack.apis))

    config = load_config(EXAMPLES / "inferentia.yaml").config
    calls.clear()
    build_app(config, nag=False)
    assert calls == [config]


def test_each_entry_point_checks_a_config_built_in_python(monkeypatch: pytest.MonkeyPatch) -> None:
    """A library user's NeuronCluster or NeuronCapacity checks the whole config itself (NeuronCluster once for both),
    and refuses a bad one before adding anything, whatever check it is handed of another config object."""
    import aws_cdk as cdk
    from synth_support import EXAMPLES

    from inferentia_cdk import ConfigError, NeuronCapacity, NeuronCluster, load_config
    from inferentia_cdk.constructs.neuron_capacity import CheckedConfig
    from inferentia_cdk.stacks.app import build_app

    config = load_config(EXAMPLES / "inferentia.yaml").config
    bad = _on_missing_group(config)
    calls = _count_config_checks(monkeypatch)
    stack = cdk.Stack(cdk.App(), "Library")
    NeuronCluster(stack, "Neuron", config=config)
    assert calls == [config]

    # A check of the good config does not vouch for another object, however alike (a config's lists can change).
    for handed in (None, CheckedConfig(config, ())):
        with pytest.raises(ConfigError) as caught:
            NeuronCluster(stack, "Bad", config=bad, _checked_config=handed)
        assert "API007" in {p.code for p in caught.value.problems}
        assert stack.node.try_find_child("Bad") is None
        with pytest.raises(ConfigError) as caught:
            build_app(bad, nag=False, _checked_config=handed)
        assert "API007" in {p.code for p in caught.value.problems}

    existing = cdk.Stack(cdk.App(), "Existing")
    cluster, _ = _users_cluster(existing, None)
    ml = bad.model_copy(update={"cluster": bad.cluster.model_copy(update={"name": "ml"})})
    for handed in (None, CheckedConfig(config, ())):
        with pytest.raises(ConfigError) as caught:
            NeuronCapacity(existing, "Neuron", cluster=cluster, config=ml, _checked_config=handed)
        assert "API007" in {p.code for p in caught.value.problems}
        assert existing.node.try_find_child("Neuron") is None
