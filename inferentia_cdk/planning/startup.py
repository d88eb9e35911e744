"""How long a new replica may take to start serving: the startup probe's budget, which scale-up must outpace.

One number per API, computed here and used by the probe, the HorizontalPodAutoscaler's behaviour and ``plan``.
"""

from __future__ import annotations

import math
from typing import Final

from ..config.models import STARTUP_TIMEOUT_MAX, ApiSpec

DEFAULT_STARTUP_SECONDS: Final = 600
"""Ten minutes: the budget of an API that names none (a model of a few GiB loads onto its cores well within it)."""
STARTUP_PROBE_PERIOD_SECONDS: Final = 10
"""The startup probe asks every 10 s; its failure threshold is the budget divided by this, rounded up."""


ENGINE_LOAD_SECONDS_PER_GIB: Final = 30
"""Reading weights through Mountpoint and placing them on the NeuronCores: ~35 MiB/s end to end, a floor well under
what one S3 prefix serves an instance, so a node with a slow network link still makes it."""
ENGINE_COMPILE_SECONDS_PER_GIB: Final = 60
"""Compiling at start when no ``compiled_uri`` is given: NxD Inference's vLLM guide puts a ~15 GB model at ~15 minutes
(aws-neuron-sdk, "vLLM User Guide for NxD Inference", seen 2026-12-04)."""


def engine_startup_seconds(size_gib: float, *, compiled: bool) -> int:
    """An engine's budget: the default (image pull, runtime and server start) + 30 s per GiB of weights + 60 s per
    GiB more when it compiles at start, at most ``STARTUP_TIMEOUT_MAX``."""
    per_gib = ENGINE_LOAD_SECONDS_PER_GIB + (0 if compiled else ENGINE_COMPILE_SECONDS_PER_GIB)
    return min(STARTUP_TIMEOUT_MAX, DEFAULT_STARTUP_SECONDS + math.ceil(size_gib * per_gib))


def startup_budget_seconds(api: ApiSpec) -> int:
    """The longest a new replica of ``api`` may take before it serves: ``startup_timeout_seconds``; else for an engine
    API a budget from its model's size (:func:`engine_startup_seconds`); else the default."""
    if api.startup_timeout_seconds is not None:
        return api.startup_timeout_seconds
    if api.model is not None:
        return engine_startup_seconds(api.model.size_gib, compiled=api.model.compiled_uri is not None)
    return DEFAULT_STARTUP_SECONDS


def startup_probe_failure_threshold(api: ApiSpec) -> int:
    """Failures of the startup probe before the kubelet restarts the container: the budget in probe periods."""
    return -(-startup_budget_seconds(api) // STARTUP_PROBE_PERIOD_SECONDS)
