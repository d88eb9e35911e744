"""The deploy-time Lambda invoked with CloudFormation Create, Update and Delete events.

Service Quotas is the local endpoint of test_quota_cli.py; CloudFormation's pre-signed ResponseURL is a second local
server that records what the handler answered.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import boto3
import pytest
from test_quota_cli import ServiceQuotasServer, error_reply, quota_reply, use_local_aws

from inferentia_cdk.quota import handler as index
from inferentia_cdk.quota import service_quotas as quota

INF_ON_DEMAND = quota.QuotaNeed("L-1945791B", "Running On-Demand Inf instances", "Inf/OnDemand", 16, ("inf1",))


class CloudFormationResponses:
    """Stands in for the pre-signed S3 URL: records each PUT body (the custom resource's answer)."""

    def __init__(self) -> None:
        self.bodies: list[dict[str, Any]] = []
        self.content_types: list[str | None] = []
        recorder = self

        class Handler(BaseHTTPRequestHandler):
            def do_PUT(self) -> None:
                recorder.content_types.append(self.headers.get("Content-Type"))
                recorder.bodies.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/presigned?X-Amz-Signature=x"
        threading.Thread(target=self.httpd.serve_forever, args=(0.05,), daemon=True).start()

    @property
    def only(self) -> dict[str, Any]:
        (body,) = self.bodies
        return body


@pytest.fixture
def service_quotas(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[ServiceQuotasServer]:
    with ServiceQuotasServer() as server:
        use_local_aws(monkeypatch, tmp_path, server.url)  # the Lambda runtime sets AWS_REGION the same way
        yield server


@pytest.fixture
def cloudformation() -> Iterator[CloudFormationResponses]:
    responses = CloudFormationResponses()
    yield responses
    responses.httpd.shutdown()
    responses.httpd.server_close()


def event(
    request_type: str,
    responses: CloudFormationResponses,
    needs: list[quota.QuotaNeed],
    *,
    shortfall: str = "fail",
    old_needs: list[quota.QuotaNeed] | None = None,
) -> dict[str, Any]:
    # Shaped like CloudFormation's: every scalar property arrives as a string.
    def properties(items: list[quota.QuotaNeed]) -> dict[str, Any]:
        return {
            "ServiceToken": "arn:aws:lambda:us-east-1:123456789012:function:check",
            "ServiceTimeout": "300",
            "Needs": [{**n.to_properties(), "RequiredVcpus": str(n.required_vcpus)} for n in items],
            "Shortfall": shortfall,
        }

    body: dict[str, Any] = {
        "RequestType": request_type,
        "ResponseURL": responses.url,
        "StackId": "arn:aws:cloudformation:us-east-1:123456789012:stack/InferentiaCluster/guid",
        "RequestId": "request-1",
        "ResourceType": "Custom::NeuronQuotaCheck",
        "LogicalResourceId": "NeuronQuotaCheck07E0A8FA",
        "ResourceProperties": properties(needs),
    }
    if request_type != "Create":
        body["PhysicalResourceId"] = index.PHYSICAL_RESOURCE_ID
    if old_needs is not None:
        body["OldResourceProperties"] = properties(old_needs)
    return body


def test_create_with_enough_quota_succeeds(
    service_quotas: ServiceQuotasServer, cloudformation: CloudFormationResponses
) -> None:
    service_quotas.script["GetServiceQuota"] = [quota_reply(64)]
    index.handler(event("Create", cloudformation, [INF_ON_DEMAND]), None)
    answer = cloudformation.only
    assert (answer["Status"], answer["PhysicalResourceId"], answer["Data"]["Verdict"]) == (
        "SUCCESS",
        index.PHYSICAL_RESOURCE_ID,
        "covered",
    )
    assert (answer["StackId"], answer["RequestId"], answer["LogicalResourceId"]) == (
        "arn:aws:cloudformation:us-east-1:123456789012:stack/InferentiaCluster/guid",
        "request-1",
        "NeuronQuotaCheck07E0A8FA",
    )
    assert cloudformation.content_types == [""]  # the pre-signed URL is signed for an empty Content-Type


def test_create_with_a_short_quota_fails_the_deployment_with_the_message(
    service_quotas: ServiceQuotasServer, cloudformation: CloudFormationResponses
) -> None:
    service_quotas.script["GetServiceQuota"] = [error_reply("NoSuchResourceException")]
    service_quotas.script["GetAWSDefaultServiceQuota"] = [quota_reply(0)]
    index.handler(event("Create", cloudformation, [INF_ON_DEMAND]), None)
    answer = cloudformation.only
    assert answer["Status"] == "FAILED"
    assert answer["PhysicalResourceId"] == index.PHYSICAL_RESOURCE_ID  # or CloudFormation hides the reason
    assert "L-1945791B" in answer["Reason"]
    assert "--quota-code L-1945791B --desired-value 16 --region us-east-1" in answer["Reason"]
    assert "quota_shortfall: warn" in answer["Reason"]


def test_warn_mode_reports_a_short_quota_and_succeeds(
    service_quotas: ServiceQuotasServer, cloudformation: CloudFormationResponses
) -> None:
    service_quotas.script["GetServiceQuota"] = [quota_reply(0)]
    index.handler(event("Create", cloudformation, [INF_ON_DEMAND], shortfall="warn"), None)
    answer = cloudformation.only
    assert (answer["Status"], answer["Data"]["Verdict"]) == ("SUCCESS", "short")
    assert "--desired-value 16" in answer["Data"]["Summary"]


def test_update_that_grows_the_need_is_checked_again(
    service_quotas: ServiceQuotasServer, cloudformation: CloudFormationResponses
) -> None:
    service_quotas.script["GetServiceQuota"] = [quota_reply(8)]
    smaller = quota.QuotaNeed(INF_ON_DEMAND.code, INF_ON_DEMAND.name, INF_ON_DEMAND.usage_class, 8, ("inf1",))
    index.handler(event("Update", cloudformation, [INF_ON_DEMAND], old_needs=[smaller]), None)
    assert cloudformation.only["Status"] == "FAILED"
    assert cloudformation.only["PhysicalResourceId"] == index.PHYSICAL_RESOURCE_ID


def test_update_that_does_not_grow_the_need_only_reports(
    service_quotas: ServiceQuotasServer, cloudformation: CloudFormationResponses
) -> None:
    # A rollback is an Update back to the old, smaller properties; failing it would leave UPDATE_ROLLBACK_FAILED.
    service_quotas.script["GetServiceQuota"] = [quota_reply(8)]
    larger = quota.QuotaNeed(INF_ON_DEMAND.code, INF_ON_DEMAND.name, INF_ON_DEMAND.usage_class, 32, ("inf1",))
    index.handler(event("Update", cloudformation, [INF_ON_DEMAND], old_needs=[larger]), None)
    assert (cloudformation.only["Status"], cloudformation.only["Data"]["Verdict"]) == ("SUCCESS", "short")


def test_delete_succeeds_without_calling_aws(
    service_quotas: ServiceQuotasServer, cloudformation: CloudFormationResponses, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_aws(*args: object, **kwargs: object) -> None:
        raise AssertionError("Delete must not call AWS")

    monkeypatch.setattr(boto3.session.Session, "client", no_aws)
    index.handler(event("Delete", cloudformation, [INF_ON_DEMAND]), None)
    assert cloudformation.only["Status"] == "SUCCESS"
    assert cloudformation.only["PhysicalResourceId"] == index.PHYSICAL_RESOURCE_ID
    assert service_quotas.calls == []


def test_access_denied_fails_closed_naming_the_permission(
    service_quotas: ServiceQuotasServer, cloudformation: CloudFormationResponses
) -> None:
    service_quotas.script["GetServiceQuota"] = [error_reply("AccessDeniedException", "not authorized")]
    index.handler(event("Create", cloudformation, [INF_ON_DEMAND]), None)
    assert cloudformation.only["Status"] == "FAILED"
    assert "servicequotas:GetServiceQuota" in cloudformation.only["Reason"]


def test_access_denied_in_warn_mode_succeeds_and_says_it_was_not_checked(
    service_quotas: ServiceQuotasServer, cloudformation: CloudFormationResponses
) -> None:
    service_quotas.script["GetServiceQuota"] = [error_reply("AccessDeniedException", "not authorized")]
    index.handler(event("Create", cloudformation, [INF_ON_DEMAND], shortfall="warn"), None)
    answer = cloudformation.only
    assert (answer["Status"], answer["Data"]["Verdict"]) == ("SUCCESS", "unchecked")
    assert "servicequotas:GetServiceQuota" in answer["Data"]["Summary"]


def test_a_bug_in_the_check_still_answers_cloudformation(
    service_quotas: ServiceQuotasServer, cloudformation: CloudFormationResponses
) -> None:
    broken = event("Create", cloudformation, [INF_ON_DEMAND])
    broken["ResourceProperties"]["Needs"] = [{"QuotaCode": "L-1945791B"}]  # missing keys: KeyError in the handler
    index.handler(broken, None)
    assert cloudformation.only["Status"] == "FAILED"
    assert "the quota check itself failed: KeyError" in cloudformation.only["Reason"]


def test_answer_fits_cloudformations_4096_byte_limit(
    service_quotas: ServiceQuotasServer, cloudformation: CloudFormationResponses
) -> None:
    service_quotas.script["GetServiceQuota"] = [quota_reply(0)]
    many_groups = tuple(f"group-{i:03d}-with-a-long-name" for i in range(200))
    need = quota.QuotaNeed(INF_ON_DEMAND.code, INF_ON_DEMAND.name, INF_ON_DEMAND.usage_class, 800, many_groups)
    index.handler(event("Create", cloudformation, [need], shortfall="warn"), None)
    assert len(json.dumps(cloudformation.only).encode()) <= 4096
    assert cloudformation.only["Reason"].endswith("(truncated)")
