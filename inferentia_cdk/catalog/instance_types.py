"""The Neuron hardware catalog: the only place instance-type numbers live.

Sources (re-check before changing a value):
- vCPUs, memory, chips: EC2 DescribeInstanceTypes (NeuronInfo) as summarised in shared/reference/neuron-facts.md.
- NeuronCores per chip: AWS Neuron architecture docs (inf1: 4 NeuronCore-v1; inf2 and trn1: 2 NeuronCore-v2;
  trn2: 8 physical NeuronCore-v3, exposed as 4 logical cores with the default logical-NeuronCore config LNC=2).
- Prices: Karpenter's generated us-east-1 price table (2026-07). Estimates only; never used for a decision.
- Quota codes: Service Quotas, service code ``ec2``; inf1 and inf2 share the Inf quotas, trn1 and trn2 the Trn quotas.

No CDK import here: the CLI and the planning core read this module without starting jsii.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Literal

CapacityType = Literal["on_demand", "spot"]


@dataclass(frozen=True)
class ServiceQuota:
    """An EC2 vCPU quota in Service Quotas."""

    code: str
    name: str
    usage_class: str
    """The ``Class`` dimension of CloudWatch ``AWS/Usage`` ``ResourceCount`` for this quota."""


@dataclass(frozen=True)
class NeuronFamily:
    """What every instance type of one Neuron family shares."""

    name: str
    accelerator: str
    cores_per_chip: int
    device_memory_gib_per_chip: int
    device_memory_kind: Literal["cache", "HBM"]
    on_demand_quota: ServiceQuota
    spot_quota: ServiceQuota
    last_driver: str | None = None
    """The last Neuron driver release for this family, when later releases dropped it."""

    def quota(self, capacity_type: CapacityType) -> ServiceQuota:
        return self.on_demand_quota if capacity_type == "on_demand" else self.spot_quota

    @property
    def device_memory_gib_per_core(self) -> float:
        """Each NeuronCore's share of its chip's device memory: what one tensor-parallel rank can hold."""
        return self.device_memory_gib_per_chip / self.cores_per_chip


@dataclass(frozen=True)
class NeuronInstanceType:
    """One EC2 instance type with Neuron devices."""

    name: str
    family: NeuronFamily
    vcpus: int
    memory_gib: int
    chips: int
    price_per_hour_usd: float | None
    """us-east-1 on-demand price, an estimate for plans; None where no trustworthy figure was found."""
    max_pods: int
    """Pods per node with the Amazon VPC CNI (ENIs x (IPs per ENI - 1) + 2), from amazon-eks-ami's eni-max-pods."""

    @property
    def neuroncores(self) -> int:
        return self.chips * self.family.cores_per_chip

    @property
    def device_memory_gib(self) -> int:
        return self.chips * self.family.device_memory_gib_per_chip


_INF_ON_DEMAND = ServiceQuota("L-1945791B", "Running On-Demand Inf instances", "Inf/OnDemand")
_INF_SPOT = ServiceQuota("L-B5D1601B", "All Inf Spot Instance Requests", "Inf/Spot")
# The usage classes of the Trn quotas are not confirmed by AWS documentation; they follow the Inf pattern.
_TRN_ON_DEMAND = ServiceQuota("L-2C3B7624", "Running On-Demand Trn instances", "Trn/OnDemand")
_TRN_SPOT = ServiceQuota("L-6B0D517C", "All Trn Spot Instance Requests", "Trn/Spot")

FAMILIES: Mapping[str, NeuronFamily] = MappingProxyType(
    {
        # Neuron's "Correction: Neuron Driver support for Inf1 - version 2.24" announcement: later drivers dropped
        # Inf1; the AL2023 Neuron AMI loads the legacy aws-neuronx-legacy module on inf1 (amazon-eks-ami,
        # templates/al2023/runtime/gpu/neuron-kmod-load.sh).
        "inf1": NeuronFamily("inf1", "Inferentia", 4, 8, "cache", _INF_ON_DEMAND, _INF_SPOT, last_driver="2.24"),
        "inf2": NeuronFamily("inf2", "Inferentia2", 2, 32, "HBM", _INF_ON_DEMAND, _INF_SPOT),
        "trn1": NeuronFamily("trn1", "Trainium", 2, 32, "HBM", _TRN_ON_DEMAND, _TRN_SPOT),
        "trn2": NeuronFamily("trn2", "Trainium2", 4, 96, "HBM", _TRN_ON_DEMAND, _TRN_SPOT),
    }
)


def _types(*rows: tuple[str, int, int, int, float | None, int]) -> dict[str, NeuronInstanceType]:
    return {
        name: NeuronInstanceType(name, FAMILIES[name.split(".")[0]], vcpus, memory_gib, chips, price, max_pods)
        for name, vcpus, memory_gib, chips, price, max_pods in rows
    }


INSTANCE_TYPES: Mapping[str, NeuronInstanceType] = MappingProxyType(
    _types(
        # name, vCPUs, GiB, chips, $/h, max pods
        ("inf1.xlarge", 4, 8, 1, 0.228, 38),
        ("inf1.2xlarge", 8, 16, 1, 0.362, 38),
        ("inf1.6xlarge", 24, 48, 4, 1.180, 234),
        ("inf1.24xlarge", 96, 192, 16, 4.721, 321),
        ("inf2.xlarge", 4, 16, 1, 0.7582, 58),
        ("inf2.8xlarge", 32, 128, 1, 1.96786, 234),
        ("inf2.24xlarge", 96, 384, 6, 6.49063, 737),
        ("inf2.48xlarge", 192, 768, 12, 12.98127, 737),
        ("trn1.2xlarge", 8, 32, 1, 1.34375, 58),
        ("trn1.32xlarge", 128, 512, 16, 21.50, 247),
        ("trn2.48xlarge", 192, 2048, 16, None, 100),
    )
)

NEURON_INSTANCE_TYPE_NAMES: tuple[str, ...] = tuple(INSTANCE_TYPES)


def lookup(instance_type: str) -> NeuronInstanceType | None:
    """The catalog entry for ``instance_type``, or None when it is not a Neuron type we know."""
    return INSTANCE_TYPES.get(instance_type)


def family_of(instance_type: str) -> str:
    """The family prefix of any EC2 instance type name (``inf1.xlarge`` -> ``inf1``)."""
    return instance_type.split(".", 1)[0]
