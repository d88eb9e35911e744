"""Cluster Autoscaler's Kubernetes objects, rendered from typed Python. Pure (no CDK import).

Source: kubernetes/autoscaler ``cluster-autoscaler/cloudprovider/aws/examples/cluster-autoscaler-autodiscover.yaml``
(RBAC, arguments, UID 65534, port 8085) and ``cluster-autoscaler/expander/priority/readme.md`` (priority ConfigMap).
The ServiceAccount is not rendered here: the CDK construct creates it together with its EKS Pod Identity.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any, Final

from ..catalog import versions
from .node_contract import AUTOSCALER_ENABLED_TAG, autoscaler_owner_tag
from .objects import NAMESPACE, SYSTEM_NODE_LABEL, SYSTEM_NODE_VALUE, ingress_policy

Manifest = dict[str, Any]

NAME: Final = "cluster-autoscaler"
SERVICE_ACCOUNT: Final = NAME
PRIORITY_CONFIG_MAP: Final = "cluster-autoscaler-priority-expander"
"""The name the priority expander looks for, in the autoscaler's own namespace."""
STATUS_CONFIG_MAP: Final = "cluster-autoscaler-status"
METRICS_PORT: Final = 8085

NON_NEURON_PRIORITY: Final = 50
FALLBACK_PRIORITY: Final = 10


def _labels() -> dict[str, str]:
    return {"app.kubernetes.io/name": NAME, "k8s-app": NAME}


def _metadata(name: str, *, namespaced: bool = True) -> Manifest:
    meta: Manifest = {"name": name, "labels": _labels()}
    if namespaced:
        meta["namespace"] = NAMESPACE
    return meta


def _rule(api_groups: list[str], resources: list[str], verbs: list[str], names: list[str] | None = None) -> Manifest:
    rule: Manifest = {"apiGroups": api_groups, "resources": resources, "verbs": verbs}
    if names:
        rule["resourceNames"] = names
    return rule


def auto_discovery_argument(cluster_name: str) -> str:
    """Finds every Auto Scaling group tagged for this cluster; the same tags condition its IAM write permissions."""
    return f"--node-group-auto-discovery=asg:tag={AUTOSCALER_ENABLED_TAG},{autoscaler_owner_tag(cluster_name)}"


def priorities(non_neuron_group_patterns: Sequence[str]) -> dict[int, list[str]]:
    """Priority-expander tiers: non-Neuron groups first, everything else (the Neuron groups) after.

    The expander only decides between groups that can all host a pending pod. Neuron groups can host a CPU-only pod
    that tolerates their taint; preferring the system groups keeps such pods off expensive Neuron nodes. Go regexes
    have no negative look-ahead, so the Neuron groups are the catch-all tier.
    """
    tiers: dict[int, list[str]] = {FALLBACK_PRIORITY: [".*"]}
    if non_neuron_group_patterns:
        tiers[NON_NEURON_PRIORITY] = list(non_neuron_group_patterns)
    return tiers


def _priorities_yaml(tiers: Mapping[int, Sequence[str]]) -> str:
    # JSON strings are valid YAML double-quoted scalars, so any regex (or deploy-time token) stays one scalar.
    return "".join(
        f"{priority}:\n" + "".join(f"  - {json.dumps(pattern)}\n" for pattern in tiers[priority])
        for priority in sorted(tiers, reverse=True)
    )


def _cluster_role() -> Manifest:
    read = ["watch", "list", "get"]
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRole",
        "metadata": _metadata(NAME, namespaced=False),
        "rules": [
            _rule([""], ["events", "endpoints"], ["create", "patch"]),
            _rule([""], ["pods/eviction"], ["create"]),
            _rule([""], ["pods/status"], ["update"]),
            _rule([""], ["endpoints"], ["get", "update"], [NAME]),
            _rule([""], ["nodes"], ["watch", "list", "get", "update"]),
            _rule(
                [""],
                [
                    "namespaces",
                    "pods",
                    "services",
                    "replicationcontrollers",
                    "persistentvolumeclaims",
                    "persistentvolumes",
                ],
                read,
            ),
            _rule(["apps"], ["statefulsets", "replicasets", "daemonsets"], read),
            _rule(["policy"], ["poddisruptionbudgets"], ["watch", "list"]),
            _rule(
                ["storage.k8s.io"],
                ["storageclasses", "csinodes", "csidrivers", "csistoragecapacities", "volumeattachments"],
                read,
            ),
            _rule(["batch"], ["jobs", "cronjobs"], ["watch", "list", "get", "patch"]),
            _rule(["coordination.k8s.io"], ["leases"], ["create"]),
            _rule(["coordination.k8s.io"], ["leases"], ["get", "update"], [NAME]),
        ],
    }


def _namespaced_role() -> Manifest:
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "Role",
        "metadata": _metadata(NAME),
        "rules": [
            _rule([""], ["configmaps"], ["create", "list", "watch"]),
            _rule([""], ["configmaps"], ["delete", "get", "update", "watch"], [STATUS_CONFIG_MAP, PRIORITY_CONFIG_MAP]),
        ],
    }


def _bindings() -> list[Manifest]:
    subject = [{"kind": "ServiceAccount", "name": SERVICE_ACCOUNT, "namespace": NAMESPACE}]
    return [
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRoleBinding",
            "metadata": _metadata(NAME, namespaced=False),
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": NAME},
            "subjects": subject,
        },
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "RoleBinding",
            "metadata": _metadata(NAME),
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": NAME},
            "subjects": subject,
        },
    ]


def _deployment(cluster_name: str, kubernetes_version: str, region: str) -> Manifest:
    health: Manifest = {"httpGet": {"path": "/health-check", "port": METRICS_PORT}, "periodSeconds": 10}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": _metadata(NAME),
        "spec": {
            # One replica: Cluster Autoscaler acts only as the leader; a second would sit idle.
            "replicas": 1,
            "selector": {"matchLabels": {"app.kubernetes.io/name": NAME}},
            "template": {
                "metadata": {
                    "labels": _labels(),
                    # Never evict the autoscaler while it drains the node it runs on.
                    "annotations": {"cluster-autoscaler.kubernetes.io/safe-to-evict": "false"},
                },
                "spec": {
                    "serviceAccountName": SERVICE_ACCOUNT,
                    "priorityClassName": "system-cluster-critical",
                    # System nodes: the autoscaler must outlive every Neuron node it scales away.
                    "nodeSelector": {SYSTEM_NODE_LABEL: SYSTEM_NODE_VALUE, "kubernetes.io/os": "linux"},
                    "securityContext": {
                        "runAsNonRoot": True,
                        "runAsUser": 65534,
                        "runAsGroup": 65534,
                        "fsGroup": 65534,
                        "seccompProfile": {"type": "RuntimeDefault"},
                    },
                    "containers": [
                        {
                            "name": NAME,
                            # Cluster Autoscaler's minor version must match the cluster's (its README).
                            "image": versions.CLUSTER_AUTOSCALER_IMAGES[kubernetes_version],
                            "imagePullPolicy": "Always",
                            "command": ["./cluster-autoscaler"],
                            "args": [
                                "--cloud-provider=aws",
                                auto_discovery_argument(cluster_name),
                                # Priority first (non-Neuron groups), then the group that wastes least.
                                "--expander=priority,least-waste",
                                "--balance-similar-node-groups",
                                "--skip-nodes-with-local-storage=false",
                                f"--address=:{METRICS_PORT}",
                                "--stderrthreshold=info",
                                "--v=2",
                            ],
                            # Explicit region: pods may not reach the instance metadata service (IMDSv2 hop limit).
                            "env": [{"name": "AWS_REGION", "value": region}],
                            "ports": [{"name": "metrics", "containerPort": METRICS_PORT, "protocol": "TCP"}],
                            "livenessProbe": {**health, "initialDelaySeconds": 30},
                            "readinessProbe": health,
                            "resources": {
                                "requests": {"cpu": "100m", "memory": "300Mi"},
                                "limits": {"cpu": "1", "memory": "1Gi"},
                            },
                            "securityContext": {
                                "allowPrivilegeEscalation": False,
                                "capabilities": {"drop": ["ALL"]},
                                "readOnlyRootFilesystem": True,
                                "runAsNonRoot": True,
                                "runAsUser": 65534,
                                "seccompProfile": {"type": "RuntimeDefault"},
                            },
                        }
                    ],
                },
            },
        },
    }


def priority_config_map(non_neuron_group_patterns: Sequence[str]) -> Manifest:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": _metadata(PRIORITY_CONFIG_MAP),
        "data": {"priorities": _priorities_yaml(priorities(non_neuron_group_patterns))},
    }


def cluster_autoscaler_objects(
    *, cluster_name: str, kubernetes_version: str, region: str, non_neuron_group_patterns: Sequence[str]
) -> list[Manifest]:
    """RBAC, the priority-expander ConfigMap (which must exist before the autoscaler starts) and the Deployment.

    ``non_neuron_group_patterns`` are regexes matched against Auto Scaling group names; EKS names a managed node
    group's Auto Scaling group ``eks-<node group name>-<uuid>``.
    """
    return [
        _cluster_role(),
        _namespaced_role(),
        *_bindings(),
        # Metrics and health checks on one port; the autoscaler serves nothing else.
        ingress_policy(NAME, {"app.kubernetes.io/name": NAME}, [METRICS_PORT]),
        priority_config_map(non_neuron_group_patterns),
        _deployment(cluster_name, kubernetes_version, region),
    ]
