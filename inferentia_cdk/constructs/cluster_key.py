"""The cluster's KMS key: envelope encryption of Kubernetes Secrets and of every log group of the cluster stack."""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from constructs import Construct

# What CloudWatch Logs needs of a customer managed key to encrypt a log group with it, and the encryption context it
# sends with every request: the log group's ARN (CloudWatch Logs user guide, "Encrypt log data in CloudWatch Logs
# using AWS KMS", checked 2026-12-04).
LOGS_KEY_ACTIONS = ("kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*")
LOGS_ENCRYPTION_CONTEXT = "kms:EncryptionContext:aws:logs:arn"


def cluster_key(scope: Construct, construct_id: str, *, cluster_name: str) -> kms.Key:
    """A rotating key that the logs service of the stack's region may use only for log groups of the stack's own
    account and region (the ``aws:logs:arn`` encryption context), never for another account's log group."""
    stack = cdk.Stack.of(scope)
    key = kms.Key(
        scope,
        construct_id,
        description=f"Envelope encryption of Kubernetes secrets and logs of EKS cluster {cluster_name}",
        enable_key_rotation=True,
    )
    key.add_to_resource_policy(
        iam.PolicyStatement(
            sid="LogGroupsOfThisAccount",
            principals=[iam.ServicePrincipal(f"logs.{stack.region}.amazonaws.com")],
            actions=list(LOGS_KEY_ACTIONS),
            resources=["*"],
            conditions={
                "ArnLike": {
                    LOGS_ENCRYPTION_CONTEXT: stack.format_arn(
                        service="logs",
                        resource="log-group",
                        resource_name="*",
                        arn_format=cdk.ArnFormat.COLON_RESOURCE_NAME,
                    )
                }
            },
        )
    )
    return key
