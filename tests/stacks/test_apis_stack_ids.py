"""The APIs stack keeps every logical id, and every resource its properties, across changes to how its constructs are
built: a changed logical id would make CloudFormation delete and re-create an API's objects on the cluster (and its
dashboard and alarms).

Record the fixture again (only when a change of ids or properties is meant, and said in docs/upgrading.md) with
``.venv/bin/python tests/stacks/test_apis_stack_ids.py``.
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path
from typing import Any

import pytest

TESTS = Path(__file__).resolve().parents[1]
FIXTURE = TESTS / "fixtures" / "apis_stack_resources_before_subclassing.json"
"""Per template of the APIs stack (its own and each nested one's, by file name) of examples/inferentia.yaml, full.yaml
and llm.yaml: logical id -> resource type and a digest of its properties and dependencies, and the output ids. Recorded
from main at 56d1557, when InferentiaApi and ApiMonitoring held their manifest and dashboard as a child ``Default``,
before they became the manifest and the dashboard themselves."""
EXAMPLES = {"default_app": "inferentia", "full_app": "full", "llm_app": "llm"}


def _digest(value: Any) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True).encode()).hexdigest()[:16]


def apis_stack_resources(outdir: Path) -> dict[str, Any]:
    """What the fixture records of one synthesized app: the APIs stack's templates, resource by resource.

    A nested stack's ``TemplateURL`` names the asset hash of its template, which the version-reporting metadata in
    that template changes with the construct classes used; the nested template's resources are compared themselves.
    """
    recorded: dict[str, Any] = {}
    for path in sorted(outdir.glob("InferentiaApis*.template.json")):
        template = json.loads(path.read_text())
        stem = path.name.removesuffix(".template.json")
        resources = {}
        for logical_id, resource in template.get("Resources", {}).items():
            if resource["Type"] == "AWS::CDK::Metadata":
                continue
            properties = dict(resource.get("Properties", {}))
            if resource["Type"] == "AWS::CloudFormation::Stack":
                properties.pop("TemplateURL", None)
            resources[logical_id] = {
                "type": resource["Type"],
                "properties": _digest([properties, resource.get("DependsOn", [])]),
            }
        recorded[stem] = resources
        recorded[f"{stem}#outputs"] = sorted(template.get("Outputs", {}))
    return recorded


@pytest.mark.parametrize("fixture", list(EXAMPLES))
def test_the_apis_stack_keeps_every_logical_id_output_and_property(
    fixture: str, request: pytest.FixtureRequest
) -> None:
    app = request.getfixturevalue(fixture)
    before = json.loads(FIXTURE.read_text())[EXAMPLES[fixture]]
    now = apis_stack_resources(app.outdir)
    assert set(now) == set(before)
    for template, resources in before.items():
        if template.endswith("#outputs"):
            assert now[template] == resources, template
            continue
        assert set(now[template]) == set(resources), template
        changed = {
            logical_id: (resources[logical_id], now[template][logical_id])
            for logical_id in resources
            if now[template][logical_id] != resources[logical_id]
        }
        assert changed == {}, template


def _record() -> None:
    sys.path.insert(0, str(TESTS))
    import tempfile

    import conftest  # noqa: F401  (the pinned Node and the test environment)
    from synth_support import EXAMPLES as EXAMPLE_DIR
    from synth_support import synthesize

    recorded = {}
    with tempfile.TemporaryDirectory() as scratch:
        for example in EXAMPLES.values():
            outdir = Path(scratch) / example
            synthesize(EXAMPLE_DIR / f"{example}.yaml", outdir)
            recorded[example] = apis_stack_resources(outdir)
    FIXTURE.write_text(json.dumps(recorded, indent=1, sort_keys=True) + "\n")


if __name__ == "__main__":
    _record()
