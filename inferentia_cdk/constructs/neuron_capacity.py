"""``NeuronCapacity``: the Neuron capacity of a config on an ``aws_eks_v2`` cluster, whoever built the cluster.

``NeuronCluster`` builds a whole cluster and composes this construct for its Neuron part, so a cluster of ours and a
cluster of the user's get their Neuron capacity from one code path.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import aws_cdk as cdk
from aws_cdk import aws_eks_v2 as eks
from aws_cdk import aws_kms as kms
from constructs import Construct

from ..catalog import versions
from ..config.models import InferentiaConfig
from ..config.problems import Problem, argument_problem, list_argument_problems, raise_for_errors, rule
from ..planning.cluster_facts import NeuronClusterFacts
from ..planning.scaling import needs_keda
from ..planning.validation import check_config
from .cluster_autoscaler import ClusterAutoscaler
from .keda import Keda
from .model_storage import ModelStorage, add_model_storage
from .neuron_device_plugin import NeuronDevicePlugin
from .neuron_nodegroup import NeuronNodegroup
from .neuron_quota_check import NeuronQuotaCheck, add_quota_check
from .observability import ContainerInsights

ARG_CAPACITY_ARGUMENT = rule("ARG100", "error", "NeuronCluster's and NeuronCapacity's arguments have their types")
CLU_CONFIG_NAMES_ITS_CLUSTER = rule(
    "CLU102", "error", "the config's cluster.name and kubernetes_version are those of the cluster it adds capacity to"
)


@dataclass(frozen=True)
class CheckedConfig:
    """Internal, not part of the public API: the problems ``check_config`` found in ``config`` (none of them errors
    once the caller has raised them), handed by the caller that has just checked that very object (``build_app``,
    ``NeuronCluster``) to the construct it builds next, so that one synth checks its config once instead of at each
    level (at 1,000 APIs a check costs about 0.03 s).

    Handed down explicitly, never looked up or kept: a construct given the check of another config object checks its
    own (:func:`checked_config`). A config's lists can be changed in place, so a check remembered by object identity
    could describe a config that no longer exists."""

    config: InferentiaConfig
    problems: tuple[Problem, ...]


def checked_config(config: InferentiaConfig, handed: CheckedConfig | None = None) -> CheckedConfig:
    """``handed``, if it is the check of this very ``config`` object; otherwise ``config`` checked now."""
    if isinstance(handed, CheckedConfig) and handed.config is config:
        return handed
    return CheckedConfig(config, tuple(check_config(config)))


def check_config_argument(config: object, handed: CheckedConfig | None = None) -> list[Problem]:
    """``config`` is an ``InferentiaConfig`` and passes the rules ``inferentia-cdk validate`` runs (checked now, unless
    ``handed`` is the check its caller has just made of this very object)."""
    if not isinstance(config, InferentiaConfig):
        return [_argument("config", config, "an InferentiaConfig (inferentia_cdk.load_config(path).config builds one)")]
    return list(checked_config(config, handed).problems)


def check_config_names_cluster(cluster: eks.Cluster, config: InferentiaConfig) -> list[Problem]:
    """The config describes ``cluster``: same name (the Container Insights dimension, Cluster Autoscaler's discovery
    tags and IAM conditions embed it) and same Kubernetes version (it picks the pinned images), where the cluster
    states them as literals."""
    resource = cluster.node.default_child
    if not isinstance(resource, eks.CfnCluster):
        return []
    problems = []
    for field, stated in (("name", resource.name), ("kubernetes_version", resource.version)):
        wanted = getattr(config.cluster, field)
        if isinstance(stated, str) and not cdk.Token.is_unresolved(stated) and stated != wanted:
            problems.append(
                CLU_CONFIG_NAMES_ITS_CLUSTER.problem(
                    ("cluster", field),
                    f"{wanted!r} is not the {field.replace('_', ' ')} of cluster {cluster.node.path} ({stated!r}); "
                    f"set cluster.{field}: {stated!r} in the config",
                )
            )
    return problems


class NeuronCapacity(Construct):
    """Everything a config's APIs need on an EKS cluster besides the cluster itself: one :class:`NeuronNodegroup` per
    ``node_groups`` entry, the EKS node monitoring agent (node auto-repair acts on the Neuron device failures it
    reports), the Neuron device plugin (with the scheduler extension and neuron-monitor as ``device_plugin`` says),
    Cluster Autoscaler (``cluster.cluster_autoscaler``), Container Insights and KEDA when the APIs' scaling signals
    need them, Mountpoint for Amazon S3 (:class:`ModelStorage`) when an API names a ``model``, and the Inf/Trn vCPU
    quota check (``quota_check``).

    :param cluster: an ``aws_eks_v2.Cluster`` with a kubectl provider and a literal name, in any stack.
    :param config: the config whose node groups, device plugin, quota check and scaling needs to add. Its
        ``cluster.name`` and ``cluster.kubernetes_version`` must be the cluster's; the rest of its ``cluster`` section
        (VPC, endpoint access, admins, metrics-server) and ``endpoints`` describe a cluster :class:`NeuronCluster`
        builds and are not read here.
    :param system_nodegroups: default none. The cluster's non-Neuron node groups: Cluster Autoscaler's priority
        expander prefers them over Neuron groups, and the node monitoring agent is installed after them so its
        DaemonSet has nodes at once. Cluster Autoscaler, KEDA and the Neuron scheduler select nodes labelled
        ``inferentia-cdk/role=system``: give at least one of them that label.
    :param log_encryption_key: default none (CloudWatch Logs' own encryption). The KMS key of the quota check's log
        group.

    Raises ``ConfigError`` listing every problem of the arguments and the config (the rules ``inferentia-cdk
    validate`` runs) before any construct is added. :attr:`facts` is what APIs on this cluster build against.

    ``_checked_config`` is internal (:class:`NeuronCluster` hands down the check it has just made of ``config``).
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        cluster: eks.Cluster,
        config: InferentiaConfig,
        system_nodegroups: Sequence[eks.Nodegroup] = (),
        log_encryption_key: kms.IKey | None = None,
        _checked_config: CheckedConfig | None = None,
    ) -> None:
        problems = check_config_argument(config, _checked_config)
        if not isinstance(cluster, eks.Cluster):
            problems.append(_argument("cluster", cluster, "an aws_eks_v2.Cluster with a kubectl provider"))
        problems += list_argument_problems(
            "system_nodegroups", system_nodegroups, eks.Nodegroup, "a list of eks.Nodegroup", "an aws_eks_v2.Nodegroup"
        )
        # jsii interfaces are no runtime classes: an IKey is what has a key ARN.
        if log_encryption_key is not None and not hasattr(log_encryption_key, "key_arn"):
            problems.append(_argument("log_encryption_key", log_encryption_key, "None or an aws_kms.IKey"))
        raise_for_errors(problems)
        raise_for_errors(check_config_names_cluster(cluster, config))
        super().__init__(scope, construct_id)
        self.cluster = cluster
        self.config = config
        self.system_nodegroups = tuple(system_nodegroups)
        self.facts = NeuronClusterFacts.of(config)

        self.neuron_nodegroups = self._add_neuron_nodegroups()
        self.node_monitoring_agent = self._add_node_monitoring_agent()
        self.device_plugin = self._add_device_plugin()
        self.cluster_autoscaler = self._add_cluster_autoscaler()
        self.container_insights = self._add_container_insights()
        self.keda = self._add_keda()
        self.model_storage = self._add_model_storage()
        self.quota_check = self._add_quota_check(log_encryption_key)

    def _add_neuron_nodegroups(self) -> dict[str, NeuronNodegroup]:
        return {
            group.name: NeuronNodegroup.from_spec(
                self,
                f"NeuronNodegroup-{group.name}",
                cluster=self.cluster,
                spec=group,
                acknowledge=self.config.acknowledge,
            )
            for group in self.config.node_groups
        }

    def _add_node_monitoring_agent(self) -> eks.Addon:
        """Node auto-repair of the Neuron node groups acts on what this agent reports, failed Neuron devices
        included."""
        agent = eks.Addon(
            self, "NodeMonitoringAgent", cluster=self.cluster, addon_name=versions.NODE_MONITORING_AGENT_ADDON
        )
        # After the system nodes, so that its DaemonSet has nodes to run on as soon as EKS installs it.
        for nodegroup in self.system_nodegroups:
            agent.node.add_dependency(nodegroup)
        return agent

    def _add_device_plugin(self) -> NeuronDevicePlugin:
        # Container Insights runs its own neuron-monitor on every Neuron node: never a second one of ours beside it.
        return NeuronDevicePlugin.of(
            self.cluster,
            spec=self.config.deployed_device_plugin(),
            kubernetes_version=self.config.cluster.kubernetes_version,
        )

    def _add_cluster_autoscaler(self) -> ClusterAutoscaler | None:
        """Node groups move between min and max only if something moves them; optional for clusters that bring their
        own (e.g. Karpenter)."""
        spec = self.config.cluster
        if not spec.cluster_autoscaler:
            return None
        return ClusterAutoscaler(
            self,
            "ClusterAutoscaler",
            cluster=self.cluster,
            kubernetes_version=spec.kubernetes_version,
            non_neuron_nodegroups=list(self.system_nodegroups),
            cluster_name=spec.name,
        )

    def _add_container_insights(self) -> ContainerInsights | None:
        """Publishes the NeuronCore metrics that dashboards and ``neuroncore_utilization`` scaling read."""
        if not self.facts.container_insights:
            return None
        return ContainerInsights(self, "ContainerInsights", cluster=self.cluster)

    def _add_keda(self) -> Keda | None:
        """Turns the CloudWatch signals of the APIs into HorizontalPodAutoscalers."""
        return Keda(self, "Keda", cluster=self.cluster) if needs_keda(self.config) else None

    def _add_model_storage(self) -> ModelStorage | None:
        """The Mountpoint for S3 add-on the LLM APIs read their weights through, when some API names a model."""
        return add_model_storage(self, self.cluster, self.config)

    def _add_quota_check(self, log_encryption_key: kms.IKey | None) -> NeuronQuotaCheck | None:
        """Know before any Neuron instance launches that the Inf/Trn vCPU quotas cover every node group at max_size."""
        return add_quota_check(self, self.neuron_nodegroups, self.config, log_encryption_key=log_encryption_key)


def _argument(argument: str, value: object, valid: str) -> Problem:
    problem = argument_problem(argument, value, valid)
    return ARG_CAPACITY_ARGUMENT.problem(problem.path, problem.message)
