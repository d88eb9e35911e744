"""Session fixtures: each example app is synthesized once for the whole run (jsii start-up dominates test time)."""

from __future__ import annotations

import os

import pytest
from synth_support import EXAMPLES, ROOT, Synthesized, synthesize

# jsii refuses to stay quiet on end-of-life Node; the Makefile points it at the pinned Node 22 from package.json.
_PINNED_NODE = ROOT / "node_modules" / "node" / "bin" / "node"
if "JSII_NODE" not in os.environ and _PINNED_NODE.exists():
    os.environ["JSII_NODE"] = str(_PINNED_NODE)

# Tests never reach AWS: no credentials from the machine, a fixed region.
for _name in ("AWS_PROFILE", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
    os.environ.pop(_name, None)
os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
os.environ["AWS_EC2_METADATA_DISABLED"] = "true"


@pytest.fixture(scope="session")
def default_app(tmp_path_factory: pytest.TempPathFactory) -> Synthesized:
    """examples/inferentia.yaml, the app `make synth` deploys."""
    return synthesize(EXAMPLES / "inferentia.yaml", tmp_path_factory.mktemp("default-cdk.out"))


@pytest.fixture(scope="session")
def full_app(tmp_path_factory: pytest.TempPathFactory) -> Synthesized:
    """examples/full.yaml: two families, Bottlerocket, spot, scheduler extension and monitor on."""
    return synthesize(EXAMPLES / "full.yaml", tmp_path_factory.mktemp("full-cdk.out"))


MATRIX = ROOT / "tests" / "matrix"
MATRIX_APPS = {"internal_default": "internal-default-cidrs.yaml", "internal_explicit": "internal-explicit-cidrs.yaml"}
"""The synth matrix beside the two examples (tests/test_synth_matrix.py asserts that together they cover every
default and every switch): each config synthesized once per run, like the examples."""
ALL_APPS = ["default", "full", *MATRIX_APPS]


@pytest.fixture(scope="session")
def internal_default_app(tmp_path_factory: pytest.TempPathFactory) -> Synthesized:
    """tests/matrix/internal-default-cidrs.yaml: trn1 and trn2, an internal load balancer with the default sources."""
    return synthesize(MATRIX / MATRIX_APPS["internal_default"], tmp_path_factory.mktemp("internal-default-cdk.out"))


@pytest.fixture(scope="session")
def internal_explicit_app(tmp_path_factory: pytest.TempPathFactory) -> Synthesized:
    """tests/matrix/internal-explicit-cidrs.yaml: inf2, an internal load balancer with explicit sources."""
    return synthesize(MATRIX / MATRIX_APPS["internal_explicit"], tmp_path_factory.mktemp("internal-explicit-cdk.out"))


@pytest.fixture(scope="session", params=["default", "full"])
def any_app(request: pytest.FixtureRequest) -> Synthesized:
    app: Synthesized = request.getfixturevalue(f"{request.param}_app")
    return app


@pytest.fixture(scope="session", params=ALL_APPS)
def gated_app(request: pytest.FixtureRequest) -> Synthesized:
    """Every app the gates check: the examples and the synth matrix."""
    app: Synthesized = request.getfixturevalue(f"{request.param}_app")
    return app


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "gate: compliance gates that every change keeps green")
