"""InferentiaApi and InferentiaApisStack in synthesized templates.

The shape tests read ``full_app``, the session's synthesis of examples/full.yaml (tests/conftest.py). This module
synthesizes one more app, once: examples/full.yaml with one API changed, under the same stack names (so that its
cluster template can be compared byte for byte with full_app's), plus a copy of the stacks with no APIs.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from synth_support import Synthesized, _flatten

from inferentia_cdk.core.loader import load_config
from inferentia_cdk.spec.models import InferentiaConfig
from inferentia_cdk.spec.problems import ConfigError

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
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
    app = cdk.App(outdir=str(tmp_path_factory.mktemp("inferentia-api-cdk.out")))
    # Same stack names and the same cdk-nag setting as full_app, so the cluster templates may be byte-identical.
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
    assert layouts["bert-large"]["NEURONCORE_GROUP_SIZES"] == "2"
    assert layouts["bert-large"]["NEURON_RT_NUM_CORES"] == "2"
    assert layouts["bert-large"]["INFERENTIA_PROCESSES_PER_REPLICA"] == "4"
    assert layouts["bert-large"]["INFERENTIA_THREADS_PER_PROCESS"] == "2"
    assert layouts["bert-large"]["MODEL_NAME"] == "bert-large-uncased"
    assert layouts["resnet50"]["NEURON_RT_NUM_CORES"] == "1"
    assert layouts["resnet50"]["INFERENTIA_PROCESSES_PER_REPLICA"] == "2"


def test_every_rendered_object_passes_kubernetes_validate(synth: Synth) -> None:
    import jsonschema
    import kubernetes_validate
    from crd_schemas import CRD_SCHEMAS

    for objects in _manifests(synth.templates["InferentiaApis"]):
        for obj in objects:
            crd_schema = CRD_SCHEMAS.get((obj["apiVersion"], obj["kind"]))
            if crd_schema is not None:
                jsonschema.validate(obj, crd_schema)
            else:
                kubernetes_validate.validate(obj, synth.config.cluster.kubernetes_version, strict=True)


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


def test_construct_raises_every_error_before_creating_anything(synth: Synth) -> None:
    from inferentia_cdk.constructs.inferentia_api import InferentiaApi

    stack, cluster = _probe_stack()
    spec = synth.config.apis[0].model_copy(update={"processes_per_replica": 3, "compiled_neuroncores": 16})
    node_group = synth.config.node_group(spec.node_group)
    assert node_group is not None
    with pytest.raises(ConfigError) as caught:
        InferentiaApi(stack, "Api", cluster=cluster, spec=spec, node_group=node_group)
    rendered = str(caught.value)
    assert "apis.bert-large.processes_per_replica" in rendered
    assert "valid processes_per_replica: 1, 2, 4, 8" in rendered
    assert "apis.bert-large.compute.inf" in rendered  # 2 of 4 chips, and scheduler_extension defaults to False
    assert stack.node.try_find_child("Api") is None


def test_construct_exposes_sizing_objects_and_warnings(synth: Synth) -> None:
    from inferentia_cdk.constructs.inferentia_api import InferentiaApi

    stack, cluster = _probe_stack()
    # On its own, without an endpoint: scaling on NeuronCores (requests per replica would need the target group).
    bert = synth.config.apis[0]
    on_cores = bert.autoscaling.model_copy(update={"metric": "neuroncore_utilization", "target": None})
    spec = bert.model_copy(update={"processes_per_replica": 1, "compiled_neuroncores": 2, "autoscaling": on_cores})
    node_group = synth.config.node_group(spec.node_group)
    assert node_group is not None
    created = InferentiaApi(stack, "Api", cluster=cluster, spec=spec, node_group=node_group, scheduler_extension=True)
    assert created.sizing.ncg_size == 8
    assert created.namespace == "bert-large"
    assert [w.path for w in created.warnings] == [("apis", "bert-large", "compiled_neuroncores")]
    annotations = [entry for entry in created.node.metadata if entry.type == "aws:cdk:warning"]
    assert len(annotations) == 1
    assert "[ack: inferentia-cdk:compiled_neuroncores]" in str(annotations[0].data)
    assert created.node.find_child("Resource") is created.manifest
    assert len(created.objects) == 7  # the CPU HPA's place taken by a TriggerAuthentication and a ScaledObject


def test_construct_rejects_a_node_group_other_than_the_one_named(synth: Synth) -> None:
    from inferentia_cdk.constructs.inferentia_api import InferentiaApi

    stack, cluster = _probe_stack()
    spec, other = synth.config.apis[0], synth.config.node_groups[1]
    with pytest.raises(ValueError, match="inf2-spot"):
        InferentiaApi(stack, "Api", cluster=cluster, spec=spec, node_group=other)


def test_construct_refuses_requests_per_replica_without_a_target_group(synth: Synth) -> None:
    from inferentia_cdk.constructs.inferentia_api import InferentiaApi

    stack, cluster = _probe_stack()
    spec = synth.config.apis[0]
    assert spec.autoscaling.metric == "requests_per_replica"
    node_group = synth.config.node_group(spec.node_group)
    assert node_group is not None
    with pytest.raises(ConfigError, match=r"apis\.bert-large\.autoscaling\.metric: .*RequestCountPerTarget"):
        InferentiaApi(stack, "Api", cluster=cluster, spec=spec, node_group=node_group, scheduler_extension=True)
    assert stack.node.try_find_child("Api") is None
