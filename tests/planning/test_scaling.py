"""Scaling on Neuron signals, pure (no CDK): the autoscaling and observability rules, the HPA behaviour, the KEDA
objects against their CRD's fields, capacity at max_replicas, and what `inferentia-cdk plan` says about it."""

from __future__ import annotations

import io
import json
import math
import re
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
from crd_schemas import CRD_SCHEMAS
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from inferentia_cdk import catalog
from inferentia_cdk.catalog import versions
from inferentia_cdk.cli.main import main
from inferentia_cdk.config.models import ApiSpec, AutoscalingSpec, InferentiaConfig, NodeGroupSpec
from inferentia_cdk.config.problems import ConfigError, Problem
from inferentia_cdk.manifests.api import render_api
from inferentia_cdk.manifests.scaling import autoscaler_objects
from inferentia_cdk.planning.capacity import CONTAINER_INSIGHTS_DAEMONSETS, NodeGroupCapacity, node_allocatable
from inferentia_cdk.planning.loader import load_config, parse_config
from inferentia_cdk.planning.packing import group_load
from inferentia_cdk.planning.scaling import (
    METRIC_PERIOD_SECONDS,
    hpa_behavior,
    needs_keda,
)
from inferentia_cdk.planning.startup import DEFAULT_STARTUP_SECONDS
from inferentia_cdk.planning.validation import check_api

IMAGE = "public.ecr.aws/example/bert:1.0"


def periods_to_max(behavior: dict[str, Any], min_replicas: int, max_replicas: int) -> int:
    """How many scale-up periods ``behavior`` needs from ``min_replicas`` to ``max_replicas`` (the HPA's rule: with
    selectPolicy Max, each period allows the largest step any policy allows)."""
    replicas, periods = min_replicas, 0
    policies = behavior["scaleUp"]["policies"]
    while replicas < max_replicas:
        step = max(math.ceil(replicas * p["value"] / 100) if p["type"] == "Percent" else p["value"] for p in policies)
        replicas, periods = min(max_replicas, replicas + step), periods + 1
    return periods


def _config(*apis: dict[str, Any], **sections: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "cluster": {"name": "prod", "region": "us-east-1"},
        "node_groups": [{"name": "inf2", "instance_types": ["inf2.xlarge"], "max_size": 4}],
        "apis": [{"name": f"api-{i}", "node_group": "inf2", "image": IMAGE, **a} for i, a in enumerate(apis)],
    }
    data.update(sections)
    return data


def _errors(data: dict[str, Any]) -> list[Problem]:
    _, problems = parse_config(data)
    return [p for p in problems if p.severity == "error"]


def _only(data: dict[str, Any]) -> Problem:
    (problem,) = _errors(data)
    return problem


EXPOSED = {"endpoints": {"scheme": "internal"}}


# --- config rules ----------------------------------------------------------------------------------------------


def test_one_api_per_signal_is_valid() -> None:
    data = _config(
        {"autoscaling": {"metric": "neuroncore_utilization"}},
        {"autoscaling": {"metric": "requests_per_replica", "target": 12}},
        {"autoscaling": {"metric": "cpu", "target": 60}},
        **EXPOSED,
    )
    assert _errors(data) == []


def test_an_old_cpu_target_says_how_to_migrate(tmp_path: Path) -> None:
    path = tmp_path / "old.yaml"
    path.write_text(
        "node_groups:\n  - {name: inf2, instance_types: [inf2.xlarge]}\napis:\n  - name: bert\n    node_group: inf2\n"
        f"    image: {IMAGE}\n    autoscaling:\n      max_replicas: 2\n      target_cpu_utilization: 60\n"
    )
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    (problem,) = caught.value.problems
    assert (problem.line, problem.location, problem.code) == (7, "apis[0].autoscaling", "SCL001")
    assert "`metric: cpu` and `target: 60`" in problem.message


def test_min_replicas_zero_is_refused_with_the_neuron_reason() -> None:
    problem = _only(_config({"autoscaling": {"min_replicas": 0}}))
    assert (problem.location, problem.code) == ("apis[0].autoscaling.min_replicas", "SCL003")
    assert "aws-neuron-sdk issue 1338" in problem.message


def test_requests_per_replica_needs_an_endpoint_and_says_why() -> None:
    problem = _only(_config({"autoscaling": {"metric": "requests_per_replica", "target": 5}}))
    assert (problem.location, problem.code) == ("apis[0].autoscaling.metric", "SCL005")
    hidden = _config({"autoscaling": {"metric": "requests_per_replica", "target": 5}, "endpoint": False}, **EXPOSED)
    assert (_only(hidden).location, _only(hidden).code) == ("apis[0].autoscaling.metric", "SCL005")


def test_requests_per_replica_needs_a_target() -> None:
    problem = _only(_config({"autoscaling": {"metric": "requests_per_replica"}}, **EXPOSED))
    assert (problem.location, problem.code) == ("apis[0].autoscaling.target", "SCL006")


@pytest.mark.parametrize(
    ("autoscaling", "code"),
    [
        ({"metric": "neuroncore_utilization", "target": 150}, "SCL190"),
        ({"metric": "cpu", "target": 120}, "SCL190"),
        ({"metric": "cpu", "target": 60.5}, "SCL008"),
    ],
)
def test_utilisation_targets_are_percentages(autoscaling: dict[str, Any], code: str) -> None:
    problem = _only(_config({"autoscaling": autoscaling}))
    assert (problem.location, problem.code) == ("apis[0].autoscaling.target", code)


@pytest.mark.parametrize("metric", ["neuroncore_utilization", "cpu"])
def test_a_fraction_for_a_percent_asks_whether_a_percent_was_meant(metric: str) -> None:
    problem = _only(_config({"autoscaling": {"metric": metric, "target": 0.7}}))
    assert (problem.code, problem.location) == ("SCL190", "apis[0].autoscaling.target")
    assert "did you mean 70 (%)?" in problem.message
    assert _errors(_config({"autoscaling": {"metric": metric, "target": 1}})) == []


@pytest.mark.parametrize("target", [1e307, 1_000_001, 1e-4])
def test_request_rate_targets_stay_within_what_keda_and_the_hpa_carry(target: float) -> None:
    problem = _only(_config({"autoscaling": {"metric": "requests_per_replica", "target": target}}, **EXPOSED))
    assert (problem.code, problem.location) == ("SCL191", "apis[0].autoscaling.target")


def test_the_largest_request_rate_target_renders_a_finite_number() -> None:
    data = _config({"autoscaling": {"metric": "requests_per_replica", "target": 1_000_000}}, **EXPOSED)
    config, problems = parse_config(data)
    assert config is not None and [p for p in problems if p.severity == "error"] == []
    objects = autoscaler_objects(config.apis[0], cluster_name="prod", region="us-east-1", target_group_full_name="tg")
    value = float(objects[-1]["spec"]["triggers"][0]["metadata"]["targetMetricValue"])
    assert math.isfinite(value) and value * 1000 < 2**63 - 1


@pytest.mark.parametrize("target", [0, -5, ".inf", ".nan", True])
def test_a_target_is_a_positive_finite_number(target: Any, tmp_path: Path) -> None:
    path = tmp_path / "t.yaml"
    path.write_text(
        "node_groups:\n  - {name: inf2, instance_types: [inf2.xlarge]}\napis:\n"
        f"  - {{name: bert, node_group: inf2, image: {IMAGE}, autoscaling: {{target: {target}}}}}\n"
    )
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert "apis[0].autoscaling.target" in caught.value.render()


def test_scale_down_stabilization_is_bounded_like_the_hpa() -> None:
    problem = _only(_config({"autoscaling": {"scale_down_stabilization_seconds": 3601}}))
    assert problem.location == "apis[0].autoscaling.scale_down_stabilization_seconds"


def test_neuroncore_scaling_needs_container_insights() -> None:
    problem = _only(_config({}, observability={"container_insights": False}))
    assert (problem.location, problem.code) == ("apis[0].autoscaling.metric", "SCL009")
    assert _errors(_config({"autoscaling": {"metric": "cpu"}}, observability={"container_insights": False})) == []


@pytest.mark.parametrize(
    ("observability", "code"),
    [
        ({"alarm_topic_arn": "arn:aws:sqs:us-east-1:123456789012:q"}, "ARN161"),
        ({"alarm_topic_arn": "arn:aws:sns:eu-west-1:123456789012:alarms"}, "ARN161"),
    ],
)
def test_the_alarm_topic_is_an_sns_topic_of_the_cluster_region(observability: dict[str, Any], code: str) -> None:
    problem = _only(_config({}, observability=observability))
    assert (problem.location, problem.code) == ("observability.alarm_topic_arn", code)


def _parsed(data: dict[str, Any]) -> InferentiaConfig:
    config, problems = parse_config(data)
    assert config is not None, problems
    return config


def test_container_insights_follows_the_neuroncore_apis_unless_set() -> None:
    on = _parsed(_config({}, device_plugin={"monitor": True}))
    assert on.container_insights() and needs_keda(on)
    assert not on.neuron_monitor(), "never two neuron-monitors per node"
    cpu_only = _parsed(_config({"autoscaling": {"metric": "cpu"}}, device_plugin={"monitor": True}))
    assert not cpu_only.container_insights() and not needs_keda(cpu_only)
    assert cpu_only.neuron_monitor()
    forced = _parsed(_config({"autoscaling": {"metric": "cpu"}}, observability={"container_insights": True}))
    assert forced.container_insights() and not needs_keda(forced)


def test_container_insights_daemonsets_count_against_the_node() -> None:
    inf1 = catalog.INSTANCE_TYPES["inf1.xlarge"]
    without, with_insights = node_allocatable(inf1), node_allocatable(inf1, container_insights=True)
    taken = sum(r.cpu_millicores for r in CONTAINER_INSIGHTS_DAEMONSETS)
    assert without.cpu_millicores - with_insights.cpu_millicores == taken
    spec = ApiSpec(name="demo", node_group="g", image=IMAGE, compute={"cpu": f"{without.cpu_millicores}m"})
    group = NodeGroupSpec(name="g", instance_types=["inf1.xlarge"])
    assert [p for p in check_api(spec, group) if p.severity == "error"] == []
    (problem,) = [p for p in check_api(spec, group, container_insights=True) if p.severity == "error"]
    assert problem.path == ("compute", "cpu")


# --- HPA behaviour ---------------------------------------------------------------------------------------------


@settings(max_examples=300, derandomize=True, deadline=None)
@given(
    min_replicas=st.integers(1, 50),
    extra=st.integers(0, 20_000),
    window=st.integers(0, 3600),
    budget=st.integers(60, 3 * 3600),
)
def test_scale_up_reaches_max_replicas_within_one_model_load(
    min_replicas: int, extra: int, window: int, budget: int
) -> None:
    scaling = AutoscalingSpec(
        min_replicas=min_replicas, max_replicas=min_replicas + extra, scale_down_stabilization_seconds=window
    )
    behavior = hpa_behavior(scaling, budget)
    assert behavior["scaleUp"]["stabilizationWindowSeconds"] == 0
    assert periods_to_max(behavior, min_replicas, min_replicas + extra) * METRIC_PERIOD_SECONDS <= budget
    assert behavior["scaleDown"]["stabilizationWindowSeconds"] == window


@pytest.mark.parametrize(("timeout", "budget"), [(None, DEFAULT_STARTUP_SECONDS), (2400, 2400), (65, 70)])
def test_the_startup_budget_is_the_startup_probe_and_paces_scale_up(timeout: int | None, budget: int) -> None:
    api = ApiSpec(
        name="demo",
        node_group="g",
        image=IMAGE,
        startup_timeout_seconds=timeout,
        autoscaling={"metric": "cpu", "min_replicas": 1, "max_replicas": 400},
    )
    objects = render_api(api, NodeGroupSpec(name="g", instance_types=["inf2.xlarge"]))
    probe = objects[1]["spec"]["template"]["spec"]["containers"][0]["startupProbe"]
    assert probe["periodSeconds"] * probe["failureThreshold"] == budget
    (hpa,) = [o for o in objects if o["kind"] == "HorizontalPodAutoscaler"]
    assert periods_to_max(hpa["spec"]["behavior"], 1, 400) * METRIC_PERIOD_SECONDS <= budget


@pytest.mark.parametrize("timeout", [59, 3 * 3600 + 1, "600", 600.0, True])
def test_startup_timeout_is_bounded_and_strict(timeout: object) -> None:
    with pytest.raises(ValidationError):
        ApiSpec(name="demo", node_group="g", image=IMAGE, startup_timeout_seconds=timeout)


# --- the objects that own the replica count -------------------------------------------------------------------


def _api(autoscaling: dict[str, Any]) -> ApiSpec:
    return ApiSpec(name="bert", node_group="g", image=IMAGE, autoscaling=autoscaling)


def _keda(autoscaling: dict[str, Any]) -> list[dict[str, Any]]:
    return autoscaler_objects(
        _api(autoscaling), cluster_name="prod", region="us-east-1", target_group_full_name="targetgroup/bert/0123"
    )


def _validate(obj: dict[str, Any]) -> None:
    schema = CRD_SCHEMAS.get((obj["apiVersion"], obj["kind"]))
    if schema is not None:
        jsonschema.validate(obj, schema)
    else:
        kubernetes_validate.validate(obj, versions.DEFAULT_KUBERNETES_VERSION, strict=True)


@pytest.mark.parametrize("metric", ["neuroncore_utilization", "requests_per_replica", "cpu"])
def test_autoscaler_objects_are_valid_and_never_two_owners(metric: str) -> None:
    objects = _keda({"metric": metric, "target": 40, "min_replicas": 2, "max_replicas": 6})
    for obj in objects:
        _validate(obj)
    kinds = [o["kind"] for o in objects]
    if metric == "cpu":
        assert kinds == ["HorizontalPodAutoscaler"]
        (hpa,) = objects
        assert hpa["spec"]["metrics"][0]["resource"]["target"]["averageUtilization"] == 40
        assert hpa["spec"]["behavior"] == hpa_behavior(_api({"max_replicas": 6, "min_replicas": 2}).autoscaling, 600)
    else:
        assert kinds == ["TriggerAuthentication", "ScaledObject"]
        scaled = objects[1]["spec"]
        assert (scaled["minReplicaCount"], scaled["maxReplicaCount"]) == (2, 6)
        assert scaled["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": "bert"}
        assert "behavior" in scaled["advanced"]["horizontalPodAutoscalerConfig"]
        assert objects[0]["spec"] == {"podIdentity": {"provider": "aws", "identityOwner": "keda"}}


def test_the_neuroncore_trigger_reads_the_api_namespace_of_container_insights() -> None:
    (trigger,) = _keda({"metric": "neuroncore_utilization"})[1]["spec"]["triggers"]
    metadata = trigger["metadata"]
    assert trigger["type"] == "aws-cloudwatch" and trigger["metricType"] == "Value"
    assert (metadata["namespace"], metadata["metricName"]) == ("ContainerInsights", "pod_neuroncore_utilization")
    assert (metadata["dimensionName"], metadata["dimensionValue"]) == ("ClusterName;Namespace", "prod;bert")
    assert (metadata["metricStat"], metadata["targetMetricValue"], metadata["awsRegion"]) == (
        "Average",
        "70",
        "us-east-1",
    )


def test_the_requests_trigger_counts_requests_per_target_per_minute() -> None:
    (trigger,) = _keda({"metric": "requests_per_replica", "target": 2.5})[1]["spec"]["triggers"]
    metadata = trigger["metadata"]
    assert (metadata["namespace"], metadata["metricName"]) == ("AWS/ApplicationELB", "RequestCountPerTarget")
    assert (metadata["dimensionName"], metadata["dimensionValue"]) == ("TargetGroup", "targetgroup/bert/0123")
    assert metadata["metricStat"] == "Sum"
    assert metadata["targetMetricValue"] == "150"  # 2.5 per second over a 60-second period
    with pytest.raises(ValueError, match="no target group"):
        autoscaler_objects(_api({"metric": "requests_per_replica", "target": 1}), cluster_name="c", region="r")


def test_render_api_puts_the_autoscaler_in_place_of_the_cpu_hpa() -> None:
    spec, group = _api({"metric": "neuroncore_utilization"}), NodeGroupSpec(name="g", instance_types=["inf2.xlarge"])
    keda = autoscaler_objects(spec, cluster_name="prod", region="us-east-1")
    kinds = [o["kind"] for o in render_api(spec, group, autoscaler=keda)]
    assert "HorizontalPodAutoscaler" not in kinds
    assert kinds[3:5] == ["TriggerAuthentication", "ScaledObject"]


@pytest.mark.parametrize(
    ("kind", "change"),
    [
        ("ScaledObject", lambda o: o["spec"].update(minReplicas=1)),
        ("ScaledObject", lambda o: o["spec"]["triggers"][0]["metadata"].update(targetMetricValue=70)),
        ("ScaledObject", lambda o: o["spec"]["advanced"]["horizontalPodAutoscalerConfig"]["behavior"].update(up={})),
        ("TriggerAuthentication", lambda o: o["spec"]["podIdentity"].update(provider="aws-irsa")),
    ],
)
def test_keda_schemas_refuse_what_the_crd_refuses(kind: str, change: Any) -> None:
    (obj,) = [o for o in _keda({"metric": "neuroncore_utilization"}) if o["kind"] == kind]
    _validate(obj)
    change(obj)
    with pytest.raises(jsonschema.ValidationError):
        _validate(obj)


# --- capacity at max_replicas and the plan --------------------------------------------------------------------


def test_capacity_at_max_replicas_counts_chips_cpu_and_memory() -> None:
    group = NodeGroupSpec(name="g", instance_types=["inf1.6xlarge"], max_size=3)
    by_chips = ApiSpec(name="a", node_group="g", image=IMAGE, compute={"inf": 1}, autoscaling={"max_replicas": 9})
    capacity = NodeGroupCapacity.of(group)
    load = group_load(capacity, [by_chips], capacity.instance_types[0])
    assert load.per_node("a") == (4, "chips")
    assert load.at_max.node_count == 3
    by_memory = by_chips.model_copy(update={"compute": by_chips.compute.model_copy(update={"mem": "20Gi"})})
    load = group_load(capacity, [by_memory], capacity.instance_types[0])
    assert load.per_node("a") == (2, "memory_mib")
    assert load.at_max.node_count == 5 > capacity.max_nodes


def test_versions_pin_an_add_on_that_publishes_neuron_metrics_through_pod_identity() -> None:
    def parsed(version: str) -> tuple[int, ...]:
        match = re.fullmatch(r"v(\d+)\.(\d+)\.(\d+)-eksbuild\.(\d+)", version)
        assert match is not None, version
        return tuple(int(part) for part in match.groups())

    pinned = parsed(versions.CLOUDWATCH_OBSERVABILITY_ADDON_VERSION)
    assert pinned >= parsed(versions.CLOUDWATCH_OBSERVABILITY_NEURON_METRICS_SINCE)
    assert pinned >= parsed(versions.CLOUDWATCH_OBSERVABILITY_POD_IDENTITY_SINCE)
    assert re.fullmatch(r"\d+\.\d+\.\d+", versions.KEDA_CHART_VERSION)


def _plan(path: Path, *extra: str) -> tuple[int, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(["plan", str(path), *extra], out=out, err=err)
    return code, out.getvalue()


def test_plan_shows_each_signal_target_and_capacity_at_max(tmp_path: Path) -> None:
    examples = Path(__file__).resolve().parents[2] / "examples"
    code, out = _plan(examples / "full.yaml", "--json")
    assert code == 0
    scaling = {plan["name"]: plan["scaling"] for plan in json.loads(out)["apis"]}
    assert {name: (s["metric"], s["target"], s["via"]) for name, s in scaling.items()} == {
        "bert-large": ("requests_per_replica", 20, "keda"),
        "resnet50": ("neuroncore_utilization", 75, "keda"),
        "text-embedder": ("cpu", 60, "hpa"),
    }
    # bert-large: 2 of an inf1.6xlarge's 4 chips, so 2 replicas per 24-vCPU node; max_replicas 2 fit one node.
    bert = scaling["bert-large"]
    assert (bert["replicas_per_node"], bert["nodes_at_max_replicas"], bert["vcpus_at_max_replicas"]) == (2, 1, 24)
    code, text = _plan(examples / "full.yaml")
    assert "scaling: requests_per_replica at 20 requests/s per replica (via KEDA)" in text
    assert "| resnet50      | inf2-spot  | 2 x 1 cores | 2-4      | 1 (Neuron chips) | 2/3 " in text
