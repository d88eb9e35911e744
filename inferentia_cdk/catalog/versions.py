"""Pinned versions of everything the stacks deploy: one place to bump them.

Each value names where it was seen. Never ``latest``: a deploy must render the same objects tomorrow.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from importlib import resources
from types import MappingProxyType
from typing import Any, Final

KUBERNETES_VERSIONS: Final = ("1.35", "1.36")
"""Versions with an AL2023 Neuron and a Bottlerocket AMI, an aws-cdk-lib ``KubernetesVersion`` and a kubectl layer
within kubectl's one-minor skew of the pinned ``aws-cdk.lambda-layer-kubectl-v36`` (so 1.34, which also leaves EKS
standard support on 2026-12-02, is out)."""

DEFAULT_KUBERNETES_VERSION: Final = "1.36"

# aws-neuron/neuron-helm-charts release 1.9.0 ("Neuron Helm Chart 1.9.0 (Neuron SDK 2.31.0)", its component image
# table: Neuron Device Plugin 2.31.0.0, Neuron Scheduler Extension 2.31.0.0), seen 2026-12-04; the newest release found.
NEURON_DEVICE_PLUGIN_VERSION: Final = "2.31.0.0"
NEURON_DEVICE_PLUGIN_REPOSITORY: Final = "public.ecr.aws/neuron/neuron-device-plugin"
NEURON_SCHEDULER_REPOSITORY: Final = "public.ecr.aws/neuron/neuron-scheduler"
# aws-neuron-sdk src/k8/k8s-neuron-monitor-daemonset.yml family; 1.3.0 is the tag AWS workshops deploy.
NEURON_MONITOR_IMAGE: Final = "public.ecr.aws/neuron/neuron-monitor:1.3.0"

# The second scheduler that consults the Neuron extender: upstream kube-scheduler of the cluster's minor version, at
# the latest patch of kubernetes.io/releases (1.35.9 and 1.36.5, both released 2026-09-15).
KUBE_SCHEDULER_IMAGES: Final[Mapping[str, str]] = MappingProxyType(
    {
        "1.35": "registry.k8s.io/kube-scheduler:v1.35.9",
        "1.36": "registry.k8s.io/kube-scheduler:v1.36.5",
    }
)

# kubernetes/autoscaler release tags cluster-autoscaler-1.35.2 and -1.36.1 (2026-07-22), the latest of each minor.
# Cluster Autoscaler's minor must match the cluster's.
CLUSTER_AUTOSCALER_IMAGES: Final[Mapping[str, str]] = MappingProxyType(
    {
        "1.35": "registry.k8s.io/autoscaling/cluster-autoscaler:v1.35.2",
        "1.36": "registry.k8s.io/autoscaling/cluster-autoscaler:v1.36.1",
    }
)

NODE_MONITORING_AGENT_ADDON: Final = "eks-node-monitoring-agent"
"""The EKS add-on that reports Neuron device failures as the node condition ``AcceleratedHardwareReady``, which node
auto-repair acts on (EKS User Guide, "Detect node health issues with the EKS node monitoring agent"). Its version is
left to EKS, which installs the default for the cluster's version, as for metrics-server."""

# kubernetes-sigs/aws-load-balancer-controller tag v3.5.0 ("cut v3.5.0 release", 2026-08-03; helm chart version 3.5.0,
# appVersion v3.5.0), the newest release tag, seen 2026-12-04. aws-cdk-lib 2.275's AlbControllerVersion stops at v3.2.2,
# so the construct uses AlbControllerVersion.of with the chart version and supplies the release's IAM policy itself.
AWS_LOAD_BALANCER_CONTROLLER: Final = "v3.5.0"
AWS_LOAD_BALANCER_CONTROLLER_CHART: Final = "3.5.0"
AWS_LOAD_BALANCER_CONTROLLER_REPOSITORY: Final = "public.ecr.aws/eks/aws-load-balancer-controller"
AWS_LOAD_BALANCER_CONTROLLER_IAM_POLICY: Final = "alb-controller-iam-policy-v3.5.0.json"
"""In ``catalog/data/``: docs/install/iam_policy.json of aws-load-balancer-controller at tag v3.5.0, unchanged (its
content equals aws-cdk-lib 2.275's bundled v3.2.2 policy: the file did not change between the two tags)."""

# kedacore/charts keda/Chart.yaml: chart (and app) 2.20.2, "prepare v2.20.2 release" of 2026-07-31; the ScaledObject and
# TriggerAuthentication fields we render are those of that chart's CRDs (keda.sh/v1alpha1).
# KEDA 2.21 is tested on Kubernetes 1.34-1.36 and 2.20 on 1.33-1.35 (keda.sh, "Cluster", Kubernetes compatibility, v2.22
# docs, seen 2026-12-04), but no 2.21 chart could be verified (the newest kedacore/charts commit seen, 2026-08-13, is
# 2.20.2), so 2.20.2 stays: on our default 1.36 it runs outside KEDA's tested window. Move to the 2.21 chart once seen.
KEDA_CHART_VERSION: Final = "2.20.2"
KEDA_CHART_REPOSITORY: Final = "https://kedacore.github.io/charts"

# The amazon-cloudwatch-observability EKS add-on carries its Helm chart's version with an -eksbuild suffix
# (aws-observability/helm-charts, charts/amazon-cloudwatch-observability; RELEASE_NOTES v6.4.0 of 2026-07-21).
CLOUDWATCH_OBSERVABILITY_ADDON_VERSION: Final = "v6.4.0-eksbuild.1"
# CloudWatch user guide, "Container Insights with enhanced observability metrics", AWS Neuron section: the per-pod
# NeuronCore metrics (pod_neuroncore_utilization, ...) come with add-on v1.5.0-eksbuild.1 (agent 1.300036.0) or later.
CLOUDWATCH_OBSERVABILITY_NEURON_METRICS_SINCE: Final = "v1.5.0-eksbuild.1"
# CloudWatch user guide, "Quick start with the Amazon CloudWatch Observability EKS add-on": EKS Pod Identity for the
# agent from add-on version 3.1.0.
CLOUDWATCH_OBSERVABILITY_POD_IDENTITY_SINCE: Final = "v3.1.0-eksbuild.1"


def aws_load_balancer_controller_policy() -> dict[str, Any]:
    """The IAM policy document of the pinned AWS Load Balancer Controller release."""
    text = resources.files(__package__).joinpath("data", AWS_LOAD_BALANCER_CONTROLLER_IAM_POLICY).read_text()
    policy: dict[str, Any] = json.loads(text)
    return policy
