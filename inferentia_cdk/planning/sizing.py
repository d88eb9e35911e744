"""NeuronCore Group (NCG) sizing of one API replica: the arithmetic of ``using-inferentia.md``, for every family.

A replica asks for ``inf`` whole chips (``cores_per_chip * inf`` NeuronCores) or for ``neuroncores`` cores directly.
Its cores are split evenly between its ``processes_per_replica`` processes; each process loads its own copy of the
model onto its own NCG of ``neuroncores / processes_per_replica`` cores. Cores are logical NeuronCores at the node
group's LNC (:meth:`inferentia_cdk.catalog.NeuronFamily.with_lnc`). The chips' device memory (the 8 GiB cache of an
inf1 chip, the HBM of later chips) belongs to the chip, so NCGs smaller than a chip share it with the other NCGs on
that chip, and a replica that asks for cores shares its chips with whatever other pods hold their other cores.

Pure: no CDK import, so the CLI, the validation rules and the benchmark use it without starting jsii.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

from ..catalog import FAMILIES, NeuronFamily
from ..config.models import ComputeSpec, ComputeUnit


def divisors(number: int) -> tuple[int, ...]:
    """Every whole number that divides ``number`` (>= 1), ascending: the valid ``processes_per_replica`` values."""
    if number < 1:
        raise ValueError(f"divisors of {number} are not defined here; expected a whole number >= 1")
    return tuple(d for d in range(1, number + 1) if number % d == 0)


@dataclass(frozen=True)
class ReplicaNeeds:
    """What one replica takes of a node's Neuron capacity: the one place that turns ``compute`` into chips and cores.

    Bin packing, the fit rules and the renderers all ask this, so a chip request and a core request are counted alike.
    """

    unit: ComputeUnit
    """What the pod's resource request counts (``aws.amazon.com/neuron`` chips or ``aws.amazon.com/neuroncore``)."""
    requested: int
    """The number in that request."""
    neuroncores: int
    """Logical NeuronCores the replica gets (at the family's LNC)."""
    chips: int
    """Chips the replica's cores span at least: whole chips it holds alone for a chip request."""
    cores_per_chip: int

    @property
    def chip_share(self) -> float:
        """The replica's share of a node's chips: ``neuroncores / cores_per_chip`` (0.5 for one core of inf2)."""
        return self.neuroncores / self.cores_per_chip

    @property
    def owns_its_chips(self) -> bool:
        """True when no other pod can hold cores on the replica's chips (a whole-chip request)."""
        return self.unit == "chips"


def replica_needs(compute: ComputeSpec, family: NeuronFamily) -> ReplicaNeeds:
    """Chips and cores one replica of ``compute`` takes on a node of ``family`` (at the family's LNC)."""
    return _replica_needs(compute.unit, compute.amount, family.cores_per_chip)


# Every rule asks this of every API, and a config's APIs ask for a handful of distinct amounts.
@lru_cache(maxsize=1024)
def _replica_needs(unit: ComputeUnit, amount: int, per_chip: int) -> ReplicaNeeds:
    if unit == "chips":
        return ReplicaNeeds("chips", amount, amount * per_chip, amount, per_chip)
    return ReplicaNeeds("neuroncores", amount, amount, math.ceil(amount / per_chip), per_chip)


@dataclass(frozen=True)
class NeuronCoreGroup:
    """One NCG of a replica: the cores one serving process owns, and the device memory it can reach."""

    index: int
    """Position of the NCG (and of its process) within the replica, from 0."""
    first_core: int
    """Index of the NCG's first NeuronCore within the replica's cores (cores of an NCG are contiguous)."""
    neuroncores: int
    chips: tuple[int, ...]
    """Indices (within the replica, from 0) of the chips the NCG's cores sit on."""
    device_memory_gib: int
    """Device memory of every chip the NCG spans: what its model can address."""
    shared_with: tuple[int, ...]
    """Indices of the other NCGs that have cores on one of this NCG's chips, and so share that chip's memory."""
    device_memory_share_gib: float
    """The NCG's fair share of that memory: per chip, chip memory x (this NCG's cores on it / cores per chip)."""

    @property
    def has_memory_alone(self) -> bool:
        """True when no other NCG has cores on this NCG's chips."""
        return not self.shared_with

    @property
    def last_core(self) -> int:
        return self.first_core + self.neuroncores - 1


@dataclass(frozen=True)
class ReplicaSizing:
    """The NCG layout of one replica of an API that asks for ``inf`` chips of ``family`` and runs ``processes``."""

    family: NeuronFamily
    neuroncores: int
    processes_per_replica: int
    groups: tuple[NeuronCoreGroup, ...]
    whole_chips: bool = True
    """False for a NeuronCore request: other pods may hold the remaining cores of the replica's chips."""

    @property
    def inf(self) -> int:
        """Chips the replica's cores span (its ``inf`` for a chip request)."""
        return math.ceil(self.neuroncores / self.family.cores_per_chip)

    @property
    def ncg_size(self) -> int:
        """NeuronCores per NCG: what the model should be compiled for (``--num-neuroncores``)."""
        return self.neuroncores // self.processes_per_replica

    @property
    def ncg_count(self) -> int:
        return len(self.groups)

    @property
    def device_memory_gib(self) -> int:
        """Device memory of all the chips the replica's cores sit on."""
        return self.family.device_memory_gib_per_chip * self.inf

    @property
    def ncgs_per_chip(self) -> int:
        """How many NCGs share one chip (1 when NCGs are a chip or larger)."""
        return max(1, self.family.cores_per_chip // self.ncg_size)


def size_replica(family: NeuronFamily | str, inf: int, processes_per_replica: int) -> ReplicaSizing:
    """Lay out the NCGs of one replica of ``inf`` whole chips.

    Raises ``ValueError`` when ``inf`` < 1, ``processes_per_replica`` < 1 or it does not divide the NeuronCores;
    :mod:`inferentia_cdk.validation` reports those as configuration problems before anything calls this.
    """
    if inf < 1:
        raise ValueError(f"inf must be at least 1 chip, got {inf}")
    fam = FAMILIES[family] if isinstance(family, str) else family
    return _size_cores(fam, fam.cores_per_chip * inf, processes_per_replica, True)


def size_api(compute: ComputeSpec, family: NeuronFamily, processes_per_replica: int) -> ReplicaSizing:
    """Lay out the NCGs of one replica of ``compute`` (chips or cores) on ``family`` at its LNC."""
    needs = replica_needs(compute, family)
    return _size_cores(family, needs.neuroncores, processes_per_replica, needs.owns_its_chips)


# A config has few distinct (family, cores, processes) shapes however many APIs it has, and the result is immutable,
# so validation, rendering and planning share one layout per shape. Errors are raised again on every call (not cached).
@lru_cache(maxsize=1024)
def _size_cores(fam: NeuronFamily, cores: int, processes_per_replica: int, whole_chips: bool) -> ReplicaSizing:
    if cores < 1:
        raise ValueError(f"a replica needs at least 1 NeuronCore, got {cores}")
    if processes_per_replica < 1 or cores % processes_per_replica:
        valid = ", ".join(str(d) for d in divisors(cores))
        raise ValueError(f"{processes_per_replica} processes cannot evenly share {cores} NeuronCores; valid: {valid}")
    size = cores // processes_per_replica
    per_chip = fam.cores_per_chip

    def chips_of(first_core: int) -> tuple[int, ...]:
        return tuple(range(first_core // per_chip, (first_core + size - 1) // per_chip + 1))

    spans = [chips_of(i * size) for i in range(processes_per_replica)]
    groups = []
    for index, chips in enumerate(spans):
        first = index * size
        share = 0.0
        for chip in chips:
            # Cores of this NCG that sit on ``chip``: the overlap of [first, first+size) with the chip's cores.
            overlap = min(first + size, (chip + 1) * per_chip) - max(first, chip * per_chip)
            share += fam.device_memory_gib_per_chip * overlap / per_chip
        shared_with = tuple(other for other, span in enumerate(spans) if other != index and set(span) & set(chips))
        groups.append(
            NeuronCoreGroup(
                index=index,
                first_core=first,
                neuroncores=size,
                chips=chips,
                device_memory_gib=len(chips) * fam.device_memory_gib_per_chip,
                shared_with=shared_with,
                device_memory_share_gib=share,
            )
        )
    return ReplicaSizing(fam, cores, processes_per_replica, tuple(groups), whole_chips)


def describe_memory(group: NeuronCoreGroup, family: NeuronFamily, *, whole_chips: bool = True) -> str:
    """One line on the device memory an NCG sees, e.g. '8 GiB cache of 1 chip, shared with 1 other NCG'."""
    chips = len(group.chips)
    seen = f"{group.device_memory_gib} GiB {family.device_memory_kind} of {chips} chip{'s' if chips > 1 else ''}"
    pods = "" if whole_chips else " and with other pods' NeuronCores on those chips"
    if group.has_memory_alone:
        return f"{seen}, alone" if whole_chips else f"{seen}, shared with other pods' NeuronCores on those chips"
    others = len(group.shared_with)
    return f"{seen}, shared with {others} other NCG{'s' if others > 1 else ''}{pods}"
