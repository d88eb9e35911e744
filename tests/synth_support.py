"""Synthesizing example apps once, and reading what they rendered: templates and Kubernetes objects."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
CDK_JSON = ROOT / "cdk.json"
# What the CDK CLI adds to cdk.json's context on every `cdk synth`: its defaults for path and asset metadata, version
# reporting and bundling, and validation failures left for the CLI to report. test_gates.py proves, with one CLI synth,
# that an app given cli_context() writes the same templates as `cdk synth`.
CLI_CONTEXT: dict[str, Any] = {
    "aws:cdk:enable-path-metadata": True,
    "aws:cdk:enable-asset-metadata": True,
    "aws:cdk:version-reporting": True,
    "aws:cdk:bundling-stacks": ["**"],
    "@aws-cdk/core:failSynthOnValidationErrors": False,
}
KUBERNETES_RESOURCE_TYPE = "Custom::AWSCDK-EKS-KubernetesResource"
TOKEN_PLACEHOLDER = "resolved-at-deploy"


@dataclass
class Synthesized:
    """One example app synthesized to ``outdir`` as `cdk synth` does (cdk.json's context, cdk-nag on).

    ``templates`` has one entry per top-level stack, with the resources of its nested stacks merged in (see
    :func:`read_templates`): a test asking what a stack deploys sees every resource wherever it lives.
    ``nested_templates`` are the nested stacks' own templates as written, by file name stem.
    """

    config_path: Path
    outdir: Path
    templates: dict[str, dict[str, Any]]
    stacks: dict[str, Any] = field(default_factory=dict)
    nested_templates: dict[str, dict[str, Any]] = field(default_factory=dict)

    def template(self, suffix: str) -> dict[str, Any]:
        (name,) = [n for n in self.templates if n.endswith(suffix)]
        return self.templates[name]

    def kubernetes_objects(self) -> list[dict[str, Any]]:
        return [obj for template in self.templates.values() for obj in kubernetes_objects(template)]


def bare_environment() -> dict[str, str]:
    """A shell's environment as a user has it: no virtualenv on PATH, no JSII_NODE, no PYTHONPATH."""
    venv = (ROOT / ".venv").resolve()
    path = os.pathsep.join(
        p for p in os.environ["PATH"].split(os.pathsep) if p and not Path(p).resolve().is_relative_to(venv)
    )
    return {"HOME": os.environ.get("HOME", "/root"), "PATH": path, "AWS_EC2_METADATA_DISABLED": "true"}


def cli_context(config_path: Path) -> dict[str, Any]:
    """The context that `cdk synth --context config=<config_path>` gives app.py: cdk.json's, the CLI's, the config."""
    cdk_json_context: dict[str, Any] = json.loads(CDK_JSON.read_text())["context"]
    return {**cdk_json_context, **CLI_CONTEXT, "config": str(config_path)}


def synthesize(config_path: Path, outdir: Path) -> Synthesized:
    """What `cdk synth` writes for ``config_path``, built in this process by the entry point app.py uses."""
    import aws_cdk as cdk

    from inferentia_cdk.stacks.app import build_app_from_context

    app = cdk.App(outdir=str(outdir), context=cli_context(config_path))
    _, cluster_stack, apis_stack = build_app_from_context(app)
    app.synth()
    templates, nested = read_templates(outdir)
    return Synthesized(config_path, outdir, templates, {"cluster": cluster_stack, "apis": apis_stack}, nested)


def nested_template_files(outdir: Path, stack_name: str) -> list[Path]:
    """The templates of ``stack_name``'s nested stacks (at any depth): the file assets its assets.json publishes."""
    assets = outdir / f"{stack_name}.assets.json"
    if not assets.exists():
        return []
    files = json.loads(assets.read_text()).get("files", {}).values()
    paths = [entry["source"]["path"] for entry in files if entry["source"].get("packaging") == "file"]
    return [outdir / path for path in sorted(paths) if path.endswith(".nested.template.json")]


def read_templates(outdir: Path) -> tuple[dict[str, dict[str, Any]], dict[str, dict[str, Any]]]:
    """Each top-level stack's template with its nested stacks' resources merged in, and the nested templates.

    The top-level template keeps its own sections (outputs, parameters); only ``Resources`` gains the nested ones.
    A logical id used in two templates of one stack would make the merge ambiguous, so it fails here; the one
    exception is ``CDKMetadata``, the version-reporting resource the CDK CLI's context puts in every template.
    """
    merged: dict[str, dict[str, Any]] = {}
    nested: dict[str, dict[str, Any]] = {}
    for path in sorted(outdir.glob("*.template.json")):
        if path.name.endswith(".nested.template.json"):
            continue
        name = path.name.removesuffix(".template.json")
        template = json.loads(path.read_text())
        resources = dict(template.get("Resources", {}))
        for nested_path in nested_template_files(outdir, name):
            nested_template = json.loads(nested_path.read_text())
            nested[nested_path.name.removesuffix(".template.json")] = nested_template
            for logical_id, resource in nested_template.get("Resources", {}).items():
                if logical_id == "CDKMetadata":
                    continue
                if logical_id in resources:
                    raise AssertionError(f"{logical_id} is in more than one template of {name}; read nested_templates")
                resources[logical_id] = resource
        if resources:
            template = {**template, "Resources": resources}
        merged[name] = template
    return merged, nested


def _flatten(value: Any) -> str:
    """The literal text of a CloudFormation string value; intrinsic functions become a placeholder."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and set(value) == {"Fn::Join"}:
        separator, parts = value["Fn::Join"]
        return separator.join(_flatten(part) for part in parts)
    return TOKEN_PLACEHOLDER


def kubernetes_objects(template: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Every Kubernetes object that a template's KubernetesManifest resources apply."""
    for resource in template.get("Resources", {}).values():
        if resource["Type"] == KUBERNETES_RESOURCE_TYPE and "Manifest" in resource["Properties"]:
            yield from json.loads(_flatten(resource["Properties"]["Manifest"]))


def bare_cluster(stack_name: str) -> Any:
    """A stack with an aws_eks_v2 cluster and nothing else, to build constructs on; never synthesized."""
    import aws_cdk as cdk
    from aws_cdk import aws_eks_v2 as eks

    stack = cdk.Stack(cdk.App(), stack_name)
    return eks.Cluster(
        stack,
        "Cluster",
        cluster_name=stack_name.lower(),
        version=eks.KubernetesVersion.V1_36,
        default_capacity_type=eks.DefaultCapacityType.NODEGROUP,
        default_capacity=0,
    )
