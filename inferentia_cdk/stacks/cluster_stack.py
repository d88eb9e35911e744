"""The cluster stack: network, EKS control plane, system nodes, and the Neuron capacity of the config."""

from __future__ import annotations

from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_eks_v2 as eks
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk.lambda_layer_kubectl_v36 import KubectlV36Layer
from constructs import Construct

from ..constructs.cluster_autoscaler import ClusterAutoscaler
from ..constructs.neuron_device_plugin import NeuronDevicePlugin
from ..constructs.neuron_nodegroup import NeuronNodegroup
from ..constructs.neuron_quota_check import add_quota_check
from ..facts import versions
from ..spec.models import InferentiaConfig

_ENDPOINT_ACCESS = {
    "private": eks.EndpointAccess.PRIVATE,
    "public_and_private": eks.EndpointAccess.PUBLIC_AND_PRIVATE,
    "public": eks.EndpointAccess.PUBLIC,
}

KUBERNETES_VERSIONS = {
    "1.35": eks.KubernetesVersion.V1_35,
    "1.36": eks.KubernetesVersion.V1_36,
}

_ALL_CONTROL_PLANE_LOGS = [
    eks.ClusterLoggingTypes.API,
    eks.ClusterLoggingTypes.AUDIT,
    eks.ClusterLoggingTypes.AUTHENTICATOR,
    eks.ClusterLoggingTypes.CONTROLLER_MANAGER,
    eks.ClusterLoggingTypes.SCHEDULER,
]


class InferentiaClusterStack(cdk.Stack):
    """VPC, encrypted EKS cluster with all control-plane logs, system nodes, the config's Neuron node groups and the
    add-ons they need: the Neuron device plugin, the EKS node monitoring agent, Cluster Autoscaler and metrics-server.

    APIs live in :class:`InferentiaApisStack`, so changing an API never touches this stack's template.
    """

    def __init__(self, scope: Construct, construct_id: str, *, config: InferentiaConfig, **kwargs: Any) -> None:
        super().__init__(scope, construct_id, **kwargs)
        self.config = config
        spec = config.cluster

        self.key = kms.Key(
            self,
            "Key",
            description=f"Envelope encryption of Kubernetes secrets and logs of EKS cluster {spec.name}",
            enable_key_rotation=True,
        )
        self.key.grant_encrypt_decrypt(iam.ServicePrincipal(f"logs.{self.region}.amazonaws.com"))

        self.vpc = ec2.Vpc(
            self,
            "Vpc",
            max_azs=spec.max_azs,
            nat_gateways=spec.nat_gateways,
            subnet_configuration=[
                ec2.SubnetConfiguration(name="public", subnet_type=ec2.SubnetType.PUBLIC, cidr_mask=24),
                ec2.SubnetConfiguration(name="nodes", subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS, cidr_mask=19),
            ],
        )
        flow_log_group = logs.LogGroup(
            self,
            "FlowLogGroup",
            retention=logs.RetentionDays.ONE_YEAR,
            encryption_key=self.key,
            removal_policy=cdk.RemovalPolicy.DESTROY,
        )
        self.vpc.add_flow_log("FlowLog", destination=ec2.FlowLogDestination.to_cloud_watch_logs(flow_log_group))

        self.cluster = eks.Cluster(
            self,
            "Cluster",
            cluster_name=spec.name,
            version=KUBERNETES_VERSIONS[spec.kubernetes_version],
            vpc=self.vpc,
            vpc_subnets=[ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS)],
            endpoint_access=_ENDPOINT_ACCESS[spec.endpoint_access],
            secrets_encryption_key=self.key,
            cluster_logging=_ALL_CONTROL_PLANE_LOGS,
            default_capacity_type=eks.DefaultCapacityType.NODEGROUP,
            default_capacity=0,
            kubectl_provider_options=eks.KubectlProviderOptions(kubectl_layer=KubectlV36Layer(self, "KubectlLayer")),
        )

        system = spec.system_node_group
        self.system_nodegroup = eks.Nodegroup(
            self,
            "SystemNodegroup",
            cluster=self.cluster,
            ami_type=eks.NodegroupAmiType.AL2023_X86_64_STANDARD,
            instance_types=[ec2.InstanceType(t) for t in system.instance_types],
            min_size=system.min_size,
            desired_size=system.desired_size,
            max_size=system.max_size,
            subnets=ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS),
            labels={"inferentia-cdk/role": "system"},
        )

        # Neuron capacity: one node group per config entry, one device plugin for all of them.
        self.neuron_nodegroups: dict[str, NeuronNodegroup] = {
            group.name: NeuronNodegroup.from_spec(
                self, f"NeuronNodegroup-{group.name}", cluster=self.cluster, spec=group
            )
            for group in config.node_groups
        }
        # Node auto-repair of the Neuron node groups acts on what this agent reports, failed Neuron devices included.
        self.node_monitoring_agent = eks.Addon(
            self, "NodeMonitoringAgent", cluster=self.cluster, addon_name=versions.NODE_MONITORING_AGENT_ADDON
        )
        # After the system nodes, so that its DaemonSet has nodes to run on as soon as EKS installs it.
        self.node_monitoring_agent.node.add_dependency(self.system_nodegroup)
        self.device_plugin = NeuronDevicePlugin.of(
            self.cluster, spec=config.device_plugin, kubernetes_version=spec.kubernetes_version
        )
        # Scaling: node groups move between min and max only if something moves them, and HorizontalPodAutoscalers
        # act only on metrics. Both are optional for clusters that bring their own (e.g. Karpenter).
        self.cluster_autoscaler: ClusterAutoscaler | None = None
        if spec.cluster_autoscaler:
            self.cluster_autoscaler = ClusterAutoscaler(
                self,
                "ClusterAutoscaler",
                cluster=self.cluster,
                kubernetes_version=spec.kubernetes_version,
                non_neuron_nodegroups=[self.system_nodegroup],
                cluster_name=spec.name,
            )
        self.metrics_server: eks.Addon | None = None
        if spec.metrics_server:
            # The EKS community add-on; its version is left to EKS, which picks the default for the cluster version.
            self.metrics_server = eks.Addon(self, "MetricsServer", cluster=self.cluster, addon_name="metrics-server")

        # Know before any Neuron instance launches that the Inf/Trn vCPU quotas cover every node group at max_size.
        self.quota_check = add_quota_check(self, self.neuron_nodegroups, config, log_encryption_key=self.key)
