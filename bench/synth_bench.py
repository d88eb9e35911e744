"""Synth benchmark: our app against the same cluster written by hand in plain aws-cdk-lib.

For N = 1, 10 and 100 APIs, each app is synthesized in a process of its own, several times, alternating between
baseline and ours so that drift in the machine's speed hits both alike. cdk-nag is off on both sides for the ratio;
what it adds to our synth is measured separately. Peak memory is the largest resident set of the whole process tree
(Python plus the jsii Node process), sampled every 20 ms from /proc.

Writes bench/results.json and bench/RESULTS.md. Usage: python bench/synth_bench.py [--runs 7] [--sizes 1,10,100]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
sys.path.insert(0, str(ROOT))

CLOUDFORMATION_TEMPLATE_LIMIT_BYTES = 1_000_000
CLOUDFORMATION_RESOURCE_LIMIT = 500


def generated_config(n_apis: int) -> dict[str, Any]:
    return {
        "cluster": {"name": "bench"},
        "node_groups": [{"name": "inf1", "instance_types": ["inf1.xlarge"], "min_size": 0, "max_size": 4}],
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


def measure(command: list[str]) -> tuple[float, float]:
    """Wall seconds and peak resident MiB of ``command``'s process tree."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    start = time.perf_counter()
    process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    peak, samples, pids = 0, 0, [process.pid]
    while process.poll() is None:
        # Walking all of /proc costs CPU that the measured process competes for on a small machine, so the tree is
        # re-read every 10th sample (the jsii Node process starts once, early) and only its members are sampled.
        if samples % 10 == 0:
            pids = _descendants(process.pid)
        peak = max(peak, _rss_kib(pids))
        samples += 1
        time.sleep(0.02)
    elapsed = time.perf_counter() - start
    if process.returncode != 0:
        stderr = process.stderr.read().decode() if process.stderr else ""
        raise SystemExit(f"{' '.join(command)} failed ({process.returncode}):\n{stderr[-3000:]}")
    return elapsed, peak / 1024


def template_stats(outdir: Path) -> dict[str, Any]:
    stats: dict[str, Any] = {"templates": {}}
    for path in sorted(outdir.glob("*.template.json")):
        resources = json.loads(path.read_text()).get("Resources", {})
        stats["templates"][path.name.removesuffix(".template.json")] = {
            "bytes": path.stat().st_size,
            "resources": len(resources),
            "custom_resources": sum(1 for r in resources.values() if r["Type"].startswith("Custom::")),
        }
    return stats


def core_validate_seconds(n_specs: int) -> float:
    """Pure core: validate a config of ``n_specs`` APIs (pydantic + every rule) and size each replica."""
    from inferentia_cdk.core.loader import parse_config
    from inferentia_cdk.core.sizing import size_replica

    data = generated_config(n_specs)
    start = time.perf_counter()
    config, problems = parse_config(data)
    assert config is not None and not [p for p in problems if p.severity == "error"], problems[:3]
    for api in config.apis:
        size_replica("inf1", api.compute.inf, api.processes_per_replica)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--sizes", default="1,10,100")
    args = parser.parse_args()
    sizes = [int(n) for n in args.sizes.split(",")]
    python = sys.executable
    runs: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="inferentia-bench-") as scratch_dir:
        scratch = Path(scratch_dir)
        for n in sizes:
            config_path = scratch / f"config-{n}.yaml"
            config_path.write_text(yaml.safe_dump(generated_config(n)))
            ours: list[tuple[float, float]] = []
            baseline: list[tuple[float, float]] = []
            ours_out, baseline_out = scratch / f"ours-{n}", scratch / f"baseline-{n}"
            for run in range(args.runs):
                pair = [
                    (baseline, [python, str(BENCH / "baseline_app.py"), str(n), str(baseline_out)]),
                    (ours, [python, str(BENCH / "ours_app.py"), str(config_path), str(ours_out)]),
                ]
                for sink, command in pair if run % 2 == 0 else reversed(pair):
                    sink.append(measure(command))
                print(f"N={n} run {run + 1}: baseline {baseline[-1][0]:.1f}s, ours {ours[-1][0]:.1f}s", flush=True)
            nag_s, _ = measure([python, str(BENCH / "ours_app.py"), str(config_path), str(scratch / "nag"), "--nag"])
            stats, base_stats = template_stats(ours_out), template_stats(baseline_out)
            apis = stats["templates"]["InferentiaApis"]
            ours_s = statistics.median(t for t, _ in ours)
            baseline_s = statistics.median(t for t, _ in baseline)
            runs.append(
                {
                    "n_apis": n,
                    "ours_s": round(ours_s, 2),
                    "baseline_s": round(baseline_s, 2),
                    "ratio": round(ours_s / baseline_s, 3),
                    "ours_peak_mb": round(max(m for _, m in ours), 1),
                    "baseline_peak_mb": round(max(m for _, m in baseline), 1),
                    "resources": sum(t["resources"] for t in stats["templates"].values()),
                    "baseline_resources": sum(t["resources"] for t in base_stats["templates"].values()),
                    "apis_stack_resources": apis["resources"],
                    "custom_resources_per_api": round(apis["custom_resources"] / n, 2),
                    "template_bytes": max(t["bytes"] for t in stats["templates"].values()),
                    "templates": stats["templates"],
                    "ours_with_nag_s": round(nag_s, 2),
                    "nag_adds_s": round(nag_s - ours_s, 2),
                }
            )
    core_s = min(core_validate_seconds(10_000) for _ in range(3))
    results = {
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, {platform.python_implementation()} "
        f"{platform.python_version()}, {platform.system()} {platform.release()}",
        "runs_per_point": args.runs,
        "runs": runs,
        "core_validate_10k_s": round(core_s, 3),
    }
    (BENCH / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    (BENCH / "RESULTS.md").write_text(render_markdown(results))
    print((BENCH / "RESULTS.md").read_text())


def render_markdown(results: dict[str, Any]) -> str:
    lines = [
        "# Synth benchmark",
        "",
        f"Machine: {results['machine']}. Median of {results['runs_per_point']} runs per point, each a separate",
        "process, baseline and ours alternating; cdk-nag off on both sides (its cost is the last column).",
        "",
        "| APIs | ours s | baseline s | ratio | ours peak MiB | baseline peak MiB | resources (ours / baseline) "
        "| custom resources per API | largest template bytes | cdk-nag adds s |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results["runs"]:
        lines.append(
            f"| {r['n_apis']} | {r['ours_s']} | {r['baseline_s']} | {r['ratio']} | {r['ours_peak_mb']} "
            f"| {r['baseline_peak_mb']} | {r['resources']} / {r['baseline_resources']} "
            f"| {r['custom_resources_per_api']} | {r['template_bytes']} | {r['nag_adds_s']} |"
        )
    lines += [
        "",
        f"Pure core, validate and size 10,000 API specs: {results['core_validate_10k_s']} s.",
        "",
        "Targets: ratio <= 1.10 at every N; one custom resource per API; core under 1 s; every template under",
        f"the CloudFormation limits of {CLOUDFORMATION_TEMPLATE_LIMIT_BYTES:,} bytes",
        f"and {CLOUDFORMATION_RESOURCE_LIMIT} resources.",
        "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
