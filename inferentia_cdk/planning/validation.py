"""Rules that relate configuration values to each other and to the hardware catalog.

Each rule is a small function returning problems, so that every problem is reported at once, with its path.
Pure: no CDK import.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterator, Sequence
from functools import lru_cache

from .. import catalog
from ..catalog import NeuronFamily, NeuronInstanceType
from ..config.models import (
    EKS_NODES_PER_GROUP_QUOTA,
    ApiSpec,
    InferentiaConfig,
    NodeGroupSpec,
    is_token,
    parse_quantity,
)
from ..config.problems import Path, Problem, errors, shown
from .capacity import NodeGroupCapacity, node_allocatable
from .cluster_facts import check_api_node_group
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
    sizes = [t for t in (catalog.lookup(n) for n in dict.fromkeys(group.instance_types)) if t is not None]
    if len(families) == 1 and len(sizes) > 1:
        # Cluster Autoscaler sizes a new node by the first instance type of the Auto Scaling group's mixed instances
        # policy (kubernetes/autoscaler cluster-autoscaler/cloudprovider/aws/README.md).
        listed = "; ".join(
            f"{t.name}: {t.vcpus} vCPUs, {t.memory_gib} GiB, {t.chips} chip{'s' * (t.chips > 1)}" for t in sizes
        )
        problems.append(
            Problem(
                (*path, "instance_types"),
                f"mixes instance sizes ({listed}). Cluster Autoscaler models every node it would add from one "
                "instance type of the group, while EKS may launch any of them, so it can add a node that is too "
                "small for the pending pod or add none for a pod only a larger type fits; use one instance type "
                "per node group, and a node group per size",
                "warning",
            )
        )
    for family, types in families.items():
        last_driver = catalog.FAMILIES[family].last_driver
        if last_driver is not None:
            named = ", ".join(dict.fromkeys(types))
            problems.append(
                Problem(
                    (*path, "instance_types"),
                    f"{named}: Neuron drivers after {last_driver} no longer support {family}; the AL2023 "
                    f"Neuron AMI loads a legacy driver for it, so {family} still works here, but later driver "
                    "features will not reach it. Consider inf2 for new deployments",
                    "warning",
                )
            )
    if not group.min_size <= group.desired_size <= group.max_size:
        problems.append(
            Problem(
                (*path, "desired_size"),
                f"sizes must satisfy 0 <= min_size <= desired_size <= max_size, got min_size={group.min_size}, "
                f"desired_size={group.desired_size}, max_size={group.max_size}",
            )
        )
    problems += check_nodes_quota(group.max_size, (*path, "max_size"))
    return problems


def check_nodes_quota(max_size: int, path: Path) -> list[Problem]:
    """A warning above the EKS quota on nodes per managed node group, which is adjustable and so not an error."""
    if max_size <= EKS_NODES_PER_GROUP_QUOTA:
        return []
    return [
        Problem(
            path,
            f"max_size {max_size} is above {EKS_NODES_PER_GROUP_QUOTA}, the default EKS quota of nodes per managed "
            "node group: the deploy fails unless that quota (Amazon EKS, 'Nodes per managed node group') was raised",
            "warning",
        )
    ]


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


# --- API sizing rules (using-inferentia.md) -----------------------------------------------------------------------

_MIB = 2**20

RESERVED_NAMESPACES = frozenset({"default", "kube-system", "kube-public", "kube-node-lease"})
"""Namespaces Kubernetes itself owns; an API's namespace is its name, so these names are taken."""
# Kubernetes 1.34+ accepts any printable ASCII except '=' in an environment variable name.
_ENV_NAME = re.compile(r"^[\x21-\x3c\x3e-\x7e]+$")
MAX_CHIPS_PER_NODE = max(t.chips for t in catalog.INSTANCE_TYPES.values())
MAX_ENV_STRING_BYTES = 32 * 4096
"""Linux MAX_ARG_STRLEN (include/uapi/linux/binfmts.h): execve refuses any one ``NAME=VALUE`` string (with its NUL)
longer than 32 pages, so a container whose env holds one cannot start."""
MAX_ENV_TEMPLATE_BYTES = 512 * 1024
"""Every API's env sits, JSON-escaped twice (a manifest string inside the template), in the APIs stack template, which
CloudFormation caps at 1 MB; this leaves the rest of the template room."""


@lru_cache(maxsize=1024)
def cpu_millicores(quantity: str) -> float | None:
    """``'1'`` -> 1000, ``'500m'`` -> 500, ``'1e3'`` -> 1e6; None for a CDK token or a string that is no quantity."""
    amount = None if is_token(quantity) else parse_quantity(quantity)
    return None if amount is None else float(amount * 1000)


@lru_cache(maxsize=1024)
def memory_mib(quantity: str) -> float | None:
    """``'4Gi'`` -> 4096, ``'4G'`` -> 3814.7, ``'512Mi'`` -> 512; None for a CDK token or a string that is no
    quantity."""
    amount = None if is_token(quantity) else parse_quantity(quantity)
    return None if amount is None else float(amount / _MIB)


def _listing(values: Sequence[int]) -> str:
    return ", ".join(str(v) for v in values)


def _some(names: Sequence[str], shown_at_most: int = 10) -> str:
    """``a, b, c`` or ``a, b, c and 7 more``: a message names a few, however many there are."""
    listed = ", ".join(names[:shown_at_most])
    return listed if len(names) <= shown_at_most else f"{listed} and {len(names) - shown_at_most} more"


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


def _kubernetes_references(value: str) -> list[str]:
    """The ``$(VAR)`` references the kubelet would expand in an env value (``$$`` escapes), in one linear pass."""
    references, i = [], 0
    while (i := value.find("$", i)) != -1 and i + 1 < len(value):
        if value[i + 1] == "$":
            i += 2
        elif value[i + 1] == "(":
            close = value.find(")", i + 2)
            if close == -1:
                break
            references.append(value[i + 2 : close])
            i = close + 1
        else:
            i += 1
    return references


def check_env(api: ApiSpec, path: Path = ()) -> list[Problem]:
    """User variables may not override the NCG layout, must be valid names, and must be exec-able as written."""
    problems: list[Problem] = []
    stripped: dict[str, str] = {}
    for name, value in api.env.items():
        at = (*path, "env", name)
        if name in RESERVED_ENV_NAMES:
            problems.append(
                Problem(
                    at,
                    f"{name} is set by inferentia-cdk from compute.inf, processes_per_replica, threads_per_process and "
                    "port (or by the Neuron device plugin); change those fields instead. Reserved: "
                    + ", ".join(sorted(RESERVED_ENV_NAMES)),
                )
            )
        elif name.strip() != name or any(c.isspace() for c in name):
            other = stripped.get("".join(name.split()))
            twin = f", and differs from {shown(other)} only by whitespace" if other is not None else ""
            problems.append(Problem(at, f"variable name {shown(name)} contains whitespace{twin}; names have none"))
        elif not _ENV_NAME.match(name):
            problems.append(Problem(at, f"{shown(name)} is not a valid variable name: printable ASCII without '='"))
        stripped.setdefault("".join(name.split()), name)
        if "\x00" in value:
            problems.append(Problem(at, "the value contains a NUL character, which no process environment can hold"))
        size = len(name.encode()) + len(value.encode()) + 2
        if size > MAX_ENV_STRING_BYTES:
            problems.append(
                Problem(
                    at,
                    f"{name}=<value> is {size} bytes; Linux starts no process with an environment string above "
                    f"{MAX_ENV_STRING_BYTES // 1024} KiB (MAX_ARG_STRLEN), so mount large values as a file instead",
                )
            )
        references = _kubernetes_references(value)
        if references:
            listed = ", ".join(f"$({r})" for r in references[:3])
            problems.append(
                Problem(
                    at,
                    f"the value contains {shown(listed)}, which Kubernetes replaces with the value of that variable "
                    "when it is defined before this one (the NCG variables always are); write $$( for a literal $(",
                    "warning",
                )
            )
    return problems


def _template_bytes(text: str) -> int:
    """Bytes of ``text`` as a string inside a JSON manifest that is itself a string of the template."""
    return len(json.dumps(json.dumps(text)).encode()) - 6


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


def _replica_needs(api: ApiSpec) -> dict[str, float]:
    """What one replica takes of each node resource (tokens count as nothing)."""
    return {
        "Neuron chips": api.compute.inf,
        "CPU millicores": cpu_millicores(api.compute.cpu) or 0.0,
        "MiB of memory": memory_mib(api.compute.mem) or 0.0,
        "pods": 1,
    }


def _node_offers(
    instance_type: NeuronInstanceType, *, neuron_monitor: bool, container_insights: bool
) -> dict[str, float]:
    """What one node of ``instance_type`` offers API pods, per resource of :func:`_replica_needs`."""
    node = node_allocatable(instance_type, neuron_monitor=neuron_monitor, container_insights=container_insights)
    return {
        "Neuron chips": instance_type.chips,
        "CPU millicores": node.cpu_millicores,
        "MiB of memory": node.memory_mib,
        "pods": instance_type.max_pods - len(node.daemonsets),
    }


def _per_node(needs: dict[str, float], offers: dict[str, float]) -> tuple[int, str]:
    """Replicas one node holds, and the resource that limits it."""
    return min((math.floor(offers[r] / needs[r]), r) for r in needs if needs[r] > 0)


def check_min_replicas(
    apis: Sequence[tuple[Path, ApiSpec]],
    capacity: NodeGroupCapacity,
    group_path: Path = (),
    *,
    neuron_monitor: bool = False,
    container_insights: bool = False,
) -> list[Problem]:
    """The node group at ``max_size`` must hold the ``min_replicas`` of its APIs, or those pods stay Pending for good.

    An error when no mix of the group's instance types can hold them (the HorizontalPodAutoscaler never goes below
    min_replicas, and Cluster Autoscaler never above max_size); a warning when only the group's smaller types cannot,
    since then it depends on which types EC2 hands out. APIs whose replica fits no node are left to
    :func:`check_replica_fits`.
    """
    problems: list[Problem] = []
    nodes = capacity.max_nodes
    offers = {
        t.name: _node_offers(t, neuron_monitor=neuron_monitor, container_insights=container_insights)
        for t in capacity.instance_types
    }
    placed: list[tuple[ApiSpec, dict[str, float]]] = []
    for path, api in apis:
        needs = _replica_needs(api)
        per_type = sorted((*_per_node(needs, offer), name) for name, offer in offers.items())
        (least, least_by, least_type), (most, most_by, most_type) = per_type[0], per_type[-1]
        if least < 1:
            continue
        placed.append((api, needs))
        wanted = api.autoscaling.min_replicas
        fix = "raise the node group's max_size to {} or lower min_replicas"
        if wanted > nodes * most:
            problems.append(
                Problem(
                    (*path, "autoscaling", "min_replicas"),
                    f"min_replicas {wanted} cannot all run: node group {capacity.name!r} at max_size {nodes} holds "
                    f"{nodes * most} replicas of this API ({most} per {most_type} node, limited by its "
                    f"{most_by}), so the rest would stay Pending; " + fix.format(math.ceil(wanted / most)),
                )
            )
        elif wanted > nodes * least:
            problems.append(
                Problem(
                    (*path, "autoscaling", "min_replicas"),
                    f"min_replicas {wanted} fits node group {capacity.name!r} at max_size {nodes} only if its nodes "
                    f"are larger than {least_type} ({least} replicas per node, limited by its {least_by}); to be "
                    "sure, " + fix.format(math.ceil(wanted / least)),
                    "warning",
                )
            )
    if len(placed) > 1:
        for resource in placed[0][1]:
            total = sum(api.autoscaling.min_replicas * needs[resource] for api, needs in placed)
            most_offered = max(offer[resource] for offer in offers.values()) * nodes
            if total > most_offered:
                names = _some([api.name for api, _ in placed])
                problems.append(
                    Problem(
                        (*group_path, "max_size"),
                        f"the min_replicas of APIs {names} need {total:.0f} {resource} at once, but max_size {nodes} "
                        f"nodes of node group {capacity.name!r} offer at most {most_offered:.0f}; raise max_size or "
                        "lower their min_replicas",
                    )
                )
    return problems


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
    problems = _check_api_on(
        api,
        capacity,
        path,
        scheduler_extension=scheduler_extension,
        neuron_monitor=neuron_monitor,
        container_insights=container_insights,
    )
    if capacity is not None:
        problems += check_min_replicas(
            [(path, api)], capacity, neuron_monitor=neuron_monitor, container_insights=container_insights
        )
    return problems


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
    problems = check_api_name(api, path) + check_replica_bounds(api, path)
    problems += check_env(api, path) + check_image(api, path)
    if capacity is None:
        return problems
    # A replica larger than every node has no layout to check (and its divisors would take long to list).
    if api.compute.inf <= MAX_CHIPS_PER_NODE:
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
    problems += check_nodes_quota(system.max_size, ("cluster", "system_node_group", "max_size"))
    # Each group is checked and measured once, however many APIs run on it; the first group of a name wins.
    capacities: dict[int, NodeGroupCapacity | None] = {}
    groups: dict[str, tuple[int, NodeGroupSpec]] = {}
    for i, group in enumerate(config.node_groups):
        group_problems = check_node_group(group, ("node_groups", i))
        problems += group_problems
        capacities[id(group)] = None if errors(group_problems) else NodeGroupCapacity.of(group)
        groups.setdefault(group.name, (i, group))
    for i, name in _duplicates([g.name for g in config.node_groups]):
        problems.append(Problem(("node_groups", i, "name"), f"node group name {name!r} is used more than once"))
    for i, name in _duplicates([a.name for a in config.apis]):
        problems.append(Problem(("apis", i, "name"), f"API name {name!r} is used more than once"))
    plugin = config.device_plugin
    on_group: dict[str, list[tuple[Path, ApiSpec]]] = {}
    env_bytes = 0
    # Once for the config, not per API: each asks about every API.
    neuron_monitor, container_insights = config.neuron_monitor(), config.container_insights()
    for i, api in enumerate(config.apis):
        path: Path = ("apis", i)
        env_bytes += sum(_template_bytes(k) + _template_bytes(v) for k, v in api.env.items())
        unknown_group = check_api_node_group(api.node_group, list(groups), path)
        if unknown_group:
            problems += unknown_group
            problems += check_replica_bounds(api, path)
            continue
        api_group = groups[api.node_group][1]
        api_problems = _check_api_on(
            api,
            capacities[id(api_group)],
            path,
            scheduler_extension=plugin.scheduler_extension,
            neuron_monitor=neuron_monitor,
            container_insights=container_insights,
        )
        problems += api_problems
        if not errors(api_problems):
            on_group.setdefault(api.node_group, []).append((path, api))
    for name, apis in on_group.items():
        index, group = groups[name]
        capacity = capacities[id(group)]
        if capacity is not None:
            problems += check_min_replicas(
                apis,
                capacity,
                ("node_groups", index),
                neuron_monitor=neuron_monitor,
                container_insights=container_insights,
            )
    if env_bytes > MAX_ENV_TEMPLATE_BYTES:
        problems.append(
            Problem(
                ("apis",),
                f"the APIs' env values take {env_bytes} bytes in the APIs stack template, more than "
                f"{MAX_ENV_TEMPLATE_BYTES // 1024} KiB of CloudFormation's 1 MB template limit; mount large values "
                "as files instead",
            )
        )
    problems += check_endpoints(config)
    problems += check_scaling(config)
    problems += check_operator_access(config)
    return problems
