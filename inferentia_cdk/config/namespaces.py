"""Every Kubernetes namespace the cluster, its add-ons and Kubernetes itself use, in one place.

An API's namespace is its name, so these names are taken. The renderers and constructs take their namespaces from
here (``tests/config/test_aws_grammar.py`` checks that every namespace they write is listed), so a namespace added
later is refused as an API name without anyone remembering to.
"""

from __future__ import annotations

from typing import Final

SYSTEM_NAMESPACE: Final = "kube-system"
"""Our own add-ons (device plugin, scheduler extension, neuron-monitor, Cluster Autoscaler), and the EKS add-ons
metrics-server, the node monitoring agent, the Pod Identity agent and the AWS Load Balancer Controller."""
KEDA_NAMESPACE: Final = "keda"
"""The KEDA Helm release."""
CLOUDWATCH_NAMESPACE: Final = "amazon-cloudwatch"
"""The amazon-cloudwatch-observability EKS add-on (CloudWatch agent, its neuron-monitor, fluent-bit)."""

_OWNERS: dict[str, str] = {
    "default": "Kubernetes owns it",
    "kube-public": "Kubernetes owns it",
    "kube-node-lease": "Kubernetes owns it",
    SYSTEM_NAMESPACE: "Kubernetes and the cluster's add-ons run there",
    KEDA_NAMESPACE: "KEDA runs there",
    CLOUDWATCH_NAMESPACE: "the Container Insights add-on runs there",
}
RESERVED_NAMESPACES: Final = frozenset(_OWNERS)
RESERVED_PREFIX: Final = "kube-"
"""Kubernetes reserves every namespace starting with kube- for itself."""


def reserved_namespace_reason(name: str) -> str | None:
    """Why the namespace ``name`` is taken, or None."""
    if name in _OWNERS:
        return _OWNERS[name]
    if name.startswith(RESERVED_PREFIX):
        return "Kubernetes reserves the kube- prefix"
    return None
