"""Builds the CDK app of a configuration: the cluster stack, the APIs stack, and the compliance checks."""

from __future__ import annotations

import aws_cdk as cdk

from ..core.validation import check_config
from ..spec.models import InferentiaConfig
from ..spec.problems import raise_for_errors
from . import InferentiaApisStack, InferentiaClusterStack


def build_app(
    config: InferentiaConfig,
    *,
    app: cdk.App | None = None,
    nag: bool = True,
    stack_prefix: str = "Inferentia",
) -> tuple[cdk.App, InferentiaClusterStack, InferentiaApisStack]:
    """Add both stacks of ``config`` to ``app`` (a new one by default).

    Raises ``ConfigError`` listing every problem before any construct is created. With ``nag`` (default), cdk-nag's
    AwsSolutions pack runs at synth and fails it on any finding that is not acknowledged in ``inferentia_cdk.nag``.
    """
    raise_for_errors(check_config(config))
    app = app or cdk.App()
    env = None
    if config.cluster.account or config.cluster.region:
        env = cdk.Environment(account=config.cluster.account, region=config.cluster.region)
    cluster_stack = InferentiaClusterStack(
        app,
        f"{stack_prefix}Cluster",
        config=config,
        env=env,
        description=f"inferentia-cdk: EKS cluster {config.cluster.name} with Neuron node groups",
    )
    apis_stack = InferentiaApisStack(
        app,
        f"{stack_prefix}Apis",
        config=config,
        cluster_stack=cluster_stack,
        env=env,
        description=f"inferentia-cdk: inference APIs on EKS cluster {config.cluster.name}",
    )
    from .nag import acknowledge_core_validation, apply_nag

    acknowledge_core_validation(apis_stack)
    if nag:
        apply_nag(app, cluster_stack, apis_stack)
    return app, cluster_stack, apis_stack
