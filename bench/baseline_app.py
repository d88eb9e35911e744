"""The baseline: what a user writes by hand in plain aws-cdk-lib for the same cluster and N APIs.

Same VPC, EKS cluster (aws_eks_v2, kubectl layer), one Neuron node group, and per API one hand-written
Deployment + Service manifest. Usage: python bench/baseline_app.py N_APIS OUTDIR
"""

from __future__ import annotations

import sys

import aws_cdk as cdk
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_eks_v2 as eks
from aws_cdk.lambda_layer_kubectl_v35 import KubectlV35Layer


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
    vpc = ec2.Vpc(cluster_stack, "Vpc", max_azs=2, nat_gateways=1)
    cluster = eks.Cluster(
        cluster_stack,
        "Cluster",
        version=eks.KubernetesVersion.V1_35,
        vpc=vpc,
        default_capacity_type=eks.DefaultCapacityType.NODEGROUP,
        default_capacity=0,
        kubectl_provider_options=eks.KubectlProviderOptions(kubectl_layer=KubectlV35Layer(cluster_stack, "Kubectl")),
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
