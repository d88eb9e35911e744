"""Read a config file into :class:`InferentiaConfig`, turning every problem into ``file:line: path: message``.

A config file is untrusted plain data, so it is read the cautious way:

- the path must name a regular file of at most :data:`MAX_CONFIG_BYTES` (directories, FIFOs and devices are answered
  from ``stat`` without reading them), and its bytes must be UTF-8 text without control characters;
- YAML is parsed by libyaml into events, and the loader builds the data from them itself, iteratively: aliases and
  merge keys are refused (an alias is how a few lines expand into gigabytes), so are duplicate keys (YAML would keep
  the last silently), tags beyond the core ones, more than one document, and nesting deeper than :data:`MAX_DEPTH`;
- plain scalars follow the YAML 1.2 core schema: ``true``/``false`` are the only booleans and integers are plain
  decimal, so ``yes``, ``on``, ``010`` and ``1:30`` stay text (and an integer field says why it is not a number);
- strings are plain text: CDK token syntax (``${Token[...]}``) and CloudFormation dynamic references are refused.

Every line the builder sees is recorded by the path of the data it produced, so each problem gets its line.
"""

from __future__ import annotations

import math
import os
import re
import stat
from dataclasses import dataclass, field, replace
from typing import Any

import yaml
from pydantic import ValidationError

from ..config.models import InferentiaConfig
from ..config.problems import (
    Acknowledged,
    ConfigError,
    Path,
    Problem,
    Rule,
    acknowledge,
    errors,
    in_file_order,
    pydantic_problems,
    rule,
    shown,
    warnings,
)
from .validation import check_config

MAX_CONFIG_BYTES = 1 << 20
"""1 MiB: thirty times a config with 100 APIs. Anything larger is not a config somebody wrote."""
MAX_DEPTH = 32
"""The deepest config value is four levels down (apis[0].compute.cpu); libyaml's own composer recurses in C."""
MAX_ENTRIES = 1000
"""Entries of any one list or mapping. Each rule then runs over a few hundred things at most, whatever the file."""
MAX_PROBLEMS = 200
"""Problems reported at once; the rest are counted in one last line."""


@dataclass(frozen=True)
class LoadedConfig:
    config: InferentiaConfig
    warnings: tuple[Problem, ...]
    source: str
    acknowledged: tuple[Acknowledged, ...] = ()
    """The warnings the config's ``acknowledge`` silenced, with their reasons."""
    notes: tuple[Problem, ...] = ()
    """What will happen that needs no change (severity ``note``), such as pods Pending until nodes are added."""


# libyaml's parser where PyYAML was built with it: the same events, several times faster on large configs.
_Parser: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

_FILE_KINDS = (
    (stat.S_ISDIR, "a directory"),
    (stat.S_ISFIFO, "a FIFO (named pipe)"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
)


READABLE_FILE = rule("FILE001", "error", "the config path names a readable regular file")
FILE_SIZE = rule("FILE002", "error", "the config file is at most 1 MiB")
TEXT_FILE = rule("FILE003", "error", "the config file is UTF-8 text without control characters")
YAML_SYNTAX = rule("FILE004", "error", "the config file is valid YAML")
ONE_DOCUMENT = rule("FILE005", "error", "the config file holds one YAML document")
NO_ALIASES = rule("FILE006", "error", "the config uses no YAML aliases or merge keys (they can expand without bound)")
CORE_TAGS = rule("FILE007", "error", "the config uses only YAML's core tags")
UNIQUE_KEYS = rule("FILE008", "error", "no mapping repeats a key")
PLAIN_KEYS = rule("FILE009", "error", "mapping keys are plain text or numbers")
BOUNDED_SHAPE = rule(
    "FILE010", "error", "the config nests at most 32 levels and no list or mapping exceeds 1000 entries"
)
PLAIN_TEXT = rule("FILE011", "error", "strings are plain text, never CDK tokens or CloudFormation dynamic references")
MAPPING_CONFIG = rule("FILE012", "error", "the config is a non-empty mapping of keys to values")
TOO_MANY_PROBLEMS = rule("FILE014", "error", "at most 200 problems are listed; the last line counts the rest")
READ_FAILED = rule("FILE013", "error", "reading the config fails on no internal error (one would be a bug to report)")


def _file_problem(message: str, reading: Rule = READABLE_FILE) -> ConfigError:
    return ConfigError([reading.problem((), message)], None)


def read_config_bytes(path: object) -> bytes:
    """The bytes of the config file at ``path``; raises :class:`ConfigError` (without a source) for anything but a
    regular file of at most :data:`MAX_CONFIG_BYTES`, without reading from anything else."""
    if not isinstance(path, (str, os.PathLike)):
        raise _file_problem(f"the config path must be a file name, got {shown(path)}")
    if os.fspath(path) in ("", b""):
        raise _file_problem("no config file named: the path is empty")
    try:
        # stat first: opening a device or a FIFO can block or have side effects (a tape device rewinds on open).
        mode = os.stat(path).st_mode
    except (OSError, ValueError) as error:  # ValueError: an embedded NUL byte
        raise _file_problem(f"cannot read the config file: {getattr(error, 'strerror', None) or error}") from None
    kind = next((name for test, name in _FILE_KINDS if test(mode)), None)
    if kind is not None:
        raise _file_problem(f"the config path is {kind}, not a regular file")
    try:
        descriptor = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except OSError as error:
        raise _file_problem(f"cannot read the config file: {error.strerror or error}") from None
    try:
        if not stat.S_ISREG(os.fstat(descriptor).st_mode):  # replaced between stat and open
            raise _file_problem("the config path is not a regular file")
        chunks, size = [], 0
        while size <= MAX_CONFIG_BYTES:
            chunk = os.read(descriptor, MAX_CONFIG_BYTES + 1 - size)
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
    except OSError as error:
        raise _file_problem(f"cannot read the config file: {error.strerror or error}") from None
    finally:
        os.close(descriptor)
    if size > MAX_CONFIG_BYTES:
        raise _file_problem(
            f"the config file is larger than {MAX_CONFIG_BYTES // 1024} KiB, more than any config", FILE_SIZE
        )
    return b"".join(chunks)


# Outside YAML's printable set (tab, line breaks, printable Unicode): the C0 and C1 controls, DEL, and U+FFFE/U+FFFF.
_NOT_PRINTABLE = re.compile("[^\t\n\r\x20-\x7e\x85\xa0-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def _line_of_offset(text: str | bytes, offset: int) -> int:
    newline: Any = "\n" if isinstance(text, str) else b"\n"
    return text.count(newline, 0, offset) + 1


def decode_config(data: bytes) -> str:
    """The text of a config file; raises :class:`ConfigError` for bytes that are not UTF-8 or a control character,
    with its line."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        line = _line_of_offset(data, error.start)
        raise ConfigError(
            [
                TEXT_FILE.problem(
                    (), f"the file is not UTF-8 text: byte 0x{data[error.start]:02x} on this line"
                ).with_line(line)
            ]
        ) from None
    text = text.removeprefix("\ufeff")
    bad = _NOT_PRINTABLE.search(text)
    if bad is not None:
        character = bad.group()
        raise ConfigError(
            [
                TEXT_FILE.problem(
                    (),
                    f"control character U+{ord(character):04X} ({shown(character)}) on this line; YAML allows tabs, "
                    "line breaks and printable characters only (write it as an escape in a double-quoted string)",
                ).with_line(_line_of_offset(text, bad.start()))
            ]
        )
    return text


# --- YAML events to data -------------------------------------------------------------------------------------------

_TAG = "tag:yaml.org,2002:"
_NULLS = frozenset({"", "~", "null", "Null", "NULL"})
_TRUE = frozenset({"true", "True", "TRUE"})
_FALSE = frozenset({"false", "False", "FALSE"})
_INTEGER = re.compile(r"[-+]?(?:0|[1-9][0-9]*)")
# The YAML 1.2 core float, less integers with leading zeros (text here, so that an integer field can explain them).
_FLOAT = re.compile(r"[-+]?(?:\.[0-9]+|[0-9]+\.[0-9]*|[0-9]+(?:\.[0-9]*)?[eE][-+]?[0-9]+)")
_INFINITY = re.compile(r"([-+]?)\.(?:inf|Inf|INF)")
_NAN = frozenset({".nan", ".NaN", ".NAN"})


def _plain(value: str) -> Any:
    """A plain (unquoted, untagged) scalar under the YAML 1.2 core schema."""
    if value in _NULLS:
        return None
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    if _INTEGER.fullmatch(value):
        try:
            return int(value)
        except ValueError:  # beyond Python's int-from-text digit limit: far outside every field, kept as its text
            return value
    if _FLOAT.fullmatch(value):
        return float(value)
    infinity = _INFINITY.fullmatch(value)
    if infinity:
        return -math.inf if infinity.group(1) == "-" else math.inf
    if value in _NAN:
        return math.nan
    return value


_CORE_TYPES: dict[str, tuple[type, ...]] = {
    f"{_TAG}int": (int,),
    f"{_TAG}float": (float, int),
    f"{_TAG}bool": (bool,),
    f"{_TAG}null": (type(None),),
}


def _scalar(event: yaml.ScalarEvent) -> tuple[Any, tuple[Rule, str] | None]:
    """The value of a scalar event, or None and why it is refused."""
    tag = event.tag
    if tag is None and event.implicit[0]:
        return _plain(event.value), None
    if tag in (None, "!", f"{_TAG}str"):
        return event.value, None
    if tag in _CORE_TYPES:
        value = _plain(event.value)
        wanted = _CORE_TYPES[tag]
        if isinstance(value, wanted) and not (isinstance(value, bool) and bool not in wanted):
            return (float(value) if isinstance(value, int) and tag.endswith("float") else value), None
        return None, (CORE_TAGS, f"{shown(event.value)} is not a valid !!{tag.removeprefix(_TAG)}")
    return None, (
        CORE_TAGS,
        f"YAML tag {shown(tag)} is not supported: a config holds plain text, numbers, true/false, lists and mappings",
    )


_NO_KEY = object()
_DROPPED = object()
"""The key of an entry that was refused (a duplicate, a merge key, a list as key): its value is read and dropped."""


@dataclass
class _Frame:
    container: dict[Any, Any] | list[Any]
    path: Path
    key: Any = _NO_KEY
    key_lines: dict[Any, int] = field(default_factory=dict)


@dataclass
class _Document:
    """The data of a YAML document, the line of every path in it, and the problems that make it unusable."""

    data: Any = None
    lines: dict[Path, int] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)

    def line_of(self, path: Path) -> int | None:
        for end in range(len(path), -1, -1):
            line = self.lines.get(path[:end])
            if line is not None:
                return line
        return None


class _Builder:
    """Places each node where it belongs, as the events arrive, and records its line by path."""

    def __init__(self) -> None:
        self.document = _Document()
        self.stack: list[_Frame] = []
        self.full = False
        """True once a list or mapping outgrew :data:`MAX_ENTRIES`: nothing after it is read."""

    def problem(self, found: Rule, path: Path, message: str, line: int) -> None:
        self.document.problems.append(found.problem(path, message).with_line(line))

    @property
    def path(self) -> Path:
        return self.stack[-1].path if self.stack else ()

    def too_many(self, frame: _Frame, line: int) -> None:
        self.full = True
        self.problem(
            BOUNDED_SHAPE,
            frame.path,
            f"has more than {MAX_ENTRIES} entries; no config list or mapping is this long",
            line,
        )

    def append(self, frame: _Frame, value: Any, line: int) -> Path | None:
        """Add ``value`` to the list of ``frame``: its path, or None once the list is longer than any config's."""
        assert isinstance(frame.container, list)
        path = (*frame.path, len(frame.container))
        frame.container.append(value)
        self.document.lines[path] = line
        if len(frame.container) > MAX_ENTRIES:
            self.too_many(frame, line)
            return None
        return path

    def scalar(
        self, value: Any, line: int, refused: tuple[Rule, str] | None = None, *, merge_key: bool = False
    ) -> None:
        if not self.stack:
            self.document.data, self.document.lines[()] = value, line
            if refused:
                self.problem(refused[0], (), refused[1], line)
            return
        frame = self.stack[-1]
        if isinstance(frame.container, list):
            item = self.append(frame, value, line)
            if item is None:
                return
            path = item
        elif frame.key is _NO_KEY:  # ``value`` is a key
            if len(frame.key_lines) >= MAX_ENTRIES:
                self.too_many(frame, line)
                return
            path = (*frame.path, value)
            first = frame.key_lines.get(value)
            if merge_key:
                refused = NO_ALIASES, "YAML merge keys (<<) are not supported: write the keys out"
            elif first is not None:
                refused = (
                    UNIQUE_KEYS,
                    f"duplicate key {shown(value)} (first on line {first}); YAML would keep only the last",
                )
            else:
                frame.key_lines[value] = line
                self.document.lines[path] = line
            frame.key = _DROPPED if refused else value
        else:
            path = (*frame.path, frame.key)
            if frame.key is not _DROPPED:
                assert isinstance(frame.container, dict)
                frame.container[frame.key] = value
            frame.key = _NO_KEY
        if refused:
            self.problem(refused[0], path, refused[1], line)

    def start(self, container: dict[Any, Any] | list[Any], line: int) -> bool:
        """Open a mapping or sequence; False when it nests too deep to go on."""
        if len(self.stack) >= MAX_DEPTH:
            self.problem(
                BOUNDED_SHAPE, self.path, f"nests deeper than {MAX_DEPTH} levels; no config is this deep", line
            )
            return False
        if not self.stack:
            path: Path = ()
            self.document.data, self.document.lines[()] = container, line
        else:
            frame = self.stack[-1]
            if isinstance(frame.container, list):
                item = self.append(frame, container, line)
                if item is None:
                    return False
                path = item
            elif frame.key is _NO_KEY:  # a list or mapping as a key: read it, then drop it and its value
                path = (*frame.path, "<key>")
                self.problem(
                    PLAIN_KEYS,
                    frame.path,
                    "a mapping key must be plain text or a number, not a list or a mapping",
                    line,
                )
                frame.key = _DROPPED
            elif frame.key is _DROPPED:
                path = (*frame.path, "<dropped>")
                frame.key = _NO_KEY
            else:
                path = (*frame.path, frame.key)
                assert isinstance(frame.container, dict)
                frame.container[frame.key] = container
                frame.key = _NO_KEY
        self.stack.append(_Frame(container, path))
        return True


def compose(text: str) -> _Document:
    """Build the data of ``text`` (one YAML document) from libyaml's events; see the module doc for what is refused."""
    builder = _Builder()
    parser = _Parser(text)
    documents = 0
    try:
        while True:
            event = parser.get_event()  # type: ignore[no-untyped-call]
            line = event.start_mark.line + 1 if event.start_mark is not None else 1
            if isinstance(event, yaml.StreamEndEvent):
                break
            if isinstance(event, yaml.DocumentStartEvent):
                documents += 1
                if documents > 1:
                    builder.problem(ONE_DOCUMENT, (), "a second YAML document ('---'); a config file holds one", line)
                    break
            elif isinstance(event, yaml.ScalarEvent):
                value, refused = _scalar(event)
                merge_key = event.tag is None and event.implicit[0] and event.value == "<<"
                builder.scalar(value, line, refused, merge_key=merge_key)
                if builder.full:
                    break
            elif isinstance(event, yaml.AliasEvent):
                anchor = str(event.anchor)
                anchor = anchor if len(anchor) <= 40 else f"{anchor[:37]}..."
                refused = (
                    NO_ALIASES,
                    f"YAML aliases (*{anchor}) are not supported: write the value out where it is used",
                )
                builder.scalar(None, line, refused)
                if builder.full:
                    break
            elif isinstance(event, (yaml.MappingStartEvent, yaml.SequenceStartEvent)):
                is_mapping = isinstance(event, yaml.MappingStartEvent)
                if event.tag not in (None, "!", f"{_TAG}{'map' if is_mapping else 'seq'}"):
                    builder.problem(
                        CORE_TAGS,
                        builder.path,
                        f"YAML tag {shown(event.tag)} is not supported: a config holds plain text, numbers, "
                        "true/false, lists and mappings",
                        line,
                    )
                if not builder.start({} if is_mapping else [], line):
                    break
            elif isinstance(event, (yaml.MappingEndEvent, yaml.SequenceEndEvent)):
                builder.stack.pop()
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None) or getattr(error, "context_mark", None)
        reason = getattr(error, "problem", None) or str(error)
        builder.problem(YAML_SYNTAX, (), f"YAML syntax error: {reason}", mark.line + 1 if mark is not None else 1)
    finally:
        parser.dispose()
    return builder.document


# --- data to config ------------------------------------------------------------------------------------------------

# A string from a file is plain text: never a CDK token (which would resolve to another construct's value, and which
# the checks skip) nor a CloudFormation dynamic reference (which CloudFormation would resolve at deploy).
_TOKEN_MARKERS = ("${Token[", "#{Token[", "{{resolve:")


def _any_token_syntax(data: Any) -> bool:
    """Whether any string of ``data`` holds token syntax: one pass without paths, since almost no config does."""
    # repr() writes every string with each marker's characters as they are (none is a quote, a backslash or
    # unprintable), so a repr without a marker proves there is none, in one C-level pass. A marker in it may come from
    # something other than a string (an object's repr), which the walk below settles.
    try:
        text = repr(data)
    except RecursionError:
        text = "".join(_TOKEN_MARKERS)
    if not any(marker in text for marker in _TOKEN_MARKERS):
        return False
    pending = [data]
    while pending:
        value = pending.pop()
        if isinstance(value, dict):
            pending.extend(value.values())
            pending.extend(value)
        elif isinstance(value, list):
            pending.extend(value)
        # Every marker has a "{": one C-level test rules out almost every string.
        elif isinstance(value, str) and "{" in value and any(marker in value for marker in _TOKEN_MARKERS):
            return True
    return False


def token_problems(data: Any) -> list[Problem]:
    """A problem for every string (key or value) in ``data`` that holds CDK token or dynamic reference syntax."""
    if not _any_token_syntax(data):
        return []
    found: list[Problem] = []
    pending: list[tuple[Path, Any]] = [((), data)]
    while pending:
        path, value = pending.pop()
        if isinstance(value, dict):
            for key, item in value.items():
                pending.append(((*path, key), item))
                if isinstance(key, str) and any(marker in key for marker in _TOKEN_MARKERS):
                    found.append(PLAIN_TEXT.problem((*path, key), _token_message(key)))
        elif isinstance(value, list):
            pending.extend(((*path, i), item) for i, item in enumerate(value))
        elif isinstance(value, str) and any(marker in value for marker in _TOKEN_MARKERS):
            found.append(PLAIN_TEXT.problem(path, _token_message(value)))
    return found


def _token_message(text: str) -> str:
    marker = next(m for m in _TOKEN_MARKERS if m in text)
    return (
        f"{shown(text)} contains {marker!r}: strings in a config file are plain text, never CDK tokens or "
        "CloudFormation dynamic references"
    )


_LISTS = ("node_groups", "apis")


def _rules_on_well_formed_part(data: dict[Any, Any], shape_problems: list[Problem]) -> list[Problem]:
    """The cross-field problems of the entries whose shape is right, so that one run reports both kinds.

    Entries of ``node_groups`` and ``apis`` with a shape problem are left out (and so are APIs on a left-out node
    group, which would otherwise be reported as naming no node group); other sections with one fall back to their
    defaults. Paths are mapped back to the entries' places in the file.
    """
    broken: dict[str, set[int]] = {name: set() for name in _LISTS}
    partial = dict(data)
    pruned: list[Path] = []
    for problem in shape_problems:
        head = problem.path[0] if problem.path else None
        if head in _LISTS and len(problem.path) > 1 and isinstance(problem.path[1], int):
            broken[str(head)].add(problem.path[1])
        elif head is not None:
            # Only the broken key of a section falls back to its default: the rest of the section (cluster.region
            # beside a bad cluster.name) still counts for the cross-field rules.
            section = partial.get(head)
            if len(problem.path) > 1 and isinstance(section, dict):
                partial[head] = {k: v for k, v in section.items() if k != problem.path[1]}
                pruned.append(problem.path[:2])
            else:
                partial.pop(head, None)
                pruned.append(problem.path[:1])
    groups = data.get("node_groups")
    dropped_groups = {
        group.get("name")
        for i, group in enumerate(groups if isinstance(groups, list) else [])
        if i in broken["node_groups"] and isinstance(group, dict) and isinstance(group.get("name"), str)
    }
    kept: dict[str, list[int]] = {}
    for name in _LISTS:
        items = data.get(name)
        if isinstance(items, list):
            kept[name] = [
                i
                for i, item in enumerate(items)
                if i not in broken[name]
                and not (
                    isinstance(item, dict)
                    and isinstance(item.get("node_group"), str)
                    and item["node_group"] in dropped_groups
                )
            ]
            partial[name] = [items[i] for i in kept[name]]
    try:
        config = InferentiaConfig.model_validate(partial)
    except ValidationError:
        return []
    found = []
    for problem in check_config(config):
        path = problem.path
        if any(path[: len(prefix)] == prefix for prefix in pruned):
            continue  # about a value that fell back to its default: its own problem is reported already
        if len(path) > 1 and path[0] in kept and isinstance(path[1], int):
            path = (path[0], kept[str(path[0])][path[1]], *path[2:])
        found.append(replace(problem, path=path))
    return found


def parse_config(data: Any) -> tuple[InferentiaConfig | None, list[Problem]]:
    """Validate already-parsed data; returns the config (if its shape is right) and every problem found."""
    if data is None:
        return None, [MAPPING_CONFIG.problem((), "the config is empty; it needs at least node_groups")]
    if not isinstance(data, dict):
        return None, [
            MAPPING_CONFIG.problem((), f"the config must be a mapping of keys to values, got {type(data).__name__}")
        ]
    tokens = token_problems(data)
    try:
        config = InferentiaConfig.model_validate(data)
    except ValidationError as exc:
        shape = pydantic_problems(exc)
        return None, tokens + shape + _rules_on_well_formed_part(data, shape)
    return (None if tokens else config), tokens + check_config(config)


def load_config(path: str | os.PathLike[str]) -> LoadedConfig:
    """Load and validate a config file; raises :class:`ConfigError` listing every error with its line, and nothing
    else, whatever the file holds."""
    source = os.fspath(path) if isinstance(path, (str, os.PathLike)) else repr(path)
    try:
        text = decode_config(read_config_bytes(path))
    except ConfigError as error:
        raise ConfigError(error.problems, str(source)) from None
    document = compose(text)
    if document.problems:
        raise ConfigError(document.problems, str(source))
    config, problems = parse_config(document.data)
    located = in_file_order(p.with_line(document.line_of(p.path) or 1) for p in problems)
    found = errors(located)
    if len(found) > MAX_PROBLEMS:
        hidden = found[MAX_PROBLEMS]
        rest = TOO_MANY_PROBLEMS.problem(hidden.path, f"and {len(found) - MAX_PROBLEMS} more problems")
        found = [*found[:MAX_PROBLEMS], rest.with_line(hidden.line)]
    if config is None or found:
        raise ConfigError(found, str(source))
    shown_warnings, acknowledged = acknowledge(warnings(located), config.acknowledge)
    notes = tuple(p for p in located if p.severity == "note")
    return LoadedConfig(config, tuple(shown_warnings), str(source), tuple(acknowledged), notes)
