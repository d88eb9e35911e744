"""How APIs are placed in stacks: a fixed set of nested shards picked by a hash of each API's name.

The placement rule is pure (``planning.placement``), so its stability is tested over whole name lists without CDK. This
module synthesizes once, in one app: the benchmark's 1,000-API config (bench/synth_bench.py) with 100 of its APIs
behind the load balancer, and a variant of it that keeps 40 of those APIs, adds one, renames one and drops the rest.
"""

from __future__ import annotations

import importlib.util
import json
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from synth_support import (
    KUBERNETES_RESOURCE_TYPE,
    ROOT,
    Synthesized,
    kubernetes_objects,
    nested_template_files,
    read_templates,
)

from inferentia_cdk.config.models import InferentiaConfig
from inferentia_cdk.planning.placement import SHARD_COUNT, place, shard_id, shard_of

# CloudFormation's quotas per template (AWS CloudFormation User Guide, "Understand CloudFormation quotas").
TEMPLATE_BYTES_LIMIT = 1_000_000
RESOURCES_LIMIT = 500
OUTPUTS_LIMIT = 200
PARAMETERS_LIMIT = 200
# Room the worst shard must keep at 1,000 APIs (default scaling, a dashboard each, every tenth exposed with alarms) for
# what later work adds to every API: five more resources, and 10 KB more template, per API.
MARGIN_RESOURCES_PER_API = 5
MARGIN_BYTES_PER_API = 10_000

EXPOSED_EVERY = 10  # 100 of the 1,000 APIs: MAX_EXPOSED_APIS, the most one load balancer takes
VARIANT_KEPT = 40
ADDED, RENAMED_FROM, RENAMED_TO = "api-new", "api-3", "api-3-renamed"

DNS_LABEL = st.from_regex(r"[a-z]([a-z0-9-]{0,20}[a-z0-9])?", fullmatch=True)


def _benchmark_config(n_apis: int) -> dict[str, Any]:
    spec = importlib.util.spec_from_file_location("synth_bench", ROOT / "bench" / "synth_bench.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    data: dict[str, Any] = module.generated_config(n_apis)
    return data


def thousand_api_config() -> InferentiaConfig:
    """The benchmark's 1,000-API config, with every tenth API exposed on an internal load balancer."""
    data = _benchmark_config(1000)
    data["cluster"]["region"] = "us-east-1"
    data["endpoints"] = {"scheme": "internal"}
    for i, api in enumerate(data["apis"]):
        api["endpoint"] = i % EXPOSED_EVERY == 0
    return InferentiaConfig.model_validate(data)


def variant_config(config: InferentiaConfig) -> InferentiaConfig:
    """Forty of the APIs (exposed and not), one of them renamed, and one new API."""
    kept = [api for api in config.apis[:VARIANT_KEPT]]
    renamed = [api.model_copy(update={"name": RENAMED_TO}) if api.name == RENAMED_FROM else api for api in kept]
    added = config.apis[0].model_copy(update={"name": ADDED})
    return config.model_copy(update={"apis": [*renamed, added]})


# --- the rule, pure -------------------------------------------------------------------------------------------------


def test_the_shard_of_a_name_is_pinned() -> None:
    # Changing the hash (or SHARD_COUNT) would move most APIs of every deployed app: these values must never change.
    assert SHARD_COUNT == 32
    assert [shard_of(name) for name in ("bert-large", "resnet50", "image-classifier", "api-0")] == [18, 14, 11, 15]
    assert shard_id(7) == "Shard07"


@given(st.lists(DNS_LABEL, unique=True, max_size=60), DNS_LABEL, st.data())
def test_adding_removing_or_renaming_one_api_moves_no_other(names: list[str], new: str, data: st.DataObject) -> None:
    before = {name: shard for shard, members in place(names).items() for name in members}
    variants = [[*names, new] if new not in names else names, [n for n in names if n != new]]
    if names:
        victim = data.draw(st.sampled_from(names))
        variants += [
            [n for n in names if n != victim],
            [new if n == victim else n for n in names] if new not in names else names,
            list(reversed(names)),
        ]
    for variant in variants:
        after = {name: shard for shard, members in place(variant).items() for name in members}
        assert {n: after[n] for n in names if n in after} == {n: before[n] for n in names if n in after}


def test_the_thousand_benchmark_names_keep_their_shards_when_one_changes() -> None:
    names = [api.name for api in thousand_api_config().apis]
    before = {name: shard_of(name) for name in names}
    for variant in ([*names, ADDED], names[1:], [RENAMED_TO if n == RENAMED_FROM else n for n in names]):
        after = {name: shard for shard, members in place(variant).items() for name in members}
        assert all(after[name] == before[name] for name in variant if name in before)


def test_every_shard_is_used_and_none_is_crowded_at_a_thousand_apis() -> None:
    counts = Counter(shard_of(api.name) for api in thousand_api_config().apis)
    assert set(counts) == set(range(SHARD_COUNT))
    # The mean is 31.25; the fullest shard of these names holds 47 (synthesized limits are checked below).
    assert max(counts.values()) == 47


# --- the example apps -----------------------------------------------------------------------------------------------


def test_each_api_lives_in_the_nested_stack_of_its_shard(any_app: Synthesized) -> None:
    apis_stack = any_app.stacks["apis"]
    config = apis_stack.config
    assert set(apis_stack.shards) == {shard_of(api.name) for api in config.apis}
    for api in config.apis:
        nested = apis_stack.shards[shard_of(api.name)]
        assert nested.node.id == shard_id(shard_of(api.name))
        template = any_app.nested_templates[nested.template_file.removesuffix(".template.json")]
        namespaces = [obj["metadata"]["name"] for obj in kubernetes_objects(template) if obj["kind"] == "Namespace"]
        assert api.name in namespaces


def test_the_apis_stack_itself_holds_only_nested_stacks_and_url_outputs(any_app: Synthesized) -> None:
    parent = json.loads((any_app.outdir / "InferentiaApis.template.json").read_text())
    # (and the CDK CLI's version-reporting resource, which every template of a CLI synth carries)
    assert {r["Type"] for r in parent["Resources"].values()} - {"AWS::CDK::Metadata"} == {"AWS::CloudFormation::Stack"}
    exposed = any_app.stacks["apis"].config.exposed_apis()
    assert len(parent.get("Outputs", {})) == len(exposed)


@pytest.mark.gate
def test_cfn_lint_finds_no_errors_in_nested_templates(default_app: Synthesized, full_app: Synthesized) -> None:
    from cfnlint.api import ManualArgs, lint_file

    findings = []
    for app in (default_app, full_app):
        paths = nested_template_files(app.outdir, "InferentiaApis")
        assert paths
        for path in paths:
            for match in lint_file(path, ManualArgs(regions=["us-east-1"])):
                # W3005: aws-cdk-lib's explicit DependsOn beside a Ref, as in tests/stacks/test_gates.py.
                if match.rule.id != "W3005":
                    findings.append(f"{path.name}: {match.rule.id} {match.message}")
    assert findings == []


# --- 1,000 APIs -----------------------------------------------------------------------------------------------------


@dataclass
class Thousand:
    config: InferentiaConfig
    variant: InferentiaConfig
    outdir: Path
    templates: dict[str, dict[str, Any]]
    """Every template as written, by stack path: ``InferentiaApis``, ``InferentiaApis/Shard07``, ..."""
    sizes: dict[str, int]
    """Bytes of each template file, by stack path."""
    apis_by_name: dict[str, dict[str, dict[str, str]]]
    """Per app prefix, API name -> {construct path below the shard: (shard, logical id)}."""


def _stack_path(file_name: str) -> str:
    stem = file_name.removesuffix(".template.json")
    match = re.fullmatch(r"(\w+?)(Shard\d{2})[0-9A-F]{8}\.nested", stem)
    return f"{match.group(1)}/{match.group(2)}" if match else stem


def _placements(templates: dict[str, dict[str, Any]], prefix: str) -> dict[str, dict[str, str]]:
    """API name -> {path of each of its resources below the shard: "<shard> <logical id>"}, from path metadata."""
    found: dict[str, dict[str, str]] = {}
    for name, template in templates.items():
        if not name.startswith(f"{prefix}Apis/"):
            continue
        for logical_id, resource in template.get("Resources", {}).items():
            if resource["Type"] == "AWS::CDK::Metadata":  # the CLI's version reporting, one per template
                continue
            path = resource["Metadata"]["aws:cdk:path"].split("/")
            api = re.sub(r"-(endpoint|monitoring)$", "", path[2])
            found.setdefault(api, {})["/".join(path[2:])] = f"{path[1]} {logical_id}"
    return found


@pytest.fixture(scope="module")
def thousand(tmp_path_factory: pytest.TempPathFactory) -> Thousand:
    import aws_cdk as cdk

    from inferentia_cdk.stacks.app import build_app

    config = thousand_api_config()
    variant = variant_config(config)
    outdir = tmp_path_factory.mktemp("thousand-cdk.out")
    # Path metadata (cdk deploy writes it too) ties each resource to its construct path, so placement is read from
    # the templates themselves. cdk-nag runs on the example apps; here it would only add minutes.
    app = cdk.App(outdir=str(outdir), context={"aws:cdk:enable-path-metadata": True})
    build_app(config, app=app, nag=False)
    build_app(variant, app=app, nag=False, stack_prefix="Variant")
    app.synth()
    paths = {_stack_path(path.name): path for path in sorted(outdir.glob("*.template.json"))}
    templates = {name: json.loads(path.read_text()) for name, path in paths.items()}
    return Thousand(
        config,
        variant,
        outdir,
        templates,
        {name: path.stat().st_size for name, path in paths.items()},
        {prefix: _placements(templates, prefix) for prefix in ("Inferentia", "Variant")},
    )


def _app_templates(thousand: Thousand) -> dict[str, dict[str, Any]]:
    return {name: t for name, t in thousand.templates.items() if name.startswith("Inferentia")}


def test_a_thousand_apis_spread_over_every_shard(thousand: Thousand) -> None:
    shards = [name for name in _app_templates(thousand) if name.startswith("InferentiaApis/")]
    assert len(shards) == SHARD_COUNT
    placements = thousand.apis_by_name["Inferentia"]
    assert set(placements) == {api.name for api in thousand.config.apis}
    for api, resources in placements.items():
        assert {value.split()[0] for value in resources.values()} == {shard_id(shard_of(api))}


def test_every_template_is_within_cloudformation_limits(thousand: Thousand) -> None:
    for name, template in _app_templates(thousand).items():
        assert thousand.sizes[name] <= TEMPLATE_BYTES_LIMIT, name
        assert len(template.get("Resources", {})) <= RESOURCES_LIMIT, name
        assert len(template.get("Outputs", {})) <= OUTPUTS_LIMIT, name
        assert len(template.get("Parameters", {})) <= PARAMETERS_LIMIT, name


def test_the_fullest_shard_keeps_room_for_what_each_api_will_gain(thousand: Thousand) -> None:
    worst_resources = worst_bytes = 0
    for name, template in _app_templates(thousand).items():
        if not name.startswith("InferentiaApis/"):
            continue
        resources = template["Resources"]
        apis = sum(1 for r in resources.values() if r["Type"] == KUBERNETES_RESOURCE_TYPE)
        size = thousand.sizes[name]
        worst_resources = max(worst_resources, len(resources) + MARGIN_RESOURCES_PER_API * apis)
        worst_bytes = max(worst_bytes, size + MARGIN_BYTES_PER_API * apis)
    assert worst_resources <= RESOURCES_LIMIT
    assert worst_bytes <= TEMPLATE_BYTES_LIMIT


def test_the_parent_holds_the_nested_stacks_and_the_hundred_urls(thousand: Thousand) -> None:
    parent = thousand.templates["InferentiaApis"]
    assert Counter(r["Type"] for r in parent["Resources"].values()) == {"AWS::CloudFormation::Stack": SHARD_COUNT}
    assert len(parent["Outputs"]) == len(thousand.config.exposed_apis()) == 100


def _stack_outputs_read(value: Any) -> list[dict[str, Any]]:
    """Every ``Fn::GetStackOutput`` argument in ``value``."""
    if isinstance(value, dict):
        found = [value["Fn::GetStackOutput"]] if "Fn::GetStackOutput" in value else []
        return found + [target for item in value.values() for target in _stack_outputs_read(item)]
    if isinstance(value, list):
        return [target for item in value for target in _stack_outputs_read(item)]
    return []


def test_nested_stacks_reach_the_cluster_stack_by_weak_references_that_resolve(thousand: Thousand) -> None:
    cluster_outputs = set(thousand.templates["InferentiaCluster"]["Outputs"])
    referenced: set[str] = set()
    for name, template in _app_templates(thousand).items():
        if not name.startswith("InferentiaApis"):
            continue
        assert "Fn::ImportValue" not in json.dumps(template)
        for target in _stack_outputs_read(template):
            assert target["StackName"] == "InferentiaCluster"
            referenced.add(target["OutputName"])
    # Every GetStackOutput names an output the cluster stack has: the kubectl provider and cluster name (manifests),
    # the listener (rules), the VPC (target groups), the load balancer's DNS name (URL outputs) and security group
    # (TargetGroupBindings), and its full name (the dashboards' load balancer metrics).
    assert referenced <= cluster_outputs
    for part in ("KubectlProvider", "RefCluster", "Listener", "RefVpc", "DNSName", "SecurityGroup", "FullName"):
        assert len([name for name in referenced if part in name]) == 1, part
    assert len(referenced) == 7


def test_renaming_adding_and_removing_apis_leaves_every_other_api_in_place(thousand: Thousand) -> None:
    before, after = thousand.apis_by_name["Inferentia"], thousand.apis_by_name["Variant"]
    kept = {api.name for api in thousand.variant.apis} & set(before)
    assert len(kept) == VARIANT_KEPT - 1
    assert {api.name for api in thousand.config.exposed_apis()} & kept  # exposed ones (target group, rule) too
    for name in kept:
        assert after[name] == before[name], name
    assert {value.split()[0] for value in after[ADDED].values()} == {shard_id(shard_of(ADDED))}
    assert {value.split()[0] for value in after[RENAMED_TO].values()} == {shard_id(shard_of(RENAMED_TO))}
    # The nested stacks themselves keep their logical ids in the parent: they follow the shard index alone.
    base, changed = (_nested_stack_ids(thousand.templates[name]) for name in ("InferentiaApis", "VariantApis"))
    assert set(changed) <= set(base)
    assert {shard: base[shard] for shard in changed} == changed


def _nested_stack_ids(parent: dict[str, Any]) -> dict[str, str]:
    """Shard construct id -> logical id of its nested stack resource in the parent."""
    return {
        resource["Metadata"]["aws:cdk:path"].split("/")[1]: logical_id
        for logical_id, resource in parent["Resources"].items()
    }


def test_merged_templates_keep_existing_readers_working(thousand: Thousand) -> None:
    merged, nested = read_templates(thousand.outdir)
    kinds = Counter(r["Type"] for r in merged["InferentiaApis"]["Resources"].values())
    assert kinds[KUBERNETES_RESOURCE_TYPE] == len(thousand.config.apis)
    assert kinds["AWS::ElasticLoadBalancingV2::TargetGroup"] == 100
    assert len([n for n in nested if n.startswith("InferentiaApis")]) == SHARD_COUNT
