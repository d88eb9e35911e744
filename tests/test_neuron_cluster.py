"""NeuronCluster and NeuronCapacity: the app's templates keep every logical id, and both entry points work in a stack
of the user's own."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from synth_support import Synthesized

FIXTURE = Path(__file__).parent / "fixtures" / "logical_ids_before_neuron_cluster.json"
"""Logical id -> resource type of every template, and the output ids, of both examples as synthesized by the commit
before the cluster stack became a NeuronCluster (main at dee9d43)."""


def _before(example: str, stack: str) -> tuple[dict[str, str], list[str]]:
    recorded = json.loads(FIXTURE.read_text())
    return recorded[f"{example}/{stack}"], recorded[f"{example}/{stack}#outputs"]


@pytest.mark.parametrize("fixture", ["default_app", "full_app"])
def test_the_cluster_stack_keeps_every_logical_id_and_output(fixture: str, request: pytest.FixtureRequest) -> None:
    """A changed logical id would make CloudFormation replace the running EKS cluster, its node groups or its VPC."""
    app: Synthesized = request.getfixturevalue(fixture)
    example = {"default_app": "inferentia", "full_app": "full"}[fixture]
    resources, outputs = _before(example, "InferentiaCluster")
    template = app.template("Cluster")
    now = {logical_id: r["Type"] for logical_id, r in template["Resources"].items()}
    missing = {logical_id: kind for logical_id, kind in resources.items() if now.get(logical_id) != kind}
    assert missing == {}
    assert set(outputs) <= set(template.get("Outputs", {}))


def _values(value: Any, path: str = "") -> list[tuple[str, str]]:
    if isinstance(value, str):
        return [(path, value)]
    if isinstance(value, dict):
        return [found for key, item in value.items() for found in _values(item, f"{path}/{key}")]
    if isinstance(value, list):
        return [found for i, item in enumerate(value) for found in _values(item, f"{path}[{i}]")]
    return []


def test_no_deployed_value_names_the_default_segment(any_app: Synthesized) -> None:
    """Name tags and descriptions that aws-cdk-lib derives from construct paths are what they were before the
    NeuronCluster named Default: a new Name on the Bottlerocket launch template would roll every node of its group."""
    template = any_app.template("Cluster")
    found = [
        (logical_id, path, value)
        for logical_id, resource in template["Resources"].items()
        for path, value in _values(resource.get("Properties", {}))
        if "/Default/" in f"{value}/" and "InferentiaCluster/" in value
    ]
    assert found == []
