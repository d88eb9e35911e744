"""EC2 vCPU quotas for Neuron node groups: what the groups need, what Service Quotas grants, and one message for both.

Pure core shared by the ``quota`` CLI, the synth-time check and the deploy-time Lambda. It imports nothing from the
rest of the package at run time (only the standard library, boto3 and botocore), because the Lambda bundle ships this
file alone next to ``handler.py``.

Facts (shared/reference/neuron-facts.md, "Service Quotas"): quota values are vCPUs; ``get_service_quota`` raises
``NoSuchResourceException`` when the account has no applied value, in which case the AWS default applies; current
usage is CloudWatch ``AWS/Usage`` ``ResourceCount`` with ``Service=EC2, Type=Resource, Resource=vCPU, Class=...``.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from botocore.config import Config

    from ..planning.capacity import NodeGroupCapacity

# botocore is imported inside the functions that talk to AWS: with urllib3 it costs a tenth of a second, which every
# synth and every ``validate`` would pay although only the quota check itself needs it.

SERVICE_CODE = "ec2"
PENDING_REQUEST_STATUSES = frozenset({"PENDING", "CASE_OPENED"})
MAX_ATTEMPTS = 5
# Standard mode retries throttling (TooManyRequestsException) and transient errors with exponential backoff; the
# timeouts keep the worst case of one call (5 attempts) well inside the deploy-time Lambda's timeout.
CONNECT_TIMEOUT_SECONDS = 5
READ_TIMEOUT_SECONDS = 15


def boto_config() -> Config:
    """The client configuration of every call: standard retry mode, ``MAX_ATTEMPTS`` attempts, short timeouts."""
    from botocore.config import Config

    return Config(
        retries={"mode": "standard", "total_max_attempts": MAX_ATTEMPTS},
        connect_timeout=CONNECT_TIMEOUT_SECONDS,
        read_timeout=READ_TIMEOUT_SECONDS,
    )


# The IAM action behind each API operation we call, so that AccessDenied can name the missing permission.
PERMISSION_OF_OPERATION: Mapping[str, str] = {
    "GetServiceQuota": "servicequotas:GetServiceQuota",
    "GetAWSDefaultServiceQuota": "servicequotas:GetAWSDefaultServiceQuota",
    "ListRequestedServiceQuotaChangeHistoryByQuota": "servicequotas:ListRequestedServiceQuotaChangeHistoryByQuota",
    "RequestServiceQuotaIncrease": "servicequotas:RequestServiceQuotaIncrease",
    "GetMetricData": "cloudwatch:GetMetricData",
}
_ACCESS_DENIED_CODES = frozenset({"AccessDeniedException", "AccessDenied", "UnauthorizedOperation"})
_THROTTLING_CODES = frozenset({"TooManyRequestsException", "ThrottlingException", "Throttling"})

Verdict = Literal["covered", "short"]
FailureKind = Literal["no_credentials", "no_region", "access_denied", "no_endpoint", "throttled", "api_error"]


@dataclass(frozen=True)
class QuotaNeed:
    """The vCPUs one EC2 quota must cover: every node group that draws on it, each at ``max_size``."""

    code: str
    name: str
    usage_class: str
    required_vcpus: int
    node_groups: tuple[str, ...]

    def to_properties(self) -> dict[str, Any]:
        """JSON-safe form for custom-resource properties (CloudFormation passes every scalar back as a string)."""
        return {
            "QuotaCode": self.code,
            "QuotaName": self.name,
            "UsageClass": self.usage_class,
            "RequiredVcpus": self.required_vcpus,
            "NodeGroups": list(self.node_groups),
        }

    @classmethod
    def from_properties(cls, properties: Mapping[str, Any]) -> QuotaNeed:
        return cls(
            code=str(properties["QuotaCode"]),
            name=str(properties["QuotaName"]),
            usage_class=str(properties["UsageClass"]),
            required_vcpus=int(str(properties["RequiredVcpus"])),
            node_groups=tuple(str(g) for g in properties["NodeGroups"]),
        )


def needs_of(capacities: Iterable[NodeGroupCapacity]) -> list[QuotaNeed]:
    """Sum each quota's vCPUs over the node groups that use it, at each group's max_size and largest instance type.

    Node groups of one family and capacity type share a quota (inf1 and inf2 share the Inf quotas), so their maxima
    add up: Cluster Autoscaler may scale all of them out at once.
    """
    required: dict[str, int] = {}
    groups: dict[str, list[str]] = {}
    quotas: dict[str, tuple[str, str]] = {}
    for capacity in capacities:
        quota = capacity.quota
        required[quota.code] = required.get(quota.code, 0) + capacity.max_vcpus
        groups.setdefault(quota.code, []).append(capacity.name)
        quotas[quota.code] = (quota.name, quota.usage_class)
    return [
        QuotaNeed(code, quotas[code][0], quotas[code][1], required[code], tuple(groups[code]))
        for code in sorted(required)
    ]


def console_url(region: str, quota_code: str) -> str:
    return f"https://{region}.console.aws.amazon.com/servicequotas/home/services/{SERVICE_CODE}/quotas/{quota_code}"


def request_command(region: str, quota_code: str, desired_value: int) -> str:
    return (
        f"aws service-quotas request-service-quota-increase --service-code {SERVICE_CODE} "
        f"--quota-code {quota_code} --desired-value {desired_value} --region {region}"
    )


def _vcpus(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


@dataclass(frozen=True)
class QuotaStatus:
    """One quota compared with the node groups' need, in one region."""

    need: QuotaNeed
    region: str
    applied_vcpus: float
    is_default: bool
    """True when the account has no applied value and the AWS default was read instead."""
    adjustable: bool
    in_use_vcpus: float | None
    """vCPUs already running in the account under this quota; None when usage was not counted."""

    @property
    def available_vcpus(self) -> float:
        return self.applied_vcpus - (self.in_use_vcpus or 0)

    @property
    def headroom_vcpus(self) -> float:
        """vCPUs left once every node group is at max_size; negative means short."""
        return self.available_vcpus - self.need.required_vcpus

    @property
    def verdict(self) -> Verdict:
        return "covered" if self.headroom_vcpus >= 0 else "short"

    @property
    def value_to_request(self) -> int:
        """The quota value that covers the need on top of what already runs (quotas are whole vCPUs)."""
        return math.ceil(self.need.required_vcpus + (self.in_use_vcpus or 0))

    def message(self) -> str:
        """The one message the CLI, the synth-time check and the deploy-time check all print."""
        need = self.need
        groups = ", ".join(need.node_groups)
        noun = "node group" if len(need.node_groups) == 1 else "node groups"
        verb = "needs" if len(need.node_groups) == 1 else "need"
        source = "AWS default" if self.is_default else "applied quota"
        in_use = "" if self.in_use_vcpus is None else f", {_vcpus(self.in_use_vcpus)} in use"
        head = (
            f'EC2 quota {need.code} "{need.name}" in {self.region}: {noun} {groups} {verb} {need.required_vcpus} vCPUs '
            f"at max_size, {_vcpus(self.available_vcpus)} available ({source} {_vcpus(self.applied_vcpus)}{in_use})"
        )
        if self.verdict == "covered":
            return f"{head}: covered."
        desired = self.value_to_request
        if not self.adjustable:
            return (
                f"{head}: short by {_vcpus(-self.headroom_vcpus)} vCPUs. This quota is not adjustable through "
                f"Service Quotas; ask AWS Support for {desired} vCPUs, or lower max_size. "
                f"Console: {console_url(self.region, need.code)}"
            )
        return (
            f"{head}: short by {_vcpus(-self.headroom_vcpus)} vCPUs. Request {desired} vCPUs in the console: "
            f"{console_url(self.region, need.code)} or run: {request_command(self.region, need.code, desired)}"
        )


class QuotaCheckError(Exception):
    """The quotas could not be read; ``kind`` says why, the message says what was not checked and what to do."""

    def __init__(self, kind: FailureKind, message: str) -> None:
        super().__init__(message)
        self.kind: FailureKind = kind
        self.message = message


def _describe_needs(needs: Sequence[QuotaNeed]) -> str:
    return ", ".join(f'{n.code} "{n.name}" ({n.required_vcpus} vCPUs)' for n in needs)


def explain_failure(error: Exception, needs: Sequence[QuotaNeed], region: str | None) -> QuotaCheckError:
    """Turn a boto3/botocore failure into a :class:`QuotaCheckError` with its own clear outcome per cause."""
    from botocore.exceptions import (
        ClientError,
        ConnectionClosedError,
        EndpointConnectionError,
        NoCredentialsError,
        NoRegionError,
        PartialCredentialsError,
        ReadTimeoutError,
        UnknownEndpointError,
    )

    where = f" in {region}" if region else ""
    prefix = f"could not check EC2 quota {_describe_needs(needs)}{where}: "
    if isinstance(error, NoCredentialsError | PartialCredentialsError):
        return QuotaCheckError(
            "no_credentials",
            prefix + "no AWS credentials were found (set AWS_PROFILE or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, "
            "or run `aws configure`)",
        )
    if isinstance(error, NoRegionError):
        return QuotaCheckError(
            "no_region", prefix + "no AWS region is known (pass --region, set AWS_REGION, or set cluster.region)"
        )
    if isinstance(error, EndpointConnectionError | UnknownEndpointError | ConnectionClosedError | ReadTimeoutError):
        return QuotaCheckError(
            "no_endpoint",
            prefix + f"the Service Quotas endpoint could not be reached ({error}); the region may not offer the "
            "Service Quotas API, or the network blocks it",
        )
    if isinstance(error, ClientError):
        code = str(error.response.get("Error", {}).get("Code", "Unknown"))
        detail = str(error.response.get("Error", {}).get("Message", "")).strip()
        operation = error.operation_name
        if code in _ACCESS_DENIED_CODES:
            permission = PERMISSION_OF_OPERATION.get(operation, operation)
            return QuotaCheckError(
                "access_denied",
                prefix + f"access denied: the caller needs permission {permission} ({code}: {detail})",
            )
        if code in _THROTTLING_CODES:
            return QuotaCheckError(
                "throttled",
                prefix + f"{operation} was still throttled after {MAX_ATTEMPTS} attempts ({code}); try again later",
            )
        return QuotaCheckError("api_error", prefix + f"{operation} failed with {code}: {detail}")
    return QuotaCheckError("api_error", prefix + f"{type(error).__name__}: {error}")


def resolve_region(region: str | None) -> str | None:
    """The region to check: the one given, else AWS_REGION, else boto3's default (AWS_DEFAULT_REGION, the profile).

    boto3 itself reads only AWS_DEFAULT_REGION; AWS_REGION is what the AWS CLI v2, the other SDKs and Lambda set.
    """
    if region:
        return region
    import boto3  # here, not at module level: it costs a quarter second that synth without quota checks never needs

    default = os.environ.get("AWS_REGION") or boto3.session.Session().region_name
    return str(default) if default else None


def service_quotas_client(region: str) -> Any:
    """A Service Quotas client; boto3 honours AWS_ENDPOINT_URL_SERVICE_QUOTAS, which tests point at a local server.

    A new session each time: boto3's default session caches the credentials it found first, so a process that
    checks twice (a test run, a long synth) would not see credentials appear or go away.
    """
    import boto3

    return boto3.session.Session().client("service-quotas", region_name=region, config=boto_config())


def cloudwatch_client(region: str) -> Any:
    import boto3

    return boto3.session.Session().client("cloudwatch", region_name=region, config=boto_config())


def read_quota(client: Any, quota_code: str) -> tuple[float, bool, bool]:
    """(value, is_default, adjustable) of one EC2 quota: the applied value, or the AWS default when none is applied."""
    from botocore.exceptions import ClientError

    try:
        quota = client.get_service_quota(ServiceCode=SERVICE_CODE, QuotaCode=quota_code)["Quota"]
        is_default = False
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") != "NoSuchResourceException":
            raise
        quota = client.get_aws_default_service_quota(ServiceCode=SERVICE_CODE, QuotaCode=quota_code)["Quota"]
        is_default = True
    return float(quota.get("Value", 0.0)), is_default, bool(quota.get("Adjustable", False))


def read_usage(cloudwatch: Any, usage_class: str, now: datetime | None = None) -> float:
    """vCPUs running under one quota: the latest AWS/Usage ResourceCount of the last hour.

    No data points means nothing of the class ran in that hour (EC2 publishes no zero values), so it counts as 0.
    """
    end = now or datetime.now(UTC)
    response = cloudwatch.get_metric_data(
        MetricDataQueries=[
            {
                "Id": "vcpus",
                "MetricStat": {
                    "Metric": {
                        "Namespace": "AWS/Usage",
                        "MetricName": "ResourceCount",
                        "Dimensions": [
                            {"Name": "Service", "Value": "EC2"},
                            {"Name": "Type", "Value": "Resource"},
                            {"Name": "Resource", "Value": "vCPU"},
                            {"Name": "Class", "Value": usage_class},
                        ],
                    },
                    "Period": 300,
                    "Stat": "Maximum",
                },
            }
        ],
        StartTime=end - timedelta(hours=1),
        EndTime=end,
        ScanBy="TimestampDescending",
    )
    for result in response.get("MetricDataResults", []):
        values = result.get("Values", [])
        if values:
            return float(values[0])
    return 0.0


def check_quotas(
    needs: Sequence[QuotaNeed],
    region: str,
    *,
    service_quotas: Any | None = None,
    cloudwatch: Any | None = None,
    count_usage: bool = False,
) -> list[QuotaStatus]:
    """Compare each need with its quota in ``region``; raises :class:`QuotaCheckError` when a quota cannot be read.

    ``count_usage`` also subtracts what already runs in the account. It is off by default because a cluster's own
    running nodes would be counted twice (once in use, once in its node groups' max_size) on every later check.
    """
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        client = service_quotas or service_quotas_client(region)
        metrics = (cloudwatch or cloudwatch_client(region)) if count_usage else None
        statuses = []
        for need in needs:
            value, is_default, adjustable = read_quota(client, need.code)
            in_use = read_usage(metrics, need.usage_class) if metrics is not None else None
            statuses.append(QuotaStatus(need, region, value, is_default, adjustable, in_use))
        return statuses
    except (BotoCoreError, ClientError) as error:
        raise explain_failure(error, needs, region) from error


def shortfalls(statuses: Iterable[QuotaStatus]) -> list[QuotaStatus]:
    return [s for s in statuses if s.verdict == "short"]


@dataclass(frozen=True)
class IncreaseOutcome:
    """What ``--request-increase`` did for one short quota."""

    status: QuotaStatus
    action: Literal["requested", "already_pending", "not_adjustable"]
    request_id: str | None = None
    requested_value: float | None = None

    def message(self) -> str:
        code = self.status.need.code
        if self.action == "requested":
            return f"{code}: requested {_vcpus(self.requested_value or 0)} vCPUs, request id {self.request_id}"
        if self.action == "already_pending":
            return (
                f"{code}: not requested, request {self.request_id} for {_vcpus(self.requested_value or 0)} vCPUs "
                "is already pending"
            )
        return f"{code}: not requested, the quota is not adjustable through Service Quotas (ask AWS Support)"


def pending_request(client: Any, quota_code: str) -> Mapping[str, Any] | None:
    """The first open (PENDING or CASE_OPENED) increase request for an EC2 quota, if any."""
    arguments: dict[str, Any] = {"ServiceCode": SERVICE_CODE, "QuotaCode": quota_code}
    while True:
        page = client.list_requested_service_quota_change_history_by_quota(**arguments)
        for request in page.get("RequestedQuotas", []):
            if request.get("Status") in PENDING_REQUEST_STATUSES:
                found: Mapping[str, Any] = request
                return found
        token = page.get("NextToken")
        if not token:
            return None
        arguments["NextToken"] = token


def request_increases(statuses: Sequence[QuotaStatus], client: Any) -> list[IncreaseOutcome]:
    """File an increase for each short, adjustable quota that has no open request; raises QuotaCheckError."""
    from botocore.exceptions import BotoCoreError, ClientError

    short = shortfalls(statuses)
    try:
        outcomes = []
        for status in short:
            if not status.adjustable:
                outcomes.append(IncreaseOutcome(status, "not_adjustable"))
                continue
            pending = pending_request(client, status.need.code)
            if pending is not None:
                outcomes.append(
                    IncreaseOutcome(
                        status, "already_pending", str(pending.get("Id")), float(pending.get("DesiredValue", 0))
                    )
                )
                continue
            response = client.request_service_quota_increase(
                ServiceCode=SERVICE_CODE, QuotaCode=status.need.code, DesiredValue=float(status.value_to_request)
            )
            change = response["RequestedQuota"]
            outcomes.append(
                IncreaseOutcome(status, "requested", str(change["Id"]), float(change.get("DesiredValue", 0)))
            )
        return outcomes
    except (BotoCoreError, ClientError) as error:
        region = short[0].region if short else None
        raise explain_failure(error, [s.need for s in short], region) from error
