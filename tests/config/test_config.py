"""The config contract: shape errors and cross-field rules, each reported with path and line, all at once."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from synth_support import EXAMPLES, ROOT

from inferentia_cdk import catalog
from inferentia_cdk.config.models import InferentiaConfig, NodeGroupSpec
from inferentia_cdk.config.problems import ConfigError
from inferentia_cdk.planning.loader import load_config
from inferentia_cdk.planning.validation import check_node_group

VALID = """\
cluster:
  name: demo
node_groups:
  - name: inf1
    instance_types: [inf1.xlarge]
    max_size: 2
apis: []
"""


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(text)
    return path


def _problems(tmp_path: Path, text: str) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        load_config(_write(tmp_path, text))
    return str(caught.value).splitlines()[1:]


@pytest.mark.parametrize("name", ["inferentia.yaml", "full.yaml"])
def test_bundled_examples_are_valid(name: str) -> None:
    loaded = load_config(EXAMPLES / name)
    assert loaded.config.node_groups


def test_defaults_are_explicit_behaviour(tmp_path: Path) -> None:
    config = load_config(_write(tmp_path, VALID)).config
    assert config.cluster.kubernetes_version == "1.36"
    assert config.cluster.endpoint_access == "private"
    assert config.quota_check == "deploy"
    assert config.quota_shortfall == "fail"
    assert config.node_groups[0].ami == "al2023"
    assert config.node_groups[0].capacity_type == "on_demand"
    assert config.device_plugin.version.count(".") == 3


def test_unknown_key_names_path_line_and_says_typo(tmp_path: Path) -> None:
    text = VALID.replace("    max_size: 2\n", "    max_size: 2\n    max_sise: 3\n")
    (line,) = _problems(tmp_path, text)
    expected = f"{tmp_path / 'config.yaml'}:7: node_groups[0].max_sise: unknown key 'max_sise' (a typo?) [CFG001]"
    assert line.strip() == expected


def test_wrong_type_names_value(tmp_path: Path) -> None:
    (line,) = _problems(tmp_path, VALID.replace("max_size: 2", "max_size: many"))
    assert ":6: node_groups[0].max_size:" in line
    assert "'many'" in line
    assert line.endswith("[CFG003]")


def test_every_problem_is_reported_at_once(tmp_path: Path) -> None:
    text = VALID.replace("name: demo", "name: demo\n  endpoint_access: open\n  colour: blue").replace(
        "max_size: 2", "max_size: -1"
    )
    lines = _problems(tmp_path, text)
    assert [(line.split(": ")[1], line.rsplit(" ", 1)[1]) for line in lines] == [
        ("cluster.endpoint_access", "[CFG005]"),
        ("cluster.colour", "[CFG001]"),
        ("node_groups[0].max_size", "[CFG004]"),
    ]
    # The choices are the point of this message: it names the value and every valid one.
    assert "cluster.endpoint_access: 'open' is not valid" in lines[0]
    assert "'private', 'public_and_private' or 'public'" in lines[0]


def test_yaml_syntax_error_is_one_line_with_its_line_number(tmp_path: Path) -> None:
    (line,) = _problems(tmp_path, VALID.replace("apis: []", "apis: [\n"))
    assert "config.yaml:9: <config>: " in line or "config.yaml:10: <config>: " in line
    assert line.endswith("[FILE004]")


def test_top_level_must_be_a_mapping(tmp_path: Path) -> None:
    (line,) = _problems(tmp_path, "- just\n- a list\n")
    assert line.endswith("[FILE012]")


def test_unquoted_kubernetes_version_is_explained(tmp_path: Path) -> None:
    (line,) = _problems(tmp_path, VALID.replace("name: demo", "name: demo\n  kubernetes_version: 1.30"))
    assert "must be a quoted string" in line and line.endswith("[CLU002]")


def test_unsupported_kubernetes_version_lists_valid_ones(tmp_path: Path) -> None:
    (line,) = _problems(tmp_path, VALID.replace("name: demo", 'name: demo\n  kubernetes_version: "1.29"'))
    assert "valid: 1.35, 1.36" in line and line.endswith("[CLU002]")


def test_missing_required_field(tmp_path: Path) -> None:
    (line,) = _problems(tmp_path, "cluster: {name: demo}\n")
    assert "node_groups: is required [CFG002]" in line


def test_cross_field_rules_are_located(tmp_path: Path) -> None:
    text = VALID.replace("[inf1.xlarge]", "[inf1.xlarge, m5.large]").replace(
        "apis: []", "apis:\n  - {name: a, node_group: nope, image: x:1}"
    )
    lines = _problems(tmp_path, text)
    joined = "\n".join(lines)
    assert (
        ":5: node_groups[0].instance_types[1]: 'm5.large' is not a Neuron instance type; valid: inf1.xlarge" in joined
    )
    assert "[NG002]" in joined
    assert "apis[0].node_group: 'nope' is not a node group of this cluster; valid: inf1 [API007]" in joined


@pytest.mark.parametrize(
    ("changes", "code"),
    [
        ({"instance_types": ["g5.xlarge"]}, "NG002"),
        ({"instance_types": ["inf1.xlarge", "inf2.xlarge"]}, "NG003"),
        ({"min_size": 3, "desired_size": 2, "max_size": 4}, "NG007"),
        ({"desired_size": 5, "max_size": 4}, "NG007"),
        ({"instance_types": ["inf1.xlarge", "inf1.xlarge"]}, "NG004"),
    ],
)
def test_node_group_rules(changes: dict[str, object], code: str) -> None:
    spec = NodeGroupSpec.model_validate({"name": "g", "instance_types": ["inf1.xlarge"], **changes})
    assert code in {p.code for p in check_node_group(spec)}


def test_the_system_node_group_sizes_follow_the_same_rule(tmp_path: Path) -> None:
    text = VALID.replace("name: demo", "name: demo\n  system_node_group: {min_size: 3, desired_size: 2, max_size: 500}")
    lines = _problems(tmp_path, text)
    assert [(line.split(": ")[1], line.rsplit(" ", 1)[1]) for line in lines] == [
        ("cluster.system_node_group.desired_size", "[NG007]")
    ]


def test_valid_node_group_has_no_problems() -> None:
    spec = NodeGroupSpec(name="g", instance_types=["inf2.xlarge"], min_size=0, desired_size=1, max_size=2)
    assert check_node_group(spec) == []


def test_catalog_is_the_single_source_of_hardware_numbers() -> None:
    inf1 = catalog.INSTANCE_TYPES["inf1.6xlarge"]
    assert (inf1.chips, inf1.neuroncores, inf1.vcpus) == (4, 16, 24)
    assert catalog.INSTANCE_TYPES["inf2.48xlarge"].neuroncores == 24
    assert catalog.INSTANCE_TYPES["trn1.32xlarge"].neuroncores == 32
    assert catalog.FAMILIES["inf2"].on_demand_quota is catalog.FAMILIES["inf1"].on_demand_quota
    assert catalog.FAMILIES["trn2"].spot_quota.code == "L-6B0D517C"
    assert {t.family.name for t in catalog.INSTANCE_TYPES.values()} == {"inf1", "inf2", "trn1", "trn2"}


def test_model_is_frozen_and_forbids_extra() -> None:
    config = InferentiaConfig.model_validate({"node_groups": [{"name": "g", "instance_types": ["inf1.xlarge"]}]})
    with pytest.raises(ValueError):
        config.quota_check = "off"  # type: ignore[misc]
    with pytest.raises(ValueError):
        InferentiaConfig.model_validate({"node_groups": [], "extra": 1})


def test_bad_config_stops_the_cdk_app_with_one_line_per_problem(tmp_path: Path) -> None:
    """What `make synth` shows: the app exits 1 with readable lines and no traceback."""
    bad = _write(tmp_path, VALID.replace("max_size: 2", "max_size: 2\n    colour: red").replace("demo", "-bad"))
    env = {**os.environ, "CDK_CONTEXT_JSON": json.dumps({"config": str(bad)}), "CDK_OUTDIR": str(tmp_path / "out")}
    completed = subprocess.run(
        [sys.executable, str(ROOT / "app.py")], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert completed.returncode == 1
    assert "Traceback" not in completed.stderr
    lines = [line.strip() for line in completed.stderr.splitlines() if line.startswith("  ")]
    assert len(lines) == 2
    assert any("cluster.name: cluster name '-bad' is not valid for EKS" in line for line in lines)
    assert any("node_groups[0].colour: unknown key 'colour'" in line for line in lines)


def test_shape_and_cross_field_problems_are_reported_together(tmp_path: Path) -> None:
    text = """\
node_groups:
  - {name: big, instance_types: [inf1.6xlarge], max_size: 2}
  - {name: broken, instance_types: [inf1.xlarge], max_size: lots}
apis:
  - {name: Bad-Name, node_group: big, image: x:1}
  - {name: three, node_group: big, image: x:1, compute: {inf: 2}, processes_per_replica: 3}
  - {name: on-broken, node_group: broken, image: x:1}
"""
    lines = _problems(tmp_path, text)
    joined = "\n".join(lines)
    assert ":3: node_groups[1].max_size:" in joined
    assert ":5: apis[0].name:" in joined
    # The well-formed API after a malformed one keeps its own index and still gets the sizing rules.
    assert ":6: apis[1].processes_per_replica: processes_per_replica 3" in joined
    # An API on a malformed node group is not also told that its node group does not exist.
    assert "apis[2]" not in joined
