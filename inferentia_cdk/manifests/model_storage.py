"""The Kubernetes side of an LLM API's weights: a read-only S3 volume per folder (Mountpoint for Amazon S3 CSI driver
v2, static provisioning), its claim in the API's namespace, the ServiceAccount whose EKS Pod Identity reads them, and
the vLLM container's command.

Mountpoint mounts with the pod's own credentials (``authenticationSource: pod``), so the API's identity, which may
read only its prefixes, is the one S3 sees; a disk-backed emptyDir of the Mountpoint Pod caches what was read, so a
container restart on the same node does not read the whole model from S3 again. Pure: no CDK import.
"""

from __future__ import annotations

import math
from typing import Any, Final

from ..catalog import NeuronFamily
from ..config.models import ApiSpec, split_s3_uri
from ..planning.llm import (
    COMPILE_CACHE_PATH,
    COMPILED_MOUNT_PATH,
    ENV_NEURON_COMPILED_ARTIFACTS,
    ENV_REMOTE_CACHE,
    ENV_VLLM_CACHE_ROOT,
    ENV_VLLM_NEURON_FRAMEWORK,
    MODEL_MOUNT_PATH,
    PLUGIN_FAMILIES,
)

Manifest = dict[str, Any]

CSI_DRIVER: Final = "s3.csi.aws.com"
MODEL_VOLUME: Final = "model"
COMPILED_VOLUME: Final = "compiled"
COMPILE_CACHE_VOLUME: Final = "compile-cache"
NXD_INFERENCE_FRAMEWORK: Final = "neuronx-distributed-inference"
VLLM_COMMAND: Final = ("vllm", "serve")
# Mountpoint options (mountpoint-s3 CONFIGURATION.md): never write, only the API's folder, metadata cached for good
# (the weights do not change under a running engine; a new model is a new folder and a new deploy).
READ_ONLY_OPTIONS: Final = ("read-only", "metadata-ttl indefinite")


def persistent_volume_name(spec: ApiSpec, volume: str) -> str:
    """Cluster-wide name (and CSI volume handle, which must be unique) of one of the API's S3 volumes."""
    return f"inferentia-cdk-{spec.name}-{volume}"


def _volumes_of(spec: ApiSpec) -> list[tuple[str, str, str]]:
    """(volume, uri, mount path) of each S3 folder of the API: the weights, then the compiled artifacts if any."""
    model = spec.model
    if model is None:
        return []
    found = [(MODEL_VOLUME, model.uri, MODEL_MOUNT_PATH)]
    if model.compiled_uri is not None:
        found.append((COMPILED_VOLUME, model.compiled_uri, COMPILED_MOUNT_PATH))
    return found


def cache_size_gib(spec: ApiSpec) -> int:
    """The node-local cache of the weights: the model's size, so a second read of every file hits it."""
    assert spec.model is not None
    return math.ceil(spec.model.size_gib)


def model_storage_objects(spec: ApiSpec, labels: dict[str, str], *, region: str) -> list[Manifest]:
    """The ServiceAccount, and a PersistentVolume and its claim per S3 folder, of an API with a model."""
    if spec.model is None:
        return []
    objects: list[Manifest] = [
        {
            "apiVersion": "v1",
            "kind": "ServiceAccount",
            "metadata": {"name": spec.name, "namespace": spec.name, "labels": labels},
            "automountServiceAccountToken": False,
        }
    ]
    size = f"{cache_size_gib(spec)}Gi"
    for volume, uri, _ in _volumes_of(spec):
        bucket, prefix = split_s3_uri(uri)
        name = persistent_volume_name(spec, volume)
        objects.append(
            {
                "apiVersion": "v1",
                "kind": "PersistentVolume",
                "metadata": {"name": name, "labels": labels},
                "spec": {
                    # Required by Kubernetes, ignored by the driver: S3 has no capacity.
                    "capacity": {"storage": size},
                    "accessModes": ["ReadOnlyMany"],
                    "persistentVolumeReclaimPolicy": "Retain",
                    "storageClassName": "",
                    "claimRef": {"namespace": spec.name, "name": volume},
                    "mountOptions": [*READ_ONLY_OPTIONS, f"prefix {prefix}", f"region {region}"],
                    "csi": {
                        "driver": CSI_DRIVER,
                        "volumeHandle": name,
                        "volumeAttributes": {
                            "bucketName": bucket,
                            "authenticationSource": "pod",
                            "cache": "emptyDir",
                            "cacheEmptyDirSizeLimit": size,
                        },
                    },
                },
            }
        )
        objects.append(
            {
                "apiVersion": "v1",
                "kind": "PersistentVolumeClaim",
                "metadata": {"name": volume, "namespace": spec.name, "labels": labels},
                "spec": {
                    "accessModes": ["ReadOnlyMany"],
                    "storageClassName": "",
                    "volumeName": name,
                    "resources": {"requests": {"storage": size}},
                },
            }
        )
    return objects


def model_volumes(spec: ApiSpec) -> tuple[list[Manifest], list[Manifest]]:
    """The pod's volumes for the API's S3 folders and its writable compile cache, and the container's mounts."""
    volumes: list[Manifest] = []
    mounts: list[Manifest] = []
    for volume, _, path in _volumes_of(spec):
        volumes.append({"name": volume, "persistentVolumeClaim": {"claimName": volume, "readOnly": True}})
        mounts.append({"name": volume, "mountPath": path, "readOnly": True})
    if spec.model is not None:
        # Writable, lost with the pod: where the engine compiles when it has no compiled artifacts (or, on the vLLM
        # Neuron plugin, keeps its local cache tier).
        volumes.append({"name": COMPILE_CACHE_VOLUME, "emptyDir": {}})
        mounts.append({"name": COMPILE_CACHE_VOLUME, "mountPath": COMPILE_CACHE_PATH})
    return volumes, mounts


def engine_env(spec: ApiSpec, family: NeuronFamily) -> list[dict[str, str]]:
    """Where the engine finds (or, without compiled artifacts, writes) its compiled model, per engine track."""
    assert spec.model is not None
    compiled = spec.model.compiled_uri is not None
    if family.name in PLUGIN_FAMILIES:
        # The vLLM Neuron plugin: a local cache it writes, and a read-only remote tier it reads first.
        env = [{"name": ENV_VLLM_CACHE_ROOT, "value": COMPILE_CACHE_PATH}]
        if compiled:
            env.append({"name": ENV_REMOTE_CACHE, "value": COMPILED_MOUNT_PATH})
        return env
    return [
        {"name": ENV_VLLM_NEURON_FRAMEWORK, "value": NXD_INFERENCE_FRAMEWORK},
        {"name": ENV_NEURON_COMPILED_ARTIFACTS, "value": COMPILED_MOUNT_PATH if compiled else COMPILE_CACHE_PATH},
    ]


def engine_command(spec: ApiSpec, degree: int) -> tuple[list[str], list[str]]:
    """``vllm serve`` of the mounted weights, under the API's name, tensor-parallel over ``degree`` NeuronCores."""
    engine = spec.engine
    assert engine is not None
    return list(VLLM_COMMAND), [
        MODEL_MOUNT_PATH,
        "--served-model-name",
        spec.name,
        "--host",
        "0.0.0.0",
        "--port",
        str(spec.port),
        "--tensor-parallel-size",
        str(degree),
        "--max-model-len",
        str(engine.max_model_len),
        "--max-num-seqs",
        str(engine.max_num_seqs),
    ]
