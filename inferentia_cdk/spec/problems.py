"""Problems found in a configuration, and the one error that carries all of them."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Literal

from pydantic import ValidationError

Path = tuple[str | int, ...]
Severity = Literal["error", "warning"]


def format_path(path: Path) -> str:
    """``("apis", 1, "processes_per_replica")`` -> ``apis[1].processes_per_replica``."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else part
    return out or "<config>"


@dataclass(frozen=True)
class Problem:
    """One thing wrong (or worth a warning) in a configuration, located by its path."""

    path: Path
    message: str
    severity: Severity = "error"
    line: int | None = None
    """1-based line in the config file, when the problem came from a file."""

    @property
    def location(self) -> str:
        return format_path(self.path)

    def with_line(self, line: int | None) -> Problem:
        return replace(self, line=line)

    def render(self, source: str | None = None) -> str:
        prefix = ""
        if source is not None:
            prefix = f"{source}:{self.line}: " if self.line is not None else f"{source}: "
        tag = "warning: " if self.severity == "warning" else ""
        return f"{prefix}{self.location}: {tag}{self.message}"


def errors(problems: Iterable[Problem]) -> list[Problem]:
    return [p for p in problems if p.severity == "error"]


def warnings(problems: Iterable[Problem]) -> list[Problem]:
    return [p for p in problems if p.severity == "warning"]


class ConfigError(ValueError):
    """Every error found in a configuration, one line each.

    Raised before any CDK resource is created, so a bad config never yields a half-built stack.
    """

    def __init__(self, problems: Sequence[Problem], source: str | None = None) -> None:
        self.problems = tuple(problems)
        self.source = source
        super().__init__(self.render())

    def render(self) -> str:
        lines = [p.render(self.source) for p in self.problems]
        noun = "problem" if len(lines) == 1 else "problems"
        return f"invalid inferentia-cdk configuration ({len(lines)} {noun}):\n" + "\n".join(
            f"  {line}" for line in lines
        )


def raise_for_errors(problems: Iterable[Problem], source: str | None = None) -> None:
    found = errors(problems)
    if found:
        raise ConfigError(found, source)


def pydantic_problems(error: ValidationError) -> list[Problem]:
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
        elif item["type"] != "value_error" and "input" in item and not isinstance(item["input"], (dict, list)):
            message = f"{message} (got {item['input']!r})"
        problems.append(Problem(path, message))
    return problems
