"""Check the Inf/Trn vCPU quotas before any Neuron instance launches: at deploy time (a custom resource every Neuron
node group depends on) or at synth time (the caller's credentials), as ``quota_check`` in the config says.

Without it, a short quota (new accounts often have 0 Inf vCPUs) shows up half an hour into a deploy as a node group
stuck in ``AsgInstanceLaunchFailures: VcpuLimitExceeded``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Literal, Protocol

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct, IConstruct

from ..config.models import InferentiaConfig, NodeGroupSpec
from ..config.problems import argument_problem, list_argument_problems, raise_for_errors
from ..planning.capacity import NodeGroupCapacity
from ..quota import service_quotas as quota

# The Lambda bundle is the quota package's two modules, nothing else: the handler imports only service_quotas.py and
# boto3, and a change to either file changes the asset hash and so updates the function.
_BUNDLE_DIR = Path(__file__).resolve().parent.parent / "quota"
HANDLER_BUNDLE_PATTERNS = ["*", "!service_quotas.py", "!handler.py"]
# The newest Python runtime aws-cdk-lib knows; cdk-nag's AwsSolutions-L1 compares with the same list (Runtime.ALL).
HANDLER_RUNTIME = lambda_.Runtime.PYTHON_3_14
# Read-only Service Quotas actions; neither supports resource-level permissions, so the Resource is "*".
READ_QUOTA_ACTIONS = ["servicequotas:GetAWSDefaultServiceQuota", "servicequotas:GetServiceQuota"]
WRITE_LOG_ACTIONS = ["logs:CreateLogStream", "logs:PutLogEvents"]

UNCHECKED_WARNING_ID = "inferentia-cdk:quotaUnchecked"
SHORT_WARNING_ID = "inferentia-cdk:quotaShort"
SERVICE_TIMEOUT = cdk.Duration.minutes(5)

Shortfall = Literal["fail", "warn"]
QuotaChecker = Callable[[Sequence[quota.QuotaNeed], str], list[quota.QuotaStatus]]


class NeuronNodegroupLike(Protocol):
    """What the quota check needs of a Neuron node group construct: its CDK node group and its config spec."""

    @property
    def nodegroup(self) -> IConstruct: ...

    @property
    def spec(self) -> NodeGroupSpec: ...


def quota_needs(specs: Sequence[NodeGroupSpec]) -> list[quota.QuotaNeed]:
    return quota.needs_of(NodeGroupCapacity.of(spec) for spec in specs)


class NeuronQuotaCheck(Construct):
    """A Lambda-backed custom resource that fails the deployment when an EC2 vCPU quota cannot cover its node groups.

    Its properties carry the vCPUs each quota must cover, so any capacity change (max_size, instance types, capacity
    type) updates the resource and the check runs again before the node groups change. With ``shortfall="warn"`` a
    short quota is only reported (in the ``QuotaCheckReport`` output and the function's log).
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        needs: Sequence[quota.QuotaNeed],
        shortfall: Shortfall = "fail",
        log_encryption_key: kms.IKey | None = None,
    ) -> None:
        problems = list_argument_problems(
            "needs", needs, quota.QuotaNeed, "a list of QuotaNeed (quota_needs builds it)", "a QuotaNeed"
        )
        if shortfall not in ("fail", "warn"):
            problems.append(argument_problem("shortfall", shortfall, "'fail' or 'warn'"))
        raise_for_errors(problems)
        super().__init__(scope, construct_id)
        self.needs = tuple(needs)
        self.log_group = logs.LogGroup(
            self,
            "LogGroup",
            retention=logs.RetentionDays.ONE_YEAR,
            encryption_key=log_encryption_key,
            removal_policy=cdk.RemovalPolicy.DESTROY,
        )
        # Our own role with an inline policy instead of AWSLambdaBasicExecutionRole: logs only to its own group.
        self.role = iam.Role(
            self,
            "Role",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description="Reads the EC2 vCPU quotas of Neuron node groups before they launch (inferentia-cdk)",
            inline_policies={
                "ReadEc2Quotas": iam.PolicyDocument(
                    statements=[
                        iam.PolicyStatement(actions=READ_QUOTA_ACTIONS, resources=["*"]),
                        iam.PolicyStatement(actions=WRITE_LOG_ACTIONS, resources=[self.log_group.log_group_arn]),
                    ]
                )
            },
        )
        self.function = lambda_.Function(
            self,
            "Function",
            description="inferentia-cdk: fails the deployment when an Inf/Trn vCPU quota is short",
            runtime=HANDLER_RUNTIME,
            architecture=lambda_.Architecture.ARM_64,
            handler="handler.handler",
            code=lambda_.Code.from_asset(
                str(_BUNDLE_DIR), exclude=HANDLER_BUNDLE_PATTERNS, ignore_mode=cdk.IgnoreMode.GIT
            ),
            role=self.role,
            log_group=self.log_group,
            memory_size=256,
            # Worst case: each quota read retried 5 times with 20 s timeouts; CloudFormation waits SERVICE_TIMEOUT.
            timeout=cdk.Duration.minutes(3),
        )
        self.resource = cdk.CustomResource(
            self,
            "Resource",
            service_token=self.function.function_arn,
            resource_type="Custom::NeuronQuotaCheck",
            properties={"Needs": [need.to_properties() for need in self.needs], "Shortfall": shortfall},
            service_timeout=SERVICE_TIMEOUT,
        )
        self.report = cdk.CfnOutput(
            self,
            "QuotaCheckReport",
            value=self.resource.get_att_string("Summary"),
            description="EC2 vCPU quotas of the Neuron node groups at the last deploy that changed their capacity",
        )


def check_quotas_at_synth(
    scope: Construct,
    node_groups: Mapping[str, NeuronNodegroupLike],
    *,
    region: str | None,
    shortfall: Shortfall = "fail",
    checker: QuotaChecker = quota.check_quotas,
) -> list[quota.QuotaStatus] | None:
    """The same check with the caller's credentials, as annotations: a short quota is an error on each node group
    that needs it (``cdk deploy`` refuses to start), or a warning with ``shortfall="warn"``; a check that could not
    run is a warning on ``scope`` that says what was not checked (acknowledge it with id ``quotaUnchecked``).

    ``region`` is the stack's; None or a token (an environment-agnostic stack) means the caller's default region.
    Returns the statuses, or None when the check could not run.
    """
    groups = list(node_groups.values())
    needs = quota_needs([group.spec for group in groups])
    if not needs:
        return None
    resolved = quota.resolve_region(None if region is None or cdk.Token.is_unresolved(region) else region)
    try:
        if resolved is None:
            from botocore.exceptions import NoRegionError

            raise quota.explain_failure(NoRegionError(), needs, None)
        statuses = checker(needs, resolved)
    except quota.QuotaCheckError as error:
        cdk.Annotations.of(scope).add_warning_v2(
            UNCHECKED_WARNING_ID, f"{error.message}. Run `inferentia-cdk quota CONFIG` once this is fixed."
        )
        return None
    by_name = {group.spec.name: group for group in groups}
    for status in quota.shortfalls(statuses):
        for name in status.need.node_groups:
            annotations = cdk.Annotations.of(by_name[name].nodegroup)
            if shortfall == "fail":
                annotations.add_error(status.message())
            else:
                annotations.add_warning_v2(SHORT_WARNING_ID, status.message())
    return statuses


def add_quota_check(
    scope: Construct,
    neuron_nodegroups: Mapping[str, NeuronNodegroupLike],
    config: InferentiaConfig,
    *,
    log_encryption_key: kms.IKey | None = None,
) -> NeuronQuotaCheck | None:
    """Wire the check ``config.quota_check`` asks for under ``scope``; with ``deploy``, every Neuron node group
    depends on it."""
    if config.quota_check == "off" or not neuron_nodegroups:
        return None
    if config.quota_check == "synth":
        region = cdk.Stack.of(scope).region
        check_quotas_at_synth(scope, neuron_nodegroups, region=region, shortfall=config.quota_shortfall)
        return None
    check = NeuronQuotaCheck(
        scope,
        "NeuronQuotaCheck",
        needs=quota_needs([group.spec for group in neuron_nodegroups.values()]),
        shortfall=config.quota_shortfall,
        log_encryption_key=log_encryption_key,
    )
    for group in neuron_nodegroups.values():
        group.nodegroup.node.add_dependency(check)
    return check
