"""The cluster stack: the config's :class:`NeuronCluster` and the outputs an operator needs."""

from __future__ import annotations

from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_eks_v2 as eks
from constructs import Construct

from ..config.models import InferentiaConfig
from ..constructs.neuron_capacity import CheckedConfig
from ..constructs.neuron_cluster import NeuronCluster

NEURON_CLUSTER_ID = "Default"
"""The id of the stack's :class:`NeuronCluster`. CDK leaves a ``Default`` path segment out of logical ids, so every
resource keeps the logical id it had when this stack built the cluster itself: a changed id would replace the
running EKS cluster."""


class InferentiaClusterStack(cdk.Stack):
    """A :class:`NeuronCluster` (VPC, encrypted EKS cluster with all control-plane logs, system nodes, the config's
    Neuron node groups and the add-ons they need) and its outputs: the cluster's name, the command that gets kubectl
    access and, with endpoints, the APIs' load balancer DNS name.

    APIs live in :class:`InferentiaApisStack`, so changing an API never touches this stack's template.
    ``_checked_config`` is internal (``build_app`` hands its check of ``config`` down to the :class:`NeuronCluster`).
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: InferentiaConfig,
        _checked_config: CheckedConfig | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        self.config = config
        self.neuron_cluster = NeuronCluster(self, NEURON_CLUSTER_ID, config=config, _checked_config=_checked_config)
        self._add_outputs()

    @property
    def availability_zones(self) -> list[str]:
        """The zones the config names, when it names them: aws-cdk-lib then has nothing to look up (the Vpc checks given
        zones against this list, which an environment-specific stack otherwise asks EC2 for at synth)."""
        zones = self.config.cluster.availability_zones if hasattr(self, "config") else None
        return list(zones) if zones is not None else list(super().availability_zones)

    @property
    def cluster(self) -> eks.Cluster:
        """The EKS cluster of :attr:`neuron_cluster`."""
        return self.neuron_cluster.cluster

    def _add_outputs(self) -> None:
        name = self.config.cluster.name
        load_balancer = self.neuron_cluster.api_load_balancer
        if load_balancer is not None:
            cdk.CfnOutput(
                self,
                "ApiLoadBalancerDnsName",
                value=load_balancer.load_balancer.load_balancer_dns_name,
                description="DNS name of the APIs' load balancer (point endpoints.domain_name here)",
            )
        cdk.CfnOutput(self, "ClusterName", value=name, description="EKS cluster name")
        cdk.CfnOutput(
            self,
            "UpdateKubeconfigCommand",
            value=f"aws eks update-kubeconfig --name {name} --region {self.region}",
            description="Run with the credentials of a cluster.admins principal to get kubectl access",
        )
