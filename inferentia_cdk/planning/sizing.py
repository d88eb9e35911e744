"""NeuronCore Group (NCG) sizing of one API replica: the arithmetic of ``using-inferentia.md``, for every family.

A replica asks for ``inf`` whole chips. It gets ``cores_per_chip * inf`` NeuronCores, split evenly between its
``processes_per_replica`` processes; each process loads its own copy of the model onto its own NCG of
``neuroncores / processes_per_replica`` cores. The chips' device memory (the 8 GiB cache of an inf1 chip, the HBM of
later chips) belongs to the chip, so NCGs smaller than a chip share it with the other NCGs on that chip.

Pure: no CDK import, so the CLI, the validation rules and the benchmark use it without starting jsii.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from ..catalog import FAMILIES, NeuronFamily


def divisors(number: int) -> tuple[int, ...]:
    """Every whole number that divides ``number`` (>= 1), ascending: the valid ``processes_per_replica`` values."""
    if number < 1:
        raise ValueError(f"divisors of {number} are not defined here; expected a whole number >= 1")
    return tuple(d for d in range(1, number + 1) if number % d == 0)


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
    inf: int
    processes_per_replica: int
    groups: tuple[NeuronCoreGroup, ...]

    @property
    def neuroncores(self) -> int:
        return self.family.cores_per_chip * self.inf

    @property
    def ncg_size(self) -> int:
        """NeuronCores per NCG: what the model should be compiled for (``--num-neuroncores``)."""
        return self.neuroncores // self.processes_per_replica

    @property
    def ncg_count(self) -> int:
        return len(self.groups)

    @property
    def device_memory_gib(self) -> int:
        """Device memory of all the replica's chips."""
        return self.family.device_memory_gib_per_chip * self.inf

    @property
    def ncgs_per_chip(self) -> int:
        """How many NCGs share one chip (1 when NCGs are a chip or larger)."""
        return max(1, self.family.cores_per_chip // self.ncg_size)


def size_replica(family: NeuronFamily | str, inf: int, processes_per_replica: int) -> ReplicaSizing:
    """Lay out the NCGs of one replica.

    Raises ``ValueError`` when ``inf`` < 1, ``processes_per_replica`` < 1 or it does not divide the NeuronCores;
    :mod:`inferentia_cdk.validation` reports those as configuration problems before anything calls this.
    """
    return _size_replica(FAMILIES[family] if isinstance(family, str) else family, inf, processes_per_replica)


# A config has few distinct (family, inf, processes) shapes however many APIs it has, and the result is immutable, so
# validation, rendering and planning share one layout per shape. Errors are raised again on every call (not cached).
@lru_cache(maxsize=1024)
def _size_replica(fam: NeuronFamily, inf: int, processes_per_replica: int) -> ReplicaSizing:
    if inf < 1:
        raise ValueError(f"inf must be at least 1 chip, got {inf}")
    cores = fam.cores_per_chip * inf
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
    return ReplicaSizing(fam, inf, processes_per_replica, tuple(groups))


def describe_memory(group: NeuronCoreGroup, family: NeuronFamily) -> str:
    """One line on the device memory an NCG sees, e.g. '8 GiB cache of 1 chip, shared with 1 other NCG'."""
    chips = len(group.chips)
    seen = f"{group.device_memory_gib} GiB {family.device_memory_kind} of {chips} chip{'s' if chips > 1 else ''}"
    if group.has_memory_alone:
        return f"{seen}, alone"
    others = len(group.shared_with)
    return f"{seen}, shared with {others} other NCG{'s' if others > 1 else ''}"
