"""Builds the CDK app of a configuration: the cluster stack, the APIs stack, and the compliance checks."""

from __future__ import annotations

import aws_cdk as cdk

from ..config.models import InferentiaConfig
from ..config.problems import Problem, acknowledge, raise_for_errors, warnings
from ..constructs.neuron_capacity import CheckedConfig, checked_config
from ..planning.loader import LoadedConfig, load_config
from . import InferentiaApisStack, InferentiaClusterStack

DEFAULT_CONFIG = "examples/inferentia.yaml"


def build_app(
    config: InferentiaConfig,
    *,
    app: cdk.App | None = None,
    nag: bool = True,
    stack_prefix: str = "Inferentia",
    _checked_config: CheckedConfig | None = None,
) -> tuple[cdk.App, InferentiaClusterStack, InferentiaApisStack]:
    """Add both stacks of ``config`` to ``app`` (a new one by default).

    Raises ``ConfigError`` listing every problem before any construct is created. With ``nag`` (default), cdk-nag's
    AwsSolutions pack runs at synth and fails it on any finding that is not acknowledged in ``inferentia_cdk.nag``.
    The config is checked once; that check is handed down to the cluster stack's constructs (``_checked_config`` is
    internal: :func:`build_app_from_context` hands down the check that loading the file made).
    """
    checked = checked_config(config, _checked_config)
    problems = list(checked.problems)
    raise_for_errors(problems)
    app = app or cdk.App()
    env = None
    if config.cluster.account or config.cluster.region:
        env = cdk.Environment(account=config.cluster.account, region=config.cluster.region)
    cluster_stack = InferentiaClusterStack(
        app,
        f"{stack_prefix}Cluster",
        config=config,
        _checked_config=checked,
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
    _annotate_config_wide_warnings(config, problems, cluster_stack, apis_stack)
    if nag:
        apply_nag(app, cluster_stack, apis_stack)
    return app, cluster_stack, apis_stack


def _annotate_config_wide_warnings(
    config: InferentiaConfig,
    problems: list[Problem],
    cluster_stack: InferentiaClusterStack,
    apis_stack: InferentiaApisStack,
) -> None:
    """The config's warnings that no construct reports on its own (they concern several parts at once: the APIs a node
    group holds together, the load balancer's sources, the alarm topic), as warnings of the stack they concern, so
    that `cdk synth` shows what `inferentia-cdk validate` shows. Acknowledged ones stay silent."""
    shown, _ = acknowledge(warnings(problems), config.acknowledge)
    reported = _reported_by_constructs(cluster_stack, apis_stack)
    for warning in shown:
        if (warning.code, warning.message) in reported:
            continue
        stack = apis_stack if warning.path[:1] == ("apis",) else cluster_stack
        cdk.Annotations.of(stack).add_warning_v2(
            f"inferentia-cdk:{warning.code}", f"{warning.location}: {warning.message} [{warning.code}]"
        )


def _reported_by_constructs(
    cluster_stack: InferentiaClusterStack, apis_stack: InferentiaApisStack
) -> set[tuple[str | None, str]]:
    """The warnings (code and message) the node group and API constructs reported or acknowledged themselves: read
    from them, not checked again (the API rules a second time cost 0.1 ms per API)."""
    found: list[Problem] = []
    for nodegroup in cluster_stack.neuron_cluster.capacity.neuron_nodegroups.values():
        found += [*nodegroup.warnings, *(entry.problem for entry in nodegroup.acknowledged)]
    for api in apis_stack.apis.values():
        found += [*api.warnings, *(entry.problem for entry in api.acknowledged)]
    return {(problem.code, problem.message) for problem in found}


def build_app_from_context(app: cdk.App) -> tuple[cdk.App, InferentiaClusterStack, InferentiaApisStack]:
    """The app ``cdk synth`` runs (app.py): the stacks of the config file that context ``config`` names (default
    examples/inferentia.yaml, relative to the working directory), with cdk-nag unless context ``nag`` is "false".

    Raises ``ConfigError`` for a config file that does not load or check.
    """
    config_path = app.node.try_get_context("config") or DEFAULT_CONFIG
    nag = str(app.node.try_get_context("nag") or "true").lower() != "false"
    loaded = load_config(config_path)
    return build_app(loaded.config, app=app, nag=nag, _checked_config=_checked_by_loading(loaded))


def _checked_by_loading(loaded: LoadedConfig) -> CheckedConfig:
    """The check ``load_config`` made of the config it returns: it raised on any error, and kept every warning (shown
    or acknowledged) and note, each with its line."""
    acknowledged = tuple(entry.problem for entry in loaded.acknowledged)
    return CheckedConfig(loaded.config, (*loaded.warnings, *acknowledged, *loaded.notes))
