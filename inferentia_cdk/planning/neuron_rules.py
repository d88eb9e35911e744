"""Rules about Neuron hardware as it is today: the logical NeuronCore configuration (LNC) of a node group, and the chip
counts the Neuron scheduler extension can grant on torus-connected instance types. Pure: no CDK import.

Every number comes from the catalog (:mod:`inferentia_cdk.catalog.instance_types`), so a new instance type needs one
row there and no change here.
"""

from __future__ import annotations

from .. import catalog
from ..catalog import NeuronInstanceType
from ..config.models import ApiSpec, NodeGroupSpec
from ..config.problems import Path, Problem, rule
from .capacity import NodeGroupCapacity
from .sizing import replica_needs

LNC_ON_FAMILY = rule("NG301", "error", "lnc only on families whose chips have a logical NeuronCore configuration")
LNC_ON_BOTTLEROCKET = rule("NG302", "error", "a non-default lnc only on the AL2023 Neuron AMI")
TORUS_DEVICE_COUNT = rule(
    "API301", "error", "on torus-connected types a replica spans a chip count the Neuron scheduler extension grants"
)
TORUS_DEVICE_COUNT_UNDOCUMENTED = rule(
    "API302", "warning", "a chip count Neuron documents for trn1's 2D torus but not for this type's"
)

_LNC_FAMILIES = tuple(name for name, family in catalog.FAMILIES.items() if family.has_lnc)


def _listing(values: tuple[int, ...] | list[int]) -> str:
    return ", ".join(str(v) for v in values)


def check_lnc(group: NodeGroupSpec, path: Path = ()) -> list[Problem]:
    """``lnc`` only where the chips have one, and set only where we know how to set it on the node."""
    if group.lnc is None:
        return []
    families = {t.family for t in (catalog.lookup(n) for n in group.instance_types) if t is not None}
    problems: list[Problem] = []
    for family in sorted(families, key=lambda f: f.name):
        if not family.has_lnc:
            problems.append(
                LNC_ON_FAMILY.problem(
                    (*path, "lnc"),
                    f"lnc {group.lnc}: {family.name} ({family.accelerator}) has no logical NeuronCore configuration, "
                    f"each of its {family.physical_cores_per_chip} cores per chip is one NeuronCore; remove lnc. "
                    f"Families with it: {', '.join(_LNC_FAMILIES)}",
                )
            )
        elif group.ami == "bottlerocket" and group.lnc != family.lnc:
            problems.append(
                LNC_ON_BOTTLEROCKET.problem(
                    (*path, "lnc"),
                    f"lnc {group.lnc} on Bottlerocket: the Neuron docs set LNC through a shell script in the launch "
                    "template's user data (the AL2023 Neuron AMI), and Bottlerocket runs no such script and documents "
                    f"no setting for it; use ami: al2023, or leave lnc at {family.name}'s default {family.lnc}",
                )
            )
    return problems


def _works_for(chips: int, instance_type: NeuronInstanceType) -> bool:
    if chips > instance_type.chips:
        return False
    counts = instance_type.device_counts
    return counts is None or chips in counts or chips == instance_type.chips


def check_torus_device_count(api: ApiSpec, capacity: NodeGroupCapacity, path: Path = ()) -> list[Problem]:
    """A replica on a torus-connected type must span a chip count the scheduler extension grants.

    Applied whatever ``device_plugin.scheduler_extension`` says: without the extension the default scheduler hands out
    any chips, which :func:`inferentia_cdk.planning.validation.check_contiguous_allocation` refuses for more than one.
    A NeuronCore request is judged by the chips its cores span.
    """
    needs = replica_needs(api.compute, capacity.family)
    chips = needs.chips
    field = (*path, "compute", api.compute.field)
    asked = f"{api.compute.field} {api.compute.amount}"
    if needs.unit == "neuroncores":
        asked += f" ({chips} chip{'s' * (chips > 1)} of {needs.cores_per_chip} NeuronCores)"
    problems: list[Problem] = []
    for instance_type in capacity.instance_types:
        counts = instance_type.device_counts
        if counts is None or chips > instance_type.chips or chips in (1, instance_type.chips):
            continue
        if chips not in counts:
            elsewhere = [t.name for t in catalog.INSTANCE_TYPES.values() if chips > 1 and _works_for(chips, t)]
            where = f"; {chips} chips work on {', '.join(elsewhere)}" if elsewhere else ""
            problems.append(
                TORUS_DEVICE_COUNT.problem(
                    field,
                    f"{asked} on {instance_type.name}: its {instance_type.chips} chips form a 2D torus and the Neuron "
                    f"scheduler extension grants a container only {_listing(counts)} chips, so the pod would stay "
                    f"Pending; ask for one of {_listing(counts)} chips{where}",
                )
            )
        elif instance_type.documented_device_counts is not None and chips not in instance_type.documented_device_counts:
            problems.append(
                TORUS_DEVICE_COUNT_UNDOCUMENTED.problem(
                    field,
                    f"{asked} on {instance_type.name}: Neuron documents {_listing(counts)} chips for trn1's 2D torus "
                    f"but only {_listing(instance_type.documented_device_counts)} for {instance_type.name}'s "
                    "(Neuron docs, 'Neuron scheduler extension'); it has the same 4x4 torus, so this is expected to "
                    "schedule, but is not documented",
                )
            )
    return problems
