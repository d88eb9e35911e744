"""Pinned versions of everything the stacks deploy: one place to bump them.

Each value names where it was seen. Never ``latest``: a deploy must render the same objects tomorrow.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Final

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
# appVersion v3.5.0), the newest release tag, seen 2026-12-04. aws-cdk-lib 2.275's AlbControllerVersion stops at v3.2.2.
# The release's docs/install/iam_policy.json is unchanged since v3.2.2 (compared with aws-cdk-lib 2.275's bundled
# alb-iam_policy-v3.2.2.json on 2026-12-04), so the construct takes aws-cdk-lib's v3.2.2 policy and moves only the chart
# and the image to this release (constructs/api_load_balancer.py says how); no policy file is copied into this package.
AWS_LOAD_BALANCER_CONTROLLER: Final = "v3.5.0"
AWS_LOAD_BALANCER_CONTROLLER_CHART: Final = "3.5.0"
AWS_LOAD_BALANCER_CONTROLLER_POLICY_OF: Final = "v3.2.2"
"""The aws-cdk-lib ``AlbControllerVersion`` whose bundled IAM policy is the pinned release's."""
AWS_LOAD_BALANCER_CONTROLLER_REPOSITORY: Final = "public.ecr.aws/eks/aws-load-balancer-controller"

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


# The Neuron Deep Learning Container that serves vLLM, per Neuron family: two tracks since Neuron 2.32.
# trn2 (and trn3, not in our catalog): the vLLM Neuron plugin's DLC of Neuron 2.33.0, vLLM 0.29 (Neuron docs v2.33.0,
# "Install PyTorch via Deep Learning Container", date-modified 2026-10-16; seen 2026-12-04). That page and the 2.32
# DLC quickstart list Trn2 and Trn3 only.
# inf2 and trn1: NxD Inference through vLLM, which Neuron left in maintenance with 2.32; the v2.31.1 DLC quickstart
# sends Trn1 to "the legacy vLLM 0.16 DLC", whose last build is for Neuron SDK 2.31.1 (tag seen in public use
# 2026-12-04).
VLLM_NEURON_IMAGES: Final[Mapping[str, str]] = MappingProxyType(
    {
        "inf2": "public.ecr.aws/neuron/pytorch-inference-vllm-neuronx:0.16.0-neuronx-py312-sdk2.31.1-ubuntu24.04",
        "trn1": "public.ecr.aws/neuron/pytorch-inference-vllm-neuronx:0.16.0-neuronx-py312-sdk2.31.1-ubuntu24.04",
        "trn2": "public.ecr.aws/neuron/pytorch-inference-vllm-neuronx:0.29.0.1.2.0-neuronx-py314-sdk2.33.0-ubuntu26.04",
    }
)

# The Mountpoint for Amazon S3 CSI driver EKS add-on (EKS user guide, "Mountpoint for Amazon S3 CSI Driver": add-on
# name aws-mountpoint-s3-csi-driver). v2.7.0 is the driver's latest release (awslabs/mountpoint-s3-csi-driver
# CHANGELOG, seen 2026-12-04); v2 brings pod-level credentials through EKS Pod Identity and the emptyDir local cache.
# The -eksbuild.1 suffix follows the EKS add-on convention; `aws eks describe-addon-versions --addon-name
# aws-mountpoint-s3-csi-driver` confirms it per region.
MOUNTPOINT_S3_CSI_ADDON: Final = "aws-mountpoint-s3-csi-driver"
MOUNTPOINT_S3_CSI_ADDON_VERSION: Final = "v2.7.0-eksbuild.1"
