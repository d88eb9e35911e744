"""``inferentia-cdk validate`` and ``plan``: exit codes, one line per problem, JSON plan keys, no CDK import."""

from __future__ import annotations

import contextlib
import io
import json
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from inferentia_cdk.cli.main import EXIT_INVALID, EXIT_VALID, main

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"

TWO_CHIPS_THREE_PROCESSES = """\
cluster: {name: demo}
node_groups:
  - name: big
    instance_types: [inf1.6xlarge]
device_plugin: {scheduler_extension: true}
apis:
  - name: bert
    node_group: big
    image: repo/bert:1
    compute: {inf: 2}
    processes_per_replica: 3
"""


def run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), out=out, err=err)
    return code, out.getvalue(), err.getvalue()


def write(tmp_path: Path, text: str) -> str:
    path = tmp_path / "config.yaml"
    path.write_text(text)
    return str(path)


@pytest.mark.parametrize("example", ["inferentia.yaml", "full.yaml"])
def test_bundled_examples_validate(example: str) -> None:
    code, out, err = run("validate", str(EXAMPLES / example))
    assert code == EXIT_VALID
    assert "valid" in out
    # Both examples run inf1, the hardware of the reference page, which is warned about its legacy Neuron driver: the
    # bundled example acknowledges the warning with its reason (a newcomer's first run is clean), full.yaml shows it.
    lines = err.splitlines()
    if example == "inferentia.yaml":
        assert lines == []
        assert "node_groups[0].instance_types: [NG006] " in out
    else:
        assert "node_groups[0].instance_types: warning: inf1." in lines[0] and lines[0].endswith("[NG006]")
        # full.yaml's inf2-spot holds resnet50 (up to 4) and text-embedder (up to 3) on 4 one-chip nodes, and starts
        # empty.
        assert [line.rsplit(" ", 1)[-1] for line in lines[1:]] == ["[CAP503]", "[CAP504]"]


def test_invalid_config_exits_2_with_one_located_line_per_problem(tmp_path: Path) -> None:
    text = TWO_CHIPS_THREE_PROCESSES.replace("image: repo/bert:1", "image: repo/bert:1\n    port: 80")
    text = text.replace("name: big\n", "name: big\n    max_size: 0\n")
    path = write(tmp_path, text)
    code, out, err = run("validate", path)
    assert code == EXIT_INVALID
    assert out == ""
    # Shape problems of the config models, every one at once; the sizing rules need a well-shaped config.
    assert [[*line.split(": ")[:2], line.rsplit(" ", 1)[1]] for line in err.splitlines()] == [
        [f"{path}:4", "node_groups[0].max_size", "[CFG004]"],
        [f"{path}:11", "apis[0].port", "[CFG004]"],
    ]
    path = write(tmp_path, TWO_CHIPS_THREE_PROCESSES)
    code, _, err = run("validate", path)
    assert code == EXIT_INVALID
    (line,) = err.splitlines()
    assert line.startswith(f"{path}:11: apis[0].processes_per_replica: ") and line.endswith("[NCG001]")
    assert "1, 2, 4, 8" in line


def test_warnings_are_printed_but_do_not_fail(tmp_path: Path) -> None:
    text = TWO_CHIPS_THREE_PROCESSES.replace(
        "processes_per_replica: 3", "processes_per_replica: 1\n    compiled_neuroncores: 2"
    )
    path = write(tmp_path, text)
    code, out, err = run("validate", path)
    assert code == EXIT_VALID
    # In file order, each with its rule's code.
    assert [(line.split(": ")[:3], line.rsplit(" ", 1)[1]) for line in err.splitlines()] == [
        ([f"{path}:4", "node_groups[0].instance_types", "warning"], "[NG006]"),
        ([f"{path}:12", "apis[0].compiled_neuroncores", "warning"], "[NCG003]"),
    ]
    assert "2 warnings" in out


@pytest.mark.parametrize(
    "text",
    [
        "apis: [\n  - name: x\n",  # YAML syntax error
        "- just\n- a list\n",  # wrong top-level type
        "node_groups: 7\n",  # wrong type
        "node_groups:\n  - {name: g, instance_types: [inf1.xlarge]}\napis:\n  - {name: a, node_group: g, image: i:1, "
        "compute: {inf: 1.5}}\n",  # fractional chips
        "",  # empty file
        "? [a, b]\n: 1\n",  # a key no config has
    ],
)
def test_never_a_traceback(tmp_path: Path, text: str) -> None:
    path = write(tmp_path, text)
    for command in ("validate", "plan"):
        code, _, err = run(command, path)
        assert code == EXIT_INVALID
        assert "Traceback" not in err
        assert all(line.startswith(f"{path}") for line in err.splitlines()), err


def test_fractional_chips_say_so(tmp_path: Path) -> None:
    text = TWO_CHIPS_THREE_PROCESSES.replace("inf: 2", "inf: 1.5")
    _, _, err = run("validate", write(tmp_path, text))
    assert "apis[0].compute.inf: " in err and err.rstrip().endswith("[API004]")
    assert "fractional requests are not allowed" in err


def test_missing_file_is_a_problem_line(tmp_path: Path) -> None:
    code, _, err = run("validate", str(tmp_path / "nope.yaml"))
    assert code == EXIT_INVALID
    assert err.startswith(f"{tmp_path / 'nope.yaml'}: ")


def test_plan_json_has_the_contract_keys(tmp_path: Path) -> None:
    text = TWO_CHIPS_THREE_PROCESSES.replace("processes_per_replica: 3", "processes_per_replica: 4")
    code, out, _ = run("plan", write(tmp_path, text), "--json")
    assert code == EXIT_VALID
    document = json.loads(out)
    (plan,) = document["apis"]
    assert {k: plan[k] for k in ("name", "inf", "processes_per_replica", "ncg_size", "ncg_count", "neuroncores")} == {
        "name": "bert",
        "inf": 2,
        "processes_per_replica": 4,
        "ncg_size": 2,
        "ncg_count": 4,
        "neuroncores": 8,
    }
    assert plan["compiled_neuroncores"] == 2
    assert plan["device_memory_gib_per_ncg"] == 8
    assert plan["ncgs_sharing_a_chip"] == 2
    assert [g["chips"] for g in plan["ncgs"]] == [[0], [0], [1], [1]]
    assert plan["advice"]


@pytest.mark.parametrize(("processes", "ncg_size", "memory"), [(1, 8, 16), (2, 4, 8), (4, 2, 8), (8, 1, 8)])
def test_plan_worked_examples(tmp_path: Path, processes: int, ncg_size: int, memory: int) -> None:
    text = TWO_CHIPS_THREE_PROCESSES.replace("processes_per_replica: 3", f"processes_per_replica: {processes}")
    _, out, _ = run("plan", write(tmp_path, text), "--json")
    (plan,) = json.loads(out)["apis"]
    assert (plan["ncg_size"], plan["ncg_count"], plan["device_memory_gib_per_ncg"]) == (ncg_size, processes, memory)


def test_plan_text_explains_layout_memory_and_advice(tmp_path: Path) -> None:
    text = TWO_CHIPS_THREE_PROCESSES.replace(
        "processes_per_replica: 3", "processes_per_replica: 1\n    compiled_neuroncores: 2"
    )
    code, out, err = run("plan", write(tmp_path, text))
    assert code == EXIT_VALID
    assert "= 8 NeuronCores per replica" in out
    assert "1 NCG(s) of 8 NeuronCore(s)" in out
    assert "16 GiB cache of 2 chips, alone" in out
    assert "advice:" in out and "throughput" in out
    assert "warning:" in err


def test_plan_of_a_config_without_apis(tmp_path: Path) -> None:
    code, out, _ = run("plan", write(tmp_path, "node_groups:\n  - {name: g, instance_types: [inf1.xlarge]}\n"))
    assert code == EXIT_VALID
    assert "no APIs" in out


def test_cli_module_does_not_load_aws_cdk_or_the_aws_sdk() -> None:
    probe = (
        "import sys, inferentia_cdk.cli.main; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('aws_cdk', 'jsii', 'boto3', 'botocore')))"
    )
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True, cwd=ROOT)
    assert result.stdout.strip() == "[]"


def test_python_dash_m_runs_the_cli() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "inferentia_cdk", "plan", "--json", str(EXAMPLES / "inferentia.yaml")],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["apis"][0]["ncg_size"] == 1


def test_quota_is_a_subcommand() -> None:
    with pytest.raises(SystemExit) as caught:
        run("quota", "--help")
    assert caught.value.code == 0


def test_version_is_the_installed_distributions() -> None:
    out = io.StringIO()
    with pytest.raises(SystemExit) as exit_info, contextlib.redirect_stdout(out):
        main(["--version"])
    assert exit_info.value.code == 0
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert out.getvalue() == f"inferentia-cdk {pyproject['project']['version']}\n"


@pytest.mark.parametrize("command", ["validate", "plan", "quota"])
def test_each_command_help_gives_an_example_and_its_exit_status(command: str) -> None:
    out = io.StringIO()
    with pytest.raises(SystemExit) as exit_info, contextlib.redirect_stdout(out):
        main([command, "--help"])
    assert exit_info.value.code == 0
    text = out.getvalue()
    assert f"inferentia-cdk {command} " in text.split("example", 1)[1]
    statuses = re.findall(r"^  ([0-9])  ", text.split("exit status:", 1)[1], flags=re.MULTILINE)
    assert statuses[0] == "0" and "2" in statuses
