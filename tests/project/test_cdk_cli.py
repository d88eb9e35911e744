"""`npx cdk` as CDK users type it: from the project root, with no virtualenv activated and nothing exported.

tests/stacks/test_gates.py's `cli_outdir` runs `npx cdk synth` in such an environment; this module checks what that run
cannot see.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

from synth_support import ROOT, bare_environment


def test_the_app_runs_jsii_on_the_pinned_node_without_being_told(tmp_path: Path) -> None:
    # Run as the CDK CLI runs it, minus the CLI (which hides jsii's Node end-of-life banner).
    env = bare_environment() | {"CDK_OUTDIR": str(tmp_path), "CDK_CONTEXT_JSON": '{"nag": "false"}'}
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
