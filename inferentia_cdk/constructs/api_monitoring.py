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


class ApiMonitoring(cloudwatch.Dashboard):
    """The API's dashboard, named ``<cluster>-<api>``, with its NeuronCore utilisation and running replicas
    (Container Insights) and, for an exposed API, its request rate, target latency p50/p99, 5xx responses and healthy
    targets (its load balancer target group). An exposed API also gets two alarms, children of the dashboard:
    ``FiveXxRate`` (more than ``FIVE_XX_RATE_PERCENT`` % of requests answered 5xx by the pods in 3 of 5 minutes) and
    ``NoHealthyTargets`` (no healthy target for 3 minutes). Missing data never alarms: the load balancer reports
    nothing while no requests come.

    It is the ``Dashboard`` (its own child ``Resource``), not a construct holding one: one construct node and jsii
    round trip fewer per API.

    :param api_name: the API (its namespace, so also the Container Insights ``Namespace`` dimension).
    :param cluster_name: the EKS cluster's name (the ``ClusterName`` dimension).
    :param signal: the API's scaling signal; the NeuronCore widget draws its target when it scales on NeuronCores.
    :param container_insights: default ``True``. Without Container Insights the NeuronCore and replica widgets are
        left out (nothing would publish them).
    :param target_group: default ``None``. The API's target group; without it there are no request widgets and no
        alarms.
    :param load_balancer_full_name: the ARN suffix of the load balancer ``target_group`` is attached to (required with
        it). Passed in rather than derived from the target group, which would split the listener's ARN again in every
        metric: one cross-stack reference per metric keeps each API's template small.
    :param alarm_topic_arn: default ``None``. An SNS topic the alarms notify on ALARM and on OK.
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
        if not container_insights and target_group is None:
            raise ValueError(f"API {api_name!r} has neither Container Insights nor a target group: nothing to monitor")
        if (target_group is None) != (load_balancer_full_name is None):
            raise ValueError("give target_group and load_balancer_full_name together")
        rows: list[list[cloudwatch.IWidget]] = []
        alarmed: tuple[cloudwatch.MathExpression, cloudwatch.Metric] | None = None
        if container_insights:
            dimensions = {"ClusterName": cluster_name, "Namespace": api_name}
            neuroncores = cloudwatch.Metric(
                namespace=CONTAINER_INSIGHTS_NAMESPACE,
                metric_name=NEURONCORE_UTILIZATION_METRIC,
                dimensions_map=dimensions,
                statistic="Average",
                period=PERIOD,
                label="NeuronCore utilisation %",
            )
            replicas = cloudwatch.Metric(
                namespace=CONTAINER_INSIGHTS_NAMESPACE,
                metric_name=RUNNING_PODS_METRIC,
                dimensions_map=dimensions,
                statistic="Average",
                period=PERIOD,
                label="running replicas",
            )
            target = (
                [cloudwatch.HorizontalAnnotation(value=signal.target, label="scaling target")]
                if signal.metric == "neuroncore_utilization"
                else []
            )
            rows.append(
                [
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
            )
        if target_group is not None and load_balancer_full_name is not None:
            # Elastic Load Balancing user guide, ALB CloudWatch metrics: the per-target-group metrics below take the
            # LoadBalancer and TargetGroup dimensions (both ARN suffixes).
            group_dimensions = {
                "LoadBalancer": load_balancer_full_name,
                "TargetGroup": target_group.target_group_full_name,
            }

            def alb(metric_name: str, statistic: str, label: str) -> cloudwatch.Metric:
                return cloudwatch.Metric(
                    namespace=LOAD_BALANCER_NAMESPACE,
                    metric_name=metric_name,
                    dimensions_map=group_dimensions,
                    statistic=statistic,
                    period=PERIOD,
                    label=label,
                )

            requests = alb("RequestCount", "Sum", "requests / min")
            errors = alb("HTTPCode_Target_5XX_Count", "Sum", "5xx / min")
            healthy = alb("HealthyHostCount", "Minimum", "healthy targets")
            latency = [alb("TargetResponseTime", p, f"{p} seconds") for p in ("p50", "p99")]
            rows.append(
                [
                    cloudwatch.GraphWidget(title="Requests", left=[requests], width=6, height=WIDGET_HEIGHT),
                    cloudwatch.GraphWidget(title="Latency (pods)", left=latency, width=6, height=WIDGET_HEIGHT),
                    cloudwatch.GraphWidget(title="5xx (pods)", left=[errors], width=6, height=WIDGET_HEIGHT),
                    cloudwatch.GraphWidget(title="Healthy targets", left=[healthy], width=6, height=WIDGET_HEIGHT),
                ]
            )
            error_rate = cloudwatch.MathExpression(
                expression="IF(requests > 0, 100 * errors / requests, 0)",
                using_metrics={"requests": requests, "errors": errors},
                period=PERIOD,
                label="5xx % of requests",
            )
            alarmed = (error_rate, healthy)
        super().__init__(scope, construct_id, dashboard_name=f"{cluster_name}-{api_name}", widgets=rows)
        self.alarms: list[cloudwatch.Alarm] = []
        if alarmed is not None:
            error_rate, healthy = alarmed
            self.alarms = [
                error_rate.create_alarm(
                    self,
                    "FiveXxRate",
                    alarm_name=f"{cluster_name}-{api_name}-5xx-rate",
                    alarm_description=f"More than {FIVE_XX_RATE_PERCENT}% of API {api_name}'s requests got a 5xx "
                    "from its pods in 3 of the last 5 minutes",
                    threshold=FIVE_XX_RATE_PERCENT,
                    evaluation_periods=5,
                    datapoints_to_alarm=3,
                    comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
                    treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
                ),
                healthy.create_alarm(
                    self,
                    "NoHealthyTargets",
                    alarm_name=f"{cluster_name}-{api_name}-no-healthy-targets",
                    alarm_description=f"API {api_name} had no healthy replica behind its load balancer for 3 minutes",
                    threshold=1,
                    evaluation_periods=3,
                    comparison_operator=cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
                    treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
                ),
            ]
            if alarm_topic_arn is not None:
                # Imported only here: an app without an alarm topic never loads the module.
                from aws_cdk import aws_cloudwatch_actions as actions

                action = actions.SnsAction(sns.Topic.from_topic_arn(self, "AlarmTopic", alarm_topic_arn))
                for alarm in self.alarms:
                    alarm.add_alarm_action(action)
                    alarm.add_ok_action(action)
