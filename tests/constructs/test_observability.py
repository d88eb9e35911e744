"""KEDA, Container Insights, and each API's dashboard and alarms, in the synthesized example apps (session fixtures)
and in one more app whose APIs all scale on CPU."""

from __future__ import annotations

import json
from typing import Any

import pytest
from synth_support import EXAMPLES, KUBERNETES_RESOURCE_TYPE, Synthesized, _flatten, read_templates

from inferentia_cdk.catalog import versions
from inferentia_cdk.constructs.keda import METRIC_READ_ACTIONS
from inferentia_cdk.planning.loader import load_config

HELM_CHART = "Custom::AWSCDK-EKS-HelmChart"


def _resources(template: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {k: r for k, r in template.get("Resources", {}).items() if r["Type"] == kind}


def _charts(template: dict[str, Any], name: str) -> list[dict[str, Any]]:
    return [r["Properties"] for r in _resources(template, HELM_CHART).values() if r["Properties"]["Chart"] == name]


def _addon(template: dict[str, Any], name: str) -> list[dict[str, Any]]:
    return [
        r["Properties"]
        for r in _resources(template, "AWS::EKS::Addon").values()
        if r["Properties"]["AddonName"] == name
    ]


def _role_of(template: dict[str, Any], role_arn: Any) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The role a ``Fn::GetAtt [role, Arn]`` names, and the statements of every inline policy attached to it."""
    role_id = role_arn["Fn::GetAtt"][0]
    statements = [
        statement
        for policy in _resources(template, "AWS::IAM::Policy").values()
        if {"Ref": role_id} in policy["Properties"]["Roles"]
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
    ]
    return template["Resources"][role_id]["Properties"], statements


def _pod_identity_trust(role: dict[str, Any]) -> None:
    (trust,) = role["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Principal"] == {"Service": "pods.eks.amazonaws.com"}
    assert sorted(trust["Action"]) == ["sts:AssumeRole", "sts:TagSession"]


def _manifests(template: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """Each API's objects, by API name."""
    by_api = {}
    for resource in _resources(template, KUBERNETES_RESOURCE_TYPE).values():
        objects = json.loads(_flatten(resource["Properties"]["Manifest"]))
        by_api[objects[0]["metadata"]["name"]] = objects
    return by_api


# --- KEDA ------------------------------------------------------------------------------------------------------


def test_keda_is_the_pinned_chart_on_system_nodes(any_app: Synthesized) -> None:
    (chart,) = _charts(any_app.template("Cluster"), "keda")
    assert (chart["Version"], chart["Repository"]) == (versions.KEDA_CHART_VERSION, versions.KEDA_CHART_REPOSITORY)
    assert chart["Namespace"] == "keda"
    values = json.loads(chart["Values"])
    assert values["nodeSelector"] == {"inferentia-cdk/role": "system"}
    assert values["serviceAccount"]["operator"]["name"] == "keda-operator"
    assert chart["Wait"] is True, "the admission webhook must answer before the first ScaledObject arrives"


def test_the_keda_operator_may_only_read_cloudwatch_metrics(any_app: Synthesized) -> None:
    template = any_app.template("Cluster")
    (association_id,) = [
        k
        for k, a in _resources(template, "AWS::EKS::PodIdentityAssociation").items()
        if a["Properties"]["Namespace"] == "keda"
    ]
    association = template["Resources"][association_id]["Properties"]
    assert association["ServiceAccount"] == "keda-operator"
    role, statements = _role_of(template, association["RoleArn"])
    _pod_identity_trust(role)
    assert "ManagedPolicyArns" not in role
    assert [(s["Effect"], s["Action"]) for s in statements] == [("Allow", "cloudwatch:GetMetricData")]
    assert METRIC_READ_ACTIONS == ("cloudwatch:GetMetricData",)
    # The operator starts only once its association exists, or it would come up without credentials.
    (chart_id,) = [k for k, r in _resources(template, HELM_CHART).items() if r["Properties"]["Chart"] == "keda"]
    assert association_id in template["Resources"][chart_id]["DependsOn"]


def test_each_api_has_exactly_one_owner_of_its_replica_count(full_app: Synthesized) -> None:
    manifests = _manifests(full_app.template("Apis"))
    owners = {
        name: [o["kind"] for o in objects if o["kind"] in ("HorizontalPodAutoscaler", "ScaledObject")]
        for name, objects in manifests.items()
    }
    assert owners == {
        "bert-large": ["ScaledObject"],
        "resnet50": ["ScaledObject"],
        "text-embedder": ["HorizontalPodAutoscaler"],
    }


def test_the_requests_trigger_names_the_api_target_group(full_app: Synthesized) -> None:
    template = full_app.template("Apis")
    (group_id,) = _resources(template, "AWS::ElasticLoadBalancingV2::TargetGroup")
    (manifest,) = [
        r["Properties"]["Manifest"]
        for r in _resources(template, KUBERNETES_RESOURCE_TYPE).values()
        if json.loads(_flatten(r["Properties"]["Manifest"]))[0]["metadata"]["name"] == "bert-large"
    ]
    assert {"Fn::GetAtt": [group_id, "TargetGroupFullName"]} in manifest["Fn::Join"][1]
    scaled = next(o for o in _manifests(template)["bert-large"] if o["kind"] == "ScaledObject")
    (trigger,) = scaled["spec"]["triggers"]
    assert trigger["metadata"]["metricName"] == "RequestCountPerTarget"
    assert trigger["metadata"]["targetMetricValue"] == "1200"  # 20 requests per second per replica, per minute
    assert trigger["metadata"]["awsRegion"] == "us-east-1"


# --- Container Insights ----------------------------------------------------------------------------------------


def test_container_insights_is_the_pinned_add_on_with_pod_identity(any_app: Synthesized) -> None:
    template = any_app.template("Cluster")
    (addon,) = _addon(template, "amazon-cloudwatch-observability")
    assert addon["AddonVersion"] == versions.CLOUDWATCH_OBSERVABILITY_ADDON_VERSION
    assert json.loads(addon["ConfigurationValues"]) == {"containerLogs": {"enabled": False}}
    (association,) = addon["PodIdentityAssociations"]
    assert association["ServiceAccount"] == "cloudwatch-agent"
    role, statements = _role_of(template, association["RoleArn"])
    _pod_identity_trust(role)
    assert statements == []
    (policy,) = role["ManagedPolicyArns"]
    assert _flatten(policy).endswith(":iam::aws:policy/CloudWatchAgentServerPolicy")
    assert _addon(template, "eks-pod-identity-agent")


def test_our_neuron_monitor_is_not_deployed_beside_the_add_on(full_app: Synthesized) -> None:
    assert full_app.stacks["cluster"].config.device_plugin.monitor, "full.yaml asks for neuron-monitor"
    daemonsets = {o["metadata"]["name"] for o in full_app.kubernetes_objects() if o["kind"] == "DaemonSet"}
    assert "neuron-monitor" not in daemonsets
    assert "neuron-device-plugin" in daemonsets


# --- dashboards and alarms -------------------------------------------------------------------------------------


def test_every_api_gets_a_named_dashboard_with_its_widgets(full_app: Synthesized) -> None:
    dashboards = {
        r["Properties"]["DashboardName"]: _flatten(r["Properties"]["DashboardBody"])
        for r in _resources(full_app.template("Apis"), "AWS::CloudWatch::Dashboard").values()
    }
    assert set(dashboards) == {f"inferentia-full-{name}" for name in ("bert-large", "resnet50", "text-embedder")}
    titles = {
        name: [w["properties"]["title"] for w in json.loads(body)["widgets"]] for name, body in dashboards.items()
    }
    assert titles["inferentia-full-bert-large"] == [
        "NeuronCore utilisation",
        "Replicas (1-2)",
        "Requests",
        "Latency (pods)",
        "5xx (pods)",
        "Healthy targets",
    ]
    assert titles["inferentia-full-resnet50"] == ["NeuronCore utilisation", "Replicas (2-4)"]
    resnet = json.loads(dashboards["inferentia-full-resnet50"])["widgets"][0]["properties"]
    assert resnet["metrics"][0][:6] == [
        "ContainerInsights",
        "pod_neuroncore_utilization",
        "ClusterName",
        "inferentia-full",
        "Namespace",
        "resnet50",
    ]
    assert resnet["annotations"]["horizontal"][0]["value"] == 75  # its scaling target
    latency = json.loads(dashboards["inferentia-full-bert-large"])["widgets"][3]["properties"]["metrics"]
    assert [m[-1]["stat"] for m in latency] == ["p50", "p99"]


def test_an_exposed_api_alarms_on_5xx_rate_and_no_healthy_targets(full_app: Synthesized) -> None:
    alarms = {
        r["Properties"]["AlarmName"]: r["Properties"]
        for r in _resources(full_app.template("Apis"), "AWS::CloudWatch::Alarm").values()
    }
    assert set(alarms) == {"inferentia-full-bert-large-5xx-rate", "inferentia-full-bert-large-no-healthy-targets"}
    topic = "arn:aws:sns:us-east-1:123456789012:inference-alarms"
    for alarm in alarms.values():
        assert alarm["AlarmActions"] == [topic] and alarm["OKActions"] == [topic]
        assert alarm["TreatMissingData"] == "notBreaching"
    rate = alarms["inferentia-full-bert-large-5xx-rate"]
    (expression,) = [m for m in rate["Metrics"] if "Expression" in m]
    assert expression["Expression"] == "IF(requests > 0, 100 * errors / requests, 0)"
    assert {m["MetricStat"]["Metric"]["MetricName"] for m in rate["Metrics"] if "MetricStat" in m} == {
        "RequestCount",
        "HTTPCode_Target_5XX_Count",
    }
    assert (rate["Threshold"], rate["EvaluationPeriods"], rate["DatapointsToAlarm"]) == (5, 5, 3)
    healthy = alarms["inferentia-full-bert-large-no-healthy-targets"]
    (metric,) = healthy["Metrics"]
    assert metric["MetricStat"]["Metric"]["MetricName"] == "HealthyHostCount"
    assert {d["Name"] for d in metric["MetricStat"]["Metric"]["Dimensions"]} == {"LoadBalancer", "TargetGroup"}
    assert (healthy["ComparisonOperator"], healthy["Threshold"]) == ("LessThanThreshold", 1)


def test_monitoring_stays_small_per_api(full_app: Synthesized) -> None:
    """Per API a dashboard (and two alarms when exposed), a few KB: 50 APIs fit one stack's template with room."""
    template = full_app.template("Apis")
    sizes: dict[str, int] = {}
    for logical_id, resource in template["Resources"].items():
        if resource["Type"] in ("AWS::CloudWatch::Dashboard", "AWS::CloudWatch::Alarm"):
            api = next(n for n in ("bertlarge", "resnet50", "textembedder") if logical_id.startswith(n))
            sizes[api] = sizes.get(api, 0) + len(json.dumps(resource, separators=(",", ":")))
    assert sizes["bertlarge"] < 8_000
    assert sizes["resnet50"] < 1_500 and sizes["textembedder"] < 1_500


def test_the_default_app_scales_on_neuroncores_and_has_a_dashboard_but_no_alarms(default_app: Synthesized) -> None:
    apis = default_app.template("Apis")
    (scaled,) = [o for o in _manifests(apis)["image-classifier"] if o["kind"] == "ScaledObject"]
    assert scaled["spec"]["triggers"][0]["metadata"]["metricName"] == "pod_neuroncore_utilization"
    assert len(_resources(apis, "AWS::CloudWatch::Dashboard")) == 1
    assert not _resources(apis, "AWS::CloudWatch::Alarm")


# --- an app without CloudWatch signals -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def cpu_only(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    import aws_cdk as cdk

    from inferentia_cdk.stacks.app import build_app

    config = load_config(EXAMPLES / "inferentia.yaml").config
    (api,) = config.apis
    cpu = api.model_copy(update={"autoscaling": api.autoscaling.model_copy(update={"metric": "cpu"})})
    variant = config.model_copy(
        update={
            "apis": [cpu],
            "observability": config.observability.model_copy(update={"dashboards": False}),
            "device_plugin": config.device_plugin.model_copy(update={"monitor": True}),
        }
    )
    outdir = tmp_path_factory.mktemp("cpu-only")
    app = cdk.App(outdir=str(outdir))
    build_app(variant, app=app, nag=False)
    app.synth()
    # The APIs stack with its shards' resources merged in: the API lives in a nested stack.
    templates, _ = read_templates(outdir)
    return templates


def test_without_cloudwatch_signals_there_is_no_keda_and_no_add_on(cpu_only: dict[str, dict[str, Any]]) -> None:
    cluster = cpu_only["InferentiaCluster"]
    assert not _charts(cluster, "keda")
    assert not _addon(cluster, "amazon-cloudwatch-observability")
    daemonsets = [
        o["metadata"]["name"]
        for r in _resources(cluster, KUBERNETES_RESOURCE_TYPE).values()
        if "Manifest" in r["Properties"]
        for o in json.loads(_flatten(r["Properties"]["Manifest"]))
        if o["kind"] == "DaemonSet"
    ]
    assert "neuron-monitor" in daemonsets, "without the add-on, neuron-monitor is ours to run"
    apis = cpu_only["InferentiaApis"]
    assert not _resources(apis, "AWS::CloudWatch::Dashboard")
    (objects,) = _manifests(apis).values()
    assert [o["kind"] for o in objects if o["kind"] in ("HorizontalPodAutoscaler", "ScaledObject")] == [
        "HorizontalPodAutoscaler"
    ]


def test_each_api_is_its_manifest_and_its_monitoring_its_dashboard(full_app: Synthesized) -> None:
    """The API is the KubernetesManifest and its monitoring the Dashboard, each with its own id in the API's scope (no
    holder node: one jsii create each per API, as a hand-written app makes); the API's id ``Default`` is left out of
    logical ids, so the manifest's is the API's; the alarms are the dashboard's children."""
    from aws_cdk import aws_cloudwatch as cloudwatch
    from aws_cdk import aws_eks_v2 as eks
    from jsii._kernel import _get_overides

    apis_stack = full_app.stacks["apis"]
    shards = set(apis_stack.shards.values())
    for name, api in apis_stack.apis.items():
        assert isinstance(api, eks.KubernetesManifest) and api.manifest is api and api.node.id == "Default", name
        api_scope = api.node.scope
        assert api_scope is not None and api_scope.node.id == name and api_scope.node.scope in shards
    assert apis_stack.monitoring
    for name, monitoring in apis_stack.monitoring.items():
        assert isinstance(monitoring, cloudwatch.Dashboard) and monitoring.dashboard is monitoring, name
        # It overrides no jsii member, so Node never calls back into Python for it.
        assert _get_overides(type(monitoring), monitoring) == [], name
        assert monitoring.node.scope is apis_stack.apis[name].node.scope
        for alarm in monitoring.alarms:
            assert alarm.node.scope is monitoring
