"""Gates every change keeps green: cdk-nag, cfn-lint, kubernetes-validate and checkov on both example apps.

cdk-nag runs inside the session fixtures' synth (`build_app(nag=True)`): any unacknowledged finding fails it.
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml
from crd_schemas import CRD_SCHEMAS
from synth_support import ROOT, Synthesized

pytestmark = pytest.mark.gate

CHECKOV = ROOT / ".venv-checkov" / "bin" / "checkov"
SKIPS_FILE = Path(__file__).with_name("checkov_skips.yaml")

# cfn-lint warnings accepted on aws-cdk-lib's output, each with why. Errors are never accepted.
CFN_LINT_IGNORED = {
    # aws-cdk-lib adds explicit DependsOn next to Ref/GetAtt (cluster subnets, provider roles); harmless duplicates.
    "W3005",
}


def test_cdk_nag_reports_nothing_unacknowledged(any_app: Synthesized) -> None:
    report = json.loads((any_app.outdir / "validation-report.json").read_text())
    assert {r["pluginName"] for r in report["pluginReports"]} >= {"AwsSolutions"}
    assert [(r["pluginName"], r["violations"]) for r in report["pluginReports"] if r["violations"]] == []
    assert set(any_app.templates) == {"InferentiaCluster", "InferentiaApis"}


def test_cfn_lint_finds_no_errors(any_app: Synthesized) -> None:
    from cfnlint.api import ManualArgs, lint_file

    findings = []
    for name in any_app.templates:
        path = any_app.outdir / f"{name}.template.json"
        for match in lint_file(path, ManualArgs(regions=["us-east-1"])):
            if match.rule.id not in CFN_LINT_IGNORED:
                findings.append(f"{name}: {match.rule.id} {match.message} ({'/'.join(map(str, match.path))})")
    assert findings == []


def test_kubernetes_objects_are_valid_for_the_cluster_version(any_app: Synthesized) -> None:
    version = any_app.stacks["cluster"].config.cluster.kubernetes_version
    objects = any_app.kubernetes_objects()
    assert objects, "the app renders Kubernetes objects"
    failures = []
    for obj in objects:
        # Custom resources against their CRD's fields; kubernetes-validate knows only Kubernetes' own kinds.
        crd_schema = CRD_SCHEMAS.get((obj["apiVersion"], obj["kind"]))
        try:
            if crd_schema is not None:
                jsonschema.validate(obj, crd_schema)
            else:
                kubernetes_validate.validate(obj, version, strict=True)
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
    default_app: Synthesized, full_app: Synthesized, tmp_path_factory: pytest.TempPathFactory
) -> list[dict[str, Any]]:
    """One checkov run per framework over both apps: its start-up costs seconds."""
    if not CHECKOV.exists():
        pytest.fail(f"checkov is not installed at {CHECKOV}; run `make test`, which installs it")
    templates = tmp_path_factory.mktemp("checkov-cfn")
    manifests = tmp_path_factory.mktemp("checkov-k8s")
    for app_name, app in (("default", default_app), ("full", full_app)):
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
