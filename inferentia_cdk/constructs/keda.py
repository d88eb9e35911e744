"""``Keda``: the KEDA operator, which turns each API's ScaledObject into the HorizontalPodAutoscaler that follows a
CloudWatch metric (NeuronCore utilisation, or requests per target of the API's load balancer target group)."""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_eks_v2 as eks
from aws_cdk import aws_iam as iam
from constructs import Construct

from ..catalog import versions
from ..config.namespaces import KEDA_NAMESPACE
from ..config.problems import raise_for_errors
from ..manifests.objects import SYSTEM_NODE_LABEL, SYSTEM_NODE_VALUE
from ..manifests.scaling import KEDA_OPERATOR_SERVICE_ACCOUNT, keda_values
from ._pod_identity import cluster_argument_problems, pod_identity_role

# KEDA's aws-cloudwatch scaler reads with GetMetricData, which supports no resource-level permissions (Service
# Authorization Reference, Amazon CloudWatch), hence Resource "*"; it is read-only.
METRIC_READ_ACTIONS = ("cloudwatch:GetMetricData",)
INSTALL_TIMEOUT = cdk.Duration.minutes(10)
"""Within the kubectl handler's 15-minute Lambda limit; on new system nodes KEDA's images pull in a minute or two."""


class Keda(Construct):
    """The ``kedacore/keda`` Helm chart at ``versions.KEDA_CHART_VERSION`` in namespace ``keda``, on system nodes,
    and the operator's AWS access through EKS Pod Identity: ``cloudwatch:GetMetricData`` only (``role``, which only the
    operator's ServiceAccount in this cluster can assume). The operator reads no Secrets. The install waits (up to
    ``INSTALL_TIMEOUT``) until KEDA is ready, so ScaledObjects applied after it are admitted.

    :param cluster: the EKS cluster (an ``aws_eks_v2.Cluster``; anything else raises ``ConfigError``); its
        ``eks-pod-identity-agent`` add-on is installed with the role.
    """

    def __init__(self, scope: Construct, construct_id: str, *, cluster: eks.Cluster) -> None:
        raise_for_errors(cluster_argument_problems(cluster))
        super().__init__(scope, construct_id)
        self.role = pod_identity_role(
            self,
            "OperatorRole",
            cluster=cluster,
            namespace=KEDA_NAMESPACE,
            service_account=KEDA_OPERATOR_SERVICE_ACCOUNT,
            description="KEDA operator: reads CloudWatch metrics to scale APIs",
        )
        self.role.add_to_policy(
            iam.PolicyStatement(sid="ReadScalingMetrics", actions=list(METRIC_READ_ACTIONS), resources=["*"])
        )
        self.association = eks.CfnPodIdentityAssociation(
            self,
            "OperatorPodIdentity",
            cluster_name=cluster.cluster_name,
            namespace=KEDA_NAMESPACE,
            service_account=KEDA_OPERATOR_SERVICE_ACCOUNT,
            role_arn=self.role.role_arn,
        )
        self.chart = eks.HelmChart(
            self,
            "Resource",
            cluster=cluster,
            chart="keda",
            repository=versions.KEDA_CHART_REPOSITORY,
            version=versions.KEDA_CHART_VERSION,
            release="keda",
            namespace=KEDA_NAMESPACE,
            create_namespace=True,
            values=keda_values({SYSTEM_NODE_LABEL: SYSTEM_NODE_VALUE}),
            # Ready before the stack completes: KEDA's admission webhook must answer when the APIs stack applies the
            # first ScaledObject, or that apply fails.
            wait=True,
            timeout=INSTALL_TIMEOUT,
        )
        # The Pod Identity agent hands credentials only to pods started after their association exists.
        self.chart.node.add_dependency(self.association)
