"""`npx cdk` as CDK users type it: from the project root, with no virtualenv activated and nothing exported."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from synth_support import ROOT


def _bare_environment() -> dict[str, str]:
    """A shell's environment as a user has it: no virtualenv on PATH, no JSII_NODE, no PYTHONPATH."""
    venv = (ROOT / ".venv").resolve()
    path = os.pathsep.join(
        p for p in os.environ["PATH"].split(os.pathsep) if p and not Path(p).resolve().is_relative_to(venv)
    )
    return {"HOME": os.environ.get("HOME", "/root"), "PATH": path, "AWS_EC2_METADATA_DISABLED": "true"}


@pytest.fixture(scope="module")
def bare_synth(tmp_path_factory: pytest.TempPathFactory) -> tuple[subprocess.CompletedProcess[str], Path]:
    outdir = tmp_path_factory.mktemp("npx-cdk.out")
    completed = subprocess.run(
        ["npx", "--no-install", "cdk", "synth", "--quiet", "--output", str(outdir)],
        cwd=ROOT,
        env=_bare_environment(),
        capture_output=True,
        text=True,
        timeout=600,
    )
    return completed, outdir


def test_npx_cdk_synth_works_without_an_activated_virtualenv(
    bare_synth: tuple[subprocess.CompletedProcess[str], Path],
) -> None:
    completed, outdir = bare_synth
    assert completed.returncode == 0, completed.stderr[-3000:]
    assert "Traceback" not in completed.stderr
    assert sorted(p.name for p in outdir.glob("*.template.json")) == [
        "InferentiaApis.template.json",
        "InferentiaCluster.template.json",
    ]


def test_the_app_runs_jsii_on_the_pinned_node_without_being_told(tmp_path: Path) -> None:
    # Run as the CDK CLI runs it, minus the CLI (which hides jsii's Node end-of-life banner).
    env = _bare_environment() | {"CDK_OUTDIR": str(tmp_path), "CDK_CONTEXT_JSON": '{"nag": "false"}'}
    completed = subprocess.run(
        [str(ROOT / ".venv" / "bin" / "python"), "app.py"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    assert "end-of-life" not in completed.stderr
