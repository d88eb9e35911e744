"""The README's Python examples run as written, in order, in one namespace (later examples reuse `stack` and
`cluster` from the first), from the examples folder (the last one loads inferentia.yaml)."""

from __future__ import annotations

import importlib.util
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


def test_readme_names_only_modules_and_files_that_exist() -> None:
    text = (ROOT / "README.md").read_text()
    dotted = set(re.findall(r"\binferentia_cdk(?:\.[a-z_]+)+", text))
    for name in sorted(dotted):
        # the longest prefix that is a module; the rest are attributes of it
        parts = name.split(".")
        module = next(".".join(parts[:end]) for end in range(len(parts), 0, -1) if _is_module(".".join(parts[:end])))
        value: object = importlib.import_module(module)
        for attribute in parts[len(module.split(".")) :]:
            assert hasattr(value, attribute), f"README names {name}, but {module} has no {attribute}"
            value = getattr(value, attribute)
    for path in sorted(set(re.findall(r"`((?:inferentia_cdk|tests|bench|examples)/[\w./]+)`", text))):
        assert (ROOT / path).exists(), f"README names {path}, which does not exist"


def _is_module(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except ModuleNotFoundError:
        return False
