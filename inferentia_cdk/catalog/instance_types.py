"""The Neuron hardware catalog: the only place instance-type numbers live.

Sources (re-check before changing a value):
- vCPUs, memory, chips: EC2 User Guide, "Specifications for Amazon EC2 accelerated computing instances".
- NeuronCores per chip: AWS Neuron architecture docs (inf1: 4 NeuronCore-v1; inf2 and trn1: 2 NeuronCore-v2;
  trn2: 8 physical NeuronCore-v3, 4 logical cores at the default logical-NeuronCore config LNC=2, 8 at LNC=1).
- Prices: each row names its source, date and region (:class:`PriceQuote`). Estimates only; never used for a
  decision.
- Scheduler-extension device counts on torus-connected types: Neuron docs, "Neuron scheduler extension".
- Quota codes: Service Quotas, service code ``ec2``; inf1 and inf2 share the Inf quotas, trn1 and trn2 the Trn quotas.

No CDK import here: the CLI and the planning core read this module without starting jsii.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
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
    """What every instance type of one Neuron family shares, at one logical-NeuronCore configuration (LNC).

    ``lnc`` physical cores make one logical NeuronCore, the unit the runtime, the compiler and the device plugin count
    (``aws.amazon.com/neuroncore``). A family's row carries its default LNC; :meth:`with_lnc` gives the same chips at
    another of its ``lnc_choices``.
    """

    name: str
    accelerator: str
    physical_cores_per_chip: int
    device_memory_gib_per_chip: int
    device_memory_kind: Literal["cache", "HBM"]
    on_demand_quota: ServiceQuota
    spot_quota: ServiceQuota
    last_driver: str | None = None
    """The last Neuron driver release for this family, when later releases dropped it."""
    lnc: int = 1
    lnc_choices: tuple[int, ...] = (1,)
    """The LNC values the family's chips support; (1,) where LNC does not apply."""

    @property
    def cores_per_chip(self) -> int:
        """Logical NeuronCores per chip at this LNC: what the device plugin advertises and the runtime counts."""
        return self.physical_cores_per_chip // self.lnc

    @property
    def device_memory_gib_per_core(self) -> float:
        return self.device_memory_gib_per_chip / self.cores_per_chip

    @property
    def has_lnc(self) -> bool:
        return len(self.lnc_choices) > 1

    def with_lnc(self, lnc: int | None) -> NeuronFamily:
        """The family at ``lnc`` (None: its default). Raises ``ValueError`` for an LNC its chips do not support."""
        if lnc is None or lnc == self.lnc:
            return self
        if lnc not in self.lnc_choices:
            raise ValueError(f"{self.name} supports LNC {', '.join(map(str, self.lnc_choices))}, not {lnc}")
        return replace(self, lnc=lnc)

    def quota(self, capacity_type: CapacityType) -> ServiceQuota:
        return self.on_demand_quota if capacity_type == "on_demand" else self.spot_quota


@dataclass(frozen=True)
class PriceQuote:
    """Where an on-demand price came from: estimates for plans, never used for a decision."""

    source: str
    date: str
    """When the source published (or generated) the figure, ISO 8601."""
    region: str


@dataclass(frozen=True)
class NeuronInstanceType:
    """One EC2 instance type with Neuron devices."""

    name: str
    family: NeuronFamily
    vcpus: int
    memory_gib: int
    chips: int
    price_per_hour_usd: float
    """On-demand Linux price in ``price.region``: an estimate for plans."""
    price: PriceQuote
    max_pods: int
    """Pods per node with the Amazon VPC CNI (ENIs x (IPs per ENI - 1) + 2), from amazon-eks-ami's eni-max-pods."""
    device_counts: tuple[int, ...] | None = None
    """Chip counts the Neuron scheduler extension grants one container on a torus-connected type; None where the chips
    form a ring (any contiguous count) or the type has one chip."""
    documented_device_counts: tuple[int, ...] | None = None
    """The part of ``device_counts`` that Neuron's documentation states for this type (the rest is inferred from the
    same 2D torus on another type)."""

    @property
    def neuroncores(self) -> int:
        """Logical NeuronCores at the family's default LNC."""
        return self.chips * self.family.cores_per_chip

    def neuroncores_at(self, lnc: int | None) -> int:
        return self.chips * self.family.with_lnc(lnc).cores_per_chip

    @property
    def device_memory_gib(self) -> int:
        return self.chips * self.family.device_memory_gib_per_chip

    @property
    def price_source(self) -> str:
        return self.price.source

    @property
    def price_date(self) -> str:
        return self.price.date


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
        # trn1n is trn1's chip with twice the EFA bandwidth (Neuron docs, "Amazon EC2 Trn1/Trn1n Architecture",
        # seen 2026-12-04): one family for rules and quotas.
        "trn1": NeuronFamily("trn1", "Trainium", 2, 32, "HBM", _TRN_ON_DEMAND, _TRN_SPOT),
        # Neuron docs, "Trainium2 Architecture" and "Logical NeuronCore configuration" (seen 2026-12-04): eight
        # physical NeuronCore-v3 and 96 GiB HBM per chip; LNC 2 (the default on Trn2) or 1. trn2u is the same chip
        # in an UltraServer ("Amazon EC2 Trn2 Architecture").
        "trn2": NeuronFamily("trn2", "Trainium2", 8, 96, "HBM", _TRN_ON_DEMAND, _TRN_SPOT, lnc=2, lnc_choices=(1, 2)),
    }
)

# Karpenter's generated price table, aws/karpenter-provider-aws pkg/providers/pricing/zz_generated.pricing_aws.go
# ("generated at 2026-01-19T13:23:24Z for us-east-1"), seen 2026-12-04.
_KARPENTER = PriceQuote("Karpenter zz_generated.pricing_aws.go (AWS Price List API)", "2026-01-19", "us-east-1")
# trn2 is not sold in us-east-1, so Karpenter's table has no row for it. instances.vantage.sh's data (as copied in
# tsaol/aws-gpu data/trn2_instances.js, "Last updated: 2025-11-30") lists trn2.48xlarge at $35.76 in us-east-2.
_VANTAGE_TRN2 = PriceQuote("instances.vantage.sh (AWS Price List API)", "2025-11-30", "us-east-2")
# No published on-demand figure was found for trn2.3xlarge or trn2u.48xlarge (trn2u is sold with UltraServer capacity,
# and EC2 lists no Spot for it). Their estimates are derived from trn2.48xlarge and say so.
_TRN2_PER_CHIP = PriceQuote(
    "derived: trn2.48xlarge's price / 16 chips (no published figure found)", "2025-11-30", "us-east-2"
)
_TRN2U_AS_TRN2 = PriceQuote(
    "derived: trn2.48xlarge's price (no published on-demand figure found)", "2025-11-30", "us-east-2"
)
_TRN2_48XLARGE_PRICE = 35.76

# Neuron docs, "Neuron scheduler extension", Device Allocation by Instance Type (seen 2026-12-04): on trn1.32xlarge and
# trn1n.32xlarge (2D torus) a container gets 1, 4, 8 or all 16 devices; on every type one or all devices always work.
# trn2.48xlarge and trn2u.48xlarge join their 16 chips in the same 4x4 2D torus ("Amazon EC2 Trn2 Architecture"), but
# the page documents no sets for them beyond one or all: 4 and 8 are inferred from trn1.
_TRN1_TORUS = (1, 4, 8, 16)
_TRN2_DOCUMENTED = (1, 16)


# Instance-type prefixes that are a family's chip in another package (trn1n: more EFA; trn2u: UltraServer node).
_FAMILY_OF_PREFIX = {"trn1n": "trn1", "trn2u": "trn2"}


def family_of(instance_type: str) -> str:
    """The Neuron family of an instance type name (``inf1.xlarge`` -> ``inf1``, ``trn1n.32xlarge`` -> ``trn1``); the
    name's prefix for any other type."""
    prefix = instance_type.split(".", 1)[0]
    return _FAMILY_OF_PREFIX.get(prefix, prefix)


def _types(*rows: tuple[str, int, int, int, float, PriceQuote, int]) -> dict[str, NeuronInstanceType]:
    return {
        name: NeuronInstanceType(name, FAMILIES[family_of(name)], vcpus, memory_gib, chips, price, quote, max_pods)
        for name, vcpus, memory_gib, chips, price, quote, max_pods in rows
    }


_ROWS = _types(
    # name, vCPUs, GiB, chips, $/h, price source, max pods.
    # vCPUs, GiB, chips: EC2 User Guide, "Specifications for Amazon EC2 accelerated computing instances" (seen
    # 2026-12-04). Max pods: awslabs/amazon-eks-ami templates/shared/runtime/eni-max-pods.txt (seen 2026-12-04).
    ("inf1.xlarge", 4, 8, 1, 0.228, _KARPENTER, 38),
    ("inf1.2xlarge", 8, 16, 1, 0.362, _KARPENTER, 38),
    ("inf1.6xlarge", 24, 48, 4, 1.180, _KARPENTER, 234),
    ("inf1.24xlarge", 96, 192, 16, 4.721, _KARPENTER, 321),
    ("inf2.xlarge", 4, 16, 1, 0.7582, _KARPENTER, 58),
    ("inf2.8xlarge", 32, 128, 1, 1.96786, _KARPENTER, 234),
    ("inf2.24xlarge", 96, 384, 6, 6.49063, _KARPENTER, 737),
    ("inf2.48xlarge", 192, 768, 12, 12.98127, _KARPENTER, 737),
    ("trn1.2xlarge", 8, 32, 1, 1.34375, _KARPENTER, 58),
    ("trn1.32xlarge", 128, 512, 16, 21.50, _KARPENTER, 247),
    ("trn1n.32xlarge", 128, 512, 16, 24.78, _KARPENTER, 247),
    ("trn2.3xlarge", 12, 128, 1, round(_TRN2_48XLARGE_PRICE / 16, 5), _TRN2_PER_CHIP, 30),
    ("trn2.48xlarge", 192, 2048, 16, _TRN2_48XLARGE_PRICE, _VANTAGE_TRN2, 100),
    # Not in eni-max-pods.txt (nodeadm then asks EC2 at boot); the same network cards as trn2.48xlarge, so 100.
    ("trn2u.48xlarge", 192, 2048, 16, _TRN2_48XLARGE_PRICE, _TRN2U_AS_TRN2, 100),
)
_DEVICE_COUNTS: dict[str, tuple[tuple[int, ...], tuple[int, ...]]] = {
    "trn1.32xlarge": (_TRN1_TORUS, _TRN1_TORUS),
    "trn1n.32xlarge": (_TRN1_TORUS, _TRN1_TORUS),
    "trn2.48xlarge": (_TRN1_TORUS, _TRN2_DOCUMENTED),
    "trn2u.48xlarge": (_TRN1_TORUS, _TRN2_DOCUMENTED),
}

INSTANCE_TYPES: Mapping[str, NeuronInstanceType] = MappingProxyType(
    {
        name: replace(row, device_counts=_DEVICE_COUNTS[name][0], documented_device_counts=_DEVICE_COUNTS[name][1])
        if name in _DEVICE_COUNTS
        else row
        for name, row in _ROWS.items()
    }
)

TRAINIUM3_NOTE = (
    "Trainium3 is not in the catalog: EC2's accelerated-computing specifications list no trn3 instance type and "
    "amazon-eks-ami's eni-max-pods has none (both seen 2026-12-04); it is sold as Trn3 UltraServers."
)
"""Why no Trainium3 row exists (re-check when EC2 lists a trn3 type a managed node group can launch)."""

NEURON_INSTANCE_TYPE_NAMES: tuple[str, ...] = tuple(INSTANCE_TYPES)


def lookup(instance_type: str) -> NeuronInstanceType | None:
    """The catalog entry for ``instance_type``, or None when it is not a Neuron type we know."""
    return INSTANCE_TYPES.get(instance_type)
