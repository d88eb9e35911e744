"""InferentiaApi and InferentiaApisStack in synthesized templates.

The shape tests read ``full_app``, the session's synthesis of examples/full.yaml (tests/conftest.py). This module
synthesizes one more app, once: examples/full.yaml with one API changed, under the same stack names (so that its
cluster template can be compared byte for byte with full_app's), plus a copy of the stacks with no APIs.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from synth_support import Synthesized, _flatten, cli_context

from inferentia_cdk.config.models import InferentiaConfig
from inferentia_cdk.config.problems import ConfigError
from inferentia_cdk.planning.loader import load_config

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
KUBERNETES_RESOURCE = "Custom::AWSCDK-EKS-KubernetesResource"


@dataclass
class Synth:
    templates: dict[str, dict[str, Any]]
    """Templates by stack name: ``Inferentia*`` from examples/full.yaml itself (full_app), ``Changed*`` with one API
    changed under the same stack names, ``Empty*`` without APIs."""
    messages: dict[str, list[str]]
    config: InferentiaConfig


@pytest.fixture(scope="module")
def synth(full_app: Synthesized, tmp_path_factory: pytest.TempPathFactory) -> Synth:
    import aws_cdk as cdk

    from inferentia_cdk.stacks.app import build_app

    config = load_config(EXAMPLES / "full.yaml").config
    changed_api = config.apis[1].model_copy(update={"image": "public.ecr.aws/example/resnet50:2.4.0"})
    changed = config.model_copy(update={"apis": [config.apis[0], changed_api, *config.apis[2:]]})
    empty = config.model_copy(update={"apis": []})
    app = cdk.App(
        outdir=str(tmp_path_factory.mktemp("inferentia-api-cdk.out")), context=cli_context(EXAMPLES / "full.yaml")
    )
    # Same stack names, context and cdk-nag setting as full_app, so the cluster templates may be byte-identical.
    build_app(changed, app=app, nag=True)
    build_app(empty, app=app, nag=True, stack_prefix="Empty")
    assembly = app.synth()
    templates = {f"Changed{stack.stack_name.removeprefix('Inferentia')}": stack.template for stack in assembly.stacks}
    templates = {name.replace("ChangedEmpty", "Empty"): template for name, template in templates.items()}
    templates |= {f"Inferentia{suffix}": full_app.template(suffix) for suffix in ("Cluster", "Apis")}
    return Synth(
        templates=templates,
        messages={
            stack.stack_name: [f"{m.level}: {m.entry.data}" for m in stack.messages if m.level.name != "INFO"]
            for stack in assembly.stacks
        },
        config=config,
    )


def _manifests(template: dict[str, Any]) -> list[list[dict[str, Any]]]:
    return [
        json.loads(_flatten(resource["Properties"]["Manifest"]))
        for resource in template.get("Resources", {}).values()
        if resource["Type"] == KUBERNETES_RESOURCE
    ]


def _by_kind(objects: list[dict[str, Any]], kind: str) -> dict[str, Any]:
    (obj,) = [o for o in objects if o["kind"] == kind]
    return obj


def _probe_stack() -> tuple[Any, Any]:
    """A throwaway stack and an imported cluster (with a kubectl provider) to build constructs on, never synthesized."""
    import aws_cdk as cdk
    from aws_cdk import aws_eks_v2 as eks

    stack = cdk.Stack(cdk.App(), "Probe")
    provider = eks.KubectlProvider.from_kubectl_provider_attributes(
        stack, "Provider", service_token="arn:aws:lambda:us-east-1:111111111111:function:kubectl"
    )
    cluster = eks.Cluster.from_cluster_attributes(stack, "Cluster", cluster_name="probe", kubectl_provider=provider)
    return stack, cluster


def test_one_manifest_resource_per_api(synth: Synth) -> None:
    from aws_cdk.assertions import Template

    template = Template.from_json(synth.templates["InferentiaApis"])
    template.resource_count_is(KUBERNETES_RESOURCE, len(synth.config.apis))
    manifests = _manifests(synth.templates["InferentiaApis"])
    exposed = {api.name for api in synth.config.exposed_apis()}
    keda = ["TriggerAuthentication", "ScaledObject"]
    owners = {
        api.name: keda if api.autoscaling.metric != "cpu" else ["HorizontalPodAutoscaler"] for api in synth.config.apis
    }
    for objects in manifests:
        binding = ["TargetGroupBinding"] if objects[0]["metadata"]["name"] in exposed else []
        assert [o["kind"] for o in objects] == [
            "Namespace",
            "Deployment",
            "Service",
            *owners[objects[0]["metadata"]["name"]],
            "PodDisruptionBudget",
            "NetworkPolicy",
            *binding,
        ]
    assert sorted(objects[0]["metadata"]["name"] for objects in manifests) == [
        "bert-large",
        "resnet50",
        "text-embedder",
    ]


def test_pods_request_and_limit_chips_cpu_and_memory(synth: Synth) -> None:
    expected = {"cpu": "4", "memory": "12Gi", "aws.amazon.com/neuron": "2"}
    deployments = [_by_kind(objects, "Deployment") for objects in _manifests(synth.templates["InferentiaApis"])]
    (bert,) = [d for d in deployments if d["metadata"]["name"] == "bert-large"]
    (container,) = bert["spec"]["template"]["spec"]["containers"]
    assert container["resources"] == {"requests": expected, "limits": expected}


def test_pods_tolerate_the_taint_select_their_group_and_use_the_neuron_scheduler(synth: Synth) -> None:
    for objects in _manifests(synth.templates["InferentiaApis"]):
        pod = _by_kind(objects, "Deployment")["spec"]["template"]["spec"]
        name = objects[0]["metadata"]["name"]
        group = next(a.node_group for a in synth.config.apis if a.name == name)
        assert {"key": "aws.amazon.com/neuron", "operator": "Exists", "effect": "NoSchedule"} in pod["tolerations"]
        assert pod["nodeSelector"] == {"inferentia-cdk/node-group": group}
        assert pod["schedulerName"] == "my-scheduler"  # full.yaml turns the scheduler extension on


def test_pods_carry_the_ncg_layout_as_environment(synth: Synth) -> None:
    layouts = {}
    for objects in _manifests(synth.templates["InferentiaApis"]):
        container = _by_kind(objects, "Deployment")["spec"]["template"]["spec"]["containers"][0]
        layouts[objects[0]["metadata"]["name"]] = {e["name"]: e.get("value") for e in container["env"]}
    # bert-large: 2 inf1 chips = 8 cores over 4 processes; resnet50: 1 inf2 chip = 2 cores over 2 processes.
    assert layouts["bert-large"]["NEURON_RT_NUM_CORES"] == "2"
    # Runtime 1.x's variable: inf1 runs runtime 2.x too, and the variable has had no effect since Neuron 1.20.
    assert all("NEURONCORE_GROUP_SIZES" not in layout for layout in layouts.values())
    assert layouts["bert-large"]["INFERENTIA_PROCESSES_PER_REPLICA"] == "4"
    assert layouts["bert-large"]["INFERENTIA_THREADS_PER_PROCESS"] == "2"
    assert layouts["bert-large"]["MODEL_NAME"] == "bert-large-uncased"
    assert layouts["resnet50"]["NEURON_RT_NUM_CORES"] == "1"
    assert layouts["resnet50"]["INFERENTIA_PROCESSES_PER_REPLICA"] == "2"


def _pod(objects: list[dict[str, Any]]) -> dict[str, Any]:
    pod: dict[str, Any] = _by_kind(objects, "Deployment")["spec"]["template"]["spec"]
    return pod


def test_pods_get_writable_tmp_var_tmp_home_and_shm_under_a_read_only_root(synth: Synth) -> None:
    for objects in _manifests(synth.templates["InferentiaApis"]):
        pod = _pod(objects)
        (container,) = pod["containers"]
        assert container["securityContext"]["readOnlyRootFilesystem"] is True
        volumes = {v["name"]: v["emptyDir"] for v in pod["volumes"]}
        mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
        # The Neuron compiler caches under /var/tmp/neuron-compile-cache by default.
        assert set(mounts) == {"/tmp", "/var/tmp", "/home/inference", "/dev/shm"}
        assert set(mounts.values()) == set(volumes)
        env = {e["name"]: e["value"] for e in container["env"]}
        assert env["HOME"] == "/home/inference"
        assert volumes[mounts["/dev/shm"]]["medium"] == "Memory"
        assert all("medium" not in volumes[mounts[path]] for path in ("/tmp", "/var/tmp", "/home/inference"))


def test_shm_holds_at_most_half_the_replicas_memory_which_it_counts_against(synth: Synth) -> None:
    limits = {}
    for objects in _manifests(synth.templates["InferentiaApis"]):
        pod = _pod(objects)
        (shm,) = [v["emptyDir"] for v in pod["volumes"] if v["emptyDir"].get("medium") == "Memory"]
        limits[objects[0]["metadata"]["name"]] = (shm["sizeLimit"], pod["containers"][0]["resources"]["limits"])
    assert limits["bert-large"][0] == "6144Mi" and limits["bert-large"][1]["memory"] == "12Gi"
    assert limits["resnet50"][0] == "4096Mi" and limits["resnet50"][1]["memory"] == "8Gi"


def test_shm_of_a_token_memory_is_the_memory_limit_itself(synth: Synth) -> None:
    from inferentia_cdk.manifests.api import shm_size_limit

    def with_memory(mem: str) -> Any:
        spec = synth.config.apis[1]
        return spec.model_copy(update={"compute": spec.compute.model_copy(update={"mem": mem})})

    token = "${Token[TOKEN.123]}"
    assert shm_size_limit(with_memory(token)) == token
    assert shm_size_limit(with_memory("6G")) == "2861Mi"  # 6e9 bytes = 5722.0 MiB


def test_an_apis_own_home_replaces_ours(synth: Synth) -> None:
    from inferentia_cdk.manifests.api import render_api

    spec = synth.config.apis[1].model_copy(update={"env": {"HOME": "/models"}})
    node_group = synth.config.node_group(spec.node_group)
    assert node_group is not None
    (container,) = _pod(render_api(spec, node_group))["containers"]
    assert [e["value"] for e in container["env"] if e["name"] == "HOME"] == ["/models"]


# Pod Security Standards, "restricted" (kubernetes.io/docs/concepts/security/pod-security-standards), baseline included.
_RESTRICTED_VOLUME_TYPES = {
    "configMap",
    "csi",
    "downwardAPI",
    "emptyDir",
    "ephemeral",
    "persistentVolumeClaim",
    "projected",
    "secret",
}


def _restricted_violations(pod: dict[str, Any]) -> list[str]:
    found = [f"pod.{key}" for key in ("hostNetwork", "hostPID", "hostIPC") if pod.get(key)]
    for volume in pod.get("volumes", []):
        found += [f"volume {volume['name']}: {t}" for t in set(volume) - {"name"} - _RESTRICTED_VOLUME_TYPES]
    pod_context = pod.get("securityContext", {})
    containers = pod["containers"] + pod.get("initContainers", [])
    for container in containers:
        name, context = container["name"], container.get("securityContext", {})
        if context.get("privileged"):
            found.append(f"{name}: privileged")
        if context.get("allowPrivilegeEscalation") is not False:
            found.append(f"{name}: allowPrivilegeEscalation is not false")
        capabilities = context.get("capabilities", {})
        if "ALL" not in capabilities.get("drop", []) or set(capabilities.get("add", [])) - {"NET_BIND_SERVICE"}:
            found.append(f"{name}: capabilities")
        if not context.get("runAsNonRoot", pod_context.get("runAsNonRoot")):
            found.append(f"{name}: runAsNonRoot")
        if context.get("runAsUser", pod_context.get("runAsUser")) == 0:
            found.append(f"{name}: runAsUser 0")
        seccomp = context.get("seccompProfile", pod_context.get("seccompProfile", {}))
        if seccomp.get("type") not in ("RuntimeDefault", "Localhost"):
            found.append(f"{name}: seccompProfile")
        if any(port.get("hostPort") for port in container.get("ports", [])):
            found.append(f"{name}: hostPort")
        if context.get("procMount", "Default") != "Default":
            found.append(f"{name}: procMount")
    if pod_context.get("sysctls"):
        found.append("pod: sysctls")
    return found


def test_api_namespaces_enforce_the_restricted_pod_security_standard_that_their_pods_meet(synth: Synth) -> None:
    for objects in _manifests(synth.templates["InferentiaApis"]):
        namespace = _by_kind(objects, "Namespace")
        assert namespace["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"
        assert _restricted_violations(_pod(objects)) == []


def test_the_restricted_check_catches_what_restricted_admission_rejects(synth: Synth) -> None:
    pod = _pod(_manifests(synth.templates["InferentiaApis"])[0])
    broken = json.loads(json.dumps(pod))
    broken["volumes"].append({"name": "host", "hostPath": {"path": "/var/run"}})
    broken["containers"][0]["securityContext"]["capabilities"] = {"drop": ["ALL"], "add": ["SYS_ADMIN"]}
    del broken["containers"][0]["securityContext"]["runAsNonRoot"]
    del broken["securityContext"]["runAsNonRoot"]
    assert _restricted_violations(broken) == ["volume host: hostPath", "api: capabilities", "api: runAsNonRoot"]


def test_every_rendered_object_passes_kubernetes_validate(synth: Synth) -> None:
    from crd_schemas import validate_kubernetes_object

    for objects in _manifests(synth.templates["InferentiaApis"]):
        for obj in objects:
            validate_kubernetes_object(obj, synth.config.cluster.kubernetes_version)


def test_changing_an_api_leaves_the_cluster_template_byte_identical(synth: Synth) -> None:
    assert json.dumps(synth.templates["InferentiaApis"]) != json.dumps(synth.templates["ChangedApis"])
    assert json.dumps(synth.templates["InferentiaCluster"]) == json.dumps(synth.templates["ChangedCluster"])


def test_api_manifests_reach_the_cluster_without_exports(synth: Synth) -> None:
    # Weak references: the cluster stack publishes outputs, the APIs stack reads them; no Export/ImportValue pair
    # that would lock the cluster stack while APIs exist.
    assert "Fn::ImportValue" not in json.dumps(synth.templates["InferentiaApis"])
    assert "Fn::GetStackOutput" in json.dumps(synth.templates["InferentiaApis"])


def test_an_app_without_apis_synthesizes_an_empty_apis_stack_without_warnings(synth: Synth) -> None:
    assert not _manifests(synth.templates["EmptyApis"])
    assert synth.messages["EmptyApis"] == []
    assert synth.messages["InferentiaApis"] == []


def _facts(synth: Synth, *, scheduler_extension: bool) -> Any:
    from inferentia_cdk.planning.cluster_facts import NeuronClusterFacts

    facts = NeuronClusterFacts.of(synth.config)
    return dataclasses.replace(facts, scheduler_extension=scheduler_extension)


def test_construct_raises_every_error_before_creating_anything(synth: Synth) -> None:
    from inferentia_cdk.constructs.inferentia_api import InferentiaApi

    stack, cluster = _probe_stack()
    spec = synth.config.apis[0].model_copy(update={"processes_per_replica": 3, "compiled_neuroncores": 16})
    with pytest.raises(ConfigError) as caught:
        InferentiaApi(stack, "Api", cluster=cluster, spec=spec, facts=_facts(synth, scheduler_extension=False))
    found = {(p.location, p.code) for p in caught.value.problems}
    assert ("apis.bert-large.processes_per_replica", "NCG001") in found
    # 2 of 4 chips, and the cluster runs no scheduler extension
    assert ("apis.bert-large.compute.inf", "NCG004") in found
    assert stack.node.try_find_child("Api") is None


def test_construct_exposes_sizing_objects_and_warnings(synth: Synth) -> None:
    from aws_cdk import aws_eks_v2 as eks

    from inferentia_cdk.constructs.inferentia_api import InferentiaApi

    stack, cluster = _probe_stack()
    # On its own, without an endpoint: scaling on NeuronCores (requests per replica would need the target group).
    bert = synth.config.apis[0]
    on_cores = bert.autoscaling.model_copy(update={"metric": "neuroncore_utilization", "target": None})
    spec = bert.model_copy(update={"processes_per_replica": 1, "compiled_neuroncores": 2, "autoscaling": on_cores})
    created = InferentiaApi(stack, "Api", cluster=cluster, spec=spec, facts=_facts(synth, scheduler_extension=True))
    assert created.sizing.ncg_size == 8
    assert created.namespace == "bert-large"
    assert [w.path for w in created.warnings] == [("apis", "bert-large", "compiled_neuroncores")]
    annotations = [entry for entry in created.node.metadata if entry.type == "aws:cdk:warning"]
    assert len(annotations) == 1
    assert "[ack: inferentia-cdk:compiled_neuroncores]" in str(annotations[0].data)
    quiet = InferentiaApi(
        stack,
        "Quiet",
        cluster=cluster,
        spec=spec.model_copy(update={"name": "quiet"}),
        facts=_facts(synth, scheduler_extension=True),
        acknowledge={"NCG003": "compiled for one core on purpose"},
    )
    assert quiet.warnings == () and [a.problem.code for a in quiet.acknowledged] == ["NCG003"]
    assert [entry for entry in quiet.node.metadata if entry.type == "aws:cdk:warning"] == []
    # The manifest itself, no construct node in between: one jsii create per API, as a hand-written app makes.
    assert isinstance(created, eks.KubernetesManifest) and created.manifest is created
    resource = created.node.find_child("Resource").node.default_child
    assert resource.cfn_resource_type == "Custom::AWSCDK-EKS-KubernetesResource"
    assert _jsii_overrides(created) == []  # nothing Node calls back into Python for
    assert len(created.objects) == 7  # the CPU HPA's place taken by a TriggerAuthentication and a ScaledObject


def _jsii_overrides(construct: Any) -> list[Any]:
    """The members jsii registers as overridden in Python: each would be a call from Node into Python."""
    from jsii._kernel import _get_overides

    return _get_overides(type(construct), construct)


def test_construct_rejects_a_node_group_the_cluster_lacks(synth: Synth) -> None:
    from inferentia_cdk.constructs.inferentia_api import InferentiaApi

    stack, cluster = _probe_stack()
    spec = synth.config.apis[0].model_copy(update={"node_group": "inf9-none"})
    facts = _facts(synth, scheduler_extension=True)
    with pytest.raises(ConfigError) as caught:
        InferentiaApi(stack, "Api", cluster=cluster, spec=spec, facts=facts)
    (problem,) = caught.value.problems
    assert problem.code == "API007"
    assert problem.path == ("apis", "bert-large", "node_group")
    assert all(name in problem.message for name in facts.node_group_names)
    assert stack.node.try_find_child("Api") is None


def test_construct_refuses_requests_per_replica_without_a_target_group(synth: Synth) -> None:
    from inferentia_cdk.constructs.inferentia_api import InferentiaApi

    stack, cluster = _probe_stack()
    spec = synth.config.apis[0]
    assert spec.autoscaling.metric == "requests_per_replica"
    with pytest.raises(ConfigError, match=r"apis\.bert-large\.autoscaling\.metric: .*\[SCL005\]"):
        InferentiaApi(stack, "Api", cluster=cluster, spec=spec, facts=_facts(synth, scheduler_extension=True))
    assert stack.node.try_find_child("Api") is None
