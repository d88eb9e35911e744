"""Problems found in a configuration, and the one error that carries all of them."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Literal

from pydantic import ValidationError
from pydantic_core import PydanticCustomError

Path = tuple[str | int, ...]
Severity = Literal["error", "warning", "note"]
"""``error`` refuses the config; ``warning`` is worth changing (or acknowledging); ``note`` only says what will happen
(a deliberate choice such as a node group that starts empty needs no change, so it is no warning)."""

RULE_CODE = re.compile(r"[A-Z]{2,5}[0-9]{3}")
"""A rule's code: an area (``NG`` node groups, ``API``, ``EP`` endpoints, ...) and a number, such as ``NG004``."""


SHOWN_LIMIT = 80
"""Characters of a user's value quoted in a message: enough to recognise it, never a whole file."""
# Keys that print as ``a.b``; anything else (spaces, dots, brackets, quotes, control characters) is quoted.
_PLAIN_KEY = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9_/-]*")


def shown(value: object, limit: int = SHOWN_LIMIT) -> str:
    """``repr(value)``, cut to ``limit`` characters: a value quoted in a message stays short and on one line."""
    text = repr(value)
    return text if len(text) <= limit else f"{text[: limit - 3]}..."


def one_line(text: str) -> str:
    """``text`` with every character that is not printable (line breaks, escapes, separators) spelled as an escape,
    so that a value from a config can never start a second, forged ``file:line:`` line."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode("ascii") for c in text)


def format_path(path: Path) -> str:
    """``("apis", 1, "processes_per_replica")`` -> ``apis[1].processes_per_replica``; odd keys are quoted
    (``env['A B']``)."""
    out = ""
    for part in path:
        if isinstance(part, int) and not isinstance(part, bool):
            out += f"[{part}]"
        elif isinstance(part, str) and _PLAIN_KEY.fullmatch(part):
            out += f".{part}" if out else part
        else:
            out += f"[{shown(part)}]"
    return out or "<config>"


@dataclass(frozen=True)
class Problem:
    """One thing wrong (or worth a warning) in a configuration, located by its path."""

    path: Path
    message: str
    severity: Severity = "error"
    line: int | None = None
    """1-based line in the config file, when the problem came from a file."""
    code: str | None = None
    """The :class:`Rule` that found it; every problem of a config carries one."""

    @property
    def location(self) -> str:
        return format_path(self.path)

    def with_line(self, line: int | None) -> Problem:
        return replace(self, line=line)

    def render(self, source: str | None = None) -> str:
        """``file:line: path: message`` (``file: path: message`` for a problem with the file itself), one line."""
        prefix = ""
        if source is not None:
            prefix = f"{source}:{self.line}: " if self.line is not None else f"{source}: "
        tag = "" if self.severity == "error" else f"{self.severity}: "
        code = f" [{self.code}]" if self.code else ""
        return one_line(f"{prefix}{self.location}: {tag}{self.message}{code}")


@dataclass(frozen=True)
class Rule:
    """A check with a stable identity: its code keeps its meaning across releases, so a user can acknowledge a warning
    by code, tests assert codes rather than wording, and ``docs/rules.md`` lists every one."""

    code: str
    severity: Severity
    summary: str
    """One line: what the rule ensures (the page's table and ``--help`` show it)."""

    def problem(self, path: Path, message: str) -> Problem:
        return Problem(path, message, self.severity, code=self.code)

    def invalid(self, message: str) -> PydanticCustomError:
        """The error a pydantic validator raises for this rule: its type is the code, so :func:`pydantic_problems`
        reports the problem under it."""
        return PydanticCustomError(self.code, message)


RULES: dict[str, Rule] = {}
"""Every rule by code, filled as the modules that define rules are imported."""


def rule(code: str, severity: Severity, summary: str) -> Rule:
    """Define (and register) the rule ``code``; a code is defined once, in the module whose checks use it."""
    if not RULE_CODE.fullmatch(code):
        raise ValueError(f"rule code {code!r} does not match {RULE_CODE.pattern}")
    if code in RULES:
        raise ValueError(f"rule code {code!r} is defined twice")
    RULES[code] = defined = Rule(code, severity, summary)
    return defined


BAD_ARGUMENT = rule("ARG001", "error", "a construct's argument has the type and value the construct takes")


def argument_problem(argument: str | Path, value: object, valid: str) -> Problem:
    """A construct's keyword argument (or a path into one) that got ``value``, with what would be valid."""
    return BAD_ARGUMENT.problem(
        (argument,) if isinstance(argument, str) else argument, f"{shown(value)} is not valid; valid: {valid}"
    )


def list_argument_problems(argument: str, value: object, item_type: type, valid: str, valid_item: str) -> list[Problem]:
    """A construct's list argument that is no list (a string counts as none), or the items of it of the wrong type."""
    if isinstance(value, (str, bytes)) or not isinstance(value, Sequence):
        return [argument_problem(argument, value, valid)]
    return [
        argument_problem((argument, i), item, valid_item)
        for i, item in enumerate(value)
        if not isinstance(item, item_type)
    ]


@dataclass(frozen=True)
class Acknowledged:
    """A warning the user acknowledged by its code, with the reason they gave."""

    problem: Problem
    reason: str

    def render(self, source: str | None = None) -> str:
        """``file:line: path: [CODE] reason``, one line."""
        problem = self.problem
        prefix = ""
        if source is not None:
            prefix = f"{source}:{problem.line}: " if problem.line is not None else f"{source}: "
        return one_line(f"{prefix}{problem.location}: [{problem.code}] {self.reason}")

    def as_json(self) -> dict[str, object]:
        problem = self.problem
        return {"code": problem.code, "path": problem.location, "line": problem.line, "reason": self.reason}


def acknowledge(
    problems: Iterable[Problem], acknowledgements: Mapping[str, str]
) -> tuple[list[Problem], list[Acknowledged]]:
    """``problems`` without the warnings whose code is acknowledged, and those warnings with their reasons. Errors
    are never acknowledged (the rules refuse the code of an error in ``acknowledge``)."""
    kept: list[Problem] = []
    acknowledged: list[Acknowledged] = []
    for problem in problems:
        reason = acknowledgements.get(problem.code or "") if problem.severity == "warning" else None
        if reason is None:
            kept.append(problem)
        else:
            acknowledged.append(Acknowledged(problem, reason))
    return kept, acknowledged


def in_file_order(problems: Iterable[Problem]) -> list[Problem]:
    """``problems`` by line, then path: the order a reader meets them in the file (unlocated ones first)."""
    return sorted(problems, key=lambda p: (p.line or 0, p.location))


def errors(problems: Iterable[Problem]) -> list[Problem]:
    return [p for p in problems if p.severity == "error"]


def warnings(problems: Iterable[Problem]) -> list[Problem]:
    return [p for p in problems if p.severity == "warning"]


def notes(problems: Iterable[Problem]) -> list[Problem]:
    return [p for p in problems if p.severity == "note"]


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


# Plain scalars that YAML 1.1 (PyYAML, and so many tools) reads as numbers or booleans, but the loader keeps as text
# (YAML 1.2): say why such a value is not the number it looks like.
_YAML11_INT = re.compile(
    r"[-+]?(0[0-7_]+|0o[0-7_]+|0x[0-9a-fA-F_]+|0b[01_]+|[0-9][0-9_]*(:[0-5]?[0-9])+|[0-9][0-9_]*_[0-9_]*)"
)
_YAML11_BOOL = frozenset(
    {"y", "Y", "yes", "Yes", "YES", "n", "N", "no", "No", "NO", "on", "On", "ON", "off", "Off", "OFF"}
)


_KINDS: dict[type, str] = {dict: "a mapping", list: "a list"}


def _yaml11_hint(value: object, error_type: str) -> str:
    if not isinstance(value, str):
        return ""
    if error_type == "bool_type":
        return "; write true or false"
    if value in _YAML11_BOOL:
        return f"; YAML 1.1 would read {value} as a boolean, and a boolean is not a number"
    if _YAML11_INT.fullmatch(value):
        return (
            f"; {value} is not a plain decimal number (YAML 1.1 reads leading zeros as octal, '1:30' as base 60 and "
            "'_' as a digit separator), so write the number in plain decimal digits"
        )
    return ""


UNKNOWN_KEY = rule("CFG001", "error", "every key is one the config knows (no typos)")
REQUIRED_KEY = rule("CFG002", "error", "every required key is given")
WRONG_TYPE = rule(
    "CFG003", "error", "every value has its field's type (text, whole number, number, true/false, list, mapping)"
)
OUT_OF_RANGE = rule("CFG004", "error", "every number is a finite number within its field's range")
NOT_A_CHOICE = rule("CFG005", "error", "every value with fixed choices is one of them")
WRONG_LENGTH = rule("CFG006", "error", "every list and text is within its field's length limits")
INVALID_VALUE = rule("CFG009", "error", "every value passes its field's own check")

_CODE_OF_TYPE: dict[str, Rule] = {
    "extra_forbidden": UNKNOWN_KEY,
    "missing": REQUIRED_KEY,
    "literal_error": NOT_A_CHOICE,
    "enum": NOT_A_CHOICE,
    **{
        kind: OUT_OF_RANGE
        for kind in (
            "greater_than",
            "greater_than_equal",
            "less_than",
            "less_than_equal",
            "finite_number",
            "multiple_of",
        )
    },
    **{kind: WRONG_LENGTH for kind in ("too_short", "too_long", "string_too_short", "string_too_long")},
}


def _rule_of(error_type: str) -> Rule:
    """The rule of a pydantic error: our own validators raise :meth:`Rule.invalid`, whose type is the code."""
    if error_type in RULES:
        return RULES[error_type]
    if error_type in _CODE_OF_TYPE:
        return _CODE_OF_TYPE[error_type]
    if error_type.endswith(("_type", "_parsing", "_from_float", "_fractional")) or error_type in (
        "model_attributes_type",
        "dataclass_type",
        "union_tag_invalid",
    ):
        return WRONG_TYPE
    return INVALID_VALUE


def pydantic_problems(error: ValidationError) -> list[Problem]:
    problems = []
    for item in error.errors(include_url=False):
        loc = item["loc"]
        is_key = bool(loc) and loc[-1] == "[key]"
        path: Path = tuple(p for p in (loc[:-1] if is_key else loc) if isinstance(p, (str, int)))
        message = item["msg"]
        if message.startswith("Value error, "):
            message = message[len("Value error, ") :]
        found = _rule_of(item["type"])
        if item["type"] == "extra_forbidden":
            message = f"unknown key {shown(path[-1])} (a typo?)"
        elif item["type"] == "missing":
            message = "is required"
        elif item["type"] == "literal_error":
            message = f"{shown(item['input'])} is not valid; {message[0].lower()}{message[1:]}"
        elif item["type"] != "value_error" and item["type"] not in RULES and "input" in item:
            value = item["input"]
            got = _KINDS.get(type(value)) or shown(value)
            message = f"{message} (got {got}){_yaml11_hint(value, item['type'])}"
        problems.append(found.problem(path, f"key: {message}" if is_key else message))
    return problems
