"""``NeuronCluster``: the Neuron-ready EKS cluster of a config, in any stack.

The app's cluster stack (:class:`inferentia_cdk.stacks.cluster_stack.InferentiaClusterStack`) is this construct and
three outputs; a platform team puts the same construct into a stack of its own, next to its own VPC.
"""

from __future__ import annotations

import hashlib
import re
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

from ..config.models import ClusterSpec, InferentiaConfig
from ..config.problems import Problem, argument_problem, raise_for_errors
from ..planning.cluster_facts import NeuronClusterFacts
from ..planning.endpoints import CLUSTER_VPC_CIDR, EndpointsPlan, plan_endpoints
from .cluster_key import cluster_key
from .network_policy import enforce_network_policies
from .neuron_capacity import ARG_CAPACITY_ARGUMENT, CheckedConfig, NeuronCapacity, check_config_argument, checked_config

if TYPE_CHECKING:
    from .api_load_balancer import ApiLoadBalancer

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

CAPACITY_ID = "Default"
"""The id of the cluster's :class:`NeuronCapacity`. CDK leaves a ``Default`` path segment out of logical ids, so the
capacity's resources keep the logical ids they had when the cluster stack created them itself."""


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


_DEFAULT_SEGMENT = re.compile(r"/Default(?=[/)])")


def path_without_default(path: str) -> str:
    """``path`` without its ``Default`` segments, as CDK leaves them out of logical ids."""
    return "/".join(segment for segment in path.split("/") if segment != "Default")


NAME_TAG_PRIORITY = 101
"""Above the priority (100) of the ``Name`` tags aws-cdk-lib derives from construct paths, so ours win on every
resource those tags reach, whatever order the tag aspects run in."""


def _name_without_default(construct: IConstruct) -> None:
    """Tag ``construct`` (and what aws-cdk-lib's own ``Name`` tag of it reaches) ``Name`` = its path without ``Default``
    segments: the values aws-cdk-lib derives from construct paths (``Name`` tags of the VPC, its subnets, its flow log
    and a launch template) stay as they were before the cluster stack held a ``NeuronCluster`` named ``Default``; a new
    ``Name`` on a launch template is a new version, which would roll every node of its group.

    Set on the few constructs that carry such a tag, not by an aspect over every node: an aspect written in Python is
    one call from the jsii process into Python per construct of the cluster (about 150), which cost 6-7 % of a one-API
    synth (bench/PROFILE.md)."""
    path = construct.node.path
    if "/Default/" in f"{path}/":
        cdk.Tags.of(construct).add("Name", path_without_default(path), priority=NAME_TAG_PRIORITY)


class NeuronCluster(Construct):
    """An encrypted EKS cluster (``aws_eks_v2``) with all control-plane logs, system nodes, and the config's Neuron
    capacity (:class:`NeuronCapacity`: Neuron node groups, device plugin, node monitoring agent, Cluster Autoscaler,
    Container Insights and KEDA as the APIs need them, the quota check), plus metrics-server, the APIs' load balancer
    when the config has ``endpoints``, and cluster-admin access for ``cluster.admins``.

    :param config: the whole config; its rules (those ``inferentia-cdk validate`` runs) are checked first, and every
        error is raised at once as a ``ConfigError`` before any construct is added.
    :param vpc: default a VPC of its own (``CLUSTER_VPC_CIDR``; the zones ``cluster.availability_zones`` names, else
        ``cluster.max_azs`` of the region's; ``cluster.nat_gateways`` NAT gateways; flow logs to an encrypted log
        group). With ``cluster.availability_zones`` set, have the stack list the same zones: aws-cdk-lib checks the
        VPC's zones against the stack's ``availability_zones``, which an environment-specific stack otherwise looks
        up at synth (override that property as :class:`InferentiaClusterStack` does). A VPC of the caller's must
        have private subnets with egress (``PRIVATE_WITH_EGRESS``): the control plane's network interfaces and every
        node go there (nodes pull images and reach the EKS, EC2 and Auto Scaling APIs), and an internet-facing load
        balancer needs public subnets. With ``endpoints``, its IPv4 CIDR must be a literal (``vpc_cidr_block`` of an
        imported or looked-up VPC): the load balancer's security group rules need it at synth (else ``ARG250``).

    Every log group in it (aws-cdk-lib's own Lambda functions' included) is encrypted with :attr:`key`, which also
    encrypts Kubernetes secrets. :attr:`facts` is what :class:`InferentiaApi` builds against.

    ``_checked_config`` is internal (``build_app`` hands down the check it has just made of ``config``); the check is
    handed on to the cluster's :class:`NeuronCapacity`, so the config is checked once.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: InferentiaConfig,
        vpc: ec2.IVpc | None = None,
        _checked_config: CheckedConfig | None = None,
    ) -> None:
        checked = _check_arguments(config, vpc, _checked_config)
        super().__init__(scope, construct_id)
        self.config = config
        self.key = self._add_key()
        self.vpc = vpc if vpc is not None else self._add_vpc()
        # With cdk.json's useCdkManagedLogGroup flag, aws-cdk-lib gives each Lambda it adds (kubectl provider,
        # AwsCustomResource) a log group of its own, and no setting for its key.
        cdk.Aspects.of(self).add(_EncryptLogGroups(self.key), priority=cdk.AspectPriority.MUTATING)
        self.cluster = self._add_cluster()
        self.system_nodegroup = self._add_system_nodegroup()
        self.vpc_cni = self._add_network_policy_enforcement()
        self.capacity = NeuronCapacity(
            self,
            CAPACITY_ID,
            cluster=self.cluster,
            config=config,
            system_nodegroups=[self.system_nodegroup],
            log_encryption_key=self.key,
            _checked_config=checked,
        )
        for group in self.capacity.neuron_nodegroups.values():
            if group.launch_template is not None:
                _name_without_default(group.launch_template)
        self.metrics_server = self._add_metrics_server()
        self.endpoints_plan: EndpointsPlan | None = plan_endpoints(config)
        self.api_load_balancer = self._add_api_load_balancer(own_vpc=vpc is None)
        self._grant_admins()
        self._log_providers_to_encrypted_groups()

    @property
    def facts(self) -> NeuronClusterFacts:
        """What APIs on this cluster build against: its name, version, Neuron node groups and add-ons."""
        return self.capacity.facts

    def _add_key(self) -> kms.Key:
        return cluster_key(self, "Key", cluster_name=self.config.cluster.name)

    def _add_vpc(self) -> ec2.Vpc:
        spec = self.config.cluster
        vpc = ec2.Vpc(
            self,
            "Vpc",
            ip_addresses=ec2.IpAddresses.cidr(CLUSTER_VPC_CIDR),
            **vpc_zone_props(spec),
            nat_gateways=spec.nat_gateways,
            # Stated, not left to cdk.json's feature flag: an app that uses this construct may not set the flag.
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
        flow_log = vpc.add_flow_log("FlowLog", destination=ec2.FlowLogDestination.to_cloud_watch_logs(flow_log_group))
        for tagged in (vpc, *vpc.public_subnets, *vpc.private_subnets, flow_log):
            _name_without_default(tagged)
        return vpc

    def _add_cluster(self) -> eks.Cluster:
        spec = self.config.cluster
        cluster = eks.Cluster(
            self,
            "Cluster",
            cluster_name=spec.name,
            version=KUBERNETES_VERSIONS[spec.kubernetes_version],
            vpc=self.vpc,
            vpc_subnets=[ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS)],
            endpoint_access=self._endpoint_access(),
            secrets_encryption_key=self.key,
            cluster_logging=_ALL_CONTROL_PLANE_LOGS,
            default_capacity_type=eks.DefaultCapacityType.NODEGROUP,
            default_capacity=0,
            kubectl_provider_options=eks.KubectlProviderOptions(kubectl_layer=KubectlV36Layer(self, "KubectlLayer")),
        )
        # The kubectl provider's functions describe themselves by their path: without the Default segment, as before.
        for node in cluster.node.find_all():
            if isinstance(node, lambda_.CfnFunction) and isinstance(node.description, str):
                node.description = _DEFAULT_SEGMENT.sub("", node.description)
        return cluster

    def _endpoint_access(self) -> eks.EndpointAccess:
        spec = self.config.cluster
        access = _ENDPOINT_ACCESS[spec.endpoint_access]
        if spec.endpoint_access == "private":
            return access
        # The config rules require CIDRs with a public endpoint: EKS's own default would admit the whole internet.
        return access.only_from(*spec.public_access_cidrs)

    def _add_system_nodegroup(self) -> eks.Nodegroup:
        system = self.config.cluster.system_node_group
        return eks.Nodegroup(
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

    def _add_network_policy_enforcement(self) -> eks.Addon:
        """Enforces the NetworkPolicies of the APIs and the Neuron add-ons: without it they are stored, not applied."""
        return enforce_network_policies(self, "VpcCni", cluster=self.cluster)

    def _add_metrics_server(self) -> eks.Addon | None:
        """HorizontalPodAutoscalers act only on metrics; optional for clusters that bring their own."""
        if not self.config.cluster.metrics_server:
            return None
        # The EKS community add-on; its version is left to EKS, which picks the default for the cluster version.
        return eks.Addon(self, "MetricsServer", cluster=self.cluster, addon_name="metrics-server")

    def _add_api_load_balancer(self, *, own_vpc: bool) -> ApiLoadBalancer | None:
        """One load balancer for every exposed API; the APIs stack adds a target group and rule per API."""
        if self.endpoints_plan is None:
            return None
        # Imported here: the endpoint modules' constants are jsii calls at import, which a cluster without endpoints
        # (the default) should not pay.
        from .api_load_balancer import ApiLoadBalancer

        # Our VPC's CIDR is known; a caller's VPC is left to ApiLoadBalancer, which takes its CIDR when that is a
        # literal (a looked-up VPC) and otherwise says it needs one (ARG250).
        return ApiLoadBalancer(
            self,
            "ApiLoadBalancer",
            cluster=self.cluster,
            vpc=self.vpc,
            plan=self.endpoints_plan,
            vpc_cidr=CLUSTER_VPC_CIDR if own_vpc else None,
        )

    def _grant_admins(self) -> None:
        admin_policy = eks.AccessPolicy.from_access_policy_name(
            "AmazonEKSClusterAdminPolicy", access_scope_type=eks.AccessScopeType.CLUSTER
        )
        for arn in self.config.cluster.admins:
            # The id follows the ARN, not its place in the list: reordering admins replaces no access entry.
            digest = hashlib.sha256(arn.encode()).hexdigest()[:12]
            self.cluster.grant_access(f"Admin{digest}", arn, [admin_policy])

    def _log_providers_to_encrypted_groups(self) -> None:
        """aws-cdk-lib's singleton custom resource providers (the one that empties the VPC's default security group;
        CfnJson's, which renders IRSA trust conditions) are plain CfnResources with no log group setting
        (aws/aws-cdk#27413), so each would log to a group Lambda creates on first run: unencrypted, kept forever and
        left behind by a delete. Each provider of the stack gets a log group of its own like ours."""
        for node in cdk.Stack.of(self).node.find_all():
            if not (isinstance(node, cdk.CfnResource) and node.cfn_resource_type == "AWS::Lambda::Function"):
                continue
            if isinstance(node, lambda_.CfnFunction):  # L2 functions: their own log group (ours or the flag's)
                continue
            provider = node.node.scope
            assert provider is not None
            log_group_id = f"{provider.node.id.replace('Custom::', '')}LogGroup"
            if self.node.try_find_child(log_group_id) is not None:
                continue
            log_group = logs.LogGroup(
                self,
                log_group_id,
                retention=logs.RetentionDays.ONE_YEAR,
                encryption_key=self.key,
                removal_policy=cdk.RemovalPolicy.DESTROY,
            )
            node.add_property_override("LoggingConfig.LogGroup", log_group.log_group_name)


def _check_arguments(config: object, vpc: object, handed: CheckedConfig | None) -> CheckedConfig | None:
    """Raises ``ConfigError`` for a config that is no ``InferentiaConfig`` or fails its rules, or a ``vpc`` that is
    no ``IVpc``; returns the config's check, for the capacity to reuse."""
    checked = checked_config(config, handed) if isinstance(config, InferentiaConfig) else None
    problems = list(checked.problems) if checked is not None else check_config_argument(config)
    # jsii interfaces are no runtime classes: an IVpc is what selects subnets.
    if vpc is not None and not hasattr(vpc, "select_subnets"):
        problems.append(_argument("vpc", vpc, "None (a VPC of its own) or an aws_ec2.IVpc"))
    raise_for_errors(problems)
    return checked


def _argument(argument: str, value: object, valid: str) -> Problem:
    problem = argument_problem(argument, value, valid)
    return ARG_CAPACITY_ARGUMENT.problem(problem.path, problem.message)
