"""The ``inferentia-cdk`` command: ``validate`` and ``plan`` a config file, and check its EC2 ``quota``.

No CDK import anywhere on this path (``import inferentia_cdk.cli`` must not load ``aws_cdk``): the commands answer in
well under a second, without starting jsii and Node.

Exit status of ``validate`` and ``plan``: 0 for a valid config (warnings are printed but do not fail), 2 for an
invalid one, with one line per problem ``<file>:<line>: <path>: <message>``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, TextIO

from ..config.models import ApiSpec
from ..config.problems import ConfigError, Problem
from ..planning.capacity import NodeGroupCapacity
from ..planning.cluster_facts import KNOWN_NODE_GROUP
from ..planning.llm import LlmPlan, plan_llm
from ..planning.loader import READ_FAILED, LoadedConfig, load_config
from ..planning.scaling import ReplicaCapacity, ScalingSignal, replica_capacity, signal_of
from ..planning.sizing import ReplicaSizing, describe_memory, divisors, size_api
from ..planning.startup import startup_budget_seconds

EXIT_VALID = 0
EXIT_INVALID = 2
PROG = "inferentia-cdk"


@dataclass(frozen=True)
class ApiPlan:
    """What ``plan`` reports for one API: its NCG layout on its node group, and advice."""

    spec: ApiSpec
    capacity: NodeGroupCapacity
    sizing: ReplicaSizing
    warnings: tuple[Problem, ...]
    signal: ScalingSignal
    at_max: ReplicaCapacity
    """Nodes and vCPUs this API needs at max_replicas, counting chips, CPU and memory per node."""
    llm: LlmPlan | None = None
    """The engine's degree, device memory per NeuronCore, startup budget and S3 grants (engine APIs only)."""

    @property
    def compiled_neuroncores(self) -> int:
        """The model's compiled cores; the NCG size when the config leaves it out."""
        return self.spec.compiled_neuroncores or self.sizing.ncg_size

    @property
    def replicas_per_node(self) -> int:
        """Replicas that fit on the node with the fewest chips, counting NeuronCores only."""
        return self.capacity.neuroncores_per_node // self.sizing.neuroncores

    def request_line(self) -> str:
        """How the replica's NeuronCores follow from its request and the group's LNC."""
        compute, family = self.spec.compute, self.sizing.family
        lnc = f" at LNC {family.lnc}" if family.has_lnc else ""
        if compute.unit == "chips":
            return (
                f"inf {compute.amount} x {family.cores_per_chip} NeuronCores per {family.name} chip{lnc} "
                f"= {self.sizing.neuroncores} NeuronCores per replica"
            )
        return (
            f"neuroncores {compute.amount} ({family.cores_per_chip} per {family.name} chip{lnc}; other pods may "
            "hold the rest of its chips)"
        )

    def advice(self) -> list[str]:
        """The warnings about this API, else the throughput-versus-latency reading of its layout."""
        if self.warnings:
            return [w.message for w in self.warnings]
        size, cores = self.sizing.ncg_size, self.sizing.neuroncores
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
        family = self.sizing.family
        first = self.sizing.groups[0]
        return {
            "name": self.spec.name,
            "node_group": self.spec.node_group,
            "instance_types": list(self.capacity.instance_type_names),
            "family": family.name,
            "inf": self.spec.compute.inf,
            "requested_neuroncores": self.spec.compute.neuroncores,
            "lnc": family.lnc,
            "cores_per_chip": family.cores_per_chip,
            "processes_per_replica": self.spec.processes_per_replica,
            "threads_per_process": self.spec.threads_per_process,
            "ncg_size": self.sizing.ncg_size,
            "ncg_count": self.sizing.ncg_count,
            "neuroncores": self.sizing.neuroncores,
            "compiled_neuroncores": self.compiled_neuroncores,
            "device_memory_kind": family.device_memory_kind,
            "device_memory_gib_per_ncg": first.device_memory_gib,
            "device_memory_share_gib_per_ncg": first.device_memory_share_gib,
            "ncgs_sharing_a_chip": self.sizing.ncgs_per_chip,
            "replicas_per_node": self.replicas_per_node,
            "min_replicas": self.spec.autoscaling.min_replicas,
            "max_replicas": self.spec.autoscaling.max_replicas,
            "scaling": {
                "metric": self.signal.metric,
                "target": self.signal.target,
                "unit": self.signal.unit,
                "via": "keda" if self.signal.via_keda else "hpa",
                "replicas_per_node": self.at_max.replicas_per_node,
                "nodes_at_max_replicas": self.at_max.nodes_at_max,
                "vcpus_at_max_replicas": self.at_max.vcpus_at_max,
                "node_group_max_size": self.at_max.group_max_nodes,
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
                for g in self.sizing.groups
            ],
            "advice": self.advice(),
            "llm": None if self.llm is None else self.llm.as_json(),
        }

    def as_text(self) -> str:
        spec, sizing = self.spec, self.sizing
        first = sizing.groups[0]
        lines = [
            f"{spec.name} (node group {spec.node_group}: {', '.join(self.capacity.instance_type_names)})",
            f"  {self.request_line()}",
            f"  processes_per_replica {spec.processes_per_replica} -> {sizing.ncg_count} NCG(s) of "
            f"{sizing.ncg_size} NeuronCore(s); threads_per_process {spec.threads_per_process}",
            f"  device memory per NCG: {describe_memory(first, sizing.family, whole_chips=sizing.whole_chips)}",
            f"  compiled_neuroncores {self.compiled_neuroncores}"
            + ("" if spec.compiled_neuroncores else " (default: the NCG size)"),
            f"  replicas {spec.autoscaling.min_replicas}-{spec.autoscaling.max_replicas}, "
            f"{self.replicas_per_node} per node by NeuronCores",
            f"  scaling: {self.signal.describe()}",
            f"  at max_replicas {spec.autoscaling.max_replicas}: {self.at_max.nodes_at_max} node(s), "
            f"{self.at_max.vcpus_at_max} vCPUs ({self.at_max.replicas_per_node} replica(s) per node by NeuronCores, "
            f"CPU and memory; node group max_size {self.at_max.group_max_nodes}"
            + (")" if self.at_max.fits_group else ", too few: the rest stay Pending)"),
        ]
        lines += self.llm.as_text() if self.llm is not None else []
        lines += [f"  advice: {line}" for line in self.advice()]
        return "\n".join(lines)


def plan_config(loaded: LoadedConfig) -> list[ApiPlan]:
    """The plan of every API of a loaded (so valid) config."""
    plans = []
    neuron_monitor, container_insights = loaded.config.neuron_monitor(), loaded.config.container_insights()
    for i, spec in enumerate(loaded.config.apis):
        group = loaded.config.node_group(spec.node_group)
        if group is None:  # load_config has rejected such a config already
            raise ConfigError(
                [KNOWN_NODE_GROUP.problem(("apis", i, "node_group"), f"{spec.node_group!r} is not a node group")]
            )
        capacity = NodeGroupCapacity.of(group)
        sizing = size_api(spec.compute, capacity.family, spec.processes_per_replica)
        own = tuple(w for w in loaded.warnings if w.path[:2] == ("apis", i))
        at_max = replica_capacity(
            spec,
            capacity,
            neuron_monitor=neuron_monitor,
            container_insights=container_insights,
        )
        llm = plan_llm(spec, capacity.family, startup_budget_seconds(spec)) if spec.engine is not None else None
        plans.append(ApiPlan(spec, capacity, sizing, own, signal_of(spec.autoscaling), at_max, llm))
    return plans


def load_or_report(path: str, err: TextIO) -> LoadedConfig | None:
    """The loaded config, or None after printing one ``file:line: path: message`` line per problem to ``err``."""
    try:
        return load_config(path)
    except ConfigError as error:
        for problem in error.problems:
            print(problem.render(error.source), file=err)
        return None
    except Exception as error:  # the CLI promises a problem line, never a traceback
        problem = READ_FAILED.problem((), f"internal error reading the config: {type(error).__name__}: {error}")
        print(problem.render(path), file=err)
        return None


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}{'' if number == 1 else 's'}"


def run_validate(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    loaded = load_or_report(args.config, err)
    if loaded is None:
        return EXIT_INVALID
    for warning in loaded.warnings:
        print(warning.render(loaded.source), file=err)
    counts = ", ".join(
        _count(n, noun)
        for n, noun in (
            (len(loaded.config.node_groups), "node group"),
            (len(loaded.config.apis), "API"),
            (len(loaded.warnings), "warning"),
        )
    )
    acknowledged = f", {len(loaded.acknowledged)} acknowledged" if loaded.acknowledged else ""
    print(f"{loaded.source}: valid ({counts}{acknowledged})", file=out)
    print_acknowledged(loaded, out)
    return EXIT_VALID


def print_acknowledged(loaded: LoadedConfig, out: TextIO) -> None:
    """What the config's ``acknowledge`` silenced: code, path and reason, one line each."""
    for item in loaded.acknowledged:
        print(f"acknowledged: {item.render(loaded.source)}", file=out)


def run_plan(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    loaded = load_or_report(args.config, err)
    if loaded is None:
        return EXIT_INVALID
    plans = plan_config(loaded)
    if args.json:
        document = {
            "config": loaded.source,
            "apis": [p.as_json() for p in plans],
            "warnings": [w.render(loaded.source) for w in loaded.warnings],
            "acknowledged": [a.as_json() for a in loaded.acknowledged],
        }
        print(json.dumps(document, indent=2), file=out)
        return EXIT_VALID
    for warning in loaded.warnings:
        print(warning.render(loaded.source), file=err)
    if not plans:
        print(f"{loaded.source}: no APIs to plan", file=out)
    else:
        print("\n\n".join(p.as_text() for p in plans), file=out)
    print_acknowledged(loaded, out)
    return EXIT_VALID


def _command_of(argv: Sequence[str]) -> str | None:
    return next((a for a in argv if not a.startswith("-")), None)


_VALIDATE_EPILOG = """\
example:
  inferentia-cdk validate examples/inferentia.yaml

exit status:
  0  valid (warnings, if any, are printed to stderr and do not fail)
  2  invalid: one '<file>:<line>: <path>: <message> [CODE]' line per problem on stderr
"""
_PLAN_EPILOG = """\
examples:
  inferentia-cdk plan examples/full.yaml
  inferentia-cdk plan examples/full.yaml --json > plan.json

exit status:
  0  valid, plan printed
  2  invalid: the problems, as validate prints them, and no plan
"""
_QUOTA_EPILOG = """\
examples:
  inferentia-cdk quota examples/inferentia.yaml                 # the config's region, or AWS_REGION
  AWS_PROFILE=prod inferentia-cdk quota my-config.yaml --region eu-west-1

exit status:
  0  the Inf/Trn vCPU quotas cover every node group at max_size
  1  the check could not run (no credentials, no network, access denied)
  2  bad input (the config, the region or the profile)
  3  a quota is short: the lines say by how much and what to request
"""


class _PrintVersion(argparse.Action):
    """``--version``: the installed distribution's version, looked up only when asked (metadata is slow to import)."""

    def __init__(self, option_strings: Sequence[str], dest: str, **kwargs: Any) -> None:
        super().__init__(option_strings, dest, nargs=0, help="print the version and exit")

    def __call__(self, parser: argparse.ArgumentParser, *args: Any, **kwargs: Any) -> None:
        from importlib.metadata import PackageNotFoundError, version

        try:
            found = version("inferentia-cdk")
        except PackageNotFoundError:
            found = "unknown (not installed)"
        print(f"{PROG} {found}")
        parser.exit()


def build_parser(argv: Sequence[str] = ()) -> argparse.ArgumentParser:
    """The argument parser; the quota command's arguments are added only when ``argv`` runs it (see module doc)."""
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Validate and plan inferentia-cdk configs; check EC2 quotas for their Neuron node groups.",
        epilog="Run 'inferentia-cdk COMMAND --help' for a command's options, an example and its exit status.",
    )
    parser.add_argument("--version", action=_PrintVersion)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    validate = commands.add_parser(
        "validate",
        help="check a config; exit 0 when valid, 2 with one '<file>:<line>: <path>: <message>' line per problem",
        description="Check a config file: every problem at once, without AWS credentials and without the CDK.",
        epilog=_VALIDATE_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    validate.add_argument("config", help="the inferentia-cdk config file (YAML)")
    plan = commands.add_parser(
        "plan",
        help="show each API's NeuronCore Groups (sizes, counts, device memory, compiled cores, advice), its scaling "
        "signal and target, and the nodes and vCPUs its max_replicas needs",
        description="Show what a valid config deploys: each API's NeuronCore Groups, scaling, nodes and vCPUs.",
        epilog=_PLAN_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    plan.add_argument("config", help="the inferentia-cdk config file (YAML)")
    plan.add_argument("--json", action="store_true", help="print the plan as JSON ({'apis': [...], ...})")
    quota = commands.add_parser(
        "quota",
        help="compare the Inf/Trn vCPU quotas with the node groups' maximum",
        description="Compare the account's Inf/Trn vCPU quotas (Service Quotas, read-only) with what the node "
        "groups need at max_size.",
        epilog=_QUOTA_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    if _command_of(argv) == "quota":
        # Imported only for this command, so that validate and plan never load boto3.
        from .quota import add_quota_arguments

        add_quota_arguments(quota)
    return parser


def main(argv: Sequence[str] | None = None, out: TextIO | None = None, err: TextIO | None = None) -> int:
    arguments = list(sys.argv[1:] if argv is None else argv)
    out = out or sys.stdout
    err = err or sys.stderr
    args = build_parser(arguments).parse_args(arguments)
    try:
        if args.command == "validate":
            return run_validate(args, out, err)
        if args.command == "plan":
            return run_plan(args, out, err)
    except BrokenPipeError:
        # The reader went away (``plan | head``): there is nobody left to tell. Point stdout at /dev/null so that
        # Python's final flush does not raise again on the way out.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_VALID
    from .quota import run_quota

    return run_quota(args)


if __name__ == "__main__":
    sys.exit(main())
