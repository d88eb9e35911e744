"""CloudFormation custom resource: fail the deployment before any Neuron instance launches when a vCPU quota is short.

Invoked directly by CloudFormation (no provider framework), so this handler answers the pre-signed ResponseURL itself
and answers on every path, even an unexpected exception: an unanswered request would hold the stack until the
resource's ServiceTimeout.

Properties: ``Needs`` (a list of :meth:`QuotaNeed.to_properties`) and ``Shortfall`` (``fail`` or ``warn``).
Needs only boto3 from the Lambda runtime.
"""

from __future__ import annotations

import json
import logging
import os
import urllib.request
from typing import Any

try:
    from . import service_quotas as quota  # installed package: inferentia_cdk.quota.service_quotas
except ImportError:  # the Lambda bundle: this file and service_quotas.py side by side at its root
    import service_quotas as quota  # type: ignore[no-redef]

LOG = logging.getLogger(__name__)
LOG.setLevel(logging.INFO)

PHYSICAL_RESOURCE_ID = "inferentia-cdk-neuron-quota-check"
# CloudFormation rejects a response body over 4096 bytes; Reason and Data share that budget.
MAX_REASON_CHARS = 2000
MAX_SUMMARY_CHARS = 1500
WARN_HINT = " (with quota_shortfall: warn in the config, the deployment only reports this)"


def _truncate(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 15] + " ...(truncated)"


def _needs(properties: dict[str, Any] | None) -> list[quota.QuotaNeed]:
    return [quota.QuotaNeed.from_properties(item) for item in (properties or {}).get("Needs", [])]


def _grown(needs: list[quota.QuotaNeed], old_needs: list[quota.QuotaNeed]) -> set[str]:
    """Codes of the quotas whose required vCPUs grew since the last successful check (or are new).

    On an update only these can block: a need that stayed or shrank already passed, and failing it would also make a
    rollback (an Update back to the old properties) fail and leave the stack in UPDATE_ROLLBACK_FAILED.
    """
    before = {need.code: need.required_vcpus for need in old_needs}
    return {need.code for need in needs if need.required_vcpus > before.get(need.code, 0)}


def evaluate(event: dict[str, Any]) -> tuple[str, str, dict[str, str]]:
    """(status, reason, data) for one CloudFormation event."""
    request_type = event["RequestType"]
    if request_type == "Delete":
        # Nothing was created, so nothing to clean up; never call AWS here so a stack can always be deleted.
        return "SUCCESS", "nothing to delete", {"Verdict": "deleted", "Summary": ""}
    properties = event.get("ResourceProperties", {})
    needs = _needs(properties)
    fail_on_shortfall = properties.get("Shortfall", "fail") != "warn"
    region = os.environ["AWS_REGION"]
    enforced = {need.code for need in needs}
    if request_type == "Update":
        enforced = _grown(needs, _needs(event.get("OldResourceProperties")))

    try:
        statuses = quota.check_quotas(needs, region)
    except quota.QuotaCheckError as error:
        LOG.error("%s", error.message)
        if fail_on_shortfall and enforced:
            return "FAILED", error.message + WARN_HINT, {}
        return (
            "SUCCESS",
            error.message,
            {"Verdict": "unchecked", "Summary": _truncate(error.message, MAX_SUMMARY_CHARS)},
        )

    for status in statuses:
        LOG.info("%s", status.message())
    short = quota.shortfalls(statuses)
    if not short:
        return "SUCCESS", "every quota covers its node groups", {"Verdict": "covered", "Summary": "all quotas covered"}
    report = " | ".join(status.message() for status in short)
    if fail_on_shortfall and any(status.need.code in enforced for status in short):
        return "FAILED", report + WARN_HINT, {}
    return "SUCCESS", report, {"Verdict": "short", "Summary": _truncate(report, MAX_SUMMARY_CHARS)}


def send_response(event: dict[str, Any], status: str, reason: str, data: dict[str, str]) -> None:
    body = json.dumps(
        {
            "Status": status,
            "Reason": _truncate(reason, MAX_REASON_CHARS),
            # A FAILED Create still needs an id, or CloudFormation reports an invalid response instead of the reason.
            "PhysicalResourceId": event.get("PhysicalResourceId") or PHYSICAL_RESOURCE_ID,
            "StackId": event["StackId"],
            "RequestId": event["RequestId"],
            "LogicalResourceId": event["LogicalResourceId"],
            "NoEcho": False,
            "Data": data,
        }
    ).encode("utf-8")
    # The pre-signed URL is signed for an empty Content-Type.
    request = urllib.request.Request(
        event["ResponseURL"], data=body, method="PUT", headers={"Content-Type": "", "Content-Length": str(len(body))}
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        LOG.info("CloudFormation response %s sent: HTTP %s", status, response.status)


def handler(event: dict[str, Any], context: Any) -> None:
    try:
        status, reason, data = evaluate(event)
    except Exception as error:  # any bug must still answer CloudFormation (fail closed)
        LOG.exception("quota check failed")
        status, reason, data = "FAILED", f"the quota check itself failed: {type(error).__name__}: {error}", {}
    send_response(event, status, reason, data)
