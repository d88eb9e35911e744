"""Thousands of generated and mutated configs through ``load_config`` and ``inferentia-cdk validate`` (issue 11).

For every input: only ``ConfigError`` leaves the loader; ``validate`` exits 0 or 2 and prints exactly one
``<file>:<line>: <path>: <message>`` line per problem (so no value can forge an extra line); an accepted config also
plans. A few accepted configs are then synthesized with cdk-nag on, and their templates and Kubernetes objects go
through cfn-lint and kubernetes-validate like the example apps in test_gates.py.

Hypothesis runs derandomized with a fixed number of examples per strategy, so CI sees the same inputs every time.
"""

from __future__ import annotations

import copy
import io
import json
import math
import random
import re
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import yaml
from crd_schemas import validate_kubernetes_object
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from synth_support import EXAMPLES, synthesize
from test_gates import CFN_LINT_ACCEPTED, _accepts, unacknowledged_findings

from inferentia_cdk.catalog import versions
from inferentia_cdk.cli.main import EXIT_INVALID, EXIT_VALID, main
from inferentia_cdk.config.problems import RULES, ConfigError
from inferentia_cdk.planning.loader import LoadedConfig, load_config

EXAMPLES_PER_STRATEGY = {"generated": 1500, "mutated text": 1000, "random text": 500}
SYNTHESIZED_SAMPLES = 2

GROUPS: list[dict[str, Any]] = [
    {"name": "inf1", "instance_types": ["inf1.xlarge"], "max_size": 2},
    {"name": "inf1-big", "instance_types": ["inf1.6xlarge"], "min_size": 0, "desired_size": 1, "max_size": 2},
    {"name": "inf2", "instance_types": ["inf2.xlarge", "inf2.8xlarge"], "ami": "bottlerocket", "max_size": 3},
    {"name": "trn1", "instance_types": ["trn1.2xlarge"], "capacity_type": "spot", "desired_size": 0, "max_size": 1},
]
IMAGES = ["public.ecr.aws/acme/bert:1.0", "acme/resnet@sha256:" + "ab" * 32, "localhost:5000/x/y:v2"]

HOSTILE: list[Any] = [
    None, True, False, 0, -1, 1, 3, 2**31, 2**53 + 1, 1.5, math.inf, -math.inf, math.nan, "", " ", "yes", "on", "010",
    "1:30", "0x1F", "1_000", "${Token[TOKEN.1]}", "{{resolve:ssm:x}}", "a\nb", "x\x1by", "\u2028", "\x85", "é",
    "1bert", "Bert", "latest", "../..", "a" * 300, [], [1, "x"], {}, {"k": "v"}, {"a": {"b": [None]}}, "1e3", "1Ei",
    "500m", "20Mi", "4", "-5", "inf1.xlarge", "m6g.large", "us-east-1", "US-EAST-1", "$(HOME)", "kube-system",
    "default", "1.35", 1.35, "1.99", "2.29.149.0", "/healthz", "0", "NEURON_RT_NUM_CORES", "A=B",
]  # fmt: skip
SNIPPETS = [
    b"&a ", b"*a", b"<<: ", b"!!binary ", b"!!python/object:x ", b"!x ", b"---\n", b"...\n", b"[", b"]", b"{", b"}",
    b": ", b"- ", b"\t", b"\x00", b"\x1b", b"\xff\xfe", b"\xe9", b"# ", b'"', b"'", b"\\", b"\n", b"  ", b"? ",
    b"|\n", b">-\n", b"%YAML 1.1\n", b"\xef\xbb\xbf", b"${Token[X.1]}", b"010", b"yes", b"1e400", b"\xc2\x85", b"~",
]  # fmt: skip
RANDOM_ALPHABET = list(":-[]{},&*!|>'\"#%@`?~ \n\t\rabcxyz01.-_=$()\x00\x1b\x7f\u2028é")
_DUMPER: type[yaml.SafeDumper] = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
# <file>:<line>: <path>: <message> [<CODE>]
LINE = r"{file}:[0-9]+: \S.*?: .+ \[(?P<code>[A-Z]{{2,5}}[0-9]{{3}})\]"


# --- strategies -----------------------------------------------------------------------------------------------------
# Hypothesis draws one seed per input and a seeded generator builds the input from it: a hypothesis draw costs a
# fraction of a millisecond, and a config takes dozens of choices, which would dominate the run time. The seeds are
# still hypothesis's (derandomized, reported with any failure), so every failing input can be rebuilt from its seed.

_SEEDS = st.integers(0, 2**64 - 1)


def sound_config(rng: random.Random) -> dict[str, Any]:
    """A config the loader should accept: a few node groups, APIs sized to fit them."""
    groups = [g for g in GROUPS if rng.random() < 0.5] or [rng.choice(GROUPS)]
    cluster: dict[str, Any] = {
        "name": rng.choice(["demo", "ml-prod", "Team_2"]),
        "kubernetes_version": rng.choice(versions.KUBERNETES_VERSIONS),
    }
    if rng.random() < 0.5:
        cluster["region"] = rng.choice(["us-east-1", "eu-west-1", "us-gov-west-1"])
    if rng.random() < 0.3:
        cluster["system_node_group"] = {"instance_types": [rng.choice(["m6i.large", "c7i.xlarge"])]}
    apis = []
    for i in range(rng.randint(0, 3)):
        group = rng.choice(groups)
        cores = 4 if group["name"].startswith("inf1") else 2
        api: dict[str, Any] = {
            "name": f"api-{i}",
            "node_group": group["name"],
            "image": rng.choice(IMAGES),
            "compute": {"inf": 1, "cpu": rng.choice(["1", "500m", "0.25"]), "mem": "2Gi"},
            "processes_per_replica": rng.choice([p for p in (1, 2, 4) if cores % p == 0]),
            "autoscaling": {"min_replicas": 1, "max_replicas": rng.randint(1, 3)},
        }
        if rng.random() < 0.5:
            api["env"] = {"MODEL": rng.choice(["bert", " spaced ", "$$(ESCAPED)", "é"])}
        if rng.random() < 0.3:
            api["allowed_namespaces"] = rng.sample(["frontend", "batch", "kube-system", "team-2"], rng.randint(1, 2))
        apis.append(api)
    config: dict[str, Any] = {
        "cluster": cluster,
        "node_groups": copy.deepcopy(groups),
        "device_plugin": {"scheduler_extension": rng.random() < 0.5, "monitor": rng.random() < 0.5},
        "quota_check": rng.choice(["deploy", "off"]),
        "apis": apis,
    }
    # Endpoints need a region (the access log bucket's policy); internal, with the default sources or explicit ones.
    if "region" in cluster and apis and rng.random() < 0.6:
        config["endpoints"] = rng.choice(
            [{"scheme": "internal"}, {"scheme": "internal", "allowed_cidrs": ["10.0.0.0/8"]}]
        )
        if len(apis) > 1 and rng.random() < 0.5:
            apis[-1]["endpoint"] = False
    if rng.random() < 0.5:
        config["observability"] = {"container_insights": rng.random() < 0.5, "dashboards": rng.random() < 0.5}
        if not config["observability"]["container_insights"]:
            for api in apis:
                api["autoscaling"]["metric"] = (
                    "requests_per_replica" if api.get("endpoint") is not False and "endpoints" in config else "cpu"
                )
    return config


def _places(value: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every path in ``value``, containers included."""
    found = [path]
    if isinstance(value, dict):
        for key, item in value.items():
            found += _places(item, (*path, key))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            found += _places(item, (*path, i))
    return found


def _hostile(rng: random.Random) -> Any:
    roll = rng.random()
    if roll < 0.7:
        return copy.deepcopy(rng.choice(HOSTILE))
    if roll < 0.85:
        return "".join(rng.choice(RANDOM_ALPHABET) for _ in range(rng.randint(0, 8)))
    return rng.randint(-(2**70), 2**70)


def mutated_config(rng: random.Random) -> str:
    """A sound config with up to three hostile edits (a value replaced, a key dropped or added), as YAML."""
    config = sound_config(rng)
    for _ in range(rng.choice([0, 0, 1, 1, 2, 3])):
        path = rng.choice(_places(config)[1:])
        parent: Any = config
        for part in path[:-1]:
            parent = parent[part]
        operation = rng.choice(["replace", "replace", "drop", "add"])
        if operation == "replace" or (operation == "drop" and isinstance(parent, list)):
            parent[path[-1]] = _hostile(rng)
        elif operation == "drop":
            del parent[path[-1]]
        elif isinstance(parent, dict):
            parent[rng.choice(["colour", "replicas", "", "1", "name "])] = _hostile(rng)
    return yaml.dump(config, Dumper=_DUMPER, allow_unicode=True, sort_keys=False)


_SOURCES = [(EXAMPLES / "inferentia.yaml").read_bytes(), (EXAMPLES / "full.yaml").read_bytes()]


def mutated_text(rng: random.Random) -> bytes:
    """An example config (or a generated one) with byte-level edits: YAML syntax, aliases, tags, bad bytes."""
    text = rng.choice(_SOURCES) if rng.random() < 0.5 else mutated_config(rng).encode()
    for _ in range(rng.randint(1, 4)):
        at = rng.randint(0, len(text))
        operation = rng.choice(["insert", "insert", "delete", "duplicate line", "truncate"])
        if operation == "insert":
            text = text[:at] + rng.choice(SNIPPETS) + text[at:]
        elif operation == "delete":
            text = text[:at] + text[at + rng.randint(1, 40) :]
        elif operation == "duplicate line":
            start = text.rfind(b"\n", 0, at) + 1
            end = text.find(b"\n", at)
            line = text[start : end + 1 if end != -1 else len(text)]
            text = text[:start] + line + line + text[start + len(line) :]
        else:
            text = text[:at]
    return text


random_text = st.one_of(
    st.text(alphabet=st.sampled_from(RANDOM_ALPHABET), max_size=160).map(str.encode), st.binary(max_size=100)
)


# --- the property -----------------------------------------------------------------------------------------------------


def run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), out=out, err=err)
    return code, out.getvalue(), err.getvalue()


def check_one(path: Path, content: bytes) -> LoadedConfig | None:
    """The property for one input; returns the loaded config when it was accepted."""
    # A new file each time: rewriting one in place makes ext4 flush it (auto_da_alloc), milliseconds per example.
    path.unlink(missing_ok=True)
    path.write_bytes(content)
    try:
        loaded: LoadedConfig | None = load_config(path)
    except ConfigError as error:  # anything else escapes and fails the test
        loaded, expected_lines = None, len(error.problems)
        assert error.problems
    else:
        expected_lines = len(loaded.warnings) + len(loaded.notes)
    code, _, err = run("validate", str(path))
    assert code == (EXIT_VALID if loaded else EXIT_INVALID), err
    lines = err.splitlines()
    assert len(lines) == expected_lines, f"{expected_lines} problems, but these lines:\n{err}"
    pattern = re.compile(LINE.format(file=re.escape(str(path))))
    for line in lines:
        match = pattern.fullmatch(line)
        assert match, f"not a located problem line with its code: {line!r}"
        assert match["code"] in RULES, f"the code of {line!r} is no registered rule"
    if loaded is not None:
        code, _, err = run("plan", str(path))
        assert code == EXIT_VALID, err
    return loaded


FUZZ_SETTINGS = {
    "deadline": None,
    "derandomize": True,
    "database": None,
    "suppress_health_check": [HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
}


def test_no_input_escapes_the_loader_and_every_problem_line_is_located(
    tmp_path: Path, tmp_path_factory: pytest.TempPathFactory, record_property: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # argparse looks up its message catalogue on every parser it builds, a file search per locale variable.
    monkeypatch.setenv("LANGUAGE", "C")
    counts: Counter[str] = Counter()
    accepted: list[tuple[str, frozenset[str]]] = []
    path = tmp_path / "fuzz.yaml"

    @settings(max_examples=EXAMPLES_PER_STRATEGY["generated"], **FUZZ_SETTINGS)
    @given(seed=_SEEDS)
    def generated(seed: int) -> None:
        counts["generated"] += 1
        text = mutated_config(random.Random(seed))
        loaded = check_one(path, text.encode())
        if loaded is not None:
            counts["generated accepted"] += 1
            if loaded.config.apis and loaded.config.quota_check != "synth":
                accepted.append((text, _features(loaded)))

    @settings(max_examples=EXAMPLES_PER_STRATEGY["mutated text"], **FUZZ_SETTINGS)
    @given(seed=_SEEDS)
    def mutated(seed: int) -> None:
        counts["mutated text"] += 1
        counts["mutated text accepted"] += check_one(path, mutated_text(random.Random(seed))) is not None

    @settings(max_examples=EXAMPLES_PER_STRATEGY["random text"], **FUZZ_SETTINGS)
    @given(content=random_text)
    def random_inputs(content: bytes) -> None:
        counts["random text"] += 1
        counts["random text accepted"] += check_one(path, content) is not None

    started = time.perf_counter()
    generated()
    mutated()
    random_inputs()
    fuzzed = time.perf_counter() - started
    record_property("fuzz_counts", json.dumps(counts))
    print(f"fuzz cases: {dict(counts)} in {fuzzed:.1f} s")
    for strategy, wanted in EXAMPLES_PER_STRATEGY.items():
        assert counts[strategy] >= wanted * 0.9, counts
    assert counts["generated accepted"] > 100, "the generator should produce plenty of valid configs"
    assert counts["mutated text accepted"] > 0

    # A sample of what validate accepted synthesizes, cdk-nag included, and passes cfn-lint and kubernetes-validate.
    samples = _diverse(accepted, SYNTHESIZED_SAMPLES)
    assert len(samples) == SYNTHESIZED_SAMPLES
    for i, text in enumerate(samples):
        config_path = tmp_path / f"accepted-{i}.yaml"
        config_path.write_text(text)
        app = synthesize(config_path, tmp_path_factory.mktemp(f"fuzz-{i}-cdk.out"))
        report = json.loads((app.outdir / "validation-report.json").read_text())
        assert unacknowledged_findings(report) == []
        _cfn_lint_finds_nothing(app.outdir, list(app.templates))
        version = app.stacks["cluster"].config.cluster.kubernetes_version
        objects = app.kubernetes_objects()
        assert objects
        for obj in objects:
            validate_kubernetes_object(obj, version)


def _features(loaded: LoadedConfig) -> frozenset[str]:
    """What a config exercises: the Neuron families, AMIs and capacity types its APIs run on, and the options."""
    config = loaded.config
    used = {api.node_group for api in config.apis}
    features = {
        f"{part}"
        for group in config.node_groups
        if group.name in used
        for part in (group.instance_types[0].split(".")[0], group.ami, group.capacity_type)
    }
    plugin = config.device_plugin
    features |= {name for name, on in (("scheduler", plugin.scheduler_extension), ("monitor", plugin.monitor)) if on}
    if config.endpoints is not None and config.exposed_apis():
        sources = "default" if config.endpoints.allowed_cidrs is None else "explicit"
        features.add(f"endpoints internal, {sources} sources")
    features |= {"container insights off"} if not config.container_insights() else set()
    features |= {"dashboards off"} if not config.observability.dashboards else set()
    features |= {"allowed_namespaces"} if any(api.allowed_namespaces for api in config.apis) else set()
    return frozenset(features | {f"kubernetes {config.cluster.kubernetes_version}"})


def _diverse(accepted: list[tuple[str, frozenset[str]]], count: int) -> list[str]:
    """``count`` accepted configs that between them exercise the most features, picked greedily."""
    chosen: list[str] = []
    covered: frozenset[str] = frozenset()
    for _ in range(count):
        text, features = max(accepted, key=lambda pair: (len(pair[1] - covered), len(pair[1]), pair[0]))
        chosen.append(text)
        covered |= features
    print(f"synthesized samples cover: {sorted(covered)}")
    return chosen


def _cfn_lint_finds_nothing(outdir: Path, stacks: list[str]) -> None:
    from cfnlint.api import ManualArgs, lint_file

    findings = [
        f"{name}: {match.rule.id} {match.message}"
        for name in stacks
        for match in lint_file(outdir / f"{name}.template.json", ManualArgs(regions=["us-east-1"]))
        if not any(
            _accepts(accepted, {"rule": match.rule.id, "path": "/".join(map(str, match.path))})
            for accepted in CFN_LINT_ACCEPTED
        )
    ]
    assert findings == []
