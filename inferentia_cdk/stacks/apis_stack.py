"""The APIs stack: one InferentiaApi per API of the config, on the cluster of the cluster stack, spread over nested
stacks by a hash of each API's name (``planning.placement``)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import aws_cdk as cdk
from constructs import Construct

from ..config.models import ApiSpec, InferentiaConfig
from ..constructs.inferentia_api import InferentiaApi
from ..constructs.model_access import ModelAccess
from ..manifests.endpoint import EndpointTarget
from ..planning.endpoints import api_url
from ..planning.placement import shard_id, shard_of
from ..planning.scaling import signal_of
from .cluster_stack import InferentiaClusterStack

if TYPE_CHECKING:
    from ..constructs.api_endpoint import ApiEndpoint
    from ..constructs.api_monitoring import ApiMonitoring

API_ID = "Default"
"""Each API's :class:`InferentiaApi` in the API's scope. CDK leaves ``Default`` out of logical ids, so the manifest's
logical id is the API's name, as when it was the shard's child."""
ENDPOINT_ID = "Endpoint"
MONITORING_ID = "Monitoring"
MODEL_ACCESS_ID = "ModelAccess"


class InferentiaApisStack(cdk.Stack):
    """The config's APIs. Kept apart from the cluster so that changing an API never touches the cluster stack.

    Each API lives in the nested stack of its shard (:attr:`shards`, ids ``Shard00`` to ``Shard31``), which
    ``planning.placement.shard_of`` picks from the API's name alone, so that adding, removing or renaming an API never
    moves another; each nested stack has CloudFormation's per-template limits to itself. Only shards that hold an
    API exist. This stack itself holds the nested stacks and the URL outputs of exposed APIs.

    With no APIs the stack synthesizes with no resources; ``cdk deploy`` skips such a stack (and deletes a deployed
    one, which removes the last API's objects from the cluster).
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: InferentiaConfig,
        cluster_stack: InferentiaClusterStack,
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        self.config = config
        self.cluster_stack = cluster_stack
        self.add_stack_dependency(cluster_stack, "APIs run on the cluster and node groups of the cluster stack")
        # Read the cluster's kubectl provider through Fn::GetStackOutput, not Export/ImportValue: the cluster stack can
        # then change what it exports without a deadly embrace with this stack. cdk.json sets the same app-wide; saying
        # it here keeps apps built without cdk.json (tests, other CDK apps) identical and free of the default warning.
        cdk.CrossStackReferences.of(self).consume(cdk.ReferenceStrength.WEAK)
        self.apis: dict[str, InferentiaApi] = {}
        self.endpoints: dict[str, ApiEndpoint] = {}
        self.monitoring: dict[str, ApiMonitoring] = {}
        self.model_access: dict[str, ModelAccess] = {}
        # The cluster's facts, each a pass over every API: asked once, not once per API.
        self.facts = cluster_stack.neuron_cluster.facts
        self.shards: dict[int, cdk.NestedStack] = {}
        self._stack_name = self.stack_name  # read once: each read is a round trip to the jsii process
        self._region = self.region
        for spec in config.apis:
            self._add_api(self._shard(shard_of(spec.name)), spec)

    def _shard(self, shard: int) -> cdk.NestedStack:
        nested = self.shards.get(shard)
        if nested is None:
            nested = cdk.NestedStack(
                self, shard_id(shard), description=f"inferentia-cdk: APIs of shard {shard} ({self._stack_name})"
            )
            self.shards[shard] = nested
        return nested

    def _add_api(self, shard: Construct, spec: ApiSpec) -> None:
        """Everything of one API, in a scope of its own in ``shard``: its endpoint (when exposed), its model access
        (when it names a model), its objects and its monitoring there, its URL output here.

        The unit of placement: every construct of an API is created here, under the API's name, so that reordering
        APIs replaces nothing; its children's ids are fixed words, so no API name can collide with another API's
        constructs (APIs ``g`` and ``g-monitoring``), and API names are unique.
        """
        scope = Construct(shard, spec.name)
        endpoint = self._add_endpoint(scope, spec)
        model_access = self._add_model_access(scope, spec)
        self.apis[spec.name] = InferentiaApi(
            scope,
            API_ID,
            cluster=self.cluster_stack.neuron_cluster.cluster,
            facts=self.facts,
            spec=spec,
            endpoint=endpoint,
            region=self._region,
            acknowledge=self.config.acknowledge,
        )
        if model_access is not None:
            # The Pod Identity association first: Mountpoint asks for the pods' credentials when it mounts.
            self.apis[spec.name].node.add_dependency(model_access)
        self._add_monitoring(scope, spec)

    def _add_endpoint(self, scope: Construct, spec: ApiSpec) -> EndpointTarget | None:
        """The exposed API's target group and listener rule, and its URL output; None for a cluster-internal API."""
        neuron_cluster = self.cluster_stack.neuron_cluster
        plan, load_balancer = neuron_cluster.endpoints_plan, neuron_cluster.api_load_balancer
        exposed = plan.api(spec.name) if plan is not None else None
        if exposed is None or plan is None or load_balancer is None:
            return None
        # Imported here, as ApiLoadBalancer in NeuronCluster: its constants are jsii calls at import.
        from ..constructs.api_endpoint import ApiEndpoint

        endpoint = ApiEndpoint(scope, ENDPOINT_ID, api=exposed, listener=load_balancer.listener, vpc=neuron_cluster.vpc)
        self.endpoints[spec.name] = endpoint
        # On this stack, not the shard: cdk deploy prints, and other stacks read, only top-level outputs.
        cdk.CfnOutput(
            self,
            exposed.output_id,
            value=api_url(plan, exposed, load_balancer.host),
            description=f"URL of API {spec.name}",
        )
        return EndpointTarget(
            endpoint.target_group.target_group_arn,
            load_balancer.security_group.security_group_id,
            endpoint.target_group.target_group_full_name,
            load_balancer.subnet_cidrs,
        )

    def _add_model_access(self, scope: Construct, spec: ApiSpec) -> ModelAccess | None:
        """The LLM API's read access to its model's S3 prefixes, for its service account only; None without a model."""
        if spec.model is None:
            return None
        access = ModelAccess(scope, MODEL_ACCESS_ID, cluster=self.cluster_stack.neuron_cluster.cluster, spec=spec)
        self.model_access[spec.name] = access
        return access

    def _add_monitoring(self, scope: Construct, spec: ApiSpec) -> None:
        """The API's dashboard (and alarms, when exposed), if dashboards are on and something publishes its metrics."""
        observability = self.config.observability
        endpoint = self.endpoints.get(spec.name)
        if not observability.dashboards or not (self.facts.container_insights or endpoint is not None):
            return
        # Imported here: aws_cloudwatch costs 0.1 s of import that an app without dashboards should not pay.
        from ..constructs.api_monitoring import ApiMonitoring

        load_balancer = self.cluster_stack.neuron_cluster.api_load_balancer
        self.monitoring[spec.name] = ApiMonitoring(
            scope,
            MONITORING_ID,
            api_name=spec.name,
            cluster_name=self.facts.cluster_name,
            signal=signal_of(spec.autoscaling),
            container_insights=self.facts.container_insights,
            target_group=endpoint.target_group if endpoint is not None else None,
            load_balancer_full_name=(
                load_balancer.load_balancer.load_balancer_full_name
                if endpoint is not None and load_balancer is not None
                else None
            ),
            alarm_topic_arn=observability.alarm_topic_arn,
        )
