"""Synthesizing example apps once, and reading what they rendered: templates and Kubernetes objects."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
KUBERNETES_RESOURCE_TYPE = "Custom::AWSCDK-EKS-KubernetesResource"
TOKEN_PLACEHOLDER = "resolved-at-deploy"


@dataclass
class Synthesized:
    """One example app synthesized to ``outdir`` with cdk-nag on.

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


def synthesize(config_path: Path, outdir: Path) -> Synthesized:
    import aws_cdk as cdk

    from inferentia_cdk.core.loader import load_config
    from inferentia_cdk.stacks.app import build_app

    loaded = load_config(config_path)
    app, cluster_stack, apis_stack = build_app(loaded.config, app=cdk.App(outdir=str(outdir)), nag=True)
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
    A logical id used in two templates of one stack would make the merge ambiguous, so it fails here.
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
