"""ClusterAutoscaler: moves node groups between their min and max sizes, with AWS permissions for this cluster only.

The Kubernetes objects are rendered by :mod:`inferentia_cdk.manifests.autoscaler`. AWS permissions come through EKS Pod
Identity: ``aws_eks_v2.ServiceAccount`` with ``IdentityType.POD_IDENTITY`` creates the role, the association and the
``eks-pod-identity-agent`` add-on, and no OIDC provider is needed.
"""

from __future__ import annotations

from collections.abc import Sequence

import aws_cdk as cdk
from aws_cdk import aws_eks_v2 as eks
from aws_cdk import aws_iam as iam
from constructs import Construct

from ..catalog import versions
from ..config.models import CLUSTER_NAME, KUBERNETES_VERSION, cluster_name_error, kubernetes_version_error
from ..config.problems import list_argument_problems, raise_for_errors
from ..manifests.autoscaler import SERVICE_ACCOUNT, cluster_autoscaler_objects
from ..manifests.node_contract import discovery_tags
from ..manifests.objects import NAMESPACE
from ._arns import any_autoscaling_group_arn
from ._pod_identity import restrict_service_account_trust
from .neuron_nodegroup import literal_cluster_name, nodegroup_name

# Reads that do not support resource-level permissions (Service Authorization Reference), hence on "*".
_READ_ACTIONS = (
    "autoscaling:DescribeAutoScalingGroups",
    "autoscaling:DescribeAutoScalingInstances",
    "autoscaling:DescribeLaunchConfigurations",
    "autoscaling:DescribeScalingActivities",
    "autoscaling:DescribeTags",
    "ec2:DescribeImages",
    "ec2:DescribeInstanceTypes",
    "ec2:DescribeLaunchTemplateVersions",
    "ec2:GetInstanceTypesFromInstanceRequirements",
)
WRITE_ACTIONS = ("autoscaling:SetDesiredCapacity", "autoscaling:TerminateInstanceInAutoScalingGroup")


class ClusterAutoscaler(Construct):
    """Cluster Autoscaler in kube-system, on system nodes, finding node groups by this cluster's discovery tags.

    Keyword arguments:

    - ``kubernetes_version``: the cluster's minor version; picks the matching pinned image.
    - ``non_neuron_nodegroups``: node groups the priority expander prefers when a pod fits both them and a Neuron
      group (the system node group); Neuron groups then come last.
    - ``cluster_name``: the cluster's literal name, needed only when ``cluster`` was created without one.

    Its AWS role may describe any Auto Scaling group, but may change the size of, or terminate instances in, only the
    groups tagged ``k8s.io/cluster-autoscaler/enabled=true`` and ``k8s.io/cluster-autoscaler/<cluster>=owned``.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        cluster: eks.Cluster,
        kubernetes_version: str = versions.DEFAULT_KUBERNETES_VERSION,
        non_neuron_nodegroups: Sequence[eks.Nodegroup] = (),
        cluster_name: str | None = None,
    ) -> None:
        problems = []
        version_error = kubernetes_version_error(kubernetes_version)
        if version_error:
            problems.append(KUBERNETES_VERSION.problem(("kubernetes_version",), version_error))
        problems += list_argument_problems(
            "non_neuron_nodegroups",
            non_neuron_nodegroups,
            eks.Nodegroup,
            "a list of eks.Nodegroup",
            "an aws_eks_v2.Nodegroup",
        )
        name_error = None if cluster_name is None else cluster_name_error(cluster_name)
        if name_error:
            problems.append(CLUSTER_NAME.problem(("cluster_name",), name_error))
        raise_for_errors(problems)
        super().__init__(scope, construct_id)
        stack = cdk.Stack.of(self)
        self.cluster_name = literal_cluster_name(cluster, cluster_name)

        self.service_account = eks.ServiceAccount(
            self,
            "ServiceAccount",
            cluster=cluster,
            name=SERVICE_ACCOUNT,
            namespace=NAMESPACE,
            identity_type=eks.IdentityType.POD_IDENTITY,
        )
        restrict_service_account_trust(self.service_account, cluster, NAMESPACE, SERVICE_ACCOUNT)
        self.service_account.add_to_principal_policy(
            iam.PolicyStatement(sid="DescribeScalingTargets", actions=list(_READ_ACTIONS), resources=["*"])
        )
        # A managed node group at zero nodes: Cluster Autoscaler 1.24+ reads its labels and taints, and 1.28+ its
        # node-template resource tags, with eks:DescribeNodegroup (kubernetes/autoscaler cloudprovider/aws/README.md,
        # managed_nodegroup_cache.go). Every node group of this cluster, no other.
        self.service_account.add_to_principal_policy(
            iam.PolicyStatement(
                sid="DescribeNodegroups",
                actions=["eks:DescribeNodegroup"],
                resources=[
                    stack.format_arn(
                        service="eks",
                        resource="nodegroup",
                        resource_name=f"{self.cluster_name}/*/*",
                        arn_format=cdk.ArnFormat.SLASH_RESOURCE_NAME,
                    )
                ],
            )
        )
        # EKS Best Practices (Cluster Autoscaler): scope the writes by the discovery tags, which EKS puts on the Auto
        # Scaling group of every managed node group of this cluster.
        self.service_account.add_to_principal_policy(
            iam.PolicyStatement(
                sid="ScaleOwnedGroups",
                actions=list(WRITE_ACTIONS),
                resources=[any_autoscaling_group_arn(stack)],
                conditions={
                    "StringEquals": {
                        f"aws:ResourceTag/{key}": value for key, value in discovery_tags(self.cluster_name).items()
                    }
                },
            )
        )

        # EKS names a managed node group's Auto Scaling group eks-<node group name>-<uuid>; matching the name anywhere
        # keeps working should that prefix change.
        patterns = [f".*{nodegroup_name(nodegroup)}.*" for nodegroup in non_neuron_nodegroups]
        self.objects = cluster_autoscaler_objects(
            cluster_name=self.cluster_name,
            kubernetes_version=kubernetes_version,
            region=stack.region,
            non_neuron_group_patterns=patterns,
        )
        self.manifest = eks.KubernetesManifest(self, "Resource", cluster=cluster, manifest=self.objects)
        # The Deployment's pods need their ServiceAccount, and its Pod Identity association, to get credentials.
        self.manifest.node.add_dependency(self.service_account)
