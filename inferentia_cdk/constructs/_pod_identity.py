"""An IAM role for an EKS Pod Identity association with a ServiceAccount that another installer (a Helm chart, an EKS
add-on) creates, so ``aws_eks_v2.ServiceAccount`` (which would create the ServiceAccount itself) does not fit."""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_eks_v2 as eks
from aws_cdk import aws_iam as iam
from constructs import Construct

from ..config.models import CLUSTER_NAME, cluster_name_error
from ..config.problems import Problem, argument_problem

# The session tags EKS Pod Identity adds to its AssumeRole request (EKS user guide, "List of session tags added by
# EKS Pod Identity", pod-id-abac.html, checked 2026-12-04): the role's trust matches them as aws:RequestTag/<key>.
CLUSTER_ARN_TAG = "eks-cluster-arn"
NAMESPACE_TAG = "kubernetes-namespace"
SERVICE_ACCOUNT_TAG = "kubernetes-service-account"


POD_IDENTITY_SERVICE = "pods.eks.amazonaws.com"
POD_IDENTITY_ACTIONS = ("sts:AssumeRole", "sts:TagSession")


def _trust_conditions(cluster: eks.ICluster, namespace: str, service_account: str) -> dict[str, dict[str, str]]:
    return {
        "StringEquals": {
            f"aws:RequestTag/{CLUSTER_ARN_TAG}": cluster.cluster_arn,
            f"aws:RequestTag/{NAMESPACE_TAG}": namespace,
            f"aws:RequestTag/{SERVICE_ACCOUNT_TAG}": service_account,
        }
    }


def pod_identity_trust(cluster: eks.ICluster, namespace: str, service_account: str) -> iam.IPrincipal:
    """``pods.eks.amazonaws.com``, allowed to assume (and tag the session of) the role only for pods of ``cluster``
    running as ``namespace``/``service_account``: another association to the same role (in any cluster of any account
    that can name it) gets no credentials."""
    return iam.SessionTagsPrincipal(iam.ServicePrincipal(POD_IDENTITY_SERVICE)).with_conditions(
        _trust_conditions(cluster, namespace, service_account)
    )


def restrict_service_account_trust(
    service_account: eks.ServiceAccount, cluster: eks.ICluster, namespace: str, name: str
) -> None:
    """The same trust as :func:`pod_identity_trust` for the role that ``aws_eks_v2.ServiceAccount`` creates for
    Pod Identity, whose trust policy (the service principal, no conditions) it offers no way to narrow."""
    resource = service_account.role.node.default_child
    assert isinstance(resource, iam.CfnRole)
    resource.add_property_override(
        "AssumeRolePolicyDocument",
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"Service": POD_IDENTITY_SERVICE},
                    "Action": list(POD_IDENTITY_ACTIONS),
                    "Condition": _trust_conditions(cluster, namespace, name),
                }
            ],
        },
    )


def pod_identity_role(
    scope: Construct,
    construct_id: str,
    *,
    cluster: eks.Cluster,
    namespace: str,
    service_account: str,
    description: str,
) -> iam.Role:
    """A role the EKS Pod Identity agent may assume for the pods of ``cluster`` that run as ``namespace``/
    ``service_account`` (see :func:`pod_identity_trust`); creating it also installs the ``eks-pod-identity-agent``
    add-on on the cluster, once."""
    role = iam.Role(
        scope,
        construct_id,
        assumed_by=pod_identity_trust(cluster, namespace, service_account),
        description=description,
    )
    agent = cluster.eks_pod_identity_agent
    if agent is not None:
        role.node.add_dependency(agent)
    return role


def cluster_argument_problems(cluster: object) -> list[Problem]:
    """Why ``cluster`` (a construct's keyword argument) cannot carry a Pod Identity role: not an ``aws_eks_v2.Cluster``
    (the Pod Identity agent add-on is installed through it), or a literal name that EKS, and so the ``ClusterName``
    dimension of the metrics that KEDA and Container Insights use, would not take."""
    if not isinstance(cluster, eks.Cluster):
        return [argument_problem("cluster", cluster, "an aws_eks_v2.Cluster")]
    resource = cluster.node.default_child
    name = resource.name if isinstance(resource, eks.CfnCluster) else None
    error = None if name is None or cdk.Token.is_unresolved(name) else cluster_name_error(name)
    return [CLUSTER_NAME.problem(("cluster",), error)] if error else []
