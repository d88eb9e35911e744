"""Our app for the benchmark: the stacks of a config file. Usage: python bench/ours_app.py CONFIG OUTDIR [--nag]"""

from __future__ import annotations

import sys

import aws_cdk as cdk

from inferentia_cdk.planning.loader import load_config
from inferentia_cdk.stacks.app import build_app


def main() -> None:
    config_path, outdir = sys.argv[1], sys.argv[2]
    app, _, _ = build_app(load_config(config_path).config, app=cdk.App(outdir=outdir), nag="--nag" in sys.argv)
    app.synth()


if __name__ == "__main__":
    main()
