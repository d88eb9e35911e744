"""The import contracts in pyproject.toml hold for the package, and a deliberate violation of each one fails them."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from synth_support import ROOT

LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")
LAYERS, PURE = (
    c["name"] for c in tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]["contracts"]
)


def _lint_imports(package_parent: Path) -> subprocess.CompletedProcess[str]:
    # PYTHONPATH first on sys.path, so grimp analyses the copy under package_parent rather than the installed package.
    return subprocess.run(
        [str(LINT_IMPORTS), str(ROOT / "pyproject.toml"), "--no-cache"],
        cwd=package_parent,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(package_parent)},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_the_package_keeps_its_contracts(tmp_path: Path) -> None:
    shutil.copytree(ROOT / "inferentia_cdk", tmp_path / "inferentia_cdk", ignore=shutil.ignore_patterns("__pycache__"))
    completed = _lint_imports(tmp_path)
    assert completed.returncode == 0, completed.stdout + completed.stderr
    assert "2 kept, 0 broken" in completed.stdout


@pytest.mark.parametrize(
    ("module", "line", "broken"),
    [
        # the config contract reaching up into a renderer
        ("config/models.py", "from ..manifests import api as _upward", LAYERS),
        # a pure renderer loading the CDK
        ("manifests/api.py", "import aws_cdk as _cdk", PURE),
        # the CLI loading the stacks (and so jsii) would make `validate` slow
        ("cli/main.py", "from ..stacks import app as _stacks", LAYERS),
    ],
)
def test_a_violation_fails_the_contracts(tmp_path: Path, module: str, line: str, broken: str) -> None:
    copy = tmp_path / "inferentia_cdk"
    shutil.copytree(ROOT / "inferentia_cdk", copy, ignore=shutil.ignore_patterns("__pycache__"))
    target = copy / module
    target.write_text(target.read_text() + f"\n{line}  # noqa\n")
    completed = _lint_imports(tmp_path)
    assert completed.returncode != 0
    assert f"{broken} BROKEN" in " ".join(completed.stdout.split()), completed.stdout  # lint-imports wraps lines
