"""AWS grammar (config/aws_grammar.py) and the rules built on it: CIDR lists, ARNs and names, reserved namespaces and
output ids, strict numbers, and availability zones that keep an environment-specific synth offline."""

from __future__ import annotations

import ast
import json
import re
import typing
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest
from pydantic import BaseModel
from synth_support import CLI_CONTEXT, ROOT, read_templates

from inferentia_cdk.config import aws_grammar, models
from inferentia_cdk.config.namespaces import RESERVED_NAMESPACES
from inferentia_cdk.config.problems import Problem
from inferentia_cdk.planning.endpoints import EKS_PUBLIC_ACCESS_CIDRS_QUOTA, SECURITY_GROUP_RULES_QUOTA
from inferentia_cdk.planning.loader import load_config, parse_config

IMAGE = "public.ecr.aws/example/bert:1.0"
UUID = "0b5a2f7c-1d9e-4a4b-8c8d-0e2f4a6b8c0d"


def _config(**sections: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "cluster": {"region": "us-east-1"},
        "node_groups": [{"name": "inf2", "instance_types": ["inf2.xlarge"], "max_size": 2}],
        "apis": [{"name": "bert", "node_group": "inf2", "image": IMAGE}],
        "endpoints": {"scheme": "internal"},
    }
    data["cluster"] = {**data["cluster"], **sections.pop("cluster", {})}
    data.update(sections)
    return data


def _problems(data: dict[str, Any]) -> list[Problem]:
    _, problems = parse_config(data)
    return problems


def _codes(data: dict[str, Any]) -> list[tuple[str | None, str]]:
    return [(p.code, p.location) for p in _problems(data)]


PUBLIC_AND_PRIVATE = {"endpoint_access": "public_and_private"}

# --- CIDRs ----------------------------------------------------------------------------------------------------------

NOT_A_BLOCK = [
    "10.0.0.1",  # a bare address
    "10.0.0.0/255.0.0.0",  # netmask form
    "10.0.0.0/0.255.255.255",  # hostmask form
    "10.0.0.1/8",  # host bits set
    "fe80::/10%eth0",  # zone id
    "::ffff:0:0/96",  # IPv4-mapped IPv6
    "::ffff:10.0.0.0/104",  # mapped, dotted
    "010.0.0.0/8",  # leading zeros
    "10.0.0.0/08",
    "10.0.0.0/33",
    " 10.0.0.0/8",
    "everyone",
]


@pytest.mark.parametrize("cidr", NOT_A_BLOCK)
def test_allowed_cidrs_take_only_address_slash_prefix_with_host_bits_zero(cidr: str) -> None:
    assert ("NET150", "endpoints.allowed_cidrs[0]") in _codes(_config(endpoints={"allowed_cidrs": [cidr]}))


@pytest.mark.parametrize("cidr", NOT_A_BLOCK)
def test_public_access_cidrs_share_the_one_parser(cidr: str) -> None:
    data = _config(cluster={**PUBLIC_AND_PRIVATE, "public_access_cidrs": [cidr]})
    assert ("NET150", "cluster.public_access_cidrs[0]") in _codes(data)


def test_well_formed_blocks_pass() -> None:
    assert _problems(_config(endpoints={"allowed_cidrs": ["10.20.0.0/16", "198.51.100.7/32"]})) == []


def test_ipv6_sources_on_the_ipv4_only_load_balancer_are_an_error_that_says_so() -> None:
    (problem,) = _problems(_config(endpoints={"allowed_cidrs": ["10.0.0.0/8", "2001:db8::/32"]}))
    assert (problem.code, problem.location) == ("NET151", "endpoints.allowed_cidrs[1]")
    assert "IPv4-only" in problem.message and "reaches no one" in problem.message


@pytest.mark.parametrize(
    "cidrs", [["0.0.0.0/0"], ["0.0.0.0/1", "128.0.0.0/1"], ["128.0.0.0/1", "0.0.0.0/2", "64.0.0.0/2"]]
)
def test_any_source_is_judged_by_what_the_list_covers(cidrs: list[str]) -> None:
    endpoints = {"scheme": "internet-facing", "certificate_arn": _certificate("us-east-1"), "allowed_cidrs": cidrs}
    assert [p.code for p in _problems(_config(endpoints=endpoints))] == ["NET152"]
    assert _problems(_config(endpoints={**endpoints, "allow_any_source": True})) == []


def test_the_whole_internet_without_private_space_is_still_everyone() -> None:
    public = [str(block) for block in aws_grammar.PUBLIC_IPV4]
    assert [p.code for p in _problems(_config(endpoints={"allowed_cidrs": public}))] == ["NET152", "NET153"]
    assert [p.code for p in _problems(_config(endpoints={"allowed_cidrs": public[1:]}))] == ["NET153"]


def test_more_allowed_cidrs_than_security_group_rules_is_a_warning_naming_the_quota() -> None:
    cidrs = [f"198.51.{i}.0/24" for i in range(SECURITY_GROUP_RULES_QUOTA + 1)]
    (problem,) = _problems(_config(endpoints={"allowed_cidrs": cidrs}))
    assert (problem.code, problem.severity) == ("NET153", "warning")
    assert "rules per security group" in problem.message
    assert _problems(_config(endpoints={"allowed_cidrs": cidrs[:-1]})) == []


@pytest.mark.parametrize("cidr", ["10.0.0.0/8", "172.16.5.0/24", "192.168.0.0/16", "100.64.0.0/10", "127.0.0.1/32"])
def test_public_access_cidrs_are_public_ranges(cidr: str) -> None:
    data = _config(cluster={**PUBLIC_AND_PRIVATE, "public_access_cidrs": [cidr]})
    assert _codes(data) == [("NET154", "cluster.public_access_cidrs[0]")]


def test_public_access_cidrs_are_at_most_the_eks_quota() -> None:
    cidrs = [f"8.8.{i}.0/24" for i in range(EKS_PUBLIC_ACCESS_CIDRS_QUOTA + 1)]
    assert _codes(_config(cluster={**PUBLIC_AND_PRIVATE, "public_access_cidrs": cidrs})) == [
        ("NET155", "cluster.public_access_cidrs")
    ]
    assert _problems(_config(cluster={**PUBLIC_AND_PRIVATE, "public_access_cidrs": cidrs[:-1]})) == []


def test_public_access_cidrs_are_ipv4() -> None:
    data = _config(cluster={**PUBLIC_AND_PRIVATE, "public_access_cidrs": ["2001:db8::/32"]})
    assert _codes(data) == [("NET156", "cluster.public_access_cidrs[0]")]


@pytest.mark.parametrize("cidrs", [["0.0.0.0/0"], ["0.0.0.0/1", "128.0.0.0/1"]])
def test_an_api_server_open_to_the_internet_needs_its_own_acknowledgement(cidrs: list[str]) -> None:
    data = _config(cluster={**PUBLIC_AND_PRIVATE, "public_access_cidrs": cidrs})
    assert _codes(data) == [("NET157", "cluster.public_access_cidrs")]
    data["cluster"]["public_access_any_source"] = True
    assert _problems(data) == []


# --- partitions, regions and ARNs -----------------------------------------------------------------------------------


def _documented_regions() -> list[str]:
    row = next(line for line in (ROOT / "docs" / "configuration.md").read_text().splitlines() if "| `region`" in line)
    return re.findall(r"`([a-z]+(?:-[a-z]+)+-[0-9]+)`", row)


def _partition(region: str) -> str:
    partition = aws_grammar.partition_of(region)
    assert partition is not None
    return partition


def _certificate(region: str, account: str = "123456789012") -> str:
    return f"arn:{_partition(region)}:acm:{region}:{account}:certificate/{UUID}"


def test_the_documented_regions_cover_every_kind_of_partition() -> None:
    assert {_partition(r) for r in _documented_regions()} >= {"aws", "aws-cn", "aws-us-gov", "aws-eusc"}


@pytest.mark.parametrize("region", _documented_regions())
def test_every_documented_region_works_with_every_arn_field(region: str) -> None:
    partition = _partition(region)
    data = _config(
        cluster={
            "region": region,
            "account": "123456789012",
            "admins": [f"arn:{partition}:iam::123456789012:role/ops/platform-admin"],
            **PUBLIC_AND_PRIVATE,
            "public_access_cidrs": ["8.8.8.0/24"],
        },
        endpoints={"certificate_arn": _certificate(region)},
        observability={"alarm_topic_arn": f"arn:{partition}:sns:{region}:123456789012:alarms.fifo"},
    )
    assert _problems(data) == []


@pytest.mark.parametrize(
    ("region", "partition"),
    [
        ("us-iso-east-1", "aws-iso"),
        ("us-isob-east-1", "aws-iso-b"),
        ("eu-isoe-west-1", "aws-iso-e"),
        ("us-isof-south-1", "aws-iso-f"),
        ("eusc-de-east-1", "aws-eusc"),
        ("us-gov-east-1", "aws-us-gov"),
        ("cn-northwest-1", "aws-cn"),
        ("mx-central-1", "aws"),
    ],
)
def test_each_region_belongs_to_its_partition(region: str, partition: str) -> None:
    assert aws_grammar.partition_of(region) == partition


@pytest.mark.parametrize("region", ["xx-east-1", "US-EAST-1", "us-east", "useast1", "us-east-1a"])
def test_names_no_partition_has_are_not_regions(region: str) -> None:
    assert any(p.location == "cluster.region" for p in _problems(_config(cluster={"region": region})))


def test_an_arn_in_another_partition_than_its_region_is_refused() -> None:
    certificate = f"arn:aws:acm:cn-north-1:123456789012:certificate/{UUID}"
    data = _config(cluster={"region": "cn-north-1"}, endpoints={"certificate_arn": certificate})
    (problem,) = _problems(data)
    assert (problem.code, problem.location) == ("ARN160", "endpoints.certificate_arn")
    assert "aws-cn" in problem.message


def test_an_alarm_topic_in_another_partition_is_refused() -> None:
    data = _config(observability={"alarm_topic_arn": "arn:aws-us-gov:sns:us-east-1:123456789012:alarms"})
    assert _codes(data) == [("ARN161", "observability.alarm_topic_arn")]


@pytest.mark.parametrize(
    "arn",
    [
        "arn:aws-cn:iam::123456789012:role/admin",  # another partition than us-east-1's
        "arn:aws:iam::123456789012:role/" + "a" * 65,  # longer than IAM's 64
        "arn:aws:iam::123456789012:user/rené",  # not ASCII
        "arn:aws:iam::123456789012:role/a b",
        "arn:aws:iam::123456789012:role/path with space/admin",
        "arn:aws:iam:us-east-1:123456789012:role/admin",  # IAM ARNs have no region
        "arn:aws:iam::12345678901:role/admin",
    ],
)
def test_admins_follow_iam_names_paths_and_partitions(arn: str) -> None:
    assert _codes(_config(cluster={"admins": [arn]})) == [("ARN162", "cluster.admins[0]")]


def test_iam_names_of_64_characters_and_paths_pass() -> None:
    arns = ["arn:aws:iam::123456789012:role/" + "a" * 64, "arn:aws:iam::123456789012:user/team/a/b+=,.@_-"]
    assert _problems(_config(cluster={"admins": arns})) == []


def test_no_module_retypes_the_aws_patterns() -> None:
    # One module holds the grammar: no other source spells an ARN pattern, an account id or a region pattern.
    for path in (ROOT / "inferentia_cdk").rglob("*.py"):
        if path.name == "aws_grammar.py":
            continue
        text = path.read_text()
        for pattern in (r're\.compile\(\s*r?"arn:', r"\[0-9\]\{12\}", r"aws\(-cn\|-us-gov\)"):
            assert not re.search(pattern, text), f"{path.relative_to(ROOT)} re-types {pattern}"


# --- names that collide -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(RESERVED_NAMESPACES | {"kube-anything"}))
def test_an_api_named_like_a_namespace_in_use_is_refused_with_the_reason(name: str) -> None:
    data = _config()
    data["apis"][0]["name"] = name
    problem = next(p for p in _problems(data) if p.code == "NAME170")
    assert problem.location == "apis[0].name"


def _namespace_literals(path: Path) -> set[str]:
    """String literals a module writes as a namespace: ``namespace=...``, ``"namespace": ...`` and ``*NAMESPACE = ...``
    (CloudWatch metric namespaces, which contain capitals or '/', are not Kubernetes namespaces)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        values: list[ast.expr] = []
        if isinstance(node, ast.keyword) and node.arg == "namespace":
            values.append(node.value)
        elif isinstance(node, ast.Dict):
            values += [
                v
                for k, v in zip(node.keys, node.values, strict=True)
                if isinstance(k, ast.Constant) and k.value == "namespace"
            ]
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            if any(isinstance(t, ast.Name) and t.id.endswith("NAMESPACE") for t in targets) and node.value:
                values.append(node.value)
        found |= {v.value for v in values if isinstance(v, ast.Constant) and isinstance(v.value, str)}
    return {name for name in found if re.fullmatch(r"[a-z0-9-]+", name)}


def test_every_namespace_the_renderers_and_constructs_write_is_reserved() -> None:
    written: set[str] = set()
    for folder in ("manifests", "constructs", "stacks", "config"):
        for path in (ROOT / "inferentia_cdk" / folder).rglob("*.py"):
            written |= _namespace_literals(path)
    assert written, "the scan found no namespace at all"
    assert written <= RESERVED_NAMESPACES, f"namespaces used but not reserved: {sorted(written - RESERVED_NAMESPACES)}"


# --- numbers ----------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("value", ["120", 120.0, True])
def test_idle_timeout_is_a_strict_integer(value: object) -> None:
    assert [p.location for p in _problems(_config(endpoints={"idle_timeout_seconds": value}))] == [
        "endpoints.idle_timeout_seconds"
    ]


def _int_fields(model: type[BaseModel], seen: set[type] | None = None) -> list[str]:
    """Every field of ``model`` and its sub-models that holds an int without Strict()."""
    seen = seen if seen is not None else set()
    if model in seen:
        return []
    seen.add(model)
    loose = []
    for name, field in model.model_fields.items():
        annotation = field.annotation
        args = typing.get_args(annotation) or (annotation,)
        for arg in args:
            if arg is int and not any(type(m).__name__ == "Strict" for m in field.metadata):
                loose.append(f"{model.__name__}.{name}")
            inner = typing.get_args(arg) or (arg,)
            for sub in inner:
                if isinstance(sub, type) and issubclass(sub, BaseModel):
                    loose += _int_fields(sub, seen)
    return loose


def test_every_integer_field_of_the_config_is_strict() -> None:
    assert _int_fields(models.InferentiaConfig) == []


def test_not_a_number_of_chips_is_said_so(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(
        "node_groups: [{name: inf2, instance_types: [inf2.xlarge]}]\n"
        f"apis:\n  - {{name: bert, node_group: inf2, image: {IMAGE}, compute: {{inf: .nan}}}}\n"
    )
    with pytest.raises(Exception) as raised:
        load_config(path)
    message = str(raised.value)
    assert "apis[0].compute.inf" in message and "not a number" in message and "fractional" not in message


# --- availability zones -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("cluster", "says"),
    [
        ({"availability_zones": ["us-east-1a", "use1-az2"]}, "not an availability zone name"),
        ({"availability_zones": ["us-east-1a", "us-west-2b"]}, "not of cluster.region"),
        ({"availability_zones": ["us-east-1a"]}, "at least 2"),
        ({"availability_zones": [f"us-east-1{c}" for c in "abcdefg"]}, "at most 6"),
        ({"availability_zones": ["us-east-1a", "us-east-1a"]}, "more than once"),
        ({"availability_zones": ["us-east-1a", "us-east-1b"], "max_azs": 3}, "disagrees"),
    ],
)
def test_availability_zones_are_names_of_the_region(cluster: dict[str, Any], says: str) -> None:
    problems = _problems(_config(cluster=cluster))
    assert any(says in p.message and p.location.startswith("cluster") for p in problems), problems


def test_availability_zones_need_a_region() -> None:
    data = _config(cluster={"availability_zones": ["us-east-1a", "us-east-1b"]}, endpoints=None)
    del data["cluster"]["region"]
    del data["endpoints"]
    assert any("needs cluster.region" in p.message for p in _problems(data))


def test_an_environment_specific_config_with_zones_synthesizes_offline(tmp_path: Path) -> None:
    # `cdk synth` resolves every missing context value by calling AWS; with zones named, nothing is missing, so the
    # synth needs no credentials (CI synthesizes it as it is).
    from inferentia_cdk.stacks.app import build_app

    data = _config(
        cluster={"account": "123456789012", "availability_zones": ["us-east-1b", "us-east-1d"]},
        endpoints={"scheme": "internal", "allowed_cidrs": ["10.0.0.0/16"]},
    )
    config, problems = parse_config(data)
    assert config is not None and problems == []
    app = cdk.App(outdir=str(tmp_path), context={**_cdk_json_context(), **CLI_CONTEXT})
    _, cluster_stack, _ = build_app(config, app=app)
    app.synth()
    assert "missing" not in json.loads((tmp_path / "manifest.json").read_text())
    templates, _ = read_templates(tmp_path)
    subnets = [
        r["Properties"]["AvailabilityZone"]
        for r in templates[cluster_stack.artifact_id]["Resources"].values()
        if r["Type"] == "AWS::EC2::Subnet"
    ]
    assert sorted(set(subnets)) == ["us-east-1b", "us-east-1d"]


def _cdk_json_context() -> dict[str, Any]:
    context: dict[str, Any] = json.loads((ROOT / "cdk.json").read_text())["context"]
    return context
