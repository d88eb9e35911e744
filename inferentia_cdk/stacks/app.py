"""Builds the CDK app of a configuration: the cluster stack, the APIs stack, and the compliance checks."""

from __future__ import annotations

import aws_cdk as cdk

from ..config.models import InferentiaConfig
from ..config.problems import raise_for_errors
from ..planning.loader import load_config
from ..planning.validation import check_config
from . import InferentiaApisStack, InferentiaClusterStack

DEFAULT_CONFIG = "examples/inferentia.yaml"


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


def build_app_from_context(app: cdk.App) -> tuple[cdk.App, InferentiaClusterStack, InferentiaApisStack]:
    """The app ``cdk synth`` runs (app.py): the stacks of the config file that context ``config`` names (default
    examples/inferentia.yaml, relative to the working directory), with cdk-nag unless context ``nag`` is "false".

    Raises ``ConfigError`` for a config file that does not load or check.
    """
    config_path = app.node.try_get_context("config") or DEFAULT_CONFIG
    nag = str(app.node.try_get_context("nag") or "true").lower() != "false"
    return build_app(load_config(config_path).config, app=app, nag=nag)
