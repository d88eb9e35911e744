"""The pure quota core with botocore's Stubber: needs, verdicts, fallbacks, increase requests and failure outcomes."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import EndpointConnectionError, NoCredentialsError, NoRegionError
from botocore.stub import ANY, Stubber

from inferentia_cdk.config.models import NodeGroupSpec
from inferentia_cdk.planning.capacity import NodeGroupCapacity
from inferentia_cdk.quota import service_quotas as quota

REGION = "us-east-1"
INF_ON_DEMAND = quota.QuotaNeed("L-1945791B", "Running On-Demand Inf instances", "Inf/OnDemand", 16, ("inf1",))
INF_SPOT = quota.QuotaNeed("L-B5D1601B", "All Inf Spot Instance Requests", "Inf/Spot", 64, ("batch",))


def _quota(code: str, value: float, *, adjustable: bool = True) -> dict[str, Any]:
    return {
        "Quota": {"ServiceCode": "ec2", "QuotaCode": code, "QuotaName": "n", "Value": value, "Adjustable": adjustable}
    }


@pytest.fixture
def client() -> Iterator[tuple[Any, Stubber]]:
    sq = boto3.client(
        "service-quotas", region_name=REGION, aws_access_key_id="testing", aws_secret_access_key="testing"
    )
    with Stubber(sq) as stubber:
        yield sq, stubber
        stubber.assert_no_pending_responses()


def _get(stubber: Stubber, code: str, value: float, *, adjustable: bool = True) -> None:
    stubber.add_response(
        "get_service_quota", _quota(code, value, adjustable=adjustable), {"ServiceCode": "ec2", "QuotaCode": code}
    )


def _spec(name: str, types: list[str], max_size: int, capacity_type: str = "on_demand") -> NodeGroupSpec:
    return NodeGroupSpec(name=name, instance_types=types, max_size=max_size, capacity_type=capacity_type)


# --- what the node groups need ---------------------------------------------------------------------------------------


def test_needs_add_up_per_quota_at_max_size_with_the_largest_type() -> None:
    needs = quota.needs_of(
        NodeGroupCapacity.of(spec)
        for spec in [
            _spec("small", ["inf1.xlarge", "inf1.2xlarge"], 3),  # 3 x 8 (the larger type)
            _spec("big", ["inf2.8xlarge"], 2),  # 2 x 32, same Inf on-demand quota as inf1
            _spec("spot", ["inf2.xlarge"], 5, "spot"),  # 5 x 4 on the Inf spot quota
            _spec("train", ["trn1.2xlarge"], 1),  # 8 on the Trn on-demand quota
        ]
    )
    assert [(n.code, n.required_vcpus, n.node_groups) for n in needs] == [
        ("L-1945791B", 24 + 64, ("small", "big")),
        ("L-2C3B7624", 8, ("train",)),
        ("L-B5D1601B", 20, ("spot",)),
    ]


def test_need_survives_custom_resource_properties_where_numbers_become_strings() -> None:
    properties = INF_ON_DEMAND.to_properties()
    as_cloudformation_sends_it = {**properties, "RequiredVcpus": str(properties["RequiredVcpus"])}
    assert quota.QuotaNeed.from_properties(as_cloudformation_sends_it) == INF_ON_DEMAND


# --- verdicts --------------------------------------------------------------------------------------------------------


def test_enough_quota_is_covered(client: tuple[Any, Stubber]) -> None:
    sq, stubber = client
    _get(stubber, "L-1945791B", 32)
    (status,) = quota.check_quotas([INF_ON_DEMAND], REGION, service_quotas=sq)
    assert (status.verdict, status.applied_vcpus, status.headroom_vcpus, status.in_use_vcpus) == (
        "covered",
        32,
        16,
        None,
    )
    assert status.message().endswith(": covered.")


def test_exactly_enough_is_covered(client: tuple[Any, Stubber]) -> None:
    sq, stubber = client
    _get(stubber, "L-1945791B", 16)
    (status,) = quota.check_quotas([INF_ON_DEMAND], REGION, service_quotas=sq)
    assert status.verdict == "covered"


def test_short_on_demand_message_says_what_to_request_and_where(client: tuple[Any, Stubber]) -> None:
    sq, stubber = client
    _get(stubber, "L-1945791B", 8)
    (status,) = quota.check_quotas([INF_ON_DEMAND], REGION, service_quotas=sq)
    assert (status.verdict, status.headroom_vcpus, status.value_to_request) == ("short", -8, 16)
    message = status.message()
    for part in (
        'L-1945791B "Running On-Demand Inf instances"',
        "in us-east-1",
        "node group inf1 needs 16 vCPUs at max_size",
        "8 available",
        "short by 8 vCPUs",
        "Request 16 vCPUs",
        "https://us-east-1.console.aws.amazon.com/servicequotas/home/services/ec2/quotas/L-1945791B",
        "aws service-quotas request-service-quota-increase --service-code ec2 --quota-code L-1945791B "
        "--desired-value 16 --region us-east-1",
    ):
        assert part in message


def test_short_spot_is_judged_on_the_spot_quota(client: tuple[Any, Stubber]) -> None:
    sq, stubber = client
    _get(stubber, "L-1945791B", 512)
    _get(stubber, "L-B5D1601B", 0)
    on_demand, spot = quota.check_quotas([INF_ON_DEMAND, INF_SPOT], REGION, service_quotas=sq)
    assert (on_demand.verdict, spot.verdict) == ("covered", "short")
    assert quota.shortfalls([on_demand, spot]) == [spot]
    assert "--quota-code L-B5D1601B --desired-value 64" in spot.message()


def test_no_applied_value_falls_back_to_the_aws_default(client: tuple[Any, Stubber]) -> None:
    sq, stubber = client
    stubber.add_client_error("get_service_quota", "NoSuchResourceException", "no applied quota")
    stubber.add_response(
        "get_aws_default_service_quota", _quota("L-1945791B", 0), {"ServiceCode": "ec2", "QuotaCode": "L-1945791B"}
    )
    (status,) = quota.check_quotas([INF_ON_DEMAND], REGION, service_quotas=sq)
    assert (status.is_default, status.applied_vcpus, status.verdict) == (True, 0, "short")
    assert "AWS default 0" in status.message()


def test_a_quota_that_cannot_be_adjusted_points_to_support(client: tuple[Any, Stubber]) -> None:
    sq, stubber = client
    _get(stubber, "L-1945791B", 0, adjustable=False)
    (status,) = quota.check_quotas([INF_ON_DEMAND], REGION, service_quotas=sq)
    assert "not adjustable" in status.message()
    assert "request-service-quota-increase" not in status.message()


def test_usage_in_the_account_is_subtracted_when_counted(client: tuple[Any, Stubber]) -> None:
    sq, stubber = client
    _get(stubber, "L-1945791B", 24)
    cloudwatch = boto3.client("cloudwatch", region_name=REGION, aws_access_key_id="t", aws_secret_access_key="t")
    with Stubber(cloudwatch) as metrics:
        metrics.add_response(
            "get_metric_data",
            {"MetricDataResults": [{"Id": "vcpus", "Values": [12.0, 4.0], "StatusCode": "Complete"}]},
            {"MetricDataQueries": ANY, "StartTime": ANY, "EndTime": ANY, "ScanBy": "TimestampDescending"},
        )
        (status,) = quota.check_quotas(
            [INF_ON_DEMAND], REGION, service_quotas=sq, cloudwatch=cloudwatch, count_usage=True
        )
    # 24 applied - 12 running (the newest data point) = 12 available for a need of 16.
    assert (status.in_use_vcpus, status.available_vcpus, status.verdict, status.value_to_request) == (
        12,
        12,
        "short",
        28,
    )
    assert "12 in use" in status.message()


def test_no_usage_data_points_means_nothing_runs() -> None:
    cloudwatch = boto3.client("cloudwatch", region_name=REGION, aws_access_key_id="t", aws_secret_access_key="t")
    with Stubber(cloudwatch) as metrics:
        metrics.add_response("get_metric_data", {"MetricDataResults": [{"Id": "vcpus", "Values": []}]})
        assert quota.read_usage(cloudwatch, "Inf/OnDemand") == 0


# --- requesting increases --------------------------------------------------------------------------------------------


def _status(need: quota.QuotaNeed, applied: float, *, adjustable: bool = True) -> quota.QuotaStatus:
    return quota.QuotaStatus(need, REGION, applied, False, adjustable, None)


def _history(stubber: Stubber, code: str, requests: list[dict[str, Any]]) -> None:
    stubber.add_response(
        "list_requested_service_quota_change_history_by_quota",
        {"RequestedQuotas": requests},
        {"ServiceCode": "ec2", "QuotaCode": code},
    )


def test_increase_is_requested_for_a_short_adjustable_quota(client: tuple[Any, Stubber]) -> None:
    sq, stubber = client
    _history(stubber, "L-1945791B", [{"Id": "old", "Status": "APPROVED", "DesiredValue": 8.0}])
    stubber.add_response(
        "request_service_quota_increase",
        {"RequestedQuota": {"Id": "req-123", "DesiredValue": 16.0, "Status": "PENDING"}},
        {"ServiceCode": "ec2", "QuotaCode": "L-1945791B", "DesiredValue": 16.0},
    )
    (outcome,) = quota.request_increases([_status(INF_ON_DEMAND, 8), _status(INF_SPOT, 128)], sq)
    assert (outcome.action, outcome.request_id, outcome.requested_value) == ("requested", "req-123", 16)
    assert "request id req-123" in outcome.message()


@pytest.mark.parametrize("open_status", ["PENDING", "CASE_OPENED"])
def test_no_second_request_while_one_is_pending(client: tuple[Any, Stubber], open_status: str) -> None:
    sq, stubber = client
    _history(stubber, "L-1945791B", [{"Id": "req-open", "Status": open_status, "DesiredValue": 32.0}])
    (outcome,) = quota.request_increases([_status(INF_ON_DEMAND, 0)], sq)
    assert (outcome.action, outcome.request_id) == ("already_pending", "req-open")
    assert "already pending" in outcome.message()


def test_pending_request_is_found_on_a_later_page(client: tuple[Any, Stubber]) -> None:
    sq, stubber = client
    stubber.add_response(
        "list_requested_service_quota_change_history_by_quota",
        {"RequestedQuotas": [{"Id": "a", "Status": "DENIED"}], "NextToken": "page2"},
        {"ServiceCode": "ec2", "QuotaCode": "L-1945791B"},
    )
    stubber.add_response(
        "list_requested_service_quota_change_history_by_quota",
        {"RequestedQuotas": [{"Id": "b", "Status": "PENDING", "DesiredValue": 16.0}]},
        {"ServiceCode": "ec2", "QuotaCode": "L-1945791B", "NextToken": "page2"},
    )
    assert quota.pending_request(sq, "L-1945791B") == {"Id": "b", "Status": "PENDING", "DesiredValue": 16.0}


def test_no_request_for_a_quota_that_is_not_adjustable(client: tuple[Any, Stubber]) -> None:
    sq, _ = client  # no call expected at all
    (outcome,) = quota.request_increases([_status(INF_ON_DEMAND, 0, adjustable=False)], sq)
    assert outcome.action == "not_adjustable"


# --- failures: each has its own outcome ------------------------------------------------------------------------------


def test_access_denied_names_the_missing_permission(client: tuple[Any, Stubber]) -> None:
    sq, stubber = client
    stubber.add_client_error("get_service_quota", "AccessDeniedException", "not authorized")
    with pytest.raises(quota.QuotaCheckError) as raised:
        quota.check_quotas([INF_ON_DEMAND], REGION, service_quotas=sq)
    assert raised.value.kind == "access_denied"
    assert "needs permission servicequotas:GetServiceQuota" in raised.value.message
    assert 'L-1945791B "Running On-Demand Inf instances"' in raised.value.message


def test_access_denied_on_the_default_fallback_names_its_own_permission(client: tuple[Any, Stubber]) -> None:
    sq, stubber = client
    stubber.add_client_error("get_service_quota", "NoSuchResourceException", "none")
    stubber.add_client_error("get_aws_default_service_quota", "AccessDeniedException", "not authorized")
    with pytest.raises(quota.QuotaCheckError, match="servicequotas:GetAWSDefaultServiceQuota"):
        quota.check_quotas([INF_ON_DEMAND], REGION, service_quotas=sq)


def test_access_denied_on_request_names_the_request_permission(client: tuple[Any, Stubber]) -> None:
    sq, stubber = client
    stubber.add_client_error("list_requested_service_quota_change_history_by_quota", "AccessDeniedException", "no")
    with pytest.raises(quota.QuotaCheckError, match="servicequotas:ListRequestedServiceQuotaChangeHistoryByQuota"):
        quota.request_increases([_status(INF_ON_DEMAND, 0)], sq)


def test_throttling_that_outlasts_the_retries_says_so(client: tuple[Any, Stubber]) -> None:
    # The Stubber answers before botocore's retry handler runs, so this is the error after the last attempt; the
    # retry itself is tested against a local endpoint in test_quota_cli.py.
    sq, stubber = client
    stubber.add_client_error("get_service_quota", "TooManyRequestsException", "slow down", http_status_code=400)
    with pytest.raises(quota.QuotaCheckError) as raised:
        quota.check_quotas([INF_ON_DEMAND], REGION, service_quotas=sq)
    assert raised.value.kind == "throttled"
    assert f"after {quota.MAX_ATTEMPTS} attempts" in raised.value.message


def test_other_api_errors_carry_code_and_message(client: tuple[Any, Stubber]) -> None:
    sq, stubber = client
    stubber.add_client_error("get_service_quota", "ServiceException", "internal")
    with pytest.raises(quota.QuotaCheckError, match="GetServiceQuota failed with ServiceException: internal") as raised:
        quota.check_quotas([INF_ON_DEMAND], REGION, service_quotas=sq)
    assert raised.value.kind == "api_error"


@pytest.mark.parametrize(
    ("error", "kind", "says"),
    [
        (NoCredentialsError(), "no_credentials", "no AWS credentials were found"),
        (NoRegionError(), "no_region", "no AWS region is known"),
        (
            EndpointConnectionError(endpoint_url="https://servicequotas.xx-none-1.amazonaws.com/"),
            "no_endpoint",
            "the region may not offer the Service Quotas API",
        ),
    ],
)
def test_botocore_failures_are_explained(error: Exception, kind: str, says: str) -> None:
    explained = quota.explain_failure(error, [INF_ON_DEMAND], REGION)
    assert explained.kind == kind
    assert says in explained.message
    assert explained.message.startswith('could not check EC2 quota L-1945791B "Running On-Demand Inf instances"')


def test_client_uses_standard_retries() -> None:
    client = quota.service_quotas_client(REGION)
    assert client.meta.config.retries == {"mode": "standard", "total_max_attempts": quota.MAX_ATTEMPTS}
