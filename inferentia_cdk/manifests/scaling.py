"""The objects that own an API's replica count, as plain dicts: a KEDA ScaledObject (which creates and owns the
HorizontalPodAutoscaler) and its TriggerAuthentication for the CloudWatch signals, or the plain CPU HPA.

Fields are those of KEDA's keda.sh/v1alpha1 CRDs in the pinned chart (``versions.KEDA_CHART_VERSION``) and of its
aws-cloudwatch scaler. Pure: no CDK import; values that are CDK tokens (region, target group) pass through as text.
"""

from __future__ import annotations

from typing import Any, Final

from ..config.models import ApiSpec
from ..planning.scaling import (
    CONTAINER_INSIGHTS_NAMESPACE,
    LOAD_BALANCER_NAMESPACE,
    METRIC_PERIOD_SECONDS,
    NEURONCORE_UTILIZATION_METRIC,
    REQUESTS_PER_TARGET_METRIC,
    hpa_behavior,
)
from ..planning.startup import startup_budget_seconds
from .api import Manifest, horizontal_pod_autoscaler, labels

KEDA_API_VERSION: Final = "keda.sh/v1alpha1"
KEDA_OPERATOR_SERVICE_ACCOUNT: Final = "keda-operator"
"""The chart's operator ServiceAccount; its EKS Pod Identity role may read CloudWatch metrics, nothing else."""
POLLING_INTERVAL_SECONDS: Final = 30
# The scaler reads the newest datapoint of the last 5 minutes, ending one period ago: CloudWatch needs about a minute
# before a period's datapoint is complete (its eventual consistency), and a partial one would read low.
METRIC_COLLECTION_SECONDS: Final = 300
METRIC_END_OFFSET_SECONDS: Final = METRIC_PERIOD_SECONDS


def _number(value: float) -> str:
    return f"{value:g}"


def trigger_authentication_name(spec: ApiSpec) -> str:
    return f"{spec.name}-cloudwatch"


def trigger_authentication(spec: ApiSpec) -> Manifest:
    """CloudWatch credentials for the API's trigger: the KEDA operator's own (its Pod Identity role)."""
    return {
        "apiVersion": KEDA_API_VERSION,
        "kind": "TriggerAuthentication",
        "metadata": {"name": trigger_authentication_name(spec), "namespace": spec.name, "labels": labels(spec)},
        "spec": {"podIdentity": {"provider": "aws", "identityOwner": "keda"}},
    }


def _cloudwatch_trigger(spec: ApiSpec, region: str, metadata: dict[str, str]) -> Manifest:
    return {
        "type": "aws-cloudwatch",
        # Value, not AverageValue: both metrics are already per replica, so the HPA scales the current count by
        # metric / target (AverageValue would divide the metric by the replica count once more).
        "metricType": "Value",
        "metadata": {
            **metadata,
            "minMetricValue": "0",
            "awsRegion": region,
            "metricStatPeriod": str(METRIC_PERIOD_SECONDS),
            "metricCollectionTime": str(METRIC_COLLECTION_SECONDS),
            "metricEndTimeOffset": str(METRIC_END_OFFSET_SECONDS),
        },
        "authenticationRef": {"name": trigger_authentication_name(spec), "kind": "TriggerAuthentication"},
    }


def neuroncore_trigger(spec: ApiSpec, *, cluster_name: str, region: str) -> Manifest:
    """Average NeuronCore utilisation of the API's pods (their namespace), in percent, against ``target``."""
    return _cloudwatch_trigger(
        spec,
        region,
        {
            "namespace": CONTAINER_INSIGHTS_NAMESPACE,
            "metricName": NEURONCORE_UTILIZATION_METRIC,
            "dimensionName": "ClusterName;Namespace",
            "dimensionValue": f"{cluster_name};{spec.name}",
            "metricStat": "Average",
            "targetMetricValue": _number(spec.autoscaling.target_value),
        },
    )


def requests_trigger(spec: ApiSpec, *, target_group_full_name: str, region: str) -> Manifest:
    """Requests per target of the API's target group per period, against ``target`` requests per second."""
    return _cloudwatch_trigger(
        spec,
        region,
        {
            "namespace": LOAD_BALANCER_NAMESPACE,
            "metricName": REQUESTS_PER_TARGET_METRIC,
            "dimensionName": "TargetGroup",
            "dimensionValue": target_group_full_name,
            "metricStat": "Sum",
            "targetMetricValue": _number(spec.autoscaling.target_value * METRIC_PERIOD_SECONDS),
        },
    )


def scaled_object(spec: ApiSpec, trigger: Manifest) -> Manifest:
    scaling = spec.autoscaling
    behavior = hpa_behavior(scaling, startup_budget_seconds(spec))
    return {
        "apiVersion": KEDA_API_VERSION,
        "kind": "ScaledObject",
        "metadata": {"name": spec.name, "namespace": spec.name, "labels": labels(spec)},
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": spec.name},
            "minReplicaCount": scaling.min_replicas,
            "maxReplicaCount": scaling.max_replicas,
            "pollingInterval": POLLING_INTERVAL_SECONDS,
            "advanced": {"horizontalPodAutoscalerConfig": {"behavior": behavior}},
            "triggers": [trigger],
        },
    }


def autoscaler_objects(
    spec: ApiSpec, *, cluster_name: str, region: str, target_group_full_name: str | None = None
) -> list[Manifest]:
    """What owns the API's replica count: a TriggerAuthentication and a ScaledObject for the CloudWatch signals (KEDA
    then owns the HPA, so none is rendered beside it), or the plain HPA for ``cpu``.

    Raises ``ValueError`` for ``requests_per_replica`` without a target group; validation reports that first.
    """
    metric = spec.autoscaling.metric
    if metric == "cpu":
        return [horizontal_pod_autoscaler(spec)]
    if metric == "neuroncore_utilization":
        trigger = neuroncore_trigger(spec, cluster_name=cluster_name, region=region)
    else:
        if target_group_full_name is None:
            raise ValueError(f"API {spec.name!r} scales on requests_per_replica but has no target group")
        trigger = requests_trigger(spec, target_group_full_name=target_group_full_name, region=region)
    return [trigger_authentication(spec), scaled_object(spec, trigger)]


def keda_values(node_selector: dict[str, str]) -> dict[str, Any]:
    """Helm values of the KEDA chart: its pods on ``node_selector`` nodes, the operator's ServiceAccount named as the
    Pod Identity association expects, no IRSA (Pod Identity needs no annotation), and no access to the cluster's
    Secrets: the ScaledObjects authenticate with Pod Identity only, so the operator's ClusterRole needs no ``secrets``
    rule (``permissions.operator.restrict.secret`` drops it: kedacore/charts keda/templates/manager/clusterrole.yaml,
    checked 2026-12-04)."""
    return {
        "nodeSelector": dict(node_selector),
        "serviceAccount": {"operator": {"create": True, "name": KEDA_OPERATOR_SERVICE_ACCOUNT}},
        "podIdentity": {"aws": {"irsa": {"enabled": False}}},
        "permissions": {"operator": {"restrict": {"secret": True}}},
    }
