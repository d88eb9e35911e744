"""LLM APIs: an engine (vLLM) whose tensor-parallel degree is the replica's NeuronCores, checked at synth.

The degree must split the model's attention heads, and each NeuronCore's share of device memory must hold its slice
of the weights, its slice of the KV cache and what the Neuron runtime keeps for itself. These rules, the engine's image
per family and the plan of each engine API (:class:`LlmPlan`) live here. Pure: no CDK import.

Sources (seen 2026-12-04):
- vLLM refuses a tensor-parallel size that does not divide the attention heads (vLLM ``ModelConfig``'s parallel
  check); with fewer key/value heads than the degree it replicates each KV head over ``degree / kv_heads`` ranks.
- NxD Inference (inf2, trn1) replicates KV heads to the degree when the degree is a multiple of them
  (``GQA.REPLICATE_TO_TP_DEGREE``), and otherwise falls back to ``CONVERT_TO_MHA``: every query head gets its own KV
  head, which multiplies the KV cache (neuronx-distributed-inference, ``modules/attention/gqa.py``).
- The runtime's fixed share: "a micro-code overhead of 96MB per physical Neuron Core" (Neuron docs v2.33.0, "Neuron
  device memory", date-modified 2026-10-15). Scratchpad, DMA rings and collectives come on top, unquantified.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Final

from .. import catalog
from ..catalog import NeuronFamily, versions
from ..config.models import ApiSpec, ModelSpec, NodeGroupSpec, split_s3_uri
from ..config.problems import Path, Problem, rule
from .sizing import replica_needs

ENGINE_PROCESSES = rule("LLM401", "error", "an engine API runs one engine server per replica (processes_per_replica 1)")
ENGINE_FAMILY = rule(
    "LLM402", "error", "an engine API runs on a family with a Neuron vLLM container (inf2, trn1, trn2)"
)
HEADS_SPLIT = rule("LLM403", "error", "the tensor-parallel degree divides the model's attention heads")
KV_HEADS_SPLIT = rule("LLM404", "error", "the degree and the KV heads divide one into the other (vLLM Neuron plugin)")
KV_HEADS_AS_MHA = rule("LLM405", "warning", "NxD Inference replicates KV heads per query head when they do not divide")
DEVICE_MEMORY_FIT = rule("LLM406", "error", "weights, KV cache and runtime reserve fit each NeuronCore's device memory")
KV_CACHE_UNCHECKED = rule("LLM407", "warning", "without the model's shape the KV cache is not checked")
LOW_HEADROOM = rule("LLM408", "warning", "under 10% of each NeuronCore's device memory is left for the runtime's rest")
ENGINE_ENV = rule("LLM409", "error", "env does not set what the engine's container is given")
CACHE_DISK = rule("LLM410", "warning", "the node's disk holds the Mountpoint cache of the weights and the image")

KV_BYTES_PER_VALUE: Final = 2
"""bf16, the dtype both vLLM tracks on Neuron default to for activations and the KV cache."""
RUNTIME_MIB_PER_PHYSICAL_CORE: Final = 96
LOW_HEADROOM_SHARE: Final = 0.10
PLUGIN_FAMILIES: Final = frozenset({"trn2"})
"""Families served by the vLLM Neuron plugin; the others (inf2, trn1) by NxD Inference through vLLM."""
IMAGE_DISK_GIB: Final = 30
"""The Neuron vLLM containers unpack to about 20 GiB; the rest is the OS, logs and the kubelet's margin."""

MODEL_MOUNT_PATH: Final = "/models/weights"
COMPILED_MOUNT_PATH: Final = "/models/compiled"
COMPILE_CACHE_PATH: Final = "/var/tmp/neuron-compiled-artifacts"
"""Where a model without ``compiled_uri`` is compiled at start (a writable emptyDir, lost with the pod)."""
ENV_VLLM_NEURON_FRAMEWORK: Final = "VLLM_NEURON_FRAMEWORK"
ENV_NEURON_COMPILED_ARTIFACTS: Final = "NEURON_COMPILED_ARTIFACTS"
ENV_VLLM_CACHE_ROOT: Final = "VLLM_CACHE_ROOT"
ENV_REMOTE_CACHE: Final = "NEURON_LIBTORCH_REMOTE_CACHE"
ENGINE_ENV_NAMES: Final = frozenset(
    {ENV_VLLM_NEURON_FRAMEWORK, ENV_NEURON_COMPILED_ARTIFACTS, ENV_VLLM_CACHE_ROOT, ENV_REMOTE_CACHE}
)
OPENAI_ROUTES: Final = ("/v1/completions", "/v1/chat/completions", "/v1/models")

GIB: Final = 2**30


def image_of(api: ApiSpec, family: NeuronFamily) -> str:
    """The API's image: as given, else the pinned Neuron vLLM container of ``family`` (engine APIs only)."""
    if api.image is not None:
        return api.image
    image = versions.VLLM_NEURON_IMAGES.get(family.name)
    if image is None:
        raise ValueError(f"no Neuron vLLM container for {family.name}; validate the API first")
    return image


def physical_cores_per_core(family: NeuronFamily) -> int:
    """Physical NeuronCores behind each core the device plugin counts: the family's LNC (2 on trn2 by default)."""
    return family.lnc


def runtime_reserve_gib(family: NeuronFamily) -> float:
    """What the Neuron runtime keeps of each NeuronCore's device memory for its code, before any model."""
    return RUNTIME_MIB_PER_PHYSICAL_CORE * physical_cores_per_core(family) / 1024


def kv_heads_per_core(model: ModelSpec, degree: int, family: NeuronFamily) -> int | None:
    """KV heads each rank holds, or None when the degree and the KV heads fit no sharding of this family's engine."""
    assert model.heads is not None and model.kv_heads is not None
    if model.kv_heads % degree == 0:
        return model.kv_heads // degree
    if degree % model.kv_heads == 0:
        return 1
    if family.name in PLUGIN_FAMILIES:
        return None
    # NxD Inference's CONVERT_TO_MHA: a KV head per (padded) query head.
    return math.ceil(model.heads / degree)


def kv_cache_gib_per_core(api: ApiSpec, degree: int, family: NeuronFamily) -> float | None:
    """2 (K and V) x layers x KV heads per rank x head_dim x bytes x max_model_len x max_num_seqs, in GiB; None
    without the model's shape or when the heads do not shard."""
    model, engine = api.model, api.engine
    assert model is not None and engine is not None
    if not model.has_shape:
        return None
    per_core = kv_heads_per_core(model, degree, family)
    if per_core is None:
        return None
    assert model.layers is not None and model.head_dim is not None
    values = 2 * model.layers * per_core * model.head_dim * engine.max_model_len * engine.max_num_seqs
    return values * KV_BYTES_PER_VALUE / GIB


@dataclass(frozen=True)
class MemoryFit:
    """One NeuronCore's device memory under one tensor-parallel degree."""

    degree: int
    memory_gib: float
    weights_gib: float
    kv_cache_gib: float | None
    reserve_gib: float

    @property
    def used_gib(self) -> float:
        return self.weights_gib + (self.kv_cache_gib or 0.0) + self.reserve_gib

    @property
    def headroom_gib(self) -> float:
        return self.memory_gib - self.used_gib

    @property
    def fits(self) -> bool:
        return self.headroom_gib >= 0


def memory_fit(api: ApiSpec, degree: int, family: NeuronFamily) -> MemoryFit:
    model = api.model
    assert model is not None
    return MemoryFit(
        degree,
        family.device_memory_gib_per_core,
        model.size_gib / degree,
        kv_cache_gib_per_core(api, degree, family),
        runtime_reserve_gib(family),
    )


def heads_split(model: ModelSpec, degree: int, family: NeuronFamily) -> bool:
    """Whether vLLM on ``family`` can shard the model's heads over ``degree`` ranks (True without a shape)."""
    if model.heads is None:
        return True
    return model.heads % degree == 0 and kv_heads_per_core(model, degree, family) is not None


def _max_chips(family: NeuronFamily) -> int:
    return max(t.chips for t in catalog.INSTANCE_TYPES.values() if t.family is family)


def _types_with(family: NeuronFamily, chips: int) -> list[str]:
    return [t.name for t in catalog.INSTANCE_TYPES.values() if t.family is family and t.chips >= chips]


@dataclass(frozen=True)
class Layout:
    """A replica shape that an API's model fits: chips of a family, its degree and the types that hold it."""

    family: NeuronFamily
    inf: int
    instance_types: tuple[str, ...]

    @property
    def degree(self) -> int:
        return self.inf * self.family.cores_per_chip

    def describe(self) -> str:
        return f"inf: {self.inf} (degree {self.degree}) on {self.family.name} ({', '.join(self.instance_types)})"


def layouts(api: ApiSpec, family: NeuronFamily, *, fitting: bool) -> list[Layout]:
    """The chip counts of ``family`` whose degree shards the model's heads (and, with ``fitting``, whose cores hold
    it), fewest chips first."""
    model = api.model
    assert model is not None
    found = []
    for inf in range(1, _max_chips(family) + 1):
        degree = inf * family.cores_per_chip
        if not heads_split(model, degree, family):
            continue
        if fitting and not memory_fit(api, degree, family).fits:
            continue
        found.append(Layout(family, inf, tuple(_types_with(family, inf))))
    return found


def _cheapest_hour(layout: Layout) -> float:
    prices = [catalog.INSTANCE_TYPES[name].price_per_hour_usd for name in layout.instance_types]
    known = [p for p in prices if p is not None]
    return min(known) if known else math.inf


def smallest_fitting_layout(api: ApiSpec, family: NeuronFamily) -> Layout | None:
    """The fewest chips of ``family`` the model fits; else the layout of another family whose smallest instance type
    is the cheapest by the hour; None when nothing in the catalog holds it."""
    own = layouts(api, family, fitting=True)
    if own:
        return own[0]
    others = [
        found[0]
        for name in sorted(versions.VLLM_NEURON_IMAGES)
        if catalog.FAMILIES[name] is not family and (found := layouts(api, catalog.FAMILIES[name], fitting=True))
    ]
    return min(others, key=_cheapest_hour, default=None)


def _gib(value: float) -> str:
    return f"{value:.2f} GiB"


def check_engine(api: ApiSpec, node_group: NodeGroupSpec, family: NeuronFamily, path: Path = ()) -> list[Problem]:
    """Every rule of an engine API on its node group's family (nothing for an API without an engine)."""
    model, engine = api.model, api.engine
    if model is None or engine is None:
        return []
    problems: list[Problem] = []
    if api.processes_per_replica != 1:
        problems.append(
            ENGINE_PROCESSES.problem(
                (*path, "processes_per_replica"),
                f"processes_per_replica is {api.processes_per_replica}, but an engine API runs one vLLM server per "
                "replica, tensor-parallel over all the replica's NeuronCores; set it to 1 (for more model copies, "
                "raise autoscaling.min_replicas, or lower compute.inf)",
            )
        )
    for name in sorted(ENGINE_ENV_NAMES & set(api.env)):
        problems.append(
            ENGINE_ENV.problem(
                (*path, "env", name),
                f"{name} is set from model and engine (the mounted S3 folders); remove it from env, or set "
                "model.compiled_uri",
            )
        )
    if family.name not in versions.VLLM_NEURON_IMAGES:
        valid = ", ".join(sorted(versions.VLLM_NEURON_IMAGES))
        problems.append(
            ENGINE_FAMILY.problem(
                (*path, "node_group"),
                f"node group {node_group.name!r} is {family.name}, which no Neuron vLLM container serves; put the API "
                f"on a node group of {valid}",
            )
        )
        return problems
    if problems:
        return problems
    degree = tensor_parallel_degree(api, family)
    problems += _check_heads(api, model, degree, family, path)
    if errors_in(problems):
        return problems
    problems += _check_memory(api, degree, family, path)
    disk_needed = math.ceil(model.size_gib) + IMAGE_DISK_GIB
    if node_group.disk_size < disk_needed:
        problems.append(
            CACHE_DISK.problem(
                (*path, "model", "size_gib"),
                f"the node's local cache of the weights ({math.ceil(model.size_gib)} GiB) and the vLLM image "
                f"(~{IMAGE_DISK_GIB} GiB) need {disk_needed} GiB of disk, but node group {node_group.name!r} has "
                f"disk_size {node_group.disk_size}; raise its disk_size to {disk_needed} or every restart reads the "
                "whole model from S3 again",
            )
        )
    return problems


def tensor_parallel_degree(api: ApiSpec, family: NeuronFamily) -> int:
    """The engine's tensor-parallel degree: every NeuronCore of the replica (one engine server per replica)."""
    return replica_needs(api.compute, family).neuroncores


def _degree_source(api: ApiSpec, family: NeuronFamily) -> str:
    if api.compute.unit == "neuroncores":
        return f"neuroncores {api.compute.amount}"
    return f"inf {api.compute.amount} x {family.cores_per_chip} NeuronCores"


def errors_in(problems: list[Problem]) -> bool:
    return any(p.severity == "error" for p in problems)


def _working_degrees(api: ApiSpec, family: NeuronFamily) -> str:
    found = layouts(api, family, fitting=False)
    if not found:
        return f"no chip count of {family.name} gives one"
    return "; ".join(layout.describe() for layout in found[:6])


def _check_heads(api: ApiSpec, model: ModelSpec, degree: int, family: NeuronFamily, path: Path) -> list[Problem]:
    if model.heads is None or model.kv_heads is None:
        return []
    at: Path = (*path, "compute", api.compute.field)
    if model.heads % degree:
        return [
            HEADS_SPLIT.problem(
                at,
                f"tensor-parallel degree {degree} ({_degree_source(api, family)}) does "
                f"not divide the model's {model.heads} attention heads, which vLLM refuses; degrees that work: "
                f"{_working_degrees(api, family)}",
            )
        ]
    if model.kv_heads % degree == 0 or degree % model.kv_heads == 0:
        return []
    if family.name in PLUGIN_FAMILIES:
        return [
            KV_HEADS_SPLIT.problem(
                at,
                f"tensor-parallel degree {degree} and the model's {model.kv_heads} KV heads do not divide one into "
                f"the other, so vLLM can neither split nor replicate them; degrees that work: "
                f"{_working_degrees(api, family)}",
            )
        ]
    return [
        KV_HEADS_AS_MHA.problem(
            at,
            f"tensor-parallel degree {degree} and the model's {model.kv_heads} KV heads do not divide one into the "
            f"other: NxD Inference then gives every query head its own KV head ({math.ceil(model.heads / degree)} "
            f"per NeuronCore), which multiplies the KV cache (counted so below); degrees that keep grouped-query "
            f"attention: {_working_degrees(api, family)}",
        )
    ]


def _check_memory(api: ApiSpec, degree: int, family: NeuronFamily, path: Path) -> list[Problem]:
    fit = memory_fit(api, degree, family)
    problems: list[Problem] = []
    kv = "no KV cache counted" if fit.kv_cache_gib is None else f"KV cache {_gib(fit.kv_cache_gib)}"
    usage = (
        f"weights {_gib(fit.weights_gib)} + {kv} + runtime {_gib(fit.reserve_gib)} per NeuronCore against "
        f"{_gib(fit.memory_gib)} there"
    )
    if not fit.fits:
        smallest = smallest_fitting_layout(api, family)
        fix = (
            f"the smallest layout that fits: {smallest.describe()}"
            if smallest is not None
            else "no layout of the catalog holds it: lower engine.max_model_len or engine.max_num_seqs, or quantize"
        )
        problems.append(
            DEVICE_MEMORY_FIT.problem(
                (*path, "compute", "inf"),
                f"the model does not fit degree {degree}: {usage}, {_gib(-fit.headroom_gib)} short (the runtime would "
                f"fail with nrt_tensor_allocate ... Allocation Failure); {fix}",
            )
        )
    elif fit.headroom_gib < LOW_HEADROOM_SHARE * fit.memory_gib:
        problems.append(
            LOW_HEADROOM.problem(
                (*path, "compute", "inf"),
                f"{usage} leaves {_gib(fit.headroom_gib)} for the runtime's scratchpad, DMA rings and collectives, "
                f"under {LOW_HEADROOM_SHARE:.0%}; a larger inf, a shorter max_model_len or fewer max_num_seqs give "
                "room",
            )
        )
    if fit.kv_cache_gib is None and api.model is not None and not api.model.has_shape:
        problems.append(
            KV_CACHE_UNCHECKED.problem(
                (*path, "model"),
                "only the weights are checked against device memory: give model.layers, heads, kv_heads and head_dim "
                "(from the model's config.json) to check the KV cache and the tensor-parallel split too",
            )
        )
    return problems


def s3_grants(model: ModelSpec) -> tuple[str, ...]:
    """What the API's identity may do in S3, one line per grant: list and read its prefixes, nothing else."""
    grants = []
    for uri in (model.uri, model.compiled_uri):
        if uri is None:
            continue
        bucket, prefix = split_s3_uri(uri)
        grants.append(f"s3:ListBucket on {bucket} under {prefix}; s3:GetObject on {bucket}/{prefix}*")
    return tuple(grants)


@dataclass(frozen=True)
class LlmPlan:
    """What ``plan`` shows of one engine API."""

    image: str
    engine_track: str
    degree: int
    memory: MemoryFit
    startup_budget_seconds: int
    s3_grants: tuple[str, ...]

    def as_json(self) -> dict[str, object]:
        memory = self.memory
        return {
            "image": self.image,
            "engine": self.engine_track,
            "tensor_parallel_degree": self.degree,
            "device_memory_gib_per_neuroncore": round(memory.memory_gib, 3),
            "weights_gib_per_neuroncore": round(memory.weights_gib, 3),
            "kv_cache_gib_per_neuroncore": None if memory.kv_cache_gib is None else round(memory.kv_cache_gib, 3),
            "runtime_reserve_gib_per_neuroncore": round(memory.reserve_gib, 3),
            "headroom_gib_per_neuroncore": round(memory.headroom_gib, 3),
            "startup_budget_seconds": self.startup_budget_seconds,
            "s3_grants": list(self.s3_grants),
        }

    def as_text(self) -> list[str]:
        memory = self.memory
        kv = "unchecked (no model shape)" if memory.kv_cache_gib is None else _gib(memory.kv_cache_gib)
        return [
            f"  engine: {self.engine_track}, tensor-parallel degree {self.degree}, image {self.image}",
            f"  per NeuronCore: weights {_gib(memory.weights_gib)} + KV cache {kv} + runtime "
            f"{_gib(memory.reserve_gib)} of {_gib(memory.memory_gib)}, headroom {_gib(memory.headroom_gib)}",
            f"  startup budget {self.startup_budget_seconds} s",
            *(f"  S3: {grant}" for grant in self.s3_grants),
        ]


def engine_track(family: NeuronFamily) -> str:
    if family.name in PLUGIN_FAMILIES:
        return "vLLM Neuron plugin"
    return "vLLM with NxD Inference"


def plan_llm(api: ApiSpec, family: NeuronFamily, startup_seconds: int) -> LlmPlan:
    """The plan of an engine API that validated on ``family``."""
    assert api.model is not None
    degree = tensor_parallel_degree(api, family)
    return LlmPlan(
        image_of(api, family),
        engine_track(family),
        degree,
        memory_fit(api, degree, family),
        startup_seconds,
        s3_grants(api.model),
    )
