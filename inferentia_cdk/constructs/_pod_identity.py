"""An IAM role for an EKS Pod Identity association with a ServiceAccount that another installer (a Helm chart, an EKS
add-on) creates, so ``aws_eks_v2.ServiceAccount`` (which would create the ServiceAccount itself) does not fit."""

from __future__ import annotations

from aws_cdk import aws_eks_v2 as eks
from aws_cdk import aws_iam as iam
from constructs import Construct


def pod_identity_role(scope: Construct, construct_id: str, *, cluster: eks.Cluster, description: str) -> iam.Role:
    """A role the EKS Pod Identity agent may assume (and tag the session of, as Pod Identity does) for pods of
    ``cluster``; creating it also installs the ``eks-pod-identity-agent`` add-on on the cluster, once."""
    role = iam.Role(
        scope,
        construct_id,
        assumed_by=iam.SessionTagsPrincipal(iam.ServicePrincipal("pods.eks.amazonaws.com")),
        description=description,
    )
    agent = cluster.eks_pod_identity_agent
    if agent is not None:
        role.node.add_dependency(agent)
    return role
