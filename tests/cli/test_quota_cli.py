"""`inferentia-cdk quota` end to end against a Service Quotas endpoint on 127.0.0.1, reached the way users would point
the CLI anywhere: through AWS_ENDPOINT_URL_SERVICE_QUOTAS and AWS_REGION."""

from __future__ import annotations

import argparse
import io
import json
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from botocore.retries import standard

from inferentia_cdk.cli.quota import EXIT_BAD_INPUT, EXIT_CHECK_FAILED, EXIT_COVERED, EXIT_SHORT, add_quota_arguments
from inferentia_cdk.cli.quota import run_quota as run_quota_command

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "inferentia.yaml"  # one inf1.xlarge (4 vCPUs) group, max_size 4: 16 vCPUs on L-1945791B
TARGET_PREFIX = "ServiceQuotasV20190624."

Reply = tuple[int, dict[str, Any]]


def quota_reply(value: float, *, code: str = "L-1945791B", adjustable: bool = True) -> Reply:
    return 200, {"Quota": {"ServiceCode": "ec2", "QuotaCode": code, "Value": value, "Adjustable": adjustable}}


def error_reply(code: str, message: str = "") -> Reply:
    return 400, {"__type": code, "message": message}


class ServiceQuotasServer:
    """Speaks the Service Quotas JSON protocol (X-Amz-Target) from a script: operation -> replies in order (the last
    one repeats). Records every call as (operation, request body)."""

    def __init__(self) -> None:
        self.script: dict[str, list[Reply]] = {}
        self.calls: list[tuple[str, dict[str, Any]]] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                operation = self.headers.get("X-Amz-Target", "").removeprefix(TARGET_PREFIX)
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
                server.calls.append((operation, body))
                replies = server.script.get(operation) or [error_reply("UnknownOperationException", operation)]
                status, payload = replies.pop(0) if len(replies) > 1 else replies[0]
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/x-amz-json-1.1")
                self.send_header("Content-Length", str(len(data)))
                self.send_header("x-amzn-RequestId", "test-request")
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:  # keep pytest output clean
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.05,), daemon=True)

    def operations(self) -> list[str]:
        return [operation for operation, _ in self.calls]

    def __enter__(self) -> ServiceQuotasServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def use_local_aws(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, endpoint: str, region: str = "us-east-1") -> None:
    """Point boto3 at ``endpoint`` with fake credentials, and ignore the machine's AWS config."""
    monkeypatch.setenv("AWS_ENDPOINT_URL_SERVICE_QUOTAS", endpoint)
    monkeypatch.setenv("AWS_REGION", region)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-credentials"))
    # AWS_REGION alone must do: boto3 reads only AWS_DEFAULT_REGION, which conftest sets for the whole run.
    for name in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_SESSION_TOKEN", "AWS_DEFAULT_REGION"):
        monkeypatch.delenv(name, raising=False)
    # Standard mode still retries, without its exponential wait, so throttling tests take milliseconds.
    monkeypatch.setattr(standard.ExponentialBackoff, "delay_amount", lambda self, context: 0)


@pytest.fixture
def endpoint(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[ServiceQuotasServer]:
    with ServiceQuotasServer() as server:
        use_local_aws(monkeypatch, tmp_path, server.url)
        yield server


def run_quota(*argv: str) -> tuple[int, str, str]:
    parser = argparse.ArgumentParser(prog="inferentia-cdk quota")
    add_quota_arguments(parser)
    out, err = io.StringIO(), io.StringIO()
    code = run_quota_command(parser.parse_args(list(argv)), out, err)
    return code, out.getvalue(), err.getvalue()


def test_enough_quota_exits_0(endpoint: ServiceQuotasServer) -> None:
    endpoint.script["GetServiceQuota"] = [quota_reply(64)]
    code, out, _ = run_quota(str(EXAMPLE))
    assert code == EXIT_COVERED
    assert "COVERED" in out
    assert endpoint.calls == [("GetServiceQuota", {"ServiceCode": "ec2", "QuotaCode": "L-1945791B"})]


def test_short_quota_on_the_aws_default_exits_3_with_the_value_to_request(endpoint: ServiceQuotasServer) -> None:
    endpoint.script["GetServiceQuota"] = [error_reply("NoSuchResourceException", "no applied value")]
    endpoint.script["GetAWSDefaultServiceQuota"] = [quota_reply(0)]
    code, out, _ = run_quota(str(EXAMPLE))
    assert code == EXIT_SHORT
    header, row = out.splitlines()[1:3]
    assert " ".join(header.split()) == "QUOTA NAME NODE GROUPS REQUIRED APPLIED IN USE HEADROOM ADJUSTABLE VERDICT"
    assert " ".join(row.split()) == "L-1945791B Running On-Demand Inf instances inf1 16 0 (default) - -16 yes SHORT"
    assert "--quota-code L-1945791B --desired-value 16 --region us-east-1" in out
    assert "https://us-east-1.console.aws.amazon.com/servicequotas/home/services/ec2/quotas/L-1945791B" in out
    assert "RequestServiceQuotaIncrease" not in endpoint.operations()  # only with --request-increase


def test_region_flag_wins_over_aws_region(endpoint: ServiceQuotasServer) -> None:
    endpoint.script["GetServiceQuota"] = [quota_reply(0)]
    _, out, _ = run_quota(str(EXAMPLE), "--region", "eu-west-1")
    assert "in eu-west-1" in out
    assert "--region eu-west-1" in out


def test_request_increase_files_one_request_and_prints_its_id(endpoint: ServiceQuotasServer) -> None:
    endpoint.script["GetServiceQuota"] = [quota_reply(4)]
    endpoint.script["ListRequestedServiceQuotaChangeHistoryByQuota"] = [(200, {"RequestedQuotas": []})]
    endpoint.script["RequestServiceQuotaIncrease"] = [
        (200, {"RequestedQuota": {"Id": "req-0042", "DesiredValue": 16.0, "Status": "PENDING"}})
    ]
    code, out, _ = run_quota(str(EXAMPLE), "--request-increase")
    assert code == EXIT_SHORT  # still short until AWS approves
    assert "L-1945791B: requested 16 vCPUs, request id req-0042" in out
    assert endpoint.calls[-1] == (
        "RequestServiceQuotaIncrease",
        {"ServiceCode": "ec2", "QuotaCode": "L-1945791B", "DesiredValue": 16.0},
    )


def test_request_increase_skips_a_quota_with_a_pending_request(endpoint: ServiceQuotasServer) -> None:
    endpoint.script["GetServiceQuota"] = [quota_reply(0)]
    endpoint.script["ListRequestedServiceQuotaChangeHistoryByQuota"] = [
        (200, {"RequestedQuotas": [{"Id": "req-open", "Status": "CASE_OPENED", "DesiredValue": 16.0}]})
    ]
    code, out, _ = run_quota(str(EXAMPLE), "--request-increase")
    assert code == EXIT_SHORT
    assert "request req-open for 16 vCPUs is already pending" in out
    assert "RequestServiceQuotaIncrease" not in endpoint.operations()


def test_throttled_then_ok_is_retried(endpoint: ServiceQuotasServer) -> None:
    endpoint.script["GetServiceQuota"] = [error_reply("TooManyRequestsException", "rate exceeded"), quota_reply(64)]
    code, _, err = run_quota(str(EXAMPLE))
    assert (code, err) == (EXIT_COVERED, "")
    assert endpoint.operations() == ["GetServiceQuota", "GetServiceQuota"]


def test_throttled_on_every_attempt_exits_1(endpoint: ServiceQuotasServer) -> None:
    endpoint.script["GetServiceQuota"] = [error_reply("TooManyRequestsException", "rate exceeded")]
    code, _, err = run_quota(str(EXAMPLE))
    assert code == EXIT_CHECK_FAILED
    assert "still throttled after 5 attempts" in err
    assert endpoint.operations() == ["GetServiceQuota"] * 5


def test_access_denied_exits_1_naming_the_permission(endpoint: ServiceQuotasServer) -> None:
    endpoint.script["GetServiceQuota"] = [error_reply("AccessDeniedException", "User is not authorized")]
    code, out, err = run_quota(str(EXAMPLE))
    assert (code, out) == (EXIT_CHECK_FAILED, "")
    assert "the caller needs permission servicequotas:GetServiceQuota" in err


def test_no_credentials_exits_1_without_calling_aws(
    endpoint: ServiceQuotasServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    code, _, err = run_quota(str(EXAMPLE))
    assert code == EXIT_CHECK_FAILED
    assert "no AWS credentials were found" in err
    assert endpoint.calls == []


def test_unreachable_endpoint_exits_1(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    with ServiceQuotasServer() as server:
        closed = server.url  # nothing listens here once the server is gone
    use_local_aws(monkeypatch, tmp_path, closed)
    code, _, err = run_quota(str(EXAMPLE))
    assert code == EXIT_CHECK_FAILED
    assert "the region may not offer the Service Quotas API" in err


def test_no_region_is_bad_input(endpoint: ServiceQuotasServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AWS_REGION")
    monkeypatch.delenv("AWS_DEFAULT_REGION", raising=False)
    code, _, err = run_quota(str(EXAMPLE))
    assert code == EXIT_BAD_INPUT
    assert "no AWS region" in err
    assert endpoint.calls == []


def test_invalid_config_is_bad_input(endpoint: ServiceQuotasServer, tmp_path: Path) -> None:
    config = tmp_path / "bad.yaml"
    config.write_text("node_groups:\n  - name: inf1\n    instance_types: [inf9.huge]\n")
    code, _, err = run_quota(str(config))
    assert code == EXIT_BAD_INPUT
    assert "inf9.huge" in err
    assert endpoint.calls == []


def test_python_m_inferentia_cdk_quota_reaches_the_endpoint_from_the_environment(endpoint: ServiceQuotasServer) -> None:
    endpoint.script["GetServiceQuota"] = [quota_reply(8)]
    completed = subprocess.run(
        [sys.executable, "-m", "inferentia_cdk", "quota", str(EXAMPLE)],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
    )
    assert completed.returncode == EXIT_SHORT, completed.stderr
    assert "--quota-code L-1945791B --desired-value 16 --region us-east-1" in completed.stdout
    assert endpoint.operations() == ["GetServiceQuota"]
