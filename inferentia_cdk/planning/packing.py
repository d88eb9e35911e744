"""The one capacity model: what a replica asks for, what a node of a group offers its APIs, and how the replicas of all
the APIs of one node group pack onto its nodes. ``validate`` (the CAP5xx rules), ``plan``, the constructs and the
docs' numbers all read it; nothing else counts replicas per node.

How pods are placed, and so how this packs them:

- An API's pods tolerate the Neuron taint and select their own node group (:mod:`inferentia_cdk.manifests.api`), and
  every other pod stays off Neuron nodes (the taint): a node group's nodes hold the DaemonSets that tolerate everything
  (reserved in :func:`inferentia_cdk.planning.capacity.node_allocatable`) and the replicas of its own APIs, nothing
  else.
- kube-scheduler's NodeResourcesFit filter places a pod only on a node whose allocatable, less the requests of the
  pods already there, covers every request: ``aws.amazon.com/neuron`` chips (or ``aws.amazon.com/neuroncore``
  cores), CPU and memory, and the node's pod count stays within ``max-pods``.
- Which nodes exist is Cluster Autoscaler's decision: its binpacking estimator sorts the pending pods by size, largest
  first (CPU share plus memory share of a node, ``cluster-autoscaler/estimator/decreasing_pod_orderer.go``), and puts
  each on the first simulated node it fits, opening a new node when none does (first-fit decreasing,
  ``estimator/binpacking_estimator.go``). :func:`pack` does the same, so the node counts here are the ones Cluster
  Autoscaler asks the node group for. Pods already running stay where they are: full load is packed on top of
  minimum load.

Pure: no CDK import.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from types import MappingProxyType

from ..catalog import NeuronFamily, NeuronInstanceType
from ..config.models import ApiSpec, is_token, parse_quantity
from .capacity import NodeGroupCapacity, node_allocatable
from .sizing import replica_needs

_MIB = 2**20


@dataclass(frozen=True)
class Resources:
    """Amounts of every resource a pod requests or a node offers pods."""

    chips: int
    neuroncores: int
    cpu_millicores: float
    memory_mib: float
    pods: int

    # Written out field by field: the packing check calls these hundreds of thousands of times for a large config,
    # and a loop over dataclasses.fields() took most of check_config's time (bench/PROFILE.md).
    def __add__(self, other: Resources) -> Resources:
        return Resources(
            self.chips + other.chips,
            self.neuroncores + other.neuroncores,
            self.cpu_millicores + other.cpu_millicores,
            self.memory_mib + other.memory_mib,
            self.pods + other.pods,
        )

    def __sub__(self, other: Resources) -> Resources:
        return Resources(
            self.chips - other.chips,
            self.neuroncores - other.neuroncores,
            self.cpu_millicores - other.cpu_millicores,
            self.memory_mib - other.memory_mib,
            self.pods - other.pods,
        )

    def times(self, count: int) -> Resources:
        return Resources(
            self.chips * count,
            self.neuroncores * count,
            self.cpu_millicores * count,
            self.memory_mib * count,
            self.pods * count,
        )

    def covers(self, demand: Resources) -> bool:
        """True when every amount here is at least ``demand``'s: NodeResourcesFit's test."""
        return (
            self.chips >= demand.chips
            and self.neuroncores >= demand.neuroncores
            and self.cpu_millicores >= demand.cpu_millicores
            and self.memory_mib >= demand.memory_mib
            and self.pods >= demand.pods
        )


NOTHING = Resources(0, 0, 0.0, 0.0, 0)
RESOURCE_NAMES: Mapping[str, str] = MappingProxyType(
    {
        "chips": "Neuron chips",
        "neuroncores": "NeuronCores",
        "cpu_millicores": "CPU millicores",
        "memory_mib": "MiB of memory",
        "pods": "pods",
    }
)
"""How a message names each resource."""


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


def replica_demand(api: ApiSpec, family: NeuronFamily) -> Resources:
    """What one replica of ``api`` requests on a node of ``family`` (at the group's LNC): the one place that turns
    ``compute`` into requests.

    A chip request (``aws.amazon.com/neuron``) takes whole chips and every NeuronCore on them, so it counts against
    both; a core request (``aws.amazon.com/neuroncore``) counts against the cores only. Counting a chip request's cores
    too keeps the two kinds from sharing out more cores than the node has when APIs of both kinds share a group.
    """
    needs = replica_needs(api.compute, family)
    return Resources(
        chips=needs.chips if needs.unit == "chips" else 0,
        neuroncores=needs.neuroncores,
        # A CDK token (a Python caller's, resolved only at deploy) counts as nothing.
        cpu_millicores=cpu_millicores(api.compute.cpu) or 0.0,
        memory_mib=memory_mib(api.compute.mem) or 0.0,
        pods=1,
    )


def node_offer(
    instance_type: NeuronInstanceType,
    family: NeuronFamily | None = None,
    *,
    neuron_monitor: bool = False,
    container_insights: bool = False,
) -> Resources:
    """What one node of ``instance_type`` offers API pods: allocatable less the DaemonSets that run on every node.
    ``family`` is the type's family at the node group's LNC (default: the family's own LNC)."""
    node = node_allocatable(instance_type, neuron_monitor=neuron_monitor, container_insights=container_insights)
    return Resources(
        chips=instance_type.chips,
        neuroncores=instance_type.chips * (family or instance_type.family).cores_per_chip,
        cpu_millicores=node.cpu_millicores,
        memory_mib=node.memory_mib,
        pods=instance_type.max_pods - len(node.daemonsets),
    )


def cores_used(used: Resources, family: NeuronFamily) -> int:
    """NeuronCores taken by ``used``: those of requested chips and those requested one by one (both are counted in
    ``neuroncores``, see :func:`replica_demand`)."""
    return used.neuroncores


def chips_used(used: Resources, family: NeuronFamily) -> int:
    """Chips taken by ``used``: those requested whole, or at least the chips its cores fill."""
    return max(used.chips, math.ceil(used.neuroncores / family.cores_per_chip))


def replicas_per_node(demand: Resources, offer: Resources) -> tuple[int, str]:
    """Replicas of one API that fit one empty node, and the resource that limits them (a key of RESOURCE_NAMES)."""
    # Written out, not a loop over dataclasses.fields(): the packing calls this once per node it fills.
    fits = [
        (math.floor(have / want), name)
        for have, want, name in (
            (offer.chips, demand.chips, "chips"),
            (offer.neuroncores, demand.neuroncores, "neuroncores"),
            (offer.cpu_millicores, demand.cpu_millicores, "cpu_millicores"),
            (offer.memory_mib, demand.memory_mib, "memory_mib"),
            (offer.pods, demand.pods, "pods"),
        )
        if want > 0
    ]
    return min(fits)


def least(first: Resources, second: Resources) -> Resources:
    """The smaller of each amount: a node whose room does not cover this fits neither."""
    return Resources(
        min(first.chips, second.chips),
        min(first.neuroncores, second.neuroncores),
        min(first.cpu_millicores, second.cpu_millicores),
        min(first.memory_mib, second.memory_mib),
        min(first.pods, second.pods),
    )


@dataclass(frozen=True)
class Replicas:
    """``count`` replicas of API ``api``, each requesting ``demand``."""

    api: str
    demand: Resources
    count: int


@dataclass(frozen=True)
class PackedNode:
    """One node of a packing: the replicas of each API on it, and what they request together."""

    replicas: Mapping[str, int]
    used: Resources


MAX_LISTED_NODES = 1000
"""Nodes a packing lists one by one; replicas beyond them are counted in :class:`Overflow` runs, so that a config with
huge max_replicas is planned in milliseconds. Far above EKS's 450 nodes per managed node group (a warning)."""


@dataclass(frozen=True)
class Overflow:
    """Replicas of one API past the listed nodes, on ``nodes`` further nodes holding ``per_node`` each."""

    api: str
    demand: Resources
    replicas: int
    nodes: int
    per_node: int


@dataclass(frozen=True)
class Packing:
    """Replicas placed first-fit decreasing on nodes of one instance type, opening nodes as needed."""

    instance_type: NeuronInstanceType
    offer: Resources
    nodes: tuple[PackedNode, ...]
    unplaceable: Mapping[str, int]
    """Replicas that fit no empty node (validation reports those APIs; they are left out of the count)."""
    overflow: tuple[Overflow, ...] = ()

    @property
    def node_count(self) -> int:
        return len(self.nodes) + sum(run.nodes for run in self.overflow)

    def _overflow_within(self, max_nodes: int) -> Iterable[tuple[Overflow, int, int]]:
        """Each overflow run with the nodes and replicas of it that fall within the first ``max_nodes`` nodes."""
        left = max(0, max_nodes - len(self.nodes))
        for run in self.overflow:
            nodes = min(run.nodes, left)
            left -= nodes
            yield run, nodes, min(run.replicas, nodes * run.per_node)

    def placed_within(self, max_nodes: int) -> Mapping[str, int]:
        """Replicas of each API on the first ``max_nodes`` nodes: what runs when the group stops at ``max_nodes``."""
        placed: dict[str, int] = {}
        for node in self.nodes[:max_nodes]:
            for api, count in node.replicas.items():
                placed[api] = placed.get(api, 0) + count
        for run, _, replicas in self._overflow_within(max_nodes):
            if replicas:
                placed[run.api] = placed.get(run.api, 0) + replicas
        return placed

    def pending_beyond(self, max_nodes: int) -> dict[str, int]:
        """Replicas of each API that find no node among the first ``max_nodes``."""
        placed = self.placed_within(max_nodes)
        pending = {api: count - placed.get(api, 0) for api, count in self.placed_within(self.node_count).items()}
        return {api: count for api, count in pending.items() if count > 0}

    def used_within(self, max_nodes: int) -> Resources:
        """What the replicas on the first ``max_nodes`` nodes request together."""
        total = NOTHING
        for node in self.nodes[:max_nodes]:
            total += node.used
        for run, _, replicas in self._overflow_within(max_nodes):
            total += run.demand.times(replicas)
        return total

    def nodes_holding(self, api: str, max_nodes: int) -> int:
        """Nodes among the first ``max_nodes`` that run at least one replica of ``api``."""
        listed = sum(1 for node in self.nodes[:max_nodes] if api in node.replicas)
        return listed + sum(nodes for run, nodes, _ in self._overflow_within(max_nodes) if run.api == api)


def _size(demand: Resources, offer: Resources) -> tuple[float, float]:
    """Cluster Autoscaler's order key (``estimator/decreasing_pod_orderer.go``: the pod's CPU over the node's plus its
    memory over the node's), then its share of the node's chips, which that key leaves out, to break ties."""

    def share(name: str) -> float:
        node = float(getattr(offer, name))
        return float(getattr(demand, name)) / node if node > 0 else 0.0

    return share("cpu_millicores") + share("memory_mib"), share("chips") + share("neuroncores")


def _smallest_demands_after(wanted: Sequence[Replicas]) -> list[Resources | None]:
    """For each position in ``wanted``, the least of every amount the groups from there on request (None past the
    end)."""
    smallest: list[Resources | None] = [None] * (len(wanted) + 1)
    for position in range(len(wanted) - 1, -1, -1):
        after = smallest[position + 1]
        demand = wanted[position].demand
        smallest[position] = demand if after is None else least(demand, after)
    return smallest


def pack(
    groups: Iterable[Replicas], offer: Resources, instance_type: NeuronInstanceType, *, running: Packing | None = None
) -> Packing:
    """Place every replica first-fit decreasing on nodes that each offer ``offer`` (see the module doc for why),
    after the replicas of ``running``, which stay where they are (the scheduler never moves a running pod).

    The replicas of one API are alike, so they are placed in bulk: first-fit puts each on the first node with room,
    which fills the nodes in order. Ties keep the order given (config order), so a config always packs the same way.
    """
    unplaceable: dict[str, int] = {}
    wanted: list[Replicas] = []
    for group in groups:
        if group.count <= 0:
            continue
        if not offer.covers(group.demand):
            unplaceable[group.api] = unplaceable.get(group.api, 0) + group.count
            continue
        wanted.append(group)
    wanted.sort(key=lambda group: _size(group.demand, offer), reverse=True)
    listed = running.nodes if running is not None else ()
    free: list[Resources] = [offer - node.used for node in listed]
    on_node: list[dict[str, int]] = [dict(node.replicas) for node in listed]
    overflow = list(running.overflow) if running is not None else []
    # A node whose room covers no replica still to come is closed for good (room only shrinks), so each group scans
    # only the nodes that might take it; first-fit's order among them is kept, and so is every placement.
    smallest_after = _smallest_demands_after(wanted)
    first = smallest_after[0]
    open_nodes = [index for index, room in enumerate(free) if first is not None and room.covers(first)]
    for position, group in enumerate(wanted):
        api, demand, remaining = group.api, group.demand, group.count
        smallest_next = smallest_after[position + 1]
        still_open: list[int] = []
        for scanned, index in enumerate(open_nodes):
            if remaining == 0:
                still_open.extend(open_nodes[scanned:])
                break
            room = free[index]
            if room.covers(demand):
                take = min(replicas_per_node(demand, room)[0], remaining)
                room = free[index] = room - demand.times(take)
                on_node[index][api] = on_node[index].get(api, 0) + take
                remaining -= take
            if smallest_next is not None and room.covers(smallest_next):
                still_open.append(index)
        per_node = replicas_per_node(demand, offer)[0]
        while remaining and len(free) < MAX_LISTED_NODES:
            take = min(per_node, remaining)
            free.append(offer - demand.times(take))
            on_node.append({api: take})
            remaining -= take
            if smallest_next is not None and free[-1].covers(smallest_next):
                still_open.append(len(free) - 1)
        open_nodes = still_open
        if remaining:
            overflow.append(Overflow(api, demand, remaining, math.ceil(remaining / per_node), per_node))
    nodes = tuple(
        PackedNode(MappingProxyType(dict(replicas)), offer - room) for replicas, room in zip(on_node, free, strict=True)
    )
    return Packing(instance_type, offer, nodes, MappingProxyType(unplaceable), tuple(overflow))


# --- a node group and its APIs ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class GroupLoad:
    """The APIs of one node group packed onto one of its instance types, at ``min_replicas`` and ``max_replicas``."""

    capacity: NodeGroupCapacity
    instance_type: NeuronInstanceType
    apis: tuple[ApiSpec, ...]
    demands: Mapping[str, Resources]
    at_min: Packing
    at_max: Packing

    @property
    def offer(self) -> Resources:
        return self.at_min.offer

    def per_node(self, api: str) -> tuple[int, str]:
        """Replicas of ``api`` alone on one node of this type, and what limits them."""
        return replicas_per_node(self.demands[api], self.offer)


def group_load(
    capacity: NodeGroupCapacity,
    apis: Sequence[ApiSpec],
    instance_type: NeuronInstanceType,
    *,
    neuron_monitor: bool = False,
    container_insights: bool = False,
) -> GroupLoad:
    """Pack ``apis`` (all on ``capacity``'s group) onto nodes of ``instance_type`` at their minimum and maximum."""
    offer = node_offer(
        instance_type, capacity.family, neuron_monitor=neuron_monitor, container_insights=container_insights
    )
    demands = {api.name: replica_demand(api, capacity.family) for api in apis}
    at_min = pack((Replicas(a.name, demands[a.name], a.autoscaling.min_replicas) for a in apis), offer, instance_type)
    # Full load grows from minimum load: the replicas above min_replicas join the nodes the first ones already run on.
    extra = (Replicas(a.name, demands[a.name], a.autoscaling.max_replicas - a.autoscaling.min_replicas) for a in apis)
    at_max = pack(extra, offer, instance_type, running=at_min)
    return GroupLoad(capacity, instance_type, tuple(apis), MappingProxyType(demands), at_min, at_max)


def group_loads(
    capacity: NodeGroupCapacity,
    apis: Sequence[ApiSpec],
    *,
    neuron_monitor: bool = False,
    container_insights: bool = False,
) -> tuple[GroupLoad, ...]:
    """:func:`group_load` on each instance type of the group, smallest offer first (the planning case is the first:
    what every node of the group is sure to have, and the type Cluster Autoscaler models a group with one type by)."""
    loads = [
        group_load(capacity, apis, t, neuron_monitor=neuron_monitor, container_insights=container_insights)
        for t in capacity.instance_types
    ]
    return tuple(sorted(loads, key=lambda load: (load.offer.chips, load.offer.cpu_millicores, load.offer.memory_mib)))


def clamp(nodes: int, capacity: NodeGroupCapacity) -> int:
    """The nodes the group runs when the pods need ``nodes``: never below min_size, never above max_size."""
    return max(capacity.min_nodes, min(nodes, capacity.max_nodes))
