"""The quota check in the synthesized example app (deploy mode, cdk-nag on) and the synth-time check's annotations."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_lambda as lambda_
from constructs import Construct
from synth_support import Synthesized
from test_quota_cli import ServiceQuotasServer, quota_reply, use_local_aws

from inferentia_cdk.config.models import InferentiaConfig, NodeGroupSpec
from inferentia_cdk.constructs import neuron_quota_check as check_module
from inferentia_cdk.constructs.neuron_quota_check import (
    SHORT_WARNING_ID,
    UNCHECKED_WARNING_ID,
    NeuronQuotaCheck,
    add_quota_check,
    check_quotas_at_synth,
)
from inferentia_cdk.quota import service_quotas as quota

# --- deploy mode, in the example app every other test synthesizes too (the session fixture `default_app`) ---------


def _resources(template: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {name: r for name, r in template["Resources"].items() if r["Type"] == kind}


@pytest.fixture(scope="module")
def cluster_template(default_app: Synthesized) -> dict[str, Any]:
    return default_app.template("Cluster")


@pytest.fixture(scope="module")
def check_id(cluster_template: dict[str, Any]) -> str:
    (logical_id,) = _resources(cluster_template, "Custom::NeuronQuotaCheck")
    return logical_id


def _function(template: dict[str, Any]) -> dict[str, Any]:
    (function,) = [
        r for name, r in _resources(template, "AWS::Lambda::Function").items() if name.startswith("NeuronQuotaCheck")
    ]
    return function


def test_every_neuron_node_group_depends_on_the_check(cluster_template: dict[str, Any], check_id: str) -> None:
    nodegroups = _resources(cluster_template, "AWS::EKS::Nodegroup")
    neuron = {name: r for name, r in nodegroups.items() if name.startswith("NeuronNodegroup")}
    assert neuron
    for resource in neuron.values():
        assert check_id in resource["DependsOn"]
    system = [r for name, r in nodegroups.items() if name.startswith("SystemNodegroup")]
    assert all(check_id not in r.get("DependsOn", []) for r in system)  # add-on nodes need no Inf/Trn quota


def test_check_carries_the_required_vcpus_so_capacity_changes_rerun_it(
    cluster_template: dict[str, Any], check_id: str
) -> None:
    properties = cluster_template["Resources"][check_id]["Properties"]
    assert properties["Needs"] == [
        {
            "QuotaCode": "L-1945791B",
            "QuotaName": "Running On-Demand Inf instances",
            "UsageClass": "Inf/OnDemand",
            "RequiredVcpus": 16,  # inf1.xlarge (4 vCPUs) x max_size 4
            "NodeGroups": ["inf1"],
        }
    ]
    assert properties["Shortfall"] == "fail"  # the config default: fail closed
    assert properties["ServiceTimeout"] == "300"  # an unanswered request fails in 5 minutes, not an hour


def test_role_may_only_read_quotas_and_write_its_own_logs(cluster_template: dict[str, Any]) -> None:
    role_id = _function(cluster_template)["Properties"]["Role"]["Fn::GetAtt"][0]
    role = cluster_template["Resources"][role_id]["Properties"]
    assert "ManagedPolicyArns" not in role
    attached = [
        r
        for r in _resources(cluster_template, "AWS::IAM::Policy").values()
        if {"Ref": role_id} in r["Properties"]["Roles"]
    ]
    assert attached == []
    statements = [s for policy in role["Policies"] for s in policy["PolicyDocument"]["Statement"]]
    log_group_id = _function(cluster_template)["Properties"]["LoggingConfig"]["LogGroup"]["Ref"]
    assert statements == [
        {
            "Action": ["servicequotas:GetAWSDefaultServiceQuota", "servicequotas:GetServiceQuota"],
            "Effect": "Allow",
            "Resource": "*",
        },
        {
            "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
            "Effect": "Allow",
            "Resource": {"Fn::GetAtt": [log_group_id, "Arn"]},
        },
    ]


def _python_version(runtime: lambda_.Runtime) -> tuple[int, ...]:
    return tuple(int(part) for part in runtime.name.removeprefix("python").split("."))


def test_function_runs_the_newest_python_aws_cdk_lib_knows(cluster_template: dict[str, Any]) -> None:
    newest = max((r for r in lambda_.Runtime.ALL if r.name.startswith("python3.")), key=_python_version)
    function = _function(cluster_template)["Properties"]
    assert function["Runtime"] == newest.name  # what cdk-nag's AwsSolutions-L1 demands
    assert function["Handler"] == "handler.handler"
    assert "Environment" not in function  # everything arrives as resource properties; nothing to encrypt


def test_log_group_is_kept_a_year_and_encrypted(cluster_template: dict[str, Any]) -> None:
    log_group_id = _function(cluster_template)["Properties"]["LoggingConfig"]["LogGroup"]["Ref"]
    log_group = cluster_template["Resources"][log_group_id]["Properties"]
    assert log_group["RetentionInDays"] == 365
    assert "Fn::GetAtt" in log_group["KmsKeyId"]


def test_report_output_shows_the_check_summary(cluster_template: dict[str, Any], check_id: str) -> None:
    outputs = [o for name, o in cluster_template["Outputs"].items() if name.startswith("NeuronQuotaCheck")]
    assert [o["Value"] for o in outputs] == [{"Fn::GetAtt": [check_id, "Summary"]}]


@pytest.fixture(scope="module")
def bundle(default_app: Synthesized, cluster_template: dict[str, Any]) -> Path:
    key = _function(cluster_template)["Properties"]["Code"]["S3Key"]
    return default_app.outdir / f"asset.{key.removesuffix('.zip')}"


def test_bundle_is_the_handler_and_service_quotas_only(bundle: Path) -> None:
    files = sorted(str(p.relative_to(bundle)) for p in bundle.rglob("*") if p.is_file())
    assert files == ["handler.py", "service_quotas.py"]


def test_bundle_imports_without_the_package(bundle: Path) -> None:
    # As in Lambda: the bundle root on sys.path, no inferentia_cdk (nor pydantic, yaml or aws_cdk) importable.
    program = (
        "import sys; sys.path.insert(0, sys.argv[1]); "
        "sys.modules.update(dict.fromkeys(['inferentia_cdk', 'pydantic', 'yaml', 'aws_cdk'])); "
        "import handler; print(handler.quota.__file__)"
    )
    completed = subprocess.run(
        [sys.executable, "-c", program, str(bundle)], capture_output=True, text=True, check=True, timeout=60
    )
    assert completed.stdout.strip() == str(bundle / "service_quotas.py")


# --- synth mode: annotations, without synthesizing --------------------------------------------------------------

NEED = quota.QuotaNeed("L-1945791B", "Running On-Demand Inf instances", "Inf/OnDemand", 16, ("inf1",))


class FakeNeuronNodegroup:
    def __init__(self, scope: Construct, spec: NodeGroupSpec) -> None:
        self.spec = spec
        self.nodegroup = Construct(scope, f"Nodegroup-{spec.name}")


@pytest.fixture
def scope() -> Iterator[tuple[cdk.Stack, dict[str, FakeNeuronNodegroup]]]:
    stack = cdk.Stack(cdk.App(), "SynthCheck", env=cdk.Environment(region="eu-west-1"))
    groups = {
        "inf1": FakeNeuronNodegroup(stack, NodeGroupSpec(name="inf1", instance_types=["inf1.xlarge"], max_size=4)),
        "other": FakeNeuronNodegroup(stack, NodeGroupSpec(name="other", instance_types=["trn1.2xlarge"], max_size=1)),
    }
    yield stack, groups


def _annotations(construct: Construct, kind: str) -> list[str]:
    return [str(entry.data) for entry in construct.node.metadata if entry.type == f"aws:cdk:{kind}"]


def _checker(applied: dict[str, float]) -> check_module.QuotaChecker:
    def check(needs: Sequence[quota.QuotaNeed], region: str) -> list[quota.QuotaStatus]:
        return [quota.QuotaStatus(n, region, applied[n.code], False, True, None) for n in needs]

    return check


def test_synth_shortfall_is_an_error_on_the_node_group_that_needs_it(scope: Any) -> None:
    stack, groups = scope
    check_quotas_at_synth(stack, groups, region=stack.region, checker=_checker({"L-1945791B": 8, "L-2C3B7624": 64}))
    (error,) = _annotations(groups["inf1"].nodegroup, "error")
    assert "in eu-west-1" in error  # the stack's region
    assert "--quota-code L-1945791B --desired-value 16 --region eu-west-1" in error
    assert _annotations(groups["other"].nodegroup, "error") == []  # its Trn quota covers it
    assert _annotations(stack, "warning") == []


def test_synth_shortfall_in_warn_mode_is_an_acknowledgeable_warning(scope: Any) -> None:
    stack, groups = scope
    check_quotas_at_synth(
        stack, groups, region=stack.region, shortfall="warn", checker=_checker({"L-1945791B": 0, "L-2C3B7624": 64})
    )
    assert _annotations(groups["inf1"].nodegroup, "error") == []
    (warning,) = _annotations(groups["inf1"].nodegroup, "warning")
    assert SHORT_WARNING_ID in warning


def test_synth_check_that_cannot_run_is_a_warning_that_says_what_was_not_checked(scope: Any) -> None:
    stack, groups = scope

    def denied(needs: Sequence[quota.QuotaNeed], region: str) -> list[quota.QuotaStatus]:
        raise quota.QuotaCheckError(
            "access_denied", "could not check EC2 quota L-1945791B: servicequotas:GetServiceQuota"
        )

    assert check_quotas_at_synth(stack, groups, region=stack.region, checker=denied) is None
    (warning,) = _annotations(stack, "warning")
    assert "servicequotas:GetServiceQuota" in warning
    assert UNCHECKED_WARNING_ID in warning
    assert _annotations(groups["inf1"].nodegroup, "error") == []


def test_synth_check_without_any_region_warns(scope: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    _, groups = scope
    for name in ("AWS_REGION", "AWS_DEFAULT_REGION", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    agnostic = cdk.Stack(cdk.App(), "Agnostic")  # region is a token: the caller's default region would be used

    def unreachable(needs: Sequence[quota.QuotaNeed], region: str) -> list[quota.QuotaStatus]:
        raise AssertionError("no region, no call")

    check_quotas_at_synth(agnostic, groups, region=agnostic.region, checker=unreachable)
    (warning,) = _annotations(agnostic, "warning")
    assert "no AWS region is known" in warning


# --- add_quota_check: what each quota_check mode wires ----------------------------------------------------------


def _config(mode: str) -> InferentiaConfig:
    return InferentiaConfig.model_validate(
        {"node_groups": [{"name": "inf1", "instance_types": ["inf1.xlarge"], "max_size": 4}], "quota_check": mode}
    )


def test_off_wires_nothing(scope: Any) -> None:
    stack, groups = scope
    assert add_quota_check(stack, groups, _config("off")) is None
    assert not any(isinstance(c, NeuronQuotaCheck) for c in stack.node.find_all())


def test_deploy_makes_every_neuron_node_group_depend_on_the_check(scope: Any) -> None:
    stack, groups = scope
    check = add_quota_check(stack, groups, _config("deploy"))
    assert isinstance(check, NeuronQuotaCheck)
    for group in groups.values():
        assert check in group.nodegroup.node.dependencies


def test_synth_mode_checks_now_with_the_callers_credentials(
    scope: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    stack, groups = scope
    with ServiceQuotasServer() as server:
        use_local_aws(monkeypatch, tmp_path, server.url)
        server.script["GetServiceQuota"] = [quota_reply(0)]
        assert add_quota_check(stack, groups, _config("synth")) is None
    assert not any(isinstance(c, NeuronQuotaCheck) for c in stack.node.find_all())
    assert [body["QuotaCode"] for _, body in server.calls] == ["L-1945791B", "L-2C3B7624"]
    assert _annotations(groups["inf1"].nodegroup, "error")
