"""The APIs stack: one InferentiaApi per API of the config, on the cluster of the cluster stack."""

from __future__ import annotations

from typing import Any

import aws_cdk as cdk
from constructs import Construct

from ..constructs.inferentia_api import InferentiaApi
from ..spec.models import InferentiaConfig
from .cluster_stack import InferentiaClusterStack


class InferentiaApisStack(cdk.Stack):
    """The config's APIs. Kept apart from the cluster so that changing an API never touches the cluster stack.

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
        plugin = config.device_plugin
        self.apis: dict[str, InferentiaApi] = {}
        for spec in config.apis:
            node_group = config.node_group(spec.node_group)
            if node_group is None:
                raise ValueError(f"API {spec.name!r} names node group {spec.node_group!r}, which the config lacks")
            self.apis[spec.name] = InferentiaApi(
                self,
                # The API's name as construct id: logical ids follow names, so reordering APIs replaces nothing.
                spec.name,
                cluster=cluster_stack.cluster,
                spec=spec,
                node_group=node_group,
                scheduler_extension=plugin.scheduler_extension,
                neuron_monitor=plugin.monitor,
            )
