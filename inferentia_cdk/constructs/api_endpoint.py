"""``ApiEndpoint``: one API's place on the shared load balancer, a target group and a listener rule routing
``/<api-name>/...`` to it with the prefix removed."""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_elasticloadbalancingv2 as elbv2
from constructs import Construct

from ..config.problems import Problem, argument_problem, raise_for_errors
from ..planning.endpoints import DEREGISTRATION_DELAY_SECONDS, ExposedApi, exposed_api_problems

HEALTH_CHECK_INTERVAL = cdk.Duration.seconds(10)
HEALTH_CHECK_TIMEOUT = cdk.Duration.seconds(5)


def prefix_rewrite(api: ExposedApi) -> elbv2.CfnListenerRule.TransformProperty:
    """The listener rule transform that strips ``/<name>``: ``/bert/predict`` reaches the pod as ``/predict`` and
    ``/bert`` as ``/``, so a model server needs no knowledge of where it is mounted."""
    return elbv2.CfnListenerRule.TransformProperty(
        type="url-rewrite",
        url_rewrite_config=elbv2.CfnListenerRule.RewriteConfigObjectProperty(
            rewrites=[elbv2.CfnListenerRule.RewriteConfigProperty(regex=f"^{api.path_prefix}/?(.*)$", replace="/$1")]
        ),
    )


class ApiEndpoint(Construct):
    """A target group (child id ``TargetGroup``: IP targets, health checked on the API's ``health_path`` and port)
    and a listener rule (``Rule``) on ``listener`` that forwards ``/<name>`` and ``/<name>/*`` to it.

    The AWS Load Balancer Controller fills the target group with the API's ready pods (its ``TargetGroupBinding``
    is rendered with the API's other objects). ``DEREGISTRATION_DELAY_SECONDS`` is how long a leaving pod is given
    to finish; the pods' pre-stop pause is longer (``planning.endpoints``).

    :param api: the exposed API's plan: name, port, health path and listener rule priority.
    :param listener: the shared load balancer's listener (:class:`ApiLoadBalancer`).
    :param vpc: the cluster's VPC.

    Every argument is checked before anything is created (``api`` under the config path's rules for an API's name,
    port and health path); a wrong one raises ``ConfigError``.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        api: ExposedApi,
        listener: elbv2.IApplicationListener,
        vpc: ec2.IVpc,
    ) -> None:
        problems: list[Problem] = exposed_api_problems(api)
        if not isinstance(listener, elbv2.ApplicationListener) and not (
            isinstance(listener, Construct) and hasattr(listener, "listener_arn") and hasattr(listener, "add_action")
        ):
            problems.append(argument_problem("listener", listener, "an Application Load Balancer listener"))
        # An imported or looked-up VPC is a jsii proxy of IVpc, no Construct.
        if not (hasattr(vpc, "vpc_id") and hasattr(vpc, "select_subnets")):
            problems.append(argument_problem("vpc", vpc, "an aws_ec2.IVpc (the cluster's VPC)"))
        raise_for_errors(problems)
        super().__init__(scope, construct_id)
        self.api = api
        self.target_group = elbv2.ApplicationTargetGroup(
            self,
            "TargetGroup",
            vpc=vpc,
            target_type=elbv2.TargetType.IP,
            protocol=elbv2.ApplicationProtocol.HTTP,
            port=api.port,
            deregistration_delay=cdk.Duration.seconds(DEREGISTRATION_DELAY_SECONDS),
            health_check=elbv2.HealthCheck(
                path=api.health_path,
                port="traffic-port",
                healthy_http_codes="200-399",
                interval=HEALTH_CHECK_INTERVAL,
                timeout=HEALTH_CHECK_TIMEOUT,
                healthy_threshold_count=2,
                unhealthy_threshold_count=3,
            ),
        )
        self.rule = elbv2.ApplicationListenerRule(
            self,
            "Rule",
            listener=listener,
            priority=api.priority,
            conditions=[elbv2.ListenerCondition.path_patterns([api.path_prefix, f"{api.path_prefix}/*"])],
            action=elbv2.ListenerAction.forward([self.target_group]),
        )
        # L1 escape hatch: the L2 listener rule of aws-cdk-lib 2.275 has no transforms (URL rewrite) property.
        resource = self.rule.node.default_child
        assert isinstance(resource, elbv2.CfnListenerRule)
        resource.transforms = [prefix_rewrite(api)]
