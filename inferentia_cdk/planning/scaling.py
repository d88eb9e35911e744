"""How each API scales, planned without CDK: its signal and target, the HorizontalPodAutoscaler behaviour, and the
rules of ``autoscaling`` and ``observability`` (the nodes its replicas need are :mod:`.packing`'s).

Why not CPU: a Neuron replica is saturated when its NeuronCores are, which can happen at 20% CPU while requests queue,
so an HPA on CPU never adds replicas. ``neuroncore_utilization`` (Container Insights' per-pod NeuronCore metric) and
``requests_per_replica`` (the load balancer's requests per target, as Cortex scaled on in-flight requests) follow the
accelerator; both reach the HPA through KEDA's aws-cloudwatch scaler. ``cpu`` stays a plain HPA on metrics-server.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Final

from ..config.aws_grammar import sns_topic_arn_error
from ..config.models import ApiSpec, AutoscalingSpec, InferentiaConfig, ScalingMetric
from ..config.problems import Path, Problem, rule

# CloudWatch user guide, "Container Insights with enhanced observability metrics", AWS Neuron section: the per-pod
# NeuronCore utilisation (unit Percent) in namespace ContainerInsights, with the dimension set ClusterName, Namespace
# among others. An API's namespace is its name and holds only its pods, so that set is exactly the API.
CONTAINER_INSIGHTS_NAMESPACE: Final = "ContainerInsights"
NEURONCORE_UTILIZATION_METRIC: Final = "pod_neuroncore_utilization"
RUNNING_PODS_METRIC: Final = "namespace_number_of_running_pods"
# Elastic Load Balancing user guide, "CloudWatch metrics for your Application Load Balancer": RequestCountPerTarget in
# AWS/ApplicationELB, dimension TargetGroup (the target group's ARN suffix), whose only valid statistic is Sum.
LOAD_BALANCER_NAMESPACE: Final = "AWS/ApplicationELB"
REQUESTS_PER_TARGET_METRIC: Final = "RequestCountPerTarget"

METRIC_PERIOD_SECONDS: Final = 60
"""Both signals are published per minute: one CloudWatch period, and one HPA scaling step."""
SCALE_DOWN_PERCENT_PER_PERIOD: Final = 50
"""At most half of the replicas go in one period, so a dip mid-window cannot empty the API at once."""

METRIC_UNITS: Final[dict[str, str]] = {
    "neuroncore_utilization": "% NeuronCore utilisation",
    "requests_per_replica": "requests/s per replica",
    "cpu": "% CPU of the request",
}
KEDA_METRICS: Final = frozenset({"neuroncore_utilization", "requests_per_replica"})


@dataclass(frozen=True)
class ScalingSignal:
    """What one API's replica count follows."""

    metric: ScalingMetric
    target: float
    min_replicas: int
    max_replicas: int

    @property
    def unit(self) -> str:
        return METRIC_UNITS[self.metric]

    @property
    def via_keda(self) -> bool:
        """True when a KEDA ScaledObject owns the HPA (CloudWatch signals); False for a plain HPA on CPU."""
        return self.metric in KEDA_METRICS

    def describe(self) -> str:
        return f"{self.metric} at {self.target:g} {self.unit} (via {'KEDA' if self.via_keda else 'HPA'})"


def signal_of(autoscaling: AutoscalingSpec) -> ScalingSignal:
    return ScalingSignal(
        autoscaling.metric, autoscaling.target_value, autoscaling.min_replicas, autoscaling.max_replicas
    )


def needs_keda(config: InferentiaConfig) -> bool:
    """KEDA is installed only when some API scales on a CloudWatch signal."""
    return any(api.autoscaling.metric in KEDA_METRICS for api in config.apis)


def hpa_behavior(autoscaling: AutoscalingSpec, model_load_seconds: int) -> dict[str, Any]:
    """The HorizontalPodAutoscaler ``behavior`` of an API (``autoscaling/v2`` field names; KEDA passes it through).

    Scale-up reacts at once (no stabilisation) and may double the replicas or add ``pods_per_step`` each period,
    whichever is more, so going from ``min_replicas`` to ``max_replicas`` never takes longer than one model load:
    a replica asked for later than that would still be loading when the burst that needed it is over.
    Scale-down waits ``scale_down_stabilization_seconds`` and then removes at most half the replicas per period.
    """
    steps = max(1, model_load_seconds // METRIC_PERIOD_SECONDS)
    span = autoscaling.max_replicas - autoscaling.min_replicas
    pods_per_step = max(1, math.ceil(span / steps))
    return {
        "scaleUp": {
            "stabilizationWindowSeconds": 0,
            "selectPolicy": "Max",
            "policies": [
                {"type": "Percent", "value": 100, "periodSeconds": METRIC_PERIOD_SECONDS},
                {"type": "Pods", "value": pods_per_step, "periodSeconds": METRIC_PERIOD_SECONDS},
            ],
        },
        "scaleDown": {
            "stabilizationWindowSeconds": autoscaling.scale_down_stabilization_seconds,
            "selectPolicy": "Max",
            "policies": [
                {"type": "Percent", "value": SCALE_DOWN_PERCENT_PER_PERIOD, "periodSeconds": METRIC_PERIOD_SECONDS}
            ],
        },
    }


# --- rules -----------------------------------------------------------------------------------------------------------

ALARM_TOPIC_ARN = rule("ARN161", "error", "alarm_topic_arn is an SNS topic of the cluster's partition and region")
PERCENT_TARGET = rule("SCL190", "error", "a utilisation target is a percent, 1-100")
REQUEST_RATE_TARGET = rule("SCL191", "error", "a request rate target renders as a number KEDA and the HPA take")

MIN_PERCENT_TARGET = 1
REQUEST_RATE_TARGET_MIN = 0.001
"""Requests per second per replica. KEDA hands the HPA its target as a Kubernetes quantity in thousandths; below one
thousandth a request per metric period the target would round towards zero."""
REQUEST_RATE_TARGET_MAX = 1_000_000
"""Requests per second per replica: far above anything one model replica serves, and with the metric period's factor
(60) far below the 2^63-1 thousandths a quantity holds, so the rendered targetMetricValue is always a finite number."""


REQUESTS_NEED_ENDPOINT = rule("SCL005", "error", "an API scaled on requests_per_replica is exposed")
REQUESTS_NEED_TARGET = rule("SCL006", "error", "requests_per_replica has an explicit target")
WHOLE_CPU_PERCENT = rule("SCL008", "error", "a cpu target is a whole percent")
NEURONCORES_NEED_INSIGHTS = rule("SCL009", "error", "scaling on neuroncore_utilization keeps Container Insights on")


def check_autoscaling(
    api: ApiSpec, path: Path, *, exposed: bool | None = None, container_insights: bool | None = None
) -> list[Problem]:
    """The rules of one API's ``autoscaling``. ``exposed`` and ``container_insights`` are None when unknown (an API
    construct used on its own), which skips the rules that need them."""
    scaling = api.autoscaling
    at: Path = (*path, "autoscaling")
    problems: list[Problem] = []
    if scaling.metric == "requests_per_replica":
        if exposed is False:
            problems.append(
                REQUESTS_NEED_ENDPOINT.problem(
                    (*at, "metric"),
                    f"requests_per_replica scales on the RequestCountPerTarget of the API's load balancer target "
                    f"group, and API {api.name!r} has no endpoint (endpoint: false, or no endpoints section); expose "
                    "it, or scale on neuroncore_utilization or cpu",
                )
            )
        if scaling.target is None:
            problems.append(
                REQUESTS_NEED_TARGET.problem(
                    (*at, "target"),
                    "is required with metric requests_per_replica: the requests per second one replica serves at the "
                    "latency you want (measure it under load); no default fits every model",
                )
            )
        elif not REQUEST_RATE_TARGET_MIN <= scaling.target <= REQUEST_RATE_TARGET_MAX:
            problems.append(
                REQUEST_RATE_TARGET.problem(
                    (*at, "target"),
                    f"target {scaling.target:g} requests per second per replica is outside "
                    f"{REQUEST_RATE_TARGET_MIN:g}-{REQUEST_RATE_TARGET_MAX:g}, what KEDA and the HPA can carry as a "
                    "target; give the rate one replica serves at the latency you want",
                )
            )
    elif scaling.target is not None and not MIN_PERCENT_TARGET <= scaling.target <= 100:
        hint = f"; did you mean {scaling.target * 100:g} (%)?" if scaling.target < MIN_PERCENT_TARGET else ""
        problems.append(
            PERCENT_TARGET.problem(
                (*at, "target"),
                f"target {scaling.target:g} is a percent for metric {scaling.metric}; valid: 1-100{hint}",
            )
        )
    elif scaling.metric == "cpu" and scaling.target is not None and not scaling.target.is_integer():
        problems.append(
            WHOLE_CPU_PERCENT.problem(
                (*at, "target"),
                f"target {scaling.target:g} must be a whole percent for metric cpu (the HPA's averageUtilization is "
                f"an integer); use {round(scaling.target)}",
            )
        )
    if scaling.metric == "neuroncore_utilization" and container_insights is False:
        problems.append(
            NEURONCORES_NEED_INSIGHTS.problem(
                (*at, "metric"),
                "neuroncore_utilization is published by Container Insights, which observability.container_insights: "
                "false turns off; remove that setting, or scale on requests_per_replica or cpu",
            )
        )
    return problems


TOPIC_UNUSED = rule(
    "OBS003", "warning", "an alarm topic is set only where alarms are made (dashboards on and an exposed API)"
)


def check_scaling(config: InferentiaConfig) -> list[Problem]:
    """Every problem of the APIs' ``autoscaling`` and of ``observability``."""
    exposed = {api.name for api in config.exposed_apis()}
    insights = config.container_insights()
    problems: list[Problem] = []
    for i, api in enumerate(config.apis):
        problems += check_autoscaling(api, ("apis", i), exposed=api.name in exposed, container_insights=insights)
    observability = config.observability
    arn = observability.alarm_topic_arn
    path: Path = ("observability", "alarm_topic_arn")
    if arn is not None:
        reason = sns_topic_arn_error(arn, region=config.cluster.region)
        if reason is not None:
            problems.append(ALARM_TOPIC_ARN.problem(path, reason))
        if not observability.dashboards:
            problems.append(
                TOPIC_UNUSED.problem(path, "has no effect with dashboards: false (no alarms are made); remove one")
            )
        elif not exposed:
            problems.append(
                TOPIC_UNUSED.problem(
                    path,
                    "has no effect: alarms are made for exposed APIs (5xx rate, no healthy targets) and no API is "
                    "exposed; expose one through endpoints, or remove the topic",
                )
            )
    return problems
