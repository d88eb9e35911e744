"""The configuration contract: pydantic models for the config file and for Python callers alike.

These models check the shape of each value (types, enums, ranges, unknown keys). Rules that relate values to each
other or to the hardware catalog live in :mod:`inferentia_cdk.validation`, which reports every problem at once.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from ..facts import versions

DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
# EKS: 1-100 characters, starts with a letter or digit, then letters, digits, hyphens and underscores.
EKS_CLUSTER_NAME = re.compile(r"^[0-9A-Za-z][A-Za-z0-9\-_]{0,99}$")
# Kubernetes resource quantities (the subset users write for cpu and memory).
QUANTITY = re.compile(r"^([0-9]+(\.[0-9]+)?)(m|k|M|G|T|Ki|Mi|Gi|Ti)?$")
NEURON_TAG = re.compile(r"^[0-9]+\.[0-9]+\.[0-9]+\.[0-9]+$")


def is_token(value: object) -> bool:
    """True for an unresolved CDK token string; checks skip these (they resolve at deploy time)."""
    return isinstance(value, str) and "${Token[" in value


class Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)


def _dns_label(value: str, what: str) -> str:
    if is_token(value):
        return value
    if len(value) > 63 or not DNS_LABEL.match(value):
        raise ValueError(
            f"{what} {value!r} is not a DNS-1123 label: use at most 63 lowercase letters, digits and '-', "
            "starting and ending with a letter or digit"
        )
    return value


class SystemNodeGroupSpec(Model):
    """Ordinary (non-Neuron) nodes for cluster add-ons: CoreDNS, Cluster Autoscaler, metrics-server, schedulers.

    Neuron nodes carry a NoSchedule taint, so without these nodes the add-ons would have nowhere to run.
    """

    instance_types: list[str] = Field(default_factory=lambda: ["m6i.large"], min_length=1)
    min_size: int = Field(default=2, ge=1)
    desired_size: int = Field(default=2, ge=1)
    max_size: int = Field(default=3, ge=1)


class ClusterSpec(Model):
    name: str = "inferentia"
    kubernetes_version: str = versions.DEFAULT_KUBERNETES_VERSION
    endpoint_access: Literal["private", "public_and_private", "public"] = "private"
    account: str | None = None
    """AWS account id; with ``region`` it makes the stacks environment-specific. Default: environment-agnostic."""
    region: str | None = None
    max_azs: int = Field(default=2, ge=2, le=6)
    nat_gateways: int = Field(default=1, ge=1, le=6)
    system_node_group: SystemNodeGroupSpec = Field(default_factory=SystemNodeGroupSpec)
    cluster_autoscaler: bool = True
    """Run Cluster Autoscaler so node groups move between min and max. Turn off when bringing your own (Karpenter)."""
    metrics_server: bool = True
    """Install the metrics-server EKS add-on so HorizontalPodAutoscalers have CPU metrics."""
    admins: list[str] = Field(default_factory=list)
    """IAM role or user ARNs given cluster-admin through EKS access entries (``AmazonEKSClusterAdminPolicy``)."""
    public_access_cidrs: list[str] = Field(default_factory=list)
    """Who may reach a public API server endpoint; required when ``endpoint_access`` is public or public_and_private."""

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not is_token(value) and not EKS_CLUSTER_NAME.match(value):
            raise ValueError(
                f"cluster name {value!r} is not valid for EKS: 1-100 letters, digits, '-' or '_', "
                "starting with a letter or digit"
            )
        return value

    @field_validator("kubernetes_version", mode="before")
    @classmethod
    def _version(cls, value: Any) -> Any:
        if isinstance(value, float):
            raise ValueError(
                f"kubernetes_version {value!r} must be a quoted string (YAML reads 1.30 as 1.3); "
                f"valid: {', '.join(versions.KUBERNETES_VERSIONS)}"
            )
        if value not in versions.KUBERNETES_VERSIONS:
            raise ValueError(
                f"kubernetes_version {value!r} is not supported; valid: {', '.join(versions.KUBERNETES_VERSIONS)} "
                "(Amazon Linux 2 AMIs, and so Kubernetes before 1.33 with Neuron, are out of support)"
            )
        return value

    @field_validator("account")
    @classmethod
    def _account(cls, value: str | None) -> str | None:
        if value is not None and not is_token(value) and not re.fullmatch(r"[0-9]{12}", value):
            raise ValueError(f"account {value!r} must be a 12-digit AWS account id")
        return value


class NodeGroupSpec(Model):
    """A managed node group of Neuron instances."""

    name: str
    instance_types: list[str] = Field(min_length=1)
    ami: Literal["al2023", "bottlerocket"] = "al2023"
    capacity_type: Literal["on_demand", "spot"] = "on_demand"
    min_size: int = Field(default=0, ge=0)
    desired_size: int = Field(default=1, ge=0)
    max_size: int = Field(default=1, ge=1)
    disk_size: int = Field(default=100, ge=20, le=16384)
    """Root volume GiB. Neuron container images run to several GiB, so the EKS default of 20 GiB fills quickly."""

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        return _dns_label(value, "node group name")


class DevicePluginSpec(Model):
    version: str = versions.NEURON_DEVICE_PLUGIN_VERSION
    """Tag of public.ecr.aws/neuron/neuron-device-plugin (and of neuron-scheduler)."""
    scheduler_extension: bool = False
    """Deploy the Neuron scheduler extender and a second scheduler; APIs then use it for contiguous allocation."""
    monitor: bool = False
    """Deploy the neuron-monitor DaemonSet and a Service Prometheus can scrape."""

    @field_validator("version")
    @classmethod
    def _version(cls, value: str) -> str:
        if not is_token(value) and not NEURON_TAG.match(value):
            raise ValueError(
                f"device plugin version {value!r} must be a pinned Neuron release tag like "
                f"{versions.NEURON_DEVICE_PLUGIN_VERSION!r} (never 'latest')"
            )
        return value


def _quantity(value: Any, what: str) -> Any:
    if isinstance(value, bool):
        raise ValueError(f"{what} must be a Kubernetes quantity such as '1', '500m' or '4Gi', not {value!r}")
    if isinstance(value, (int, float)):
        if value <= 0:
            raise ValueError(f"{what} must be greater than 0, got {value!r}")
        return str(value)
    if isinstance(value, str) and not is_token(value):
        match = QUANTITY.match(value)
        if not match:
            raise ValueError(f"{what} {value!r} is not a Kubernetes quantity such as '1', '500m', '4Gi'")
        if float(match.group(1)) <= 0:
            raise ValueError(f"{what} must be greater than 0, got {value!r}")
    return value


class ComputeSpec(Model):
    inf: int = 1
    """Whole Neuron chips per replica (``aws.amazon.com/neuron``). Fractional requests are not allowed."""
    cpu: str = "1"
    mem: str = "4Gi"

    @field_validator("inf", mode="before")
    @classmethod
    def _inf(cls, value: Any) -> Any:
        if isinstance(value, bool):
            raise ValueError(f"inf must be a whole number of chips, got {value!r}")
        if isinstance(value, float):
            if not value.is_integer():
                raise ValueError(
                    f"inf is {value!r}: fractional requests are not allowed; ask for whole chips (1, 2, ...)"
                )
            value = int(value)
        if isinstance(value, int) and value < 1:
            raise ValueError(f"inf must be at least 1 chip, got {value!r}")
        return value

    @field_validator("cpu", mode="before")
    @classmethod
    def _cpu(cls, value: Any) -> Any:
        return _quantity(value, "cpu")

    @field_validator("mem", mode="before")
    @classmethod
    def _mem(cls, value: Any) -> Any:
        return _quantity(value, "mem")


ScalingMetric = Literal["neuroncore_utilization", "requests_per_replica", "cpu"]
"""What an API scales on: its NeuronCores' busy share, load balancer requests per replica, or CPU utilisation."""

DEFAULT_UTILIZATION_TARGET = 70.0
"""Percent of NeuronCore or CPU utilisation an API keeps its replicas at when ``target`` is left out."""
SCALE_TO_ZERO_ISSUE = "aws-neuron-sdk issue 1338"
"""Pods started on a Neuron node after its last pod left fail with NRT:nrt_allocate_neuron_cores (cores not freed)."""


class AutoscalingSpec(Model):
    min_replicas: int = Field(default=1, ge=1)
    """At least 1: scaling to zero on Neuron leaves cores unallocatable for the next pod (aws-neuron-sdk #1338)."""
    max_replicas: int = Field(default=1, ge=1)
    metric: ScalingMetric = "neuroncore_utilization"
    """The signal: ``neuroncore_utilization`` (Container Insights, through KEDA), ``requests_per_replica`` (the API's
    target group, through KEDA; needs an endpoint) or ``cpu`` (metrics-server, a plain HorizontalPodAutoscaler)."""
    target: float | None = Field(default=None, gt=0, allow_inf_nan=False)
    """Per replica: percent for the utilisations (default 70), requests per second for ``requests_per_replica``
    (required: no default fits every model)."""
    scale_down_stabilization_seconds: int = Field(default=300, ge=0, le=3600)
    """How long the highest recommendation of the window holds before replicas are removed (the HPA's 0-3600)."""

    @model_validator(mode="before")
    @classmethod
    def _no_cpu_target(cls, data: Any) -> Any:
        if isinstance(data, dict) and "target_cpu_utilization" in data:
            value = data["target_cpu_utilization"]
            shown = value if isinstance(value, int) and not isinstance(value, bool) else "<percent>"
            raise ValueError(
                f"target_cpu_utilization was replaced by metric and target: write `metric: cpu` and "
                f"`target: {shown}` to keep scaling on CPU, or drop the key to scale on NeuronCore utilisation "
                "(the default: on Neuron the cores saturate long before the CPU does)"
            )
        return data

    @field_validator("target", mode="before")
    @classmethod
    def _target(cls, value: Any) -> Any:
        if isinstance(value, bool):
            raise ValueError(f"target must be a number (a percent, or requests per second), not {value!r}")
        return value

    @field_validator("min_replicas", mode="before")
    @classmethod
    def _min_replicas(cls, value: Any) -> Any:
        if isinstance(value, int) and not isinstance(value, bool) and value < 1:
            raise ValueError(
                f"min_replicas must be at least 1, got {value}: scaling a Neuron API to zero leaves the node's "
                f"NeuronCores unallocatable for the next pod ({SCALE_TO_ZERO_ISSUE}, NRT:nrt_allocate_neuron_cores)"
            )
        return value

    @property
    def target_value(self) -> float:
        """``target``, or 70 for the utilisations (``requests_per_replica`` has no default; validation says so)."""
        return self.target if self.target is not None else DEFAULT_UTILIZATION_TARGET


class ApiSpec(Model):
    """One inference API: a Deployment on a Neuron node group and everything around it."""

    name: str
    node_group: str
    image: str = Field(min_length=1)
    port: int = Field(default=8080, ge=1024, le=65535)
    """Container port; 1024 or above because pods run as a non-root user."""
    compute: ComputeSpec = Field(default_factory=ComputeSpec)
    processes_per_replica: int = Field(default=1, ge=1)
    threads_per_process: int = Field(default=1, ge=1)
    compiled_neuroncores: int | None = Field(default=None, ge=1)
    """NeuronCores the model was compiled for (``--num-neuroncores``). Default: the NCG size."""
    autoscaling: AutoscalingSpec = Field(default_factory=AutoscalingSpec)
    health_path: str = "/healthz"
    """HTTP path for readiness and liveness probes on ``port``."""
    env: dict[str, str] = Field(default_factory=dict)
    endpoint: bool | None = None
    """Route ``/<name>/...`` of the config's load balancer to this API. Default: true when ``endpoints`` is set."""

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        return _dns_label(value, "API name")

    @field_validator("health_path")
    @classmethod
    def _health_path(cls, value: str) -> str:
        if not value.startswith("/"):
            raise ValueError(f"health_path {value!r} must start with '/'")
        return value


class EndpointsSpec(Model):
    """One Application Load Balancer, owned by the cluster stack, in front of every exposed API."""

    scheme: Literal["internal", "internet-facing"] = "internal"
    certificate_arn: str | None = None
    """ACM certificate of the HTTPS listener, in the cluster's region. Required when internet-facing; without one an
    internal load balancer listens on HTTP port 80."""
    allowed_cidrs: list[str] | None = None
    """Who may connect. Default: the VPC's CIDR when internal; required when internet-facing."""
    allow_any_source: bool = False
    """Must be true for ``allowed_cidrs`` to contain 0.0.0.0/0 or ::/0: opening APIs to everyone is said out loud."""
    idle_timeout_seconds: int = Field(default=60, ge=1, le=4000)
    """Seconds a connection may stay idle (the load balancer's limits: 1-4000); long inferences need more."""
    domain_name: str | None = None
    """The DNS name clients use (a record you point at the load balancer), shown in the API URLs. Default: the load
    balancer's own DNS name."""


class ObservabilitySpec(Model):
    """CloudWatch: Container Insights' Neuron metrics, and a dashboard and alarms per API."""

    container_insights: bool | None = None
    """Install the amazon-cloudwatch-observability EKS add-on (it runs its own neuron-monitor and publishes per-pod
    NeuronCore metrics). Default: true when any API scales on ``neuroncore_utilization``."""
    dashboards: bool = True
    """A CloudWatch dashboard per API, and alarms on 5xx rate and zero healthy targets for each exposed API."""
    alarm_topic_arn: str | None = None
    """SNS topic the alarms notify (alarm and OK). Default: alarms only change state."""


class InferentiaConfig(Model):
    """The whole configuration: one cluster, its Neuron node groups, the device plugin and the APIs."""

    cluster: ClusterSpec = Field(default_factory=ClusterSpec)
    node_groups: Annotated[list[NodeGroupSpec], Field(min_length=1)]
    device_plugin: DevicePluginSpec = Field(default_factory=DevicePluginSpec)
    quota_check: Literal["deploy", "synth", "off"] = "deploy"
    """When to compare the Inf/Trn vCPU quotas with the node groups' maximum: at deploy (a custom resource every node
    group depends on), at synth (the caller's credentials), or never."""
    quota_shortfall: Literal["fail", "warn"] = "fail"
    """What a short quota does at deploy time: fail the deployment before any instance launches, or only warn."""
    apis: list[ApiSpec] = Field(default_factory=list)
    endpoints: EndpointsSpec | None = None
    """Expose APIs through one load balancer with a URL each. Absent: APIs stay cluster-internal (ClusterIP)."""
    observability: ObservabilitySpec = Field(default_factory=ObservabilitySpec)

    def node_group(self, name: str) -> NodeGroupSpec | None:
        return next((g for g in self.node_groups if g.name == name), None)

    def exposed_apis(self) -> list[ApiSpec]:
        """The APIs the load balancer routes to, in config order (none without ``endpoints``)."""
        if self.endpoints is None:
            return []
        return [api for api in self.apis if api.endpoint is not False]

    def container_insights(self) -> bool:
        """Whether the CloudWatch observability add-on runs: as configured, else when an API scales on NeuronCores."""
        configured = self.observability.container_insights
        if configured is not None:
            return configured
        return any(api.autoscaling.metric == "neuroncore_utilization" for api in self.apis)

    def neuron_monitor(self) -> bool:
        """Whether our own neuron-monitor DaemonSet runs: asked for, and no add-on already runs one on every node."""
        return self.device_plugin.monitor and not self.container_insights()
