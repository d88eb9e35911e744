"""Kubernetes objects for Neuron capacity, rendered from typed Python: the device plugin, the optional scheduler
extension and neuron-monitor, and the labels, taint and Cluster Autoscaler node-template tags of Neuron node groups.

Pure (no CDK import) so that every object is testable with kubernetes-validate and checkov without starting jsii.

Sources, re-checked against the official Helm chart ``oci://public.ecr.aws/neuron/neuron-helm-chart``
(aws-neuron/neuron-helm-charts ``charts/neuron-helm-chart/templates``): device-plugin DaemonSet and RBAC,
scheduler extender and ``my-scheduler`` with its KubeSchedulerConfiguration; neuron-monitor from aws-neuron-sdk
``src/k8/k8s-neuron-monitor-daemonset.yml``. Where we deviate from upstream (hardening, requests, node placement) the
code says why.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, Final

from .. import catalog
from ..catalog import versions
from ..config.models import DevicePluginSpec
from ..planning.capacity import DEVICE_PLUGIN_RESERVATION, NEURON_MONITOR_RESERVATION, NodeGroupCapacity, Reservation

Manifest = dict[str, Any]
"""One Kubernetes object as the JSON-compatible dict that ``KubernetesManifest`` applies."""

NAMESPACE: Final = "kube-system"
NEURON_RESOURCE: Final = "aws.amazon.com/neuron"
"""Extended resource the device plugin advertises: whole Neuron chips of a node."""
NEURONCORE_RESOURCE: Final = "aws.amazon.com/neuroncore"
"""Extended resource the device plugin advertises: NeuronCores of a node."""
NEURON_LABEL: Final = "aws.amazon.com/neuron"
NODE_GROUP_LABEL: Final = "inferentia-cdk/node-group"
"""Label naming a node's Neuron node group; API pods select their group with it."""
NEURON_TAINT_KEY: Final = "aws.amazon.com/neuron"
NEURON_TAINT_VALUE: Final = "true"
NEURON_TAINT_EFFECT: Final = "NoSchedule"
SYSTEM_NODE_LABEL: Final = "inferentia-cdk/role"
SYSTEM_NODE_VALUE: Final = "system"
"""Label of the cluster stack's system node group, where add-ons (schedulers, Cluster Autoscaler) run."""

SCHEDULER_NAME: Final = "my-scheduler"
"""``spec.schedulerName`` of pods that need contiguous Neuron allocation (scheduler extension on)."""
EXTENDER_NAME: Final = "k8s-neuron-scheduler"
EXTENDER_PORT: Final = 12345
MONITOR_NAME: Final = "neuron-monitor"
MONITOR_PORT: Final = 8000
DEVICE_PLUGIN_NAME: Final = "neuron-device-plugin"

# Fargate, EKS hybrid nodes and EKS Auto Mode nodes never run this plugin (Auto Mode brings its own).
_EXCLUDED_COMPUTE_TYPES: Final = ("fargate", "hybrid", "auto")

# The tag prefix from which Cluster Autoscaler's AWS provider reads what a node of a group with no nodes yet would
# offer (kubernetes/autoscaler cluster-autoscaler/cloudprovider/aws/README.md, "Auto-Discovery Setup").
NODE_TEMPLATE_TAG_PREFIX: Final = "k8s.io/cluster-autoscaler/node-template"
AUTOSCALER_ENABLED_TAG: Final = "k8s.io/cluster-autoscaler/enabled"


def autoscaler_owner_tag(cluster_name: str) -> str:
    """The discovery tag key that ties an Auto Scaling group to one cluster's Cluster Autoscaler."""
    return f"k8s.io/cluster-autoscaler/{cluster_name}"


# --- Neuron node groups ---------------------------------------------------------------------------------------------


def node_labels(group_name: str) -> dict[str, str]:
    """Labels of every node of a Neuron node group."""
    return {NEURON_LABEL: "true", NODE_GROUP_LABEL: group_name}


def neuron_toleration() -> Manifest:
    """The toleration a pod needs to run on Neuron nodes."""
    return {"key": NEURON_TAINT_KEY, "operator": "Exists", "effect": NEURON_TAINT_EFFECT}


def discovery_tags(cluster_name: str) -> dict[str, str]:
    """Tags by which Cluster Autoscaler finds the Auto Scaling groups it may scale (``--node-group-auto-discovery``),
    and on which its IAM write permissions are conditioned. EKS puts them on the Auto Scaling group of every managed
    node group (EKS User Guide, "Simplify node lifecycle with managed node groups")."""
    return {AUTOSCALER_ENABLED_TAG: "true", autoscaler_owner_tag(cluster_name): "owned"}


def node_template_tags(capacity: NodeGroupCapacity) -> dict[str, str]:
    """Tags of a Neuron managed node group that let Cluster Autoscaler scale it up from zero nodes.

    With no node to look at, the autoscaler knows only the instance type's CPU and memory, and would believe a new
    node offers no ``aws.amazon.com/neuron``, so that no pending Neuron pod fits it. For a managed node group, Cluster
    Autoscaler 1.24+ calls ``eks:DescribeNodegroup`` and takes the group's own labels and taints, and since 1.28 these
    resource tags of the node group (kubernetes/autoscaler cloudprovider/aws/managed_nodegroup_cache.go and
    aws_manager.go ``buildNodeFromTemplate``); labels and taints therefore need no tags. The counts are per node,
    the smallest over the group's instance types (what every new node is sure to have).
    """
    return {
        f"{NODE_TEMPLATE_TAG_PREFIX}/resources/{NEURON_RESOURCE}": str(capacity.chips_per_node),
        f"{NODE_TEMPLATE_TAG_PREFIX}/resources/{NEURONCORE_RESOURCE}": str(capacity.neuroncores_per_node),
    }


# --- shared building blocks -----------------------------------------------------------------------------------------


def _metadata(name: str, *, namespaced: bool = True, labels: Mapping[str, str] | None = None) -> Manifest:
    meta: Manifest = {"name": name, "labels": {"app.kubernetes.io/name": name, "app.kubernetes.io/part-of": "neuron"}}
    if labels:
        meta["labels"].update(labels)
    if namespaced:
        meta["namespace"] = NAMESPACE
    return meta


def _service_account(name: str) -> Manifest:
    return {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": _metadata(name)}


def _rule(api_group: str, resources: list[str], verbs: list[str], names: list[str] | None = None) -> Manifest:
    rule: Manifest = {"apiGroups": [api_group], "resources": resources, "verbs": verbs}
    if names:
        rule["resourceNames"] = names
    return rule


def _cluster_role(name: str, rules: list[Manifest]) -> Manifest:
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRole",
        "metadata": _metadata(name, namespaced=False),
        "rules": rules,
    }


def _cluster_role_binding(name: str, role: str, service_account: str) -> Manifest:
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRoleBinding",
        "metadata": _metadata(name, namespaced=False),
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": role},
        "subjects": [{"kind": "ServiceAccount", "name": service_account, "namespace": NAMESPACE}],
    }


def _reserved_resources(reservation: Reservation, cpu_limit: str, memory_limit: str) -> Manifest:
    """Requests equal to what capacity.py reserves on every Neuron node for this DaemonSet."""
    return _resources(f"{reservation.cpu_millicores}m", f"{reservation.memory_mib}Mi", cpu_limit, memory_limit)


def _resources(cpu_request: str, memory_request: str, cpu_limit: str, memory_limit: str) -> Manifest:
    return {
        "requests": {"cpu": cpu_request, "memory": memory_request},
        "limits": {"cpu": cpu_limit, "memory": memory_limit},
    }


def _hardened_container_security(*, run_as_root: bool = False) -> Manifest:
    """Container securityContext: no privilege escalation, no capabilities, read-only root, default seccomp."""
    context: Manifest = {
        "allowPrivilegeEscalation": False,
        "capabilities": {"drop": ["ALL"]},
        "readOnlyRootFilesystem": True,
        "seccompProfile": {"type": "RuntimeDefault"},
    }
    if run_as_root:
        context.update(runAsNonRoot=False, runAsUser=0)
    else:
        # 65534 (nobody): a UID above 10000 cannot collide with a host user that owns files on the node.
        context.update(runAsNonRoot=True, runAsUser=65534, runAsGroup=65534)
    return context


def _pod_security(*, run_as_root: bool = False) -> Manifest:
    context: Manifest = {"seccompProfile": {"type": "RuntimeDefault"}}
    if not run_as_root:
        context.update(runAsNonRoot=True, runAsUser=65534, runAsGroup=65534, fsGroup=65534)
    return context


def _system_node_selector() -> dict[str, str]:
    return {SYSTEM_NODE_LABEL: SYSTEM_NODE_VALUE, "kubernetes.io/os": "linux"}


def _neuron_node_affinity() -> Manifest:
    """Only nodes of a Neuron instance type, and never Fargate, hybrid or Auto Mode nodes.

    Without it the device plugin crash-loops on ordinary nodes (eksctl issue 2329). The list is the whole catalog,
    so one DaemonSet serves every Neuron node group of the cluster.
    """
    return {
        "nodeAffinity": {
            "requiredDuringSchedulingIgnoredDuringExecution": {
                "nodeSelectorTerms": [
                    {
                        "matchExpressions": [
                            {
                                "key": "node.kubernetes.io/instance-type",
                                "operator": "In",
                                "values": list(catalog.NEURON_INSTANCE_TYPE_NAMES),
                            },
                            {
                                "key": "eks.amazonaws.com/compute-type",
                                "operator": "NotIn",
                                "values": list(_EXCLUDED_COMPUTE_TYPES),
                            },
                        ]
                    }
                ]
            }
        }
    }


def _neuron_node_tolerations() -> list[Manifest]:
    return [{"key": "CriticalAddonsOnly", "operator": "Exists"}, neuron_toleration()]


def ingress_policy(
    name: str, pod_labels: Mapping[str, str], ports: list[int], *, from_pods: Mapping[str, str] | None = None
) -> Manifest:
    """A NetworkPolicy that admits traffic to ``pod_labels`` pods only on ``ports`` (none: no ingress at all),
    optionally only from pods with ``from_pods`` labels in the same namespace. Egress stays open: every one of these
    pods calls the Kubernetes API. Enforced where the CNI enforces policies (VPC CNI with network policy on)."""
    spec: Manifest = {"podSelector": {"matchLabels": dict(pod_labels)}, "policyTypes": ["Ingress"]}
    if ports:
        rule: Manifest = {"ports": [{"protocol": "TCP", "port": port} for port in ports]}
        if from_pods is not None:
            rule["from"] = [{"podSelector": {"matchLabels": dict(from_pods)}}]
        spec["ingress"] = [rule]
    return {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy", "metadata": _metadata(name), "spec": spec}


def _tcp_probe(port: int, initial_delay: int) -> Manifest:
    return {"tcpSocket": {"port": port}, "initialDelaySeconds": initial_delay, "periodSeconds": 10}


# --- device plugin --------------------------------------------------------------------------------------------------


def device_plugin_image(spec: DevicePluginSpec) -> str:
    return f"{versions.NEURON_DEVICE_PLUGIN_REPOSITORY}:{spec.version}"


def scheduler_extender_image(spec: DevicePluginSpec) -> str:
    """The extender ships with the same release number as the device plugin (neuron-helm-charts values)."""
    return f"{versions.NEURON_SCHEDULER_REPOSITORY}:{spec.version}"


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
        "metadata": _metadata(DEVICE_PLUGIN_NAME),
        "spec": {
            "selector": {"matchLabels": {"name": "neuron-device-plugin-ds"}},
            "updateStrategy": {"type": "RollingUpdate"},
            "template": {
                "metadata": {"labels": pod_labels},
                "spec": {
                    "serviceAccountName": DEVICE_PLUGIN_NAME,
                    # Without the plugin a Neuron node advertises no chips: it must never be preempted or evicted.
                    "priorityClassName": "system-node-critical",
                    "tolerations": _neuron_node_tolerations(),
                    "affinity": _neuron_node_affinity(),
                    "securityContext": _pod_security(run_as_root=True),
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
                            "securityContext": _hardened_container_security(run_as_root=True),
                            # Upstream sets none; requests keep the scheduler honest on small inf1.xlarge nodes.
                            "resources": _reserved_resources(DEVICE_PLUGIN_RESERVATION, "500m", "256Mi"),
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
        _service_account(DEVICE_PLUGIN_NAME),
        _cluster_role(
            DEVICE_PLUGIN_NAME,
            [
                _rule("", ["nodes"], ["get", "list", "watch"]),
                _rule("", ["events"], ["create", "patch"]),
                _rule("", ["pods"], ["update", "patch", "get", "list", "watch"]),
                _rule("", ["nodes/status"], ["patch", "update"]),
                _rule("", ["nodes/proxy"], ["get", "list"]),
            ],
        ),
        _cluster_role_binding(DEVICE_PLUGIN_NAME, DEVICE_PLUGIN_NAME, DEVICE_PLUGIN_NAME),
        # Kubelet reaches the plugin over a unix socket; nothing needs to reach it over the network.
        ingress_policy(DEVICE_PLUGIN_NAME, {"name": "neuron-device-plugin-ds"}, []),
        _device_plugin_daemonset(spec),
    ]


# --- scheduler extension --------------------------------------------------------------------------------------------


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


def _tmp_volume() -> tuple[Manifest, Manifest]:
    """A small writable /tmp for a container whose root filesystem is read-only."""
    return (
        {"name": "tmp", "emptyDir": {"sizeLimit": "64Mi"}},
        {"name": "tmp", "mountPath": "/tmp"},
    )


def _extender_objects(spec: DevicePluginSpec) -> list[Manifest]:
    labels = {"app.kubernetes.io/name": EXTENDER_NAME}
    tmp_volume, tmp_mount = _tmp_volume()
    deployment: Manifest = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": _metadata(EXTENDER_NAME),
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
                    "nodeSelector": _system_node_selector(),
                    "securityContext": _pod_security(),
                    "containers": [
                        {
                            "name": "neuron-scheduler-exp",
                            "image": scheduler_extender_image(spec),
                            "imagePullPolicy": "Always",
                            "env": [{"name": "PORT", "value": str(EXTENDER_PORT)}],
                            "ports": [{"name": "http", "containerPort": EXTENDER_PORT, "protocol": "TCP"}],
                            "securityContext": _hardened_container_security(),
                            "resources": _resources("50m", "64Mi", "500m", "256Mi"),
                            # Upstream has no health endpoint; an open port is the one signal the extender gives.
                            "readinessProbe": _tcp_probe(EXTENDER_PORT, 5),
                            "livenessProbe": _tcp_probe(EXTENDER_PORT, 15),
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
        "metadata": _metadata(EXTENDER_NAME),
        "spec": {
            "type": "ClusterIP",
            "selector": labels,
            "ports": [{"name": "http", "port": EXTENDER_PORT, "targetPort": EXTENDER_PORT, "protocol": "TCP"}],
        },
    }
    return [
        _service_account(EXTENDER_NAME),
        _cluster_role(
            EXTENDER_NAME,
            [
                _rule("", ["nodes"], ["get", "list", "watch"]),
                _rule("", ["nodes/status"], ["get", "patch", "update", "list", "watch"]),
                _rule("", ["events"], ["create", "patch"]),
                _rule("", ["pods"], ["get", "patch", "update", "list", "watch"]),
                _rule("", ["bindings", "pods/binding"], ["create"]),
            ],
        ),
        _cluster_role_binding(EXTENDER_NAME, EXTENDER_NAME, EXTENDER_NAME),
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
    tmp_volume, tmp_mount = _tmp_volume()
    health = {"httpGet": {"path": "/healthz", "port": _SCHEDULER_SECURE_PORT, "scheme": "HTTPS"}}
    deployment: Manifest = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": _metadata(SCHEDULER_NAME, labels=labels),
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": {**labels, "version": "second"}},
                "spec": {
                    "serviceAccountName": SCHEDULER_NAME,
                    "priorityClassName": "system-cluster-critical",
                    "nodeSelector": _system_node_selector(),
                    "securityContext": _pod_security(),
                    "containers": [
                        {
                            "name": "kube-second-scheduler",
                            # kube-scheduler of the cluster's own minor version (versions.KUBE_SCHEDULER_IMAGES).
                            "image": versions.KUBE_SCHEDULER_IMAGES[kubernetes_version],
                            "imagePullPolicy": "Always",
                            "command": ["/usr/local/bin/kube-scheduler"],
                            "args": [f"--config={config_dir}/{config_key}", "--v=2"],
                            "securityContext": _hardened_container_security(),
                            "resources": _resources("100m", "128Mi", "1", "512Mi"),
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
        "metadata": _metadata("my-scheduler-config"),
        # JSON is YAML: kube-scheduler reads this file as YAML.
        "data": {config_key: json.dumps(scheduler_config(), indent=2, sort_keys=True)},
    }
    return [
        _service_account(SCHEDULER_NAME),
        _cluster_role(
            SCHEDULER_NAME,
            [
                _rule("", ["configmaps"], ["get", "list", "watch"]),
                _rule("coordination.k8s.io", ["leases"], ["create", "get", "list", "update"]),
            ],
        ),
        # The built-in roles grant what kube-scheduler needs, except its own leader-election lease and config.
        _cluster_role_binding("my-scheduler-as-kube-scheduler", "system:kube-scheduler", SCHEDULER_NAME),
        _cluster_role_binding("my-scheduler-as-volume-scheduler", "system:volume-scheduler", SCHEDULER_NAME),
        _cluster_role_binding(SCHEDULER_NAME, SCHEDULER_NAME, SCHEDULER_NAME),
        # Its secure port serves health checks and metrics; nothing else listens.
        ingress_policy(SCHEDULER_NAME, labels, [_SCHEDULER_SECURE_PORT]),
        config_map,
        deployment,
    ]


def scheduler_extension_objects(spec: DevicePluginSpec, kubernetes_version: str) -> list[Manifest]:
    """The Neuron scheduler extender and the second scheduler ``my-scheduler`` that consults it."""
    return _extender_objects(spec) + _second_scheduler_objects(kubernetes_version)


# --- neuron-monitor -------------------------------------------------------------------------------------------------


def monitor_objects() -> list[Manifest]:
    """neuron-monitor on every Neuron node, and a headless Service whose endpoints Prometheus scrapes."""
    labels = {"app.kubernetes.io/name": MONITOR_NAME}
    tmp_volume, tmp_mount = _tmp_volume()
    daemonset: Manifest = {
        "apiVersion": "apps/v1",
        "kind": "DaemonSet",
        "metadata": _metadata(MONITOR_NAME),
        "spec": {
            "selector": {"matchLabels": labels},
            "updateStrategy": {"type": "RollingUpdate"},
            "template": {
                "metadata": {"labels": labels},
                "spec": {
                    # It reads hardware counters only; it never talks to the Kubernetes API.
                    "automountServiceAccountToken": False,
                    "tolerations": _neuron_node_tolerations(),
                    "affinity": _neuron_node_affinity(),
                    "securityContext": _pod_security(run_as_root=True),
                    "containers": [
                        {
                            "name": MONITOR_NAME,
                            "image": versions.NEURON_MONITOR_IMAGE,
                            "imagePullPolicy": "Always",
                            # neuron-monitor writes JSON reports to stdout; the exporter shipped in the same image
                            # turns them into Prometheus metrics (the command AWS workshops run with image 1.3.0;
                            # /opt/bin/entrypoint.sh of the aws-neuron-sdk manifest belongs to image 1.0.0).
                            "command": ["/bin/sh", "-c"],
                            "args": [f"neuron-monitor | neuron-monitor-prometheus.py --port {MONITOR_PORT}"],
                            "env": [{"name": "GOMEMLIMIT", "value": "160MiB"}],
                            "ports": [{"name": "metrics", "containerPort": MONITOR_PORT, "protocol": "TCP"}],
                            # Privileged, as upstream: neuron-monitor reads the Neuron devices under /dev, which an
                            # unprivileged container does not see.
                            "securityContext": {
                                "privileged": True,
                                "readOnlyRootFilesystem": True,
                                "seccompProfile": {"type": "RuntimeDefault"},
                            },
                            "resources": _reserved_resources(NEURON_MONITOR_RESERVATION, "500m", "256Mi"),
                            "readinessProbe": _tcp_probe(MONITOR_PORT, 10),
                            "livenessProbe": {**_tcp_probe(MONITOR_PORT, 60), "failureThreshold": 5},
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
        "metadata": {
            **_metadata(MONITOR_NAME),
            # Annotation-based discovery (prometheus kubernetes_sd examples); a ServiceMonitor needs the operator.
            "annotations": {
                "prometheus.io/scrape": "true",
                "prometheus.io/port": str(MONITOR_PORT),
                "prometheus.io/path": "/metrics",
            },
        },
        "spec": {
            # Headless: Prometheus scrapes each node's pod, not one pod behind a virtual IP.
            "clusterIP": "None",
            "selector": labels,
            "ports": [{"name": "metrics", "port": MONITOR_PORT, "targetPort": MONITOR_PORT, "protocol": "TCP"}],
        },
    }
    # Prometheus may run in any namespace, so the metrics port is open to all; nothing else is.
    return [ingress_policy(MONITOR_NAME, labels, [MONITOR_PORT]), daemonset, service]


def neuron_objects(spec: DevicePluginSpec, kubernetes_version: str) -> list[Manifest]:
    """Every Neuron object of a cluster, in apply order (accounts and RBAC before the workloads that use them)."""
    objects = device_plugin_objects(spec)
    if spec.scheduler_extension:
        objects += scheduler_extension_objects(spec, kubernetes_version)
    if spec.monitor:
        objects += monitor_objects()
    return objects
