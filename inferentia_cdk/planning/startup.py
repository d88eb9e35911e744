"""How long a new replica may take to start serving: the startup probe's budget, which scale-up must outpace.

One number per API, computed here and used by the probe, the HorizontalPodAutoscaler's behaviour and ``plan``.
"""

from __future__ import annotations

from typing import Final

from ..config.models import ApiSpec

DEFAULT_STARTUP_SECONDS: Final = 600
"""Ten minutes: the budget of an API that names none (a model of a few GiB loads onto its cores well within it)."""
STARTUP_PROBE_PERIOD_SECONDS: Final = 10
"""The startup probe asks every 10 s; its failure threshold is the budget divided by this, rounded up."""


def startup_budget_seconds(api: ApiSpec) -> int:
    """The longest a new replica of ``api`` may take before it serves: ``startup_timeout_seconds``, or the default."""
    if api.startup_timeout_seconds is not None:
        return api.startup_timeout_seconds
    return DEFAULT_STARTUP_SECONDS


def startup_probe_failure_threshold(api: ApiSpec) -> int:
    """Failures of the startup probe before the kubelet restarts the container: the budget in probe periods."""
    return -(-startup_budget_seconds(api) // STARTUP_PROBE_PERIOD_SECONDS)
