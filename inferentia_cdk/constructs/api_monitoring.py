"""``ApiMonitoring``: one API's CloudWatch dashboard and, when it has an endpoint, its alarms.

Written with ``aws_cloudwatch`` directly rather than cdk-monitoring-constructs: measured on this machine, that library
adds about 3 s of jsii import to every synth and half again as many template bytes per dashboard, for the seven
widgets and two alarms an API needs. Each API costs one dashboard and, if exposed, two alarms, so a stack of 50 APIs
stays far inside CloudFormation's resource and template limits.
"""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_elasticloadbalancingv2 as elbv2
from aws_cdk import aws_sns as sns
from constructs import Construct
from pydantic import ValidationError

from ..config.aws_grammar import sns_topic_arn_error
from ..config.models import ApiSpec, cluster_name_error
from ..config.problems import Problem, argument_problem, pydantic_problems, raise_for_errors, rule
from ..planning.scaling import (
    CONTAINER_INSIGHTS_NAMESPACE,
    LOAD_BALANCER_NAMESPACE,
    METRIC_PERIOD_SECONDS,
    NEURONCORE_UTILIZATION_METRIC,
    RUNNING_PODS_METRIC,
    ScalingSignal,
)

PERIOD = cdk.Duration.seconds(METRIC_PERIOD_SECONDS)
FIVE_XX_RATE_PERCENT = 5
"""The 5xx alarm fires when more than this share of the API's requests fail, in 3 of 5 minutes."""
WIDGET_HEIGHT = 6


ARG_MONITORING_ARGUMENT = rule("ARG102", "error", "ApiMonitoring's keyword arguments have their types")


def check_monitoring_arguments(
    api_name: object,
    cluster_name: object,
    signal: object,
    container_insights: object,
    target_group: object,
    load_balancer_full_name: object,
    alarm_topic_arn: object,
) -> list[Problem]:
    """Each keyword argument of :class:`ApiMonitoring` has its type, and together they leave something to monitor."""
    problems = [
        _argument(name, value, valid)
        for name, value, ok, valid in (
            ("api_name", api_name, api_name_problem(api_name) is None, "the API's name, a DNS-1035 label"),
            ("signal", signal, isinstance(signal, ScalingSignal), "a ScalingSignal (planning.scaling.signal_of)"),
            ("container_insights", container_insights, isinstance(container_insights, bool), "True or False"),
            (
                "target_group",
                target_group,
                target_group is None or isinstance(target_group, elbv2.ApplicationTargetGroup),
                "None or an aws_elasticloadbalancingv2.ApplicationTargetGroup",
            ),
            (
                "load_balancer_full_name",
                load_balancer_full_name,
                load_balancer_full_name is None or isinstance(load_balancer_full_name, str),
                "None or the load balancer's ARN suffix (load_balancer_full_name)",
            ),
            (
                "alarm_topic_arn",
                alarm_topic_arn,
                alarm_topic_arn is None
                or (isinstance(alarm_topic_arn, str) and sns_topic_arn_error(alarm_topic_arn) is None),
                "None or an SNS topic ARN (arn:aws:sns:REGION:ACCOUNT:NAME)",
            ),
        )
        if not ok
    ]
    name_error = cluster_name_error(cluster_name)
    if name_error:
        problems.append(ARG_MONITORING_ARGUMENT.problem(("cluster_name",), name_error))
    if problems:
        return problems
    if not container_insights and target_group is None:
        problems.append(
            _argument(
                "container_insights",
                container_insights,
                f"True, or a target_group: API {api_name!r} would have nothing to monitor",
            )
        )
    if (target_group is None) != (load_balancer_full_name is None):
        problems.append(
            _argument("load_balancer_full_name", load_balancer_full_name, "given together with target_group")
        )
    return problems


def api_name_problem(api_name: object) -> Problem | None:
    """Why ``api_name`` is not an API's name, by the rule ``ApiSpec.name`` runs (the one place it is written)."""
    try:
        ApiSpec.model_validate({"name": api_name, "node_group": "any", "image": "any:1"})
    except ValidationError as error:
        return next(iter(pydantic_problems(error)), None)
    return None


class ApiMonitoring(cloudwatch.Dashboard):
    """The API's dashboard, named ``<cluster>-<api>``, with its NeuronCore utilisation and running replicas (Container
    Insights) and, for an exposed API, its request rate, target latency p50/p99, 5xx responses and healthy targets (its
    load balancer target group). An exposed API also gets two alarms, children of the dashboard: ``FiveXxRate`` (more
    than ``FIVE_XX_RATE_PERCENT`` % of requests answered 5xx by the pods in 3 of 5 minutes) and ``NoHealthyTargets``
    (no healthy target for 3 minutes). Missing data never alarms: the load balancer reports nothing while no requests
    come.

    It is the ``Dashboard`` itself, not a construct holding one: a holder's construct node and jsii round trip would
    cost about 1 ms per API (bench/PROFILE.md).

    :param api_name: the API (its namespace, so also the Container Insights ``Namespace`` dimension).
    :param cluster_name: the EKS cluster's literal name (the ``ClusterName`` dimension).
    :param signal: the API's scaling signal; the NeuronCore widget draws its target when it scales on NeuronCores.
    :param container_insights: default ``True``. Without Container Insights the NeuronCore and replica widgets are
        left out (nothing would publish them).
    :param target_group: default ``None``. The API's target group; without it there are no request widgets and no
        alarms.
    :param load_balancer_full_name: the ARN suffix of the load balancer ``target_group`` is attached to (required with
        it). Passed in rather than derived from the target group, which would split the listener's ARN again in every
        metric: one cross-stack reference per metric keeps each API's template small.
    :param alarm_topic_arn: default ``None``. An SNS topic the alarms notify on ALARM and on OK.

    Every argument is checked before anything is created (``ConfigError`` naming the argument, the value and what is
    valid).
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        api_name: str,
        cluster_name: str,
        signal: ScalingSignal,
        container_insights: bool = True,
        target_group: elbv2.ApplicationTargetGroup | None = None,
        load_balancer_full_name: str | None = None,
        alarm_topic_arn: str | None = None,
    ) -> None:
        raise_for_errors(
            check_monitoring_arguments(
                api_name,
                cluster_name,
                signal,
                container_insights,
                target_group,
                load_balancer_full_name,
                alarm_topic_arn,
            )
        )
        load_balancer_metrics = (
            _LoadBalancerMetrics(load_balancer_full_name, target_group.target_group_full_name)
            if target_group is not None and load_balancer_full_name is not None
            else None
        )
        widgets = dashboard_rows(api_name, cluster_name, signal, container_insights, load_balancer_metrics)
        super().__init__(scope, construct_id, dashboard_name=f"{cluster_name}-{api_name}", widgets=widgets)
        self.api_name = api_name
        self.cluster_name = cluster_name
        self.alarms = _add_alarms(self, load_balancer_metrics) if load_balancer_metrics is not None else []
        if alarm_topic_arn is not None and self.alarms:
            _notify(self, self.alarms, alarm_topic_arn)

    @property
    def dashboard(self) -> cloudwatch.Dashboard:
        """The API's ``Dashboard``: the construct itself (kept for code written when it held the dashboard)."""
        return self


def dashboard_rows(
    api_name: str,
    cluster_name: str,
    signal: ScalingSignal,
    container_insights: bool,
    load_balancer_metrics: _LoadBalancerMetrics | None,
) -> list[list[cloudwatch.IWidget]]:
    """The dashboard's widgets, a row each: the NeuronCore row when Container Insights publishes it, the load balancer
    row when the API is exposed."""
    rows: list[list[cloudwatch.IWidget]] = []
    if container_insights:
        rows.append(_neuroncore_row(api_name, cluster_name, signal))
    if load_balancer_metrics is not None:
        rows.append(load_balancer_metrics.row())
    return rows


def _neuroncore_row(api_name: str, cluster_name: str, signal: ScalingSignal) -> list[cloudwatch.IWidget]:
    dimensions = {"ClusterName": cluster_name, "Namespace": api_name}

    def average(metric_name: str, label: str) -> cloudwatch.Metric:
        return cloudwatch.Metric(
            namespace=CONTAINER_INSIGHTS_NAMESPACE,
            metric_name=metric_name,
            dimensions_map=dimensions,
            statistic="Average",
            period=PERIOD,
            label=label,
        )

    neuroncores = average(NEURONCORE_UTILIZATION_METRIC, "NeuronCore utilisation %")
    replicas = average(RUNNING_PODS_METRIC, "running replicas")
    target = (
        [cloudwatch.HorizontalAnnotation(value=signal.target, label="scaling target")]
        if signal.metric == "neuroncore_utilization"
        else []
    )
    return [
        cloudwatch.GraphWidget(
            title="NeuronCore utilisation",
            left=[neuroncores],
            left_y_axis=cloudwatch.YAxisProps(min=0, max=100),
            left_annotations=target,
            width=12,
            height=WIDGET_HEIGHT,
        ),
        cloudwatch.GraphWidget(
            title=f"Replicas ({signal.min_replicas}-{signal.max_replicas})",
            left=[replicas],
            left_y_axis=cloudwatch.YAxisProps(min=0),
            width=12,
            height=WIDGET_HEIGHT,
        ),
    ]


def _add_alarms(monitoring: ApiMonitoring, metrics: _LoadBalancerMetrics) -> list[cloudwatch.Alarm]:
    """The exposed API's two alarms, children of its dashboard (their logical ids follow it)."""
    api_name, prefix = monitoring.api_name, f"{monitoring.cluster_name}-{monitoring.api_name}"
    return [
        metrics.error_rate.create_alarm(
            monitoring,
            "FiveXxRate",
            alarm_name=f"{prefix}-5xx-rate",
            alarm_description=f"More than {FIVE_XX_RATE_PERCENT}% of API {api_name}'s requests got a 5xx "
            "from its pods in 3 of the last 5 minutes",
            threshold=FIVE_XX_RATE_PERCENT,
            evaluation_periods=5,
            datapoints_to_alarm=3,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        ),
        metrics.healthy.create_alarm(
            monitoring,
            "NoHealthyTargets",
            alarm_name=f"{prefix}-no-healthy-targets",
            alarm_description=f"API {api_name} had no healthy replica behind its load balancer for 3 minutes",
            threshold=1,
            evaluation_periods=3,
            comparison_operator=cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        ),
    ]


def _notify(monitoring: ApiMonitoring, alarms: list[cloudwatch.Alarm], alarm_topic_arn: str) -> None:
    """Each alarm notifies the topic on ALARM and on OK."""
    # Imported only here: an app without an alarm topic never loads the module.
    from aws_cdk import aws_cloudwatch_actions as actions

    action = actions.SnsAction(sns.Topic.from_topic_arn(monitoring, "AlarmTopic", alarm_topic_arn))
    for alarm in alarms:
        alarm.add_alarm_action(action)
        alarm.add_ok_action(action)


class _LoadBalancerMetrics:
    """An exposed API's metrics of its target group. Elastic Load Balancing user guide, ALB CloudWatch metrics: the
    per-target-group metrics take the LoadBalancer and TargetGroup dimensions (both ARN suffixes)."""

    def __init__(self, load_balancer_full_name: str, target_group_full_name: str) -> None:
        self._dimensions = {"LoadBalancer": load_balancer_full_name, "TargetGroup": target_group_full_name}
        self.requests = self._metric("RequestCount", "Sum", "requests / min")
        self.errors = self._metric("HTTPCode_Target_5XX_Count", "Sum", "5xx / min")
        self.healthy = self._metric("HealthyHostCount", "Minimum", "healthy targets")
        self.latency = [self._metric("TargetResponseTime", p, f"{p} seconds") for p in ("p50", "p99")]
        self.error_rate = cloudwatch.MathExpression(
            expression="IF(requests > 0, 100 * errors / requests, 0)",
            using_metrics={"requests": self.requests, "errors": self.errors},
            period=PERIOD,
            label="5xx % of requests",
        )

    def _metric(self, metric_name: str, statistic: str, label: str) -> cloudwatch.Metric:
        return cloudwatch.Metric(
            namespace=LOAD_BALANCER_NAMESPACE,
            metric_name=metric_name,
            dimensions_map=self._dimensions,
            statistic=statistic,
            period=PERIOD,
            label=label,
        )

    def row(self) -> list[cloudwatch.IWidget]:
        return [
            cloudwatch.GraphWidget(title="Requests", left=[self.requests], width=6, height=WIDGET_HEIGHT),
            cloudwatch.GraphWidget(title="Latency (pods)", left=self.latency, width=6, height=WIDGET_HEIGHT),
            cloudwatch.GraphWidget(title="5xx (pods)", left=[self.errors], width=6, height=WIDGET_HEIGHT),
            cloudwatch.GraphWidget(title="Healthy targets", left=[self.healthy], width=6, height=WIDGET_HEIGHT),
        ]


def _argument(argument: str, value: object, valid: str) -> Problem:
    problem = argument_problem(argument, value, valid)
    return ARG_MONITORING_ARGUMENT.problem(problem.path, problem.message)
