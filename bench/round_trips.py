"""Counts the jsii round trips of our app and of the baseline for one benchmark size, until ``app.synth()`` starts.

Every constructor call (create), property read (get, static get), property write (set) and method call (invoke,
static invoke) on an aws-cdk-lib object is one round trip from Python to the jsii Node process; the counts do not
depend on the machine's load, unlike the benchmark's times. Each side runs in a process of its own, as in the benchmark.

Usage: python bench/round_trips.py [--sizes 100,1000] [--top 0]
  ``--top N`` also prints, per side, the N calling lines of our code (or the baseline's) with the most round trips.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path

import yaml

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
KINDS = ("create", "get", "set", "invoke", "sinvoke", "sget", "sset")


def _count_in_this_process(side: str, config_path: str, workload_path: str, outdir: str, top: int) -> None:
    """Runs one side's app with the jsii kernel's calls counted, stops before synth, prints the counts as JSON."""
    import traceback

    import jsii

    counts: Counter[str] = Counter()
    callers: Counter[str] = Counter()
    ours = (str(ROOT / "inferentia_cdk"), str(BENCH / "baseline_app.py"))

    def counted(kind: str, method):  # type: ignore[no-untyped-def]
        def wrapper(*args, **kwargs):  # type: ignore[no-untyped-def]
            counts[kind] += 1
            if top:
                for frame in reversed(traceback.extract_stack(limit=40)[:-1]):
                    if frame.filename.startswith(ours):
                        callers[f"{kind} {Path(frame.filename).name}:{frame.lineno} {frame.name}"] += 1
                        break
            return method(*args, **kwargs)

        return wrapper

    # aws-cdk-lib's generated classes call these module functions (jsii.create, jsii.get, ...) at call time.
    for kind in KINDS:
        setattr(jsii, kind, counted(kind, getattr(jsii, kind)))
    import aws_cdk as cdk

    # The apps call app.synth() last; counting stops there, as bench/PROFILE.md's counts do.
    cdk.App.synth = lambda self, *a, **k: None  # type: ignore[method-assign]
    if side == "ours":
        from inferentia_cdk.stacks.app import build_app_from_context

        build_app_from_context(cdk.App(outdir=outdir, context={"config": config_path, "nag": "false"}))
    else:
        sys.argv = ["baseline_app.py", workload_path, outdir]
        sys.path.insert(0, str(BENCH))
        import baseline_app

        baseline_app.main()
    print(json.dumps({"counts": dict(counts), "callers": dict(callers.most_common(top))}))


def count(side: str, config_path: Path, workload_path: Path, outdir: Path, top: int) -> dict:
    command = [sys.executable, __file__, "--child", side, str(config_path), str(workload_path), str(outdir)]
    output = subprocess.run(
        [*command, "--top", str(top)], cwd=ROOT, check=True, capture_output=True, text=True, env=_env()
    ).stdout
    result: dict = json.loads(output.strip().splitlines()[-1])
    return result


def _env() -> dict[str, str]:
    import os

    # The pinned Node of package.json, as the Makefile and the tests use (jsii warns on every start with an older one).
    node = ROOT / "node_modules" / "node" / "bin" / "node"
    pinned = {"JSII_NODE": str(node)} if node.exists() else {}
    return {**os.environ, **pinned, "PYTHONPATH": str(ROOT)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100,1000")
    parser.add_argument("--top", type=int, default=0)
    parser.add_argument("--child", nargs=4, metavar=("SIDE", "CONFIG", "WORKLOAD", "OUTDIR"))
    args = parser.parse_args()
    if args.child:
        side, config_path, workload_path, outdir = args.child
        _count_in_this_process(side, config_path, workload_path, outdir, args.top)
        return
    sys.path.insert(0, str(ROOT))
    from bench.synth_bench import generated_config

    rows = []
    with tempfile.TemporaryDirectory(prefix="inferentia-round-trips-") as scratch_dir:
        scratch = Path(scratch_dir)
        for n in (int(size) for size in args.sizes.split(",")):
            config_path, workload_path = scratch / f"config-{n}.yaml", scratch / f"workload-{n}.json"
            config_path.write_text(yaml.safe_dump(generated_config(n)))
            subprocess.run(
                [sys.executable, str(BENCH / "workload.py"), str(config_path), str(workload_path)],
                cwd=ROOT,
                check=True,
                env=_env(),
            )
            for side in ("baseline", "ours"):
                result = count(side, config_path, workload_path, scratch / f"{side}-{n}", args.top)
                rows.append((n, side, result["counts"]))
                for caller, calls in result["callers"].items():
                    print(f"  N={n} {side}: {calls:6d} {caller}")
    print("| APIs | side | " + " | ".join(KINDS) + " | total |")
    print("|---|---|" + "---|" * (len(KINDS) + 1))
    for n, side, counts in rows:
        cells = [str(counts.get(kind, 0)) for kind in KINDS]
        print(f"| {n} | {side} | " + " | ".join(cells) + f" | {sum(counts.values())} |")


if __name__ == "__main__":
    main()
