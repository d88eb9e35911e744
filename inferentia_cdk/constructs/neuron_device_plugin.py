"""NeuronDevicePlugin: the Neuron device plugin of one cluster, and optionally its scheduler extension and monitor.

The objects themselves are rendered by :mod:`inferentia_cdk.manifests.device_plugin`; this construct applies them as one
``KubernetesManifest``.
"""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_eks_v2 as eks
from constructs import Construct

from ..catalog import versions
from ..config.models import KUBERNETES_VERSION, DevicePluginSpec, kubernetes_version_error
from ..config.problems import argument_problem, raise_for_errors
from ..manifests.device_plugin import neuron_objects


class NeuronDevicePlugin(Construct):
    """ServiceAccount, ClusterRole, ClusterRoleBinding and DaemonSet of the Neuron device plugin, in kube-system.

    One DaemonSet serves every Neuron node group of a cluster (its node affinity lists every Neuron instance type), so
    create it with :meth:`of`, which returns the cluster's existing plugin when there is one.

    With ``spec.scheduler_extension`` it adds the Neuron scheduler extender and the second scheduler ``my-scheduler``
    (on system nodes); pods then set ``schedulerName: my-scheduler`` for contiguous chip and core allocation. With
    ``spec.monitor`` it adds neuron-monitor on every Neuron node and a Service Prometheus can scrape.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        cluster: eks.ICluster,
        spec: DevicePluginSpec | None = None,
        kubernetes_version: str = versions.DEFAULT_KUBERNETES_VERSION,
    ) -> None:
        problems = []
        if spec is not None and not isinstance(spec, DevicePluginSpec):
            problems.append(argument_problem("spec", spec, "None or a DevicePluginSpec (.model_validate builds one)"))
        version_error = kubernetes_version_error(kubernetes_version)
        if version_error:
            problems.append(KUBERNETES_VERSION.problem(("kubernetes_version",), version_error))
        raise_for_errors(problems)
        super().__init__(scope, construct_id)
        self.cluster = cluster
        self.spec = spec or DevicePluginSpec()
        self.kubernetes_version = kubernetes_version
        self.objects = neuron_objects(self.spec, kubernetes_version)
        self.manifest = eks.KubernetesManifest(self, "Resource", cluster=cluster, manifest=self.objects)

    @classmethod
    def of(
        cls,
        cluster: eks.ICluster,
        *,
        spec: DevicePluginSpec | None = None,
        kubernetes_version: str = versions.DEFAULT_KUBERNETES_VERSION,
    ) -> NeuronDevicePlugin:
        """The device plugin of ``cluster``, created beside the cluster (a child of the cluster's scope) on first call,
        so that two clusters in one stack each get their own.

        Later calls return the same construct; asking again with a different ``spec`` or version is an error, since
        one cluster cannot run two device plugins.
        """
        beside = cluster.node.scope or cdk.Stack.of(cluster)
        construct_id = f"{cluster.node.id}NeuronDevicePlugin"
        existing = beside.node.try_find_child(construct_id)
        wanted = spec or DevicePluginSpec()
        if existing is None:
            return cls(beside, construct_id, cluster=cluster, spec=wanted, kubernetes_version=kubernetes_version)
        if not isinstance(existing, NeuronDevicePlugin) or existing.cluster is not cluster:
            raise ValueError(f"{existing.node.path} exists and is not the Neuron device plugin of {cluster.node.path}")
        if existing.spec != wanted or existing.kubernetes_version != kubernetes_version:
            raise ValueError(
                f"{cluster.node.path} already has a Neuron device plugin with {existing.spec!r} for Kubernetes "
                f"{existing.kubernetes_version}; a cluster runs one plugin, so ask for the same settings"
            )
        return existing
