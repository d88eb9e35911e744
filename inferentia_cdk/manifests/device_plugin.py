"""The Neuron device plugin DaemonSet and its RBAC (after the official neuron-helm-chart), and every Neuron add-on
object of a cluster in apply order.

Sources, re-checked against the official Helm chart ``oci://public.ecr.aws/neuron/neuron-helm-chart``
(aws-neuron/neuron-helm-charts ``charts/neuron-helm-chart/templates``). Where we deviate from upstream (hardening,
requests, node placement) the code says why."""

from __future__ import annotations

from typing import Final

from ..catalog import versions
from ..config.models import DevicePluginSpec
from ..planning.capacity import DEVICE_PLUGIN_RESERVATION
from .neuron_monitor import monitor_objects
from .node_contract import neuron_node_affinity, neuron_node_tolerations
from .objects import (
    Manifest,
    cluster_role,
    cluster_role_binding,
    hardened_container_security,
    ingress_policy,
    metadata,
    pod_security,
    rbac_rule,
    reserved_resources,
    service_account,
)
from .scheduler import scheduler_extension_objects

DEVICE_PLUGIN_NAME: Final = "neuron-device-plugin"


def device_plugin_image(spec: DevicePluginSpec) -> str:
    return f"{versions.NEURON_DEVICE_PLUGIN_REPOSITORY}:{spec.version}"


def _device_plugin_daemonset(spec: DevicePluginSpec) -> Manifest:
    pod_labels = {"name": "neuron-device-plugin-ds", "app.kubernetes.io/name": DEVICE_PLUGIN_NAME}
    host_paths = [
        # kubelet's device-plugin directory: the plugin creates its gRPC socket here and registers with kubelet.
        ("device-plugin", "/var/lib/kubelet/device-plugins", False),
        # Spelled "infa-map" upstream; the plugin reads and writes runtime state of the Neuron driver under /run.
        ("infa-map", "/run", False),
        ("aws-config", "/opt/aws", True),
    ]
    return {
        "apiVersion": "apps/v1",
        "kind": "DaemonSet",
        "metadata": metadata(DEVICE_PLUGIN_NAME),
        "spec": {
            "selector": {"matchLabels": {"name": "neuron-device-plugin-ds"}},
            "updateStrategy": {"type": "RollingUpdate"},
            "template": {
                "metadata": {"labels": pod_labels},
                "spec": {
                    "serviceAccountName": DEVICE_PLUGIN_NAME,
                    # Without the plugin a Neuron node advertises no chips: it must never be preempted or evicted.
                    "priorityClassName": "system-node-critical",
                    "tolerations": neuron_node_tolerations(),
                    "affinity": neuron_node_affinity(),
                    "securityContext": pod_security(run_as_root=True),
                    "containers": [
                        {
                            "name": DEVICE_PLUGIN_NAME,
                            "image": device_plugin_image(spec),
                            # Always: a node's image cache never serves this pod an image its registry no longer has.
                            "imagePullPolicy": "Always",
                            "env": [
                                {"name": "KUBECONFIG", "value": "/etc/kubernetes/kubelet.conf"},
                                {"name": "NODE_NAME", "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}},
                            ],
                            # Root, because kubelet's device-plugins directory on the host is root-owned (0750) and
                            # the plugin must create its socket there; still no capabilities and no privilege.
                            "securityContext": hardened_container_security(run_as_root=True),
                            # Upstream sets none; requests keep the scheduler honest on small inf1.xlarge nodes.
                            "resources": reserved_resources(DEVICE_PLUGIN_RESERVATION, "500m", "256Mi"),
                            "volumeMounts": [
                                {"name": name, "mountPath": path, **({"readOnly": True} if read_only else {})}
                                for name, path, read_only in host_paths
                            ],
                        }
                    ],
                    "volumes": [
                        # No hostPath type check, as upstream: /opt/aws is absent on some AMIs and may stay empty.
                        {"name": name, "hostPath": {"path": path}}
                        for name, path, _ in host_paths
                    ],
                },
            },
        },
    }


def device_plugin_objects(spec: DevicePluginSpec) -> list[Manifest]:
    """ServiceAccount, ClusterRole, ClusterRoleBinding and DaemonSet of the Neuron device plugin."""
    return [
        service_account(DEVICE_PLUGIN_NAME),
        cluster_role(
            DEVICE_PLUGIN_NAME,
            [
                rbac_rule("", ["nodes"], ["get", "list", "watch"]),
                rbac_rule("", ["events"], ["create", "patch"]),
                rbac_rule("", ["pods"], ["update", "patch", "get", "list", "watch"]),
                rbac_rule("", ["nodes/status"], ["patch", "update"]),
                rbac_rule("", ["nodes/proxy"], ["get", "list"]),
            ],
        ),
        cluster_role_binding(DEVICE_PLUGIN_NAME, DEVICE_PLUGIN_NAME, DEVICE_PLUGIN_NAME),
        # Kubelet reaches the plugin over a unix socket; nothing needs to reach it over the network.
        ingress_policy(DEVICE_PLUGIN_NAME, {"name": "neuron-device-plugin-ds"}, []),
        _device_plugin_daemonset(spec),
    ]


def neuron_objects(spec: DevicePluginSpec, kubernetes_version: str) -> list[Manifest]:
    """Every Neuron object of a cluster, in apply order (accounts and RBAC before the workloads that use them)."""
    objects = device_plugin_objects(spec)
    if spec.scheduler_extension:
        objects += scheduler_extension_objects(spec, kubernetes_version)
    if spec.monitor:
        objects += monitor_objects()
    return objects
