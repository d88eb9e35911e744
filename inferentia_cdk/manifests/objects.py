"""Building blocks shared by the renderers: metadata, RBAC, resources, hardened security contexts, probes and
NetworkPolicies, so every DaemonSet and Deployment we ship is hardened the same way."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from ..config.namespaces import SYSTEM_NAMESPACE
from ..planning.capacity import Reservation

Manifest = dict[str, Any]
"""One Kubernetes object as the JSON-compatible dict that ``KubernetesManifest`` applies."""

NAMESPACE: Final = SYSTEM_NAMESPACE
SYSTEM_NODE_LABEL: Final = "inferentia-cdk/role"
SYSTEM_NODE_VALUE: Final = "system"
"""Label of the cluster stack's system node group, where add-ons (schedulers, Cluster Autoscaler) run."""


def metadata(name: str, *, namespaced: bool = True, labels: Mapping[str, str] | None = None) -> Manifest:
    meta: Manifest = {"name": name, "labels": {"app.kubernetes.io/name": name, "app.kubernetes.io/part-of": "neuron"}}
    if labels:
        meta["labels"].update(labels)
    if namespaced:
        meta["namespace"] = NAMESPACE
    return meta


def service_account(name: str) -> Manifest:
    return {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": metadata(name)}


def rbac_rule(api_group: str, resources: list[str], verbs: list[str], names: list[str] | None = None) -> Manifest:
    rule: Manifest = {"apiGroups": [api_group], "resources": resources, "verbs": verbs}
    if names:
        rule["resourceNames"] = names
    return rule


def cluster_role(name: str, rules: list[Manifest]) -> Manifest:
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRole",
        "metadata": metadata(name, namespaced=False),
        "rules": rules,
    }


def cluster_role_binding(name: str, role: str, service_account: str) -> Manifest:
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRoleBinding",
        "metadata": metadata(name, namespaced=False),
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": role},
        "subjects": [{"kind": "ServiceAccount", "name": service_account, "namespace": NAMESPACE}],
    }


def reserved_resources(reservation: Reservation, cpu_limit: str, memory_limit: str) -> Manifest:
    """Requests equal to what capacity.py reserves on every Neuron node for this DaemonSet."""
    return resources(f"{reservation.cpu_millicores}m", f"{reservation.memory_mib}Mi", cpu_limit, memory_limit)


def resources(cpu_request: str, memory_request: str, cpu_limit: str, memory_limit: str) -> Manifest:
    return {
        "requests": {"cpu": cpu_request, "memory": memory_request},
        "limits": {"cpu": cpu_limit, "memory": memory_limit},
    }


def hardened_container_security(*, run_as_root: bool = False) -> Manifest:
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


def pod_security(*, run_as_root: bool = False) -> Manifest:
    context: Manifest = {"seccompProfile": {"type": "RuntimeDefault"}}
    if not run_as_root:
        context.update(runAsNonRoot=True, runAsUser=65534, runAsGroup=65534, fsGroup=65534)
    return context


def system_node_selector() -> dict[str, str]:
    return {SYSTEM_NODE_LABEL: SYSTEM_NODE_VALUE, "kubernetes.io/os": "linux"}


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
    return {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy", "metadata": metadata(name), "spec": spec}


def tcp_probe(port: int, initial_delay: int) -> Manifest:
    return {"tcpSocket": {"port": port}, "initialDelaySeconds": initial_delay, "periodSeconds": 10}


def tmp_volume_and_mount() -> tuple[Manifest, Manifest]:
    """A small writable /tmp for a container whose root filesystem is read-only."""
    return (
        {"name": "tmp", "emptyDir": {"sizeLimit": "64Mi"}},
        {"name": "tmp", "mountPath": "/tmp"},
    )
