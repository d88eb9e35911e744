"""The Neuron scheduler extension: the extender, which picks contiguous chips and cores, and a second
kube-scheduler (``my-scheduler``) that consults it (after the official neuron-helm-chart)."""

from __future__ import annotations

import json
from typing import Final

from ..catalog import versions
from ..config.models import DevicePluginSpec
from .node_contract import NEURON_RESOURCE, NEURONCORE_RESOURCE
from .objects import (
    NAMESPACE,
    Manifest,
    cluster_role,
    cluster_role_binding,
    hardened_container_security,
    ingress_policy,
    metadata,
    pod_security,
    rbac_rule,
    resources,
    service_account,
    system_node_selector,
    tcp_probe,
    tmp_volume_and_mount,
)

SCHEDULER_NAME: Final = "my-scheduler"
"""``spec.schedulerName`` of pods that need contiguous Neuron allocation (scheduler extension on)."""
EXTENDER_NAME: Final = "k8s-neuron-scheduler"
EXTENDER_PORT: Final = 12345


def scheduler_extender_image(spec: DevicePluginSpec) -> str:
    """The extender ships with the same release number as the device plugin (neuron-helm-charts values)."""
    return f"{versions.NEURON_SCHEDULER_REPOSITORY}:{spec.version}"


def scheduler_config() -> Manifest:
    """KubeSchedulerConfiguration of ``my-scheduler``: the default plugins plus the Neuron extender, which picks
    contiguous chips and cores for pods that ask for Neuron resources."""
    return {
        "apiVersion": "kubescheduler.config.k8s.io/v1",
        "kind": "KubeSchedulerConfiguration",
        "profiles": [{"schedulerName": SCHEDULER_NAME}],
        "extenders": [
            {
                "urlPrefix": f"http://{EXTENDER_NAME}.{NAMESPACE}.svc.cluster.local:{EXTENDER_PORT}",
                "filterVerb": "filter",
                "bindVerb": "bind",
                "enableHTTPS": False,
                "nodeCacheCapable": False,
                "managedResources": [
                    {"name": NEURON_RESOURCE, "ignoredByScheduler": False},
                    {"name": NEURONCORE_RESOURCE, "ignoredByScheduler": False},
                ],
                "ignorable": False,
            }
        ],
        "leaderElection": {"leaderElect": True, "resourceNamespace": NAMESPACE, "resourceName": SCHEDULER_NAME},
    }


def _extender_objects(spec: DevicePluginSpec) -> list[Manifest]:
    labels = {"app.kubernetes.io/name": EXTENDER_NAME}
    tmp_volume, tmp_mount = tmp_volume_and_mount()
    deployment: Manifest = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": metadata(EXTENDER_NAME),
        "spec": {
            "replicas": 1,
            # Recreate, as upstream: two extenders would hand out the same cores.
            "strategy": {"type": "Recreate"},
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {
                    "serviceAccountName": EXTENDER_NAME,
                    "priorityClassName": "system-cluster-critical",
                    # Upstream schedules the extender with my-scheduler itself; the default scheduler places it on
                    # system nodes just as well and leaves no start-up order between the two.
                    "nodeSelector": system_node_selector(),
                    "securityContext": pod_security(),
                    "containers": [
                        {
                            "name": "neuron-scheduler-exp",
                            "image": scheduler_extender_image(spec),
                            "imagePullPolicy": "Always",
                            "env": [{"name": "PORT", "value": str(EXTENDER_PORT)}],
                            "ports": [{"name": "http", "containerPort": EXTENDER_PORT, "protocol": "TCP"}],
                            "securityContext": hardened_container_security(),
                            "resources": resources("50m", "64Mi", "500m", "256Mi"),
                            # Upstream has no health endpoint; an open port is the one signal the extender gives.
                            "readinessProbe": tcp_probe(EXTENDER_PORT, 5),
                            "livenessProbe": tcp_probe(EXTENDER_PORT, 15),
                            "volumeMounts": [tmp_mount],
                        }
                    ],
                    "volumes": [tmp_volume],
                },
            },
        },
    }
    service: Manifest = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": metadata(EXTENDER_NAME),
        "spec": {
            "type": "ClusterIP",
            "selector": labels,
            "ports": [{"name": "http", "port": EXTENDER_PORT, "targetPort": EXTENDER_PORT, "protocol": "TCP"}],
        },
    }
    return [
        service_account(EXTENDER_NAME),
        cluster_role(
            EXTENDER_NAME,
            [
                rbac_rule("", ["nodes"], ["get", "list", "watch"]),
                rbac_rule("", ["nodes/status"], ["get", "patch", "update", "list", "watch"]),
                rbac_rule("", ["events"], ["create", "patch"]),
                rbac_rule("", ["pods"], ["get", "patch", "update", "list", "watch"]),
                rbac_rule("", ["bindings", "pods/binding"], ["create"]),
            ],
        ),
        cluster_role_binding(EXTENDER_NAME, EXTENDER_NAME, EXTENDER_NAME),
        # Only the second scheduler calls the extender.
        ingress_policy(EXTENDER_NAME, labels, [EXTENDER_PORT], from_pods=_SCHEDULER_LABELS),
        deployment,
        service,
    ]


_SCHEDULER_LABELS: Final = {"component": SCHEDULER_NAME, "tier": "control-plane"}
_SCHEDULER_SECURE_PORT: Final = 10259


def _second_scheduler_objects(kubernetes_version: str) -> list[Manifest]:
    labels = _SCHEDULER_LABELS
    config_key = "my-scheduler-config.yaml"
    config_dir = "/etc/kubernetes/my-scheduler"
    tmp_volume, tmp_mount = tmp_volume_and_mount()
    health = {"httpGet": {"path": "/healthz", "port": _SCHEDULER_SECURE_PORT, "scheme": "HTTPS"}}
    deployment: Manifest = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": metadata(SCHEDULER_NAME, labels=labels),
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": {**labels, "version": "second"}},
                "spec": {
                    "serviceAccountName": SCHEDULER_NAME,
                    "priorityClassName": "system-cluster-critical",
                    "nodeSelector": system_node_selector(),
                    "securityContext": pod_security(),
                    "containers": [
                        {
                            "name": "kube-second-scheduler",
                            # kube-scheduler of the cluster's own minor version (versions.KUBE_SCHEDULER_IMAGES).
                            "image": versions.KUBE_SCHEDULER_IMAGES[kubernetes_version],
                            "imagePullPolicy": "Always",
                            "command": ["/usr/local/bin/kube-scheduler"],
                            "args": [f"--config={config_dir}/{config_key}", "--v=2"],
                            "securityContext": hardened_container_security(),
                            "resources": resources("100m", "128Mi", "1", "512Mi"),
                            "livenessProbe": {**health, "initialDelaySeconds": 15},
                            "readinessProbe": health,
                            "volumeMounts": [
                                {"name": "config-volume", "mountPath": config_dir, "readOnly": True},
                                tmp_mount,
                            ],
                        }
                    ],
                    "volumes": [{"name": "config-volume", "configMap": {"name": "my-scheduler-config"}}, tmp_volume],
                },
            },
        },
    }
    config_map: Manifest = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": metadata("my-scheduler-config"),
        # JSON is YAML: kube-scheduler reads this file as YAML.
        "data": {config_key: json.dumps(scheduler_config(), indent=2, sort_keys=True)},
    }
    return [
        service_account(SCHEDULER_NAME),
        cluster_role(
            SCHEDULER_NAME,
            [
                rbac_rule("", ["configmaps"], ["get", "list", "watch"]),
                rbac_rule("coordination.k8s.io", ["leases"], ["create", "get", "list", "update"]),
            ],
        ),
        # The built-in roles grant what kube-scheduler needs, except its own leader-election lease and config.
        cluster_role_binding("my-scheduler-as-kube-scheduler", "system:kube-scheduler", SCHEDULER_NAME),
        cluster_role_binding("my-scheduler-as-volume-scheduler", "system:volume-scheduler", SCHEDULER_NAME),
        cluster_role_binding(SCHEDULER_NAME, SCHEDULER_NAME, SCHEDULER_NAME),
        # Its secure port serves health checks and metrics; nothing else listens.
        ingress_policy(SCHEDULER_NAME, labels, [_SCHEDULER_SECURE_PORT]),
        config_map,
        deployment,
    ]


def scheduler_extension_objects(spec: DevicePluginSpec, kubernetes_version: str) -> list[Manifest]:
    """The Neuron scheduler extender and the second scheduler ``my-scheduler`` that consults it."""
    return _extender_objects(spec) + _second_scheduler_objects(kubernetes_version)
