"""The rule registry: every problem the project reports carries the code of a registered rule.

Fast (no synth): a few hundred generated, mutated and hostile configs go through the loader in-process, and the
package's source is checked for problems built without a rule.
"""

from __future__ import annotations

import ast
import io
import json
import random
from pathlib import Path

import pytest
from test_config_fuzz import mutated_config, mutated_text
from test_hostile_input import VALID, _billion_laughs, _merge_bomb

import inferentia_cdk
from inferentia_cdk.cli.main import EXIT_INVALID, EXIT_VALID, main
from inferentia_cdk.config.problems import RULE_CODE, RULES, ConfigError, Problem
from inferentia_cdk.planning.loader import MAX_CONFIG_BYTES, load_config

PACKAGE = Path(inferentia_cdk.__file__).resolve().parent
CONFIGS_PER_STRATEGY = 300


def reported(path: Path, content: bytes) -> list[Problem]:
    """Every problem ``load_config`` reports on ``content``: the errors it raises, or the warnings and notes kept."""
    path.unlink(missing_ok=True)
    path.write_bytes(content)
    try:
        loaded = load_config(path)
        return [*loaded.warnings, *loaded.notes]
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


def test_no_model_validator_raises_without_a_rule() -> None:
    """A bare ``ValueError`` in a model validator reaches the user as the catch-all CFG009; each check raises its own
    rule's ``invalid(...)`` instead."""
    bare = []
    # problems.py raises ValueError only for a programming error: a malformed or duplicate code.
    for source in (s for s in (PACKAGE / "config").rglob("*.py") if s.name != "problems.py"):
        for node in ast.walk(ast.parse(source.read_text(), str(source))):
            if isinstance(node, ast.Raise) and isinstance(node.exc, ast.Call):
                function = node.exc.func
                if isinstance(function, ast.Name) and function.id == "ValueError":
                    bare.append(f"{source.relative_to(PACKAGE)}:{node.lineno}")
    assert bare == []


def test_every_registered_code_follows_the_grammar_and_has_a_summary() -> None:
    for code, registered in RULES.items():
        assert RULE_CODE.fullmatch(code) and registered.code == code
        assert registered.severity in ("error", "warning", "note")
        assert registered.summary and "\n" not in registered.summary


def test_a_code_is_defined_once() -> None:
    from inferentia_cdk.config.problems import rule

    with pytest.raises(ValueError, match="defined twice"):
        rule("NG002", "error", "again")
    with pytest.raises(ValueError, match="does not match"):
        rule("ng2", "error", "lowercase")


# --- docs/rules.md ---------------------------------------------------------------------------------------------------


def test_the_rules_page_is_generated_from_the_registry() -> None:
    from inferentia_cdk import rules_page

    page = (PACKAGE.parent / "docs" / "rules.md").read_text()
    assert page == rules_page.render(), "regenerate: python -m inferentia_cdk.rules_page > docs/rules.md"
    for code in RULES:
        assert f"| {code} |" in page


# --- acknowledging warnings ----------------------------------------------------------------------------------------

INF1 = """\
cluster: {name: demo, region: us-east-1}
node_groups:
  - name: inf1
    instance_types: [inf1.xlarge]
    max_size: 2
"""


def _run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), out=out, err=err)
    return code, out.getvalue(), err.getvalue()


def _file(tmp_path: Path, text: str) -> str:
    path = tmp_path / "config.yaml"
    path.write_text(text)
    return str(path)


def test_an_acknowledged_warning_leaves_validate_and_is_listed_with_its_reason(tmp_path: Path) -> None:
    code, out, err = _run("validate", _file(tmp_path, INF1))
    assert code == EXIT_VALID and err.rstrip().endswith("[NG006]")
    path = _file(tmp_path, INF1 + 'acknowledge:\n  NG006: "we serve an inf1-compiled model"\n')
    code, out, err = _run("validate", path)
    assert (code, err) == (EXIT_VALID, "")
    assert "0 warnings, 1 acknowledged" in out
    assert f"acknowledged: {path}:4: node_groups[0].instance_types: [NG006] we serve an inf1-compiled model" in out
    loaded = load_config(path)
    assert loaded.warnings == () and [(a.problem.code, a.reason) for a in loaded.acknowledged] == [
        ("NG006", "we serve an inf1-compiled model")
    ]


def test_plan_lists_what_was_acknowledged_and_its_json_carries_it(tmp_path: Path) -> None:
    path = _file(
        tmp_path,
        INF1 + "apis:\n  - {name: a, node_group: inf1, image: x:1}\nacknowledge:\n  NG006: legacy model\n",
    )
    code, out, err = _run("plan", path)
    assert code == EXIT_VALID and "NG006" not in err
    assert out.rstrip().endswith(f"acknowledged: {path}:4: node_groups[0].instance_types: [NG006] legacy model")
    code, out, _ = _run("plan", "--json", path)
    assert json.loads(out)["acknowledged"] == [
        {"code": "NG006", "path": "node_groups[0].instance_types", "line": 4, "reason": "legacy model"}
    ]


@pytest.mark.parametrize(
    ("acknowledge", "code", "says"),
    [
        ("  NG999: why\n", "ACK001", "'NG999' is no rule code; valid warning codes: "),
        ("  NG007: why\n", "ACK001", "NG007 is an error"),
        ("  ng006: why\n", "ACK001", "valid warning codes: "),
        ('  NG006: ""\n', "ACK002", "plain text"),
        ('  NG006: "  "\n', "ACK002", "plain text"),
        (f"  NG006: {'x' * 501}\n", "ACK002", "1-500"),
    ],
)
def test_an_unknown_code_an_error_code_or_an_empty_reason_is_refused(
    tmp_path: Path, acknowledge: str, code: str, says: str
) -> None:
    with pytest.raises(ConfigError) as raised:
        load_config(_file(tmp_path, INF1 + "acknowledge:\n" + acknowledge))
    (problem,) = raised.value.problems
    assert (problem.code, problem.line, problem.path[0]) == (code, 7, "acknowledge")
    assert says in problem.message
    if code == "ACK001":
        assert "NG006" in problem.message and "NG007" not in problem.message.split("valid warning codes: ")[1]


def test_the_bundled_example_acknowledges_its_inf1_warning_with_a_reason() -> None:
    loaded = load_config(PACKAGE.parent / "examples" / "inferentia.yaml")
    assert loaded.warnings == ()
    assert [a.problem.code for a in loaded.acknowledged] == ["NG006"]
    assert "inf1" in loaded.acknowledged[0].reason


# --- messages (issue 19, item 7) -----------------------------------------------------------------------------------

EXPOSED = """\
cluster:
  name: demo
  region: us-east-1
node_groups:
  - {name: inf2, instance_types: [inf2.xlarge], max_size: 2}
apis:
  - {name: a, node_group: inf2, image: x:1}
endpoints: {scheme: internal}
"""


@pytest.mark.parametrize(
    ("old", "new", "code"),
    [
        ("name: demo", "name: 'bad name'", "CLU001"),
        ("name: demo", "name: demo\n  colour: blue", "CFG001"),
        ("name: demo", "name: demo\n  max_azs: 9", "CFG004"),
        ("name: demo", "name: demo\n  system_node_group: {max_size: 0}", "CFG004"),
        ("region: us-east-1", "region: US-EAST-1", "CLU004"),
    ],
)
def test_a_problem_in_cluster_adds_no_false_region_problem(tmp_path: Path, old: str, new: str, code: str) -> None:
    with pytest.raises(ConfigError) as raised:
        load_config(_file(tmp_path, EXPOSED.replace(old, new)))
    assert [p.code for p in raised.value.problems] == [code]


def test_problems_print_in_file_order(tmp_path: Path) -> None:
    # A shape problem (line 9) is found before the rules run, and a rule's problem (line 4) after: printed by line.
    text = INF1.replace("[inf1.xlarge]", "[inf1.xlarge, g5.xlarge]") + (
        "apis:\n  - {name: a, node_group: inf1, image: x:1}\n  - {name: b, node_group: inf1, image: x:1, port: 1}\n"
    )
    code, _, err = _run("validate", _file(tmp_path, text))
    lines = [int(line.split(":")[1]) for line in err.splitlines()]
    assert code == EXIT_INVALID and len(lines) == 2
    assert lines == sorted(lines)


def test_validate_prints_each_warning_once(tmp_path: Path) -> None:
    text = INF1.replace("[inf1.xlarge]", "[inf1.xlarge, inf1.2xlarge]") + (
        "apis:\n  - {name: a, node_group: inf1, image: x:1}\n  - {name: b, node_group: inf1, image: 'x:latest'}\n"
    )
    code, out, err = _run("validate", _file(tmp_path, text))
    lines = err.splitlines()
    assert code == EXIT_VALID and len(lines) == len(set(lines)), err
    assert [line.rsplit(" ", 1)[-1] for line in lines] == ["[NG005]", "[NG006]", "[API009]", "[CAP504]"]
    assert "3 warnings" in out


@pytest.mark.parametrize(
    ("text", "says"),
    [
        (EXPOSED.replace("endpoints: {scheme: internal}\n", ""), "no API is exposed"),
        (EXPOSED.replace("  - {name: a,", "  - {endpoint: false, name: a,"), "no API is exposed"),
        (EXPOSED + "observability: {dashboards: false}\n", "dashboards: false"),
    ],
)
def test_an_alarm_topic_with_nothing_to_alarm_on_is_a_warning(tmp_path: Path, text: str, says: str) -> None:
    topic = "  alarm_topic_arn: arn:aws:sns:us-east-1:123456789012:alarms\n"
    if "observability:" in text:
        text = text.replace("observability: {dashboards: false}\n", "observability:\n  dashboards: false\n" + topic)
    else:
        text += "observability:\n" + topic
    loaded = load_config(_file(tmp_path, text))
    (warning,) = loaded.warnings
    assert (warning.code, warning.location) == ("OBS003", "observability.alarm_topic_arn")
    assert says in warning.message
    assert load_config(_file(tmp_path, EXPOSED + "observability:\n" + topic)).warnings == ()
