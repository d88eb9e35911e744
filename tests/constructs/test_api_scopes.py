"""Each API's constructs live in a scope of their own: no API name can collide with another API's constructs, with a
nested stack, or with CDK's own output ids."""

from __future__ import annotations

from typing import Any

import pytest

from inferentia_cdk.config.models import InferentiaConfig
from inferentia_cdk.planning.endpoints import output_id
from inferentia_cdk.planning.placement import shard_of


def _same_shard_as(suffix: str) -> str:
    """A name that lands in the shard of the name with ``suffix`` added, the case where their ids collided."""
    return next(name for name in (f"a{i}" for i in range(10_000)) if shard_of(name) == shard_of(f"{name}{suffix}"))


def _in_shard(shard: int) -> str:
    return next(name for name in (f"s{i}" for i in range(10_000)) if shard_of(name) == shard)


@pytest.fixture(scope="module")
def colliding_names() -> list[str]:
    monitored, exposed = _same_shard_as("-monitoring"), _same_shard_as("-endpoint")
    # shard00: an exposed API whose output used to be the id of the nested stack Shard00, which _in_shard(0) makes.
    return [monitored, f"{monitored}-monitoring", exposed, f"{exposed}-endpoint", "shard00", _in_shard(0)]


def _config(names: list[str]) -> InferentiaConfig:
    api: dict[str, Any] = {"node_group": "inf2", "image": "public.ecr.aws/example/m:1.0"}
    return InferentiaConfig.model_validate(
        {
            "cluster": {"region": "us-east-1"},
            "node_groups": [{"name": "inf2", "instance_types": ["inf2.xlarge"], "max_size": 6}],
            "apis": [{"name": name, **api} for name in names],
            "endpoints": {"scheme": "internal"},
            "observability": {"container_insights": True},
        }
    )


def test_api_names_that_collided_with_other_apis_constructs_or_a_nested_stack_build(colliding_names: list[str]) -> None:
    from inferentia_cdk.stacks.app import build_app

    _, _, apis_stack = build_app(_config(colliding_names), nag=False)
    assert set(apis_stack.apis) == set(colliding_names)
    assert set(apis_stack.endpoints) == set(colliding_names)
    assert set(apis_stack.monitoring) == set(colliding_names)
    assert 0 in apis_stack.shards
    for name in colliding_names:
        api = apis_stack.apis[name]
        assert api.node.scope is apis_stack.monitoring[name].node.scope is apis_stack.endpoints[name].node.scope
        assert api.node.scope is not None and api.node.scope.node.id == name


@pytest.mark.parametrize(
    "name", ["shard00", "shard31", "bootstrap-version", "check-bootstrap-version", "c-d-k-metadata"]
)
def test_url_outputs_never_take_a_nested_stack_or_cdk_id(name: str) -> None:
    assert output_id(name) not in {"Shard00", "Shard31", "BootstrapVersion", "CheckBootstrapVersion", "CDKMetadata"}
    assert output_id(name).endswith("Url")
