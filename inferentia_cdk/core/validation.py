"""Rules that relate configuration values to each other and to the hardware catalog.

Each rule is a small function returning problems, so that every problem is reported at once, with its path.
Pure: no CDK import.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence

from ..facts import catalog
from ..facts.catalog import NeuronFamily
from ..spec.models import ApiSpec, InferentiaConfig, NodeGroupSpec, is_token
from ..spec.problems import Path, Problem, errors
from .capacity import NodeGroupCapacity, node_allocatable
from .endpoints import check_endpoints, check_operator_access
from .scaling import check_scaling
from .serving_env import RESERVED_ENV_NAMES
from .sizing import divisors


def neuron_types_hint() -> str:
    return ", ".join(catalog.NEURON_INSTANCE_TYPE_NAMES)


def check_node_group(group: NodeGroupSpec, path: Path = ()) -> list[Problem]:
    """Instance types, one family per group, and ordered sizes."""
    problems: list[Problem] = []
    families: dict[str, list[str]] = {}
    for i, name in enumerate(group.instance_types):
        if catalog.lookup(name) is None:
            problems.append(
                Problem(
                    (*path, "instance_types", i),
                    f"{name!r} is not a Neuron instance type; valid: {neuron_types_hint()}",
                )
            )
        else:
            families.setdefault(catalog.family_of(name), []).append(name)
    if len(families) > 1:
        listed = "; ".join(f"{fam}: {', '.join(types)}" for fam, types in families.items())
        problems.append(
            Problem(
                (*path, "instance_types"),
                f"mixes Neuron families ({listed}); use one family per node group, since chips, NeuronCores and "
                "quotas differ between families",
            )
        )
    if len(set(group.instance_types)) != len(group.instance_types):
        problems.append(Problem((*path, "instance_types"), "lists an instance type more than once"))
    if not group.min_size <= group.desired_size <= group.max_size:
        problems.append(
            Problem(
                (*path, "desired_size"),
                f"sizes must satisfy 0 <= min_size <= desired_size <= max_size, got min_size={group.min_size}, "
                f"desired_size={group.desired_size}, max_size={group.max_size}",
            )
        )
    return problems


def _duplicates(names: Sequence[str]) -> Iterator[tuple[int, str]]:
    seen: set[str] = set()
    for i, name in enumerate(names):
        if name in seen:
            yield i, name
        seen.add(name)


def check_replica_bounds(api: ApiSpec, path: Path = ()) -> list[Problem]:
    bounds = api.autoscaling
    if bounds.min_replicas > bounds.max_replicas:
        return [
            Problem(
                (*path, "autoscaling", "max_replicas"),
                f"max_replicas ({bounds.max_replicas}) must be at least min_replicas ({bounds.min_replicas})",
            )
        ]
    return []


def check_api_references(api: ApiSpec, config: InferentiaConfig, path: Path) -> list[Problem]:
    problems: list[Problem] = []
    if config.node_group(api.node_group) is None:
        valid = ", ".join(g.name for g in config.node_groups)
        problems.append(
            Problem((*path, "node_group"), f"{api.node_group!r} is not a node group of this config; valid: {valid}")
        )
    problems += check_replica_bounds(api, path)
    return problems


# --- API sizing rules (using-inferentia.md) -----------------------------------------------------------------------

_CPU = re.compile(r"^([0-9]+(?:\.[0-9]+)?)(m)?$")
_MEMORY = re.compile(r"^([0-9]+(?:\.[0-9]+)?)(k|M|G|T|Ki|Mi|Gi|Ti)?$")
_MEMORY_FACTORS = {
    None: 1.0,
    "k": 1e3,
    "M": 1e6,
    "G": 1e9,
    "T": 1e12,
    "Ki": 2.0**10,
    "Mi": 2.0**20,
    "Gi": 2.0**30,
    "Ti": 2.0**40,
}
_MIB = 2.0**20

RESERVED_NAMESPACES = frozenset({"default", "kube-system", "kube-public", "kube-node-lease"})
"""Namespaces Kubernetes itself owns; an API's namespace is its name, so these names are taken."""
# Kubernetes 1.34+ accepts any printable ASCII except '=' in an environment variable name.
_ENV_NAME = re.compile(r"^[\x21-\x3c\x3e-\x7e]+$")


def cpu_millicores(quantity: str) -> float | None:
    """``'1'`` -> 1000, ``'500m'`` -> 500; None for a CDK token or a form the quantity rule of config.py let through
    but that is not a CPU amount (a memory suffix)."""
    match = None if is_token(quantity) else _CPU.match(quantity)
    if match is None:
        return None
    value = float(match.group(1))
    return value if match.group(2) else value * 1000


def memory_mib(quantity: str) -> float | None:
    """``'4Gi'`` -> 4096, ``'4G'`` -> 3814.7, ``'512Mi'`` -> 512; None for a CDK token or a CPU form (``'500m'``)."""
    match = None if is_token(quantity) else _MEMORY.match(quantity)
    if match is None:
        return None
    return float(match.group(1)) * _MEMORY_FACTORS[match.group(2)] / _MIB


def _listing(values: Sequence[int]) -> str:
    return ", ".join(str(v) for v in values)


def check_quantity_kinds(api: ApiSpec, path: Path = ()) -> list[Problem]:
    """``cpu`` must be cores or millicores, ``mem`` bytes with an optional suffix (``500m`` of memory is a typo)."""
    problems: list[Problem] = []
    cpu, mem = api.compute.cpu, api.compute.mem
    if not is_token(cpu) and cpu_millicores(cpu) is None:
        problems.append(
            Problem((*path, "compute", "cpu"), f"cpu {cpu!r} is not a CPU amount; use cores ('2', '0.5') or '500m'")
        )
    if not is_token(mem) and memory_mib(mem) is None:
        problems.append(
            Problem(
                (*path, "compute", "mem"),
                f"mem {mem!r} is not a memory amount; use bytes with a suffix such as '512Mi', '4Gi' or '4G' "
                "('m' means thousandths)",
            )
        )
    return problems


def check_processes_per_replica(api: ApiSpec, family: NeuronFamily, path: Path = ()) -> list[Problem]:
    """``processes_per_replica`` must split the replica's NeuronCores evenly: one equal NCG per process."""
    cores = family.cores_per_chip * api.compute.inf
    if cores % api.processes_per_replica == 0:
        return []
    chips = f"{api.compute.inf} {family.name} chip{'s' if api.compute.inf > 1 else ''}"
    return [
        Problem(
            (*path, "processes_per_replica"),
            f"processes_per_replica {api.processes_per_replica} cannot evenly share the {cores} NeuronCores of "
            f"{chips} ({family.cores_per_chip} per chip); valid processes_per_replica: {_listing(divisors(cores))}",
        )
    ]


def check_compiled_neuroncores(api: ApiSpec, family: NeuronFamily, path: Path = ()) -> list[Problem]:
    """The model must fit its NCG: compiled for more cores it cannot load; for fewer, cores sit idle (a warning)."""
    cores = family.cores_per_chip * api.compute.inf
    compiled = api.compiled_neuroncores
    if compiled is None or cores % api.processes_per_replica:
        return []  # the default is the NCG size; an uneven split is reported by check_processes_per_replica
    ncg = cores // api.processes_per_replica
    field = (*path, "compiled_neuroncores")
    split = f"{cores} NeuronCores / {api.processes_per_replica} processes"
    if compiled > ncg:
        fitting = [p for p in divisors(cores) if cores // p >= compiled]
        fix = (
            f"lower processes_per_replica to one of {_listing(fitting)} (NCGs of {cores // fitting[-1]} or more "
            "cores), "
            if fitting
            else f"raise compute.inf so a replica has at least {compiled} NeuronCores, "
        )
        return [
            Problem(
                field,
                f"the model is compiled for {compiled} NeuronCores but each NCG has {ncg} ({split}), so it cannot "
                f"load; {fix}or recompile it with --num-neuroncores {ncg}",
            )
        ]
    if compiled < ncg:
        idle = ncg - compiled
        throughput = (
            f"set processes_per_replica to {cores // compiled} to run one model copy per {compiled} cores"
            if cores % compiled == 0
            else f"keep the model small and raise processes_per_replica (valid: {_listing(divisors(cores))})"
        )
        return [
            Problem(
                field,
                f"the model is compiled for {compiled} NeuronCores but each NCG has {ncg} ({split}): {idle} cores "
                f"of every NCG sit idle. For throughput, {throughput}; for latency, recompile with "
                f"--num-neuroncores {ncg} (more cores per model copy, fewer copies)",
                "warning",
            )
        ]
    return []


def check_replica_fits(
    api: ApiSpec,
    capacity: NodeGroupCapacity,
    path: Path = (),
    *,
    neuron_monitor: bool = False,
    container_insights: bool = False,
) -> list[Problem]:
    """One replica must fit one node of every instance type of its group: chips, and CPU and memory allocatable."""
    problems: list[Problem] = []
    inf = api.compute.inf
    too_small = [t for t in capacity.instance_types if t.chips < inf]
    if too_small:
        larger = [t for t in catalog.INSTANCE_TYPES.values() if t.family == capacity.family and t.chips >= inf]
        offer = (
            "; types with enough chips: " + ", ".join(f"{t.name} ({t.chips})" for t in larger)
            if larger
            else f"; no {capacity.family.name} type has that many"
        )
        listed = ", ".join(f"{t.name} has {t.chips}" for t in too_small)
        problems.append(
            Problem(
                (*path, "compute", "inf"),
                f"inf {inf} does not fit one node of node group {capacity.name!r} ({listed}); a replica runs on one "
                f"node, so inf must be at most {capacity.chips_per_node}{offer}",
            )
        )
    cpu = cpu_millicores(api.compute.cpu)
    mem = memory_mib(api.compute.mem)
    for instance_type in capacity.instance_types:
        node = node_allocatable(instance_type, neuron_monitor=neuron_monitor, container_insights=container_insights)
        if cpu is not None and cpu > node.cpu_millicores:
            problems.append(
                Problem(
                    (*path, "compute", "cpu"),
                    f"cpu {api.compute.cpu!r} ({cpu:g}m) exceeds what one {instance_type.name} node of node group "
                    f"{capacity.name!r} can give a pod: {node.cpu_millicores}m ({instance_type.vcpus} vCPUs less "
                    f"{node.kube_reserved_cpu_millicores}m kube-reserved and {node.daemonset_cpu_millicores}m for "
                    f"node DaemonSets); ask for at most {node.cpu_millicores}m",
                )
            )
        if mem is not None and mem > node.memory_mib:
            problems.append(
                Problem(
                    (*path, "compute", "mem"),
                    f"mem {api.compute.mem!r} ({mem:.0f}Mi) exceeds what one {instance_type.name} node of node group "
                    f"{capacity.name!r} can give a pod: {node.memory_mib}Mi ({instance_type.memory_gib} GiB less the "
                    f"kernel's share, {node.kube_reserved_memory_mib}Mi kube-reserved, the eviction threshold and "
                    f"{node.daemonset_memory_mib}Mi for node DaemonSets); ask for at most {node.memory_mib}Mi",
                )
            )
    return problems


def check_contiguous_allocation(
    api: ApiSpec, capacity: NodeGroupCapacity, path: Path = (), *, scheduler_extension: bool = False
) -> list[Problem]:
    """More than one chip but fewer than a node's needs adjacent chips, which only the Neuron scheduler ensures."""
    inf = api.compute.inf
    partial = [t for t in capacity.instance_types if 1 < inf < t.chips]
    if scheduler_extension or not partial:
        return []
    listed = ", ".join(f"{t.name} has {t.chips}" for t in partial)
    return [
        Problem(
            (*path, "compute", "inf"),
            f"inf {inf} is more than one chip but fewer than a whole node's ({listed}); the default scheduler may "
            "hand out chips that are not adjacent, and NeuronCore Groups need contiguous chips. Set "
            "device_plugin.scheduler_extension: true (pods then use the Neuron scheduler), or ask for 1 chip or "
            "a whole node's chips",
        )
    ]


def check_api_name(api: ApiSpec, path: Path = ()) -> list[Problem]:
    """An API's namespace is its name, so names Kubernetes owns are taken."""
    if api.name in RESERVED_NAMESPACES or api.name.startswith("kube-"):
        return [
            Problem(
                (*path, "name"),
                f"API name {api.name!r} is also its namespace, and Kubernetes owns that namespace; pick another "
                "name (not 'default' and not starting with 'kube-')",
            )
        ]
    return []


def check_env(api: ApiSpec, path: Path = ()) -> list[Problem]:
    """User variables may not override the NCG layout, and must be valid names."""
    problems: list[Problem] = []
    for name in api.env:
        if name in RESERVED_ENV_NAMES:
            problems.append(
                Problem(
                    (*path, "env", name),
                    f"{name} is set by inferentia-cdk from compute.inf, processes_per_replica, threads_per_process and "
                    "port (or by the Neuron device plugin); change those fields instead. Reserved: "
                    + ", ".join(sorted(RESERVED_ENV_NAMES)),
                )
            )
        elif not _ENV_NAME.match(name):
            problems.append(
                Problem((*path, "env", name), f"{name!r} is not a valid variable name: printable ASCII without '='")
            )
    return problems


def check_image(api: ApiSpec, path: Path = ()) -> list[Problem]:
    """A warning for images that are not pinned: the same config would deploy different code tomorrow."""
    image = api.image
    if is_token(image) or "@" in image:
        return []
    last = image.rsplit("/", 1)[-1]
    tag = last.split(":", 1)[1] if ":" in last else None
    if tag is None or tag == "latest":
        return [
            Problem(
                (*path, "image"),
                f"image {image!r} is not pinned ({'no tag' if tag is None else ':latest'}); give a version tag or, "
                "better, a digest (@sha256:...)",
                "warning",
            )
        ]
    return []


def check_api(
    api: ApiSpec,
    node_group: NodeGroupSpec,
    path: Path = (),
    *,
    scheduler_extension: bool = False,
    neuron_monitor: bool = False,
    container_insights: bool = False,
) -> list[Problem]:
    """Every problem of one API on its node group (errors and warnings), without the config-wide checks.

    Problems of the node group itself (types, families, sizes) are reported by :func:`check_node_group`; the sizing
    rules need a valid group and are skipped until it is one.
    """
    capacity = None if errors(check_node_group(node_group)) else NodeGroupCapacity.of(node_group)
    return _check_api_on(
        api,
        capacity,
        path,
        scheduler_extension=scheduler_extension,
        neuron_monitor=neuron_monitor,
        container_insights=container_insights,
    )


def _check_api_on(
    api: ApiSpec,
    capacity: NodeGroupCapacity | None,
    path: Path,
    *,
    scheduler_extension: bool,
    neuron_monitor: bool,
    container_insights: bool = False,
) -> list[Problem]:
    """:func:`check_api` on the capacity of its node group, or None when the group itself has errors."""
    problems = check_api_name(api, path) + check_replica_bounds(api, path) + check_quantity_kinds(api, path)
    problems += check_env(api, path) + check_image(api, path)
    if capacity is None:
        return problems
    problems += check_processes_per_replica(api, capacity.family, path)
    problems += check_compiled_neuroncores(api, capacity.family, path)
    problems += check_replica_fits(
        api, capacity, path, neuron_monitor=neuron_monitor, container_insights=container_insights
    )
    problems += check_contiguous_allocation(api, capacity, path, scheduler_extension=scheduler_extension)
    return problems


def check_config(config: InferentiaConfig) -> list[Problem]:
    """Every cross-field problem in ``config`` (errors and warnings), in document order."""
    problems: list[Problem] = []
    system = config.cluster.system_node_group
    if not system.min_size <= system.desired_size <= system.max_size:
        problems.append(
            Problem(
                ("cluster", "system_node_group", "desired_size"),
                f"sizes must satisfy min_size <= desired_size <= max_size, got {system.min_size}, "
                f"{system.desired_size}, {system.max_size}",
            )
        )
    # Each group is checked and measured once, however many APIs run on it.
    capacities: dict[int, NodeGroupCapacity | None] = {}
    for i, group in enumerate(config.node_groups):
        group_problems = check_node_group(group, ("node_groups", i))
        problems += group_problems
        capacities[id(group)] = None if errors(group_problems) else NodeGroupCapacity.of(group)
    for i, name in _duplicates([g.name for g in config.node_groups]):
        problems.append(Problem(("node_groups", i, "name"), f"node group name {name!r} is used more than once"))
    for i, name in _duplicates([a.name for a in config.apis]):
        problems.append(Problem(("apis", i, "name"), f"API name {name!r} is used more than once"))
    plugin = config.device_plugin
    # Once for the config, not per API: each asks about every API.
    neuron_monitor, container_insights = config.neuron_monitor(), config.container_insights()
    for i, api in enumerate(config.apis):
        path: Path = ("apis", i)
        api_group = config.node_group(api.node_group)
        if api_group is None:
            problems += check_api_references(api, config, path)
            continue
        problems += _check_api_on(
            api,
            capacities[id(api_group)],
            path,
            scheduler_extension=plugin.scheduler_extension,
            neuron_monitor=neuron_monitor,
            container_insights=container_insights,
        )
    problems += check_endpoints(config)
    problems += check_scaling(config)
    problems += check_operator_access(config)
    return problems
