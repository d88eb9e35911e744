"""The baseline: what a user writes by hand in plain aws-cdk-lib for the same cluster and N APIs.

The issue asks for "the same VPC, cluster": the VPC and cluster below carry the settings ours gets from the default
config (the same subnets, flow logs to a KMS-encrypted log group, secrets encryption, every control-plane log, a
private endpoint, the kubectl layer), written by hand. Then one Neuron node group and per API one hand-written
Deployment + Service manifest. Everything else ours adds (system node group, device plugin, Cluster Autoscaler,
metrics-server, node monitoring agent, quota check, six objects per API) is counted against ours.
Usage: python bench/baseline_app.py N_APIS OUTDIR
"""

from __future__ import annotations

import sys

import aws_cdk as cdk
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_eks_v2 as eks
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk.lambda_layer_kubectl_v36 import KubectlV36Layer


def deployment_and_service(name: str) -> list[dict[str, object]]:
    labels = {"app": name}
    return [
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": name, "namespace": "default", "labels": labels},
            "spec": {
                "replicas": 1,
                "selector": {"matchLabels": labels},
                "template": {
                    "metadata": {"labels": labels},
                    "spec": {
                        "tolerations": [{"key": "aws.amazon.com/neuron", "operator": "Exists", "effect": "NoSchedule"}],
                        "containers": [
                            {
                                "name": "api",
                                "image": f"public.ecr.aws/example/{name}:1.0.0",
                                "ports": [{"containerPort": 8080}],
                                "resources": {
                                    "requests": {"aws.amazon.com/neuron": "1", "cpu": "1", "memory": "2Gi"},
                                    "limits": {"aws.amazon.com/neuron": "1", "cpu": "1", "memory": "2Gi"},
                                },
                            }
                        ],
                    },
                },
            },
        },
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": name, "namespace": "default"},
            "spec": {"selector": labels, "ports": [{"port": 80, "targetPort": 8080}]},
        },
    ]


def main() -> None:
    n_apis, outdir = int(sys.argv[1]), sys.argv[2]
    app = cdk.App(outdir=outdir)
    cluster_stack = cdk.Stack(app, "BaselineCluster")
    key = kms.Key(cluster_stack, "Key", enable_key_rotation=True)
    key.grant_encrypt_decrypt(iam.ServicePrincipal(f"logs.{cluster_stack.region}.amazonaws.com"))
    vpc = ec2.Vpc(
        cluster_stack,
        "Vpc",
        max_azs=2,
        nat_gateways=1,
        subnet_configuration=[
            ec2.SubnetConfiguration(name="public", subnet_type=ec2.SubnetType.PUBLIC, cidr_mask=24),
            ec2.SubnetConfiguration(name="nodes", subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS, cidr_mask=19),
        ],
    )
    flow_logs = logs.LogGroup(
        cluster_stack,
        "FlowLogs",
        retention=logs.RetentionDays.ONE_YEAR,
        encryption_key=key,
        removal_policy=cdk.RemovalPolicy.DESTROY,
    )
    vpc.add_flow_log("FlowLog", destination=ec2.FlowLogDestination.to_cloud_watch_logs(flow_logs))
    cluster = eks.Cluster(
        cluster_stack,
        "Cluster",
        cluster_name="bench",
        version=eks.KubernetesVersion.V1_36,
        vpc=vpc,
        vpc_subnets=[ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS)],
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
        kubectl_provider_options=eks.KubectlProviderOptions(kubectl_layer=KubectlV36Layer(cluster_stack, "Kubectl")),
    )
    eks.Nodegroup(
        cluster_stack,
        "Inf1",
        cluster=cluster,
        instance_types=[ec2.InstanceType("inf1.xlarge")],
        ami_type=eks.NodegroupAmiType.AL2023_X86_64_NEURON,
        min_size=0,
        desired_size=1,
        max_size=4,
    )
    apis_stack = cdk.Stack(app, "BaselineApis")
    for i in range(n_apis):
        eks.KubernetesManifest(apis_stack, f"Api{i}", cluster=cluster, manifest=deployment_and_service(f"api-{i}"))
    app.synth()


if __name__ == "__main__":
    main()
