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


@pytest.fixture(scope="session")
def llm_app(tmp_path_factory: pytest.TempPathFactory) -> Synthesized:
    """examples/llm.yaml: vLLM engines on inf2 and trn1 reading their models from S3 through Mountpoint."""
    return synthesize(EXAMPLES / "llm.yaml", tmp_path_factory.mktemp("llm-cdk.out"))


@pytest.fixture(scope="session", params=["default", "full", "llm"])
def any_app(request: pytest.FixtureRequest) -> Synthesized:
    app: Synthesized = request.getfixturevalue(f"{request.param}_app")
    return app


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "gate: compliance gates that every change keeps green")
