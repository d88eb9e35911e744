"""``inferentia-cdk quota CONFIG``: compare the config's Neuron node groups with the account's EC2 vCPU quotas.

Exit status: 0 when every quota covers its node groups, 3 when one is short, 2 on bad input (an invalid config, no
region or one that is no AWS region name), 1 when the quotas could not be read (no credentials, access denied,
endpoint unreachable, throttled). Bad input is reported like ``validate`` does, one problem per line.
No CDK import: the command answers in a second without starting jsii.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from typing import TextIO

from ..config.models import AWS_REGION, REGION, region_error
from ..config.problems import Problem
from ..planning.capacity import NodeGroupCapacity
from ..quota import service_quotas as quota
from .main import load_or_report

EXIT_COVERED = 0
EXIT_CHECK_FAILED = 1
EXIT_BAD_INPUT = 2
EXIT_SHORT = 3


def add_quota_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("config", help="the inferentia-cdk config file (YAML)")
    parser.add_argument(
        "--region",
        help="region to check (default: cluster.region of the config, else AWS_REGION or the profile's region)",
    )
    parser.add_argument(
        "--request-increase",
        action="store_true",
        help="file a Service Quotas increase for each short quota that is adjustable and has no pending request",
    )
    parser.add_argument(
        "--count-usage",
        action="store_true",
        help="also subtract vCPUs already running in the account (CloudWatch AWS/Usage); use it before the first "
        "deploy, not for a running cluster, whose own nodes would be counted twice",
    )


def _vcpus(value: float | None) -> str:
    if value is None:
        return "-"
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


def format_table(statuses: Sequence[quota.QuotaStatus]) -> str:
    """One row per quota: required, applied, in use, headroom, adjustable, verdict."""
    header = ("QUOTA", "NAME", "NODE GROUPS", "REQUIRED", "APPLIED", "IN USE", "HEADROOM", "ADJUSTABLE", "VERDICT")
    rows = [header]
    for status in statuses:
        applied = _vcpus(status.applied_vcpus) + (" (default)" if status.is_default else "")
        rows.append(
            (
                status.need.code,
                status.need.name,
                ",".join(status.need.node_groups),
                str(status.need.required_vcpus),
                applied,
                _vcpus(status.in_use_vcpus),
                _vcpus(status.headroom_vcpus),
                "yes" if status.adjustable else "no",
                status.verdict.upper(),
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    return "\n".join(
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip() for row in rows
    )


def _region_problem(region: str | None, origin: str) -> Problem | None:
    if region is None or AWS_REGION.fullmatch(region):
        return None
    return REGION.problem((origin,), region_error(region))


def run_quota(args: argparse.Namespace, out: TextIO | None = None, err: TextIO | None = None) -> int:
    out = out or sys.stdout
    err = err or sys.stderr
    loaded = load_or_report(args.config, err)
    if loaded is None:
        return EXIT_BAD_INPUT
    config = loaded.config
    bad_flag = _region_problem(args.region, "--region")
    if bad_flag is not None:
        print(bad_flag.render(), file=err)
        return EXIT_BAD_INPUT
    from botocore.exceptions import BotoCoreError

    try:
        region = quota.resolve_region(args.region or config.cluster.region)
    except BotoCoreError as error:  # the environment names a profile or config file botocore cannot use
        print(f"error: {error}", file=err)
        return EXIT_BAD_INPUT
    if region is None:
        print("error: no AWS region: pass --region, set AWS_REGION, or set cluster.region in the config", file=err)
        return EXIT_BAD_INPUT
    origin = next((name for name in ("AWS_REGION", "AWS_DEFAULT_REGION") if os.environ.get(name) == region), "region")
    bad_default = _region_problem(region, origin)
    if bad_default is not None:
        print(bad_default.render(), file=err)
        return EXIT_BAD_INPUT
    needs = quota.needs_of(NodeGroupCapacity.of(spec) for spec in config.node_groups)
    try:
        client = quota.service_quotas_client(region)
        statuses = quota.check_quotas(needs, region, service_quotas=client, count_usage=args.count_usage)
    except quota.QuotaCheckError as error:
        print(f"error: {error.message}", file=err)
        return EXIT_BAD_INPUT if error.kind == "no_region" else EXIT_CHECK_FAILED
    except BotoCoreError as error:  # before any call: a client botocore cannot build from this environment
        print(f"error: {quota.explain_failure(error, needs, region).message}", file=err)
        return EXIT_CHECK_FAILED

    print(f"EC2 vCPU quotas for cluster {config.cluster.name} ({loaded.source}) in {region}:", file=out)
    print(format_table(statuses), file=out)
    print(file=out)
    for status in statuses:
        print(status.message(), file=out)
    short = quota.shortfalls(statuses)
    if not short:
        return EXIT_COVERED
    if args.request_increase:
        try:
            outcomes = quota.request_increases(statuses, client)
        except quota.QuotaCheckError as error:
            print(f"error: {error.message}", file=err)
            return EXIT_SHORT
        print(file=out)
        for outcome in outcomes:
            print(outcome.message(), file=out)
    return EXIT_SHORT
