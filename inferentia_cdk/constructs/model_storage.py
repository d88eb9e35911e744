"""``ModelStorage``: the Mountpoint for Amazon S3 CSI driver EKS add-on, which LLM APIs read their weights through.

Why Mountpoint: it is the EKS add-on AWS maintains for reading S3 as files, so no image carries weights and no init
container copies them; a read-only PersistentVolume per S3 folder (static provisioning) is all an API needs, and v2
mounts with the pod's own EKS Pod Identity (``authenticationSource: pod``), so each API reads only its own prefixes and
the driver holds no S3 access of its own.
"""

from __future__ import annotations

from aws_cdk import aws_eks_v2 as eks
from constructs import Construct

from ..catalog import versions
from ..config.models import InferentiaConfig


class ModelStorage(Construct):
    """The ``aws-mountpoint-s3-csi-driver`` add-on at ``versions.MOUNTPOINT_S3_CSI_ADDON_VERSION`` (child
    ``Resource``), and the ``eks-pod-identity-agent`` add-on the APIs' pod-level credentials come through.

    :param cluster: the EKS cluster.
    """

    def __init__(self, scope: Construct, construct_id: str, *, cluster: eks.Cluster) -> None:
        super().__init__(scope, construct_id)
        self.addon = eks.Addon(
            self,
            "Resource",
            cluster=cluster,
            addon_name=versions.MOUNTPOINT_S3_CSI_ADDON,
            addon_version=versions.MOUNTPOINT_S3_CSI_ADDON_VERSION,
        )
        # Created here, in the cluster stack, rather than on first use by an API's role in the APIs stack.
        self.pod_identity_agent = cluster.eks_pod_identity_agent


def add_model_storage(scope: Construct, cluster: eks.Cluster, config: InferentiaConfig) -> ModelStorage | None:
    """A :class:`ModelStorage` on ``cluster`` when some API of ``config`` names a model, else None."""
    return ModelStorage(scope, "ModelStorage", cluster=cluster) if config.model_apis() else None
