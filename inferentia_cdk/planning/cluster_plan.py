"""The whole cluster at a glance, from the capacity model (:mod:`.packing`): the nodes each node group runs at deploy,
at minimum load and at full load, the vCPUs each draws on its EC2 quota, what it all costs, and each API's place in
it. ``inferentia-cdk plan`` prints this as tables and as JSON. Pure: prices come in as data.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from ..catalog import NeuronInstanceType, ServiceQuota
from ..catalog import prices as catalog_prices
from ..catalog.prices import HOURS_PER_MONTH, Price
from ..config.models import ApiSpec, InferentiaConfig, NodeGroupSpec
from .capacity import NodeGroupCapacity
from .endpoints import api_url, plan_endpoints
from .packing import NOTHING, GroupLoad, Packing, Resources, chips_used, clamp, cores_used, group_loads
from .scaling import ScalingSignal, needs_keda, signal_of
from .sizing import ReplicaSizing, size_api
from .startup import startup_budget_seconds

LOAD_BALANCER_HOST = "<load balancer DNS name>"
"""Stands for the load balancer's DNS name in the URLs of a plan: it is known only once the stack is deployed."""

Load = Literal["deploy", "min", "full", "max_size"]
LOADS: tuple[Load, ...] = ("deploy", "min", "full", "max_size")


@dataclass(frozen=True)
class Cost:
    """Dollars per hour, or the range they lie in: equal ends for on-demand, no lower end for spot (spot prices move,
    and this plan never guesses one; the on-demand price caps them), no ends at all when the type is not priced."""

    low: float | None
    high: float | None

    @classmethod
    def of(cls, units: int, price: Price | None, spot: bool = False) -> Cost:
        if units == 0:
            return cls(0.0, 0.0)
        if price is None:
            return cls(None, None)
        total = units * price.usd_per_hour
        return cls(None if spot else total, total)

    def __add__(self, other: Cost) -> Cost:
        def add(a: float | None, b: float | None) -> float | None:
            return None if a is None or b is None else a + b

        return Cost(add(self.low, other.low), add(self.high, other.high))

    def per_month(self) -> Cost:
        return Cost(
            None if self.low is None else self.low * HOURS_PER_MONTH,
            None if self.high is None else self.high * HOURS_PER_MONTH,
        )

    @property
    def exact(self) -> bool:
        return self.low is not None and self.low == self.high

    def as_json(self) -> dict[str, float | None]:
        return {"low": _cents(self.low), "high": _cents(self.high)}


def _cents(value: float | None) -> float | None:
    return None if value is None else round(value, 4)


@dataclass(frozen=True)
class PriceBook:
    """Hourly prices by instance type (Neuron and system types), and where they were read."""

    instances: Mapping[str, Price]
    origin: str
    """``catalog`` or ``live <region>``."""

    def of(self, instance_type: str) -> Price | None:
        return self.instances.get(instance_type)


def catalog_price(instance_type: NeuronInstanceType) -> Price:
    """The catalog's on-demand price of a Neuron type, with its source, date and region."""
    quote = instance_type.price
    return Price(instance_type.price_per_hour_usd, f"{quote.source}, {quote.region}", quote.date)


def catalog_price_book() -> PriceBook:
    from ..catalog import INSTANCE_TYPES

    neuron = {name: catalog_price(t) for name, t in INSTANCE_TYPES.items()}
    return PriceBook({**catalog_prices.SYSTEM_INSTANCE_PRICES, **neuron}, "catalog")


@dataclass(frozen=True)
class NodeGroupPlan:
    """One Neuron node group: its nodes at each load, what they use of the Neuron hardware, quota and money."""

    spec: NodeGroupSpec
    capacity: NodeGroupCapacity
    load: GroupLoad | None
    """The group's APIs packed on its planning instance type (the smallest); None when no API runs on it."""
    price: Price | None
    """The on-demand price of the planning type (for spot, the cap of the spot price)."""

    @property
    def instance_type(self) -> NeuronInstanceType:
        return self.load.instance_type if self.load is not None else self.capacity.instance_types[0]

    @property
    def spot(self) -> bool:
        return self.spec.capacity_type == "spot"

    @property
    def nodes_needed_at_full(self) -> int:
        """Nodes full load needs, even beyond max_size."""
        return self.load.at_max.node_count if self.load is not None else 0

    def nodes(self, load: Load) -> int:
        if load == "deploy":
            return self.spec.desired_size
        if load == "max_size":
            return self.capacity.max_nodes
        if self.load is None:
            return self.capacity.min_nodes
        packing = self.load.at_min if load == "min" else self.load.at_max
        return clamp(packing.node_count, self.capacity)

    def pending_at_full(self) -> dict[str, int]:
        """Replicas of each API that find no node at full load, because max_size stops the group."""
        return self.load.at_max.pending_beyond(self.nodes("full")) if self.load is not None else {}

    def used(self, load: Load) -> Resources:
        """What the APIs' replicas request on the group's nodes at ``load`` (deploy as at min, max_size as at full)."""
        if self.load is None:
            return NOTHING
        packing: Packing = self.load.at_min if load in ("deploy", "min") else self.load.at_max
        return packing.used_within(self.nodes(load))

    def chips(self, load: Load) -> tuple[int, int]:
        """(used, free) chips on the group's nodes at ``load``."""
        used = chips_used(self.used(load), self.capacity.family)
        return used, self.nodes(load) * self.instance_type.chips - used

    def neuroncores(self, load: Load) -> tuple[int, int]:
        """(used, free) NeuronCores on the group's nodes at ``load``."""
        used = cores_used(self.used(load), self.capacity.family)
        return used, self.nodes(load) * self.instance_type.neuroncores - used

    def vcpus(self, load: Load) -> int:
        """vCPUs the group's nodes draw on its quota at ``load`` (its largest type's, as the quota check counts)."""
        return self.nodes(load) * self.capacity.max_vcpus_per_node

    @property
    def quota(self) -> ServiceQuota:
        return self.capacity.quota

    def cost(self, load: Load) -> Cost:
        return Cost.of(self.nodes(load), self.price, spot=self.spot)


@dataclass(frozen=True)
class ApiPlanRow:
    """One API in the cluster plan: its layout, where its replicas go, how it scales and where it answers."""

    spec: ApiSpec
    sizing: ReplicaSizing
    group: NodeGroupPlan
    signal: ScalingSignal
    url: str
    startup_budget_seconds: int

    @property
    def replicas_per_node(self) -> tuple[int, str]:
        """Replicas of this API alone on one node of its group's planning type, and what limits them."""
        assert self.group.load is not None
        return self.group.load.per_node(self.spec.name)

    def nodes(self, load: Literal["min", "full"]) -> int:
        """Nodes that hold at least one replica of this API at ``load`` (shared with the group's other APIs)."""
        assert self.group.load is not None
        packing = self.group.load.at_min if load == "min" else self.group.load.at_max
        return packing.nodes_holding(self.spec.name, self.group.nodes(load))


@dataclass(frozen=True)
class FixedCost:
    """Something every hour of the cluster costs, whatever its load."""

    item: str
    count: int
    price: Price | None
    detail: str

    @property
    def cost(self) -> Cost:
        return Cost.of(self.count, self.price)


@dataclass(frozen=True)
class ClusterPlan:
    config: InferentiaConfig
    groups: tuple[NodeGroupPlan, ...]
    apis: tuple[ApiPlanRow, ...]
    fixed: tuple[FixedCost, ...]
    addons: Mapping[str, bool]
    prices: PriceBook

    @property
    def fixed_cost(self) -> Cost:
        total = Cost(0.0, 0.0)
        for item in self.fixed:
            total += item.cost
        return total

    def total(self, load: Load) -> Cost:
        """Every hour of the cluster at ``load``: the fixed part and every Neuron node group."""
        total = self.fixed_cost
        for group in self.groups:
            total += group.cost(load)
        return total

    def vcpus_by_quota(self, load: Load) -> dict[str, int]:
        """vCPUs at ``load`` per EC2 quota code (node groups of one family and capacity type share one)."""
        by_quota: dict[str, int] = {}
        for group in self.groups:
            by_quota[group.quota.code] = by_quota.get(group.quota.code, 0) + group.vcpus(load)
        return by_quota


def addons_of(config: InferentiaConfig) -> dict[str, bool]:
    """The optional add-ons the cluster stack installs for this config."""
    return {
        "cluster_autoscaler": config.cluster.cluster_autoscaler,
        "metrics_server": config.cluster.metrics_server,
        "keda": needs_keda(config),
        "container_insights": config.container_insights(),
        "load_balancer_controller": plan_endpoints(config) is not None,
        "neuron_scheduler_extension": config.device_plugin.scheduler_extension,
        "neuron_monitor": config.neuron_monitor(),
    }


def fixed_costs(config: InferentiaConfig, prices: PriceBook) -> tuple[FixedCost, ...]:
    """The hourly cost of the cluster itself: control plane, system nodes, NAT gateways, load balancer, public IPs."""
    system = config.cluster.system_node_group
    system_type = system.instance_types[0]
    endpoints = plan_endpoints(config)
    items = [
        FixedCost("EKS control plane", 1, catalog_prices.EKS_CONTROL_PLANE, "per cluster"),
        FixedCost(
            "system nodes", system.desired_size, prices.of(system_type), f"{system.desired_size} x {system_type}"
        ),
        FixedCost("NAT gateways", config.cluster.nat_gateways, catalog_prices.NAT_GATEWAY, "one per gateway"),
    ]
    public_ips = config.cluster.nat_gateways
    if endpoints is not None:
        items.append(
            FixedCost(
                "load balancer", 1, catalog_prices.APPLICATION_LOAD_BALANCER, f"{endpoints.spec.scheme}, one for all"
            )
        )
        if endpoints.internet_facing:
            public_ips += config.cluster.max_azs
    items.append(
        FixedCost(
            "public IPv4 addresses",
            public_ips,
            catalog_prices.PUBLIC_IPV4_ADDRESS,
            "NAT gateways"
            + (" and load balancer nodes (one per AZ)" if public_ips > config.cluster.nat_gateways else ""),
        )
    )
    return tuple(items)


def plan_cluster(config: InferentiaConfig, prices: PriceBook | None = None) -> ClusterPlan:
    """The plan of a valid config (``load_config`` has accepted it)."""
    prices = prices or catalog_price_book()
    neuron_monitor, container_insights = config.neuron_monitor(), config.container_insights()
    groups: dict[str, NodeGroupPlan] = {}
    for spec in config.node_groups:
        capacity = NodeGroupCapacity.of(spec)
        apis = [api for api in config.apis if api.node_group == spec.name]
        load = (
            group_loads(capacity, apis, neuron_monitor=neuron_monitor, container_insights=container_insights)[0]
            if apis
            else None
        )
        planning_type = load.instance_type if load is not None else capacity.instance_types[0]
        groups[spec.name] = NodeGroupPlan(spec, capacity, load, prices.of(planning_type.name))
    endpoints = plan_endpoints(config)
    host = (config.endpoints.domain_name if config.endpoints else None) or LOAD_BALANCER_HOST
    rows = []
    for api in config.apis:
        group = groups[api.node_group]
        exposed = endpoints.api(api.name) if endpoints is not None else None
        url = (
            api_url(endpoints, exposed, host)
            if endpoints is not None and exposed is not None
            else f"http://{api.name}.{api.name}.svc.cluster.local:{api.port}/"
        )
        rows.append(
            ApiPlanRow(
                api,
                size_api(api.compute, group.capacity.family, api.processes_per_replica),
                group,
                signal_of(api.autoscaling),
                url,
                startup_budget_seconds(api),
            )
        )
    return ClusterPlan(
        config, tuple(groups.values()), tuple(rows), fixed_costs(config, prices), addons_of(config), prices
    )
