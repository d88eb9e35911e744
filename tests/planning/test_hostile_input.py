"""Bad input, by class (issue 11): every hostile config is exit 2 (CLI) or ConfigError (library), one
``file:line: path: message`` line per problem, at once and in bounded memory, never a traceback.

Inputs that used to hang, exhaust memory or crash the interpreter run in a child process with a time and memory
limit, so that a regression fails the test instead of taking the test run down with it.
"""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import synth_support

from inferentia_cdk.catalog import versions
from inferentia_cdk.cli.main import EXIT_INVALID, EXIT_VALID, main
from inferentia_cdk.config.models import ApiSpec, ComputeSpec, NodeGroupSpec
from inferentia_cdk.config.problems import RULE_CODE, ConfigError, errors, warnings
from inferentia_cdk.planning.loader import (
    MAX_CONFIG_BYTES,
    MAX_DEPTH,
    MAX_ENTRIES,
    MAX_PROBLEMS,
    load_config,
    token_problems,
)
from inferentia_cdk.planning.validation import MAX_ENV_STRING_BYTES, check_api

ROOT = Path(__file__).resolve().parents[2]

VALID = """\
cluster:
  name: demo
node_groups:
  - name: inf1
    instance_types: [inf1.xlarge]
    max_size: 2
apis:
  - name: bert
    node_group: inf1
    image: public.ecr.aws/acme/bert:1.0
    compute: {inf: 1, cpu: "1", mem: 2Gi}
"""


def write(tmp_path: Path, content: str | bytes, name: str = "config.yaml") -> str:
    path = tmp_path / name
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    return str(path)


def run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), out=out, err=err)
    return code, out.getvalue(), err.getvalue()


def located(path: str, err: str) -> list[tuple[int, str]]:
    """Every stderr line as (line, rest); fails unless each is ``<path>:<line>: <location>: <message>``."""
    found = []
    for text in err.splitlines():
        match = re.fullmatch(rf"{re.escape(path)}:([0-9]+): (\S.*?): (.+)", text)
        assert match, f"not a located problem line: {text!r}"
        found.append((int(match.group(1)), f"{match.group(2)}: {match.group(3)}"))
    return found


def rejected(tmp_path: Path, content: str | bytes, *fragments: str) -> list[tuple[int, str]]:
    """Run ``validate`` on ``content``: exit 2, located lines only, every fragment (a rule's code, or text)
    somewhere in them."""
    path = write(tmp_path, content)
    code, out, err = run("validate", path)
    assert (code, out) == (EXIT_INVALID, ""), err
    assert "Traceback" not in err and "internal error" not in err
    lines = located(path, err)
    for fragment in fragments:
        # A rule's code (the usual thing to ask for) is matched as the line's tag, anything else as text.
        wanted = f" [{fragment}]" if RULE_CODE.fullmatch(fragment) else fragment
        assert wanted in err, f"{wanted!r} not in:\n{err}"
    return lines


def accepted(tmp_path: Path, content: str) -> str:
    path = write(tmp_path, content)
    code, _, err = run("validate", path)
    assert code == EXIT_VALID, err
    return err


def api_line(field: str, value: str) -> str:
    """VALID with one more key under the API."""
    return VALID + f"    {field}: {value}\n"


# --- in a child process: what used to hang, exhaust memory or crash --------------------------------------------------

_CHILD = """
import io, json, resource, sys, time
resource.setrlimit(resource.RLIMIT_AS, (2 << 30, 2 << 30))
from inferentia_cdk.cli.main import main
for path in sys.argv[1:]:
    out, err = io.StringIO(), io.StringIO()
    start = time.perf_counter()
    code = main(["validate", path], out=out, err=err)
    print(json.dumps({"path": path, "code": code, "err": err.getvalue(), "seconds": time.perf_counter() - start}))
    sys.stdout.flush()
"""


def run_isolated(paths: list[str], timeout: float = 60) -> dict[str, dict[str, Any]]:
    """``validate`` on each path in one child process limited to 2 GiB and ``timeout`` seconds."""
    try:
        completed = subprocess.run(
            [sys.executable, "-c", _CHILD, *paths],
            capture_output=True,
            text=True,
            timeout=timeout,
            cwd=ROOT,
            env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
        )
    except subprocess.TimeoutExpired as expired:
        raise AssertionError(f"validate did not answer within {timeout} s: {expired.stdout!r}") from None
    results = {r["path"]: r for r in map(json.loads, completed.stdout.splitlines())}
    missing = [p for p in paths if p not in results]
    assert not missing, f"the child died (exit {completed.returncode}) on {missing[0]}: {completed.stderr[-2000:]}"
    return results


def _billion_laughs() -> str:
    lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    lines += [f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join([f'*{chr(97 + i)}'] * 9)}]" for i in range(8)]
    return "\n".join(lines) + "\nnode_groups: *i\n"


def _merge_bomb() -> str:
    lines = ["a: &a {x: 1, y: 2}"]
    lines += [f"{chr(98 + i)}: &{chr(98 + i)} {{<<: [*{chr(97 + i)}, *{chr(97 + i)}], z{i}: 1}}" for i in range(20)]
    return "\n".join(lines) + "\n"


@pytest.fixture(scope="module")
def hostile_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    folder = tmp_path_factory.mktemp("hostile")
    files = {
        "billion laughs": _billion_laughs(),
        "merge-key bomb": _merge_bomb(),
        "deep flow nesting": "node_groups: " + "[" * 100_000 + "]" * 100_000 + "\n",
        "deep block nesting": "node_groups:\n" + "- " * 100_000 + "x\n",
        "deep mapping nesting": "cluster: " + "{a: " * 50_000 + "1" + "}" * 50_000 + "\n",
        "many keys on one mapping": "cluster:\n" + "".join(f"  k{i}: {i}\n" for i in range(60_000)),
        "a long flow list": "node_groups: [" + "1," * (MAX_CONFIG_BYTES // 2 - 20) + "1]\n",
    }
    paths = {}
    for name, text in files.items():
        path = folder / (name.replace(" ", "-") + ".yaml")
        path.write_text(text)
        paths[name] = str(path)
    fifo = folder / "fifo.yaml"
    os.mkfifo(fifo)  # nobody writes to it: reading it would block for good
    paths["FIFO"] = str(fifo)
    paths["/dev/zero"] = "/dev/zero"  # endless: reading it all would exhaust memory
    big = folder / "big.yaml"
    big.write_text(VALID + "#" * (MAX_CONFIG_BYTES + 1) + "\n")
    paths["larger than the cap"] = str(big)
    return paths


@pytest.fixture(scope="module")
def isolated_results(hostile_files: dict[str, str]) -> dict[str, dict[str, Any]]:
    return run_isolated(list(hostile_files.values()))


@pytest.mark.parametrize(
    ("case", "fragment"),
    [
        ("billion laughs", "YAML aliases (*h) are not supported"),
        ("merge-key bomb", "YAML aliases (*a) are not supported"),
        ("deep flow nesting", f"nests deeper than {MAX_DEPTH} levels"),
        ("deep block nesting", f"nests deeper than {MAX_DEPTH} levels"),
        ("deep mapping nesting", f"nests deeper than {MAX_DEPTH} levels"),
        ("many keys on one mapping", f"cluster: has more than {MAX_ENTRIES} entries"),
        ("a long flow list", f"node_groups: has more than {MAX_ENTRIES} entries"),
        ("FIFO", "is a FIFO (named pipe), not a regular file"),
        ("/dev/zero", "is a character device, not a regular file"),
        ("larger than the cap", "larger than 1024 KiB"),
    ],
)
def test_hostile_input_is_answered_at_once(
    hostile_files: dict[str, str], isolated_results: dict[str, dict[str, Any]], case: str, fragment: str
) -> None:
    path = hostile_files[case]
    result = isolated_results[path]
    assert result["code"] == EXIT_INVALID
    assert fragment in result["err"]
    assert "Traceback" not in result["err"]
    assert result["seconds"] < 3, f"{case} took {result['seconds']:.1f} s"
    for text in result["err"].splitlines():
        assert text.startswith(f"{path}:"), text


def test_file_problems_name_the_file_and_say_what_it_is(tmp_path: Path) -> None:
    code, _, err = run("validate", str(tmp_path))
    assert (code, err.strip()) == (
        EXIT_INVALID,
        f"{tmp_path}: <config>: the config path is a directory, not a regular file [FILE001]",
    )
    code, _, err = run("validate", "")
    assert (code, err.strip()) == (EXIT_INVALID, ": <config>: no config file named: the path is empty [FILE001]")
    with pytest.raises(ConfigError, match="the path is empty"):
        load_config("")
    with pytest.raises(ConfigError, match="must be a file name"):
        load_config(42)  # type: ignore[arg-type]


def test_more_problems_than_the_cap_end_with_a_count(tmp_path: Path) -> None:
    apis = "".join(f"  - {{name: Bad{i}, node_group: inf1, image: i:1}}\n" for i in range(MAX_PROBLEMS + 50))
    lines = rejected(tmp_path, VALID.split("apis:")[0] + "apis:\n" + apis)
    assert len(lines) == MAX_PROBLEMS + 1
    assert lines[-1] == (8 + MAX_PROBLEMS, f"apis[{MAX_PROBLEMS}].name: and 50 more problems [FILE014]")


def test_an_empty_file_is_one_located_problem(tmp_path: Path) -> None:
    (problem,) = rejected(tmp_path, "# nothing but a comment\n", "FILE012")
    assert problem[0] == 1


# --- YAML -----------------------------------------------------------------------------------------------------------


def test_an_alias_is_refused_where_it_is_used(tmp_path: Path) -> None:
    text = VALID.replace("    max_size: 2\n", "    max_size: &two 2\n    desired_size: *two\n")
    ((line, _),) = rejected(tmp_path, text, "FILE006")
    assert line == 7


def test_a_merge_key_is_refused(tmp_path: Path) -> None:
    text = VALID.replace("  name: demo\n", "  name: demo\n  <<: {max_azs: 3}\n")
    rejected(tmp_path, text, "cluster['<<']: ", "FILE006")


def test_a_duplicate_key_is_an_error_not_last_wins(tmp_path: Path) -> None:
    text = VALID.replace("    max_size: 2\n", "    max_size: 2\n    max_size: 200\n")
    ((line, message),) = rejected(tmp_path, text, "FILE008", "(first on line 6)")
    assert line == 7
    assert message.startswith("node_groups[0].max_size: ")


def test_duplicate_top_level_sections_are_errors(tmp_path: Path) -> None:
    rejected(tmp_path, VALID + "apis: []\n", ":12: apis: ", "FILE008")


@pytest.mark.parametrize(
    ("value", "fragment"),
    [
        ("yes", "YAML 1.1 would read yes as a boolean"),
        ("on", "YAML 1.1 would read on as a boolean"),
        ("true", "Input should be a valid integer (got True)"),
        ("010", "010 is not a plain decimal number"),
        ("0o10", "0o10 is not a plain decimal number"),
        ("0x10", "0x10 is not a plain decimal number"),
        ("1:0", "1:0 is not a plain decimal number"),
        ("1_000", "1_000 is not a plain decimal number"),
        ('"3"', "Input should be a valid integer (got '3')"),
        ("3.0", "Input should be a valid integer (got 3.0)"),
    ],
)
def test_yaml_1_1_surprises_in_integer_fields_are_errors(tmp_path: Path, value: str, fragment: str) -> None:
    text = VALID.replace("    max_size: 2\n", f"    max_size: {value}\n")
    ((line, message),) = rejected(tmp_path, text, fragment)
    assert (line, message.split(": ")[0]) == (6, "node_groups[0].max_size")


def test_yaml_1_1_forms_stay_verbatim_text_in_strings(tmp_path: Path) -> None:
    text = VALID + "    env: {FLAG: yes, PIN: 0123, TIME: 1:30, SWITCH: off}\n"
    path = write(tmp_path, text)
    assert load_config(path).config.apis[0].env == {"FLAG": "yes", "PIN": "0123", "TIME": "1:30", "SWITCH": "off"}


def test_yes_still_means_true_in_a_boolean_field(tmp_path: Path) -> None:
    path = write(tmp_path, VALID.replace("  name: demo\n", "  name: demo\n  metrics_server: no\n"))
    assert load_config(path).config.cluster.metrics_server is False


@pytest.mark.parametrize(
    ("tag", "fragment"),
    [
        ("!!binary aW5mMQ==", "YAML tag 'tag:yaml.org,2002:binary' is not supported"),
        ("!!python/object:os.system x", "YAML tag 'tag:yaml.org,2002:python/object:os.system' is not supported"),
        ("!!int twelve", "'twelve' is not a valid !!int"),
        ("!custom x", "YAML tag '!custom' is not supported"),
    ],
)
def test_tags_beyond_the_core_schema_are_refused(tmp_path: Path, tag: str, fragment: str) -> None:
    rejected(tmp_path, VALID.replace("  name: demo\n", f"  name: {tag}\n"), "FILE007", fragment)


def test_a_second_document_is_refused(tmp_path: Path) -> None:
    rejected(tmp_path, VALID + "---\ncluster: {name: other}\n", "FILE005")


def test_non_utf8_bytes_are_reported_with_their_line(tmp_path: Path) -> None:
    content = VALID.replace("  name: demo", "  name: caf\xe9").encode("latin-1")
    ((line, _),) = rejected(tmp_path, content, "FILE003", "byte 0xe9")
    assert line == 2


@pytest.mark.parametrize("character", ["\x00", "\x07", "\x1b", "\x7f", "\x9b", "\ufffe"])
def test_control_characters_are_reported_with_their_line(tmp_path: Path, character: str) -> None:
    content = VALID.replace("  name: demo", f"  name: de{character}mo")
    ((line, _),) = rejected(tmp_path, content, "FILE003", f"U+{ord(character):04X}")
    assert line == 2


def test_a_key_with_a_newline_cannot_forge_a_second_problem_line(tmp_path: Path) -> None:
    path = str(tmp_path / "config.yaml")
    forged = f"{path}:1: cluster.name: everything is fine"
    text = VALID + f'    env: {{"A\\n{forged}": x, "B": "ok"}}\n  - name: "c\\n{forged}"\n    node_group: inf1\n'
    text += "    image: i:1\n"
    lines = rejected(tmp_path, text)
    assert not any("everything is fine" in message and "\\n" not in message for _, message in lines)
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert len(str(caught.value).splitlines()) == 1 + len(caught.value.problems)
    assert all("\n" not in problem.render(path) for problem in caught.value.problems)


def test_a_file_name_with_a_newline_cannot_forge_a_line_either(tmp_path: Path) -> None:
    path = write(tmp_path, VALID.replace("max_size: 2", "max_size: 0"), name="x.yaml\nforged.yaml:1: cluster.name: ok")
    code, _, err = run("validate", path)
    assert code == EXIT_INVALID
    (line,) = err.splitlines()
    assert line.startswith(f"{tmp_path}/x.yaml\\nforged.yaml:1: cluster.name: ok:6: node_groups[0].max_size: ")


# --- files ------------------------------------------------------------------------------------------------------------


def test_file_at_the_cap_is_read(tmp_path: Path) -> None:
    padding = MAX_CONFIG_BYTES - len(VALID.encode()) - 1
    accepted(tmp_path, VALID + "#" * padding + "\n")


# --- types ------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        (VALID.replace("name: demo", "name: [demo]"), "cluster.name: Input should be a valid string (got a list)"),
        (VALID.replace("max_size: 2", "max_size: {n: 2}"), "node_groups[0].max_size: Input should be a valid integer"),
        # A node group whose name is a list, and an API on it: the cross-field pass must not choke on either.
        (
            VALID.replace("  - name: inf1\n", "  - name: [inf1]\n").replace("node_group: inf1", "node_group: [inf1]"),
            "node_groups[0].name: Input should be a valid string (got a list)",
        ),
        (VALID.replace("node_group: inf1", "node_group: {x: 1}"), "apis[0].node_group: Input should be a valid string"),
        (
            VALID.replace("apis:\n", "apis: 7\n").split("  - name: bert")[0],
            "apis: Input should be a valid list (got 7)",
        ),
    ],
)
def test_a_collection_where_a_scalar_belongs_is_a_located_problem(tmp_path: Path, text: str, fragment: str) -> None:
    rejected(tmp_path, text, fragment)


@pytest.mark.parametrize("value", ['"0"', '"1"', "0", "-1", "true"])
def test_inf_must_be_a_positive_integer_for_validate_and_plan(tmp_path: Path, value: str) -> None:
    text = VALID.replace("compute: {inf: 1,", f"compute: {{inf: {value},")
    rejected(tmp_path, text, "apis[0].compute.inf: ")
    code, _, err = run("plan", write(tmp_path, text))
    assert code == EXIT_INVALID and "Traceback" not in err


# --- CDK tokens -------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("old", "new", "where"),
    [
        ("image: public.ecr.aws/acme/bert:1.0", 'image: "${Token[TOKEN.12]}"', "apis[0].image"),
        ("name: demo", 'name: "x${Token[AWS.AccountId.3]}"', "cluster.name"),
        ("mem: 2Gi}", 'mem: 2Gi}\n    env: {SECRET: "{{resolve:secretsmanager:db}}"}', "apis[0].env.SECRET"),
        ("mem: 2Gi}", 'mem: 2Gi}\n    env: {"#{Token[L.1]}": x}', "apis[0].env['#{Token[L.1]}']"),
    ],
)
def test_token_syntax_in_a_config_string_is_refused(tmp_path: Path, old: str, new: str, where: str) -> None:
    rejected(tmp_path, VALID.replace(old, new), f"{where}: ", "FILE011")


class _Opaque:
    """An object whose repr shows a marker although no string holds one."""

    def __repr__(self) -> str:
        return "${Token[NOT.A.STRING]}"


def _nested(depth: int, bottom: Any) -> Any:
    value = bottom
    for _ in range(depth):
        value = [value]
    return value


@pytest.mark.parametrize(
    ("data", "found"),
    [
        ({"apis": [{"env": {"A": "plain", "B": "{braces}"}}]}, 0),
        ({"apis": [{"env": {"A": "x${Token[T.1]}"}}]}, 1),
        ({"apis": [{"image": _Opaque()}]}, 0),
        # Deeper than repr() can go (Python data never passes the YAML reader's depth limit): the walk still looks.
        ({"apis": _nested(5_000, "{{resolve:ssm:p}}")}, 1),
        ({"apis": _nested(5_000, "plain")}, 0),
    ],
    ids=["plain", "token", "object-repr", "deep-token", "deep-plain"],
)
def test_token_syntax_is_found_in_any_string_of_python_data(data: dict[str, Any], found: int) -> None:
    assert [p.code for p in token_problems(data)] == ["FILE011"] * found


# --- names, region, system instance types, image ----------------------------------------------------------------


@pytest.mark.parametrize("name", ["1bert", "-bert", "bert-", "Bert", "a" * 64, "bert_large", " bert"])
def test_api_name_is_a_dns_1035_label(tmp_path: Path, name: str) -> None:
    rejected(tmp_path, VALID.replace("  - name: bert", f"  - name: {json.dumps(name)}"), "apis[0].name: ", "API001")


@pytest.mark.parametrize("region", ["us-east-1; rm -rf", "US-EAST-1", "${AWS::Region}", "useast1", "us-east-", "x"])
def test_cluster_region_must_be_a_region_name(tmp_path: Path, region: str) -> None:
    text = VALID.replace("  name: demo\n", f"  name: demo\n  region: {json.dumps(region)}\n")
    rejected(tmp_path, text, "cluster.region: ", "CLU004")


@pytest.mark.parametrize("region", ["us-east-1", "us-gov-west-1", "us-isob-east-1", "cn-northwest-1", "eusc-de-east-1"])
def test_every_partitions_region_names_are_accepted(tmp_path: Path, region: str) -> None:
    accepted(tmp_path, VALID.replace("  name: demo\n", f"  name: demo\n  region: {region}\n"))


@pytest.mark.parametrize(
    ("instance_type", "fragment"),
    [
        ("inf1.xlarge", "is a Neuron type"),
        ("trn1.2xlarge", "is a Neuron type"),
        ("m6g.large", "is an Arm (Graviton) type"),
        ("a1.large", "is an Arm (Graviton) type"),
        ("g5.xlarge", "is a GPU type"),
        ("mac1.metal", "is a Mac instance"),
        ("m6i", "is not an EC2 instance type name"),
        ("M6I.LARGE", "is not an EC2 instance type name"),
        ("m6i.enormous", "is not an EC2 instance type name"),
    ],
)
def test_system_node_group_types_are_x86_64_ec2_types(tmp_path: Path, instance_type: str, fragment: str) -> None:
    text = VALID.replace(
        "  name: demo\n", f"  name: demo\n  system_node_group: {{instance_types: [{instance_type}]}}\n"
    )
    rejected(tmp_path, text, "cluster.system_node_group.instance_types[0]: ", "CLU005", fragment)


@pytest.mark.parametrize(
    "instance_type", ["m6i.large", "c7i-flex.2xlarge", "m5.metal-24xl", "t3.medium", "r7iz.16xlarge"]
)
def test_ordinary_x86_64_types_are_accepted_for_system_nodes(tmp_path: Path, instance_type: str) -> None:
    accepted(
        tmp_path,
        VALID.replace("  name: demo\n", f"  name: demo\n  system_node_group: {{instance_types: [{instance_type}]}}\n"),
    )


@pytest.mark.parametrize(
    ("image", "fragment"),
    [
        ("Acme/Bert:1", "repository names are lowercase"),
        ("acme/bert:-1", "is not an image reference"),
        ("acme/bert:" + "x" * 129, "is not an image reference"),
        ("acme//bert:1", "is not an image reference"),
        ("acme/bert@sha256:abc123", "is not an image reference"),
        ("acme/bert@sha256:" + "A" * 64, "a digest is sha256: and 64 lowercase hex digits"),
        ("acme/bert@md5:" + "a" * 32, "a digest is sha256: and 64 lowercase hex digits"),
        ("acme/bert:1 ", "is not an image reference"),
        ("a" * 256 + ":1", "longer than 255 characters"),
    ],
)
def test_image_follows_the_oci_reference_grammar(tmp_path: Path, image: str, fragment: str) -> None:
    rejected(
        tmp_path,
        VALID.replace("public.ecr.aws/acme/bert:1.0", json.dumps(image)),
        "apis[0].image: ",
        "API002",
        fragment,
    )


@pytest.mark.parametrize(
    "image",
    [
        "bert",
        "localhost:5000/bert:v1.2_rc-3",
        "123456789012.dkr.ecr.us-east-1.amazonaws.com/team/bert-large:2024.01",
        "[::1]:5000/bert:1",
        "acme/bert:1@sha256:" + "0a" * 32,
        "acme/bert@sha512:" + "f" * 128,
    ],
)
def test_valid_image_references_are_accepted(tmp_path: Path, image: str) -> None:
    accepted(tmp_path, VALID.replace("public.ecr.aws/acme/bert:1.0", json.dumps(image)))


# --- integers ---------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("old", "new", "where"),
    [
        ("max_size: 2", "max_size: 2147483648", "node_groups[0].max_size"),
        ("max_size: 2", "max_size: 9007199254740993", "node_groups[0].max_size"),
        ("mem: 2Gi}", "mem: 2Gi}\n    autoscaling: {max_replicas: 2147483648}", "apis[0].autoscaling.max_replicas"),
        ("mem: 2Gi}", "mem: 2Gi}\n    threads_per_process: 2147483648", "apis[0].threads_per_process"),
        ("mem: 2Gi}", "mem: 2Gi}\n    compiled_neuroncores: 2147483648", "apis[0].compiled_neuroncores"),
        ("inf: 1,", "inf: 2147483648,", "apis[0].compute.inf"),
        ("name: demo", "name: demo\n  system_node_group: {max_size: 2147483648}", "cluster.system_node_group.max_size"),
    ],
)
def test_integers_are_bounded(tmp_path: Path, old: str, new: str, where: str) -> None:
    rejected(tmp_path, VALID.replace(old, new), f"{where}: ", "CFG004", "less than or equal to 2147483647")


def test_an_integer_too_long_to_convert_is_a_located_error(tmp_path: Path) -> None:
    rejected(tmp_path, VALID.replace("max_size: 2", "max_size: " + "9" * 5000), "CFG003", "(got '999")


def test_a_huge_chip_count_is_answered_at_once(tmp_path: Path) -> None:
    # inf within int32 but beyond every node: the layout rules (which list divisors) must not run.
    text = VALID.replace("inf: 1,", "inf: 2147483647,") + "    processes_per_replica: 3\n    compiled_neuroncores: 5\n"
    rejected(tmp_path, text, "CAP001")


def test_more_nodes_than_the_eks_quota_is_a_warning(tmp_path: Path) -> None:
    err = accepted(tmp_path, VALID.replace("max_size: 2", "max_size: 451"))
    assert "node_groups[0].max_size: warning: " in err and "[NG008]" in err


# --- env --------------------------------------------------------------------------------------------------------------


def test_env_values_are_kept_verbatim(tmp_path: Path) -> None:
    path = write(tmp_path, VALID + '    env: {PADDED: "  two spaces  ", TAB: "\\tx"}\n')
    assert load_config(path).config.apis[0].env == {"PADDED": "  two spaces  ", "TAB": "\tx"}


def test_env_names_differing_only_by_whitespace_are_refused(tmp_path: Path) -> None:
    rejected(tmp_path, VALID + '    env: {MODEL: a, "MODEL ": b}\n', "ENV002", "differs from 'MODEL'")


def test_kubernetes_expansion_in_env_values_is_a_warning_and_escaping_silences_it(tmp_path: Path) -> None:
    err = accepted(tmp_path, VALID + '    env: {CORES: "$(NEURON_RT_NUM_CORES)", LITERAL: "$$(HOME) costs $5"}\n')
    (warning,) = [line for line in err.splitlines() if "warning" in line and ".env." in line]
    assert "apis[0].env.CORES: warning: " in warning and warning.endswith("[ENV006]")


def test_an_env_string_beyond_the_exec_limit_is_an_error(tmp_path: Path) -> None:
    value = "x" * (MAX_ENV_STRING_BYTES - len("BIG=") - 1)
    accepted(tmp_path, VALID + f"    env: {{BIG: {value}}}\n")
    rejected(tmp_path, VALID + f"    env: {{BIG: {value}x}}\n", "apis[0].env.BIG: ", "ENV005")


def test_a_nul_in_an_env_value_is_an_error(tmp_path: Path) -> None:
    rejected(tmp_path, VALID + '    env: {A: "x\\0y"}\n', "apis[0].env.A: ", "ENV004")


def test_all_env_values_together_must_fit_the_template(tmp_path: Path) -> None:
    value = "x" * 120_000
    apis = "".join(
        f"  - {{name: api{i}, node_group: inf1, image: i:1, compute: {{cpu: 100m, mem: 100Mi}}, "
        f"env: {{BIG: {value}}}}}\n"
        for i in range(5)
    )
    text = VALID.split("apis:\n")[0].replace("max_size: 2", "max_size: 5") + "apis:\n" + apis
    rejected(tmp_path, text, "apis: ", "ENV007")


# --- cpu and mem ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("cpu", "mem"),
    [
        ("1e3", "1Ei"),
        ("2000m", "4e9"),
        ("+1", "4096Mi"),
        ("1.", "4.5Gi"),
        (".5", "1E"),
        ("1Ki", "20Mi"),
        ("20m", "1.5e9"),
    ],
)
def test_every_kubernetes_quantity_is_accepted_by_the_model(cpu: str, mem: str) -> None:
    assert ComputeSpec(cpu=cpu, mem=mem).cpu == cpu


@pytest.mark.parametrize(
    ("field", "value", "fragment"),
    [
        ("cpu", '"10m"', "cpu '10m' is below 20m"),
        ("cpu", '"0"', "cpu '0' is below 20m"),
        ("cpu", '"-1"', "cpu '-1' is below 20m"),
        ("mem", '"4"', "did you mean '4Gi'?"),
        ("mem", "500m", "'m' means thousandths of a byte"),
        ("mem", "19Mi", "mem '19Mi' is below 20Mi"),
        ("cpu", "1.5.5", "is not a Kubernetes quantity"),
        ("cpu", ".inf", "must be a finite amount"),
        ("mem", "1e999", "must be a finite amount"),
        ("mem", '"1e999"', "is not a Kubernetes quantity"),
        ("mem", "10Ei", "larger than any Kubernetes quantity"),
    ],
)
def test_cpu_and_memory_below_the_floors_or_malformed_are_errors(
    tmp_path: Path, field: str, value: str, fragment: str
) -> None:
    text = VALID.replace('compute: {inf: 1, cpu: "1", mem: 2Gi}', f"compute: {{inf: 1, {field}: {value}}}")
    rejected(tmp_path, text, f"apis[0].compute.{field}: ", "API005", fragment)


def test_quantities_beyond_a_node_are_fit_errors_not_grammar_errors(tmp_path: Path) -> None:
    text = VALID.replace('cpu: "1", mem: 2Gi', "cpu: 1e3, mem: 1Ei")
    lines = rejected(tmp_path, text, "CAP002", "CAP003")
    assert [message.split(": ")[0] for _, message in lines] == ["apis[0].compute.cpu", "apis[0].compute.mem"]


# --- min_replicas against max_size ------------------------------------------------------------------------------------


def test_min_replicas_the_group_cannot_hold_at_max_size_is_an_error(tmp_path: Path) -> None:
    text = VALID.replace("mem: 2Gi}", "mem: 2Gi}\n    autoscaling: {min_replicas: 3, max_replicas: 3}")
    rejected(tmp_path, text, "apis[0].autoscaling.min_replicas: ", "CAP004", "max_size to 3")


def test_min_replicas_that_fit_only_the_larger_types_is_a_warning(tmp_path: Path) -> None:
    text = VALID.replace("[inf1.xlarge]", "[inf1.xlarge, inf1.6xlarge]").replace("max_size: 2", "max_size: 1")
    text = text.replace("mem: 2Gi}", "mem: 2Gi}\n    autoscaling: {min_replicas: 3, max_replicas: 3}")
    err = accepted(tmp_path, text)
    assert "apis[0].autoscaling.min_replicas: warning: the min_replicas of this API fit node group 'inf1'" in err
    assert err.rstrip().endswith("[CAP005]")


def test_the_min_replicas_of_all_apis_on_a_group_must_fit_together(tmp_path: Path) -> None:
    text = VALID.replace("max_size: 2", "max_size: 3") + (
        "    autoscaling: {min_replicas: 2, max_replicas: 2}\n"
        "  - {name: gpt, node_group: inf1, image: i:1, compute: {mem: 2Gi},"
        " autoscaling: {min_replicas: 2, max_replicas: 2}}\n"
    )
    ((_, message),) = rejected(tmp_path, text, "need 4 inf1.xlarge nodes of node group 'inf1' at once")
    assert message.startswith("node_groups[0].max_size: the min_replicas of APIs bert 2, gpt 2")
    assert message.endswith("[CAP006]")


def test_the_single_api_rule_holds_on_the_construct_path_too() -> None:
    spec = ApiSpec(name="a", node_group="g", image="i:1", autoscaling={"min_replicas": 5, "max_replicas": 5})
    (problem,) = errors(check_api(spec, NodeGroupSpec(name="g", instance_types=["inf2.xlarge"], max_size=2)))
    assert (problem.path, problem.code) == (("autoscaling", "min_replicas"), "CAP004")
    assert not warnings(check_api(spec, NodeGroupSpec(name="g", instance_types=["inf2.xlarge"], max_size=5)))


# --- quota ------------------------------------------------------------------------------------------------------------


def _quota(*argv: str, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    code = main(["quota", *argv])
    return code, capsys.readouterr().err


@pytest.mark.parametrize("region", ["us-east-1; rm", "Us_East", "x" * 100])
def test_quota_with_a_bad_region_flag_is_bad_input(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], region: str
) -> None:
    code, err = _quota(write(tmp_path, VALID), "--region", region, capsys=capsys)
    assert code == 2 and "Traceback" not in err
    assert err.startswith("--region: region ") and err.rstrip().endswith("[CLU004]")


def test_quota_with_a_bad_region_in_the_environment_is_bad_input(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_REGION", "not a region")
    code, err = _quota(write(tmp_path, VALID), capsys=capsys)
    assert code == 2 and "Traceback" not in err
    assert err.startswith("AWS_REGION: ") and err.rstrip().endswith("[CLU004]")


def test_quota_with_a_missing_profile_is_bad_input(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("AWS_REGION", raising=False)
    monkeypatch.delenv("AWS_DEFAULT_REGION", raising=False)
    monkeypatch.setenv("AWS_PROFILE", "no-such-profile")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
    code, err = _quota(write(tmp_path, VALID), capsys=capsys)
    assert code == 2 and "Traceback" not in err
    assert "no-such-profile" in err


def test_quota_with_an_unreadable_config_is_one_problem_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, err = _quota(str(tmp_path), capsys=capsys)
    assert (code, err.strip()) == (
        2,
        f"{tmp_path}: <config>: the config path is a directory, not a regular file [FILE001]",
    )
    bad = write(tmp_path, VALID.replace("max_size: 2", "max_size: yes"))
    code, err = _quota(bad, capsys=capsys)
    assert code == 2
    assert located(bad, err)[0][0] == 6


# --- library: constructs check their keyword arguments -------------------------------------------------------------


@pytest.fixture(scope="module")
def cluster() -> Any:
    return synth_support.bare_cluster("Hostile")


def _refused(cluster: Any, build: Any) -> list[str]:
    children = len(cluster.stack.node.children)
    with pytest.raises(ConfigError) as caught:
        build(cluster.stack, f"Probe{children}")
    assert len(cluster.stack.node.children) == children, "nothing is created for rejected arguments"
    return [problem.render() for problem in caught.value.problems]


@pytest.mark.parametrize(
    ("arguments", "expected"),
    [
        ({"ami": None}, ["ami: None is not an AMI choice; valid: 'al2023'"]),
        ({"instance_types": "inf1.xlarge"}, ["instance_types: 'inf1.xlarge' is not valid; valid: a list of Neuron"]),
        ({"min_size": "1"}, ["min_size: Input should be a valid integer (got '1')"]),
        ({"max_size": True}, ["max_size: Input should be a valid integer (got True)"]),
        ({"name": None}, ["name: Input should be a valid string (got None)"]),
        ({"node_auto_repair": "yes"}, ["node_auto_repair: 'yes' is not valid; valid: True or False"]),
    ],
)
def test_neuron_nodegroup_arguments(cluster: Any, arguments: dict[str, Any], expected: list[str]) -> None:
    from inferentia_cdk.constructs.neuron_nodegroup import NeuronNodegroup

    props = {"name": "g", "instance_types": ["inf2.xlarge"], **arguments}
    rendered = _refused(cluster, lambda scope, cid: NeuronNodegroup(scope, cid, cluster=cluster, **props))
    assert len(rendered) == len(expected), rendered
    for line, start in zip(rendered, expected, strict=True):
        assert line.startswith(start), line


def test_cluster_autoscaler_arguments(cluster: Any) -> None:
    from inferentia_cdk.constructs.cluster_autoscaler import ClusterAutoscaler

    rendered = _refused(
        cluster,
        lambda scope, cid: ClusterAutoscaler(
            scope, cid, cluster=cluster, kubernetes_version="1.99", non_neuron_nodegroups="system", cluster_name="a b"
        ),
    )
    assert rendered[0].startswith("kubernetes_version: kubernetes_version '1.99' is not supported; valid: ")
    assert ", ".join(versions.KUBERNETES_VERSIONS) in rendered[0]
    assert rendered[1].startswith("non_neuron_nodegroups: 'system' is not valid; valid: a list of eks.Nodegroup")
    assert rendered[2].startswith("cluster_name: ")


def test_device_plugin_arguments(cluster: Any) -> None:
    from inferentia_cdk.constructs.neuron_device_plugin import NeuronDevicePlugin

    rendered = _refused(
        cluster,
        lambda scope, cid: NeuronDevicePlugin(
            scope,
            cid,
            cluster=cluster,
            spec={"monitor": True},
            kubernetes_version=1.35,  # type: ignore[arg-type]
        ),
    )
    assert rendered[0].startswith("spec: {'monitor': True} is not valid; valid: None or a DevicePluginSpec")
    assert rendered[1].startswith("kubernetes_version: kubernetes_version 1.35 must be a quoted string")


def test_inferentia_api_arguments(cluster: Any) -> None:
    from inferentia_cdk.constructs.inferentia_api import InferentiaApi

    rendered = _refused(
        cluster,
        lambda scope, cid: InferentiaApi(
            scope, cid, cluster=cluster, spec={"name": "a"}, facts=None, endpoint="tg", region=7
        ),
    )
    assert rendered[0].startswith("facts: None is not valid; valid: NeuronClusterFacts")
    assert rendered[1].startswith("spec: {'name': 'a'} is not valid; valid: an ApiSpec")
    assert rendered[2].startswith("endpoint: 'tg' is not valid; valid: None (cluster-internal) or an EndpointTarget")
    assert rendered[3].startswith("region: 7 is not valid; valid: None or a region name")


def test_cluster_facts_report_their_invalid_node_groups_problems() -> None:
    from inferentia_cdk.planning.cluster_facts import NeuronClusterFacts

    group = NodeGroupSpec(name="g", instance_types=["m5.large"])
    with pytest.raises(ConfigError) as caught:
        NeuronClusterFacts(
            cluster_name="ml", kubernetes_version="1.36", node_groups=(group, group), neuron_monitor="yes"
        )
    rendered = [p.render() for p in caught.value.problems]
    assert rendered[0].startswith("node_groups[0].instance_types[0]: 'm5.large' is not a Neuron instance type")
    assert rendered[1].startswith("node_groups[1].name: node group name 'g' is used more than once")
    assert rendered[2].startswith("neuron_monitor: 'yes' is not valid; valid: True or False")


def test_api_monitoring_arguments(cluster: Any) -> None:
    from inferentia_cdk.constructs.api_monitoring import ApiMonitoring

    rendered = _refused(
        cluster,
        lambda scope, cid: ApiMonitoring(
            scope,
            cid,
            api_name=5,
            cluster_name="a b",
            signal="cpu",
            container_insights="false",
            alarm_topic_arn="arn:aws:sns:nowhere",
        ),
    )
    assert [line.split(":")[0] for line in rendered] == [
        "api_name",
        "signal",
        "container_insights",
        "alarm_topic_arn",
        "cluster_name",
    ]


def test_quota_check_arguments(cluster: Any) -> None:
    from inferentia_cdk.constructs.neuron_quota_check import NeuronQuotaCheck

    rendered = _refused(cluster, lambda scope, cid: NeuronQuotaCheck(scope, cid, needs="L-1945791B", shortfall="maybe"))
    assert rendered[0].startswith("needs: 'L-1945791B' is not valid; valid: a list of QuotaNeed")
    assert rendered[1].startswith("shortfall: 'maybe' is not valid; valid: 'fail' or 'warn'")


@pytest.mark.parametrize("instance_type", ["trn1.2xlarge", "trn2.48xlarge"])
@pytest.mark.parametrize("ami", ["al2023", "bottlerocket"])
def test_a_trainium_group_that_validate_accepts_also_builds(cluster: Any, instance_type: str, ami: str) -> None:
    # aws-cdk-lib treats trn types as plain x86_64 and refused the Neuron AMI type with a jsii error at synth.
    from aws_cdk import aws_eks_v2 as eks

    from inferentia_cdk.constructs.neuron_nodegroup import AMI_TYPES, NeuronNodegroup

    group = NeuronNodegroup(
        cluster.stack,
        f"Trn{len(cluster.stack.node.children)}",
        cluster=cluster,
        name="trn",
        instance_types=[instance_type],
        ami=ami,
    )
    resource = group.nodegroup.node.default_child
    assert isinstance(resource, eks.CfnNodegroup)
    assert resource.ami_type == AMI_TYPES[ami]
