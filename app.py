#!/usr/bin/env python3
"""CDK entry point: builds the stacks of the config file named by context ``config``."""

import os
import sys
from pathlib import Path

# jsii starts Node at the first aws_cdk import and warns on Node 20 (end-of-life): use the pinned Node 22 from
# package.json when nobody chose one, so a bare `npx cdk synth|diff|deploy` behaves like `make synth`.
_PINNED_NODE = Path(__file__).resolve().parent / "node_modules" / "node" / "bin" / "node"
if "JSII_NODE" not in os.environ and _PINNED_NODE.exists():
    os.environ["JSII_NODE"] = str(_PINNED_NODE)

import aws_cdk as cdk  # noqa: E402

from inferentia_cdk.config.problems import ConfigError  # noqa: E402


def main() -> None:
    app = cdk.App()
    try:
        from inferentia_cdk.stacks.app import build_app_from_context

        # Warnings reach the user as annotations of the constructs they concern, which CDK prints after synth.
        build_app_from_context(app)
    except ConfigError as error:
        print(error.render(), file=sys.stderr)
        sys.exit(1)
    app.synth()


if __name__ == "__main__":
    main()
