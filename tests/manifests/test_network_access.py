"""Who may reach what, as the config says it and as the renderers write it (issue 19, item 9):
apis[].allowed_namespaces, the load balancer's egress ports (EP250), the APIs' NetworkPolicies and KEDA's Secrets.
Pure: nothing synthesized."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from inferentia_cdk.config.models import MAX_ALLOWED_NAMESPACES, ApiSpec
from inferentia_cdk.config.problems import ConfigError, Problem
from inferentia_cdk.manifests.api import network_policy
from inferentia_cdk.manifests.endpoint import EndpointTarget
from inferentia_cdk.manifests.scaling import keda_values
from inferentia_cdk.planning.endpoints import MAX_SECURITY_GROUP_RULES
from inferentia_cdk.planning.loader import load_config, parse_config

API = {"name": "bert", "node_group": "inf2", "image": "public.ecr.aws/example/bert:1.0"}


def _config(*apis: dict[str, Any], endpoints: bool = True) -> dict[str, Any]:
    data: dict[str, Any] = {
        "cluster": {"region": "us-east-1"},
        "node_groups": [{"name": "inf2", "instance_types": ["inf2.xlarge"], "max_size": 2}],
        "apis": list(apis) or [API],
    }
    if endpoints:
        data["endpoints"] = {"scheme": "internal"}
    return data


def _errors(data: dict[str, Any]) -> list[Problem]:
    _, problems = parse_config(data)
    return [p for p in problems if p.severity == "error"]


@pytest.mark.parametrize(
    ("value", "path"),
    [
        ([], ("apis", 0, "allowed_namespaces")),
        ("frontend", ("apis", 0, "allowed_namespaces")),
        (["frontend", "frontend"], ("apis", 0, "allowed_namespaces")),
        (["Frontend"], ("apis", 0, "allowed_namespaces", 0)),
        (["ok", "a" * 64], ("apis", 0, "allowed_namespaces", 1)),
        (["-x"], ("apis", 0, "allowed_namespaces", 0)),
        ([7], ("apis", 0, "allowed_namespaces", 0)),
        ([None], ("apis", 0, "allowed_namespaces", 0)),
        ([f"ns-{i}" for i in range(MAX_ALLOWED_NAMESPACES + 1)], ("apis", 0, "allowed_namespaces")),
    ],
)
def test_allowed_namespaces_are_distinct_dns_labels(value: Any, path: tuple[Any, ...]) -> None:
    (problem,) = _errors(_config({**API, "allowed_namespaces": value}))
    assert problem.path == path


def test_allowed_namespaces_problems_are_located_lines(tmp_path: Path) -> None:
    config = tmp_path / "c.yaml"
    config.write_text(
        "node_groups:\n  - {name: inf2, instance_types: [inf2.xlarge]}\n"
        "apis:\n  - name: bert\n    node_group: inf2\n    image: public.ecr.aws/example/bert:1.0\n"
        "    allowed_namespaces:\n      - frontend\n      - Batch\n"
    )
    with pytest.raises(ConfigError) as error:
        load_config(config)
    (problem,) = error.value.problems
    assert (problem.path, problem.line) == (("apis", 0, "allowed_namespaces", 1), 9)


def test_more_distinct_api_ports_than_security_group_rules_is_ep250() -> None:
    apis = [{**API, "name": f"api-{i}", "port": 2000 + i} for i in range(MAX_SECURITY_GROUP_RULES + 1)]
    data = _config(*apis)
    data["node_groups"][0]["max_size"] = 100
    codes = [p.code for p in _errors(data)]
    assert "EP250" in codes
    assert "EP250" not in [p.code for p in _errors(_config(*apis[:MAX_SECURITY_GROUP_RULES]))]


def _rule(spec: ApiSpec, endpoint: EndpointTarget | None = None) -> dict[str, Any]:
    policy = network_policy(spec, endpoint)
    assert policy["spec"]["policyTypes"] == ["Ingress"]
    (rule,) = policy["spec"]["ingress"]
    assert rule["ports"] == [{"protocol": "TCP", "port": spec.port}]
    return rule


BALANCED = EndpointTarget("arn:tg", "sg-1", None, ("10.0.0.0/24", "10.0.1.0/24"))


def test_an_internal_api_admits_pods_of_every_namespace_or_of_the_named_ones() -> None:
    assert _rule(ApiSpec(**API))["from"] == [{"namespaceSelector": {}}]
    named = _rule(ApiSpec(**API, allowed_namespaces=["frontend", "batch"]))["from"]
    assert named == [
        {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "frontend"}}},
        {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "batch"}}},
    ]


def test_an_exposed_api_admits_its_load_balancer_and_only_the_named_namespaces() -> None:
    blocks = [{"ipBlock": {"cidr": "10.0.0.0/24"}}, {"ipBlock": {"cidr": "10.0.1.0/24"}}]
    assert _rule(ApiSpec(**API), BALANCED)["from"] == blocks
    named = _rule(ApiSpec(**API, allowed_namespaces=["frontend"]), BALANCED)["from"]
    assert named == [*blocks, {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "frontend"}}}]


def test_keda_reads_no_secrets() -> None:
    assert keda_values({})["permissions"] == {"operator": {"restrict": {"secret": True}}}
