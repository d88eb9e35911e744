"""The cluster stack: network, EKS control plane, system nodes, and the Neuron capacity of the config."""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING, Any

import aws_cdk as cdk
import jsii
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_eks_v2 as eks
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk.lambda_layer_kubectl_v36 import KubectlV36Layer
from constructs import Construct, IConstruct

from ..catalog import versions
from ..config.models import ClusterSpec, InferentiaConfig
from ..constructs.cluster_autoscaler import ClusterAutoscaler
from ..constructs.cluster_key import cluster_key
from ..constructs.keda import Keda
from ..constructs.model_storage import add_model_storage
from ..constructs.network_policy import enforce_network_policies
from ..constructs.neuron_device_plugin import NeuronDevicePlugin
from ..constructs.neuron_nodegroup import NeuronNodegroup
from ..constructs.neuron_quota_check import add_quota_check
from ..constructs.observability import ContainerInsights
from ..planning.endpoints import CLUSTER_VPC_CIDR, plan_endpoints
from ..planning.scaling import needs_keda

if TYPE_CHECKING:
    from ..constructs.api_load_balancer import ApiLoadBalancer

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


@jsii.implements(cdk.IAspect)
class _EncryptLogGroups:
    """Encrypts every log group without a key of its own with ``key``."""

    def __init__(self, key: kms.IKey) -> None:
        self._key = key

    def visit(self, node: IConstruct) -> None:
        if isinstance(node, logs.CfnLogGroup) and node.kms_key_id is None:
            node.kms_key_id = self._key.key_arn


def vpc_zone_props(spec: ClusterSpec) -> dict[str, Any]:
    """The VPC's zones: those the config names (no lookup, so an environment-specific stack synthesizes offline), else
    ``max_azs`` of the region's (looked up once with credentials and cached in cdk.context.json). aws-cdk-lib takes
    one of the two, never both."""
    if spec.availability_zones is not None:
        return {"availability_zones": list(spec.availability_zones)}
    return {"max_azs": spec.max_azs}


class InferentiaClusterStack(cdk.Stack):
    """VPC, encrypted EKS cluster with all control-plane logs, system nodes, the config's Neuron node groups and the
    add-ons they need: the Neuron device plugin, the EKS node monitoring agent, Cluster Autoscaler and metrics-server.

    APIs live in :class:`InferentiaApisStack`, so changing an API never touches this stack's template.
    """

    def __init__(self, scope: Construct, construct_id: str, *, config: InferentiaConfig, **kwargs: Any) -> None:
        super().__init__(scope, construct_id, **kwargs)
        self.config = config
        spec = config.cluster

        self.key = cluster_key(self, "Key", cluster_name=spec.name)

        self.vpc = ec2.Vpc(
            self,
            "Vpc",
            ip_addresses=ec2.IpAddresses.cidr(CLUSTER_VPC_CIDR),
            **vpc_zone_props(spec),
            nat_gateways=spec.nat_gateways,
            # Stated, not left to cdk.json's feature flag: an app that uses this stack may not set the flag.
            restrict_default_security_group=True,
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
        # With cdk.json's useCdkManagedLogGroup flag, aws-cdk-lib gives each Lambda it adds (kubectl provider,
        # AwsCustomResource) a log group of its own, and no setting for its key.
        cdk.Aspects.of(self).add(_EncryptLogGroups(self.key), priority=cdk.AspectPriority.MUTATING)

        self.cluster = eks.Cluster(
            self,
            "Cluster",
            cluster_name=spec.name,
            version=KUBERNETES_VERSIONS[spec.kubernetes_version],
            vpc=self.vpc,
            vpc_subnets=[ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS)],
            endpoint_access=self._endpoint_access(config),
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
                self, f"NeuronNodegroup-{group.name}", cluster=self.cluster, spec=group, acknowledge=config.acknowledge
            )
            for group in config.node_groups
        }
        # Enforces the NetworkPolicies of the APIs and the Neuron add-ons: without it they are stored, not applied.
        self.vpc_cni = enforce_network_policies(self, "VpcCni", cluster=self.cluster)
        # Node auto-repair of the Neuron node groups acts on what this agent reports, failed Neuron devices included.
        self.node_monitoring_agent = eks.Addon(
            self, "NodeMonitoringAgent", cluster=self.cluster, addon_name=versions.NODE_MONITORING_AGENT_ADDON
        )
        # After the system nodes, so that its DaemonSet has nodes to run on as soon as EKS installs it.
        self.node_monitoring_agent.node.add_dependency(self.system_nodegroup)
        # Container Insights runs its own neuron-monitor on every Neuron node: never a second one of ours beside it.
        plugin = config.deployed_device_plugin()
        self.device_plugin = NeuronDevicePlugin.of(
            self.cluster, spec=plugin, kubernetes_version=spec.kubernetes_version
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
        # Neuron signals: Container Insights publishes the NeuronCore metrics, KEDA turns CloudWatch metrics into HPAs.
        self.container_insights = (
            ContainerInsights(self, "ContainerInsights", cluster=self.cluster) if config.container_insights() else None
        )
        self.keda = Keda(self, "Keda", cluster=self.cluster) if needs_keda(config) else None
        self.model_storage = add_model_storage(self, self.cluster, config)

        # Endpoints: one load balancer for every exposed API; the APIs stack adds a target group and rule per API.
        self.endpoints_plan = plan_endpoints(config)
        self.api_load_balancer: ApiLoadBalancer | None = None
        if self.endpoints_plan is not None:
            # Imported here: the endpoint modules make jsii calls at import (their constants) that a cluster without
            # endpoints, the default, should not pay.
            from ..constructs.api_load_balancer import ApiLoadBalancer

            self.api_load_balancer = ApiLoadBalancer(
                self,
                "ApiLoadBalancer",
                cluster=self.cluster,
                vpc=self.vpc,
                plan=self.endpoints_plan,
                vpc_cidr=CLUSTER_VPC_CIDR,
            )
            cdk.CfnOutput(
                self,
                "ApiLoadBalancerDnsName",
                value=self.api_load_balancer.load_balancer.load_balancer_dns_name,
                description="DNS name of the APIs' load balancer (point endpoints.domain_name here)",
            )
        self._grant_admins(config)
        cdk.CfnOutput(self, "ClusterName", value=spec.name, description="EKS cluster name")
        cdk.CfnOutput(
            self,
            "UpdateKubeconfigCommand",
            value=f"aws eks update-kubeconfig --name {spec.name} --region {self.region}",
            description="Run with the credentials of a cluster.admins principal to get kubectl access",
        )

        self._log_providers_to_encrypted_groups()

        # Know before any Neuron instance launches that the Inf/Trn vCPU quotas cover every node group at max_size.
        self.quota_check = add_quota_check(self, self.neuron_nodegroups, config, log_encryption_key=self.key)

    @staticmethod
    def _endpoint_access(config: InferentiaConfig) -> eks.EndpointAccess:
        access = _ENDPOINT_ACCESS[config.cluster.endpoint_access]
        if config.cluster.endpoint_access == "private":
            return access
        # The config rules require CIDRs with a public endpoint: EKS's own default would admit the whole internet.
        return access.only_from(*config.cluster.public_access_cidrs)

    @property
    def availability_zones(self) -> list[str]:
        """The zones the config names, when it names them: aws-cdk-lib then has nothing to look up (the Vpc checks given
        zones against this list, which an environment-specific stack otherwise asks EC2 for at synth)."""
        zones = self.config.cluster.availability_zones if hasattr(self, "config") else None
        return list(zones) if zones is not None else list(super().availability_zones)

    def _grant_admins(self, config: InferentiaConfig) -> None:
        admin_policy = eks.AccessPolicy.from_access_policy_name(
            "AmazonEKSClusterAdminPolicy", access_scope_type=eks.AccessScopeType.CLUSTER
        )
        for arn in config.cluster.admins:
            # The id follows the ARN, not its place in the list: reordering admins replaces no access entry.
            digest = hashlib.sha256(arn.encode()).hexdigest()[:12]
            self.cluster.grant_access(f"Admin{digest}", arn, [admin_policy])

    def _log_providers_to_encrypted_groups(self) -> None:
        """aws-cdk-lib's singleton custom resource providers (the one that empties the VPC's default security group;
        CfnJson's, which renders IRSA trust conditions) are plain CfnResources with no log group setting
        (aws/aws-cdk#27413), so each would log to a group Lambda creates on first run: unencrypted, kept forever and
        left behind by a delete. Each gets a log group of its own like ours."""
        for node in self.node.find_all():
            if not (isinstance(node, cdk.CfnResource) and node.cfn_resource_type == "AWS::Lambda::Function"):
                continue
            if isinstance(node, lambda_.CfnFunction):  # L2 functions: their own log group (ours or the flag's)
                continue
            provider = node.node.scope
            assert provider is not None
            log_group = logs.LogGroup(
                self,
                f"{provider.node.id.replace('Custom::', '')}LogGroup",
                retention=logs.RetentionDays.ONE_YEAR,
                encryption_key=self.key,
                removal_policy=cdk.RemovalPolicy.DESTROY,
            )
            node.add_property_override("LoggingConfig.LogGroup", log_group.log_group_name)
