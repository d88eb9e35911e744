"""inferentia-cdk: ML inference APIs on AWS Inferentia and Trainium on Amazon EKS, as AWS CDK constructs.

The config models and the pure planning core import without aws_cdk; the constructs and stacks load aws_cdk (and so
jsii) the first time one of them is used, which keeps ``import inferentia_cdk`` and the CLI fast.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from .config.models import (
    ApiSpec,
    AutoscalingSpec,
    ClusterSpec,
    ComputeSpec,
    DevicePluginSpec,
    EngineSpec,
    InferentiaConfig,
    ModelSpec,
    NodeGroupSpec,
    SystemNodeGroupSpec,
)
from .config.problems import ConfigError, Problem
from .planning.cluster_facts import NeuronClusterFacts
from .planning.loader import load_config

__version__ = "0.1.0"

# Public name -> module that defines it; loaded on first access (PEP 562).
_LAZY = {
    "build_app": "inferentia_cdk.stacks.app",
    "InferentiaClusterStack": "inferentia_cdk.stacks.cluster_stack",
    "InferentiaApisStack": "inferentia_cdk.stacks.apis_stack",
    "NeuronNodegroup": "inferentia_cdk.constructs.neuron_nodegroup",
    "NeuronDevicePlugin": "inferentia_cdk.constructs.neuron_device_plugin",
    "ClusterAutoscaler": "inferentia_cdk.constructs.cluster_autoscaler",
    "InferentiaApi": "inferentia_cdk.constructs.inferentia_api",
    "NeuronCluster": "inferentia_cdk.constructs.neuron_cluster",
    "NeuronCapacity": "inferentia_cdk.constructs.neuron_capacity",
    "NeuronQuotaCheck": "inferentia_cdk.constructs.neuron_quota_check",
    "ModelStorage": "inferentia_cdk.constructs.model_storage",
    "ModelAccess": "inferentia_cdk.constructs.model_access",
}

if TYPE_CHECKING:
    from .constructs.inferentia_api import InferentiaApi
    from .constructs.neuron_capacity import NeuronCapacity
    from .constructs.neuron_cluster import NeuronCluster
    from .stacks.apis_stack import InferentiaApisStack
    from .stacks.app import build_app
    from .stacks.cluster_stack import InferentiaClusterStack


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'inferentia_cdk' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)


def __dir__() -> list[str]:
    return sorted([*globals(), *_LAZY])


__all__ = [
    "ApiSpec",
    "AutoscalingSpec",
    "ClusterSpec",
    "ComputeSpec",
    "ConfigError",
    "DevicePluginSpec",
    "EngineSpec",
    "InferentiaApi",
    "InferentiaApisStack",
    "InferentiaClusterStack",
    "InferentiaConfig",
    "ModelSpec",
    "NeuronCapacity",
    "NeuronCluster",
    "NeuronClusterFacts",
    "NodeGroupSpec",
    "Problem",
    "SystemNodeGroupSpec",
    "build_app",
    "load_config",
]
