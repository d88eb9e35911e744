"""Read a config file into :class:`InferentiaConfig`, turning every problem into ``file:line: path: message``."""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path as FsPath
from typing import Any

import yaml
from pydantic import ValidationError

from ..spec.models import InferentiaConfig
from ..spec.problems import ConfigError, Path, Problem, errors, pydantic_problems
from .validation import check_config


@dataclass(frozen=True)
class LoadedConfig:
    config: InferentiaConfig
    warnings: tuple[Problem, ...]
    source: str


# libyaml's loader where PyYAML was built with it: the same results, several times faster on large configs.
_Loader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _LineMap:
    """The first line of each node of a YAML document, by path (the path of the data the node constructs)."""

    def __init__(self) -> None:
        self.lines: dict[Path, int] = {}

    def record(self, node: yaml.Node, data: Any, path: Path = ()) -> None:
        self.lines.setdefault(path, node.start_mark.line + 1)
        if isinstance(node, yaml.MappingNode) and isinstance(data, dict):
            for key_node, value_node in node.value:
                # Keys are scalars in any config we accept; resolve them the way the constructed dict did.
                key = next((k for k in data if str(k) == key_node.value), key_node.value)
                self.lines[(*path, key)] = key_node.start_mark.line + 1
                self.record(value_node, data.get(key), (*path, key))
        elif isinstance(node, yaml.SequenceNode) and isinstance(data, list):
            for i, (item_node, item) in enumerate(zip(node.value, data, strict=False)):
                self.record(item_node, item, (*path, i))

    def line_of(self, path: Path) -> int | None:
        for end in range(len(path), -1, -1):
            line = self.lines.get(path[:end])
            if line is not None:
                return line
        return None


_LISTS = ("node_groups", "apis")


def _rules_on_well_formed_part(data: dict[str, Any], shape_problems: list[Problem]) -> list[Problem]:
    """The cross-field problems of the entries whose shape is right, so that one run reports both kinds.

    Entries of ``node_groups`` and ``apis`` with a shape problem are left out (and so are APIs on a left-out node
    group, which would otherwise be reported as naming no node group); other sections with one fall back to their
    defaults. Paths are mapped back to the entries' places in the file.
    """
    broken: dict[str, set[int]] = {name: set() for name in _LISTS}
    partial = dict(data)
    for problem in shape_problems:
        head = problem.path[0] if problem.path else None
        if head in _LISTS and len(problem.path) > 1 and isinstance(problem.path[1], int):
            broken[str(head)].add(problem.path[1])
        elif isinstance(head, str):
            partial.pop(head, None)
    groups = data.get("node_groups")
    dropped_groups = {
        group.get("name")
        for i, group in enumerate(groups if isinstance(groups, list) else [])
        if i in broken["node_groups"] and isinstance(group, dict)
    }
    kept: dict[str, list[int]] = {}
    for name in _LISTS:
        items = data.get(name)
        if isinstance(items, list):
            kept[name] = [
                i
                for i, item in enumerate(items)
                if i not in broken[name] and not (isinstance(item, dict) and item.get("node_group") in dropped_groups)
            ]
            partial[name] = [items[i] for i in kept[name]]
    try:
        config = InferentiaConfig.model_validate(partial)
    except ValidationError:
        return []
    found = []
    for problem in check_config(config):
        path = problem.path
        if len(path) > 1 and path[0] in kept and isinstance(path[1], int):
            path = (path[0], kept[str(path[0])][path[1]], *path[2:])
        found.append(replace(problem, path=path))
    return found


def parse_config(data: Any) -> tuple[InferentiaConfig | None, list[Problem]]:
    """Validate already-parsed data; returns the config (if its shape is right) and every problem found."""
    if not isinstance(data, dict):
        return None, [Problem((), f"the config must be a mapping of keys to values, got {type(data).__name__}")]
    try:
        config = InferentiaConfig.model_validate(data)
    except ValidationError as exc:
        shape = pydantic_problems(exc)
        return None, shape + _rules_on_well_formed_part(data, shape)
    return config, check_config(config)


def load_config(path: str | FsPath) -> LoadedConfig:
    """Load and validate a config file; raises :class:`ConfigError` listing every error with its line."""
    source = str(path)
    try:
        text = FsPath(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError([Problem((), f"cannot read the config file: {exc.strerror or exc}")], source) from None
    lines = _LineMap()
    try:
        loader = _Loader(text)
        try:
            node = loader.get_single_node()
            data = loader.construct_document(node) if node is not None else None
        finally:
            loader.dispose()
        if node is not None:
            lines.record(node, data)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        reason = getattr(exc, "problem", None) or str(exc)
        raise ConfigError([Problem((), f"YAML syntax error: {reason}", line=line)], source) from None
    config, problems = parse_config(data)
    located = [p.with_line(lines.line_of(p.path)) for p in problems]
    found = errors(located)
    if config is None or found:
        raise ConfigError(found, source)
    return LoadedConfig(config, tuple(p for p in located if p.severity == "warning"), source)
