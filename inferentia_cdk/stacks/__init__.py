"""The stacks of an inferentia-cdk app."""

from .apis_stack import InferentiaApisStack
from .cluster_stack import InferentiaClusterStack

__all__ = ["InferentiaApisStack", "InferentiaClusterStack"]
