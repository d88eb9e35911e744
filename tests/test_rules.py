"""The rule registry: every problem the project reports carries the code of a registered rule.

Fast (no synth): a few hundred generated, mutated and hostile configs go through the loader in-process, and the
package's source is checked for problems built without a rule.
"""

from __future__ import annotations

import ast
import random
from pathlib import Path

import pytest
from test_config_fuzz import mutated_config, mutated_text
from test_hostile_input import VALID, _billion_laughs, _merge_bomb

import inferentia_cdk
from inferentia_cdk.config.problems import RULE_CODE, RULES, ConfigError, Problem
from inferentia_cdk.planning.loader import MAX_CONFIG_BYTES, load_config

PACKAGE = Path(inferentia_cdk.__file__).resolve().parent
CONFIGS_PER_STRATEGY = 300


def reported(path: Path, content: bytes) -> list[Problem]:
    """Every problem ``load_config`` reports on ``content``: the errors it raises, or the warnings it keeps."""
    path.unlink(missing_ok=True)
    path.write_bytes(content)
    try:
        return list(load_config(path).warnings)
    except ConfigError as error:
        return list(error.problems)


def uncoded(problems: list[Problem]) -> list[Problem]:
    return [p for p in problems if p.code not in RULES or RULES[p.code].severity != p.severity]


def _hostile_inputs() -> dict[str, bytes]:
    return {
        "billion laughs": _billion_laughs().encode(),
        "merge-key bomb": _merge_bomb().encode(),
        "deep nesting": ("node_groups: " + "[" * 100 + "]" * 100 + "\n").encode(),
        "many keys": ("cluster:\n" + "".join(f"  k{i}: {i}\n" for i in range(1100))).encode(),
        "larger than the cap": (VALID + "#" * (MAX_CONFIG_BYTES + 1) + "\n").encode(),
        "not UTF-8": VALID.encode() + b"\xff\n",
        "control character": VALID.replace("demo", "de\x07mo").encode(),
        "empty": b"",
        "a list": b"- 1\n",
        "a second document": (VALID + "---\na: 1\n").encode(),
        "a token": VALID.replace("demo", "${Token[X.1]}").encode(),
        "a tag": VALID.replace("name: demo", "name: !!binary ZGVtbw==").encode(),
        "syntax": b"a: [\n",
        "list as key": b"? [a]\n: 1\n",
        "duplicate key": (VALID + "cluster: {}\n").encode(),
    }


def test_every_problem_of_generated_mutated_and_hostile_configs_has_a_registered_code(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    seen: set[str] = set()
    failures: list[str] = []
    inputs = [mutated_config(random.Random(seed)).encode() for seed in range(CONFIGS_PER_STRATEGY)]
    inputs += [mutated_text(random.Random(seed)) for seed in range(CONFIGS_PER_STRATEGY)]
    inputs += list(_hostile_inputs().values())
    for content in inputs:
        problems = reported(path, content)
        seen.update(p.code for p in problems if p.code)
        failures += [f"{p.render()} ({p.severity}, code {p.code})" for p in uncoded(problems)]
    assert failures == []
    assert len(seen) >= 20, f"the inputs should exercise many rules, saw {sorted(seen)}"


def test_a_missing_file_and_a_directory_carry_a_code(tmp_path: Path) -> None:
    for path in (tmp_path / "missing.yaml", tmp_path):
        with pytest.raises(ConfigError) as raised:
            load_config(path)
        assert [p.code for p in raised.value.problems] == ["FILE001"]


def test_no_problem_is_built_without_a_rule() -> None:
    """``Problem(...)`` outside the registry's own module has no code; every producer goes through ``Rule.problem``."""
    direct = []
    for source in PACKAGE.rglob("*.py"):
        if source.name == "problems.py" and source.parent.name == "config":
            continue
        for node in ast.walk(ast.parse(source.read_text(), str(source))):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "Problem":
                direct.append(f"{source.relative_to(PACKAGE)}:{node.lineno}")
    assert direct == []


def test_every_registered_code_follows_the_grammar_and_has_a_summary() -> None:
    for code, registered in RULES.items():
        assert RULE_CODE.fullmatch(code) and registered.code == code
        assert registered.severity in ("error", "warning")
        assert registered.summary and "\n" not in registered.summary


def test_a_code_is_defined_once() -> None:
    from inferentia_cdk.config.problems import rule

    with pytest.raises(ValueError, match="defined twice"):
        rule("NG002", "error", "again")
    with pytest.raises(ValueError, match="does not match"):
        rule("ng2", "error", "lowercase")
