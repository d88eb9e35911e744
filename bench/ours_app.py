"""Our app for the benchmark: the stacks of a config file. Usage: python bench/ours_app.py CONFIG OUTDIR [--nag]"""

from __future__ import annotations

import sys

import aws_cdk as cdk

from inferentia_cdk.stacks.app import build_app_from_context


def main() -> None:
    config_path, outdir = sys.argv[1], sys.argv[2]
    # The entry point app.py runs for `cdk synth`: the config from context, loaded and checked once.
    context = {"config": config_path, "nag": "true" if "--nag" in sys.argv else "false"}
    app, _, _ = build_app_from_context(cdk.App(outdir=outdir, context=context))
    app.synth()


if __name__ == "__main__":
    main()
