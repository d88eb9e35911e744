"""``InferentiaApi``: one inference API on a Neuron node group of a cluster, as the Kubernetes manifest resource of its
objects."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_eks_v2 as eks
from constructs import Construct

from ..config.models import ApiSpec, NodeGroupSpec
from ..config.problems import Problem, argument_problem, raise_for_errors, rule
from ..manifests.api import family_of_group, render_api
from ..manifests.endpoint import EndpointTarget
from ..manifests.scaling import autoscaler_objects
from ..planning.cluster_facts import NeuronClusterFacts
from ..planning.scaling import check_autoscaling
from ..planning.sizing import ReplicaSizing, size_api
from ..planning.validation import check_api
from ._acknowledge import acknowledgement_problems, report_warnings

ARG_API_ARGUMENT = rule("ARG101", "error", "InferentiaApi's keyword arguments have their types")


def _has_attribute(value: object, name: str) -> bool:
    """Whether ``value`` has attribute ``name``, asked of its class first: ``hasattr`` on a jsii object reads the
    property, one round trip to the jsii process per API."""
    return hasattr(type(value), name) or hasattr(value, name)


def check_api_arguments(
    cluster: object, facts: object, spec: object, endpoint: object, region: object
) -> list[Problem]:
    """Each keyword argument of :class:`InferentiaApi` has its type; ``None`` only where it is a default."""
    checks: tuple[tuple[str, object, bool, str], ...] = (
        ("cluster", cluster, _has_attribute(cluster, "cluster_name"), "an aws_eks_v2.ICluster with a kubectl provider"),
        (
            "facts",
            facts,
            isinstance(facts, NeuronClusterFacts),
            "NeuronClusterFacts (NeuronCluster.facts, NeuronCapacity.facts or NeuronClusterFacts(...))",
        ),
        ("spec", spec, isinstance(spec, ApiSpec), "an ApiSpec (ApiSpec.model_validate builds one from a dict)"),
        (
            "endpoint",
            endpoint,
            endpoint is None or isinstance(endpoint, EndpointTarget),
            "None (cluster-internal) or an EndpointTarget",
        ),
        ("region", region, region is None or (isinstance(region, str) and region != ""), "None or a region name"),
    )
    return [_argument(name, value, valid) for name, value, ok, valid in checks if not ok]


class InferentiaApi(eks.KubernetesManifest):
    """An inference API on AWS Inferentia or Trainium: its own Namespace, a Deployment sized into NeuronCore Groups,
    a Service, a HorizontalPodAutoscaler (or KEDA's ScaledObject), a PodDisruptionBudget and a NetworkPolicy
    admitting only the API port.

    It is the ``KubernetesManifest`` that applies them, not a construct holding one: the construct node and the jsii
    round trip of a holder cost about 1 ms per API, which a synth of 1,000 APIs pays 1,000 times (bench/PROFILE.md).
    Built with the id ``Default`` in a scope of its own (as the APIs stack does), its logical id is the scope's.

    The spec is checked against the cluster before anything is created: every error is raised at once as a
    :class:`inferentia_cdk.ConfigError` (paths like ``apis.<name>.processes_per_replica``), an API whose
    ``node_group`` is not one of the cluster's included; warnings (for example a model compiled for fewer cores than
    its NCG) are kept in :attr:`warnings` and reported as warning annotations with the id ``inferentia-cdk:<field>``,
    which ``Annotations.of(api).acknowledge_warning`` accepts, unless ``acknowledge`` names their code.
    Notes (pods Pending at deploy until Cluster Autoscaler adds nodes) become info annotations.

    :param cluster: the EKS cluster (``aws_eks_v2``) whose Neuron node group runs the API.
    :param facts: what the API must agree with about that cluster (:class:`NeuronClusterFacts`): its Neuron node
        groups (whose nodes carry the label ``inferentia-cdk/node-group=<name>`` and the taint
        ``aws.amazon.com/neuron=true:NoSchedule``), whether the Neuron scheduler extension, our neuron-monitor or
        Container Insights run, and its name. ``NeuronCluster.facts`` and ``NeuronCapacity.facts`` give it.
    :param spec: the API: node group, image, port, compute, processes and threads, compiled cores, autoscaling,
        health path, env.
    :param endpoint: default ``None`` (cluster-internal only). The target group (and the load balancer's security
        group) of an :class:`ApiEndpoint`: the manifest then also holds a TargetGroupBinding, and the pods carry the
        load balancer's readiness gate and a pre-stop pause so that they are drained before they stop. Scaling on
        ``requests_per_replica`` needs it, with ``target_group_full_name``.
    :param acknowledge: default ``None``. Warnings acknowledged by rule code, each with its reason
        (``{"NCG003": "compiled small on purpose"}``, docs/rules.md): they are kept in :attr:`acknowledged` instead of
        becoming annotations. Only warning codes; an error cannot be acknowledged.
    :param region: default the stack's region. Where the KEDA triggers read CloudWatch, and the region of the
        bucket of an API with a ``model``; read only for those.

    An API with a ``model`` also gets a ServiceAccount named after it and a read-only S3 volume per model folder
    (Mountpoint for Amazon S3 CSI driver, which :class:`inferentia_cdk.constructs.model_storage.ModelStorage`
    installs); its read access comes from :class:`inferentia_cdk.constructs.model_access.ModelAccess`.

    The replica count is owned by a KEDA ScaledObject (with its TriggerAuthentication) for ``neuroncore_utilization``
    and ``requests_per_replica``, read from CloudWatch; for ``cpu`` by a plain HorizontalPodAutoscaler. KEDA itself
    must run on the cluster (``NeuronCapacity`` adds it when the config's APIs need it).
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        cluster: eks.ICluster,
        facts: NeuronClusterFacts,
        spec: ApiSpec,
        endpoint: EndpointTarget | None = None,
        region: str | None = None,
        acknowledge: Mapping[str, str] | None = None,
    ) -> None:
        raise_for_errors(
            check_api_arguments(cluster, facts, spec, endpoint, region) + acknowledgement_problems(acknowledge)
        )
        # Every check and the rendering come before the manifest joins the tree: a bad spec leaves no half-built API.
        findings = _checked(spec, facts, endpoint)
        node_group = _node_group(spec, facts)
        objects = render_api_objects(spec, facts, node_group, scope=scope, endpoint=endpoint, region=region)
        super().__init__(scope, construct_id, cluster=cluster, manifest=objects)
        self.spec = spec
        self.facts = facts
        self.node_group = node_group
        self.sizing: ReplicaSizing = size_api(spec.compute, family_of_group(node_group), spec.processes_per_replica)
        self.objects: list[dict[str, Any]] = objects
        self.warnings, self.acknowledged = report_warnings(
            self, [p for p in findings if p.severity == "warning"], acknowledge
        )
        _annotate_notes(self, findings)

    @property
    def namespace(self) -> str:
        """The API's namespace (its name); its Service is ``<name>.<name>.svc.cluster.local`` on ``spec.port``."""
        return self.spec.name

    @property
    def manifest(self) -> eks.KubernetesManifest:
        """The ``KubernetesManifest`` of the API's objects: the API itself (kept for code written when the API held
        its manifest as a child)."""
        return self


def render_api_objects(
    spec: ApiSpec,
    facts: NeuronClusterFacts,
    node_group: NodeGroupSpec,
    *,
    scope: Construct,
    endpoint: EndpointTarget | None,
    region: str | None,
) -> list[dict[str, Any]]:
    """The Kubernetes objects of the API on ``node_group`` of the cluster ``facts`` describes: its own objects and the
    autoscaler's. The stack's region (of ``scope``) is read only when ``region`` is not given and an object names it:
    each read is a round trip to the jsii process, so a CPU-scaled API without a model (a plain HPA) makes none."""
    on_cloudwatch = spec.autoscaling.metric != "cpu"
    needs_region = on_cloudwatch or spec.model is not None
    stack_region = (region or cdk.Stack.of(scope).region) if needs_region else ""
    autoscaler = autoscaler_objects(
        spec,
        cluster_name=facts.cluster_name if on_cloudwatch else "",
        region=stack_region if on_cloudwatch else "",
        target_group_full_name=endpoint.target_group_full_name if endpoint is not None else None,
    )
    return render_api(
        spec,
        node_group,
        scheduler_extension=facts.scheduler_extension,
        endpoint=endpoint,
        autoscaler=autoscaler,
        region=stack_region if spec.model is not None else "",
    )


def _node_group(spec: ApiSpec, facts: NeuronClusterFacts) -> NodeGroupSpec:
    node_group = facts.node_group(spec.node_group)
    assert node_group is not None  # _checked refused any other
    return node_group


def _annotate_notes(api: InferentiaApi, findings: tuple[Problem, ...]) -> None:
    """Notes (pods Pending at deploy until Cluster Autoscaler adds nodes) as info annotations of the API."""
    for note in (p for p in findings if p.severity == "note"):
        cdk.Annotations.of(api).add_info(note.message)


def _checked(spec: ApiSpec, facts: NeuronClusterFacts, endpoint: EndpointTarget | None) -> tuple[Problem, ...]:
    """The rules the config path runs on one API, against its cluster's facts; raises on errors, returns the warnings
    and notes."""
    path = ("apis", spec.name)
    raise_for_errors(facts.check_node_group(spec.node_group, path))
    node_group = facts.node_group(spec.node_group)
    assert node_group is not None
    problems = check_api(
        spec,
        node_group,
        path,
        scheduler_extension=facts.scheduler_extension,
        neuron_monitor=facts.neuron_monitor,
        container_insights=facts.container_insights,
    )
    problems += check_autoscaling(
        spec,
        path,
        exposed=endpoint is not None and endpoint.target_group_full_name is not None,
        # Off is not proof that nothing publishes NeuronCore metrics for a cluster this library did not build.
        container_insights=True if facts.container_insights else None,
    )
    raise_for_errors(problems)
    return tuple(p for p in problems if p.severity != "error")


def _argument(argument: str, value: object, valid: str) -> Problem:
    problem = argument_problem(argument, value, valid)
    return ARG_API_ARGUMENT.problem(problem.path, problem.message)
