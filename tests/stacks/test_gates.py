"""Gates every change keeps green: cdk-nag, cfn-lint, kubernetes-validate and checkov on both example apps.

The apps are what `cdk synth` writes (the session fixtures build them with cdk.json's context, and one CDK CLI synth
here proves it). cdk-nag runs inside the fixtures' synth; every finding it reports unacknowledged fails the gate.
Every accepted finding has its reason and scope in one place: stacks/nag.py for cdk-nag, CFN_LINT_ACCEPTED below,
checkov_skips.yaml for checkov; one that no longer matches a finding fails the gate too.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml
from conftest import ALL_APPS
from crd_schemas import CRD_SCHEMAS, validate_kubernetes_object
from synth_support import ROOT, Synthesized, bare_environment, read_templates

pytestmark = pytest.mark.gate

CHECKOV = ROOT / ".venv-checkov" / "bin" / "checkov"
CDK_CLI = ROOT / "node_modules" / ".bin" / "cdk"
SKIPS_FILE = Path(__file__).resolve().parents[1] / "checkov_skips.yaml"
NAG_PACK = "AwsSolutions"

# The only cfn-lint findings the gate accepts: warnings (errors never are) by rule id and a regular expression over the
# finding's path in the template, with why.
CFN_LINT_ACCEPTED = [
    {
        "rule": "W3005",
        "path": r"^Resources/(AWS679f53fac002430cb0da5b7982bd2287|ClusterKubectlProvider(Handler|frameworkonEvent)|"
        r"CustomVpcRestrictDefaultSGCustomResourceProviderHandler|AWSCDKCfnUtilsProviderCustomResourceProviderHandler|"
        r"NeuronQuotaCheckFunction)[0-9A-F]{8}/DependsOn/",
        "reason": "aws-cdk-lib makes every Lambda function depend on its role by name as well as by the GetAtt of its "
        "ARN; the duplicate changes no order",
    },
    {
        "rule": "W3005",
        "path": r"^Resources/Cluster[0-9A-F]{8}/DependsOn/",
        "reason": "aws-eks-v2 makes the cluster depend on every resource of its VPC, so that a delete removes the "
        "cluster first; that list repeats the subnets the cluster also references",
    },
]


@pytest.fixture(scope="module")
def cli_outdir(full_app: Synthesized, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`npx cdk synth --context config=examples/full.yaml` as a user types it, with no virtualenv activated and nothing
    exported (cdk.json runs .venv/bin/python), written to a temporary directory."""
    if not CDK_CLI.exists():
        pytest.fail(f"the CDK CLI is not installed at {CDK_CLI}; run `make test`, which installs it")
    outdir = tmp_path_factory.mktemp("cli-cdk.out")
    env = {
        **bare_environment(),
        # Nothing leaves the machine: no telemetry, no version check (notices are off below), no AWS profile.
        "CDK_DISABLE_CLI_TELEMETRY": "true",
        "CDK_DISABLE_VERSION_CHECK": "true",
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
    }
    config = full_app.config_path.relative_to(ROOT)
    completed = subprocess.run(
        [str(CDK_CLI), "synth", "--quiet", "--no-notices", "--context", f"config={config}", "--output", str(outdir)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    return outdir


def _feature_flags(outdir: Path) -> dict[str, Any]:
    manifest = json.loads((outdir / "manifest.json").read_text())
    return {
        name: artifact["properties"]["flags"]
        for name, artifact in manifest["artifacts"].items()
        if artifact["type"] == "cdk:feature-flag-report"
    }


def test_the_gated_templates_are_what_cdk_synth_writes(full_app: Synthesized, cli_outdir: Path) -> None:
    written, _ = read_templates(cli_outdir)
    assert set(written) == set(full_app.templates)
    for name, template in written.items():
        assert template == full_app.templates[name], f"{name}: the tests' app and `cdk synth` differ"
    flags = _feature_flags(cli_outdir)
    assert flags, "aws-cdk-lib reports the feature flags it was given"
    assert _feature_flags(full_app.outdir) == flags


def _validation_report(app: Synthesized) -> dict[str, Any]:
    report: dict[str, Any] = json.loads((app.outdir / "validation-report.json").read_text())
    return report


def unacknowledged_findings(report: dict[str, Any]) -> list[tuple[str, Any]]:
    """What a validation report holds beyond acknowledged findings: every pack violation, and construct annotations
    other than our own warnings (each with an id a user can acknowledge, such as the inf1 driver notice the examples
    show on purpose)."""
    found: list[tuple[str, Any]] = []
    for plugin in report["pluginReports"]:
        if plugin["pluginName"] == "Construct Annotations":
            found += [
                (plugin["pluginName"], v["ruleName"])
                for v in plugin["violations"]
                if v["severity"] != "warning" or not v["ruleName"].startswith("Annotation::inferentia-cdk:")
            ]
        elif plugin["violations"]:
            found.append((plugin["pluginName"], plugin["violations"]))
    return found


def test_cdk_nag_reports_nothing_unacknowledged(gated_app: Synthesized) -> None:
    report = _validation_report(gated_app)
    assert {r["pluginName"] for r in report["pluginReports"]} >= {NAG_PACK}
    assert unacknowledged_findings(report) == []
    assert set(gated_app.templates) == {"InferentiaCluster", "InferentiaApis"}


def test_every_cdk_nag_acknowledgement_is_still_needed(gated_app: Synthesized) -> None:
    """stacks/nag.py acknowledges findings on constructs; one whose finding is gone is stale."""
    root = gated_app.stacks["cluster"].node.root
    acknowledged = {
        (rule, construct.node.path)
        for construct in root.node.find_all()
        for entry in construct.node.metadata
        if entry.type == "aws:cdk:acknowledged-rules"
        for rule in entry.data
        if rule.startswith(f"{NAG_PACK}::")
    }
    assert acknowledged, "stacks/nag.py acknowledges aws-cdk-lib's findings"
    suppressed = {
        (violation["acknowledgedId"], violation["acknowledgedAt"])
        for report in _validation_report(gated_app)["pluginReports"]
        for violation in report.get("suppressedViolations", [])
    }
    assert sorted(acknowledged - suppressed) == []


def _log_group_of(function_id: str, function: dict[str, Any], resources: dict[str, Any]) -> dict[str, Any] | None:
    """The template's log group that a Lambda function writes to: the one its LoggingConfig names, or else Lambda's
    default, /aws/lambda/<function name>."""
    named = function["Properties"].get("LoggingConfig", {}).get("LogGroup")
    default_name = {"Fn::Join": ["", ["/aws/lambda/", {"Ref": function_id}]]}
    for logical_id, resource in resources.items():
        if resource["Type"] == "AWS::Logs::LogGroup" and (
            named == {"Ref": logical_id} if named else resource["Properties"].get("LogGroupName") == default_name
        ):
            return resource
    return None


def test_every_lambda_function_logs_to_a_kms_encrypted_log_group_of_its_stack(gated_app: Synthesized) -> None:
    """checkov judges only the log groups a template has; a function without one logs to a group Lambda creates,
    unencrypted and kept forever."""
    unencrypted = [
        f"{stack}/{logical_id}"
        for stack, template in gated_app.templates.items()
        for logical_id, resource in template["Resources"].items()
        if resource["Type"] == "AWS::Lambda::Function"
        and "KmsKeyId" not in ((_log_group_of(logical_id, resource, template["Resources"]) or {}).get("Properties", {}))
    ]
    assert unencrypted == []


def _cfn_lint_findings(app: Synthesized) -> list[dict[str, str]]:
    from cfnlint.api import ManualArgs, lint_file

    return [
        {"stack": name, "rule": match.rule.id, "path": "/".join(map(str, match.path)), "message": match.message}
        for name in app.templates
        for match in lint_file(app.outdir / f"{name}.template.json", ManualArgs(regions=["us-east-1"]))
    ]


@pytest.fixture(scope="module")
def every_app(request: pytest.FixtureRequest) -> dict[str, Synthesized]:
    """The examples and the synth matrix (conftest.ALL_APPS), by name."""
    return {name: request.getfixturevalue(f"{name}_app") for name in ALL_APPS}


@pytest.fixture(scope="module")
def cfn_lint_findings(every_app: dict[str, Synthesized]) -> list[dict[str, str]]:
    return [finding for app in every_app.values() for finding in _cfn_lint_findings(app)]


def _accepts(accepted: dict[str, str], finding: dict[str, str]) -> bool:
    return accepted["rule"] == finding["rule"] and bool(re.search(accepted["path"], finding["path"]))


def test_cfn_lint_finds_nothing_beyond_the_accepted_warnings(cfn_lint_findings: list[dict[str, str]]) -> None:
    assert [a["rule"] for a in CFN_LINT_ACCEPTED if not a["rule"].startswith("W")] == [], "errors are never accepted"
    unexpected = [
        f"{f['stack']}: {f['rule']} {f['message']} ({f['path']})"
        for f in cfn_lint_findings
        if not any(_accepts(a, f) for a in CFN_LINT_ACCEPTED)
    ]
    assert unexpected == []


def test_every_accepted_cfn_lint_warning_is_still_needed(cfn_lint_findings: list[dict[str, str]]) -> None:
    stale = [
        f"{a['rule']} {a['path']}" for a in CFN_LINT_ACCEPTED if not any(_accepts(a, f) for f in cfn_lint_findings)
    ]
    assert stale == []


def test_kubernetes_objects_are_valid_for_the_cluster_version(gated_app: Synthesized) -> None:
    version = gated_app.stacks["cluster"].config.cluster.kubernetes_version
    objects = gated_app.kubernetes_objects()
    assert objects, "the app renders Kubernetes objects"
    failures = []
    for obj in objects:
        # Custom resources against their CRD's fields; kubernetes-validate knows only Kubernetes' own kinds.
        try:
            validate_kubernetes_object(obj, version)
        except (kubernetes_validate.ValidationError, jsonschema.ValidationError) as error:
            failures.append(f"{obj['kind']}/{obj['metadata'].get('name')}: {error.message}")
    assert failures == []


def test_crd_schemas_refuse_unknown_fields() -> None:
    binding = CRD_SCHEMAS[("elbv2.k8s.aws/v1beta1", "TargetGroupBinding")]
    valid = {
        "apiVersion": "elbv2.k8s.aws/v1beta1",
        "kind": "TargetGroupBinding",
        "metadata": {"name": "api", "namespace": "api"},
        "spec": {"targetGroupARN": "arn", "serviceRef": {"name": "api", "port": 8080}},
    }
    jsonschema.validate(valid, binding)
    typo = {**valid, "spec": {**valid["spec"], "targetGroupArn": "arn"}}
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(typo, binding)


def _checkov(directory: Path, framework: str) -> list[dict[str, Any]]:
    completed = subprocess.run(
        [str(CHECKOV), "-d", str(directory), "--framework", framework, "--skip-download", "--quiet", "-o", "json"],
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    if not completed.stdout.strip():
        raise AssertionError(f"checkov printed nothing (exit {completed.returncode}): {completed.stderr[-2000:]}")
    reports = json.loads(completed.stdout)
    reports = reports if isinstance(reports, list) else [reports]
    return [
        {"check": f["check_id"], "resource": f["resource"], "name": f["check_name"], "framework": framework}
        for report in reports
        if isinstance(report, dict) and "results" in report
        for f in report["results"]["failed_checks"]
    ]


@pytest.fixture(scope="module")
def checkov_findings(
    every_app: dict[str, Synthesized], tmp_path_factory: pytest.TempPathFactory
) -> list[dict[str, Any]]:
    """One checkov run per framework over every app: its start-up costs seconds."""
    if not CHECKOV.exists():
        pytest.fail(f"checkov is not installed at {CHECKOV}; run `make test`, which installs it")
    templates = tmp_path_factory.mktemp("checkov-cfn")
    manifests = tmp_path_factory.mktemp("checkov-k8s")
    for app_name, app in every_app.items():
        for stack, template in app.templates.items():
            (templates / f"{app_name}-{stack}.template.json").write_text(json.dumps(template))
        for i, obj in enumerate(app.kubernetes_objects()):
            (manifests / f"{app_name}-{i:03d}-{obj['kind']}.yaml").write_text(yaml.safe_dump(obj))
    return _checkov(templates, "cloudformation") + _checkov(manifests, "kubernetes")


def _skips() -> list[dict[str, str]]:
    skips: list[dict[str, str]] = yaml.safe_load(SKIPS_FILE.read_text())
    for skip in skips:
        assert set(skip) == {"check", "resource", "reason"}, skip
        assert len(skip["reason"]) > 40, f"give {skip['check']} a real reason"
    return skips


def _matches(skip: dict[str, str], finding: dict[str, Any]) -> bool:
    return bool(re.fullmatch(skip["check"], finding["check"]) and re.search(skip["resource"], finding["resource"]))


def test_checkov_finds_nothing_beyond_the_skip_list(checkov_findings: list[dict[str, Any]]) -> None:
    skips = _skips()
    unexpected = [
        f"{f['check']} on {f['resource']}: {f['name']}"
        for f in checkov_findings
        if not any(_matches(s, f) for s in skips)
    ]
    assert unexpected == []


def test_every_checkov_skip_is_still_needed(checkov_findings: list[dict[str, Any]]) -> None:
    stale = [f"{s['check']} {s['resource']}" for s in _skips() if not any(_matches(s, f) for f in checkov_findings)]
    assert stale == []


def test_the_bundled_example_synthesizes_without_a_warning(default_app: Synthesized) -> None:
    # examples/inferentia.yaml acknowledges its inf1 warning (NG006) with its reason: a newcomer's first synth is clean.
    annotations = [
        violation
        for plugin in _validation_report(default_app)["pluginReports"]
        if plugin["pluginName"] == "Construct Annotations"
        for violation in plugin["violations"]
    ]
    assert annotations == []


def test_synth_shows_each_warning_validate_shows_once(full_app: Synthesized) -> None:
    # examples/full.yaml: inf1's legacy driver (NG006, reported by its node group) and inf2-spot, whose two APIs do not
    # fit it together at full load (CAP503, which no single construct sees: reported on the cluster stack).
    annotations = [
        violation
        for plugin in _validation_report(full_app)["pluginReports"]
        if plugin["pluginName"] == "Construct Annotations"
        for violation in plugin["violations"]
        if violation["severity"] == "warning"
    ]
    codes = sorted(re.search(r"\[([A-Z]+[0-9]+)\]", v["description"])[1] for v in annotations)  # type: ignore[index]
    assert codes == ["CAP503", "NG006"], annotations
