"""``InferentiaApi``: one inference API on a Neuron node group, as one Kubernetes manifest resource."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_eks_v2 as eks
from constructs import Construct

from ..config.models import ApiSpec, NodeGroupSpec
from ..config.problems import argument_problem, errors, raise_for_errors, rule, warnings
from ..manifests.api import family_of_group, render_api
from ..manifests.endpoint import EndpointTarget
from ..manifests.scaling import autoscaler_objects
from ..planning.scaling import check_autoscaling
from ..planning.sizing import ReplicaSizing, size_api
from ..planning.validation import check_api, check_node_group
from ._acknowledge import acknowledgement_problems, report_warnings

GIVEN_NODE_GROUP = rule("ARG002", "error", "the node group given to an API construct is the one its spec names")


class InferentiaApi(eks.KubernetesManifest):
    """An inference API on AWS Inferentia or Trainium: its own Namespace, a Deployment sized into NeuronCore Groups,
    a Service, a HorizontalPodAutoscaler, a PodDisruptionBudget and a NetworkPolicy admitting only the API port.

    It is the ``KubernetesManifest`` that applies them (one custom resource, child id ``Resource``), not a construct
    that holds one: a synth of 1,000 APIs then makes 1,000 construct nodes and jsii round trips fewer.

    The spec is validated against its node group before anything is created: every error is raised at once as a
    :class:`inferentia_cdk.problems.ConfigError` (paths like ``apis.<name>.processes_per_replica``); warnings (for
    example a model compiled for fewer cores than its NCG) are kept in :attr:`warnings` and reported as warning
    annotations with the id ``inferentia-cdk:<field>``, which ``Annotations.of(api).acknowledge_warning`` accepts;
    notes (pods Pending at deploy until Cluster Autoscaler adds nodes) become info annotations.

    :param cluster: the EKS cluster (``aws_eks_v2``) whose Neuron node group runs the API.
    :param spec: the API: image, port, compute, processes and threads, compiled cores, autoscaling, health path, env.
    :param node_group: the spec of the Neuron node group named by ``spec.node_group``; its nodes carry the label
        ``inferentia-cdk/node-group=<name>`` and the taint ``aws.amazon.com/neuron=true:NoSchedule``.
    :param scheduler_extension: default ``False``. Set it when the cluster runs the Neuron scheduler extension
        (``device_plugin.scheduler_extension``); pods then use its scheduler, which is required when ``compute.inf``
        is more than one chip but fewer than a node's.
    :param neuron_monitor: default ``False``. Set it when neuron-monitor runs on the Neuron nodes, so its requests are
        counted when checking that a replica's CPU and memory fit a node.
    :param endpoint: default ``None`` (cluster-internal only). The target group (and the load balancer's security
        group) of an :class:`ApiEndpoint`: the manifest then also holds a TargetGroupBinding, and the pods carry the
        load balancer's readiness gate and a pre-stop pause so that they are drained before they stop. Scaling on
        ``requests_per_replica`` needs it, with ``target_group_full_name``.
    :param container_insights: default ``False``. Set it when the cluster runs the amazon-cloudwatch-observability
        add-on (``ContainerInsights``): its DaemonSets' requests count against the node, and scaling on
        ``neuroncore_utilization`` needs its metrics.
    :param cluster_name: default the cluster's ``cluster_name``. The literal name, for the ``ClusterName`` dimension of
        the NeuronCore metric; needed only when the cluster's name is a token.
    :param acknowledge: default ``None``. Warnings acknowledged by rule code, each with its reason
        (``{"NCG003": "compiled small on purpose"}``, docs/rules.md): they are kept in :attr:`acknowledged` instead of
        becoming annotations. Only warning codes; an error cannot be acknowledged.
    :param region: default the stack's region. Where the KEDA triggers read CloudWatch, and the region of the
        bucket of an API with a ``model``; read only for those.

    An API with a ``model`` also gets a ServiceAccount named after it and a read-only S3 volume per model folder
    (Mountpoint for Amazon S3 CSI driver, which :class:`inferentia_cdk.constructs.model_storage.ModelStorage`
    installs); its read access comes from :class:`inferentia_cdk.constructs.model_access.ModelAccess`.

    The replica count is owned by a KEDA ScaledObject (with its TriggerAuthentication) for ``neuroncore_utilization``
    and ``requests_per_replica``, read from CloudWatch in the stack's region; for ``cpu`` by a plain
    HorizontalPodAutoscaler. KEDA itself must run on the cluster (:class:`inferentia_cdk.constructs.keda.Keda`).
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        cluster: eks.ICluster,
        spec: ApiSpec,
        node_group: NodeGroupSpec,
        scheduler_extension: bool = False,
        neuron_monitor: bool = False,
        endpoint: EndpointTarget | None = None,
        container_insights: bool = False,
        cluster_name: str | None = None,
        region: str | None = None,
        acknowledge: Mapping[str, str] | None = None,
    ) -> None:
        arguments = [
            argument_problem(name, value, valid)
            for name, value, wanted, valid in (
                ("spec", spec, ApiSpec, "an ApiSpec (ApiSpec.model_validate builds one from a dict)"),
                ("node_group", node_group, NodeGroupSpec, "a NodeGroupSpec (NodeGroupSpec.model_validate builds one)"),
                ("scheduler_extension", scheduler_extension, bool, "True or False"),
                ("neuron_monitor", neuron_monitor, bool, "True or False"),
            )
            if not isinstance(value, wanted)
        ]
        raise_for_errors(arguments)
        if spec.node_group != node_group.name:
            raise_for_errors(
                [
                    GIVEN_NODE_GROUP.problem(
                        ("node_group",),
                        f"API {spec.name!r} names node group {spec.node_group!r} but was given node group "
                        f"{node_group.name!r}",
                    )
                ]
            )
        # The group's own errors first: without a valid group the API's sizing rules cannot run.
        problems = errors(check_node_group(node_group, ("node_group",))) + check_api(
            spec,
            node_group,
            ("apis", spec.name),
            scheduler_extension=scheduler_extension,
            neuron_monitor=neuron_monitor,
            container_insights=container_insights,
        )
        problems += check_autoscaling(
            spec,
            ("apis", spec.name),
            exposed=endpoint is not None and endpoint.target_group_full_name is not None,
            # Off is not proof that nothing publishes NeuronCore metrics for a cluster this construct did not build.
            container_insights=True if container_insights else None,
        )
        # Raise before the construct joins the tree: a bad spec leaves no half-built API behind.
        raise_for_errors(problems + acknowledgement_problems(acknowledge))
        sizing = size_api(spec.compute, family_of_group(node_group), spec.processes_per_replica)
        # Only the CloudWatch triggers name a region and cluster; each read is a round trip to the jsii process, so a
        # CPU-scaled API (a plain HPA) makes none.
        on_cloudwatch = spec.autoscaling.metric != "cpu"
        autoscaler = autoscaler_objects(
            spec,
            cluster_name=(cluster_name or cluster.cluster_name) if on_cloudwatch else "",
            region=(region or cdk.Stack.of(scope).region) if on_cloudwatch else "",
            target_group_full_name=endpoint.target_group_full_name if endpoint is not None else None,
        )
        objects = render_api(
            spec,
            node_group,
            scheduler_extension=scheduler_extension,
            endpoint=endpoint,
            autoscaler=autoscaler,
            region=(region or cdk.Stack.of(scope).region) if spec.model is not None else "",
        )
        super().__init__(scope, construct_id, cluster=cluster, manifest=objects)
        self.spec = spec
        self.node_group = node_group
        self.sizing: ReplicaSizing = sizing
        self.objects: list[dict[str, Any]] = objects
        self.warnings, self.acknowledged = report_warnings(self, warnings(problems), acknowledge)
        for note in (p for p in problems if p.severity == "note"):
            cdk.Annotations.of(self).add_info(note.message)

    @property
    def namespace(self) -> str:
        """The API's namespace (its name); its Service is ``<name>.<name>.svc.cluster.local`` on ``spec.port``."""
        return self.spec.name
