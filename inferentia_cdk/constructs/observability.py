"""``ContainerInsights``: the amazon-cloudwatch-observability EKS add-on, which runs the CloudWatch agent and its own
neuron-monitor on every node and publishes per-pod NeuronCore utilisation, device memory and execution errors to the
``ContainerInsights`` namespace."""

from __future__ import annotations

from aws_cdk import aws_eks_v2 as eks
from aws_cdk import aws_iam as iam
from constructs import Construct

from ..catalog import versions
from ..config.problems import raise_for_errors
from ._pod_identity import cluster_argument_problems, pod_identity_role

ADDON_NAME = "amazon-cloudwatch-observability"
AGENT_NAMESPACE = "amazon-cloudwatch"
AGENT_SERVICE_ACCOUNT = "cloudwatch-agent"
"""The ServiceAccount the add-on creates for its agent, in namespace amazon-cloudwatch (CloudWatch user guide)."""
AGENT_POLICY = "CloudWatchAgentServerPolicy"
# Container logs would go to log groups the agent creates at run time, with no retention and no KMS key; only metrics
# are turned on here.
ADDON_CONFIGURATION = {"containerLogs": {"enabled": False}}


class ContainerInsights(Construct):
    """The add-on at ``versions.CLOUDWATCH_OBSERVABILITY_ADDON_VERSION`` (child ``Resource``), with the agent's AWS
    access through EKS Pod Identity: the ``CloudWatchAgentServerPolicy`` managed policy, which the CloudWatch user
    guide names for the add-on (``role``). Container logs are off.

    :param cluster: the EKS cluster (an ``aws_eks_v2.Cluster``; anything else raises ``ConfigError``); its
        ``eks-pod-identity-agent`` add-on is installed with the role, which only the agent's ServiceAccount in this
        cluster can assume.
    """

    def __init__(self, scope: Construct, construct_id: str, *, cluster: eks.Cluster) -> None:
        raise_for_errors(cluster_argument_problems(cluster))
        super().__init__(scope, construct_id)
        self.role = pod_identity_role(
            self,
            "AgentRole",
            cluster=cluster,
            namespace=AGENT_NAMESPACE,
            service_account=AGENT_SERVICE_ACCOUNT,
            description="CloudWatch agent: Container Insights metrics",
        )
        self.role.add_managed_policy(iam.ManagedPolicy.from_aws_managed_policy_name(AGENT_POLICY))
        self.addon = eks.Addon(
            self,
            "Resource",
            cluster=cluster,
            addon_name=ADDON_NAME,
            addon_version=versions.CLOUDWATCH_OBSERVABILITY_ADDON_VERSION,
            configuration_values=ADDON_CONFIGURATION,
        )
        # L1 escape hatch: aws-cdk-lib 2.275's Addon has no Pod Identity property; AWS::EKS::Addon has one.
        resource = self.addon.node.default_child
        assert isinstance(resource, eks.CfnAddon)
        resource.pod_identity_associations = [
            eks.CfnAddon.PodIdentityAssociationProperty(
                role_arn=self.role.role_arn, service_account=AGENT_SERVICE_ACCOUNT
            )
        ]
