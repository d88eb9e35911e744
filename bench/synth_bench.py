"""Synth benchmark: our app against the same resources written by hand in plain aws-cdk-lib (bench/baseline_app.py).

For each N (default 1, 10, 100 and 1,000 APIs) both apps are synthesized from the same config, each run in a process of
its own (``--runs`` times at 1,000 APIs and more, ``--small-runs`` times below: those runs are short, and the machine's
noise is a larger share of them), alternating baseline and ours (and, in the first rounds, ours with cdk-nag) so that
drift in the machine's speed hits both alike. cdk-nag is off on both sides for the ratios; what it adds to ours is
measured apart. Per run: wall seconds, CPU seconds of the whole process tree (Python and the jsii Node process, which
Python waits for), and peak resident memory of the tree (the sum over its processes, sampled from /proc). Reported:
medians with min-max, ratios of medians, the time per extra API (least-squares slope over the sizes), and per template
its bytes, resources, outputs and parameters. Before anything is timed, both apps are synthesized once and must produce
the same resource types and counts in every template, and the same resources, property for property, in the APIs'
templates (manifests, dashboards), or the run stops.

At the sizes of ``--wrap-sizes`` a third app is timed in the same rounds: the baseline with each API's manifest and
dashboard under a plain Construct of their own, as InferentiaApi and ApiMonitoring held them before they became the
manifest and the dashboard themselves, which prices those construct nodes.

Import and load, apart: fresh processes alternating (``--import-runs`` pairs) between ours (``import inferentia_cdk``
and loading the bundled config) and the floor of any typed config (PyYAML and pydantic loading a one-field model from
a one-line file), each timed inside the process from before its first import to the loaded config, bytecode cached.

Writes bench/results.json and bench/RESULTS.md.
Usage: python bench/synth_bench.py [--runs 7] [--small-runs 15] [--nag-runs 3] [--sizes 1,10,100,1000]
       [--wrap-sizes 1000] [--import-runs 21]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import yaml

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
sys.path.insert(0, str(ROOT))

# CloudFormation quotas per template (AWS CloudFormation User Guide, "Understand CloudFormation quotas"): a template
# uploaded to S3, as cdk deploy and nested stacks do, may hold 1 MB; 500 resources, 200 outputs, 200 parameters.
TEMPLATE_BYTES_LIMIT = 1_000_000
RESOURCES_LIMIT = 500
OUTPUTS_LIMIT = 200
PARAMETERS_LIMIT = 200

MANY_APIS = 1000
"""From this size on a point takes ``--runs`` rounds, below it ``--small-runs``."""

TARGET_TIME_RATIO = 1.05
TARGET_MEMORY_RATIO = 1.10
TARGET_CORE_SECONDS = 0.5
TARGET_IMPORT_LOAD_SECONDS = 0.1

# What `import inferentia_cdk` plus loading the bundled config costs, and what PyYAML and pydantic alone cost for
# the least typed config: printed as milliseconds from before the first import to the loaded config.
IMPORT_LOAD_SCRIPTS = {
    "ours": """
import time
started = time.perf_counter()
import inferentia_cdk
inferentia_cdk.load_config("examples/inferentia.yaml")
print(1000 * (time.perf_counter() - started))
""",
    "floor": """
import time
started = time.perf_counter()
import yaml
from pydantic import BaseModel, ConfigDict
class Config(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    name: str
Config.model_validate(yaml.safe_load("name: demo"))
print(1000 * (time.perf_counter() - started))
""",
}


def generated_config(n_apis: int) -> dict[str, Any]:
    """The default example's shape (one inf1 group, quota check at deploy) with ``n_apis`` APIs.

    The group is of inf1.24xlarge (16 chips, so 16 one-chip replicas a node) and large enough to hold every API's
    min_replicas, which the rules demand. The APIs keep the default autoscaling, on NeuronCore utilisation: the
    cluster then runs KEDA and Container Insights, and each API gets a ScaledObject, a TriggerAuthentication and a
    dashboard, as a user's APIs do by default.
    """
    return {
        "cluster": {"name": "bench"},
        "node_groups": [
            {"name": "inf1", "instance_types": ["inf1.24xlarge"], "min_size": 0, "max_size": max(4, -(-n_apis // 16))}
        ],
        "quota_check": "deploy",
        "apis": [
            {
                "name": f"api-{i}",
                "node_group": "inf1",
                "image": f"public.ecr.aws/example/api-{i}:1.0.0",
                "compute": {"inf": 1, "cpu": 1, "mem": "2Gi"},
                "processes_per_replica": 4,
                "compiled_neuroncores": 1,
            }
            for i in range(n_apis)
        ],
    }


def _children() -> dict[int, list[int]]:
    tree: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            parent = int(stat.rsplit(")", 1)[1].split()[1])
            tree.setdefault(parent, []).append(int(entry))
    return tree


def _descendants(root: int) -> list[int]:
    tree, found, todo = _children(), [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo.extend(tree.get(pid, []))
    return found


def _rss_kib(pids: list[int]) -> int:
    total = 0
    for pid in pids:
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            continue
    return total


def child_env() -> dict[str, str]:
    """The apps' environment: this checkout first on the path, and bytecode caching on (as for any installed package:
    with PYTHONDONTWRITEBYTECODE set, every synth of ours would compile our modules from source again, a price the
    baseline, one script over installed packages, never pays)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


def measure(command: list[str]) -> dict[str, float]:
    """Wall seconds, CPU seconds and peak resident MiB of ``command``'s process tree."""
    start = time.perf_counter()
    process = subprocess.Popen(command, cwd=ROOT, env=child_env(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    peak, samples, pids = 0, 0, [process.pid]
    while True:
        waited, status, usage = os.wait4(process.pid, os.WNOHANG)
        if waited:
            break
        # Walking all of /proc costs CPU that the measured process competes for on a small machine, so the tree is
        # re-read every 10th sample (the jsii Node process starts once, early) and only its members are sampled.
        if samples % 10 == 0:
            pids = _descendants(process.pid)
        peak = max(peak, _rss_kib(pids))
        samples += 1
        time.sleep(0.02)
    elapsed = time.perf_counter() - start
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        stderr = process.stderr.read().decode() if process.stderr else ""
        raise SystemExit(f"{' '.join(command)} failed ({process.returncode}):\n{stderr[-3000:]}")
    # wait4 counts the child and every descendant it waited for: jsii's Node process is one.
    return {"wall_s": elapsed, "cpu_s": usage.ru_utime + usage.ru_stime, "peak_mib": peak / 1024}


def template_stats(outdir: Path) -> dict[str, dict[str, Any]]:
    """Per template (nested ones by their stack's path, ``InferentiaApis/Shard07``): size and counts."""
    stats: dict[str, dict[str, Any]] = {}
    for path in sorted(outdir.glob("*.template.json")):
        template = json.loads(path.read_text())
        name = path.name.removesuffix(".template.json")
        if name.endswith(".nested"):
            # InferentiaApisShard07ABCDEF12.nested: the stack's construct path with a hash; the path is what the two
            # apps share.
            match = re.fullmatch(r"(.+?)(Shard\d+)[0-9A-F]{8}\.nested", name)
            name = f"{match.group(1)}/{match.group(2)}" if match else name
        resources = template.get("Resources", {})
        stats[name] = {
            "bytes": path.stat().st_size,
            "resources": len(resources),
            "outputs": len(template.get("Outputs", {})),
            "parameters": len(template.get("Parameters", {})),
            "types": dict(sorted(Counter(r["Type"] for r in resources.values()).items())),
        }
        if name.startswith("InferentiaApis"):
            # The per-API resources (manifests, dashboards) must match exactly; the two apps name them differently
            # and their templates order them differently, so they are compared as sorted property texts.
            stats[name]["properties"] = sorted(
                json.dumps([r["Type"], r.get("Properties", {})], sort_keys=True) for r in resources.values()
            )
    return stats


def within_limits(stats: dict[str, dict[str, Any]]) -> list[str]:
    broken = []
    for name, s in stats.items():
        for key, limit in (
            ("bytes", TEMPLATE_BYTES_LIMIT),
            ("resources", RESOURCES_LIMIT),
            ("outputs", OUTPUTS_LIMIT),
            ("parameters", PARAMETERS_LIMIT),
        ):
            if s[key] > limit:
                broken.append(f"{name}: {s[key]} {key} > {limit}")
    return broken


def same_resources(ours: dict[str, dict[str, Any]], baseline: dict[str, dict[str, Any]]) -> list[str]:
    """Every difference in resource types and counts, template by template."""
    differences = []
    for name in sorted(set(ours) | set(baseline)):
        a, b = ours.get(name, {}).get("types"), baseline.get(name, {}).get("types")
        if a is None or b is None:
            differences.append(f"{name}: only in {'ours' if b is None else 'the baseline'}")
        elif a != b:
            delta = {t: a.get(t, 0) - b.get(t, 0) for t in set(a) | set(b) if a.get(t, 0) != b.get(t, 0)}
            differences.append(f"{name}: ours minus baseline {delta}")
        elif ours[name]["outputs"] != baseline[name]["outputs"]:
            differences.append(f"{name}: {ours[name]['outputs']} outputs, baseline {baseline[name]['outputs']}")
        elif ours[name].get("properties") != baseline[name].get("properties"):
            differences.append(f"{name}: resources of the same types with different properties")
    return differences


def core_validate_seconds(n_specs: int) -> float:
    """Pure core: validate a config of ``n_specs`` APIs (pydantic + every rule) and size each replica."""
    from inferentia_cdk.catalog import FAMILIES
    from inferentia_cdk.planning.loader import parse_config
    from inferentia_cdk.planning.sizing import size_api

    data = generated_config(n_specs)
    start = time.perf_counter()
    config, problems = parse_config(data)
    assert config is not None and not [p for p in problems if p.severity == "error"], problems[:3]
    for api in config.apis:
        size_api(api.compute, FAMILIES["inf1"], api.processes_per_replica)
    return time.perf_counter() - start


def import_load_ms(pairs: int) -> dict[str, Any]:
    """Milliseconds to import and load, ours and the floor, alternating in fresh processes (one unmeasured run each
    first, which writes the bytecode caches)."""
    samples: dict[str, list[float]] = {"ours": [], "floor": []}
    for round_ in range(pairs + 1):
        for side, script in IMPORT_LOAD_SCRIPTS.items():
            run = subprocess.run(
                [sys.executable, "-c", script], cwd=ROOT, env=child_env(), check=True, capture_output=True, text=True
            )
            if round_:
                samples[side].append(float(run.stdout))
    ours, floor = statistics.median(samples["ours"]), statistics.median(samples["floor"])
    return {
        "ours_ms": summary(samples["ours"]),
        "floor_ms": summary(samples["floor"]),
        "ours_over_floor_ms": round(ours - floor, 1),
        "pairs": pairs,
    }


def summary(samples: list[float]) -> dict[str, float]:
    return {
        "median": round(statistics.median(samples), 3),
        "min": round(min(samples), 3),
        "max": round(max(samples), 3),
    }


def slope(points: list[tuple[int, float]]) -> float:
    """Least-squares seconds per API."""
    if len(points) < 2:
        return float("nan")
    mean_n = statistics.fmean(n for n, _ in points)
    mean_t = statistics.fmean(t for _, t in points)
    covariance = sum((n - mean_n) * (t - mean_t) for n, t in points)
    variance = sum((n - mean_n) ** 2 for n, _ in points)
    return covariance / variance


def bench_size(n: int, scratch: Path, runs: int, nag_runs: int, wrap: bool) -> dict[str, Any]:
    python = sys.executable
    config_path, workload_path = scratch / f"config-{n}.yaml", scratch / f"workload-{n}.json"
    config_path.write_text(yaml.safe_dump(generated_config(n)))
    subprocess.run([python, str(BENCH / "workload.py"), str(config_path), str(workload_path)], cwd=ROOT, check=True)
    ours_out, baseline_out, nag_out = scratch / f"ours-{n}", scratch / f"baseline-{n}", scratch / f"nag-{n}"
    commands = {
        "baseline": [python, str(BENCH / "baseline_app.py"), str(workload_path), str(baseline_out)],
        "ours": [python, str(BENCH / "ours_app.py"), str(config_path), str(ours_out)],
        "ours_nag": [python, str(BENCH / "ours_app.py"), str(config_path), str(nag_out), "--nag"],
    }
    if wrap:
        commands["baseline_wrapped"] = [*commands["baseline"][:-1], str(scratch / f"wrapped-{n}"), "--wrap"]
    # A first synth of each, untimed: it checks like with like, writes our modules' bytecode and warms the file cache
    # for both alike.
    for side in ("baseline", "ours"):
        subprocess.run(commands[side], cwd=ROOT, check=True, env=child_env())
    ours_stats, baseline_stats = template_stats(ours_out), template_stats(baseline_out)
    differences = same_resources(ours_stats, baseline_stats)
    if differences:
        raise SystemExit(f"N={n}: the baseline does not build what ours builds:\n  " + "\n  ".join(differences))
    samples: dict[str, list[dict[str, float]]] = {side: [] for side in commands}
    for run in range(runs):
        order = ["baseline", "ours"] if run % 2 == 0 else ["ours", "baseline"]
        if wrap:
            order.insert(run % 3, "baseline_wrapped")
        if run < nag_runs:
            order.insert(run % 3, "ours_nag")
        for side in order:
            samples[side].append(measure(commands[side]))
        print(
            f"N={n} run {run + 1}/{runs}: "
            + ", ".join(f"{side} {samples[side][-1]['wall_s']:.1f}s" for side in order)
            + f" (load {os.getloadavg()[0]:.1f})",
            flush=True,
        )
    result: dict[str, Any] = {
        "n_apis": n,
        "samples": {
            side: {metric: [round(s[metric], 3) for s in side_samples] for metric in ("wall_s", "cpu_s", "peak_mib")}
            for side, side_samples in samples.items()
        },
    }
    derive(result)
    result["templates"] = {
        name: {k: v for k, v in s.items() if k not in ("types", "properties")} for name, s in ours_stats.items()
    }
    result["resources"] = sum(s["resources"] for s in ours_stats.values())
    result["baseline_resources"] = sum(s["resources"] for s in baseline_stats.values())
    result["limits_exceeded"] = within_limits(ours_stats)
    return result


def derive(result: dict[str, Any]) -> None:
    """Medians, ranges, ratios and cdk-nag's cost from ``result["samples"]``."""
    samples = result["samples"]
    for side, side_samples in samples.items():
        for metric, values in side_samples.items():
            if values:  # --nag-runs 0 leaves cdk-nag's side empty
                result[f"{side}_{metric}"] = summary(values)
    for metric in ("wall_s", "cpu_s", "peak_mib"):
        result[f"ratio_{metric}"] = round(
            result[f"ours_{metric}"]["median"] / result[f"baseline_{metric}"]["median"], 3
        )
        # Ours and the baseline of one round ran seconds apart, so their ratio cancels most of the machine's drift.
        paired = [o / b for o, b in zip(samples["ours"][metric], samples["baseline"][metric], strict=True)]
        result[f"paired_ratio_{metric}"] = round(statistics.median(paired), 3)
        quartiles = statistics.quantiles(paired, n=4)
        result[f"paired_ratio_{metric}_quartiles"] = [round(quartiles[0], 3), round(quartiles[2], 3)]
    if "baseline_wrapped" in samples:
        for metric in ("wall_s", "cpu_s"):
            wrapped = result[f"baseline_wrapped_{metric}"]["median"] / result[f"baseline_{metric}"]["median"]
            result[f"ratio_wrapped_{metric}"] = round(wrapped, 3)
    for metric in ("wall_s", "cpu_s"):
        # cdk-nag ran in the first rounds only: compare it with ours of the same rounds.
        nag = samples.get("ours_nag", {}).get(metric, [])
        added = [with_nag - without for with_nag, without in zip(nag, samples["ours"][metric][: len(nag)], strict=True)]
        # --nag-runs 0 measures no cdk-nag rounds: nothing to report, rather than a median of nothing.
        result[f"nag_adds_{metric}"] = round(statistics.median(added), 2) if added else None


def write_results(results: dict[str, Any]) -> None:
    (BENCH / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    (BENCH / "RESULTS.md").write_text(render_markdown(results))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7, help="runs per side at 1,000 APIs and more")
    parser.add_argument("--small-runs", type=int, default=15, help="runs per side below 1,000 APIs")
    parser.add_argument("--nag-runs", type=int, default=3)
    parser.add_argument("--sizes", default="1,10,100,1000")
    parser.add_argument("--wrap-sizes", default="1000")
    parser.add_argument("--import-runs", type=int, default=21, help="pairs of import + load runs (0: not measured)")
    parser.add_argument(
        "--render", action="store_true", help="recompute the summaries of bench/results.json's samples, run nothing"
    )
    args = parser.parse_args()
    if args.render:
        results = json.loads((BENCH / "results.json").read_text())
        for run in results["runs"]:
            derive(run)
        results["slopes"] = slopes_of(results["runs"])
        write_results(results)
        return
    sizes = [int(n) for n in args.sizes.split(",")]
    wrap_sizes = {int(n) for n in args.wrap_sizes.split(",") if n}
    started = time.perf_counter()
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="inferentia-bench-") as scratch_dir:
        runs = [
            bench_size(
                n, Path(scratch_dir), args.runs if n >= MANY_APIS else args.small_runs, args.nag_runs, n in wrap_sizes
            )
            for n in sizes
        ]
    core_s = min(core_validate_seconds(10_000) for _ in range(5))
    import_load = import_load_ms(args.import_runs) if args.import_runs else None
    results = {
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, {platform.python_implementation()} "
        f"{platform.python_version()}, {platform.system()} {platform.release()}",
        "load_average_at_start_and_end": [round(load_before[0], 1), round(os.getloadavg()[0], 1)],
        "bench_minutes": round((time.perf_counter() - started) / 60, 1),
        "runs_per_point": args.runs,
        "runs_per_point_below_1000": args.small_runs,
        "nag_runs_per_point": args.nag_runs,
        "targets": {
            "time_ratio": TARGET_TIME_RATIO,
            "memory_ratio": TARGET_MEMORY_RATIO,
            "core_validate_10k_s": TARGET_CORE_SECONDS,
            "import_load_s": TARGET_IMPORT_LOAD_SECONDS,
        },
        "runs": runs,
        "slopes": slopes_of(runs),
        "core_validate_10k_s": round(core_s, 3),
        "import_load": import_load,
    }
    write_results(results)
    print((BENCH / "RESULTS.md").read_text())


def slopes_of(runs: list[dict[str, Any]]) -> dict[str, float]:
    slopes = {}
    for side in ("baseline", "ours"):
        for metric in ("wall_s", "cpu_s"):
            points = [(r["n_apis"], r[f"{side}_{metric}"]["median"]) for r in runs]
            slopes[f"{side}_{metric}_per_api_ms"] = round(1000 * slope(points), 2)
    return slopes


def _quartiles(run: dict[str, Any], metric: str) -> str:
    low, high = run[f"paired_ratio_{metric}_quartiles"]
    return f"{low:.3f}-{high:.3f}"


def _range(s: dict[str, float], digits: int = 2) -> str:
    return f"{s['median']:.{digits}f} ({s['min']:.{digits}f}-{s['max']:.{digits}f})"


def results_table(results: dict[str, Any]) -> list[str]:
    """The table the README's Benchmark section shows."""
    lines = [
        "| APIs | baseline wall s | ours wall s | wall ratio | baseline CPU s | ours CPU s | CPU ratio "
        "| peak MiB, baseline / ours | memory ratio | cdk-nag adds s, wall / CPU |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results["runs"]:
        nag = "not measured" if r["nag_adds_wall_s"] is None else f"{r['nag_adds_wall_s']} / {r['nag_adds_cpu_s']}"
        lines.append(
            f"| {r['n_apis']} | {_range(r['baseline_wall_s'])} | {_range(r['ours_wall_s'])} "
            f"| {r['ratio_wall_s']:.3f} ({r['paired_ratio_wall_s']:.3f}) "
            f"| {_range(r['baseline_cpu_s'])} | {_range(r['ours_cpu_s'])} "
            f"| {r['ratio_cpu_s']:.3f} ({r['paired_ratio_cpu_s']:.3f}) "
            f"| {r['baseline_peak_mib']['median']:.0f} / {r['ours_peak_mib']['median']:.0f} "
            f"| {r['ratio_peak_mib']:.3f} | {nag} |"
        )
    return lines


def import_load_lines(results: dict[str, Any]) -> list[str]:
    measured = results.get("import_load")
    if not measured:
        return ["Import and load: not measured in this run.", ""]
    ours, floor = measured["ours_ms"], measured["floor_ms"]
    return [
        f"Import and load, median (min-max) of {measured['pairs']} fresh processes each, alternating: ours "
        f"(`import inferentia_cdk` and the bundled config) {_range(ours, 1)} ms; the floor (PyYAML and pydantic "
        f"loading a one-field model) {_range(floor, 1)} ms; ours adds {measured['ours_over_floor_ms']} ms to the "
        f"floor (target for ours: {1000 * results['targets'].get('import_load_s', TARGET_IMPORT_LOAD_SECONDS):.0f} "
        "ms).",
        "",
    ]


def render_markdown(results: dict[str, Any]) -> str:
    slopes = results["slopes"]
    lines = [
        "# Synth benchmark",
        "",
        f"Machine: {results['machine']}; load average {results['load_average_at_start_and_end'][0]} at the start and "
        f"{results['load_average_at_start_and_end'][1]} at the end (the machine is shared). The run took "
        f"{results['bench_minutes']} minutes.",
        "",
        f"Median (min-max) of {results['runs_per_point_below_1000']} runs per point "
        f"below 1,000 APIs and {results['runs_per_point']} at 1,000, each a separate process, baseline and ours "
        "alternating; cdk-nag off on both sides, its cost measured on ours apart "
        f"({results['nag_runs_per_point']} runs, each against ours of the same round). CPU is user + system time "
        "of Python and the jsii Node process; "
        "peak is the resident memory of both at once. A ratio is ours over the baseline: of the medians, and in "
        "brackets the median of the ratios within each round (the two ran seconds apart). The baseline "
        "(bench/baseline_app.py) builds the same resource types and counts in every template and the same per-API "
        "resources (manifests, dashboards) property for property, checked before each size is timed.",
        "",
        *results_table(results),
        "",
        "Spread of the per-round ratio (first and third quartile), wall / CPU: "
        + "; ".join(
            f"N={r['n_apis']} {_quartiles(r, 'wall_s')} / {_quartiles(r, 'cpu_s')}"
            for r in results["runs"]
            if "paired_ratio_wall_s_quartiles" in r
        )
        + ".",
        "",
        f"Time per extra API (least-squares slope over the sizes): baseline {slopes['baseline_wall_s_per_api_ms']} ms "
        f"wall / {slopes['baseline_cpu_s_per_api_ms']} ms CPU, ours {slopes['ours_wall_s_per_api_ms']} ms wall / "
        f"{slopes['ours_cpu_s_per_api_ms']} ms CPU.",
        "",
        f"Pure core, validate and size 10,000 API specs: {results['core_validate_10k_s']} s (best of 5; target "
        f"{results['targets']['core_validate_10k_s']} s).",
        "",
        *import_load_lines(results),
        "## Templates of ours",
        "",
        "Limits per template: "
        f"{TEMPLATE_BYTES_LIMIT:,} bytes, {RESOURCES_LIMIT} resources, {OUTPUTS_LIMIT} outputs, "
        f"{PARAMETERS_LIMIT} parameters.",
        "",
        "| APIs | templates | resources (ours / baseline) | largest template: bytes | most resources | "
        "most outputs | over a limit |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in results["runs"]:
        templates = r["templates"].values()
        lines.append(
            f"| {r['n_apis']} | {len(r['templates'])} | {r['resources']} / {r['baseline_resources']} "
            f"| {max(t['bytes'] for t in templates):,} | {max(t['resources'] for t in templates)} "
            f"| {max(t['outputs'] for t in templates)} | {', '.join(r['limits_exceeded']) or 'none'} |"
        )
    for r in results["runs"]:
        if "ratio_wrapped_cpu_s" in r:
            lines += [
                "",
                f"At {r['n_apis']} APIs the baseline with a plain Construct around each API's manifest and each "
                "dashboard (as InferentiaApi and ApiMonitoring held them before they became the manifest and the "
                f"dashboard themselves) took {_range(r['baseline_wrapped_wall_s'])} s wall and "
                f"{_range(r['baseline_wrapped_cpu_s'])} s CPU: {r['ratio_wrapped_wall_s']:.3f} and "
                f"{r['ratio_wrapped_cpu_s']:.3f} of the plain baseline.",
            ]
    largest = results["runs"][-1]
    lines += [
        "",
        f"Every template at {largest['n_apis']} APIs:",
        "",
        "| template | bytes | resources | outputs | parameters |",
        "|---|---|---|---|---|",
    ]
    for name, t in largest["templates"].items():
        lines.append(f"| {name} | {t['bytes']:,} | {t['resources']} | {t['outputs']} | {t['parameters']} |")
    lines.append("")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
