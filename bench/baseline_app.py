"""The baseline: the same CloudFormation resources as our app, written the way a careful user would in aws-cdk-lib.

Given the benchmark config's settings and Kubernetes objects as plain JSON (bench/workload.py, written before the timer
starts), it builds what our stacks build: the VPC with flow logs to a KMS-encrypted log group, the encrypted EKS cluster
with every control-plane log and the kubectl layer (its key usable by CloudWatch Logs for this account's log groups
only), the system node group, each Neuron node group with its labels, taint, node auto-repair and the tags Cluster
Autoscaler reads to scale it from zero, the device plugin, the VPC CNI add-on with its network policy agent on,
Cluster Autoscaler, metrics-server, the node monitoring agent, the deploy-time quota check, the same outputs, the KEDA
chart and the CloudWatch observability add-on when the APIs scale on NeuronCores (every Pod Identity role trusting
only its own service account in this cluster), and per API one manifest with the same objects and a CloudWatch
dashboard with the same widgets, in the nested stack a hash of the API's name picks (32 of them, as ours: a user
who wants more than 185 APIs has to split them somehow, and a careful one keeps each API in place when others
come and go).

What it leaves out is exactly our layer: config loading and validation, pydantic and our construct classes.
The benchmark checks that both apps produce the same resource types and counts in every template, and the same
per-API resources property for property.

Each API's manifest and dashboard sit in a plain ``Construct`` named after the API, as ours do (the scope keeps two
APIs' ids apart; the manifest's id ``Default`` leaves it out of the logical id). With ``--wrap`` the manifest and the
dashboard each sit under one more ``Construct``, as ``InferentiaApi`` and ``ApiMonitoring`` held them until they became
the manifest and the dashboard themselves: the same resources again, so the difference in time is the price of one
construct node per API's manifest and one per dashboard.
Usage: python bench/baseline_app.py WORKLOAD.json OUTDIR [--wrap]
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import jsii
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_eks_v2 as eks
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk.lambda_layer_kubectl_v36 import KubectlV36Layer
from constructs import Construct

QUOTA_HANDLER_DIR = Path(__file__).resolve().parent.parent / "inferentia_cdk" / "quota"
SHARDS = 32
METRIC_PERIOD = cdk.Duration.minutes(1)


def encrypted_log_group(stack: cdk.Stack, construct_id: str, key: kms.IKey) -> logs.LogGroup:
    return logs.LogGroup(
        stack,
        construct_id,
        retention=logs.RetentionDays.ONE_YEAR,
        encryption_key=key,
        removal_policy=cdk.RemovalPolicy.DESTROY,
    )


def cluster_stack(app: cdk.App, w: dict) -> tuple[cdk.Stack, eks.Cluster]:
    spec = w["cluster"]
    name = spec["name"]
    stack = cdk.Stack(app, "InferentiaCluster", description=f"EKS cluster {name} with Neuron node groups")
    key = kms.Key(
        stack,
        "Key",
        description=f"Envelope encryption of Kubernetes secrets and logs of EKS cluster {name}",
        enable_key_rotation=True,
    )
    # CloudWatch Logs may use the key only for log groups of this account and region.
    key.add_to_resource_policy(
        iam.PolicyStatement(
            sid="LogGroupsOfThisAccount",
            principals=[iam.ServicePrincipal(f"logs.{stack.region}.amazonaws.com")],
            actions=["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"],
            resources=["*"],
            conditions={
                "ArnLike": {
                    "kms:EncryptionContext:aws:logs:arn": stack.format_arn(
                        service="logs",
                        resource="log-group",
                        resource_name="*",
                        arn_format=cdk.ArnFormat.COLON_RESOURCE_NAME,
                    )
                }
            },
        )
    )
    vpc = ec2.Vpc(
        stack,
        "Vpc",
        max_azs=spec["max_azs"],
        nat_gateways=spec["nat_gateways"],
        restrict_default_security_group=True,
        subnet_configuration=[
            ec2.SubnetConfiguration(name="public", subnet_type=ec2.SubnetType.PUBLIC, cidr_mask=24),
            ec2.SubnetConfiguration(name="nodes", subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS, cidr_mask=19),
        ],
    )
    flow_logs = encrypted_log_group(stack, "FlowLogGroup", key)
    vpc.add_flow_log("FlowLog", destination=ec2.FlowLogDestination.to_cloud_watch_logs(flow_logs))
    private = ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS)
    cluster = eks.Cluster(
        stack,
        "Cluster",
        cluster_name=name,
        version={"1.35": eks.KubernetesVersion.V1_35, "1.36": eks.KubernetesVersion.V1_36}[spec["kubernetes_version"]],
        vpc=vpc,
        vpc_subnets=[private],
        endpoint_access=eks.EndpointAccess.PRIVATE,
        secrets_encryption_key=key,
        cluster_logging=[
            eks.ClusterLoggingTypes.API,
            eks.ClusterLoggingTypes.AUDIT,
            eks.ClusterLoggingTypes.AUTHENTICATOR,
            eks.ClusterLoggingTypes.CONTROLLER_MANAGER,
            eks.ClusterLoggingTypes.SCHEDULER,
        ],
        default_capacity_type=eks.DefaultCapacityType.NODEGROUP,
        default_capacity=0,
        kubectl_provider_options=eks.KubectlProviderOptions(kubectl_layer=KubectlV36Layer(stack, "KubectlLayer")),
    )
    system_spec = spec["system"]
    system = eks.Nodegroup(
        stack,
        "SystemNodegroup",
        cluster=cluster,
        ami_type=eks.NodegroupAmiType.AL2023_X86_64_STANDARD,
        instance_types=[ec2.InstanceType(t) for t in system_spec["instance_types"]],
        min_size=system_spec["min_size"],
        desired_size=system_spec["desired_size"],
        max_size=system_spec["max_size"],
        subnets=private,
        labels={"inferentia-cdk/role": "system"},
    )
    neuron_groups = [neuron_nodegroup(stack, cluster, name, group) for group in w["node_groups"]]
    # The VPC CNI with its network policy agent, so that the APIs' NetworkPolicies are enforced.
    vpc_cni = eks.Addon(
        stack,
        "VpcCni",
        cluster=cluster,
        addon_name="vpc-cni",
        configuration_values={"enableNetworkPolicy": "true"},
    )
    vpc_cni.node.default_child.resolve_conflicts = "OVERWRITE"
    eks.KubernetesManifest(stack, "NeuronDevicePlugin", cluster=cluster, manifest=w["device_plugin_objects"])
    if spec["cluster_autoscaler"]:
        cluster_autoscaler(stack, cluster, name, system, w["autoscaler_objects"])
    if spec["metrics_server"]:
        eks.Addon(stack, "MetricsServer", cluster=cluster, addon_name="metrics-server")
    monitoring_agent = eks.Addon(stack, "NodeMonitoringAgent", cluster=cluster, addon_name="eks-node-monitoring-agent")
    monitoring_agent.node.add_dependency(system)
    if w["container_insights"]:
        container_insights(stack, cluster)
    if w["keda_values"] is not None:
        keda(stack, cluster, w["keda_values"])
    cdk.CfnOutput(stack, "ClusterName", value=name, description="EKS cluster name")
    cdk.CfnOutput(
        stack,
        "UpdateKubeconfigCommand",
        value=f"aws eks update-kubeconfig --name {name} --region {stack.region}",
        description="Run with the credentials of a cluster admin to get kubectl access",
    )
    check = quota_check(stack, key, w["quota_needs"], w["quota_shortfall"])
    for group in neuron_groups:
        group.node.add_dependency(check)
    # aws-cdk-lib's provider that empties the default security group has no log group setting: give it one.
    for node in stack.node.find_all():
        if (
            isinstance(node, cdk.CfnResource)
            and node.cfn_resource_type == "AWS::Lambda::Function"
            and not isinstance(node, lambda_.CfnFunction)
        ):
            log_group_id = f"{node.node.scope.node.id.replace('Custom::', '')}LogGroup"
            group_name = encrypted_log_group(stack, log_group_id, key).log_group_name
            node.add_property_override("LoggingConfig.LogGroup", group_name)
    cdk.Aspects.of(stack).add(EncryptLogGroups(key), priority=cdk.AspectPriority.MUTATING)
    return stack, cluster


@jsii.implements(cdk.IAspect)
class EncryptLogGroups:
    def __init__(self, key: kms.IKey) -> None:
        self.key = key

    def visit(self, node: Any) -> None:
        if isinstance(node, logs.CfnLogGroup) and node.kms_key_id is None:
            node.kms_key_id = self.key.key_arn


def autoscaling_group_arn(stack: cdk.Stack) -> str:
    return stack.format_arn(
        service="autoscaling",
        resource="autoScalingGroup",
        resource_name="*:autoScalingGroupName/*",
        arn_format=cdk.ArnFormat.COLON_RESOURCE_NAME,
    )


def neuron_nodegroup(stack: cdk.Stack, cluster: eks.Cluster, cluster_name: str, group: dict) -> eks.Nodegroup:
    name = group["name"]
    nodegroup = eks.Nodegroup(
        stack,
        f"NeuronNodegroup-{name}",
        cluster=cluster,
        ami_type=eks.NodegroupAmiType.AL2023_X86_64_NEURON,
        capacity_type=eks.CapacityType.SPOT if group["capacity_type"] == "spot" else eks.CapacityType.ON_DEMAND,
        instance_types=[ec2.InstanceType(t) for t in group["instance_types"]],
        min_size=group["min_size"],
        desired_size=group["desired_size"],
        max_size=group["max_size"],
        disk_size=group["disk_size"],
        subnets=ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS),
        labels=group["labels"],
        taints=[
            eks.TaintSpec(effect=eks.TaintEffect.NO_SCHEDULE, key=group["taint"]["key"], value=group["taint"]["value"])
        ],
        # Cluster Autoscaler reads these through eks:DescribeNodegroup when it scales the group from zero.
        tags=group["node_template_tags"],
        enable_node_auto_repair=group["node_auto_repair"],
    )
    resource = nodegroup.node.default_child
    resource.ami_type = group["ami_type"]
    return nodegroup


def cluster_autoscaler(
    stack: cdk.Stack, cluster: eks.Cluster, cluster_name: str, system: eks.Nodegroup, objects: list
) -> None:
    account = eks.ServiceAccount(
        stack,
        "ClusterAutoscalerServiceAccount",
        cluster=cluster,
        name="cluster-autoscaler",
        namespace="kube-system",
        identity_type=eks.IdentityType.POD_IDENTITY,
    )
    # The role aws_eks_v2.ServiceAccount makes trusts any pod identity association: narrow it to this one.
    account.role.node.default_child.add_property_override(
        "AssumeRolePolicyDocument",
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"Service": "pods.eks.amazonaws.com"},
                    "Action": ["sts:AssumeRole", "sts:TagSession"],
                    "Condition": trust_conditions(cluster, "kube-system", "cluster-autoscaler"),
                }
            ],
        },
    )
    account.add_to_principal_policy(
        iam.PolicyStatement(
            sid="DescribeScalingTargets",
            actions=[
                "autoscaling:DescribeAutoScalingGroups",
                "autoscaling:DescribeAutoScalingInstances",
                "autoscaling:DescribeLaunchConfigurations",
                "autoscaling:DescribeScalingActivities",
                "autoscaling:DescribeTags",
                "ec2:DescribeImages",
                "ec2:DescribeInstanceTypes",
                "ec2:DescribeLaunchTemplateVersions",
                "ec2:GetInstanceTypesFromInstanceRequirements",
            ],
            resources=["*"],
        )
    )
    account.add_to_principal_policy(
        iam.PolicyStatement(
            sid="DescribeNodegroups",
            actions=["eks:DescribeNodegroup"],
            resources=[
                stack.format_arn(
                    service="eks",
                    resource="nodegroup",
                    resource_name=f"{cluster_name}/*/*",
                    arn_format=cdk.ArnFormat.SLASH_RESOURCE_NAME,
                )
            ],
        )
    )
    account.add_to_principal_policy(
        iam.PolicyStatement(
            sid="ScaleOwnedGroups",
            actions=["autoscaling:SetDesiredCapacity", "autoscaling:TerminateInstanceInAutoScalingGroup"],
            resources=[autoscaling_group_arn(stack)],
            conditions={
                "StringEquals": {
                    "aws:ResourceTag/k8s.io/cluster-autoscaler/enabled": "true",
                    f"aws:ResourceTag/k8s.io/cluster-autoscaler/{cluster_name}": "owned",
                }
            },
        )
    )
    system_name = system.node.default_child.attr_nodegroup_name
    text = json.dumps(objects).replace("@@REGION@@", stack.region).replace("@@SYSTEM_NODEGROUP_NAME@@", system_name)
    manifest = eks.KubernetesManifest(stack, "ClusterAutoscaler", cluster=cluster, manifest=json.loads(text))
    manifest.node.add_dependency(account)


def trust_conditions(cluster: eks.Cluster, namespace: str, service_account: str) -> dict:
    """Only pods of this cluster running as namespace/service_account (the session tags EKS Pod Identity sets)."""
    return {
        "StringEquals": {
            "aws:RequestTag/eks-cluster-arn": cluster.cluster_arn,
            "aws:RequestTag/kubernetes-namespace": namespace,
            "aws:RequestTag/kubernetes-service-account": service_account,
        }
    }


def pod_identity_role(
    stack: cdk.Stack, construct_id: str, cluster: eks.Cluster, namespace: str, service_account: str, description: str
) -> iam.Role:
    role = iam.Role(
        stack,
        construct_id,
        assumed_by=iam.SessionTagsPrincipal(iam.ServicePrincipal("pods.eks.amazonaws.com")).with_conditions(
            trust_conditions(cluster, namespace, service_account)
        ),
        description=description,
    )
    if cluster.eks_pod_identity_agent is not None:
        role.node.add_dependency(cluster.eks_pod_identity_agent)
    return role


def container_insights(stack: cdk.Stack, cluster: eks.Cluster) -> None:
    role = pod_identity_role(
        stack,
        "CloudWatchAgentRole",
        cluster,
        "amazon-cloudwatch",
        "cloudwatch-agent",
        "CloudWatch agent: Container Insights metrics",
    )
    role.add_managed_policy(iam.ManagedPolicy.from_aws_managed_policy_name("CloudWatchAgentServerPolicy"))
    addon = eks.Addon(
        stack,
        "ContainerInsights",
        cluster=cluster,
        addon_name="amazon-cloudwatch-observability",
        addon_version="v6.4.0-eksbuild.1",
        configuration_values={"containerLogs": {"enabled": False}},
    )
    addon.node.default_child.pod_identity_associations = [
        eks.CfnAddon.PodIdentityAssociationProperty(role_arn=role.role_arn, service_account="cloudwatch-agent")
    ]


def keda(stack: cdk.Stack, cluster: eks.Cluster, values: dict) -> None:
    role = pod_identity_role(
        stack,
        "KedaOperatorRole",
        cluster,
        "keda",
        "keda-operator",
        "KEDA operator: reads CloudWatch metrics to scale APIs",
    )
    role.add_to_policy(
        iam.PolicyStatement(sid="ReadScalingMetrics", actions=["cloudwatch:GetMetricData"], resources=["*"])
    )
    association = eks.CfnPodIdentityAssociation(
        stack,
        "KedaOperatorPodIdentity",
        cluster_name=cluster.cluster_name,
        namespace="keda",
        service_account="keda-operator",
        role_arn=role.role_arn,
    )
    chart = eks.HelmChart(
        stack,
        "Keda",
        cluster=cluster,
        chart="keda",
        repository="https://kedacore.github.io/charts",
        version="2.20.2",
        release="keda",
        namespace="keda",
        create_namespace=True,
        values=values,
        wait=True,
        timeout=cdk.Duration.minutes(10),
    )
    chart.node.add_dependency(association)


def dashboard(scope: Construct, construct_id: str, cluster_name: str, api: dict) -> None:
    """The API's NeuronCore utilisation against its scaling target and its running replicas, from Container
    Insights."""
    dimensions = {"ClusterName": cluster_name, "Namespace": api["name"]}
    signal = api["signal"]

    def metric(name: str, label: str) -> cloudwatch.Metric:
        return cloudwatch.Metric(
            namespace="ContainerInsights",
            metric_name=name,
            dimensions_map=dimensions,
            statistic="Average",
            period=METRIC_PERIOD,
            label=label,
        )

    target = (
        [cloudwatch.HorizontalAnnotation(value=signal["target"], label="scaling target")]
        if signal["metric"] == "neuroncore_utilization"
        else []
    )
    cloudwatch.Dashboard(
        scope,
        construct_id,
        dashboard_name=f"{cluster_name}-{api['name']}",
        widgets=[
            [
                cloudwatch.GraphWidget(
                    title="NeuronCore utilisation",
                    left=[metric("pod_neuroncore_utilization", "NeuronCore utilisation %")],
                    left_y_axis=cloudwatch.YAxisProps(min=0, max=100),
                    left_annotations=target,
                    width=12,
                    height=6,
                ),
                cloudwatch.GraphWidget(
                    title=f"Replicas ({signal['min_replicas']}-{signal['max_replicas']})",
                    left=[metric("namespace_number_of_running_pods", "running replicas")],
                    left_y_axis=cloudwatch.YAxisProps(min=0),
                    width=12,
                    height=6,
                ),
            ]
        ],
    )


def quota_check(stack: cdk.Stack, key: kms.Key, needs: list, shortfall: str) -> cdk.CustomResource:
    log_group = encrypted_log_group(stack, "QuotaCheckLogGroup", key)
    role = iam.Role(
        stack,
        "QuotaCheckRole",
        assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
        description="Reads the EC2 vCPU quotas of Neuron node groups before they launch (inferentia-cdk)",
        inline_policies={
            "ReadEc2Quotas": iam.PolicyDocument(
                statements=[
                    iam.PolicyStatement(
                        actions=["servicequotas:GetAWSDefaultServiceQuota", "servicequotas:GetServiceQuota"],
                        resources=["*"],
                    ),
                    iam.PolicyStatement(
                        actions=["logs:CreateLogStream", "logs:PutLogEvents"], resources=[log_group.log_group_arn]
                    ),
                ]
            )
        },
    )
    function = lambda_.Function(
        stack,
        "QuotaCheckFunction",
        runtime=lambda_.Runtime.PYTHON_3_14,
        architecture=lambda_.Architecture.ARM_64,
        handler="handler.handler",
        description="inferentia-cdk: fails the deployment when an Inf/Trn vCPU quota is short",
        code=lambda_.Code.from_asset(
            str(QUOTA_HANDLER_DIR), exclude=["*", "!service_quotas.py", "!handler.py"], ignore_mode=cdk.IgnoreMode.GIT
        ),
        role=role,
        log_group=log_group,
        memory_size=256,
        timeout=cdk.Duration.minutes(3),
    )
    check = cdk.CustomResource(
        stack,
        "QuotaCheck",
        service_token=function.function_arn,
        resource_type="Custom::NeuronQuotaCheck",
        properties={"Needs": needs, "Shortfall": shortfall},
        service_timeout=cdk.Duration.minutes(5),
    )
    cdk.CfnOutput(
        stack,
        "QuotaCheckReport",
        value=check.get_att_string("Summary"),
        description="EC2 vCPU quotas of the Neuron node groups at the last deploy that changed their capacity",
    )
    return check


def apis_stack(app: cdk.App, w: dict, cluster_stack: cdk.Stack, cluster: eks.Cluster, *, wrap: bool) -> None:
    stack = cdk.Stack(app, "InferentiaApis", description=f"Inference APIs on EKS cluster {w['cluster']['name']}")
    stack.add_stack_dependency(cluster_stack)
    cdk.CrossStackReferences.of(stack).consume(cdk.ReferenceStrength.WEAK)
    shards: dict[int, cdk.NestedStack] = {}
    cluster_name = w["cluster"]["name"]
    # The KEDA triggers name the region: filled in once for every API, as a template would be.
    apis = json.loads(json.dumps(w["apis"]).replace("@@REGION@@", stack.region))
    for api in apis:
        name = api["name"]
        shard = int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big") % SHARDS
        if shard not in shards:
            shards[shard] = cdk.NestedStack(
                stack, f"Shard{shard:02d}", description=f"inferentia-cdk: APIs of shard {shard} (InferentiaApis)"
            )
        # Each API's resources together in a scope named after it, so that two APIs' ids never meet; "Default" leaves
        # the scope out of the manifest's logical id.
        scope = Construct(shards[shard], name)
        if wrap:
            eks.KubernetesManifest(Construct(scope, "Default"), "Resource", cluster=cluster, manifest=api["objects"])
        else:
            eks.KubernetesManifest(scope, "Default", cluster=cluster, manifest=api["objects"])
        if w["dashboards"]:
            if wrap:
                dashboard(Construct(scope, "Monitoring"), "Resource", cluster_name, api)
            else:
                dashboard(scope, "Monitoring", cluster_name, api)


def main() -> None:
    workload = json.loads(Path(sys.argv[1]).read_text())
    app = cdk.App(outdir=sys.argv[2])
    stack, cluster = cluster_stack(app, workload)
    apis_stack(app, workload, stack, cluster, wrap="--wrap" in sys.argv)
    app.synth()


if __name__ == "__main__":
    main()
