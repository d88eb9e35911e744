"""``python -m inferentia_cdk``: the same command as the ``inferentia-cdk`` console script."""

import sys

from .cli.main import main

sys.exit(main())
