"""The Kubernetes objects of one inference API, as plain dicts: Namespace, Deployment, Service,
HorizontalPodAutoscaler, PodDisruptionBudget and NetworkPolicy.

Pure (no CDK import): :class:`inferentia_cdk.constructs.inferentia_api.InferentiaApi` wraps the result in one
``KubernetesManifest``; tests and the benchmark call it directly. Validate the spec first
(:func:`inferentia_cdk.validation.check_api`): rendering assumes ``processes_per_replica`` divides the NeuronCores.
"""

from __future__ import annotations

from typing import Any, Final

from .. import catalog
from ..config.models import ApiSpec, NodeGroupSpec
from ..planning.capacity import group_family
from ..planning.endpoints import PRE_STOP_SLEEP_SECONDS, TERMINATION_GRACE_PERIOD_SECONDS
from ..planning.llm import image_of
from ..planning.packing import memory_mib
from ..planning.scaling import hpa_behavior
from ..planning.serving_env import (
    ENV_HOME,
    ENV_NCG_SIZE,
    ENV_NEURON_LOGICAL_NC_CONFIG,
    ENV_NEURON_RT_NUM_CORES,
    ENV_NEURONCORES,
    ENV_PORT,
    ENV_PROCESSES_PER_REPLICA,
    ENV_THREADS_PER_PROCESS,
)
from ..planning.sizing import ReplicaSizing, size_api
from ..planning.startup import STARTUP_PROBE_PERIOD_SECONDS, startup_budget_seconds, startup_probe_failure_threshold
from .endpoint import READINESS_GATE_LABEL, EndpointTarget, target_group_binding
from .model_storage import engine_command, engine_env, model_storage_objects, model_volumes
from .node_contract import NEURON_RESOURCE, NEURON_TAINT_EFFECT, NEURON_TAINT_KEY, NEURONCORE_RESOURCE, NODE_GROUP_LABEL
from .scheduler import SCHEDULER_NAME

# The node side of the contract (labels, taint, resource and scheduler names) comes from node_contract, which the node
# groups and the device plugin are built from, so the two sides cannot drift apart.
Manifest = dict[str, Any]

RUN_AS_USER: Final = 10001
"""UID and GID of the serving process: non-root and above 10000, so it maps to no user of the host."""
SCRATCH_MOUNT_PATH: Final = "/tmp"
VAR_TMP_MOUNT_PATH: Final = "/var/tmp"
"""Where the Neuron compiler keeps its cache by default (``/var/tmp/neuron-compile-cache``)."""
NAMESPACE_NAME_LABEL: Final = "kubernetes.io/metadata.name"
"""The label the API server sets on every namespace, to its name (Kubernetes 1.22+): how a policy names one."""
HOME_MOUNT_PATH: Final = "/home/inference"
"""``HOME`` of the serving process: UID 10001 has no entry in the image's /etc/passwd, so it would be ``/``."""
SHM_MOUNT_PATH: Final = "/dev/shm"
SHM_SHARE_OF_MEMORY: Final = 2
"""/dev/shm may take up to 1/2 of ``compute.mem``: its pages count against the container's memory limit."""

MANAGED_BY: Final = "inferentia-cdk"
POD_SECURITY_ENFORCE_LABEL: Final = "pod-security.kubernetes.io/enforce"


def family_of_group(node_group: NodeGroupSpec) -> catalog.NeuronFamily:
    """The Neuron family of a validated node group (all its types are of one family), at the group's LNC."""
    return group_family(node_group)


def labels(spec: ApiSpec) -> dict[str, str]:
    """Labels on every object of the API."""
    return {"app.kubernetes.io/name": spec.name, "app.kubernetes.io/managed-by": MANAGED_BY}


def selector_labels(spec: ApiSpec) -> dict[str, str]:
    """The labels that pick the API's pods (a subset of :func:`labels`, fixed for the Deployment's lifetime)."""
    return {"app.kubernetes.io/name": spec.name}


def _metadata(spec: ApiSpec, name: str, *, namespaced: bool = True) -> Manifest:
    metadata: Manifest = {"name": name, "labels": labels(spec)}
    if namespaced:
        metadata["namespace"] = spec.name
    return metadata


def neuron_env(spec: ApiSpec, sizing: ReplicaSizing) -> list[dict[str, str]]:
    """The NCG layout as environment variables, the Neuron runtime's own first.

    On a family with LNC the runtime in the container is told the node's LNC: it reads the variable, not the node's
    configuration file, and counts NEURON_RT_NUM_CORES in logical cores of that LNC.
    """
    ncg_size = str(sizing.ncg_size)
    lnc = [{"name": ENV_NEURON_LOGICAL_NC_CONFIG, "value": str(sizing.family.lnc)}] if sizing.family.has_lnc else []
    return [
        *lnc,
        {"name": ENV_NEURON_RT_NUM_CORES, "value": ncg_size},
        {"name": ENV_NCG_SIZE, "value": ncg_size},
        {"name": ENV_NEURONCORES, "value": str(sizing.neuroncores)},
        {"name": ENV_PROCESSES_PER_REPLICA, "value": str(spec.processes_per_replica)},
        {"name": ENV_THREADS_PER_PROCESS, "value": str(spec.threads_per_process)},
        {"name": ENV_PORT, "value": str(spec.port)},
    ]


def shm_size_limit(spec: ApiSpec) -> str:
    """The most /dev/shm may hold: half the replica's memory, or all of it when ``mem`` is a deploy-time token
    (Kubernetes caps a memory-backed emptyDir at the pod's memory limit either way)."""
    mib = memory_mib(spec.compute.mem)
    return spec.compute.mem if mib is None else f"{int(mib // SHM_SHARE_OF_MEMORY)}Mi"


def _volumes(spec: ApiSpec) -> tuple[list[Manifest], list[Manifest]]:
    """Writable places under the read-only root filesystem: volumes of the pod, and the container's mounts."""
    places = [
        ("scratch", SCRATCH_MOUNT_PATH, {}),
        ("var-tmp", VAR_TMP_MOUNT_PATH, {}),
        ("home", HOME_MOUNT_PATH, {}),
        # Memory-backed: what is written here counts against the container's memory limit, as in any tmpfs.
        ("shm", SHM_MOUNT_PATH, {"medium": "Memory", "sizeLimit": shm_size_limit(spec)}),
    ]
    volumes = [{"name": name, "emptyDir": empty_dir} for name, _, empty_dir in places]
    mounts = [{"name": name, "mountPath": path} for name, path, _ in places]
    return volumes, mounts


def _probe(spec: ApiSpec, **timing: int) -> Manifest:
    return {"httpGet": {"path": spec.health_path, "port": "http"}, **timing}


def _container(spec: ApiSpec, sizing: ReplicaSizing, mounts: list[Manifest]) -> Manifest:
    neuron = NEURON_RESOURCE if spec.compute.unit == "chips" else NEURONCORE_RESOURCE
    resources = {"cpu": spec.compute.cpu, "memory": spec.compute.mem, neuron: str(spec.compute.amount)}
    user_env = [{"name": key, "value": value} for key, value in sorted(spec.env.items())]
    # An API that names its own HOME keeps it: a second HOME entry would silently override one of the two.
    home = [] if ENV_HOME in spec.env else [{"name": ENV_HOME, "value": HOME_MOUNT_PATH}]
    engine: Manifest = {}
    if spec.engine is not None:
        command, args = engine_command(spec, sizing.neuroncores)
        engine = {"command": command, "args": args}
        home += engine_env(spec, sizing.family)
    return {
        "name": "api",
        "image": image_of(spec, sizing.family),
        **engine,
        # Always: a tag that is pushed again is picked up; with a cached image this costs one manifest request.
        "imagePullPolicy": "Always",
        "ports": [{"name": "http", "containerPort": spec.port, "protocol": "TCP"}],
        "env": neuron_env(spec, sizing) + home + user_env,
        "resources": {"requests": dict(resources), "limits": dict(resources)},
        "startupProbe": _probe(
            spec,
            periodSeconds=STARTUP_PROBE_PERIOD_SECONDS,
            failureThreshold=startup_probe_failure_threshold(spec),
        ),
        "readinessProbe": _probe(spec, periodSeconds=10, timeoutSeconds=5, failureThreshold=3),
        "livenessProbe": _probe(spec, periodSeconds=20, timeoutSeconds=5, failureThreshold=3),
        "securityContext": {
            "allowPrivilegeEscalation": False,
            "privileged": False,
            "readOnlyRootFilesystem": True,
            "runAsNonRoot": True,
            "runAsUser": RUN_AS_USER,
            "runAsGroup": RUN_AS_USER,
            "capabilities": {"drop": ["ALL"]},
            "seccompProfile": {"type": "RuntimeDefault"},
        },
        "volumeMounts": mounts,
    }


def namespace(spec: ApiSpec, *, exposed: bool = False) -> Manifest:
    """The API's own namespace, where Pod Security Admission rejects any pod that is not ``restricted`` (ours are)."""
    metadata = _metadata(spec, spec.name, namespaced=False)
    metadata["labels"][POD_SECURITY_ENFORCE_LABEL] = "restricted"
    if exposed:
        metadata["labels"][READINESS_GATE_LABEL] = "enabled"
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": metadata}


def deployment(
    spec: ApiSpec,
    node_group: NodeGroupSpec,
    sizing: ReplicaSizing,
    *,
    scheduler_extension: bool = False,
    exposed: bool = False,
) -> Manifest:
    volumes, mounts = _volumes(spec)
    model, model_mounts = model_volumes(spec)
    volumes += model
    mounts += model_mounts
    pod_spec: Manifest = {
        "automountServiceAccountToken": False,
        "nodeSelector": {NODE_GROUP_LABEL: node_group.name},
        "tolerations": [{"key": NEURON_TAINT_KEY, "operator": "Exists", "effect": NEURON_TAINT_EFFECT}],
        "securityContext": {
            "runAsNonRoot": True,
            "runAsUser": RUN_AS_USER,
            "runAsGroup": RUN_AS_USER,
            "fsGroup": RUN_AS_USER,
            "seccompProfile": {"type": "RuntimeDefault"},
        },
        "containers": [_container(spec, sizing, mounts)],
        "volumes": volumes,
    }
    if exposed:
        # A leaving pod keeps serving until the load balancer has drained it, then gets SIGTERM; the sleep action
        # needs no shell or sleep binary in the image.
        pod_spec["containers"][0]["lifecycle"] = {"preStop": {"sleep": {"seconds": PRE_STOP_SLEEP_SECONDS}}}
        pod_spec["terminationGracePeriodSeconds"] = TERMINATION_GRACE_PERIOD_SECONDS
    if spec.model is not None:
        # Its EKS Pod Identity is the one Mountpoint reads the model with; the token stays unmounted all the same.
        pod_spec["serviceAccountName"] = spec.name
    if scheduler_extension:
        # Only the extender-aware scheduler hands out adjacent chips and cores (EKS's default scheduler cannot call it).
        pod_spec["schedulerName"] = SCHEDULER_NAME
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": _metadata(spec, spec.name),
        # No ``replicas``: the HorizontalPodAutoscaler owns the count, and a value here would reset it on every deploy.
        "spec": {
            "selector": {"matchLabels": selector_labels(spec)},
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}},
            "template": {"metadata": {"labels": labels(spec)}, "spec": pod_spec},
        },
    }


def service(spec: ApiSpec) -> Manifest:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": _metadata(spec, spec.name),
        "spec": {
            "type": "ClusterIP",
            "selector": selector_labels(spec),
            "ports": [{"name": "http", "port": spec.port, "targetPort": "http", "protocol": "TCP"}],
        },
    }


def horizontal_pod_autoscaler(spec: ApiSpec) -> Manifest:
    """The plain HPA of an API that scales on CPU (``autoscaling.metric: cpu``); KEDA owns the HPA otherwise."""
    scaling = spec.autoscaling
    return {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": _metadata(spec, spec.name),
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": spec.name},
            "minReplicas": scaling.min_replicas,
            "maxReplicas": scaling.max_replicas,
            "metrics": [
                {
                    "type": "Resource",
                    "resource": {
                        "name": "cpu",
                        "target": {"type": "Utilization", "averageUtilization": round(scaling.target_value)},
                    },
                }
            ],
            "behavior": hpa_behavior(scaling, startup_budget_seconds(spec)),
        },
    }


def pod_disruption_budget(spec: ApiSpec) -> Manifest:
    # maxUnavailable rather than minAvailable: with one replica, minAvailable 1 would block every node drain (and so
    # Cluster Autoscaler's scale-down and node upgrades) for good.
    return {
        "apiVersion": "policy/v1",
        "kind": "PodDisruptionBudget",
        "metadata": _metadata(spec, spec.name),
        "spec": {"maxUnavailable": 1, "selector": {"matchLabels": selector_labels(spec)}},
    }


def _namespace_peers(names: list[str] | None) -> list[Manifest]:
    """Pods of the named namespaces, or of every namespace of the cluster (``None``)."""
    if names is None:
        return [{"namespaceSelector": {}}]
    return [{"namespaceSelector": {"matchLabels": {NAMESPACE_NAME_LABEL: name}}} for name in names]


def network_policy(spec: ApiSpec, endpoint: EndpointTarget | None = None) -> Manifest:
    """Who may reach the API port (nothing reaches any other): with ``endpoint``, its load balancer's subnets and the
    pods of ``allowed_namespaces``; without, pods of ``allowed_namespaces`` (default: every namespace). Egress stays
    open: images, models and metrics go out. The kubelet's probes come from the pod's own node, which a NetworkPolicy
    never blocks (Kubernetes documentation, Network Policies)."""
    sources: list[Manifest]
    if endpoint is None:
        sources = _namespace_peers(spec.allowed_namespaces)
    elif not endpoint.load_balancer_cidrs:
        sources = []
    else:
        sources = [{"ipBlock": {"cidr": cidr}} for cidr in endpoint.load_balancer_cidrs]
        if spec.allowed_namespaces is not None:
            sources += _namespace_peers(spec.allowed_namespaces)
    rule: Manifest = {"ports": [{"protocol": "TCP", "port": spec.port}]}
    if sources:
        rule["from"] = sources
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": _metadata(spec, spec.name),
        "spec": {
            "podSelector": {"matchLabels": selector_labels(spec)},
            "policyTypes": ["Ingress"],
            "ingress": [rule],
        },
    }


def render_api(
    spec: ApiSpec,
    node_group: NodeGroupSpec,
    *,
    scheduler_extension: bool = False,
    endpoint: EndpointTarget | None = None,
    autoscaler: list[Manifest] | None = None,
    region: str = "",
) -> list[Manifest]:
    """Every Kubernetes object of ``spec`` on ``node_group``, the Namespace first so ``kubectl apply`` can create it.

    ``autoscaler`` replaces the CPU HorizontalPodAutoscaler (the default) with the objects that own the replica count
    instead: KEDA's, from :func:`inferentia_cdk.manifests.scaling.autoscaler_objects`.

    With ``endpoint``, the pods are registered in its target group (a TargetGroupBinding, last: its CRD's webhook
    checks that the Service exists), carry the load balancer's readiness gate and drain before they stop.

    An API with a model also gets its ServiceAccount and the read-only S3 volumes of its model, in ``region`` (the
    bucket's, which is the cluster's: Mountpoint is given it rather than finding it through the node's IMDS).
    """
    sizing = size_api(spec.compute, family_of_group(node_group), spec.processes_per_replica)
    exposed = endpoint is not None
    objects = [
        namespace(spec, exposed=exposed),
        *model_storage_objects(spec, labels(spec), region=region),
        deployment(spec, node_group, sizing, scheduler_extension=scheduler_extension, exposed=exposed),
        service(spec),
        *(autoscaler if autoscaler is not None else [horizontal_pod_autoscaler(spec)]),
        pod_disruption_budget(spec),
        network_policy(spec, endpoint),
    ]
    if endpoint is not None:
        objects.append(target_group_binding(spec, endpoint, labels(spec)))
    return objects
