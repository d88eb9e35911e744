"""NeuronDevicePlugin: the rendered objects (pure, no jsii), one plugin per cluster, and the synthesized apps."""

from __future__ import annotations

import itertools
import json
from typing import Any

import kubernetes_validate
import pytest
from pydantic import ValidationError
from synth_support import Synthesized

from inferentia_cdk import catalog
from inferentia_cdk.catalog import versions
from inferentia_cdk.config.models import DevicePluginSpec
from inferentia_cdk.manifests import device_plugin
from inferentia_cdk.manifests.scheduler import SCHEDULER_NAME

COMBINATIONS = list(itertools.product([False, True], [False, True], versions.KUBERNETES_VERSIONS))


def _render(scheduler_extension: bool = False, monitor: bool = False, version: str = "1.36") -> list[dict[str, Any]]:
    spec = DevicePluginSpec(scheduler_extension=scheduler_extension, monitor=monitor)
    return device_plugin.neuron_objects(spec, version)


def _find(objects: list[dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
    (found,) = [o for o in objects if o["kind"] == kind and o["metadata"]["name"] == name]
    return found


def _pod_spec(workload: dict[str, Any]) -> dict[str, Any]:
    spec: dict[str, Any] = workload["spec"]["template"]["spec"]
    return spec


def _workloads(objects: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [o for o in objects if o["kind"] in ("DaemonSet", "Deployment")]


# --- validity and shape -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("scheduler_extension", "monitor", "version"), COMBINATIONS)
def test_every_object_is_valid_for_the_cluster_version(scheduler_extension: bool, monitor: bool, version: str) -> None:
    objects = _render(scheduler_extension, monitor, version)
    for obj in objects:
        kubernetes_validate.validate(obj, version, strict=True)
    kinds = {(o["kind"], o["metadata"]["name"]) for o in objects}
    assert (("Deployment", "my-scheduler") in kinds) is scheduler_extension
    assert (("Deployment", "k8s-neuron-scheduler") in kinds) is scheduler_extension
    assert (("DaemonSet", "neuron-monitor") in kinds) is monitor
    assert len(kinds) == len(objects), "object names are unique per kind"


def test_plugin_has_service_account_and_rbac_from_the_chart() -> None:
    objects = _render()
    assert _find(objects, "ServiceAccount", "neuron-device-plugin")["metadata"]["namespace"] == "kube-system"
    role = _find(objects, "ClusterRole", "neuron-device-plugin")
    rules = {(r["resources"][0], tuple(r["verbs"])) for r in role["rules"]}
    assert ("nodes", ("get", "list", "watch")) in rules
    assert ("events", ("create", "patch")) in rules
    assert ("pods", ("update", "patch", "get", "list", "watch")) in rules
    assert ("nodes/status", ("patch", "update")) in rules
    binding = _find(objects, "ClusterRoleBinding", "neuron-device-plugin")
    assert binding["roleRef"]["name"] == "neuron-device-plugin"
    assert binding["subjects"] == [
        {"kind": "ServiceAccount", "name": "neuron-device-plugin", "namespace": "kube-system"}
    ]
    daemonset = _find(objects, "DaemonSet", "neuron-device-plugin")
    assert _pod_spec(daemonset)["serviceAccountName"] == "neuron-device-plugin"


def test_plugin_image_is_the_pinned_public_tag_from_config() -> None:
    spec = DevicePluginSpec(version="2.32.0.0")
    daemonset = _find(device_plugin.device_plugin_objects(spec), "DaemonSet", "neuron-device-plugin")
    (container,) = _pod_spec(daemonset)["containers"]
    assert container["image"] == "public.ecr.aws/neuron/neuron-device-plugin:2.32.0.0"
    default = _find(_render(), "DaemonSet", "neuron-device-plugin")
    assert _pod_spec(default)["containers"][0]["image"].endswith(":" + versions.NEURON_DEVICE_PLUGIN_VERSION)


def test_latest_is_never_accepted() -> None:
    with pytest.raises(ValidationError) as raised:
        DevicePluginSpec(version="latest")
    assert [error["type"] for error in raised.value.errors()] == ["CLU006"]
    assert "never 'latest'" in str(raised.value)


def test_plugin_pod_matches_the_chart() -> None:
    pod = _pod_spec(_find(_render(), "DaemonSet", "neuron-device-plugin"))
    (container,) = pod["containers"]
    assert pod["priorityClassName"] == "system-node-critical"
    assert {"key": "CriticalAddonsOnly", "operator": "Exists"} in pod["tolerations"]
    assert {"key": "aws.amazon.com/neuron", "operator": "Exists", "effect": "NoSchedule"} in pod["tolerations"]
    env = {e["name"]: e for e in container["env"]}
    assert env["KUBECONFIG"]["value"] == "/etc/kubernetes/kubelet.conf"
    assert env["NODE_NAME"]["valueFrom"] == {"fieldRef": {"fieldPath": "spec.nodeName"}}
    mounts = {m["mountPath"]: m.get("readOnly", False) for m in container["volumeMounts"]}
    assert mounts == {"/var/lib/kubelet/device-plugins": False, "/run": False, "/opt/aws": True}
    host_paths = {v["hostPath"]["path"] for v in pod["volumes"]}
    assert host_paths == {"/var/lib/kubelet/device-plugins", "/run", "/opt/aws"}
    assert container["resources"]["requests"] and container["resources"]["limits"]


def test_node_affinity_lists_every_catalog_type_and_excludes_fargate_hybrid_auto() -> None:
    for name in ("neuron-device-plugin", "neuron-monitor"):
        pod = _pod_spec(_find(_render(monitor=True), "DaemonSet", name))
        (term,) = pod["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]["nodeSelectorTerms"]
        expressions = {e["key"]: e for e in term["matchExpressions"]}
        instance_types = expressions["node.kubernetes.io/instance-type"]
        assert instance_types["operator"] == "In"
        assert instance_types["values"] == list(catalog.NEURON_INSTANCE_TYPE_NAMES)
        compute = expressions["eks.amazonaws.com/compute-type"]
        assert (compute["operator"], compute["values"]) == ("NotIn", ["fargate", "hybrid", "auto"])


# --- hardening --------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("scheduler_extension", "monitor"), [(True, True)])
def test_every_container_is_hardened(scheduler_extension: bool, monitor: bool) -> None:
    for workload in _workloads(_render(scheduler_extension, monitor)):
        pod = _pod_spec(workload)
        assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
        for container in pod["containers"]:
            context = container["securityContext"]
            where = f"{workload['kind']}/{workload['metadata']['name']}"
            assert context["readOnlyRootFilesystem"] is True, where
            assert container["resources"]["limits"] and container["resources"]["requests"], where
            assert ":latest" not in container["image"] and ":" in container["image"], where
            if workload["metadata"]["name"] == "neuron-monitor":
                # Upstream runs it privileged to read the Neuron devices; the one exception, checked here.
                assert context["privileged"] is True
                continue
            assert context["allowPrivilegeEscalation"] is False, where
            assert context["capabilities"] == {"drop": ["ALL"]}, where
            assert context.get("privileged", False) is False, where
            if workload["metadata"]["name"] != "neuron-device-plugin":
                assert context["runAsNonRoot"] is True and context["runAsUser"] >= 10000, where
                assert "livenessProbe" in container and "readinessProbe" in container, where


def test_every_pod_has_a_network_policy() -> None:
    objects = _render(True, True)
    policies = [o["spec"]["podSelector"]["matchLabels"] for o in objects if o["kind"] == "NetworkPolicy"]
    for workload in _workloads(objects):
        labels = workload["spec"]["template"]["metadata"]["labels"]
        assert any(selector.items() <= labels.items() for selector in policies), workload["metadata"]["name"]
    plugin_policy = _find(objects, "NetworkPolicy", "neuron-device-plugin")
    assert "ingress" not in plugin_policy["spec"], "nothing reaches the plugin over the network"


# --- scheduler extension and monitor ----------------------------------------------------------------------------------


@pytest.mark.parametrize("version", versions.KUBERNETES_VERSIONS)
def test_second_scheduler_uses_the_clusters_kube_scheduler_and_the_extender(version: str) -> None:
    objects = _render(scheduler_extension=True, version=version)
    scheduler = _pod_spec(_find(objects, "Deployment", "my-scheduler"))
    assert scheduler["containers"][0]["image"] == versions.KUBE_SCHEDULER_IMAGES[version]
    assert scheduler["nodeSelector"]["inferentia-cdk/role"] == "system"
    config_map = _find(objects, "ConfigMap", "my-scheduler-config")
    config = json.loads(config_map["data"]["my-scheduler-config.yaml"])
    assert config["kind"] == "KubeSchedulerConfiguration"
    assert config["profiles"] == [{"schedulerName": SCHEDULER_NAME}]
    (extender,) = config["extenders"]
    service = _find(objects, "Service", "k8s-neuron-scheduler")
    (port,) = service["spec"]["ports"]
    assert extender["urlPrefix"] == f"http://k8s-neuron-scheduler.kube-system.svc.cluster.local:{port['port']}"
    assert port["port"] == 12345
    assert {r["name"] for r in extender["managedResources"]} == {"aws.amazon.com/neuron", "aws.amazon.com/neuroncore"}
    mount = scheduler["containers"][0]["volumeMounts"][0]["mountPath"]
    assert f"--config={mount}/my-scheduler-config.yaml" in scheduler["containers"][0]["args"]
    extender_pod = _pod_spec(_find(objects, "Deployment", "k8s-neuron-scheduler"))
    assert extender_pod["containers"][0]["image"].startswith("public.ecr.aws/neuron/neuron-scheduler:")
    assert extender_pod["nodeSelector"]["inferentia-cdk/role"] == "system"
    bindings = {o["roleRef"]["name"] for o in objects if o["kind"] == "ClusterRoleBinding"}
    assert {"system:kube-scheduler", "system:volume-scheduler", "my-scheduler", "k8s-neuron-scheduler"} <= bindings


def test_monitor_runs_on_neuron_nodes_behind_a_scrapable_service() -> None:
    objects = _render(monitor=True)
    daemonset = _find(objects, "DaemonSet", "neuron-monitor")
    pod = _pod_spec(daemonset)
    assert pod["containers"][0]["image"] == versions.NEURON_MONITOR_IMAGE
    assert {"key": "aws.amazon.com/neuron", "operator": "Exists", "effect": "NoSchedule"} in pod["tolerations"]
    assert pod["automountServiceAccountToken"] is False
    service = _find(objects, "Service", "neuron-monitor")
    assert service["metadata"]["annotations"]["prometheus.io/scrape"] == "true"
    assert service["spec"]["selector"] == daemonset["spec"]["selector"]["matchLabels"]
    assert service["spec"]["ports"][0]["targetPort"] == pod["containers"][0]["ports"][0]["containerPort"]


# --- one plugin per cluster -------------------------------------------------------------------------------------------


def test_of_returns_one_plugin_per_cluster() -> None:
    import aws_cdk as cdk
    from aws_cdk import aws_eks_v2 as eks
    from aws_cdk.lambda_layer_kubectl_v36 import KubectlV36Layer

    from inferentia_cdk.constructs.neuron_device_plugin import NeuronDevicePlugin

    stack = cdk.Stack(cdk.App(), "PluginStack")
    cluster = eks.Cluster(
        stack,
        "Cluster",
        version=eks.KubernetesVersion.V1_36,
        default_capacity_type=eks.DefaultCapacityType.NODEGROUP,
        default_capacity=0,
        kubectl_provider_options=eks.KubectlProviderOptions(kubectl_layer=KubectlV36Layer(stack, "Kubectl")),
    )
    first = NeuronDevicePlugin.of(cluster)
    assert NeuronDevicePlugin.of(cluster) is first
    assert first.node.scope is stack
    assert first.manifest.node.id == "Resource"
    with pytest.raises(ValueError, match="one plugin"):
        NeuronDevicePlugin.of(cluster, spec=DevicePluginSpec(monitor=True))


def test_default_app_has_exactly_one_plugin_daemonset_with_its_account_and_rbac(default_app: Synthesized) -> None:
    objects = default_app.kubernetes_objects()
    daemonsets = [o for o in objects if o["kind"] == "DaemonSet"]
    assert len(daemonsets) == 1
    (container,) = _pod_spec(daemonsets[0])["containers"]
    assert container["image"].startswith("public.ecr.aws/neuron/neuron-device-plugin:")
    for kind in ("ServiceAccount", "ClusterRole", "ClusterRoleBinding"):
        _find(objects, kind, "neuron-device-plugin")


def test_two_node_groups_still_give_one_plugin(full_app: Synthesized) -> None:
    assert len(full_app.stacks["cluster"].config.node_groups) >= 2
    names = [o["metadata"]["name"] for o in full_app.kubernetes_objects() if o["kind"] == "DaemonSet"]
    assert names.count("neuron-device-plugin") == 1


def test_aws_cdk_libs_stale_plugin_is_nowhere(any_app: Synthesized) -> None:
    for template in any_app.templates.values():
        assert "790709498068" not in json.dumps(template)
        assert "neuron-device-plugin:1.0.9043.0" not in json.dumps(template)
