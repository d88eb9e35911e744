"""The ``inferentia-cdk`` command: ``validate`` and ``plan`` a config file, and check its EC2 ``quota``.

No CDK import anywhere on this path (``import inferentia_cdk.cli`` must not load ``aws_cdk``): the commands answer in
well under a second, without starting jsii and Node.

Exit status of ``validate`` and ``plan``: 0 for a valid config (warnings and notes are printed but do not fail), 2 for
an invalid one, with one line per problem ``<file>:<line>: <path>: <message>``; ``plan --prices live`` exits 1 when
the AWS Price List API cannot be read (no credentials, no network, access denied).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from typing import Any, TextIO

from ..config.problems import ConfigError
from ..planning.loader import READ_FAILED, LoadedConfig, load_config

EXIT_VALID = 0
EXIT_INVALID = 2
PROG = "inferentia-cdk"


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
    for problem in (*loaded.warnings, *loaded.notes):
        print(problem.render(loaded.source), file=err)
    counts = ", ".join(
        _count(n, noun)
        for n, noun in (
            (len(loaded.config.node_groups), "node group"),
            (len(loaded.config.apis), "API"),
            (len(loaded.warnings), "warning"),
            (len(loaded.notes), "note"),
        )
        if n or noun != "note"
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
    # Imported here: only plan needs the cluster plan and its table library.
    from .plan import run_plan as print_plan

    return print_plan(args, loaded, out, err)


def _command_of(argv: Sequence[str]) -> str | None:
    return next((a for a in argv if not a.startswith("-")), None)


_VALIDATE_EPILOG = """\
example:
  inferentia-cdk validate examples/inferentia.yaml

exit status:
  0  valid (warnings and notes, if any, are printed to stderr and do not fail)
  2  invalid: one '<file>:<line>: <path>: <message> [CODE]' line per problem on stderr
"""
_PLAN_EPILOG = """\
examples:
  inferentia-cdk plan examples/full.yaml
  inferentia-cdk plan examples/full.yaml --json > plan.json   # shape: inferentia_cdk/cli/plan.schema.json
  inferentia-cdk plan examples/full.yaml --prices live --region eu-west-1

exit status:
  0  valid, plan printed
  1  --prices live could not read the AWS Price List API (no credentials, no network, access denied)
  2  invalid: the problems, as validate prints them, and no plan; or --prices live without a valid region
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
        help="show the cluster at a glance: each node group's nodes at deploy, min load, full load and max_size with "
        "chips, NeuronCores, vCPUs and cost; each API's NCG layout, replicas, scaling, URL and advice; fixed costs",
        description="Show what a valid config deploys: node groups with their APIs packed as the scheduler places "
        "them, quota vCPUs and costs at each load, and each API's NeuronCore Groups, scaling and URL.",
        epilog=_PLAN_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    plan.add_argument("config", help="the inferentia-cdk config file (YAML)")
    if _command_of(argv) == "plan":
        # Imported only for this command, so that validate never loads the table library.
        from .plan import add_plan_arguments

        add_plan_arguments(plan)
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
