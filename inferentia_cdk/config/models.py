"""The configuration contract: pydantic models for the config file and for Python callers alike.

These models check the shape of each value (types, enums, ranges, grammars, unknown keys). Rules that relate values
to each other or to the hardware catalog live in :mod:`inferentia_cdk.planning.validation`, which reports every problem
at once.

Integer fields are strict: ``true``, ``"3"`` and ``3.0`` are not integers. Strings are kept as written (no whitespace
is stripped), so a name with a stray space is an error rather than silently a different name.
"""

from __future__ import annotations

import math
import re
from fractions import Fraction
from functools import lru_cache
from typing import Annotated, Any, Final, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    Strict,
    ValidationInfo,
    field_validator,
    model_validator,
)

from ..catalog import versions
from .aws_grammar import (
    MAX_AVAILABILITY_ZONES,
    MIN_AVAILABILITY_ZONES,
    account_error,
    availability_zone_error,
    region_error,
)
from .problems import rule, shown

INT32_MAX = 2**31 - 1
"""Kubernetes integer fields (ports, replicas, utilisation) and the EKS API's node counts are int32; staying below it
also keeps every number far under 2**53, the largest integer jsii carries exactly."""
STARTUP_TIMEOUT_MIN = 60
"""Below a minute no Neuron model loads: the runtime alone takes seconds to claim its NeuronCores."""
STARTUP_TIMEOUT_MAX = 3 * 3600
"""Three hours: beyond what loading (and recompiling) the largest model of the catalog takes; a pod that has not
started by then is stuck, and holding its chips longer helps nobody."""
LISTENER_RULE_PRIORITY_MAX = 50_000
"""Listener rule priorities are 1-50000, unique per listener (Elastic Load Balancing, CreateRule)."""
EKS_NODES_PER_GROUP_QUOTA = 450
"""EKS service quota "Nodes per managed node group" (default, adjustable): docs.aws.amazon.com/eks/latest/userguide/
service-quotas.html. A max_size above it deploys only where the quota was raised, so it is a warning."""

StrictInt = Annotated[int, Strict()]

DNS_1123_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")
# A Service name must be a DNS-1035 label: it starts with a letter (kube-apiserver rejects a Service named "1bert").
DNS_1035_LABEL = re.compile(r"[a-z]([-a-z0-9]*[a-z0-9])?")
# EKS: 1-100 characters, starts with a letter or digit, then letters, digits, hyphens and underscores.
EKS_CLUSTER_NAME = re.compile(r"[0-9A-Za-z][A-Za-z0-9\-_]{0,99}")
NEURON_TAG = re.compile(r"[0-9]{1,9}\.[0-9]{1,9}\.[0-9]{1,9}\.[0-9]{1,9}")
# Printable ASCII without spaces: kubelet builds the probe URL from it.
HEALTH_PATH = re.compile(r"/[\x21-\x7e]{0,1023}")

# OCI image references, after distribution/reference (regexp.go, reference.go):
# [domain[:port]/]path-component[/path-component...][:tag][@digest], repository lowercase and at most 255 characters.
_DOMAIN_COMPONENT = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_DOMAIN = rf"(?:{_DOMAIN_COMPONENT}(?:\.{_DOMAIN_COMPONENT})*|\[[a-fA-F0-9:]+\])(?::[0-9]+)?"
_PATH_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
IMAGE_REFERENCE = re.compile(
    rf"(?:(?P<domain>{_DOMAIN})/)?(?P<path>{_PATH_COMPONENT}(?:/{_PATH_COMPONENT})*)"
    r"(?::(?P<tag>[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}))?"
    r"(?:@(?P<algorithm>[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*):(?P<hex>[0-9a-fA-F]{32,}))?"
)
# opencontainers/go-digest: the registered algorithms and the lowercase hex length of each.
DIGEST_HEX_LENGTHS = {"sha256": 64, "sha384": 96, "sha512": 128}
IMAGE_MAX_LENGTH = 1024
"""Longer than any valid reference (255-character repository, host, 128-character tag, sha512 digest)."""

# aws-cdk-lib's InstanceType.architecture parses names with this pattern and throws on any other; an "a" family or a
# "g" among the options is Arm (aws-ec2/lib/instance-types.ts).
EC2_INSTANCE_TYPE = re.compile(
    r"(?P<family>[a-z]+)(?P<generation>[0-9]{1,2})(?P<options>[a-z-]*)\.(?P<size>[a-z0-9-]+)"
)
EC2_SIZE = re.compile(r"nano|micro|small|medium|large|[0-9]*xlarge|metal(-[0-9]+xl)?")
# Families the system node group cannot use with the AL2023 x86_64 standard AMI: aws-cdk-lib's isGpuInstanceType
# (p2-p4, g3-g6, inf1, inf2) needs a GPU or Neuron AMI type, and EKS managed node groups do not run Mac instances.
_ACCELERATED_FAMILIES = {"p": "a GPU", "g": "a GPU", "gr": "a GPU", "dl": "a deep learning accelerator"}
_NEURON_FAMILIES = ("inf", "trn")

# Kubernetes quantities (k8s.io/apimachinery/pkg/api/resource/quantity.go):
# <signedNumber><suffix>, suffix one of the binary SI (Ki..Ei), decimal SI (n, u, m, "", k..E) or e<signedNumber>.
QUANTITY = re.compile(
    r"(?P<sign>[+-]?)(?P<whole>[0-9]*)(?:\.(?P<fraction>[0-9]*))?(?:(?P<si>[numkMGTPE]|[KMGTPE]i)|[eE](?P<exponent>[+-]?[0-9]+))?"
)
_SI = {
    "n": Fraction(1, 10**9),
    "u": Fraction(1, 10**6),
    "m": Fraction(1, 1000),
    "k": Fraction(10**3),
    "M": Fraction(10**6),
    "G": Fraction(10**9),
    "T": Fraction(10**12),
    "P": Fraction(10**15),
    "E": Fraction(10**18),
    **{f"{prefix}i": Fraction(2 ** (10 * (i + 1))) for i, prefix in enumerate("KMGTPE")},
}
QUANTITY_MAX = 2**63 - 1
"""No Kubernetes quantity may exceed 2^63-1 in magnitude (quantity.go)."""
_QUANTITY_MAX_LENGTH = 64
_QUANTITY_MAX_EXPONENT = 64
# Cortex's floors for compute.cpu and compute.mem (cortexlabs/cortex pkg/types/spec/validations.go, computeValidation):
# below them no model server starts.
CPU_FLOOR = Fraction(20, 1000)
MEMORY_FLOOR = Fraction(20 * 2**20)
_QUANTITY_FLOORS = {
    "cpu": (CPU_FLOOR, "20m", "'1', '500m' or '2'"),
    "mem": (MEMORY_FLOOR, "20Mi", "'512Mi', '4Gi' or '8G'"),
}
"""Per field: the floor, as a message writes it, and the examples a message offers."""


def is_token(value: object) -> bool:
    """True for an unresolved CDK token string; checks skip these (they resolve at deploy time).

    Only Python callers can pass tokens: the loader rejects token syntax in a config file, whose strings are plain text.
    """
    return isinstance(value, str) and "${Token[" in value


@lru_cache(maxsize=1024)
def parse_quantity(text: str) -> Fraction | None:
    """The exact value of a Kubernetes quantity (``'500m'`` -> 1/2, ``'1Ki'`` -> 1024, ``'1e3'`` -> 1000), or None
    for anything that is not one. Exponents beyond +-64 are refused rather than computed."""
    if len(text) > _QUANTITY_MAX_LENGTH:
        return None
    match = QUANTITY.fullmatch(text)
    if match is None or not (match["whole"] or match["fraction"]):
        return None
    fraction = match["fraction"] or ""
    value = Fraction(int((match["whole"] or "0") + fraction), 10 ** len(fraction))
    if match["si"]:
        value *= _SI[match["si"]]
    elif match["exponent"]:
        exponent = int(match["exponent"])
        if abs(exponent) > _QUANTITY_MAX_EXPONENT:
            return None
        value *= Fraction(10) ** exponent
    return -value if match["sign"] == "-" else value


MAX_ALLOWED_NAMESPACES = 100
"""Namespaces one API's NetworkPolicy names: a rule each; the list stays one that a reader can check."""


def _namespace_name(value: str) -> str:
    return _dns_label(value, "namespace")


class Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# The rules of single values, checked as the models are built (their codes are the pydantic error types).
CLUSTER_NAME = rule("CLU001", "error", "cluster.name is a valid EKS cluster name")
KUBERNETES_VERSION = rule("CLU002", "error", "the Kubernetes version is one this release supports, written as text")
ACCOUNT = rule("CLU003", "error", "cluster.account is a 12-digit AWS account id")
REGION = rule("CLU004", "error", "a region is an AWS region name")
SYSTEM_INSTANCE_TYPE = rule("CLU005", "error", "the system node group runs x86_64 general purpose EC2 types")
DEVICE_PLUGIN_VERSION = rule("CLU006", "error", "device_plugin.version is a pinned Neuron release tag")
NODE_GROUP_NAME = rule("NG001", "error", "a node group name is a DNS-1123 label")
API_NAME = rule("API001", "error", "an API name is a DNS-1035 label (its Service's name)")
IMAGE = rule("API002", "error", "image is an OCI image reference the kubelet can pull")
HEALTH_PATH_GRAMMAR = rule("API003", "error", "health_path is an absolute path of printable ASCII")
WHOLE_CHIPS = rule("API004", "error", "compute.inf and compute.neuroncores are whole numbers of chips or cores")
LNC_VALUE = rule("NG303", "error", "node_groups[].lnc is 1 or 2")
AVAILABILITY_ZONES = rule(
    "CLU150", "error", "availability_zones are 2-6 distinct zones of cluster.region, agreeing with max_azs"
)
S3_URI = rule("LLM411", "error", "model.uri and model.compiled_uri are s3://bucket/prefix/ folders")
MODEL_NUMBER = rule("LLM412", "error", "model.size_gib is a number")
MODEL_SHAPE = rule(
    "LLM413", "error", "the model's shape is given whole (layers, heads, kv_heads, head_dim), kv_heads dividing heads"
)
ENGINE_AND_MODEL = rule("LLM414", "error", "an engine and a model come together")
IMAGE_REQUIRED = rule("API010", "error", "an API names its image (only engine APIs have a default)")
ALLOWED_NAMESPACES = rule("NET250", "error", "allowed_namespaces lists each namespace once")
ONE_DEVICE_UNIT = rule("API303", "error", "compute asks for whole chips (inf) or NeuronCores (neuroncores), not both")
QUANTITY_RULE = rule(
    "API005", "error", "compute.cpu and compute.mem are Kubernetes quantities a model server starts with"
)
REPLACED_CPU_TARGET = rule("SCL001", "error", "autoscaling uses metric and target, not target_cpu_utilization")
TARGET_NUMBER = rule("SCL002", "error", "autoscaling.target is a number")
MIN_REPLICAS_ZERO = rule("SCL003", "error", "min_replicas is at least 1 (Neuron APIs cannot scale to zero)")


def _dns_label(value: str, what: str) -> str:
    if is_token(value):
        return value
    if len(value) > 63 or not DNS_1123_LABEL.fullmatch(value):
        raise NODE_GROUP_NAME.invalid(
            f"{what} {shown(value)} is not a DNS-1123 label: use at most 63 lowercase letters, digits and '-', "
            "starting and ending with a letter or digit"
        )
    return value


def kubernetes_version_error(value: object) -> str | None:
    """Why ``value`` is not a supported Kubernetes minor version, or None. The choices are ``versions``'s."""
    valid = ", ".join(versions.KUBERNETES_VERSIONS)
    if isinstance(value, float):
        return f"kubernetes_version {shown(value)} must be a quoted string (YAML reads 1.30 as 1.3); valid: {valid}"
    if value not in versions.KUBERNETES_VERSIONS:
        return (
            f"kubernetes_version {shown(value)} is not supported; valid: {valid} (Amazon Linux 2 AMIs, and so "
            "Kubernetes before 1.33 with Neuron, are out of support)"
        )
    return None


def cluster_name_error(value: object) -> str | None:
    """Why ``value`` is not an EKS cluster name, or None."""
    if isinstance(value, str) and EKS_CLUSTER_NAME.fullmatch(value):
        return None
    return (
        f"cluster name {shown(value)} is not valid for EKS: 1-100 letters, digits, '-' or '_', starting with a "
        "letter or digit"
    )


def system_instance_type_error(name: str) -> str | None:
    """Why ``name`` cannot be a system node group type (AMI type AL2023_x86_64_STANDARD), or None."""
    match = EC2_INSTANCE_TYPE.fullmatch(name)
    if match is None or not EC2_SIZE.fullmatch(match["size"]):
        return (
            f"{shown(name)} is not an EC2 instance type name: family, generation and options, '.', size "
            "(such as m6i.large or c7i.2xlarge)"
        )
    family, options = match["family"], match["options"]
    if family.startswith(_NEURON_FAMILIES):
        return (
            f"{shown(name)} is a Neuron type; the system node group runs add-ons on ordinary x86_64 nodes: put "
            "Neuron types in node_groups and an x86_64 type such as m6i.large here"
        )
    if family in _ACCELERATED_FAMILIES:
        return (
            f"{shown(name)} is {_ACCELERATED_FAMILIES[family]} type, which the standard x86_64 AMI of the system node "
            "group does not drive; use a general purpose type such as m6i.large"
        )
    if family == "mac":
        return (
            f"{shown(name)} is a Mac instance, which EKS managed node groups do not run; use a type such as m6i.large"
        )
    if family == "a" or "g" in options:
        return (
            f"{shown(name)} is an Arm (Graviton) type, but the system node group's AMI is x86_64; use an x86_64 "
            "type such as m6i.large"
        )
    return None


def _system_instance_type(value: str) -> str:
    error = system_instance_type_error(value)
    if error:
        raise SYSTEM_INSTANCE_TYPE.invalid(error)
    return value


class SystemNodeGroupSpec(Model):
    """Ordinary (non-Neuron) nodes for cluster add-ons: CoreDNS, Cluster Autoscaler, metrics-server, schedulers.

    Neuron nodes carry a NoSchedule taint, so without these nodes the add-ons would have nowhere to run.
    """

    instance_types: list[Annotated[str, AfterValidator(_system_instance_type)]] = Field(
        default_factory=lambda: ["m6i.large"], min_length=1
    )
    """x86_64 EC2 types for AMI type AL2023_x86_64_STANDARD: no Neuron, GPU, Arm or Mac types."""
    min_size: StrictInt = Field(default=2, ge=1, le=INT32_MAX)
    desired_size: StrictInt = Field(default=2, ge=1, le=INT32_MAX)
    max_size: StrictInt = Field(default=3, ge=1, le=INT32_MAX)


class ClusterSpec(Model):
    name: str = "inferentia"
    kubernetes_version: str = versions.DEFAULT_KUBERNETES_VERSION
    endpoint_access: Literal["private", "public_and_private", "public"] = "private"
    account: str | None = None
    """AWS account id; with ``region`` it makes the stacks environment-specific. Default: environment-agnostic."""
    region: str | None = None
    """AWS region name such as ``us-east-1``. Default: environment-agnostic (the deploying credentials' region)."""
    max_azs: StrictInt = Field(default=2, ge=MIN_AVAILABILITY_ZONES, le=MAX_AVAILABILITY_ZONES)
    availability_zones: list[str] | None = Field(
        default=None, min_length=MIN_AVAILABILITY_ZONES, max_length=MAX_AVAILABILITY_ZONES
    )
    """The VPC's zones by name (``us-east-1a``), in ``region``. Set, the stacks look nothing up: an environment-specific
    stack (``account`` set) otherwise asks EC2 for the region's zones at synth, which needs credentials once (the
    answer is cached in ``cdk.context.json``). Default: the first ``max_azs`` zones of the region."""
    nat_gateways: StrictInt = Field(default=1, ge=1, le=6)
    system_node_group: SystemNodeGroupSpec = Field(default_factory=SystemNodeGroupSpec)
    cluster_autoscaler: bool = True
    """Run Cluster Autoscaler so node groups move between min and max. Turn off when bringing your own (Karpenter)."""
    metrics_server: bool = True
    """Install the metrics-server EKS add-on so HorizontalPodAutoscalers have CPU metrics."""
    admins: list[str] = Field(default=[])
    """IAM role or user ARNs given cluster-admin through EKS access entries (``AmazonEKSClusterAdminPolicy``)."""
    public_access_cidrs: list[str] = Field(default=[])
    """Who may reach a public API server endpoint; required when ``endpoint_access`` is public or public_and_private."""
    public_access_any_source: bool = False
    """Must be true for ``public_access_cidrs`` to cover the whole internet (0.0.0.0/0, or blocks that add up to it):
    opening the Kubernetes API server to everyone is said out loud."""

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        error = None if is_token(value) else cluster_name_error(value)
        if error:
            raise CLUSTER_NAME.invalid(error)
        return value

    @field_validator("kubernetes_version", mode="before")
    @classmethod
    def _version(cls, value: Any) -> Any:
        error = kubernetes_version_error(value)
        if error:
            raise KUBERNETES_VERSION.invalid(error)
        return value

    @field_validator("account")
    @classmethod
    def _account(cls, value: str | None) -> str | None:
        error = None if value is None or is_token(value) else account_error(value)
        if error:
            raise ACCOUNT.invalid(error)
        return value

    @field_validator("region")
    @classmethod
    def _region(cls, value: str | None) -> str | None:
        error = None if value is None or is_token(value) else region_error(value)
        if error:
            raise REGION.invalid(error)
        return value

    @field_validator("availability_zones")
    @classmethod
    def _availability_zones(cls, zones: list[str] | None, info: ValidationInfo) -> list[str] | None:
        if zones is None:
            return zones
        region = info.data.get("region")
        if region is None:
            raise AVAILABILITY_ZONES.invalid("availability_zones needs cluster.region: zone names belong to one region")
        known_region = None if is_token(region) else region
        errors = [
            error for zone in zones if not is_token(zone) and (error := availability_zone_error(zone, known_region))
        ]
        if len(set(zones)) != len(zones):
            errors.append("lists a zone more than once")
        if errors:
            raise AVAILABILITY_ZONES.invalid("; ".join(errors))
        return zones

    @model_validator(mode="after")
    def _zones_and_max_azs(self) -> ClusterSpec:
        zones = self.availability_zones
        if zones is not None and "max_azs" in self.model_fields_set and self.max_azs != len(zones):
            raise AVAILABILITY_ZONES.invalid(
                f"max_azs {self.max_azs} disagrees with the {len(zones)} availability_zones listed; drop max_azs "
                "(the VPC uses exactly the zones listed)"
            )
        return self


class NodeGroupSpec(Model):
    """A managed node group of Neuron instances."""

    name: str
    instance_types: list[str] = Field(min_length=1)
    ami: Literal["al2023", "bottlerocket"] = "al2023"
    capacity_type: Literal["on_demand", "spot"] = "on_demand"
    min_size: StrictInt = Field(default=0, ge=0, le=INT32_MAX)
    desired_size: StrictInt = Field(default=1, ge=0, le=INT32_MAX)
    max_size: StrictInt = Field(default=1, ge=1, le=INT32_MAX)
    disk_size: StrictInt = Field(default=100, ge=20, le=16384)
    """Root volume GiB. Neuron container images run to several GiB, so the EKS default of 20 GiB fills quickly."""
    node_auto_repair: bool = True
    """EKS replaces (or reboots) nodes that turn unhealthy, those whose Neuron devices the node monitoring agent reports
    as failed included. ``false`` leaves broken nodes in place (for debugging a node)."""
    lnc: Literal[1, 2] | None = None
    """Logical NeuronCore configuration of the nodes (Trainium2 only): 2 physical cores per logical core (2, trn2's
    default) or 1. Default: the family's. Models must be compiled for the node's LNC."""

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        return _dns_label(value, "node group name")

    @field_validator("lnc", mode="before")
    @classmethod
    def _lnc(cls, value: Any) -> Any:
        if value is not None and (type(value) is not int or value not in (1, 2)):
            raise LNC_VALUE.invalid(
                f"lnc {shown(value)} is not a logical NeuronCore configuration: 1 (one physical core per logical "
                "core) or 2 (two; trn2's default)"
            )
        return value


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
        if not is_token(value) and not NEURON_TAG.fullmatch(value):
            raise DEVICE_PLUGIN_VERSION.invalid(
                f"device plugin version {shown(value)} must be a pinned Neuron release tag like "
                f"{versions.NEURON_DEVICE_PLUGIN_VERSION!r} (never 'latest')"
            )
        return value


def _quantity(value: Any, what: Literal["cpu", "mem"]) -> Any:
    """A number or quantity string for ``cpu``/``mem`` as Kubernetes gets it, or the API005 error."""
    example = _QUANTITY_FLOORS[what][2]
    if isinstance(value, bool):
        raise QUANTITY_RULE.invalid(f"{what} must be a Kubernetes quantity such as {example}, not {value!r}")
    if isinstance(value, float) and not math.isfinite(value):
        raise QUANTITY_RULE.invalid(f"{what} must be a finite amount such as {example}, not {value!r}")
    if isinstance(value, (int, float)):
        value = str(value)
    if not isinstance(value, str) or is_token(value):
        return value  # pydantic reports a non-string; a token resolves at deploy time
    error = _quantity_error(value, what)
    if error is not None:
        raise QUANTITY_RULE.invalid(error)
    return value


# A config's APIs ask for a handful of distinct amounts; exact arithmetic on each is worth doing once.
@lru_cache(maxsize=1024)
def _quantity_error(value: str, what: Literal["cpu", "mem"]) -> str | None:
    floor, floor_text, example = _QUANTITY_FLOORS[what]
    amount = parse_quantity(value)
    if amount is None:
        return f"{what} {shown(value)} is not a Kubernetes quantity such as {example}"
    if amount > QUANTITY_MAX:
        return f"{what} {shown(value)} is larger than any Kubernetes quantity (at most 2^63-1)"
    if amount < floor:
        hint = ""
        if what == "mem" and value.endswith("m"):
            hint = " ('m' means thousandths of a byte: did you mean 'Mi'?)"
        elif what == "mem" and value.lstrip("+").replace(".", "", 1).isdigit():
            hint = f" (a bare number counts bytes: did you mean '{value}Gi'?)"
        return (
            f"{what} {shown(value)} is below {floor_text}, the least a model server starts with{hint}; ask for at "
            f"least {floor_text}"
        )
    return None


ComputeUnit = Literal["chips", "neuroncores"]


class ComputeSpec(Model):
    """What one replica requests. Neuron capacity is either ``inf`` whole chips or ``neuroncores`` cores, never both;
    with neither, one chip."""

    inf: StrictInt | None = Field(default=None, ge=1, le=INT32_MAX)
    """Whole Neuron chips per replica (``aws.amazon.com/neuron``). Fractional requests are not allowed."""
    neuroncores: StrictInt | None = Field(default=None, ge=1, le=INT32_MAX)
    """NeuronCores per replica (``aws.amazon.com/neuroncore``, logical cores at the node group's LNC): lets small
    models share a chip, e.g. two APIs of one core each on one inf2 chip."""
    cpu: str = "1"
    """Any Kubernetes quantity of at least 20m (``'2'``, ``'500m'``, ``'1e3'``)."""
    mem: str = "4Gi"
    """Any Kubernetes quantity of at least 20Mi (``'12Gi'``, ``'8G'``); a bare number counts bytes."""

    @model_validator(mode="before")
    @classmethod
    def _one_unit(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        given = [key for key in ("inf", "neuroncores") if data.get(key) is not None]
        if len(given) == 2:
            raise ONE_DEVICE_UNIT.invalid(
                f"compute asks for both inf ({shown(data['inf'])}) and neuroncores ({shown(data['neuroncores'])}); "
                "give one: inf for whole chips (aws.amazon.com/neuron) or neuroncores for cores "
                "(aws.amazon.com/neuroncore)"
            )
        if not given:
            return {**data, "inf": 1}
        return data

    @field_validator("inf", "neuroncores", mode="before")
    @classmethod
    def _whole(cls, value: Any, info: ValidationInfo) -> Any:
        unit = "chips" if info.field_name == "inf" else "NeuronCores"
        if isinstance(value, bool):
            raise WHOLE_CHIPS.invalid(f"{info.field_name} must be a whole number of {unit}, got {value!r}")
        if isinstance(value, float):
            if not math.isfinite(value):
                raise WHOLE_CHIPS.invalid(
                    f"{info.field_name} {shown(value)} is not a number; ask for whole {unit} (1, 2, ...)"
                )
            if not value.is_integer():
                raise WHOLE_CHIPS.invalid(
                    f"{info.field_name} is {shown(value)}: fractional requests are not allowed; ask for whole "
                    f"{unit} (1, 2, ...)"
                )
            value = int(value)
        return value

    @property
    def unit(self) -> ComputeUnit:
        """What the replica's Neuron request counts: whole chips or NeuronCores."""
        return "chips" if self.inf is not None else "neuroncores"

    @property
    def amount(self) -> int:
        """The number in the replica's Neuron request (chips or cores, per :attr:`unit`)."""
        return self.inf if self.inf is not None else self.neuroncores or 1

    @property
    def field(self) -> str:
        """The key the request was given under: ``inf`` or ``neuroncores``."""
        return "inf" if self.inf is not None else "neuroncores"

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
    min_replicas: StrictInt = Field(default=1, ge=1, le=INT32_MAX)
    """At least 1: scaling to zero on Neuron leaves cores unallocatable for the next pod (aws-neuron-sdk #1338)."""
    max_replicas: StrictInt = Field(default=1, ge=1, le=INT32_MAX)
    metric: ScalingMetric = "neuroncore_utilization"
    """The signal: ``neuroncore_utilization`` (Container Insights, through KEDA), ``requests_per_replica`` (the API's
    target group, through KEDA; needs an endpoint) or ``cpu`` (metrics-server, a plain HorizontalPodAutoscaler)."""
    target: float | None = Field(default=None, gt=0, allow_inf_nan=False)
    """Per replica: percent for the utilisations (default 70), requests per second for ``requests_per_replica``
    (required: no default fits every model)."""
    scale_down_stabilization_seconds: StrictInt = Field(default=300, ge=0, le=3600)
    """How long the highest recommendation of the window holds before replicas are removed (the HPA's 0-3600)."""

    @model_validator(mode="before")
    @classmethod
    def _no_cpu_target(cls, data: Any) -> Any:
        if isinstance(data, dict) and "target_cpu_utilization" in data:
            value = data["target_cpu_utilization"]
            shown = value if isinstance(value, int) and not isinstance(value, bool) else "<percent>"
            raise REPLACED_CPU_TARGET.invalid(
                f"target_cpu_utilization was replaced by metric and target: write `metric: cpu` and "
                f"`target: {shown}` to keep scaling on CPU, or drop the key to scale on NeuronCore utilisation "
                "(the default: on Neuron the cores saturate long before the CPU does)"
            )
        return data

    @field_validator("target", mode="before")
    @classmethod
    def _target(cls, value: Any) -> Any:
        if isinstance(value, (bool, str)):
            raise TARGET_NUMBER.invalid(f"target must be a number (a percent, or requests per second), not {value!r}")
        return value

    @field_validator("min_replicas", mode="before")
    @classmethod
    def _min_replicas(cls, value: Any) -> Any:
        if isinstance(value, int) and not isinstance(value, bool) and value < 1:
            raise MIN_REPLICAS_ZERO.invalid(
                f"min_replicas must be at least 1, got {value}: scaling a Neuron API to zero leaves the node's "
                f"NeuronCores unallocatable for the next pod ({SCALE_TO_ZERO_ISSUE}, NRT:nrt_allocate_neuron_cores)"
            )
        return value

    @property
    def target_value(self) -> float:
        """``target``, or 70 for the utilisations (``requests_per_replica`` has no default; validation says so)."""
        return self.target if self.target is not None else DEFAULT_UTILIZATION_TARGET


def image_error(image: str) -> str | None:
    """Why ``image`` is not an OCI image reference the kubelet can pull, or None."""
    if len(image) > IMAGE_MAX_LENGTH:
        return f"image {shown(image)} is {len(image)} characters, longer than any image reference"
    match = IMAGE_REFERENCE.fullmatch(image)
    if match is None:
        if IMAGE_REFERENCE.fullmatch(image.lower()):
            return f"image {shown(image)}: repository names are lowercase"
        return (
            f"image {shown(image)} is not an image reference: [registry[:port]/]repository[:tag][@sha256:<digest>], "
            "repository in lowercase letters, digits and . _ - separators"
        )
    if len(match["path"]) > 255:
        return f"image {shown(image)}: the repository name is longer than 255 characters"
    algorithm, digest = match["algorithm"], match["hex"]
    if algorithm is not None and (DIGEST_HEX_LENGTHS.get(algorithm) != len(digest) or digest != digest.lower()):
        return (
            f"image {shown(image)}: a digest is sha256: and 64 lowercase hex digits (or sha384/sha512 with 96/128), "
            f"got {shown(f'{algorithm}:{digest}')}"
        )
    return None


S3_URI_SCHEME = "s3://"
# S3 general purpose bucket naming rules (Amazon S3 user guide, "General purpose bucket naming rules"): 3-63 characters,
# lowercase letters, digits, '.' and '-', starting and ending with a letter or digit, no two adjacent periods, not an IP
# address, and none of the prefixes and suffixes S3 reserves.
S3_BUCKET = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")
_S3_IP_ADDRESS = re.compile(r"[0-9]{1,3}(\.[0-9]{1,3}){3}")
_S3_RESERVED_PREFIXES = ("xn--", "sthree-", "amzn-s3-demo-")
_S3_RESERVED_SUFFIXES = ("-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3")
# A key prefix of S3's "safe characters" (Amazon S3 user guide, "Naming Amazon S3 objects") without '*': a '*' or '?'
# would widen the IAM grant built from it, and a space would split the Mountpoint mount option that carries it.
S3_PREFIX = re.compile(r"(?:[0-9A-Za-z!_.'()-]+/)+")
S3_KEY_MAX_BYTES = 1024
MODEL_SIZE_GIB_MAX = 4096
"""Beyond the device memory of every instance type of the catalog (trn2.48xlarge has 1536 GiB of HBM)."""
MAX_MODEL_LEN_MAX = 2**20
"""A million tokens: the longest context any open model published by 2026 claims; vLLM documents no upper bound."""
MAX_NUM_SEQS_MAX = 1024
"""vLLM's default on GPUs is 256; Neuron compiles a graph per batch size, so far fewer are practical."""


def s3_uri_error(value: str, what: str) -> str | None:
    """Why ``value`` is not an ``s3://bucket/prefix/`` URI of a general purpose bucket, or None."""
    if not value.startswith(S3_URI_SCHEME):
        return f"{what} {shown(value)} must be an S3 URI such as 's3://my-models/llama-3.1-8b/'"
    bucket, _, prefix = value[len(S3_URI_SCHEME) :].partition("/")
    if not S3_BUCKET.fullmatch(bucket) or ".." in bucket or _S3_IP_ADDRESS.fullmatch(bucket):
        return (
            f"{what} {shown(value)}: bucket {shown(bucket)} is not an S3 bucket name: 3-63 lowercase letters, digits, "
            "'.' and '-', starting and ending with a letter or digit, no '..', not an IP address"
        )
    if bucket.startswith(_S3_RESERVED_PREFIXES) or bucket.endswith(_S3_RESERVED_SUFFIXES):
        return (
            f"{what} {shown(value)}: bucket {shown(bucket)} uses a prefix or suffix S3 reserves (access point aliases, "
            "directory and table buckets); name a general purpose bucket"
        )
    if not prefix:
        return (
            f"{what} {shown(value)} names a whole bucket; name the folder that holds the files, such as "
            f"'s3://{bucket}/my-model/' (the pods may read only that prefix)"
        )
    if not prefix.endswith("/") and S3_PREFIX.fullmatch(prefix + "/"):
        return f"{what} {shown(value)} must end with '/' (a folder of files): did you mean {shown(value + '/')}?"
    segments = prefix.rstrip("/").split("/")
    if not S3_PREFIX.fullmatch(prefix) or any(segment in (".", "..") for segment in segments):
        return (
            f"{what} {shown(value)}: the key prefix may hold only letters, digits and ! _ . ' ( ) - between '/' "
            "(no '.' or '..' folders, no '*', '?' or spaces) and must end with '/'"
        )
    if len(prefix.encode()) > S3_KEY_MAX_BYTES:
        return f"{what} {shown(value)}: the key prefix is longer than S3's {S3_KEY_MAX_BYTES}-byte key limit"
    return None


def split_s3_uri(uri: str) -> tuple[str, str]:
    """``s3://bucket/some/prefix/`` -> ``('bucket', 'some/prefix/')``, for a URI :func:`s3_uri_error` accepts."""
    bucket, _, prefix = uri[len(S3_URI_SCHEME) :].partition("/")
    return bucket, prefix


def _positive_number(value: Any, what: str) -> Any:
    if isinstance(value, (bool, str)):
        raise MODEL_NUMBER.invalid(f"{what} must be a number, not {value!r}")
    return value


class ModelSpec(Model):
    """The weights an engine serves, read from S3 at start (never baked into an image)."""

    uri: str
    """``s3://bucket/prefix/``: the folder of the model's weights and tokenizer, mounted read-only."""
    compiled_uri: str | None = None
    """``s3://bucket/prefix/``: compiled Neuron artifacts for this model and layout, so that no start recompiles."""
    size_gib: float = Field(gt=0, le=MODEL_SIZE_GIB_MAX, allow_inf_nan=False)
    """The weights as they sit in device memory (about 2 bytes per parameter in bf16)."""
    layers: StrictInt | None = Field(default=None, ge=1, le=1024)
    heads: StrictInt | None = Field(default=None, ge=1, le=4096)
    """Attention (query) heads."""
    kv_heads: StrictInt | None = Field(default=None, ge=1, le=4096)
    """Key/value heads (fewer than ``heads`` with grouped-query attention)."""
    head_dim: StrictInt | None = Field(default=None, ge=1, le=4096)

    @field_validator("uri", "compiled_uri")
    @classmethod
    def _uri(cls, value: str | None, info: Any) -> str | None:
        error = None if value is None else s3_uri_error(value, info.field_name)
        if error:
            raise S3_URI.invalid(error)
        return value

    @field_validator("size_gib", mode="before")
    @classmethod
    def _size(cls, value: Any) -> Any:
        return _positive_number(value, "size_gib")

    @model_validator(mode="after")
    def _shape(self) -> ModelSpec:
        shape = {"layers": self.layers, "heads": self.heads, "kv_heads": self.kv_heads, "head_dim": self.head_dim}
        given = [name for name, value in shape.items() if value is not None]
        if given and len(given) < len(shape):
            missing = [name for name in shape if name not in given]
            raise MODEL_SHAPE.invalid(
                f"the model's shape is given in part ({', '.join(given)}): give {', '.join(missing)} too (all four "
                "size the KV cache), or none to check the weights alone"
            )
        if self.heads is not None and self.kv_heads is not None and self.heads % self.kv_heads:
            raise MODEL_SHAPE.invalid(
                f"kv_heads {self.kv_heads} must divide heads {self.heads}: each key/value head serves a whole group of "
                "query heads (1 and heads itself always do)"
            )
        return self

    @property
    def has_shape(self) -> bool:
        return self.layers is not None


class EngineSpec(Model):
    """The serving engine of an LLM API: one vLLM server per replica, tensor-parallel over the replica's NeuronCores."""

    kind: Literal["vllm"] = "vllm"
    max_model_len: StrictInt = Field(ge=16, le=MAX_MODEL_LEN_MAX)
    """Longest sequence (prompt plus generated tokens) the engine accepts: ``--max-model-len``."""
    max_num_seqs: StrictInt = Field(ge=1, le=MAX_NUM_SEQS_MAX)
    """Sequences decoded at once (the continuous batch): ``--max-num-seqs``."""


ENGINE_HEALTH_PATH: Final = "/health"
"""vLLM's OpenAI-compatible server answers 200 here once the model is loaded."""


class ApiSpec(Model):
    """One inference API: a Deployment on a Neuron node group and everything around it."""

    name: str
    node_group: str
    image: str | None = Field(default=None, min_length=1)
    """The server's image. Required, except for an API with an ``engine``: its default is the pinned Neuron vLLM
    container of the node group's family (``catalog.versions.VLLM_NEURON_IMAGES``)."""
    port: StrictInt = Field(default=8080, ge=1024, le=65535)
    """Container port; 1024 or above because pods run as a non-root user."""
    compute: ComputeSpec = Field(default_factory=ComputeSpec)
    processes_per_replica: StrictInt = Field(default=1, ge=1, le=INT32_MAX)
    threads_per_process: StrictInt = Field(default=1, ge=1, le=INT32_MAX)
    compiled_neuroncores: StrictInt | None = Field(default=None, ge=1, le=INT32_MAX)
    """NeuronCores the model was compiled for (``--num-neuroncores``). Default: the NCG size."""
    autoscaling: AutoscalingSpec = Field(default_factory=AutoscalingSpec)
    health_path: str = "/healthz"
    """HTTP path for readiness and liveness probes on ``port``."""
    env: dict[str, str] = Field(default={})
    """Extra variables, values verbatim; names and sizes are checked by the validation rules."""
    endpoint: bool | None = None
    """Route ``/<name>/...`` of the config's load balancer to this API. Default: true when ``endpoints`` is set."""
    allowed_namespaces: list[Annotated[str, AfterValidator(_namespace_name)]] | None = Field(
        default=None, min_length=1, max_length=MAX_ALLOWED_NAMESPACES
    )
    """Namespaces (DNS-1123 labels, each at most once) whose pods may call the API; its NetworkPolicy admits no other
    pod. Default: every namespace of the cluster for an API without endpoint, none for an exposed one (its load
    balancer only)."""
    endpoint_priority: StrictInt | None = Field(default=None, ge=1, le=LISTENER_RULE_PRIORITY_MAX)
    """The listener rule priority of this API's route. Default: one derived from the name alone, so that adding,
    removing or renaming another API never moves this one; set it only when validation reports two names that derive
    the same priority."""
    startup_timeout_seconds: StrictInt | None = Field(default=None, ge=STARTUP_TIMEOUT_MIN, le=STARTUP_TIMEOUT_MAX)
    """How long a new replica may take to load its model before the kubelet restarts it (the startup probe's budget;
    scale-up is paced to outrun it). Default: 600, or for an engine one from the model's size (see
    :mod:`inferentia_cdk.planning.startup`)."""
    model: ModelSpec | None = None
    """The weights of an LLM API, read-only from S3 (needs ``engine``)."""
    engine: EngineSpec | None = None
    """Serve ``model`` with vLLM; the tensor-parallel degree is the replica's NeuronCores (``processes_per_replica``
    must be 1)."""

    @model_validator(mode="before")
    @classmethod
    def _engine_health_path(cls, data: Any) -> Any:
        if isinstance(data, dict) and data.get("engine") is not None and "health_path" not in data:
            return {**data, "health_path": ENGINE_HEALTH_PATH}
        return data

    @model_validator(mode="after")
    def _image_or_engine(self) -> ApiSpec:
        if self.engine is None and self.image is None:
            raise IMAGE_REQUIRED.invalid(
                "image is required: the server image of the API (only an API with an engine has a default, the "
                "pinned Neuron vLLM container)"
            )
        if self.engine is not None and self.model is None:
            raise ENGINE_AND_MODEL.invalid("an engine needs a model: give model.uri and model.size_gib")
        if self.model is not None and self.engine is None:
            raise ENGINE_AND_MODEL.invalid(
                "model is served by an engine: add engine (kind vllm, max_model_len, max_num_seqs)"
            )
        return self

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not is_token(value) and (len(value) > 63 or not DNS_1035_LABEL.fullmatch(value)):
            raise API_NAME.invalid(
                f"API name {shown(value)} is not a DNS-1035 label, which its Service name must be: use at most 63 "
                "lowercase letters, digits and '-', starting with a letter and ending with a letter or digit"
            )
        return value

    @field_validator("image")
    @classmethod
    def _image(cls, value: str | None) -> str | None:
        error = None if value is None or is_token(value) else image_error(value)
        if error:
            raise IMAGE.invalid(error)
        return value

    @field_validator("allowed_namespaces")
    @classmethod
    def _allowed_namespaces(cls, value: list[str] | None) -> list[str] | None:
        if value is not None and len(set(value)) != len(value):
            repeated = sorted({name for name in value if value.count(name) > 1})
            raise ALLOWED_NAMESPACES.invalid(f"lists {', '.join(map(repr, repeated))} more than once")
        return value

    @field_validator("health_path")
    @classmethod
    def _health_path(cls, value: str) -> str:
        if not is_token(value) and not HEALTH_PATH.fullmatch(value):
            raise HEALTH_PATH_GRAMMAR.invalid(
                f"health_path {shown(value)} must start with '/' and be printable ASCII without spaces, at most "
                "1024 characters"
            )
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
    idle_timeout_seconds: StrictInt = Field(default=60, ge=1, le=4000)
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


ACKNOWLEDGEMENT_REASON = rule(
    "ACK002", "error", "an acknowledgement gives its reason: plain text of 1-500 printable characters"
)
ACKNOWLEDGEMENT_REASON_MAX = 500


def acknowledgement_reason_error(value: object) -> str | None:
    """Why ``value`` is not the reason of an acknowledgement (plain printable text, 1-500 characters), or None."""
    if (
        isinstance(value, str)
        and value.strip()
        and len(value) <= ACKNOWLEDGEMENT_REASON_MAX
        and value.isprintable()
        and not is_token(value)
    ):
        return None
    return (
        f"the reason {shown(value)} must be plain text of 1-{ACKNOWLEDGEMENT_REASON_MAX} printable characters saying "
        "why the warning does not apply here"
    )


def _acknowledgement_reason(value: str) -> str:
    error = acknowledgement_reason_error(value)
    if error:
        raise ACKNOWLEDGEMENT_REASON.invalid(error)
    return value


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
    apis: list[ApiSpec] = Field(default=[])
    endpoints: EndpointsSpec | None = None
    """Expose APIs through one load balancer with a URL each. Absent: APIs stay cluster-internal (ClusterIP)."""
    observability: ObservabilitySpec = Field(default_factory=ObservabilitySpec)
    acknowledge: dict[str, Annotated[str, AfterValidator(_acknowledgement_reason)]] = Field(default={})
    """Warnings acknowledged by rule code, each with its reason (``{NG006: "..."}``): they leave the output, and
    ``validate`` and ``plan`` list them. Warning codes only (docs/rules.md); an error cannot be acknowledged."""

    @model_validator(mode="before")
    @classmethod
    def _engine_scaling_default(cls, data: Any) -> Any:
        """An engine API that leaves ``autoscaling.metric`` out scales on requests per replica when exposed, else on
        NeuronCore utilisation (an LLM's cores are busy whether its batch is full or not)."""
        if not isinstance(data, dict) or not isinstance(data.get("apis"), list):
            return data
        endpoints = data.get("endpoints") is not None
        apis = []
        for api in data["apis"]:
            scaling = api.get("autoscaling", {}) if isinstance(api, dict) else None
            engine = isinstance(api, dict) and api.get("engine") is not None
            if engine and isinstance(scaling, dict) and "metric" not in scaling:
                exposed = endpoints and api.get("endpoint") is not False
                metric = "requests_per_replica" if exposed else "neuroncore_utilization"
                api = {**api, "autoscaling": {**scaling, "metric": metric}}
            apis.append(api)
        return {**data, "apis": apis}

    def node_group(self, name: str) -> NodeGroupSpec | None:
        return next((g for g in self.node_groups if g.name == name), None)

    def model_apis(self) -> list[ApiSpec]:
        """The APIs that read a model from S3 (the cluster then runs the Mountpoint for Amazon S3 CSI driver)."""
        return [api for api in self.apis if api.model is not None]

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

    def deployed_device_plugin(self) -> DevicePluginSpec:
        """``device_plugin`` as the cluster runs it: ``monitor`` off where the add-on already runs neuron-monitor."""
        return self.device_plugin.model_copy(update={"monitor": self.neuron_monitor()})
