"""Rules that relate configuration values to each other and to the hardware catalog.

Each rule is a small function returning problems, so that every problem is reported at once, with its path.
Pure: no CDK import.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import fields

from .. import catalog
from ..catalog import NeuronFamily
from ..config.models import (
    EKS_NODES_PER_GROUP_QUOTA,
    ApiSpec,
    InferentiaConfig,
    NodeGroupSpec,
    SystemNodeGroupSpec,
    is_token,
)
from ..config.namespaces import RESERVED_NAMESPACES, RESERVED_PREFIX, reserved_namespace_reason
from ..config.problems import RULES, Path, Problem, errors, rule, shown
from .capacity import NodeGroupCapacity, node_allocatable
from .cluster_facts import check_api_node_group
from .endpoints import check_endpoints, check_operator_access
from .llm import check_engine
from .neuron_rules import check_lnc, check_torus_device_count
from .packing import RESOURCE_NAMES, GroupLoad, Packing, Resources, cpu_millicores, group_loads, memory_mib
from .scaling import check_scaling
from .serving_env import RESERVED_ENV_NAMES
from .sizing import divisors, replica_needs

API_NAME_NAMESPACE = rule("NAME170", "error", "an API name is no namespace Kubernetes, the cluster or an add-on uses")


def neuron_types_hint() -> str:
    return ", ".join(catalog.NEURON_INSTANCE_TYPE_NAMES)


NEURON_TYPE = rule("NG002", "error", "a node group's instance types are Neuron types of the catalog")
ONE_FAMILY = rule("NG003", "error", "a node group's instance types are of one Neuron family")
TYPE_ONCE = rule("NG004", "error", "a node group lists each instance type once")
ONE_SIZE = rule("NG005", "warning", "a node group has one instance size (Cluster Autoscaler models one)")
LEGACY_DRIVER = rule("NG006", "warning", "a node group's family is supported by current Neuron drivers (not inf1)")


def check_node_group(group: NodeGroupSpec, path: Path = ()) -> list[Problem]:
    """Instance types, one family per group, and ordered sizes."""
    problems: list[Problem] = []
    families: dict[str, list[str]] = {}
    for i, name in enumerate(group.instance_types):
        if catalog.lookup(name) is None:
            problems.append(
                NEURON_TYPE.problem(
                    (*path, "instance_types", i),
                    f"{name!r} is not a Neuron instance type; valid: {neuron_types_hint()}",
                )
            )
        else:
            families.setdefault(catalog.family_of(name), []).append(name)
    if len(families) > 1:
        listed = "; ".join(f"{fam}: {', '.join(types)}" for fam, types in families.items())
        problems.append(
            ONE_FAMILY.problem(
                (*path, "instance_types"),
                f"mixes Neuron families ({listed}); use one family per node group, since chips, NeuronCores and "
                "quotas differ between families",
            )
        )
    if len(set(group.instance_types)) != len(group.instance_types):
        problems.append(TYPE_ONCE.problem((*path, "instance_types"), "lists an instance type more than once"))
    sizes = [t for t in (catalog.lookup(n) for n in dict.fromkeys(group.instance_types)) if t is not None]
    if len(families) == 1 and len(sizes) > 1:
        # Cluster Autoscaler sizes a new node by the first instance type of the Auto Scaling group's mixed instances
        # policy (kubernetes/autoscaler cluster-autoscaler/cloudprovider/aws/README.md).
        listed = "; ".join(
            f"{t.name}: {t.vcpus} vCPUs, {t.memory_gib} GiB, {t.chips} chip{'s' * (t.chips > 1)}" for t in sizes
        )
        problems.append(
            ONE_SIZE.problem(
                (*path, "instance_types"),
                f"mixes instance sizes ({listed}). Cluster Autoscaler models every node it would add from one "
                "instance type of the group, while EKS may launch any of them, so it can add a node that is too "
                "small for the pending pod or add none for a pod only a larger type fits; use one instance type "
                "per node group, and a node group per size",
            )
        )
    for family, types in families.items():
        last_driver = catalog.FAMILIES[family].last_driver
        if last_driver is not None:
            named = ", ".join(dict.fromkeys(types))
            problems.append(
                LEGACY_DRIVER.problem(
                    (*path, "instance_types"),
                    f"{named}: Neuron drivers after {last_driver} no longer support {family}; the AL2023 "
                    f"Neuron AMI loads a legacy driver for it, so {family} still works here, but later driver "
                    "features will not reach it. Consider inf2 for new deployments",
                )
            )
    problems += check_group_sizes(group, path)
    return problems + check_lnc(group, path)


ORDERED_SIZES = rule("NG007", "error", "a node group's sizes satisfy min_size <= desired_size <= max_size")
NODES_QUOTA = rule("NG008", "warning", "max_size is within the EKS quota of nodes per managed node group")


def check_group_sizes(group: NodeGroupSpec | SystemNodeGroupSpec, path: Path) -> list[Problem]:
    """The sizes of a managed node group (a Neuron one or the system one): ordered, and within the EKS quota."""
    problems = []
    if not group.min_size <= group.desired_size <= group.max_size:
        problems.append(
            ORDERED_SIZES.problem(
                (*path, "desired_size"),
                f"sizes must satisfy min_size <= desired_size <= max_size, got min_size={group.min_size}, "
                f"desired_size={group.desired_size}, max_size={group.max_size}",
            )
        )
    return problems + check_nodes_quota(group.max_size, (*path, "max_size"))


def check_nodes_quota(max_size: int, path: Path) -> list[Problem]:
    """A warning above the EKS quota on nodes per managed node group, which is adjustable and so not an error."""
    if max_size <= EKS_NODES_PER_GROUP_QUOTA:
        return []
    return [
        NODES_QUOTA.problem(
            path,
            f"max_size {max_size} is above {EKS_NODES_PER_GROUP_QUOTA}, the default EKS quota of nodes per managed "
            "node group: the deploy fails unless that quota (Amazon EKS, 'Nodes per managed node group') was raised",
        )
    ]


NODE_GROUP_UNIQUE = rule("NG009", "error", "node group names are unique")
API_UNIQUE = rule("API006", "error", "API names are unique")


def _duplicates(names: Sequence[str]) -> Iterator[tuple[int, str]]:
    seen: set[str] = set()
    for i, name in enumerate(names):
        if name in seen:
            yield i, name
        seen.add(name)


REPLICA_BOUNDS = rule("SCL004", "error", "max_replicas is at least min_replicas")


def check_replica_bounds(api: ApiSpec, path: Path = ()) -> list[Problem]:
    bounds = api.autoscaling
    if bounds.min_replicas > bounds.max_replicas:
        return [
            REPLICA_BOUNDS.problem(
                (*path, "autoscaling", "max_replicas"),
                f"max_replicas ({bounds.max_replicas}) must be at least min_replicas ({bounds.min_replicas})",
            )
        ]
    return []


# --- API sizing rules (using-inferentia.md) -----------------------------------------------------------------------

_MIB = 2**20

# Kubernetes 1.34+ accepts any printable ASCII except '=' in an environment variable name.
_ENV_NAME = re.compile(r"^[\x21-\x3c\x3e-\x7e]+$")
MAX_CHIPS_PER_NODE = max(t.chips for t in catalog.INSTANCE_TYPES.values())
MAX_ENV_STRING_BYTES = 32 * 4096
"""Linux MAX_ARG_STRLEN (include/uapi/linux/binfmts.h): execve refuses any one ``NAME=VALUE`` string (with its NUL)
longer than 32 pages, so a container whose env holds one cannot start."""
MAX_ENV_TEMPLATE_BYTES = 512 * 1024
"""Every API's env sits, JSON-escaped twice (a manifest string inside the template), in the APIs stack template, which
CloudFormation caps at 1 MB; this leaves the rest of the template room."""


def _listing(values: Sequence[int]) -> str:
    return ", ".join(str(v) for v in values)


def _some(names: Sequence[str], shown_at_most: int = 10) -> str:
    """``a, b, c`` or ``a, b, c and 7 more``: a message names a few, however many there are."""
    listed = ", ".join(names[:shown_at_most])
    return listed if len(names) <= shown_at_most else f"{listed} and {len(names) - shown_at_most} more"


def _replica_cores(api: ApiSpec, family: NeuronFamily) -> tuple[int, str]:
    """The replica's NeuronCores and where they come from ('2 inf2 chips (2 per chip)', 'neuroncores 3')."""
    needs = replica_needs(api.compute, family)
    if needs.unit == "neuroncores":
        return needs.neuroncores, f"neuroncores {needs.requested}"
    chips = f"{needs.requested} {family.name} chip{'s' if needs.requested > 1 else ''}"
    return needs.neuroncores, f"{chips} ({family.cores_per_chip} per chip)"


EVEN_SPLIT = rule("NCG001", "error", "processes_per_replica splits a replica's NeuronCores evenly")


def check_processes_per_replica(api: ApiSpec, family: NeuronFamily, path: Path = ()) -> list[Problem]:
    """``processes_per_replica`` must split the replica's NeuronCores evenly: one equal NCG per process."""
    cores, source = _replica_cores(api, family)
    if cores % api.processes_per_replica == 0:
        return []
    return [
        EVEN_SPLIT.problem(
            (*path, "processes_per_replica"),
            f"processes_per_replica {api.processes_per_replica} cannot evenly share the {cores} NeuronCores of "
            f"{source}; valid processes_per_replica: {_listing(divisors(cores))}",
        )
    ]


MODEL_FITS_NCG = rule("NCG002", "error", "compiled_neuroncores is at most the NeuronCores of one NCG")
IDLE_CORES = rule("NCG003", "warning", "compiled_neuroncores uses every NeuronCore of its NCG")


def check_compiled_neuroncores(api: ApiSpec, family: NeuronFamily, path: Path = ()) -> list[Problem]:
    """The model must fit its NCG: compiled for more cores it cannot load; for fewer, cores sit idle (a warning)."""
    cores = replica_needs(api.compute, family).neuroncores
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
            else f"raise compute.{api.compute.field} so a replica has at least {compiled} NeuronCores, "
        )
        return [
            MODEL_FITS_NCG.problem(
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
            IDLE_CORES.problem(
                field,
                f"the model is compiled for {compiled} NeuronCores but each NCG has {ncg} ({split}): {idle} cores "
                f"of every NCG sit idle. For throughput, {throughput}; for latency, recompile with "
                f"--num-neuroncores {ncg} (more cores per model copy, fewer copies)",
            )
        ]
    return []


CHIPS_FIT = rule("CAP001", "error", "compute.inf or compute.neuroncores fits one node of every type of the node group")
CPU_FITS = rule("CAP002", "error", "compute.cpu fits what one node of every instance type gives a pod")
MEMORY_FITS = rule("CAP003", "error", "compute.mem fits what one node of every instance type gives a pod")


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
    family = capacity.family
    needs = replica_needs(api.compute, family)
    chips_asked = needs.unit == "chips"
    # What a node has, in the request's unit: chips, or NeuronCores at the group's LNC.
    per_type = {t.name: t.chips if chips_asked else t.chips * family.cores_per_chip for t in capacity.instance_types}
    what = "chips" if chips_asked else "NeuronCores"
    too_small = [t for t in capacity.instance_types if per_type[t.name] < needs.requested]
    if too_small:
        larger = [
            t
            for t in catalog.INSTANCE_TYPES.values()
            if t.family.name == family.name
            and (t.chips if chips_asked else t.chips * family.cores_per_chip) >= needs.requested
        ]
        offer = (
            f"; types with enough {what}: "
            + ", ".join(f"{t.name} ({t.chips if chips_asked else t.chips * family.cores_per_chip})" for t in larger)
            if larger
            else f"; no {family.name} type has that many"
        )
        listed = ", ".join(f"{t.name} has {per_type[t.name]}" for t in too_small)
        field = api.compute.field
        problems.append(
            CHIPS_FIT.problem(
                (*path, "compute", field),
                f"{field} {needs.requested} does not fit one node of node group {capacity.name!r} ({listed}); a "
                f"replica runs on one node, so {field} must be at most {min(per_type.values())}{offer}",
            )
        )
    cpu = cpu_millicores(api.compute.cpu)
    mem = memory_mib(api.compute.mem)
    for instance_type in capacity.instance_types:
        node = node_allocatable(instance_type, neuron_monitor=neuron_monitor, container_insights=container_insights)
        if cpu is not None and cpu > node.cpu_millicores:
            problems.append(
                CPU_FITS.problem(
                    (*path, "compute", "cpu"),
                    f"cpu {api.compute.cpu!r} ({cpu:g}m) exceeds what one {instance_type.name} node of node group "
                    f"{capacity.name!r} can give a pod: {node.cpu_millicores}m ({instance_type.vcpus} vCPUs less "
                    f"{node.kube_reserved_cpu_millicores}m kube-reserved and {node.daemonset_cpu_millicores}m for "
                    f"node DaemonSets); ask for at most {node.cpu_millicores}m",
                )
            )
        if mem is not None and mem > node.memory_mib:
            problems.append(
                MEMORY_FITS.problem(
                    (*path, "compute", "mem"),
                    f"mem {api.compute.mem!r} ({mem:.0f}Mi) exceeds what one {instance_type.name} node of node group "
                    f"{capacity.name!r} can give a pod: {node.memory_mib}Mi ({instance_type.memory_gib} GiB less the "
                    f"kernel's share, {node.kube_reserved_memory_mib}Mi kube-reserved, the eviction threshold and "
                    f"{node.daemonset_memory_mib}Mi for node DaemonSets); ask for at most {node.memory_mib}Mi",
                )
            )
    return problems


CONTIGUOUS_CHIPS = rule(
    "NCG004", "error", "a replica of more than one chip or core but less than a node uses the scheduler extension"
)


def check_contiguous_allocation(
    api: ApiSpec, capacity: NodeGroupCapacity, path: Path = (), *, scheduler_extension: bool = False
) -> list[Problem]:
    """More than one chip (or core) but fewer than a node's needs adjacent ones, which only the Neuron scheduler
    extension ensures (Neuron docs, "Neuron scheduler extension": required for pods that request more than one core or
    device)."""
    compute, family = api.compute, capacity.family
    unit = "chip" if compute.unit == "chips" else "NeuronCore"
    per_node = {
        t.name: t.chips if compute.unit == "chips" else t.chips * family.cores_per_chip for t in capacity.instance_types
    }
    partial = [name for name, count in per_node.items() if 1 < compute.amount < count]
    if scheduler_extension or not partial:
        return []
    listed = ", ".join(f"{name} has {per_node[name]}" for name in partial)
    return [
        CONTIGUOUS_CHIPS.problem(
            (*path, "compute", compute.field),
            f"{compute.field} {compute.amount} is more than one {unit} but fewer than a whole node's ({listed}); the "
            f"default scheduler may hand out {unit}s that are not adjacent, and NeuronCore Groups need contiguous "
            f"ones. Set device_plugin.scheduler_extension: true (pods then use the Neuron scheduler), or ask for 1 "
            f"{unit} or a whole node's",
        )
    ]


def check_api_name(api: ApiSpec, path: Path = ()) -> list[Problem]:
    """An API's namespace is its name: names of namespaces Kubernetes, the cluster or its add-ons use are taken."""
    reason = reserved_namespace_reason(api.name)
    if reason is None:
        return []
    taken = ", ".join(sorted(RESERVED_NAMESPACES))
    return [
        API_NAME_NAMESPACE.problem(
            (*path, "name"),
            f"API name {api.name!r} is also its namespace, and {reason}; pick another name (taken: {taken} and any "
            f"name starting with {RESERVED_PREFIX!r})",
        )
    ]


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


RESERVED_ENV = rule("ENV001", "error", "env does not set the variables inferentia-cdk derives (NCG layout, port)")
ENV_NAME_SPACE = rule("ENV002", "error", "env variable names contain no whitespace")
ENV_NAME = rule("ENV003", "error", "env variable names are printable ASCII without '='")
ENV_NUL = rule("ENV004", "error", "env values contain no NUL character")
ENV_STRING_SIZE = rule("ENV005", "error", "each NAME=value of env fits Linux's limit on one environment string")
ENV_REFERENCE = rule("ENV006", "warning", "env values hold no $(VAR) that Kubernetes would expand")


def check_env(api: ApiSpec, path: Path = ()) -> list[Problem]:
    """User variables may not override the NCG layout, must be valid names, and must be exec-able as written."""
    problems: list[Problem] = []
    stripped: dict[str, str] = {}
    for name, value in api.env.items():
        at = (*path, "env", name)
        if name in RESERVED_ENV_NAMES:
            problems.append(
                RESERVED_ENV.problem(
                    at,
                    f"{name} is set by inferentia-cdk from compute.inf, processes_per_replica, threads_per_process and "
                    "port (or by the Neuron device plugin); change those fields instead. Reserved: "
                    + ", ".join(sorted(RESERVED_ENV_NAMES)),
                )
            )
        elif name.strip() != name or any(c.isspace() for c in name):
            other = stripped.get("".join(name.split()))
            twin = f", and differs from {shown(other)} only by whitespace" if other is not None else ""
            problems.append(
                ENV_NAME_SPACE.problem(at, f"variable name {shown(name)} contains whitespace{twin}; names have none")
            )
        elif not _ENV_NAME.match(name):
            problems.append(
                ENV_NAME.problem(at, f"{shown(name)} is not a valid variable name: printable ASCII without '='")
            )
        stripped.setdefault("".join(name.split()), name)
        if "\x00" in value:
            problems.append(
                ENV_NUL.problem(at, "the value contains a NUL character, which no process environment can hold")
            )
        size = len(name.encode()) + len(value.encode()) + 2
        if size > MAX_ENV_STRING_BYTES:
            problems.append(
                ENV_STRING_SIZE.problem(
                    at,
                    f"{name}=<value> is {size} bytes; Linux starts no process with an environment string above "
                    f"{MAX_ENV_STRING_BYTES // 1024} KiB (MAX_ARG_STRLEN), so mount large values as a file instead",
                )
            )
        references = _kubernetes_references(value)
        if references:
            listed = ", ".join(f"$({r})" for r in references[:3])
            problems.append(
                ENV_REFERENCE.problem(
                    at,
                    f"the value contains {shown(listed)}, which Kubernetes replaces with the value of that variable "
                    "when it is defined before this one (the NCG variables always are); write $$( for a literal $(",
                )
            )
    return problems


def _template_bytes(text: str) -> int:
    """Bytes of ``text`` as a string inside a JSON manifest that is itself a string of the template."""
    return len(json.dumps(json.dumps(text)).encode()) - 6


PINNED_IMAGE = rule("API009", "warning", "an API's image is pinned by a version tag or a digest")


def check_image(api: ApiSpec, path: Path = ()) -> list[Problem]:
    """A warning for images that are not pinned: the same config would deploy different code tomorrow."""
    image = api.image
    if image is None or is_token(image) or "@" in image:
        return []
    last = image.rsplit("/", 1)[-1]
    tag = last.split(":", 1)[1] if ":" in last else None
    if tag is None or tag == "latest":
        return [
            PINNED_IMAGE.problem(
                (*path, "image"),
                f"image {image!r} is not pinned ({'no tag' if tag is None else ':latest'}); give a version tag or, "
                "better, a digest (@sha256:...)",
            )
        ]
    return []


# --- node groups that hold their APIs (the capacity model of planning/packing.py) -----------------------------------

# CAP004-CAP006 keep the codes (and meanings) they had before the packing model; CAP503 and CAP504 are new.
MIN_REPLICAS_FIT = rule("CAP004", "error", "the node group at max_size holds each API's min_replicas")
MIN_REPLICAS_MAYBE = rule(
    "CAP005", "warning", "the node group at max_size holds each API's min_replicas on its smallest instance type"
)
GROUP_HOLDS_MIN_REPLICAS = rule(
    "CAP006",
    "error",
    "the node group at max_size holds the min_replicas of all its APIs, packed as the scheduler would",
)
MAX_REPLICAS_FIT = rule("CAP503", "warning", "the max_replicas of a node group's APIs fit its max_size nodes")
DEPLOY_STARTS_SHORT = rule(
    "CAP504", "note", "desired_size nodes hold the min_replicas of a node group's APIs when the deploy finishes"
)

SCHEDULER_RESOURCE = {
    "chips": "aws.amazon.com/neuron",
    "neuroncores": "aws.amazon.com/neuroncore",
    "cpu_millicores": "cpu",
    "memory_mib": "memory",
    "pods": "pods",
}
"""The resource name kube-scheduler puts in its "Insufficient ..." event for each resource of the model."""
CLUSTER_AUTOSCALER_DELAY = (
    "a few minutes later (Cluster Autoscaler looks for Pending pods every 10 s; each new instance must then boot, join "
    "the cluster and have the Neuron device plugin report its chips; Cluster Autoscaler gives up on a node after 15 "
    "minutes)"
)


def _replica_counts(apis: Sequence[ApiSpec], counts: dict[str, int] | None = None, *, at: str) -> str:
    """``resnet50 2, text-embedder 1``: each API with its replicas (``at`` is min_replicas or max_replicas)."""
    listed = [f"{api.name} {getattr(api.autoscaling, at) if counts is None else counts[api.name]}" for api in apis]
    return _some(listed)


def _short_of(load: GroupLoad, packing: Packing, max_nodes: int) -> str:
    """`` (Insufficient cpu, ...)``: what the scheduler says about the first replica that finds no room on the group's
    ``max_nodes`` nodes; empty when that cannot be told."""
    pending = packing.pending_beyond(max_nodes)
    if not pending:
        return ""
    demand = load.demands[next(iter(pending))]
    # A chip request is short of chips, not of the cores counted with them: the scheduler names what the pod asks for.
    asked = [f.name for f in fields(Resources) if not (f.name == "neuroncores" and demand.chips)]
    short = {
        SCHEDULER_RESOURCE[name]
        for node in packing.nodes[:max_nodes]
        for name in asked
        if getattr(load.offer - node.used, name) < getattr(demand, name)
    }
    return f" ({', '.join(f'Insufficient {name}' for name in sorted(short))})" if short else ""


def check_group_capacity(
    apis: Sequence[tuple[Path, ApiSpec]],
    group: NodeGroupSpec,
    capacity: NodeGroupCapacity,
    group_path: Path = ("node_group",),
    *,
    neuron_monitor: bool = False,
    container_insights: bool = False,
    cluster_autoscaler: bool = True,
) -> list[Problem]:
    """The APIs of one node group packed onto its nodes (:mod:`inferentia_cdk.planning.packing`):

    - their ``min_replicas`` must fit ``max_size`` nodes, or those pods stay Pending for good (the HPA never goes below
      min_replicas, Cluster Autoscaler never above max_size): an error, on the API's min_replicas when the group has
      one API, else on max_size. A warning when only the group's larger instance types hold them;
    - their ``max_replicas`` should fit: a warning with the nodes full load needs;
    - ``desired_size`` nodes should hold their ``min_replicas`` when the deploy finishes: a note otherwise.

    APIs whose replica fits no node are left to :func:`check_replica_fits`.
    """
    if not apis:
        return []
    loads = group_loads(
        capacity, [api for _, api in apis], neuron_monitor=neuron_monitor, container_insights=container_insights
    )
    smallest, largest = loads[0], loads[-1]
    placed = [(path, api) for path, api in apis if api.name not in largest.at_min.unplaceable]
    if not placed:
        return []
    specs = [api for _, api in placed]
    max_nodes, name = capacity.max_nodes, capacity.name
    problems: list[Problem] = []
    single = len(specs) == 1
    min_path: Path = (*placed[0][0], "autoscaling", "min_replicas") if single else (*group_path, "max_size")
    if largest.at_min.node_count > max_nodes:
        load, needed = largest, largest.at_min.node_count
        placed_count = load.at_min.placed_within(max_nodes)
        pending = sum(api.autoscaling.min_replicas - placed_count.get(api.name, 0) for api in specs)
        if single:
            per_node, limit = load.per_node(specs[0].name)
            message = (
                f"min_replicas {specs[0].autoscaling.min_replicas} cannot all run: node group {name!r} at max_size "
                f"{max_nodes} holds {max_nodes * per_node} replicas of this API ({per_node} per "
                f"{load.instance_type.name} node, limited by its {RESOURCE_NAMES[limit]}), so {pending} would stay "
                f"Pending for good; raise the node group's max_size to {needed} or lower min_replicas"
            )
        else:
            message = (
                f"the min_replicas of APIs {_replica_counts(specs, at='min_replicas')} need {needed} "
                f"{load.instance_type.name} nodes of node group {name!r} at once (packed the way the scheduler places "
                f"them), but max_size is {max_nodes}: {pending} replicas would stay Pending for good"
                f"{_short_of(load, load.at_min, max_nodes)}; raise max_size to {needed} or lower their min_replicas"
            )
        problems.append((MIN_REPLICAS_FIT if single else GROUP_HOLDS_MIN_REPLICAS).problem(min_path, message))
    elif smallest.at_min.node_count > max_nodes:
        problems.append(
            MIN_REPLICAS_MAYBE.problem(
                min_path,
                f"the min_replicas of {'this API' if single else 'APIs ' + _replica_counts(specs, at='min_replicas')} "
                f"fit node group {name!r} at max_size {max_nodes} only if its nodes are larger than "
                f"{smallest.instance_type.name}, which needs {smallest.at_min.node_count}; to be sure, raise max_size "
                f"to {smallest.at_min.node_count}",
            )
        )
    else:
        at_max = smallest.at_max
        if at_max.node_count > max_nodes:
            placed_count = at_max.placed_within(max_nodes)
            pending = sum(api.autoscaling.max_replicas - placed_count.get(api.name, 0) for api in specs)
            problems.append(
                MAX_REPLICAS_FIT.problem(
                    (*group_path, "max_size"),
                    f"node group {name!r} cannot hold full load: the max_replicas of "
                    f"{'API' if single else 'APIs'} {_replica_counts(specs, at='max_replicas')} need "
                    f"{at_max.node_count} {smallest.instance_type.name} nodes, and max_size is {max_nodes}, so "
                    f"{pending} replicas would stay Pending{_short_of(smallest, at_max, max_nodes)} at full load; "
                    f"raise max_size to {at_max.node_count} or lower max_replicas",
                )
            )
        at_deploy = smallest.at_min.node_count
        if at_deploy > group.desired_size:
            missing = at_deploy - group.desired_size
            pending = sum(api.autoscaling.min_replicas for api in specs) - sum(
                smallest.at_min.placed_within(group.desired_size).values()
            )
            then = (
                f"until Cluster Autoscaler adds {missing} node(s), {CLUSTER_AUTOSCALER_DELAY}"
                if cluster_autoscaler
                else "until something adds nodes: cluster.cluster_autoscaler is false, so nothing here will"
            )
            problems.append(
                DEPLOY_STARTS_SHORT.problem(
                    (*group_path, "desired_size"),
                    f"node group {name!r} starts with desired_size {group.desired_size} node(s) and the min_replicas "
                    f"of {'API' if single else 'APIs'} {_replica_counts(specs, at='min_replicas')} need {at_deploy}: "
                    f"the deploy finishes with {pending} pod(s) Pending {then}; set desired_size to {at_deploy} to "
                    "start with them",
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
    cluster_autoscaler: bool = True,
    group_path: Path = ("node_group",),
) -> list[Problem]:
    """Every problem of one API on its node group (errors, warnings and notes), without the config-wide checks; the
    capacity rules see the group as holding this API alone.

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
        problems += check_engine(api, node_group, capacity.family, path)
        problems += check_group_capacity(
            [(path, api)],
            node_group,
            capacity,
            group_path,
            neuron_monitor=neuron_monitor,
            container_insights=container_insights,
            cluster_autoscaler=cluster_autoscaler,
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
    if replica_needs(api.compute, capacity.family).chips <= MAX_CHIPS_PER_NODE:
        problems += check_processes_per_replica(api, capacity.family, path)
        problems += check_compiled_neuroncores(api, capacity.family, path)
        problems += check_torus_device_count(api, capacity, path)
    problems += check_replica_fits(
        api, capacity, path, neuron_monitor=neuron_monitor, container_insights=container_insights
    )
    problems += check_contiguous_allocation(api, capacity, path, scheduler_extension=scheduler_extension)
    return problems


UNKNOWN_ACKNOWLEDGEMENT = rule(
    "ACK001", "error", "acknowledge names codes of warning rules only (an error cannot be acknowledged)"
)


def check_acknowledgements(acknowledgements: Mapping[str, str], path: Path = ("acknowledge",)) -> list[Problem]:
    """Each acknowledged code is a warning's: a typo would otherwise acknowledge nothing, silently."""
    valid = ", ".join(sorted(code for code, found in RULES.items() if found.severity == "warning"))
    problems = []
    for code in acknowledgements:
        found = RULES.get(code)
        if found is not None and found.severity == "warning":
            continue
        reason = (
            f"{shown(code)} is no rule code"
            if found is None
            else f"{code} is an error ({found.summary}), and errors cannot be acknowledged"
        )
        problems.append(UNKNOWN_ACKNOWLEDGEMENT.problem((*path, code), f"{reason}; valid warning codes: {valid}"))
    return problems


ENV_TEMPLATE_SIZE = rule("ENV007", "error", "the APIs' env values fit in the APIs stack template")


def check_config(config: InferentiaConfig) -> list[Problem]:
    """Every cross-field problem in ``config`` (errors and warnings), in document order."""
    problems: list[Problem] = check_group_sizes(config.cluster.system_node_group, ("cluster", "system_node_group"))
    # Each group is checked and measured once, however many APIs run on it; the first group of a name wins.
    capacities: dict[int, NodeGroupCapacity | None] = {}
    groups: dict[str, tuple[int, NodeGroupSpec]] = {}
    for i, group in enumerate(config.node_groups):
        group_problems = check_node_group(group, ("node_groups", i))
        problems += group_problems
        capacities[id(group)] = None if errors(group_problems) else NodeGroupCapacity.of(group)
        groups.setdefault(group.name, (i, group))
    for i, name in _duplicates([g.name for g in config.node_groups]):
        problems.append(
            NODE_GROUP_UNIQUE.problem(("node_groups", i, "name"), f"node group name {name!r} is used more than once")
        )
    for i, name in _duplicates([a.name for a in config.apis]):
        problems.append(API_UNIQUE.problem(("apis", i, "name"), f"API name {name!r} is used more than once"))
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
        api_capacity = capacities[id(api_group)]
        api_problems = _check_api_on(
            api,
            api_capacity,
            path,
            scheduler_extension=plugin.scheduler_extension,
            neuron_monitor=neuron_monitor,
            container_insights=container_insights,
        )
        if api_capacity is not None:
            api_problems += check_engine(api, api_group, api_capacity.family, path)
        problems += api_problems
        if not errors(api_problems):
            on_group.setdefault(api.node_group, []).append((path, api))
    for name, apis in on_group.items():
        index, group = groups[name]
        capacity = capacities[id(group)]
        if capacity is not None:
            problems += check_group_capacity(
                apis,
                group,
                capacity,
                ("node_groups", index),
                neuron_monitor=neuron_monitor,
                container_insights=container_insights,
                cluster_autoscaler=config.cluster.cluster_autoscaler,
            )
    if env_bytes > MAX_ENV_TEMPLATE_BYTES:
        problems.append(
            ENV_TEMPLATE_SIZE.problem(
                ("apis",),
                f"the APIs' env values take {env_bytes} bytes in the APIs stack template, more than "
                f"{MAX_ENV_TEMPLATE_BYTES // 1024} KiB of CloudFormation's 1 MB template limit; mount large values "
                "as files instead",
            )
        )
    problems += check_endpoints(config)
    problems += check_scaling(config)
    problems += check_operator_access(config)
    problems += check_acknowledgements(config.acknowledge)
    return problems
