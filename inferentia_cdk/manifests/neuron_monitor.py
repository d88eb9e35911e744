"""neuron-monitor on every Neuron node and a Service Prometheus scrapes (after aws-neuron-sdk
``src/k8/k8s-neuron-monitor-daemonset.yml``), for clusters without the CloudWatch observability add-on."""

from __future__ import annotations

from typing import Final

from ..catalog import versions
from ..planning.capacity import NEURON_MONITOR_RESERVATION
from .node_contract import neuron_node_affinity, neuron_node_tolerations
from .objects import (
    Manifest,
    ingress_policy,
    metadata,
    pod_security,
    reserved_resources,
    tcp_probe,
    tmp_volume_and_mount,
)

MONITOR_NAME: Final = "neuron-monitor"
MONITOR_PORT: Final = 8000


def monitor_objects() -> list[Manifest]:
    """neuron-monitor on every Neuron node, and a headless Service whose endpoints Prometheus scrapes."""
    labels = {"app.kubernetes.io/name": MONITOR_NAME}
    tmp_volume, tmp_mount = tmp_volume_and_mount()
    daemonset: Manifest = {
        "apiVersion": "apps/v1",
        "kind": "DaemonSet",
        "metadata": metadata(MONITOR_NAME),
        "spec": {
            "selector": {"matchLabels": labels},
            "updateStrategy": {"type": "RollingUpdate"},
            "template": {
                "metadata": {"labels": labels},
                "spec": {
                    # It reads hardware counters only; it never talks to the Kubernetes API.
                    "automountServiceAccountToken": False,
                    "tolerations": neuron_node_tolerations(),
                    "affinity": neuron_node_affinity(),
                    "securityContext": pod_security(run_as_root=True),
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
                            "resources": reserved_resources(NEURON_MONITOR_RESERVATION, "500m", "256Mi"),
                            "readinessProbe": tcp_probe(MONITOR_PORT, 10),
                            "livenessProbe": {**tcp_probe(MONITOR_PORT, 60), "failureThreshold": 5},
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
            **metadata(MONITOR_NAME),
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
