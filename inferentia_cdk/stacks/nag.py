"""cdk-nag for our stacks: the AwsSolutions pack, and every acknowledgement with its reason, in this one module.

Only findings on resources that aws-cdk-lib creates and does not let us change are acknowledged; anything our own
configuration can fix (endpoint access, logging, flow logs, encryption) is fixed instead. cdk-nag 3 acknowledges each
finding by its exact id, so ids that embed a policy ARN or a logical id are built here from the construct tree.
tests/stacks/test_gates.py fails on an acknowledgement here whose finding is gone.
"""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_eks_v2 as eks
from aws_cdk import aws_iam as iam
from constructs import IConstruct

from ..constructs.cluster_autoscaler import ClusterAutoscaler
from ..constructs.keda import Keda
from ..constructs.model_access import ModelAccess
from ..constructs.neuron_quota_check import NeuronQuotaCheck
from ..constructs.observability import AGENT_POLICY, ContainerInsights
from . import InferentiaApisStack, InferentiaClusterStack

_PACK = "AwsSolutions::AwsSolutions"


def _managed_policy(path: str) -> str:
    return f"{_PACK}-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/{path}]"


def _ack(construct: IConstruct, rule: str, reason: str) -> None:
    cdk.Validations.of(construct).acknowledge(cdk.Acknowledgment(id=rule, reason=reason))


def _acknowledge_node_roles(stack: IConstruct) -> None:
    """Every managed node group's role, including the Neuron ones."""
    reason = (
        "EKS requires the worker node, CNI and ECR read-only policies on node roles; AWS maintains them as EKS "
        "changes, which an inline copy would not follow"
    )
    for construct in stack.node.find_all():
        if isinstance(construct, eks.Nodegroup) and isinstance(construct.role, iam.Role):
            for policy in ("AmazonEKSWorkerNodePolicy", "AmazonEKS_CNI_Policy", "AmazonEC2ContainerRegistryReadOnly"):
                _ack(construct.role, _managed_policy(policy), reason)


def _acknowledge_cluster(cluster: eks.Cluster) -> None:
    _ack(
        cluster.role,
        _managed_policy("AmazonEKSClusterPolicy"),
        "The EKS service role needs AmazonEKSClusterPolicy; AWS maintains it with the EKS control plane",
    )
    provider = cluster.kubectl_provider
    if provider is None:
        return
    handler = provider.node.find_child("Handler")
    lambda_reason = (
        "aws-cdk-lib's kubectl provider Lambda: its role, runtime and policies are created by aws-cdk-lib and "
        "cannot be configured"
    )
    for policy in (
        "service-role/AWSLambdaBasicExecutionRole",
        "service-role/AWSLambdaVPCAccessExecutionRole",
        "AmazonEC2ContainerRegistryReadOnly",
    ):
        _ack(handler, _managed_policy(policy), lambda_reason)
    has_ecr_public = cdk.Stack.of(provider).get_logical_id(
        provider.node.find_child("Handler").node.find_child("HasEcrPublic")
    )
    ecr_public = (
        '{"Fn::If":["' + has_ecr_public + '",{"Fn::Join":["",["arn:",{"Ref":"AWS::Partition"},'
        '":iam::aws:policy/AmazonElasticContainerRegistryPublicReadOnly"]]},{"Ref":"AWS::NoValue"}]}'
    )
    _ack(handler, f"{_PACK}-IAM4[Policy::{ecr_public}]", lambda_reason)
    _ack(handler, f"{_PACK}-L1", lambda_reason + "; its runtime is the one the kubectl layer is built for")
    framework = provider.node.find_child("Provider")
    for policy in ("service-role/AWSLambdaBasicExecutionRole", "service-role/AWSLambdaVPCAccessExecutionRole"):
        _ack(framework, _managed_policy(policy), lambda_reason)
    handler_fn = cdk.Stack.of(provider).get_logical_id(handler.node.default_child)
    _ack(
        framework,
        f"{_PACK}-IAM5[Resource::<{handler_fn}.Arn>:*]",
        "The provider framework invokes any version of the kubectl handler; aws-cdk-lib writes this policy",
    )


def _arn_environment(stack: cdk.Stack) -> tuple[str, str, str]:
    """Partition, region and account as cdk-nag spells them in a finding id: literal for an environment-specific
    stack (a known region also fixes the partition), the pseudo parameter otherwise."""
    partition = "<AWS::Partition>" if cdk.Token.is_unresolved(stack.partition) else stack.partition
    region = "<AWS::Region>" if cdk.Token.is_unresolved(stack.region) else stack.region
    account = "<AWS::AccountId>" if cdk.Token.is_unresolved(stack.account) else stack.account
    return partition, region, account


def _as_finding_text(value: object) -> str:
    """A resolved CloudFormation string as cdk-nag prints it in a finding id: ``Ref`` as ``<Name>``, ``Fn::GetAtt``
    as ``<Resource.Attribute>``, ``Fn::Join`` joined."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and "Ref" in value:
        return f"<{value['Ref']}>"
    if isinstance(value, dict) and "Fn::GetAtt" in value:
        return "<" + ".".join(value["Fn::GetAtt"]) + ">"
    if isinstance(value, dict) and "Fn::Join" in value:
        separator, parts = value["Fn::Join"]
        return str(separator).join(_as_finding_text(part) for part in parts)
    raise ValueError(f"no finding text for {value!r}")


def _wildcard_resources(policy: iam.Policy) -> list[str]:
    """Every resource of ``policy`` with a wildcard, as cdk-nag's AwsSolutions-IAM5 names it."""
    document = cdk.Stack.of(policy).resolve(policy.document)
    found: list[str] = []
    for statement in document["Statement"]:
        resources = statement.get("Resource", [])
        for resource in resources if isinstance(resources, list) else [resources]:
            text = _as_finding_text(resource)
            if "*" in text and text not in found:
                found.append(text)
    return found


def _acknowledge_cluster_autoscaler(stack: IConstruct) -> None:
    """Cluster Autoscaler's role."""
    for construct in stack.node.find_all():
        if isinstance(construct, ClusterAutoscaler):
            partition, region, account = _arn_environment(cdk.Stack.of(construct))
            asg_arn = f"arn:{partition}:autoscaling:{region}:{account}:autoScalingGroup:*:autoScalingGroupName/*"
            role = construct.service_account
            _ack(
                role,
                f"{_PACK}-IAM5[Resource::*]",
                "Cluster Autoscaler's Describe* and ec2:GetInstanceTypesFromInstanceRequirements calls support no "
                "resource-level permissions (kubernetes/autoscaler AWS README); they are read-only",
            )
            _ack(
                role,
                f"{_PACK}-IAM5[Resource::{asg_arn}]",
                "SetDesiredCapacity and TerminateInstanceInAutoScalingGroup are conditioned on this cluster's "
                "Cluster Autoscaler discovery tags (EKS Best Practices); auto-discovered group names are unknown at "
                "synth",
            )
            _ack(
                role,
                f"{_PACK}-IAM5[Resource::arn:{partition}:eks:{region}:{account}:nodegroup/"
                f"{construct.cluster_name}/*/*]",
                "eks:DescribeNodegroup on every node group of this one cluster, whose names and ids are generated at "
                "deploy; it reads labels, taints and node-template tags of groups at zero nodes",
            )


def _acknowledge_quota_check(stack: IConstruct) -> None:
    """The deploy-time quota check's role."""
    for construct in stack.node.find_all():
        if isinstance(construct, NeuronQuotaCheck):
            _ack(
                construct.role,
                f"{_PACK}-IAM5[Resource::*]",
                "servicequotas:GetServiceQuota and servicequotas:GetAWSDefaultServiceQuota are read-only and support "
                "no resource-level permissions (Service Authorization Reference), so IAM requires Resource '*'",
            )


def _acknowledge_api_load_balancer(stack: IConstruct) -> None:
    """The APIs' load balancer: its access log bucket and the AWS Load Balancer Controller's role."""
    # Imported here: the module's constants are jsii calls that an app without endpoints should not pay at import.
    from ..constructs.api_load_balancer import ApiLoadBalancer

    for construct in stack.node.find_all():
        if not isinstance(construct, ApiLoadBalancer):
            continue
        _ack(
            construct.access_logs,
            f"{_PACK}-S1",
            "This bucket receives the load balancer's access logs; its own server access logs would need yet another "
            "bucket with the same finding, and the access logs already record every request",
        )
        service_account = construct.controller.node.find_child("alb-sa")
        policy = service_account.node.find_child("Role").node.find_child("DefaultPolicy")
        assert isinstance(policy, iam.Policy)
        for resource in _wildcard_resources(policy):
            _ack(
                service_account,
                f"{_PACK}-IAM5[Resource::{resource}]",
                "The AWS Load Balancer Controller's published IAM policy for the pinned release (aws-cdk-lib's "
                "AlbController ships it): the target groups, rules and security group rules it manages have generated "
                "names, and its write actions are conditioned on the elbv2.k8s.aws/cluster tag",
            )


def _acknowledge_scaling(stack: IConstruct) -> None:
    """KEDA's operator role and the Container Insights agent role."""
    for construct in stack.node.find_all():
        if isinstance(construct, Keda):
            _ack(
                construct.role,
                f"{_PACK}-IAM5[Resource::*]",
                "cloudwatch:GetMetricData, the only action of this role, is read-only and supports no resource-level "
                "permissions (Service Authorization Reference, Amazon CloudWatch), so IAM requires Resource '*'",
            )
        elif isinstance(construct, ContainerInsights):
            _ack(
                construct.role,
                _managed_policy(AGENT_POLICY),
                "The CloudWatch user guide names CloudWatchAgentServerPolicy for the amazon-cloudwatch-observability "
                "add-on's agent; AWS keeps it in step with what each agent release publishes",
            )


def _acknowledge_model_access(scope: IConstruct) -> None:
    """Each LLM API's read access to the objects under its model's S3 prefixes."""
    for access in scope.node.find_all():
        if not isinstance(access, ModelAccess):
            continue
        policy = access.role.node.find_child("DefaultPolicy")
        assert isinstance(policy, iam.Policy)
        for resource in _wildcard_resources(policy):
            _ack(
                access.role,
                f"{_PACK}-IAM5[Resource::{resource}]",
                "s3:GetObject on the objects under the model's own S3 prefix (bucket/prefix/*): the files of a model "
                "folder are not known at synth, and the prefix is all this API may read",
            )


def acknowledge_findings(scope: IConstruct) -> None:
    """Acknowledge, with their reasons, the AwsSolutions findings on what aws-cdk-lib creates for this library's
    constructs under ``scope`` (a stack of the user's own holding a ``NeuronCluster``, ``NeuronCapacity`` or an LLM
    API's ``ModelAccess``, say), and on every ``aws_eks_v2.Cluster`` there (its service role and kubectl provider).
    Anything else stays the caller's."""
    _acknowledge_node_roles(scope)
    _acknowledge_cluster_autoscaler(scope)
    _acknowledge_quota_check(scope)
    _acknowledge_api_load_balancer(scope)
    _acknowledge_scaling(scope)
    _acknowledge_model_access(scope)
    for construct in scope.node.find_all():
        if isinstance(construct, eks.Cluster):
            _acknowledge_cluster(construct)


def apply_nag(app: cdk.App, cluster_stack: InferentiaClusterStack, apis_stack: InferentiaApisStack) -> None:
    """Run AwsSolutions on ``app`` at synth and acknowledge what aws-cdk-lib creates in our stacks."""
    # Imported here: cdk-nag's jsii module costs synth time that an app built with nag=False never needs.
    from cdk_nag import AwsSolutionsChecks

    cdk.Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    acknowledge_findings(cluster_stack)
    _acknowledge_model_access(apis_stack)


def acknowledge_core_validation(apis_stack: InferentiaApisStack) -> None:
    """aws-cdk-lib's own template validation, which runs with or without cdk-nag."""
    if not apis_stack.config.apis:
        _ack(
            apis_stack,
            "CloudFormation-Validate::F0001",
            "A config with no APIs leaves the APIs stack without resources; cdk deploy skips such a stack (and deletes "
            "a deployed one, removing the last API)",
        )
