"""NeuronCore Group sizing: the worked examples of using-inferentia.md, and invariants over every family."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from inferentia_cdk.catalog import FAMILIES, NeuronFamily
from inferentia_cdk.planning.sizing import describe_memory, divisors, size_replica


def valid_processes_per_replica(family: NeuronFamily, inf: int) -> tuple[int, ...]:
    """The process counts that split ``inf`` chips' NeuronCores evenly (1, 2, 4, 8 for 2 inf1 chips)."""
    return divisors(family.cores_per_chip * inf)


def test_two_inf1_chips_give_eight_neuroncores() -> None:
    assert size_replica("inf1", 2, 1).neuroncores == 8


@pytest.mark.parametrize(("processes", "ncg_size"), [(1, 8), (2, 4), (4, 2), (8, 1)])
def test_worked_example_processes_give_ncg_sizes(processes: int, ncg_size: int) -> None:
    sizing = size_replica("inf1", 2, processes)
    assert sizing.ncg_size == ncg_size
    assert sizing.ncg_count == processes
    assert all(group.neuroncores == ncg_size for group in sizing.groups)


def test_worked_example_only_divisors_are_valid() -> None:
    assert valid_processes_per_replica(FAMILIES["inf1"], 2) == (1, 2, 4, 8)
    with pytest.raises(ValueError, match="1, 2, 4, 8"):
        size_replica("inf1", 2, 3)


def test_ncg_of_eight_cores_sees_sixteen_gib_alone() -> None:
    (group,) = size_replica("inf1", 2, 1).groups
    assert group.chips == (0, 1)
    assert group.device_memory_gib == 16
    assert group.has_memory_alone
    assert describe_memory(group, FAMILIES["inf1"]) == "16 GiB cache of 2 chips, alone"


def test_two_ncgs_of_two_cores_share_one_chips_eight_gib() -> None:
    sizing = size_replica("inf1", 2, 4)
    first, second, third, _ = sizing.groups
    assert first.chips == second.chips == (0,)
    assert first.device_memory_gib == 8
    assert first.shared_with == (1,)
    assert first.device_memory_share_gib == 4.0
    assert third.chips == (1,)
    assert sizing.ncgs_per_chip == 2
    assert describe_memory(first, FAMILIES["inf1"]) == "8 GiB cache of 1 chip, shared with 1 other NCG"


def test_ncg_spanning_part_of_a_chip_shares_that_chip() -> None:
    # 3 inf1 chips = 12 cores in 2 NCGs of 6: chip 1 is split between them.
    first, second = size_replica("inf1", 3, 2).groups
    assert first.chips == (0, 1)
    assert second.chips == (1, 2)
    assert first.shared_with == (1,)
    assert first.device_memory_gib == 16
    assert first.device_memory_share_gib == 12.0


@pytest.mark.parametrize(
    ("family", "cores", "memory_gib"), [("inf1", 4, 8), ("inf2", 2, 32), ("trn1", 2, 32), ("trn2", 4, 96)]
)
def test_every_family_uses_its_cores_and_memory_per_chip(family: str, cores: int, memory_gib: int) -> None:
    sizing = size_replica(family, 1, 1)
    assert sizing.neuroncores == cores
    assert sizing.groups[0].device_memory_gib == memory_gib
    assert sizing.device_memory_gib == memory_gib


def test_inf2_chip_split_per_core_shares_its_hbm() -> None:
    first, second = size_replica("inf2", 1, 2).groups
    assert first.shared_with == (1,)
    assert second.shared_with == (0,)
    assert first.device_memory_share_gib == 16.0
    assert "HBM" in describe_memory(first, FAMILIES["inf2"])


@pytest.mark.parametrize(("inf", "processes"), [(0, 1), (1, 0), (1, 3)])
def test_impossible_layouts_raise_value_error(inf: int, processes: int) -> None:
    with pytest.raises(ValueError):
        size_replica("inf1", inf, processes)


def test_divisors() -> None:
    assert divisors(1) == (1,)
    assert divisors(12) == (1, 2, 3, 4, 6, 12)
    with pytest.raises(ValueError):
        divisors(0)


@given(family=st.sampled_from(sorted(FAMILIES)), inf=st.integers(1, 16), data=st.data())
def test_layout_invariants(family: str, inf: int, data: st.DataObject) -> None:
    fam = FAMILIES[family]
    processes = data.draw(st.sampled_from(valid_processes_per_replica(fam, inf)))
    sizing = size_replica(family, inf, processes)
    assert sizing.ncg_size * sizing.ncg_count == sizing.neuroncores == fam.cores_per_chip * inf
    # The NCGs tile the replica's cores exactly, in order, without overlap.
    assert [g.first_core for g in sizing.groups] == list(range(0, sizing.neuroncores, sizing.ncg_size))
    # Every chip's memory is handed out exactly once across the NCGs' fair shares.
    assert sum(g.device_memory_share_gib for g in sizing.groups) == pytest.approx(sizing.device_memory_gib)
    for group in sizing.groups:
        assert group.chips == tuple(
            range(group.first_core // fam.cores_per_chip, group.last_core // fam.cores_per_chip + 1)
        )
        assert group.device_memory_gib == len(group.chips) * fam.device_memory_gib_per_chip
        assert group.device_memory_share_gib <= group.device_memory_gib
        assert group.has_memory_alone == (group.device_memory_share_gib == group.device_memory_gib)
        for other in group.shared_with:
            assert group.index in sizing.groups[other].shared_with


def test_layouts_are_shared_per_shape_and_errors_are_raised_every_time() -> None:
    # Validation, rendering and the plan of a 100-API config ask for the same few shapes; one immutable layout each.
    assert size_replica("inf2", 1, 2) is size_replica(FAMILIES["inf2"], 1, 2)
    for _ in range(2):
        with pytest.raises(ValueError, match="valid: 1, 2, 4"):
            size_replica("inf1", 1, 3)
