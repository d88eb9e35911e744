#!/usr/bin/env python3
"""CDK entry point: builds the stacks of the config file named by context ``config``."""

import sys

import aws_cdk as cdk

from inferentia_cdk.spec.problems import ConfigError


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
