"""The API sizing rules, each shown failing and passing; the node allocatable model; property tests over random
specs; and the rendered Kubernetes objects (pure: no CDK)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from inferentia_cdk import catalog
from inferentia_cdk.config.models import ApiSpec, DevicePluginSpec, NodeGroupSpec
from inferentia_cdk.config.problems import ConfigError, Problem, errors, raise_for_errors
from inferentia_cdk.manifests.api import render_api
from inferentia_cdk.manifests.device_plugin import device_plugin_objects
from inferentia_cdk.manifests.neuron_monitor import monitor_objects
from inferentia_cdk.planning.capacity import (
    NEURON_MONITOR_RESERVATION,
    NODE_DAEMONSETS,
    NodeGroupCapacity,
    kube_reserved_cpu_millicores,
    kube_reserved_memory_mib,
    node_allocatable,
)
from inferentia_cdk.planning.loader import load_config, parse_config
from inferentia_cdk.planning.packing import cpu_millicores, memory_mib
from inferentia_cdk.planning.serving_env import RESERVED_ENV_NAMES
from inferentia_cdk.planning.sizing import size_replica
from inferentia_cdk.planning.validation import check_api

KUBERNETES_VERSION = "1.35"


def group(*types: str, name: str = "pool") -> NodeGroupSpec:
    return NodeGroupSpec(name=name, instance_types=list(types), max_size=2)


def api(**fields: Any) -> ApiSpec:
    fields.setdefault("name", "demo")
    fields.setdefault("node_group", "pool")
    fields.setdefault("image", "public.ecr.aws/example/demo:1.0.0")
    return ApiSpec.model_validate(fields)


def problems_at(problems: list[Problem], *field: str | int) -> list[Problem]:
    return [p for p in problems if p.path == field]


# --- processes_per_replica ---------------------------------------------------------------------------------------


def test_three_processes_on_two_inf1_chips_lists_every_valid_value() -> None:
    found = check_api(api(compute={"inf": 2}, processes_per_replica=3), group("inf1.6xlarge"), scheduler_extension=True)
    (problem,) = problems_at(found, "processes_per_replica")
    assert (problem.code, problem.severity) == ("NCG001", "error")
    # The message is the fix: it names the value, the cores and every valid choice.
    assert "processes_per_replica 3" in problem.message
    assert "8 NeuronCores" in problem.message
    assert "valid processes_per_replica: 1, 2, 4, 8" in problem.message


@pytest.mark.parametrize("processes", [1, 2, 4, 8])
def test_divisors_of_the_cores_are_accepted(processes: int) -> None:
    found = check_api(
        api(compute={"inf": 2}, processes_per_replica=processes), group("inf1.6xlarge"), scheduler_extension=True
    )
    assert errors(found) == []


def test_processes_rule_uses_the_family_cores_per_chip() -> None:
    # One inf2 chip has 2 cores: 4 processes cannot share them, though they could share an inf1 chip.
    (problem,) = errors(check_api(api(processes_per_replica=4), group("inf2.xlarge")))
    assert (problem.path, problem.code) == (("processes_per_replica",), "NCG001")
    assert problem.message.endswith("valid processes_per_replica: 1, 2")
    assert errors(check_api(api(processes_per_replica=4), group("inf1.xlarge"))) == []


# --- compiled_neuroncores ----------------------------------------------------------------------------------------


def test_model_compiled_for_more_cores_than_its_ncg_is_an_error() -> None:
    found = check_api(api(processes_per_replica=4, compiled_neuroncores=2), group("inf1.xlarge"))
    (problem,) = problems_at(found, "compiled_neuroncores")
    assert (problem.code, problem.severity) == ("NCG002", "error")
    assert "one of 1, 2" in problem.message  # the process counts whose NCGs hold 2 cores
    assert "--num-neuroncores 1" in problem.message


def test_model_compiled_for_fewer_cores_warns_with_throughput_and_latency_advice() -> None:
    found = check_api(api(processes_per_replica=1, compiled_neuroncores=1), group("inf1.xlarge"))
    (problem,) = problems_at(found, "compiled_neuroncores")
    assert (problem.code, problem.severity) == ("NCG003", "warning")
    assert "3 cores of every NCG sit idle" in problem.message
    assert "throughput, set processes_per_replica to 4" in problem.message
    assert "latency, recompile with --num-neuroncores 4" in problem.message


@pytest.mark.parametrize("compiled", [None, 2])
def test_model_compiled_for_its_ncg_or_defaulted_is_fine(compiled: int | None) -> None:
    found = check_api(api(processes_per_replica=2, compiled_neuroncores=compiled), group("inf1.xlarge"))
    assert problems_at(found, "compiled_neuroncores") == []


def test_compiled_rule_waits_for_a_valid_split() -> None:
    found = check_api(api(processes_per_replica=3, compiled_neuroncores=4), group("inf1.xlarge"))
    assert problems_at(found, "compiled_neuroncores") == []
    assert [p.code for p in problems_at(found, "processes_per_replica")] == ["NCG001"]


# --- the replica fits a node ---------------------------------------------------------------------------------------


def test_more_chips_than_a_node_has_names_the_types_that_would_fit() -> None:
    (problem,) = errors(check_api(api(compute={"inf": 4}), group("inf1.xlarge")))
    assert (problem.path, problem.code) == (("compute", "inf"), "CAP001")
    assert "inf1.xlarge has 1" in problem.message
    assert "at most 1" in problem.message
    assert "inf1.6xlarge (4), inf1.24xlarge (16)" in problem.message


def test_every_instance_type_of_the_group_must_fit() -> None:
    found = errors(check_api(api(compute={"inf": 16}), group("inf1.24xlarge", "inf1.6xlarge")))
    (problem,) = problems_at(found, "compute", "inf")
    assert problem.code == "CAP001"
    assert "inf1.6xlarge has 4" in problem.message
    assert "inf1.24xlarge has" not in problem.message


def test_no_type_of_the_family_is_large_enough() -> None:
    (problem,) = errors(check_api(api(compute={"inf": 17}), group("inf1.24xlarge")))
    assert "no inf1 type has that many" in problem.message


def test_cpu_beyond_allocatable_is_an_error_with_the_numbers() -> None:
    allocatable = node_allocatable(catalog.INSTANCE_TYPES["inf1.xlarge"]).cpu_millicores
    (problem,) = errors(check_api(api(compute={"cpu": "4"}), group("inf1.xlarge")))
    assert (problem.path, problem.code) == (("compute", "cpu"), "CAP002")
    assert f"at most {allocatable}m" in problem.message
    assert errors(check_api(api(compute={"cpu": f"{allocatable}m"}), group("inf1.xlarge"))) == []


def test_memory_beyond_allocatable_is_an_error_with_the_numbers() -> None:
    allocatable = node_allocatable(catalog.INSTANCE_TYPES["inf1.xlarge"]).memory_mib
    (problem,) = errors(check_api(api(compute={"mem": "8Gi"}), group("inf1.xlarge")))
    assert (problem.path, problem.code) == (("compute", "mem"), "CAP003")
    assert f"at most {allocatable}Mi" in problem.message
    assert errors(check_api(api(compute={"mem": f"{allocatable}Mi"}), group("inf1.xlarge"))) == []


def test_neuron_monitor_requests_count_against_the_node() -> None:
    spare = node_allocatable(catalog.INSTANCE_TYPES["inf1.xlarge"]).cpu_millicores
    spec = api(compute={"cpu": f"{spare}m"})
    assert errors(check_api(spec, group("inf1.xlarge"))) == []
    found = problems_at(errors(check_api(spec, group("inf1.xlarge"), neuron_monitor=True)), "compute", "cpu")
    assert [p.code for p in found] == ["CAP002"]


def test_cpu_and_memory_in_each_others_units_are_rejected() -> None:
    # Both are Kubernetes quantities: 2Gi CPUs is more than any node has, 500m of memory half a byte.
    found = errors(check_api(api(compute={"cpu": "2Gi"}), group("inf1.2xlarge")))
    assert {(p.path, p.code) for p in found} == {(("compute", "cpu"), "CAP002")}
    with pytest.raises(ValidationError) as raised:
        api(compute={"mem": "500m"})
    assert [(e["type"], e["loc"]) for e in raised.value.errors()] == [("API005", ("compute", "mem"))]
    assert "'m' means thousandths of a byte" in str(raised.value)


# --- contiguous allocation -----------------------------------------------------------------------------------------


def test_part_of_a_nodes_chips_needs_the_scheduler_extension() -> None:
    spec = api(compute={"inf": 2})
    (problem,) = errors(check_api(spec, group("inf1.6xlarge")))
    assert (problem.path, problem.code) == (("compute", "inf"), "NCG004")
    assert "device_plugin.scheduler_extension: true" in problem.message
    assert "inf1.6xlarge has 4" in problem.message
    assert errors(check_api(spec, group("inf1.6xlarge"), scheduler_extension=True)) == []


@pytest.mark.parametrize("inf", [1, 4])
def test_one_chip_or_a_whole_node_needs_no_scheduler_extension(inf: int) -> None:
    assert errors(check_api(api(compute={"inf": inf}), group("inf1.6xlarge"))) == []


# --- names, env, image -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["default", "kube-system", "kube-anything"])
def test_api_names_that_are_kubernetes_namespaces_are_rejected(name: str) -> None:
    (problem,) = errors(check_api(api(name=name), group("inf1.xlarge")))
    assert (problem.path, problem.code) == (("name",), "NAME170")


@pytest.mark.parametrize("name", sorted(RESERVED_ENV_NAMES))
def test_env_may_not_override_the_ncg_layout(name: str) -> None:
    (problem,) = errors(check_api(api(env={name: "3"}), group("inf1.xlarge")))
    assert (problem.path, problem.code) == (("env", name), "ENV001")


def test_env_names_must_be_valid() -> None:
    (problem,) = errors(check_api(api(env={"A=B": "1", "MODEL_NAME": "bert"}), group("inf1.xlarge")))
    assert (problem.path, problem.code) == (("env", "A=B"), "ENV003")


@pytest.mark.parametrize(
    ("image", "warned"),
    [
        ("repo/demo:latest", True),
        ("repo/demo", True),
        ("registry.example.com:5000/demo", True),
        ("registry.example.com:5000/demo:1.2", False),
        ("repo/demo@sha256:" + "a" * 64, False),
    ],
)
def test_unpinned_images_warn(image: str, warned: bool) -> None:
    found = check_api(api(image=image), group("inf1.xlarge"))
    assert [(p.code, p.severity) for p in problems_at(found, "image")] == ([("API009", "warning")] if warned else [])


def test_replica_bounds_are_checked_by_the_construct_rules_too() -> None:
    found = check_api(api(autoscaling={"min_replicas": 3, "max_replicas": 2}), group("inf1.xlarge"))
    assert [p.code for p in problems_at(found, "autoscaling", "max_replicas")] == ["SCL004"]


def test_an_invalid_node_group_skips_the_sizing_rules() -> None:
    # The group's own problem is check_node_group's to report; sizing against an unknown type means nothing.
    assert check_api(api(compute={"inf": 99}), group("m5.large")) == []


# --- through the config file: every problem at once, with lines ------------------------------------------------

BROKEN = """\
cluster: {name: demo}
node_groups:
  - name: big
    instance_types: [inf1.6xlarge]
apis:
  - name: one
    node_group: big
    image: repo/one:1
    compute: {inf: 2}
    processes_per_replica: 3
  - name: two
    node_group: big
    image: repo/two:1
    compute: {inf: 8, cpu: "64"}
    compiled_neuroncores: 64
"""


def test_config_reports_every_api_problem_at_once_with_lines(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text(BROKEN)
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    found = {(p.line, p.location, p.code) for p in caught.value.problems}
    assert found == {
        (10, "apis[0].processes_per_replica", "NCG001"),
        (9, "apis[0].compute.inf", "NCG004"),  # 2 of 4 chips without the scheduler extension
        (15, "apis[1].compiled_neuroncores", "NCG002"),
        (14, "apis[1].compute.inf", "CAP001"),
        (14, "apis[1].compute.cpu", "CAP002"),
    }
    assert len(caught.value.problems) == len(found)


def test_scheduler_extension_in_the_config_allows_partial_nodes(tmp_path: Path) -> None:
    text = BROKEN.split("  - name: two")[0].replace("processes_per_replica: 3", "processes_per_replica: 4")
    path = tmp_path / "config.yaml"
    path.write_text(text + "device_plugin: {scheduler_extension: true}\n")
    assert load_config(path).config.apis[0].compute.inf == 2


# --- allocatable model ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(("vcpus", "millicores"), [(1, 60), (2, 70), (4, 80), (8, 90), (96, 310)])
def test_kube_reserved_cpu_follows_nodeadm(vcpus: int, millicores: int) -> None:
    assert kube_reserved_cpu_millicores(vcpus) == millicores


def test_kube_reserved_memory_follows_nodeadm() -> None:
    assert kube_reserved_memory_mib(38) == 673


def test_inf1_xlarge_allocatable() -> None:
    node = node_allocatable(catalog.INSTANCE_TYPES["inf1.xlarge"])
    assert node.max_pods == 38
    assert node.cpu_millicores == 4000 - 80 - 185
    assert node.memory_mib == int(8 * 1024 * 0.925) - 673 - 100 - 94


def _requests(objects: list[dict[str, Any]], daemonset: str) -> tuple[int, int]:
    (obj,) = [o for o in objects if o["kind"] == "DaemonSet" and o["metadata"]["name"] == daemonset]
    requests = obj["spec"]["template"]["spec"]["containers"][0]["resources"]["requests"]
    cpu, mem = cpu_millicores(requests["cpu"]), memory_mib(requests["memory"])
    assert cpu is not None and mem is not None
    return int(cpu), int(mem)


def test_reservations_cover_what_the_neuron_daemonsets_request() -> None:
    (plugin,) = [r for r in NODE_DAEMONSETS if r.name == "neuron-device-plugin"]
    plugin_cpu, plugin_mem = _requests(device_plugin_objects(DevicePluginSpec()), "neuron-device-plugin")
    assert (plugin.cpu_millicores, plugin.memory_mib) >= (plugin_cpu, plugin_mem)
    monitor_cpu, monitor_mem = _requests(monitor_objects(), "neuron-monitor")
    assert NEURON_MONITOR_RESERVATION.cpu_millicores >= monitor_cpu
    assert NEURON_MONITOR_RESERVATION.memory_mib >= monitor_mem


def test_quantity_parsing() -> None:
    assert cpu_millicores("1") == 1000
    assert cpu_millicores("0.5") == 500
    assert cpu_millicores("250m") == 250
    assert memory_mib("4Gi") == 4096
    assert memory_mib("1G") == pytest.approx(953.67, rel=1e-3)
    assert memory_mib("500m") == 0.5 / 2**20
    assert cpu_millicores("1Gi") == 2**30 * 1000
    assert cpu_millicores("1e3") == 1e6
    assert memory_mib("1Ei") == 2**40
    assert cpu_millicores("1.5.5") is None


# --- rendered objects ------------------------------------------------------------------------------------------


def _deployment(objects: list[dict[str, Any]]) -> dict[str, Any]:
    (deployment,) = [o for o in objects if o["kind"] == "Deployment"]
    return deployment


@pytest.mark.parametrize("scheduler_extension", [False, True])
@pytest.mark.parametrize("example", ["inferentia.yaml", "full.yaml"])
def test_every_rendered_object_passes_kubernetes_validate(example: str, scheduler_extension: bool) -> None:
    config = load_config(Path(__file__).resolve().parents[2] / "examples" / example).config
    for spec in config.apis:
        node_group = config.node_group(spec.node_group)
        assert node_group is not None
        for obj in render_api(spec, node_group, scheduler_extension=scheduler_extension):
            kubernetes_validate.validate(obj, KUBERNETES_VERSION, strict=True)


def test_render_shape_and_hardening() -> None:
    objects = render_api(
        api(compute={"inf": 1, "cpu": "2", "mem": "6Gi"}, processes_per_replica=4), group("inf1.xlarge")
    )
    assert [o["kind"] for o in objects] == [
        "Namespace",
        "Deployment",
        "Service",
        "HorizontalPodAutoscaler",
        "PodDisruptionBudget",
        "NetworkPolicy",
    ]
    assert {o["metadata"].get("namespace") for o in objects[1:]} == {"demo"}
    pod = _deployment(objects)["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    expected = {"cpu": "2", "memory": "6Gi", "aws.amazon.com/neuron": "1"}
    assert container["resources"] == {"requests": expected, "limits": expected}
    assert pod["tolerations"] == [{"key": "aws.amazon.com/neuron", "operator": "Exists", "effect": "NoSchedule"}]
    assert pod["nodeSelector"] == {"inferentia-cdk/node-group": "pool"}
    assert pod["automountServiceAccountToken"] is False
    assert "schedulerName" not in pod
    assert pod["securityContext"]["runAsUser"] >= 10000
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    security = container["securityContext"]
    assert security["readOnlyRootFilesystem"] is True
    assert security["allowPrivilegeEscalation"] is False
    assert security["capabilities"] == {"drop": ["ALL"]}
    assert {"name": "scratch", "mountPath": "/tmp"} in container["volumeMounts"]
    assert container["readinessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
    assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
    env = {e["name"]: e["value"] for e in container["env"]}
    assert env["NEURON_RT_NUM_CORES"] == "1"
    assert env["INFERENTIA_PROCESSES_PER_REPLICA"] == "4"
    assert env["INFERENTIA_THREADS_PER_PROCESS"] == "1"
    assert container["env"][0]["name"] == "NEURON_RT_NUM_CORES"  # inf1 runs Neuron runtime 2.x too
    assert "NEURONCORE_GROUP_SIZES" not in env
    policy = objects[-1]["spec"]
    assert policy["policyTypes"] == ["Ingress"]
    # Without an endpoint: pods of every namespace of the cluster, on the API port only.
    assert policy["ingress"] == [{"ports": [{"protocol": "TCP", "port": 8080}], "from": [{"namespaceSelector": {}}]}]
    hpa = objects[3]["spec"]
    assert hpa["metrics"][0]["resource"]["target"] == {"type": "Utilization", "averageUtilization": 70}


def test_runtime_2x_family_gets_neuron_rt_num_cores_first_and_scheduler_when_on() -> None:
    objects = render_api(api(processes_per_replica=2), group("inf2.xlarge"), scheduler_extension=True)
    pod = _deployment(objects)["spec"]["template"]["spec"]
    assert pod["schedulerName"] == "my-scheduler"
    assert pod["containers"][0]["env"][0] == {"name": "NEURON_RT_NUM_CORES", "value": "1"}


# --- property tests ----------------------------------------------------------------------------------------------

GROUPS = [
    {"name": "small", "instance_types": ["inf1.xlarge"], "max_size": 2},
    {"name": "medium", "instance_types": ["inf1.6xlarge", "inf1.24xlarge"], "max_size": 2},
    {"name": "inf2", "instance_types": ["inf2.xlarge", "inf2.48xlarge"], "max_size": 2},
    {"name": "trn", "instance_types": ["trn1.32xlarge"], "max_size": 1},
    {"name": "trn2", "instance_types": ["trn2.48xlarge"], "max_size": 1},
]
API_FIELDS = set(ApiSpec.model_fields)

# Per field: values the config models accept, and values that are anything at all. Each spec corrupts at most two
# fields, so that both the accepted and the rejected branch are well exercised.
SOUND: dict[str, st.SearchStrategy[Any]] = {
    "name": st.sampled_from(["demo", "api-2"]),
    "node_group": st.sampled_from([g["name"] for g in GROUPS]),
    "image": st.sampled_from(["repo/demo:1", "registry.example.com:5000/demo:2.0"]),
    "port": st.integers(1024, 65535),
    "inf": st.sampled_from([1, 1, 1, 1, 2, 4, 16]),
    "cpu": st.sampled_from(["1", "0.5", "250m", "2", "16"]),
    "mem": st.sampled_from(["512Mi", "4Gi", "6G", "64Gi"]),
    "processes_per_replica": st.sampled_from([1, 1, 2, 2, 4, 8]),
    "threads_per_process": st.integers(1, 8),
    "compiled_neuroncores": st.one_of(st.none(), st.sampled_from([1, 2, 4])),
    "min_replicas": st.integers(1, 3),
    "max_replicas": st.integers(3, 8),
    "health_path": st.sampled_from(["/healthz", "/ready"]),
    "env": st.sampled_from([{}, {"MODEL": "bert"}]),
}
ANYTHING: dict[str, st.SearchStrategy[Any]] = {
    "name": st.sampled_from(["default", "kube-x", "Bad_Name", "a" * 64, ""]),
    "node_group": st.sampled_from(["missing", ""]),
    "image": st.sampled_from(["repo/demo", "repo/demo:latest", "", "repo@sha256:" + "b" * 64]),
    "port": st.integers(-1, 70000),
    "inf": st.one_of(st.integers(-1, 20), st.floats(0, 20, allow_nan=False), st.text(max_size=3), st.booleans()),
    "cpu": st.one_of(
        st.sampled_from(["4", "31", "200", "100Gi", "500m", "x", "0", "1e3"]), st.integers(-1, 300), st.booleans()
    ),
    "mem": st.one_of(st.sampled_from(["100Gi", "3000Gi", "500m", "x", "0", "1.5Ti"]), st.floats(-1, 1e12)),
    "processes_per_replica": st.integers(-1, 70),
    "threads_per_process": st.integers(-1, 3),
    "compiled_neuroncores": st.integers(-1, 70),
    "min_replicas": st.integers(-1, 10),
    "max_replicas": st.integers(-1, 10),
    "health_path": st.sampled_from(["healthz", "", "/"]),
    "env": st.dictionaries(st.sampled_from(["MODEL", "NEURON_RT_NUM_CORES", "A=B", ""]), st.text(max_size=3)),
}


@st.composite
def random_api(draw: st.DrawFn) -> dict[str, Any]:
    corrupted = draw(st.sets(st.sampled_from(sorted(SOUND)), max_size=2))
    value = {field: draw((ANYTHING if field in corrupted else SOUND)[field]) for field in SOUND}
    spec = {key: value[key] for key in ("name", "node_group", "image", "port", "processes_per_replica")}
    spec |= {key: value[key] for key in ("threads_per_process", "compiled_neuroncores", "health_path", "env")}
    spec["compute"] = {"inf": value["inf"], "cpu": value["cpu"], "mem": value["mem"]}
    spec["autoscaling"] = {"min_replicas": value["min_replicas"], "max_replicas": value["max_replicas"]}
    if draw(st.booleans()) and not corrupted:
        spec[draw(st.sampled_from(["colour", "replicas"]))] = 1  # an unknown key is a typo, rejected by name
    return spec


def _invariants_hold(spec: ApiSpec, node_group: NodeGroupSpec, scheduler_extension: bool, monitor: bool) -> None:
    capacity = NodeGroupCapacity.of(node_group)
    sizing = size_replica(capacity.family, spec.compute.inf, spec.processes_per_replica)
    assert sizing.ncg_size * spec.processes_per_replica == sizing.neuroncores
    assert (spec.compiled_neuroncores or sizing.ncg_size) <= sizing.ncg_size
    for instance_type in capacity.instance_types:
        assert spec.compute.inf <= instance_type.chips
        if 1 < spec.compute.inf < instance_type.chips:
            assert scheduler_extension
        node = node_allocatable(instance_type, neuron_monitor=monitor)
        cpu, mem = cpu_millicores(spec.compute.cpu), memory_mib(spec.compute.mem)
        assert cpu is not None and cpu <= node.cpu_millicores
        assert mem is not None and mem <= node.memory_mib
    assert spec.name not in {"default", "kube-system"} and not spec.name.startswith("kube-")
    assert not set(spec.env) & RESERVED_ENV_NAMES


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(spec=random_api(), scheduler_extension=st.booleans(), monitor=st.booleans())
def test_random_specs_are_accepted_only_when_sound_and_rejected_by_field(
    spec: dict[str, Any], scheduler_extension: bool, monitor: bool
) -> None:
    data = {
        "node_groups": GROUPS,
        "device_plugin": {"scheduler_extension": scheduler_extension, "monitor": monitor},
        "apis": [spec],
    }
    config, problems = parse_config(data)  # never raises: every problem comes back as a Problem
    found = errors(problems)
    if config is not None and not found:
        (accepted,) = config.apis
        node_group = config.node_group(accepted.node_group)
        assert node_group is not None
        _invariants_hold(accepted, node_group, scheduler_extension, monitor)
        render_api(accepted, node_group, scheduler_extension=scheduler_extension)
        return
    assert found
    for problem in found:
        # Every rejection names the API's field it is about.
        assert problem.path[:2] == ("apis", 0), problem
        assert len(problem.path) >= 3 and problem.path[2] in API_FIELDS | {"colour", "replicas"}, problem


@settings(max_examples=25, deadline=None)
@given(spec=random_api(), scheduler_extension=st.booleans())
def test_the_construct_path_raises_only_config_error_and_renders_valid_objects(
    spec: dict[str, Any], scheduler_extension: bool
) -> None:
    """What InferentiaApi does before creating anything: model, rules, render; only ConfigError may escape."""
    from pydantic import ValidationError

    groups = {g["name"]: NodeGroupSpec.model_validate(g) for g in GROUPS}
    try:
        model = ApiSpec.model_validate(spec)
    except ValidationError:
        return  # the config models' own error, reported by the loader as problems (tested above)
    node_group = groups.get(model.node_group)
    if node_group is None:
        return
    try:
        raise_for_errors(check_api(model, node_group, scheduler_extension=scheduler_extension))
    except ConfigError as error:
        assert error.problems
        return
    for obj in render_api(model, node_group, scheduler_extension=scheduler_extension):
        kubernetes_validate.validate(obj, KUBERNETES_VERSION, strict=True)
