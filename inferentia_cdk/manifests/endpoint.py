"""The Kubernetes side of an API's endpoint: the TargetGroupBinding through which the AWS Load Balancer Controller
registers the API's pods in its target group, and what the pods need to be drained before they leave.

The load balancer, listener rules and target groups are CloudFormation resources of our stacks; the controller only
keeps each target group's members equal to the ready pods behind the API's Service.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

from ..config.models import ApiSpec

READINESS_GATE_LABEL: Final = "elbv2.k8s.aws/pod-readiness-gate-inject"
"""On a namespace, makes the controller add a readiness gate to new pods of a bound Service: a pod counts as ready
(and a rollout moves on) only once the load balancer sees it healthy."""
TARGET_GROUP_BINDING_API_VERSION: Final = "elbv2.k8s.aws/v1beta1"


@dataclass(frozen=True)
class EndpointTarget:
    """Where the API's pods are registered: its target group, and the security group of the load balancer that
    calls them (the controller admits that group on the API port of the nodes' security group)."""

    target_group_arn: str
    load_balancer_security_group_id: str
    target_group_full_name: str | None = None
    """The target group's ARN suffix (``targetgroup/<name>/<id>``), its CloudWatch dimension; needed only to scale on
    ``requests_per_replica``."""
    load_balancer_cidrs: tuple[str, ...] = ()
    """The CIDRs of the subnets the load balancer sits in, where its connections to the pods come from: the API's
    NetworkPolicy admits them. Empty: any source may reach the API port."""


def target_group_binding(spec: ApiSpec, target: EndpointTarget, labels: dict[str, str]) -> dict[str, Any]:
    return {
        "apiVersion": TARGET_GROUP_BINDING_API_VERSION,
        "kind": "TargetGroupBinding",
        "metadata": {"name": spec.name, "namespace": spec.name, "labels": labels},
        "spec": {
            "targetGroupARN": target.target_group_arn,
            "targetType": "ip",
            "serviceRef": {"name": spec.name, "port": spec.port},
            "networking": {
                "ingress": [
                    {
                        "from": [{"securityGroup": {"groupID": target.load_balancer_security_group_id}}],
                        "ports": [{"protocol": "TCP", "port": spec.port}],
                    }
                ]
            },
        },
    }
