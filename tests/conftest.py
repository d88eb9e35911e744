"""Session fixtures: each example app is synthesized once for the whole run (jsii start-up dominates test time)."""

from __future__ import annotations

import inspect
import os
import re
from typing import Any

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


@pytest.fixture(scope="session")
def llm_app(tmp_path_factory: pytest.TempPathFactory) -> Synthesized:
    """examples/llm.yaml: vLLM engines on inf2 and trn1 reading their models from S3 through Mountpoint."""
    return synthesize(EXAMPLES / "llm.yaml", tmp_path_factory.mktemp("llm-cdk.out"))


MATRIX = ROOT / "tests" / "matrix"
MATRIX_APPS = {"internal_default": "internal-default-cidrs.yaml", "internal_explicit": "internal-explicit-cidrs.yaml"}
"""The synth matrix beside the two examples (tests/stacks/test_synth_matrix.py asserts that together they cover every
default and every switch): each config synthesized once per run, like the examples."""
ALL_APPS = ["default", "full", "llm", *MATRIX_APPS]


@pytest.fixture(scope="session")
def internal_default_app(tmp_path_factory: pytest.TempPathFactory) -> Synthesized:
    """tests/matrix/internal-default-cidrs.yaml: trn1 and trn2, an internal load balancer with the default sources."""
    return synthesize(MATRIX / MATRIX_APPS["internal_default"], tmp_path_factory.mktemp("internal-default-cdk.out"))


@pytest.fixture(scope="session")
def internal_explicit_app(tmp_path_factory: pytest.TempPathFactory) -> Synthesized:
    """tests/matrix/internal-explicit-cidrs.yaml: inf2, an internal load balancer with explicit sources."""
    return synthesize(MATRIX / MATRIX_APPS["internal_explicit"], tmp_path_factory.mktemp("internal-explicit-cdk.out"))


@pytest.fixture(scope="session", params=["default", "full", "llm"])
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
    config.addinivalue_line("markers", "synth: builds or synthesizes a CDK app (left out by `make test-fast`)")


# `make test-fast` runs the tests that start no CDK app: a test is marked `synth` when it, a fixture it uses, or a
# function of its module that either calls, builds or synthesizes one (in process or through a child process), so new
# tests are sorted without a list to keep.
_STARTS_AN_APP = re.compile(
    r"\bsynthesize\(|\bcdk\.App\(|\bApp\(\)|\bbuild_app|\bStack\(|app\.py|\bnpx\b|_run_blocks\(|_app\b"
)


def _source(function: object) -> str:
    try:
        return inspect.getsource(function)  # type: ignore[arg-type]
    except (OSError, TypeError):
        return ""


def _app_starters(module: Any) -> set[str]:
    """Names of the module's own functions that start an app, directly or through another one of them."""
    functions = {
        name: _source(value)
        for name, value in vars(module).items()
        if inspect.isfunction(value) and value.__module__ == module.__name__
    }
    starters = {name for name, source in functions.items() if _STARTS_AN_APP.search(source)}
    while True:
        called = re.compile(r"\b(" + "|".join(map(re.escape, starters)) + r")\(") if starters else None
        more = {n for n, source in functions.items() if n not in starters and called and called.search(source)}
        if not more:
            return starters
        starters |= more


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    starters_of: dict[str, set[str]] = {}
    for item in items:
        module = getattr(item, "module", None)
        if module is None:
            continue
        starters = starters_of.setdefault(module.__name__, _app_starters(module))
        functions: list[object] = [getattr(item, "function", None)]
        fixture_info = getattr(item, "_fixtureinfo", None)
        if fixture_info is not None:
            for name in item.fixturenames:  # type: ignore[attr-defined]
                functions += [definition.func for definition in fixture_info.name2fixturedefs.get(name, ())]
        sources = [_source(f) for f in functions if f is not None]
        calls = re.compile(r"\b(" + "|".join(map(re.escape, starters)) + r")\(") if starters else None
        if any(_STARTS_AN_APP.search(src) or (calls and calls.search(src)) for src in sources):
            item.add_marker(pytest.mark.synth)
