"""``inferentia-cdk plan CONFIG``: the cluster at a glance (node groups, APIs, quotas, costs) as tables, each API's
NeuronCore Group advice in prose, or all of it as JSON in the shape of ``plan.schema.json`` beside this module.

Imported only when ``plan`` runs, so that ``validate`` never loads the table library.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from ..catalog import prices as catalog_prices
from ..config.problems import Problem, one_line
from ..planning.cluster_plan import LOADS, ApiPlanRow, ClusterPlan, Cost, Load, NodeGroupPlan, PriceBook, plan_cluster
from ..planning.llm import LlmPlan, plan_llm
from ..planning.loader import LoadedConfig
from ..planning.packing import RESOURCE_NAMES
from ..planning.sizing import describe_memory, divisors

EXIT_PRICES_UNREADABLE = 1
EXIT_BAD_INPUT = 2
SCHEMA_PATH = Path(__file__).with_name("plan.schema.json")
SCHEMA_VERSION = 2
"""Bumped when a key of the JSON plan changes meaning or goes away; new keys do not bump it."""
LOAD_TITLES: dict[Load, str] = {"deploy": "deploy", "min": "min load", "full": "full load", "max_size": "max_size"}
ADDON_TITLES = {
    "cluster_autoscaler": "Cluster Autoscaler",
    "metrics_server": "metrics-server",
    "keda": "KEDA",
    "container_insights": "Container Insights",
    "load_balancer_controller": "AWS Load Balancer Controller",
    "neuron_scheduler_extension": "Neuron scheduler extension",
    "neuron_monitor": "neuron-monitor",
}


@dataclass(frozen=True)
class ApiPlan:
    """What ``plan`` says about one API: its row of the cluster plan, and the prose of its NCG layout."""

    row: ApiPlanRow
    warnings: tuple[Problem, ...]
    llm: LlmPlan | None = None
    """The engine's degree, device memory per NeuronCore, startup budget and S3 grants (engine APIs only)."""

    @property
    def compiled_neuroncores(self) -> int:
        """The model's compiled cores; the NCG size when the config leaves it out."""
        return self.row.spec.compiled_neuroncores or self.row.sizing.ncg_size

    def request_line(self) -> str:
        """How the replica's NeuronCores follow from its request and the group's LNC."""
        compute, family, sizing = self.row.spec.compute, self.row.sizing.family, self.row.sizing
        lnc = f" at LNC {family.lnc}" if family.has_lnc else ""
        if compute.unit == "chips":
            return (
                f"inf {compute.amount} x {family.cores_per_chip} NeuronCores per {family.name} chip{lnc} "
                f"= {sizing.neuroncores} NeuronCores per replica"
            )
        return (
            f"neuroncores {compute.amount} ({family.cores_per_chip} per {family.name} chip{lnc}; other pods may "
            "hold the rest of its chips)"
        )

    def advice(self) -> list[str]:
        """The warnings about this API, else the throughput-versus-latency reading of its layout."""
        if self.warnings:
            return [w.message for w in self.warnings]
        size, cores = self.row.sizing.ncg_size, self.row.sizing.neuroncores
        if self.llm is not None:
            return [
                f"one vLLM server per replica, tensor-parallel over its {cores} NeuronCores: for throughput, raise "
                "max_replicas, or engine.max_num_seqs while the headroom allows"
            ]
        if size == 1:
            return [
                "throughput layout: one model copy per NeuronCore. If latency matters more, compile for more cores "
                f"and lower processes_per_replica (valid: {', '.join(map(str, divisors(cores)))})"
            ]
        return [
            f"latency layout: each model copy spans {size} NeuronCores. If the model compiles for fewer cores, "
            "throughput rises by running more copies: compile for the fewest cores it allows and raise "
            f"processes_per_replica (valid: {', '.join(map(str, divisors(cores)))})"
        ]

    def as_json(self) -> dict[str, Any]:
        row, sizing, spec = self.row, self.row.sizing, self.row.spec
        family, first = sizing.family, sizing.groups[0]
        per_node, limit = row.replicas_per_node
        group = row.group
        return {
            "name": spec.name,
            "node_group": spec.node_group,
            "instance_types": list(group.capacity.instance_type_names),
            "family": family.name,
            "inf": spec.compute.inf,
            "requested_neuroncores": spec.compute.neuroncores,
            "lnc": family.lnc,
            "cores_per_chip": family.cores_per_chip,
            "processes_per_replica": spec.processes_per_replica,
            "threads_per_process": spec.threads_per_process,
            "ncg_size": sizing.ncg_size,
            "ncg_count": sizing.ncg_count,
            "neuroncores": sizing.neuroncores,
            "compiled_neuroncores": self.compiled_neuroncores,
            "device_memory_kind": family.device_memory_kind,
            "device_memory_gib_per_ncg": first.device_memory_gib,
            "device_memory_share_gib_per_ncg": first.device_memory_share_gib,
            "ncgs_sharing_a_chip": sizing.ncgs_per_chip,
            "replicas_per_node": per_node,
            "replicas_per_node_limited_by": limit,
            "min_replicas": spec.autoscaling.min_replicas,
            "max_replicas": spec.autoscaling.max_replicas,
            "nodes_at_min_load": row.nodes("min"),
            "nodes_at_full_load": row.nodes("full"),
            "url": row.url,
            "startup_budget_seconds": row.startup_budget_seconds,
            "scaling": {
                "metric": row.signal.metric,
                "target": row.signal.target,
                "unit": row.signal.unit,
                "via": "keda" if row.signal.via_keda else "hpa",
                "replicas_per_node": per_node,
                "nodes_at_max_replicas": row.nodes("full"),
                "vcpus_at_max_replicas": row.nodes("full") * group.capacity.max_vcpus_per_node,
                "node_group_max_size": group.capacity.max_nodes,
            },
            "ncgs": [
                {
                    "index": g.index,
                    "cores": [g.first_core, g.last_core],
                    "chips": list(g.chips),
                    "device_memory_gib": g.device_memory_gib,
                    "device_memory_share_gib": g.device_memory_share_gib,
                    "shared_with": list(g.shared_with),
                }
                for g in sizing.groups
            ],
            "advice": self.advice(),
            "llm": None if self.llm is None else self.llm.as_json(),
        }

    def as_text(self) -> str:
        row, sizing, spec = self.row, self.row.sizing, self.row.spec
        first = sizing.groups[0]
        per_node, limit = row.replicas_per_node
        lines = [
            f"{spec.name} (node group {spec.node_group}: {', '.join(row.group.capacity.instance_type_names)})",
            f"  {self.request_line()}",
            f"  processes_per_replica {spec.processes_per_replica} -> {sizing.ncg_count} NCG(s) of "
            f"{sizing.ncg_size} NeuronCore(s); threads_per_process {spec.threads_per_process}",
            f"  device memory per NCG: {describe_memory(first, sizing.family, whole_chips=sizing.whole_chips)}",
            f"  compiled_neuroncores {self.compiled_neuroncores}"
            + ("" if spec.compiled_neuroncores else " (default: the NCG size)"),
            f"  replicas {spec.autoscaling.min_replicas}-{spec.autoscaling.max_replicas}, {per_node} per "
            f"{row.group.instance_type.name} node when alone (limited by its {RESOURCE_NAMES[limit]})",
            f"  scaling: {row.signal.describe()}",
        ]
        lines += self.llm.as_text() if self.llm is not None else []
        lines += [f"  advice: {line}" for line in self.advice()]
        return "\n".join(lines)


# --- numbers as the tables show them ---------------------------------------------------------------------------------


def dollars(cost: Cost, digits: int = 3) -> str:
    """``$1.520``, ``<= $3.033`` (spot: only the on-demand cap is known) or ``not priced``."""
    if cost.high is None:
        return "not priced"
    amount = f"${cost.high:,.{digits}f}"
    return f"<= {amount}" if cost.low is None else amount


def _per_load(values: dict[Load, Any]) -> str:
    return " / ".join(str(values[load]) for load in LOADS)


def _table(headers: list[str], rows: list[list[Any]], numeric_from: int) -> str:
    from prettytable import PrettyTable  # here: only plan's text output needs it

    table = PrettyTable(headers)
    table.align = "l"
    for header in headers[numeric_from:]:
        table.align[header] = "r"
    table.add_rows(rows)
    return table.get_string()


def node_group_table(plan: ClusterPlan) -> str:
    rows = []
    for group in plan.groups:
        chips_used, chips_free = group.chips("full")
        cores_used, cores_free = group.neuroncores("full")
        rows.append(
            [
                group.spec.name,
                group.instance_type.name,
                group.spec.capacity_type.replace("_", "-"),
                *(group.nodes(load) for load in LOADS),
                f"{chips_used}/{chips_free}",
                f"{cores_used}/{cores_free}",
            ]
        )
    headers = ["node group", "type", "capacity", "deploy", "min load", "full load", "max_size"]
    return _table([*headers, "chips used/free at full", "cores used/free at full"], rows, 3)


def quota_cost_table(plan: ClusterPlan) -> str:
    rows = []
    for group in plan.groups:
        rows.append(
            [
                group.spec.name,
                group.quota.code,
                _per_load({load: group.vcpus(load) for load in LOADS}),
                *(dollars(group.cost(load)) for load in LOADS),
                dollars(group.cost("full").per_month(), 2),
            ]
        )
    headers = ["node group", "quota", "vCPUs deploy/min/full/max"]
    return _table([*headers, *(f"$/h {LOAD_TITLES[load]}" for load in LOADS), "$/month full load"], rows, 2)


def api_table(plan: ClusterPlan) -> str:
    rows = []
    for row in plan.apis:
        per_node, limit = row.replicas_per_node
        rows.append(
            [
                row.spec.name,
                row.spec.node_group,
                f"{row.sizing.ncg_count} x {row.sizing.ncg_size} cores",
                f"{row.spec.autoscaling.min_replicas}-{row.spec.autoscaling.max_replicas}",
                f"{per_node} ({RESOURCE_NAMES[limit]})",
                f"{row.nodes('min')}/{row.nodes('full')}",
                f"{row.signal.metric} {row.signal.target:g} ({'KEDA' if row.signal.via_keda else 'HPA'})",
                row.url,
                f"{row.startup_budget_seconds} s",
            ]
        )
    headers = ["API", "node group", "NCGs", "replicas", "per node", "nodes min/full"]
    return _table([*headers, "scales on", "URL", "startup"], rows, 99)


def cluster_table(plan: ClusterPlan) -> str:
    rows: list[list[Any]] = [
        [item.item, item.detail, dollars(item.cost), dollars(item.cost.per_month(), 2)] for item in plan.fixed
    ]
    for load in LOADS:
        total = plan.total(load)
        rows.append(
            [f"total at {LOAD_TITLES[load]}", "fixed + Neuron nodes", dollars(total), dollars(total.per_month(), 2)]
        )
    return _table(["cluster", "what", "$/h", "$/month"], rows, 2)


def price_sources(plan: ClusterPlan) -> str:
    """Where each price of the plan comes from, one line each."""
    lines = [f"  {item.item}: {_source(item.price)}" for item in plan.fixed]
    lines += [
        f"  {group.spec.name} ({group.instance_type.name}): {_source(group.price)}"
        + (", the cap of its spot price" if group.spot else "")
        for group in plan.groups
    ]
    return "price sources:\n" + "\n".join(lines)


def vcpu_table(plan: ClusterPlan) -> str:
    quotas = {group.quota.code: group.quota for group in plan.groups}
    rows = []
    for code, quota in quotas.items():
        groups = ", ".join(g.spec.name for g in plan.groups if g.quota.code == code)
        rows.append([code, quota.name, groups, *(plan.vcpus_by_quota(load)[code] for load in LOADS)])
    return _table(["quota", "name", "node groups", *(f"vCPUs {LOAD_TITLES[load]}" for load in LOADS)], rows, 3)


def _source(price: catalog_prices.Price | None) -> str:
    return "not priced" if price is None else f"{price.source} ({price.as_of})"


def render_text(plan: ClusterPlan, api_plans: list[ApiPlan], source: str) -> str:
    addons = [title for key, title in ADDON_TITLES.items() if plan.addons[key]]
    prices = (
        "catalog list prices (region and source of each under 'price sources')"
        if plan.prices.origin == "catalog"
        else f"AWS Price List API, {plan.prices.origin.removeprefix('live ')}"
    )
    sections = [
        f"cluster {plan.config.cluster.name} ({source}); prices: {prices}; spot shown as at most the on-demand price",
        node_group_table(plan),
        quota_cost_table(plan),
        vcpu_table(plan),
        api_table(plan),
        cluster_table(plan),
        price_sources(plan),
        "add-ons: " + (", ".join(addons) if addons else "none"),
    ]
    sections.append("\n\n".join(p.as_text() for p in api_plans) if api_plans else f"{source}: no APIs to plan")
    return "\n\n".join(sections)


def _cost_json(group_or_total: Any, load: Load) -> dict[str, float | None]:
    cost: Cost = group_or_total.cost(load) if isinstance(group_or_total, NodeGroupPlan) else group_or_total.total(load)
    return cost.as_json()


def _price_json(price: catalog_prices.Price | None) -> dict[str, Any] | None:
    if price is None:
        return None
    return {"usd_per_hour": price.usd_per_hour, "source": price.source, "as_of": price.as_of}


def render_json(plan: ClusterPlan, api_plans: list[ApiPlan], loaded: LoadedConfig) -> dict[str, Any]:
    groups = []
    for group in plan.groups:
        groups.append(
            {
                "name": group.spec.name,
                "instance_type": group.instance_type.name,
                "instance_types": list(group.capacity.instance_type_names),
                "capacity_type": group.spec.capacity_type,
                "quota": {"code": group.quota.code, "name": group.quota.name, "usage_class": group.quota.usage_class},
                "price": _price_json(group.price),
                "nodes_needed_at_full_load": group.nodes_needed_at_full,
                "loads": {
                    load: {
                        "nodes": group.nodes(load),
                        "chips": dict(zip(("used", "free"), group.chips(load), strict=True)),
                        "neuroncores": dict(zip(("used", "free"), group.neuroncores(load), strict=True)),
                        "vcpus": group.vcpus(load),
                        "usd_per_hour": group.cost(load).as_json(),
                    }
                    for load in LOADS
                },
                "usd_per_month_at_full_load": group.cost("full").per_month().as_json(),
                "pods_per_node_at_full_load": [
                    dict(node.replicas) for node in group.load.at_max.nodes[: group.nodes("full")]
                ]
                if group.load is not None
                else [],
                "pending_at_full_load": group.pending_at_full(),
            }
        )
    return {
        "schema_version": SCHEMA_VERSION,
        "config": loaded.source,
        "cluster": plan.config.cluster.name,
        "prices": plan.prices.origin,
        "node_groups": groups,
        "apis": [p.as_json() for p in api_plans],
        "addons": dict(plan.addons),
        "fixed_costs": [
            {
                "item": item.item,
                "count": item.count,
                "detail": item.detail,
                "price": _price_json(item.price),
                "usd_per_hour": item.cost.as_json(),
            }
            for item in plan.fixed
        ],
        "totals": {
            "vcpus_by_quota": {load: plan.vcpus_by_quota(load) for load in LOADS},
            "usd_per_hour": {load: plan.total(load).as_json() for load in LOADS},
            "usd_per_month_at_full_load": plan.total("full").per_month().as_json(),
        },
        "warnings": [w.render(loaded.source) for w in loaded.warnings],
        "notes": [n.render(loaded.source) for n in loaded.notes],
        "acknowledged": [a.as_json() for a in loaded.acknowledged],
    }


def api_plans_of(plan: ClusterPlan, loaded: LoadedConfig) -> list[ApiPlan]:
    return [
        ApiPlan(
            row,
            tuple(w for w in loaded.warnings if w.path[:2] == ("apis", i)),
            None if row.spec.engine is None else plan_llm(row.spec, row.sizing.family, row.startup_budget_seconds),
        )
        for i, row in enumerate(plan.apis)
    ]


def add_plan_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print the plan as JSON (shape: cli/plan.schema.json)")
    parser.add_argument(
        "--prices",
        choices=("catalog", "live"),
        default="catalog",
        help="catalog: the list prices bundled with inferentia-cdk (us-east-1, offline); live: current on-demand "
        "prices of the config's region from the AWS Price List API (needs AWS credentials; exit 1 when unreachable)",
    )
    parser.add_argument("--region", help="with --prices live: the region to price (default: cluster.region)")


def run_plan(args: argparse.Namespace, loaded: LoadedConfig, out: TextIO, err: TextIO) -> int:
    """Print the plan of a loaded config; 0, 1 when live prices were asked for and could not be read, 2 when the
    region to price is missing or no AWS region name."""
    prices: PriceBook | None = None
    if getattr(args, "prices", "catalog") == "live":
        from .live_prices import PriceListError, live_price_book

        try:
            prices = live_price_book(loaded.config, args.region)
        except PriceListError as error:
            print(f"error: {one_line(str(error))}", file=err)
            return EXIT_BAD_INPUT if error.bad_input else EXIT_PRICES_UNREADABLE
    plan = plan_cluster(loaded.config, prices)
    api_plans = api_plans_of(plan, loaded)
    if args.json:
        print(json.dumps(render_json(plan, api_plans, loaded), indent=2), file=out)
        return 0
    for problem in (*loaded.warnings, *loaded.notes):
        print(problem.render(loaded.source), file=err)
    print(render_text(plan, api_plans, loaded.source), file=out)
    for item in loaded.acknowledged:
        print(f"acknowledged: {item.render(loaded.source)}", file=out)
    return 0
