"""LLM APIs: the model and engine keys, the tensor-parallel and device memory rules (each failing and passing), the
startup budget, the rendered engine pods and S3 volumes, ``plan``, and what examples/llm.yaml synthesizes."""

from __future__ import annotations

import json
from io import StringIO
from typing import Any

import pytest
from synth_support import EXAMPLES, Synthesized

from inferentia_cdk import catalog
from inferentia_cdk.catalog import versions
from inferentia_cdk.cli.main import main
from inferentia_cdk.config.models import ApiSpec, NodeGroupSpec
from inferentia_cdk.manifests.api import render_api
from inferentia_cdk.planning.llm import plan_llm, runtime_reserve_gib
from inferentia_cdk.planning.loader import parse_config
from inferentia_cdk.planning.startup import (
    DEFAULT_STARTUP_SECONDS,
    startup_budget_seconds,
    startup_probe_failure_threshold,
)
from inferentia_cdk.planning.validation import check_api

LLAMA_8B = {"size_gib": 16, "layers": 32, "heads": 32, "kv_heads": 8, "head_dim": 128}
LLAMA_70B = {"size_gib": 132, "layers": 80, "heads": 64, "kv_heads": 8, "head_dim": 128}


def group(instance_type: str = "inf2.48xlarge", disk_size: int = 200) -> NodeGroupSpec:
    return NodeGroupSpec(name="pool", instance_types=[instance_type], max_size=2, disk_size=disk_size)


def llm(inf: int = 4, *, model: dict[str, Any] | None = None, **fields: Any) -> ApiSpec:
    spec: dict[str, Any] = {
        "name": "chat",
        "node_group": "pool",
        "compute": {"inf": inf, "cpu": "8", "mem": "64Gi"},
        "model": {"uri": "s3://models/llama/", **(LLAMA_8B if model is None else model)},
        "engine": {"kind": "vllm", "max_model_len": 8192, "max_num_seqs": 8},
        **fields,
    }
    return ApiSpec.model_validate(spec)


def codes(api: ApiSpec, node_group: NodeGroupSpec | None = None) -> dict[str, str]:
    """Code -> message of every coded problem of ``api`` (the scheduler extension on, so inf may be any count)."""
    found = check_api(api, node_group or group(), ("apis", 0), scheduler_extension=True)
    return {p.code: p.message for p in found if p.code is not None}


def config_problems(api: dict[str, Any], **top: Any) -> list[str]:
    data = {"node_groups": [{"name": "pool", "instance_types": ["inf2.48xlarge"], "disk_size": 200}], "apis": [api]}
    _, problems = parse_config({**data, **top})
    return [p.render() for p in problems]


def base(**fields: Any) -> dict[str, Any]:
    return {
        "name": "chat",
        "node_group": "pool",
        "compute": {"inf": 4},
        "model": {"uri": "s3://models/llama/", "size_gib": 16},
        "engine": {"max_model_len": 8192, "max_num_seqs": 8},
        **fields,
    }


# --- the spec ---------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("uri", "says"),
    [
        ("models/llama/", "must be an S3 URI"),
        ("s3://Models/llama/", "is not an S3 bucket name"),
        ("s3://my..models/llama/", "is not an S3 bucket name"),
        ("s3://192.168.1.10/llama/", "is not an S3 bucket name"),
        ("s3://models--x-s3/llama/", "reserves"),
        ("s3://models/", "names a whole bucket"),
        ("s3://models/llama", "did you mean 's3://models/llama/'"),
        ("s3://models/llama/*/", "may hold only"),
        ("s3://models/llama 3/", "may hold only"),
        ("s3://models/../other/", "may hold only"),
    ],
)
def test_model_uri_must_be_a_folder_of_a_general_purpose_bucket(uri: str, says: str) -> None:
    problems = config_problems(base(model={"uri": uri, "size_gib": 16}))
    assert any("apis[0].model.uri" in p and says in p for p in problems), problems


def test_a_valid_model_uri_and_compiled_uri_are_accepted() -> None:
    api = base(model={"uri": "s3://my-models.eu/llama-3.1_8b/v(1)/", "compiled_uri": "s3://cache/a/b/", "size_gib": 16})
    assert not [p for p in config_problems(api) if "model" in p and "warning" not in p]


def test_shape_fields_half_given_are_refused_naming_the_missing_ones() -> None:
    problems = config_problems(base(model={"uri": "s3://models/llama/", "size_gib": 16, "layers": 32, "heads": 32}))
    assert any("apis[0].model" in p and "give kv_heads, head_dim too" in p for p in problems), problems


def test_kv_heads_must_divide_heads() -> None:
    model = {"uri": "s3://models/llama/", "size_gib": 16, "layers": 32, "heads": 32, "kv_heads": 6, "head_dim": 128}
    assert any("kv_heads 6 must divide heads 32" in p for p in config_problems(base(model=model)))


@pytest.mark.parametrize(
    ("engine", "says"),
    [
        ({"max_model_len": "8192", "max_num_seqs": 8}, "max_model_len"),
        ({"max_model_len": 8192, "max_num_seqs": 0}, "max_num_seqs"),
        ({"max_model_len": 8192, "max_num_seqs": 2048}, "max_num_seqs"),
        ({"max_model_len": 8, "max_num_seqs": 8}, "max_model_len"),
        ({"kind": "tgi", "max_model_len": 8192, "max_num_seqs": 8}, "kind"),
    ],
)
def test_engine_fields_are_strict_and_bounded(engine: dict[str, Any], says: str) -> None:
    assert any(f"apis[0].engine.{says}" in p for p in config_problems(base(engine=engine)))


def test_image_is_required_without_an_engine_and_optional_with_one() -> None:
    plain = {"name": "plain", "node_group": "pool"}
    assert any("image is required" in p for p in config_problems(plain))
    assert not [p for p in config_problems(base()) if "image" in p]
    assert any("image is required" in p for p in config_problems({**plain, "image": None}))
    assert not [p for p in config_problems(base(image=None)) if "image" in p]


def test_engine_and_model_come_together() -> None:
    no_model = {k: v for k, v in base().items() if k != "model"}
    no_engine = {**{k: v for k, v in base().items() if k != "engine"}, "image": "example/app:1"}
    assert any("an engine needs a model" in p for p in config_problems(no_model))
    assert any("add engine" in p for p in config_problems(no_engine))


def test_engine_apis_probe_vllms_health_path_unless_told_otherwise() -> None:
    assert llm().health_path == "/health"
    assert llm(health_path="/ready").health_path == "/ready"


def test_engine_apis_scale_on_requests_when_exposed_and_on_neuroncores_otherwise() -> None:
    exposed, _ = parse_config(
        {
            "cluster": {"region": "us-east-1"},
            "node_groups": [{"name": "pool", "instance_types": ["inf2.48xlarge"], "disk_size": 200}],
            "endpoints": {},
            "apis": [base(autoscaling={"target": 2}), base(name="quiet", endpoint=False)],
        }
    )
    assert exposed is not None
    assert [a.autoscaling.metric for a in exposed.apis] == ["requests_per_replica", "neuroncore_utilization"]
    chosen = base(autoscaling={"metric": "cpu"})
    internal, _ = parse_config(
        {"node_groups": [{"name": "pool", "instance_types": ["inf2.48xlarge"]}], "apis": [chosen]}
    )
    assert internal is not None and internal.apis[0].autoscaling.metric == "cpu"


# --- the rules --------------------------------------------------------------------------------------------------------


def test_a_valid_8b_layout_has_no_problem() -> None:
    assert codes(llm(4)) == {}


def test_engine_needs_one_process_per_replica() -> None:
    assert "set it to 1" in codes(llm(4, processes_per_replica=2))["LLM401"]
    assert "LLM401" not in codes(llm(4))


def test_engine_needs_a_family_with_a_vllm_container() -> None:
    found = codes(llm(1), group("inf1.6xlarge"))
    assert "inf2, trn1, trn2" in found["LLM402"]
    assert "LLM402" not in codes(llm(1), group("trn1.32xlarge"))


def test_a_degree_that_does_not_divide_the_heads_names_the_degrees_that_work() -> None:
    message = codes(llm(3))["LLM403"]
    assert "degree 6" in message and "32 attention heads" in message
    assert "inf: 4 (degree 8) on inf2 (inf2.24xlarge, inf2.48xlarge)" in message
    assert "LLM403" not in codes(llm(2))


def test_kv_heads_that_neither_split_nor_replicate_are_refused_on_the_vllm_neuron_plugin() -> None:
    # 8 KV heads over trn2's 4 cores per chip: degree 12 (inf 3) neither divides 8 nor is a multiple of it.
    model = {"size_gib": 16, "layers": 32, "heads": 96, "kv_heads": 8, "head_dim": 128}
    found = codes(llm(3, model=model), group("trn2.48xlarge"))
    assert "inf: 2 (degree 8)" in found["LLM404"]
    assert "LLM404" not in codes(llm(2, model=model), group("trn2.48xlarge"))


def test_nxd_inference_converts_to_mha_with_a_warning_and_counts_the_larger_kv_cache() -> None:
    model = {"size_gib": 16, "layers": 32, "heads": 96, "kv_heads": 8, "head_dim": 128}
    warned = check_api(llm(6, model=model), group("inf2.48xlarge"), ("apis", 0), scheduler_extension=True)
    (mha,) = [p for p in warned if p.code == "LLM405"]
    assert mha.severity == "warning" and "8 per NeuronCore" in mha.message
    fit = plan_llm(llm(6, model=model), catalog.FAMILIES["inf2"], 600).memory
    assert fit.kv_cache_gib == pytest.approx(2 * 32 * 8 * 128 * 2 * 8192 * 8 / 2**30)


def test_a_model_too_large_for_its_degree_says_by_how_much_and_names_the_smallest_layout() -> None:
    message = codes(llm(1, model={**LLAMA_8B, "size_gib": 40}))["LLM406"]
    assert "8.09 GiB short" in message
    assert "the smallest layout that fits: inf: 2 (degree 4) on inf2" in message


def test_a_model_no_inf2_layout_holds_is_sent_to_another_family() -> None:
    message = codes(llm(8, model={**LLAMA_70B, "size_gib": 300}), group("inf2.48xlarge"))["LLM406"]
    assert "on trn1 (trn1.32xlarge" in message


def test_a_model_nothing_holds_says_so() -> None:
    message = codes(llm(8, model={**LLAMA_70B, "size_gib": 4000}))["LLM406"]
    assert "no layout of the catalog holds it" in message


def test_without_the_shape_only_the_weights_are_checked_and_a_warning_says_so() -> None:
    no_shape = llm(4, model={"size_gib": 16})
    found = check_api(no_shape, group(), ("apis", 0), scheduler_extension=True)
    (unchecked,) = [p for p in found if p.code == "LLM407"]
    assert unchecked.severity == "warning" and unchecked.path == ("apis", 0, "model")
    assert "LLM406" in codes(llm(1, model={"size_gib": 40}))
    assert "LLM407" not in codes(llm(4))


def test_little_headroom_warns() -> None:
    tight = llm(2, model={**LLAMA_8B, "size_gib": 50})
    assert "under 10%" in codes(tight)["LLM408"]
    assert "LLM408" not in codes(llm(4))


def test_env_may_not_set_what_the_engine_is_given() -> None:
    found = codes(llm(4, env={"NEURON_COMPILED_ARTIFACTS": "/x"}))
    assert "NEURON_COMPILED_ARTIFACTS" in found["LLM409"]


def test_a_disk_too_small_for_the_weights_cache_warns_with_the_size_to_ask_for() -> None:
    assert "raise its disk_size to 46" in codes(llm(4), group(disk_size=40))["LLM410"]
    assert "LLM410" not in codes(llm(4), group(disk_size=46))


def test_device_memory_per_core_and_runtime_reserve_follow_the_family() -> None:
    assert catalog.FAMILIES["inf2"].device_memory_gib_per_core == 16
    assert catalog.FAMILIES["trn2"].device_memory_gib_per_core == 24
    assert runtime_reserve_gib(catalog.FAMILIES["trn2"]) == pytest.approx(
        2 * runtime_reserve_gib(catalog.FAMILIES["inf2"])
    )


# --- start-up ---------------------------------------------------------------------------------------------------------


def test_the_startup_budget_grows_with_the_model_and_with_compiling_at_start() -> None:
    compiled = llm(4, model={**LLAMA_8B, "compiled_uri": "s3://models/llama-tp8/"})
    assert startup_budget_seconds(compiled) == DEFAULT_STARTUP_SECONDS + 16 * 30
    assert startup_budget_seconds(llm(4)) == DEFAULT_STARTUP_SECONDS + 16 * 90
    assert startup_budget_seconds(llm(4, model={**LLAMA_70B, "size_gib": 400})) == 3 * 3600
    assert startup_budget_seconds(llm(4, startup_timeout_seconds=900)) == 900
    assert startup_probe_failure_threshold(compiled) == (DEFAULT_STARTUP_SECONDS + 16 * 30) // 10


# --- rendering --------------------------------------------------------------------------------------------------------


def _objects(api: ApiSpec, node_group: NodeGroupSpec | None = None) -> dict[str, list[dict[str, Any]]]:
    by_kind: dict[str, list[dict[str, Any]]] = {}
    for obj in render_api(api, node_group or group(), region="eu-west-1"):
        by_kind.setdefault(obj["kind"], []).append(obj)
    return by_kind


def test_the_engine_pod_runs_vllm_with_the_degree_and_mounts_the_model_read_only() -> None:
    api = llm(4, model={**LLAMA_8B, "compiled_uri": "s3://cache/llama/tp8/"})
    objects = _objects(api)
    pod = objects["Deployment"][0]["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    assert container["image"] == versions.VLLM_NEURON_IMAGES["inf2"]
    assert container["command"] == ["vllm", "serve"]
    args = container["args"]
    assert args[args.index("--tensor-parallel-size") + 1] == "8"
    assert args[args.index("--max-model-len") + 1] == "8192"
    assert args[args.index("--served-model-name") + 1] == "chat"
    env = {e["name"]: e["value"] for e in container["env"]}
    assert env["NEURON_COMPILED_ARTIFACTS"] == "/models/compiled"
    assert env["VLLM_NEURON_FRAMEWORK"] == "neuronx-distributed-inference"
    mounts = {m["mountPath"]: m for m in container["volumeMounts"]}
    assert mounts["/models/weights"]["readOnly"] and mounts["/models/compiled"]["readOnly"]
    assert pod["serviceAccountName"] == "chat" and pod["automountServiceAccountToken"] is False
    assert container["startupProbe"]["httpGet"]["path"] == "/health"
    assert container["startupProbe"]["failureThreshold"] == startup_probe_failure_threshold(api)


def test_each_model_folder_is_a_read_only_mountpoint_volume_of_its_prefix_with_a_node_local_cache() -> None:
    objects = _objects(llm(4, model={**LLAMA_8B, "compiled_uri": "s3://cache/llama/tp8/"}))
    volumes = {pv["metadata"]["name"]: pv["spec"] for pv in objects["PersistentVolume"]}
    weights = volumes["inferentia-cdk-chat-model"]
    assert weights["accessModes"] == ["ReadOnlyMany"]
    assert {"read-only", "prefix llama/", "region eu-west-1"} <= set(weights["mountOptions"])
    attributes = weights["csi"]["volumeAttributes"]
    assert attributes == {
        "bucketName": "models",
        "authenticationSource": "pod",
        "cache": "emptyDir",
        "cacheEmptyDirSizeLimit": "16Gi",
    }
    assert "prefix llama/tp8/" in volumes["inferentia-cdk-chat-compiled"]["mountOptions"]
    claims = {c["metadata"]["name"]: c["spec"]["volumeName"] for c in objects["PersistentVolumeClaim"]}
    assert claims == {"model": "inferentia-cdk-chat-model", "compiled": "inferentia-cdk-chat-compiled"}


def test_the_vllm_neuron_plugin_gets_its_cache_root_and_the_compiled_artifacts_as_its_remote_tier() -> None:
    api = llm(2, model={**LLAMA_8B, "compiled_uri": "s3://cache/llama/tp8/"})
    container = _objects(api, group("trn2.48xlarge"))["Deployment"][0]["spec"]["template"]["spec"]["containers"][0]
    env = {e["name"]: e["value"] for e in container["env"]}
    assert container["image"] == versions.VLLM_NEURON_IMAGES["trn2"]
    assert env["NEURON_LIBTORCH_REMOTE_CACHE"] == "/models/compiled"
    assert "VLLM_NEURON_FRAMEWORK" not in env


def test_an_api_without_a_model_renders_no_storage() -> None:
    plain = ApiSpec(name="plain", node_group="pool", image="example/app:1")
    objects = _objects(plain)
    assert "PersistentVolume" not in objects and "ServiceAccount" not in objects
    assert "serviceAccountName" not in objects["Deployment"][0]["spec"]["template"]["spec"]


# --- plan -------------------------------------------------------------------------------------------------------------


def test_plan_shows_degree_memory_per_core_budget_and_s3_grants() -> None:
    out, err = StringIO(), StringIO()
    assert main(["plan", "--json", str(EXAMPLES / "llm.yaml")], out, err) == 0, err.getvalue()
    by_name = {api["name"]: api["llm"] for api in json.loads(out.getvalue())["apis"]}
    small, large = by_name["llama-8b"], by_name["llama-70b"]
    assert small["tensor_parallel_degree"] == 8 and large["tensor_parallel_degree"] == 32
    assert small["weights_gib_per_neuroncore"] == 2.0 and small["kv_cache_gib_per_neuroncore"] == 1.0
    assert large["device_memory_gib_per_neuroncore"] == 16.0 and large["headroom_gib_per_neuroncore"] > 10
    assert small["startup_budget_seconds"] == DEFAULT_STARTUP_SECONDS + 16 * 30
    assert small["s3_grants"][0].startswith("s3:ListBucket on example-models under llama-3.1-8b-instruct/")
    text = StringIO()
    assert main(["plan", str(EXAMPLES / "llm.yaml")], text, err) == 0
    assert "tensor-parallel degree 32" in text.getvalue() and "startup budget" in text.getvalue()


# --- what the example synthesizes -------------------------------------------------------------------------------------


def _resources(template: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [r["Properties"] for r in template["Resources"].values() if r["Type"] == kind]


def test_the_cluster_installs_the_mountpoint_add_on_only_when_an_api_names_a_model(
    llm_app: Synthesized, default_app: Synthesized
) -> None:
    def addons(app: Synthesized) -> list[str]:
        return [a["AddonName"] for a in _resources(app.template("Cluster"), "AWS::EKS::Addon")]

    assert versions.MOUNTPOINT_S3_CSI_ADDON in addons(llm_app)
    assert versions.MOUNTPOINT_S3_CSI_ADDON not in addons(default_app)


def test_each_api_may_read_only_its_model_prefixes(llm_app: Synthesized) -> None:
    template = llm_app.template("Apis")
    associations = _resources(template, "AWS::EKS::PodIdentityAssociation")
    assert {(a["Namespace"], a["ServiceAccount"]) for a in associations} == {
        ("llama-8b", "llama-8b"),
        ("llama-70b", "llama-70b"),
    }
    statements = [
        s for policy in _resources(template, "AWS::IAM::Policy") for s in policy["PolicyDocument"]["Statement"]
    ]
    assert {s["Action"] for s in statements} == {"s3:ListBucket", "s3:GetObject"}
    listed = [s["Condition"]["StringLike"]["s3:prefix"] for s in statements if s["Action"] == "s3:ListBucket"]
    assert all(isinstance(p, list) and all(x.startswith(("llama-", "compiled/")) for x in p) for p in listed)
    objects = json.dumps([s["Resource"] for s in statements if s["Action"] == "s3:GetObject"])
    assert "example-models/*" not in objects and "example-models/llama-3.3-70b-instruct/*" in objects


def test_the_example_pods_carry_the_degree_the_mounts_and_the_budget(llm_app: Synthesized) -> None:
    deployments = {o["metadata"]["name"]: o for o in llm_app.kubernetes_objects() if o["kind"] == "Deployment"}
    container = deployments["llama-70b"]["spec"]["template"]["spec"]["containers"][0]
    assert container["args"][container["args"].index("--tensor-parallel-size") + 1] == "32"
    assert {m["mountPath"] for m in container["volumeMounts"]} >= {"/models/weights", "/models/compiled"}
    assert container["startupProbe"]["failureThreshold"] == -(-(DEFAULT_STARTUP_SECONDS + 132 * 30) // 10)
    volumes = [o for o in llm_app.kubernetes_objects() if o["kind"] == "PersistentVolume"]
    assert {v["spec"]["csi"]["volumeAttributes"]["authenticationSource"] for v in volumes} == {"pod"}
