"""``ModelAccess``: the IAM identity of one LLM API, which may list and read its model's S3 prefixes and nothing else,
given to the API's ServiceAccount through EKS Pod Identity (Mountpoint mounts with it)."""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_eks_v2 as eks
from aws_cdk import aws_iam as iam
from constructs import Construct

from ..config.models import ApiSpec, split_s3_uri
from ..config.problems import argument_problem, raise_for_errors
from ._pod_identity import pod_identity_role


def s3_read_statements(uris: list[str], partition: str) -> list[iam.PolicyStatement]:
    """Per bucket, ``s3:ListBucket`` conditioned on the prefixes, and ``s3:GetObject`` on the objects under them
    (Mountpoint's read-only permissions, mountpoint-s3 CONFIGURATION.md "IAM permissions")."""
    prefixes: dict[str, list[str]] = {}
    for uri in uris:
        bucket, prefix = split_s3_uri(uri)
        prefixes.setdefault(bucket, []).append(prefix)
    statements = []
    for bucket, under in prefixes.items():
        statements.append(
            iam.PolicyStatement(
                actions=["s3:ListBucket"],
                resources=[f"arn:{partition}:s3:::{bucket}"],
                conditions={"StringLike": {"s3:prefix": [p for prefix in under for p in (prefix, f"{prefix}*")]}},
            )
        )
        statements.append(
            iam.PolicyStatement(
                actions=["s3:GetObject"], resources=[f"arn:{partition}:s3:::{bucket}/{prefix}*" for prefix in under]
            )
        )
    return statements


class ModelAccess(Construct):
    """A role (:attr:`role`) the EKS Pod Identity agent assumes for ServiceAccount ``<name>`` in namespace ``<name>``,
    allowed to read only ``model.uri`` and ``model.compiled_uri``, and the Pod Identity association (child
    ``Association``). :class:`inferentia_cdk.constructs.inferentia_api.InferentiaApi` renders that ServiceAccount and
    the volumes that use it.

    :param cluster: the EKS cluster (``aws_eks_v2.Cluster``).
    :param spec: an API with a ``model``.
    """

    def __init__(self, scope: Construct, construct_id: str, *, cluster: eks.Cluster, spec: ApiSpec) -> None:
        if spec.model is None:
            raise_for_errors(
                [argument_problem(("spec", "model"), None, "a ModelSpec: ModelAccess serves APIs with a model")]
            )
        assert spec.model is not None
        super().__init__(scope, construct_id)
        uris = [uri for uri in (spec.model.uri, spec.model.compiled_uri) if uri is not None]
        self.role = pod_identity_role(
            self,
            "Role",
            cluster=cluster,
            namespace=spec.name,
            service_account=spec.name,
            description=f"API {spec.name}: read its model from S3",
        )
        for statement in s3_read_statements(uris, cdk.Aws.PARTITION):
            self.role.add_to_principal_policy(statement)
        self.association = eks.CfnPodIdentityAssociation(
            self,
            "Association",
            cluster_name=cluster.cluster_name,
            namespace=spec.name,
            service_account=spec.name,
            role_arn=self.role.role_arn,
        )
