"""The wheel: `pip wheel .` builds, and the installed package imports beside the `constructs` library."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from synth_support import ROOT


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", ".", "--no-deps", "--no-build-isolation", "-q", "-w", str(out)],
        cwd=ROOT,
        check=True,
        capture_output=True,
        timeout=300,
    )
    (path,) = out.glob("inferentia_cdk-*.whl")
    return path


def test_wheel_ships_the_package_data(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    assert "inferentia_cdk/py.typed" in names
    assert "inferentia_cdk/constructs/__init__.py" in names
    assert "inferentia_cdk/stacks/cluster_stack.py" in names
    assert not any(name.startswith(("constructs/", "tests/", "bench/")) for name in names)
    entry_points = next(n for n in names if n.endswith("entry_points.txt"))
    assert "inferentia-cdk = inferentia_cdk.cli.main:main" in zipfile.ZipFile(wheel).read(entry_points).decode()


def test_installed_wheel_imports_next_to_constructs(wheel: Path, tmp_path: Path) -> None:
    target = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(target)
    code = (
        "import sys; sys.path.insert(0, sys.argv[1]); "
        "from constructs import Construct; import inferentia_cdk; "
        "assert inferentia_cdk.__file__.startswith(sys.argv[1]), inferentia_cdk.__file__; "
        "assert 'aws_cdk' not in sys.modules, 'import inferentia_cdk must not start jsii'; "
        "assert inferentia_cdk.InferentiaClusterStack.__name__ == 'InferentiaClusterStack'; "
        "assert 'botocore' not in sys.modules, 'only a quota check that runs may load the AWS SDK'; "
        "print(Construct.__module__)"
    )
    completed = subprocess.run(
        [sys.executable, "-c", code, str(target)], cwd=tmp_path, capture_output=True, text=True, timeout=120
    )
    assert completed.returncode == 0, completed.stderr
    assert completed.stdout.strip() == "constructs"
