"""What an API needs to know about the cluster it runs on, as one value.

The cluster side (``NeuronCluster``, ``NeuronCapacity``, or a config) produces a :class:`NeuronClusterFacts`; the API
side (``InferentiaApi``, the APIs stack, the CLI) consumes it. An API built against a cluster therefore cannot
disagree with it about the node groups it may use, which scheduler its pods ask for, or which DaemonSets share its
nodes. Pure: no CDK import.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ..config.models import InferentiaConfig, NodeGroupSpec, cluster_name_error, kubernetes_version_error
from ..config.problems import ConfigError, Path, Problem, argument_problem, errors, rule, shown

KNOWN_NODE_GROUP = rule("API007", "error", "an API's node_group names a Neuron node group of its cluster (its config)")
CLU_FACTS_ARGUMENT = rule("CLU100", "error", "cluster facts name the cluster, its version and its node groups")
CLU_NODE_GROUP_UNIQUE = rule("CLU101", "error", "node group names are unique within a cluster")

_SHOWN_NAMES = 10


def _listing(names: Sequence[str]) -> str:
    shown_names = ", ".join(names[:_SHOWN_NAMES])
    more = len(names) - _SHOWN_NAMES
    return shown_names + (f" and {more} more" if more > 0 else "") if names else "none"


def check_api_node_group(node_group: str, group_names: Sequence[str], path: Path = ()) -> list[Problem]:
    """An API's ``node_group`` is one of ``group_names``, the Neuron node groups of its cluster."""
    if node_group in group_names:
        return []
    return [
        KNOWN_NODE_GROUP.problem(
            (*path, "node_group"),
            f"{shown(node_group)} is not a node group of this cluster; valid: {_listing(list(group_names))}",
        )
    ]


@dataclass(frozen=True)
class NeuronClusterFacts:
    """The facts about one Neuron-ready EKS cluster that its APIs depend on.

    - ``cluster_name``: the EKS cluster's literal name (the ``ClusterName`` dimension of Container Insights metrics).
    - ``kubernetes_version``: its minor version, such as ``"1.36"``.
    - ``node_groups``: its Neuron node groups; an API may run only on one of these.
    - ``scheduler_extension``: the Neuron scheduler extension runs (pods then use its scheduler).
    - ``neuron_monitor``: our neuron-monitor DaemonSet runs on the Neuron nodes (its requests count against them).
    - ``container_insights``: the amazon-cloudwatch-observability add-on runs (its DaemonSets' requests count against
      each node, and it publishes the NeuronCore metrics that ``neuroncore_utilization`` scaling reads).

    Every field is checked when the value is made: a wrong one raises :class:`ConfigError` naming the field, the
    value and what is valid.
    """

    cluster_name: str
    kubernetes_version: str
    node_groups: tuple[NodeGroupSpec, ...]
    scheduler_extension: bool = False
    neuron_monitor: bool = False
    container_insights: bool = False

    def __post_init__(self) -> None:
        problems: list[Problem] = []
        name_error = cluster_name_error(self.cluster_name)
        if name_error:
            problems.append(CLU_FACTS_ARGUMENT.problem(("cluster_name",), name_error))
        version_error = kubernetes_version_error(self.kubernetes_version)
        if version_error:
            problems.append(CLU_FACTS_ARGUMENT.problem(("kubernetes_version",), version_error))
        groups = self.node_groups
        if isinstance(groups, (str, bytes)) or not isinstance(groups, Sequence):
            problems.append(_argument("node_groups", groups, "a list of NodeGroupSpec"))
        else:
            # A list is accepted and kept as a tuple: the value stays frozen.
            object.__setattr__(self, "node_groups", tuple(groups))
            seen: set[str] = set()
            # validation imports this module for its node group rule; the group rules are needed only here.
            from .validation import check_node_group

            for i, group in enumerate(self.node_groups):
                if not isinstance(group, NodeGroupSpec):
                    valid = "a NodeGroupSpec (.model_validate builds one)"
                    problems.append(_argument(("node_groups", i), group, valid))
                elif group.name in seen:
                    problems.append(
                        CLU_NODE_GROUP_UNIQUE.problem(
                            ("node_groups", i, "name"), f"node group name {group.name!r} is used more than once"
                        )
                    )
                else:
                    seen.add(group.name)
                    problems += errors(check_node_group(group, ("node_groups", i)))
        for flag in ("scheduler_extension", "neuron_monitor", "container_insights"):
            value = getattr(self, flag)
            if not isinstance(value, bool):
                problems.append(_argument(flag, value, "True or False"))
        if problems:
            raise ConfigError(problems)

    @classmethod
    def of(cls, config: InferentiaConfig) -> NeuronClusterFacts:
        """The facts of the cluster that ``config`` describes (as ``NeuronCluster`` builds it)."""
        return cls(
            cluster_name=config.cluster.name,
            kubernetes_version=config.cluster.kubernetes_version,
            node_groups=tuple(config.node_groups),
            scheduler_extension=config.device_plugin.scheduler_extension,
            neuron_monitor=config.neuron_monitor(),
            container_insights=config.container_insights(),
        )

    @property
    def node_group_names(self) -> tuple[str, ...]:
        return tuple(group.name for group in self.node_groups)

    def node_group(self, name: str) -> NodeGroupSpec | None:
        return next((group for group in self.node_groups if group.name == name), None)

    def check_node_group(self, node_group: str, path: Path = ()) -> list[Problem]:
        """``node_group`` (an API's) is one of this cluster's Neuron node groups."""
        return check_api_node_group(node_group, self.node_group_names, path)


def _argument(argument: str | Path, value: object, valid: str) -> Problem:
    problem = argument_problem(argument, value, valid)
    return CLU_FACTS_ARGUMENT.problem(problem.path, problem.message)
