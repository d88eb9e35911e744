"""What a Neuron node group offers: per-node hardware and the group's worst case, from the catalog. Pure."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property, lru_cache

from .. import catalog
from ..catalog import NeuronFamily, NeuronInstanceType, ServiceQuota
from ..config.models import NodeGroupSpec


@dataclass(frozen=True)
class NodeGroupCapacity:
    """Capacity of one node group whose instance types are all known Neuron types of one family.

    Per-node values are the smallest over the group's instance types (what every node is sure to have), except
    ``max_vcpus_per_node``, the largest, which is what a quota must cover.
    """

    name: str
    instance_types: tuple[NeuronInstanceType, ...]
    capacity_type: catalog.CapacityType
    min_nodes: int
    max_nodes: int
    lnc: int | None = None
    """The group's logical NeuronCore configuration; None: the family's default."""

    @classmethod
    def of(cls, spec: NodeGroupSpec) -> NodeGroupCapacity:
        """Raises ``ValueError`` for a type outside the catalog or mixed families; validate the spec first."""
        types = []
        for name in spec.instance_types:
            entry = catalog.lookup(name)
            if entry is None:
                raise ValueError(f"{name!r} is not a Neuron instance type")
            types.append(entry)
        if len({t.family.name for t in types}) != 1:
            raise ValueError(f"node group {spec.name!r} mixes Neuron families")
        return cls(spec.name, tuple(types), spec.capacity_type, spec.min_size, spec.max_size, spec.lnc)

    @cached_property
    def family(self) -> NeuronFamily:
        """The group's family at its LNC: every core count of the group follows from it."""
        return self.instance_types[0].family.with_lnc(self.lnc)

    @property
    def instance_type_names(self) -> tuple[str, ...]:
        return tuple(t.name for t in self.instance_types)

    @property
    def chips_per_node(self) -> int:
        return min(t.chips for t in self.instance_types)

    @property
    def neuroncores_per_node(self) -> int:
        return self.chips_per_node * self.family.cores_per_chip

    @property
    def vcpus_per_node(self) -> int:
        return min(t.vcpus for t in self.instance_types)

    @property
    def max_vcpus_per_node(self) -> int:
        return max(t.vcpus for t in self.instance_types)

    @property
    def memory_gib_per_node(self) -> int:
        return min(t.memory_gib for t in self.instance_types)

    @property
    def quota(self) -> ServiceQuota:
        return self.family.quota(self.capacity_type)

    @property
    def max_vcpus(self) -> int:
        """vCPUs the group uses at ``max_size`` with its largest instance type: what its quota must cover."""
        return self.max_nodes * self.max_vcpus_per_node


def group_family(spec: NodeGroupSpec) -> NeuronFamily:
    """The Neuron family of a validated node group at the group's LNC."""
    entry = catalog.lookup(spec.instance_types[0])
    if entry is None:
        raise ValueError(f"{spec.instance_types[0]!r} is not a Neuron instance type; validate the group first")
    return entry.family.with_lnc(spec.lnc)


# --- What a replica can use on one node ---------------------------------------------------------------------------
#
# allocatable = capacity - kube-reserved - eviction threshold (AL2023 EKS AMIs set no system-reserved amount;
# Bottlerocket derives its kube-reserved from the same two formulas), and from that the DaemonSets every Neuron node
# runs take their requests before any API pod is placed.
#
# Sources:
# - kube-reserved and eviction: awslabs/amazon-eks-ami, nodeadm/internal/kubelet/config.go (AL2023's nodeadm):
#   kubeReserved cpu = 6% of the first core + 1% of the second + 0.5% of the third and fourth + 0.25% of every further
#   core; kubeReserved memory = 11 MiB x maxPods + 255 MiB; evictionHard memory.available = 100Mi.
# - maxPods: catalog.NeuronInstanceType.max_pods, from the same repository's eni-max-pods.txt, which
#   nodeadm uses for types it knows.
# - capacity memory: the kubelet reports the kernel's MemTotal, less than the nominal instance memory. Karpenter
#   models that gap with VM_MEMORY_OVERHEAD_PERCENT, default 7.5%; we use the same figure.
# - DaemonSets on Neuron nodes: aws-node (Amazon VPC CNI add-on) requests cpu 25m; kube-proxy (EKS add-on) requests
#   cpu 100m; eks-node-monitoring-agent (EKS add-on; its chart's values.yaml in aws/eks-node-monitoring-agent,
#   nodeAgent.resources) requests cpu 10m and memory 30Mi and tolerates every taint;
#   the Neuron device plugin and neuron-monitor (when on) request exactly what is reserved for them here,
#   because manifests/device_plugin.py and manifests/neuron_monitor.py render their requests from these
#   reservations. Cortex likewise reserved CPU and memory
#   on Inferentia nodes for its device plugin.

EVICTION_HARD_MEMORY_MIB = 100
VM_MEMORY_OVERHEAD_FRACTION = 0.075


@dataclass(frozen=True)
class Reservation:
    """CPU and memory one DaemonSet pod takes on every Neuron node."""

    name: str
    cpu_millicores: int
    memory_mib: int


DEVICE_PLUGIN_RESERVATION = Reservation("neuron-device-plugin", 50, 64)
"""Also the requests ``manifests.device_plugin`` gives the device plugin: one number for what it asks and what we
reserve."""
NODE_DAEMONSETS: tuple[Reservation, ...] = (
    Reservation("aws-node (Amazon VPC CNI)", 25, 0),
    Reservation("kube-proxy", 100, 0),
    Reservation("eks-node-monitoring-agent", 10, 30),
    DEVICE_PLUGIN_RESERVATION,
)
NEURON_MONITOR_RESERVATION = Reservation("neuron-monitor", 256, 128)
"""Also the requests ``manifests.neuron_monitor`` gives neuron-monitor."""
# The amazon-cloudwatch-observability add-on tolerates every taint ("tolerations: [operator: Exists]"), so its
# DaemonSets run on Neuron nodes too: the CloudWatch agent (requests 250m / 128Mi) and, on Neuron instance types, its
# own neuron-monitor (256m / 128Mi), per charts/amazon-cloudwatch-observability/values.yaml of the pinned release.
# Fluent Bit is not counted: the add-on is installed with container logs off.
CONTAINER_INSIGHTS_DAEMONSETS: tuple[Reservation, ...] = (
    Reservation("cloudwatch-agent (Container Insights)", 250, 128),
    Reservation("neuron-monitor (Container Insights)", 256, 128),
)


def kube_reserved_cpu_millicores(vcpus: int) -> int:
    """nodeadm's kubeReserved cpu for ``vcpus`` cores (rounded down to whole millicores, as nodeadm does)."""
    reserved = 0.0
    for core in range(vcpus):
        if core == 0:
            reserved += 60
        elif core == 1:
            reserved += 10
        elif core < 4:
            reserved += 5
        else:
            reserved += 2.5
    return int(reserved)


def kube_reserved_memory_mib(max_pods: int) -> int:
    """nodeadm's kubeReserved memory for a node that runs at most ``max_pods`` pods."""
    return 11 * max_pods + 255


@dataclass(frozen=True)
class NodeAllocatable:
    """What pods of an API can request on one node of ``instance_type``, with the parts that were taken off."""

    instance_type: NeuronInstanceType
    max_pods: int
    capacity_memory_mib: int
    kube_reserved_cpu_millicores: int
    kube_reserved_memory_mib: int
    daemonsets: tuple[Reservation, ...]

    @property
    def capacity_cpu_millicores(self) -> int:
        return self.instance_type.vcpus * 1000

    @cached_property
    def daemonset_cpu_millicores(self) -> int:
        return sum(d.cpu_millicores for d in self.daemonsets)

    @cached_property
    def daemonset_memory_mib(self) -> int:
        return sum(d.memory_mib for d in self.daemonsets)

    @cached_property
    def cpu_millicores(self) -> int:
        """CPU left for API pods after the kubelet's reservation and the DaemonSets."""
        return self.capacity_cpu_millicores - self.kube_reserved_cpu_millicores - self.daemonset_cpu_millicores

    @cached_property
    def memory_mib(self) -> int:
        """Memory left for API pods after the kubelet's reservation, the eviction threshold and the DaemonSets."""
        return (
            self.capacity_memory_mib
            - self.kube_reserved_memory_mib
            - EVICTION_HARD_MEMORY_MIB
            - self.daemonset_memory_mib
        )


# Pure and immutable: every API on a node group asks for the same few instance types.
@lru_cache(maxsize=256)
def node_allocatable(
    instance_type: NeuronInstanceType, *, neuron_monitor: bool = False, container_insights: bool = False
) -> NodeAllocatable:
    """Allocatable CPU and memory for API pods on one node of ``instance_type`` (AL2023 EKS AMI defaults)."""
    max_pods = instance_type.max_pods
    daemonsets = NODE_DAEMONSETS + ((NEURON_MONITOR_RESERVATION,) if neuron_monitor else ())
    daemonsets += CONTAINER_INSIGHTS_DAEMONSETS if container_insights else ()
    return NodeAllocatable(
        instance_type=instance_type,
        max_pods=max_pods,
        capacity_memory_mib=int(instance_type.memory_gib * 1024 * (1 - VM_MEMORY_OVERHEAD_FRACTION)),
        kube_reserved_cpu_millicores=kube_reserved_cpu_millicores(instance_type.vcpus),
        kube_reserved_memory_mib=kube_reserved_memory_mib(max_pods),
        daemonsets=daemonsets,
    )
