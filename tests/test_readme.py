"""The README's Python examples run as written, in order, in one namespace (later examples reuse `stack` and
`cluster` from the first), from the examples folder (the last one loads inferentia.yaml)."""

from __future__ import annotations

import re
import subprocess
import sys

from synth_support import EXAMPLES, ROOT

RUNNER = """
import sys
namespace = {"__name__": "readme"}
for number, block in enumerate(sys.stdin.read().split("\\0")):
    try:
        exec(compile(block, f"README python block {number + 1}", "exec"), namespace)
    except Exception as error:
        raise SystemExit(f"README python block {number + 1} failed: {type(error).__name__}: {error}")
"""


def test_readme_python_examples_run() -> None:
    blocks = re.findall(r"```python\n(.*?)```", (ROOT / "README.md").read_text(), flags=re.DOTALL)
    assert len(blocks) >= 4
    completed = subprocess.run(
        [sys.executable, "-c", RUNNER],
        input="\0".join(blocks),
        cwd=EXAMPLES,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    assert "2 L-1945791B" in completed.stdout
