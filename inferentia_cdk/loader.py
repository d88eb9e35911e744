"""Read a config file into :class:`InferentiaConfig`, turning every problem into ``file:line: path: message``."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path as FsPath
from typing import Any

import yaml
from pydantic import ValidationError

from .config import InferentiaConfig
from .problems import ConfigError, Path, Problem, errors
from .validation import check_config


@dataclass(frozen=True)
class LoadedConfig:
    config: InferentiaConfig
    warnings: tuple[Problem, ...]
    source: str


class _LineMap:
    """The first line of each node of a YAML document, by path."""

    def __init__(self) -> None:
        self.lines: dict[Path, int] = {}

    def build(self, node: yaml.Node, path: Path = ()) -> Any:
        self.lines[path] = node.start_mark.line + 1
        if isinstance(node, yaml.MappingNode):
            out: dict[Any, Any] = {}
            for key_node, value_node in node.value:
                key = yaml.safe_load(yaml.serialize(key_node))
                self.lines[(*path, key)] = key_node.start_mark.line + 1
                out[key] = self.build(value_node, (*path, key))
                self.lines[(*path, key)] = key_node.start_mark.line + 1
            return out
        if isinstance(node, yaml.SequenceNode):
            return [self.build(item, (*path, i)) for i, item in enumerate(node.value)]
        return yaml.safe_load(yaml.serialize(node))

    def line_of(self, path: Path) -> int | None:
        for end in range(len(path), -1, -1):
            line = self.lines.get(path[:end])
            if line is not None:
                return line
        return None


def _pydantic_problems(error: ValidationError) -> list[Problem]:
    problems = []
    for item in error.errors(include_url=False):
        path: Path = tuple(p for p in item["loc"] if isinstance(p, (str, int)))
        message = item["msg"]
        if message.startswith("Value error, "):
            message = message[len("Value error, ") :]
        if item["type"] == "extra_forbidden":
            message = f"unknown key {path[-1]!r} (a typo?)"
        elif item["type"] == "missing":
            message = "is required"
        elif item["type"] == "literal_error":
            message = f"{item['input']!r} is not valid; {message[0].lower()}{message[1:]}"
        elif "input" in item and not isinstance(item["input"], (dict, list)):
            message = f"{message} (got {item['input']!r})"
        problems.append(Problem(path, message))
    return problems


def parse_config(data: Any) -> tuple[InferentiaConfig | None, list[Problem]]:
    """Validate already-parsed data; returns the config (if its shape is right) and every problem found."""
    if not isinstance(data, dict):
        return None, [Problem((), f"the config must be a mapping of keys to values, got {type(data).__name__}")]
    try:
        config = InferentiaConfig.model_validate(data)
    except ValidationError as exc:
        return None, _pydantic_problems(exc)
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
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = lines.build(node) if node is not None else None
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
