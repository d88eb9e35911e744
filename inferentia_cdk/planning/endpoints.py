"""Endpoints and operator access, planned and checked without CDK: which APIs the load balancer routes to, the
listener rule priority and stack output of each, and the rules of ``endpoints``, ``cluster.admins`` and
``cluster.public_access_cidrs``.
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, replace

from pydantic import ValidationError

from ..config.aws_grammar import (
    Network,
    certificate_arn_error,
    covers_internet,
    is_public,
    parse_cidr,
    principal_arn_error,
)
from ..config.models import LISTENER_RULE_PRIORITY_MAX, ApiSpec, EndpointsSpec, InferentiaConfig
from ..config.problems import Path, Problem, argument_problem, pydantic_problems, rule

# Elastic Load Balancing quotas of an Application Load Balancer: 100 rules (default rules not counted) and 100 target
# groups. Each exposed API takes one rule and one target group, so one load balancer carries at most 100 APIs.
MAX_EXPOSED_APIS = 100
MAX_RULE_PRIORITY = LISTENER_RULE_PRIORITY_MAX
SECURITY_GROUP_RULES_QUOTA = 60
"""Amazon VPC quota "Inbound rules per security group": 60 by default, adjustable (VPC User Guide,
Amazon VPC quotas, checked 2026-12-04). The load balancer's security group takes one inbound rule per allowed CIDR."""
EKS_PUBLIC_ACCESS_CIDRS_QUOTA = 40
"""Amazon EKS quota "Public endpoint access CIDR ranges per cluster": 40, not adjustable (EKS User Guide, Amazon EKS
service quotas, checked 2026-12-04)."""

CIDR_GRAMMAR = rule("NET150", "error", "CIDR lists take address/prefix blocks with the host bits zero, as AWS does")
CIDR_IPV6_ON_IPV4 = rule("NET151", "error", "no IPv6 sources on the IPv4-only load balancer")
CIDR_ANY_SOURCE = rule("NET152", "error", "allowed_cidrs covering the whole internet needs allow_any_source")
CIDR_RULES_QUOTA = rule("NET153", "warning", "allowed_cidrs within the security group rules quota")
PUBLIC_ACCESS_PRIVATE_RANGE = rule("NET154", "error", "public_access_cidrs holds public ranges only")
PUBLIC_ACCESS_QUOTA = rule("NET155", "error", "at most 40 public_access_cidrs (EKS quota, not adjustable)")
PUBLIC_ACCESS_IPV6 = rule("NET156", "error", "public_access_cidrs are IPv4 (the cluster is IPv4)")
PUBLIC_ACCESS_ANY_SOURCE = rule(
    "NET157", "error", "public_access_cidrs covering the whole internet needs public_access_any_source"
)
CERTIFICATE_ARN = rule("ARN160", "error", "certificate_arn is an ACM certificate of the cluster's partition and region")
ADMIN_ARN = rule("ARN162", "error", "cluster.admins are IAM role or user ARNs of the cluster's partition")
PRIORITY_COLLISION = rule("EP180", "error", "exposed APIs have distinct listener rule priorities")

CLUSTER_VPC_CIDR = "10.0.0.0/16"
"""The IPv4 block of the cluster stack's VPC (aws-cdk-lib's default, stated): the load balancer's default clients and
its egress to the pods are this literal, which cdk-nag, cfn-lint and a reader can evaluate, rather than the VPC's
deploy-time ``CidrBlock`` attribute (on which cdk-nag's AwsSolutions-EC23 throws instead of judging)."""
# Security groups: 60 inbound and 60 outbound rules each (VPC quotas, adjustable; default). The load balancer's group
# has one outbound rule per distinct API port.
MAX_SECURITY_GROUP_RULES = 60
LOAD_BALANCER_EGRESS_PORTS = rule(
    "EP250", "error", "the load balancer's security group has an outbound rule per distinct API port, at most 60"
)

DEREGISTRATION_DELAY_SECONDS = 30
"""How long the load balancer lets a leaving pod finish its in-flight requests (target group attribute)."""
PRE_STOP_SLEEP_SECONDS = DEREGISTRATION_DELAY_SECONDS + 5
"""A leaving pod keeps serving this long before it gets SIGTERM: the deregistration delay plus the seconds the load
balancer takes to stop sending new requests once deregistration starts."""
TERMINATION_GRACE_PERIOD_SECONDS = PRE_STOP_SLEEP_SECONDS + 30
"""The pre-stop pause plus 30 s for the model server's own graceful shutdown after SIGTERM."""

_DNS_NAME = re.compile(r"(?=.{1,253}$)([a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?\.)+[a-z]([-a-z0-9]{0,61}[a-z0-9])?")


@dataclass(frozen=True)
class ExposedApi:
    """One API behind the load balancer: ``/<name>/...`` is routed to it, with the prefix removed."""

    name: str
    port: int
    health_path: str
    priority: int
    output_id: str

    @property
    def path_prefix(self) -> str:
        return f"/{self.name}"


@dataclass(frozen=True)
class EndpointsPlan:
    """What the load balancer serves: its listener and the APIs behind it."""

    spec: EndpointsSpec
    apis: tuple[ExposedApi, ...]

    @property
    def https(self) -> bool:
        return self.spec.certificate_arn is not None

    @property
    def listener_port(self) -> int:
        return 443 if self.https else 80

    @property
    def url_scheme(self) -> str:
        return "https" if self.https else "http"

    @property
    def internet_facing(self) -> bool:
        return self.spec.scheme == "internet-facing"

    def api(self, name: str) -> ExposedApi | None:
        return next((api for api in self.apis if api.name == name), None)

    @property
    def api_ports(self) -> tuple[int, ...]:
        """The distinct ports the load balancer calls pods on: its only way out (one egress rule each)."""
        return tuple(sorted({api.port for api in self.apis}))

    def client_cidrs(self, vpc_cidr: str) -> tuple[str, ...]:
        """Who may connect: ``allowed_cidrs``, or else the VPC's CIDR ``vpc_cidr``."""
        return tuple(self.spec.allowed_cidrs) if self.spec.allowed_cidrs is not None else (vpc_cidr,)


def derived_priority(name: str) -> int:
    """The listener rule priority an API gets from its name alone (a CRC-32 of it)."""
    return zlib.crc32(name.encode()) % MAX_RULE_PRIORITY + 1


def rule_priority(api: ApiSpec) -> int:
    """An API's listener rule priority: ``endpoint_priority``, else derived from its name.

    Stateless on purpose: CloudFormation creates and updates rules before it deletes the removed ones, so a priority
    that moved because another API left (or arrived, or was renamed) would be taken by the old rule in that very update
    (PriorityInUse, and a rollback). A function of the API alone never moves; names that meet on one priority are
    refused (:func:`check_priorities`) until one of them states ``endpoint_priority``.
    """
    return api.endpoint_priority if api.endpoint_priority is not None else derived_priority(api.name)


def rule_priorities(apis: Sequence[ApiSpec]) -> dict[str, int]:
    """A listener rule priority per API name; each depends on its own API only."""
    return {api.name: rule_priority(api) for api in apis}


def check_priorities(config: InferentiaConfig) -> list[Problem]:
    """Every exposed API after the first on a priority is refused, with the fix: an explicit ``endpoint_priority``."""
    problems: list[Problem] = []
    holders: dict[int, str] = {}
    taken = {rule_priority(api) for api in config.exposed_apis()}
    for i, api in enumerate(config.apis):
        if config.endpoints is None or api.endpoint is False:
            continue
        priority = rule_priority(api)
        holder = holders.setdefault(priority, api.name)
        if holder == api.name:
            continue
        field = "endpoint_priority" if api.endpoint_priority is not None else "name"
        free = next(p for p in (*range(priority + 1, MAX_RULE_PRIORITY + 1), *range(1, priority)) if p not in taken)
        problems.append(
            PRIORITY_COLLISION.problem(
                ("apis", i, field),
                f"API {api.name!r} would take listener rule priority {priority}, which API {holder!r} has; set "
                f"apis[{i}].endpoint_priority to a free priority (1-{MAX_RULE_PRIORITY}, such as {free}): priorities "
                "never follow the order of the list, so that removing an API never moves another onto its rule",
            )
        )
    return problems


def output_id(api_name: str) -> str:
    """The stack output of an API's URL: its name in CamelCase (output ids are alphanumeric) and ``Url``,
    ``bert-large`` -> ``BertLargeUrl``. The suffix keeps it apart from every other id of the APIs stack (the nested
    stacks ``Shard00``-``Shard31``) and from CDK's own (``BootstrapVersion``, ``CheckBootstrapVersion``,
    ``CDKMetadata``), whatever the API is called."""
    return "".join(part[:1].upper() + part[1:] for part in api_name.split("-")) + "Url"


def plan_endpoints(config: InferentiaConfig) -> EndpointsPlan | None:
    """The load balancer's plan, or None when no API is exposed (no load balancer then)."""
    exposed = config.exposed_apis()
    if config.endpoints is None or not exposed:
        return None
    priorities = rule_priorities(exposed)
    return EndpointsPlan(
        config.endpoints,
        tuple(
            ExposedApi(api.name, api.port, api.health_path, priorities[api.name], output_id(api.name))
            for api in exposed
        ),
    )


def parse_cidrs(cidrs: Sequence[str], path: Path) -> tuple[list[tuple[int, Network]], list[Problem]]:
    """The blocks of a CIDR list with their indexes, and a problem for each item that is not one."""
    networks: list[tuple[int, Network]] = []
    problems: list[Problem] = []
    for i, cidr in enumerate(cidrs):
        parsed = parse_cidr(cidr)
        if isinstance(parsed, str):
            problems.append(CIDR_GRAMMAR.problem((*path, i), parsed))
        else:
            networks.append((i, parsed))
    return networks, problems


def check_allowed_cidrs(spec: EndpointsSpec, path: Path = ("endpoints", "allowed_cidrs")) -> list[Problem]:
    """``allowed_cidrs``: blocks AWS takes, IPv4 (the load balancer has no IPv6 address), the whole internet only with
    ``allow_any_source``, and a warning beyond the security group's rules quota."""
    cidrs = spec.allowed_cidrs or []
    networks, problems = parse_cidrs(cidrs, path)
    for i, network in networks:
        if network.version == 6:
            problems.append(
                CIDR_IPV6_ON_IPV4.problem(
                    (*path, i),
                    f"{str(network)!r} is IPv6, but the load balancer is IPv4-only (the VPC has no IPv6 block), so "
                    "this source reaches no one; list the IPv4 blocks of the callers instead",
                )
            )
    # IPv6 blocks are refused above, so only IPv4 can admit everyone.
    if not spec.allow_any_source and covers_internet([n for _, n in networks], 4):
        index = next(i for i, n in networks if n.version == 4)
        problems.append(
            CIDR_ANY_SOURCE.problem(
                (*path, index),
                "the blocks of allowed_cidrs together cover every IPv4 address (0.0.0.0/0), so anyone may call the "
                "APIs; set allow_any_source: true to say that is intended",
            )
        )
    if len(cidrs) > SECURITY_GROUP_RULES_QUOTA:
        problems.append(
            CIDR_RULES_QUOTA.problem(
                path,
                f"{len(cidrs)} CIDRs make {len(cidrs)} inbound rules on the load balancer's security group, above "
                f"{SECURITY_GROUP_RULES_QUOTA}, the default Amazon VPC quota 'Inbound rules per security group': the "
                "deploy fails unless that quota was raised; merge blocks into larger ones if you can",
            )
        )
    return problems


def check_public_access_cidrs(
    cidrs: Sequence[str], any_source: bool, path: Path = ("cluster", "public_access_cidrs")
) -> list[Problem]:
    """``public_access_cidrs`` as EKS takes them: at most 40 public IPv4 blocks; the whole internet only when
    ``public_access_any_source`` says so."""
    networks, problems = parse_cidrs(cidrs, path)
    for i, network in networks:
        if network.version == 6:
            problems.append(
                PUBLIC_ACCESS_IPV6.problem(
                    (*path, i), f"{str(network)!r} is IPv6; the cluster is IPv4, and EKS takes only IPv4 blocks here"
                )
            )
        elif not is_public(network):
            problems.append(
                PUBLIC_ACCESS_PRIVATE_RANGE.problem(
                    (*path, i),
                    f"{str(network)!r} is not public address space (private, shared, loopback, link-local, multicast "
                    "or reserved), which EKS refuses for the public endpoint; callers inside the VPC use the private "
                    "endpoint, so list the public addresses your operators connect from",
                )
            )
    if len(cidrs) > EKS_PUBLIC_ACCESS_CIDRS_QUOTA:
        problems.append(
            PUBLIC_ACCESS_QUOTA.problem(
                path,
                f"lists {len(cidrs)} blocks, but EKS takes at most {EKS_PUBLIC_ACCESS_CIDRS_QUOTA} per cluster (quota "
                "'Public endpoint access CIDR ranges per cluster', not adjustable); merge blocks into larger ones",
            )
        )
    if not any_source and covers_internet([n for _, n in networks], 4):
        problems.append(
            PUBLIC_ACCESS_ANY_SOURCE.problem(
                path,
                "covers every IPv4 address (0.0.0.0/0), so the Kubernetes API server is open to the whole internet; "
                "set cluster.public_access_any_source: true to say that is intended, or list your operators' networks",
            )
        )
    return problems


HTTPS_ON_INTERNET = rule("EP001", "error", "an internet-facing load balancer serves HTTPS (certificate_arn)")
ALLOWED_CIDRS_REQUIRED = rule(
    "EP005", "error", "an internet-facing load balancer names who may call it (allowed_cidrs)"
)
ALLOWED_CIDRS_EMPTY = rule("EP006", "error", "allowed_cidrs is not empty")
DOMAIN_NAME = rule("EP008", "error", "domain_name is a DNS name")
REGION_FOR_ENDPOINTS = rule("EP009", "error", "cluster.region is set when APIs are exposed (access log bucket policy)")
EXPOSED_APIS_LIMIT = rule("EP010", "error", "one load balancer exposes at most 100 APIs (listener rule quota)")


def check_endpoints_spec(
    spec: EndpointsSpec, *, region: str | None, account: str | None, path: Path = ("endpoints",)
) -> list[Problem]:
    """The rules of one ``endpoints`` section on its own; ``region`` and ``account`` (None when unknown) are the
    cluster's. The config path and :class:`inferentia_cdk.constructs.api_load_balancer.ApiLoadBalancer` both run it."""
    problems: list[Problem] = []
    internet_facing = spec.scheme == "internet-facing"
    if internet_facing and spec.certificate_arn is None:
        problems.append(
            HTTPS_ON_INTERNET.problem(
                (*path, "certificate_arn"),
                "an internet-facing load balancer needs certificate_arn (an ACM certificate in the cluster's region): "
                "requests and answers would otherwise cross the internet unencrypted",
            )
        )
    if spec.certificate_arn is not None:
        reason = certificate_arn_error(spec.certificate_arn, region=region, account=account)
        if reason is not None:
            problems.append(CERTIFICATE_ARN.problem((*path, "certificate_arn"), reason))
    if spec.allowed_cidrs is None:
        if internet_facing:
            problems.append(
                ALLOWED_CIDRS_REQUIRED.problem(
                    (*path, "allowed_cidrs"),
                    "an internet-facing load balancer needs allowed_cidrs, the networks that may call the APIs "
                    "(0.0.0.0/0 for everyone, together with allow_any_source: true)",
                )
            )
    elif not spec.allowed_cidrs:
        problems.append(
            ALLOWED_CIDRS_EMPTY.problem((*path, "allowed_cidrs"), "is empty, so nobody could call the APIs")
        )
    else:
        problems += check_allowed_cidrs(spec, (*path, "allowed_cidrs"))
    if spec.domain_name is not None and not _DNS_NAME.fullmatch(spec.domain_name):
        problems.append(
            DOMAIN_NAME.problem(
                (*path, "domain_name"),
                f"{spec.domain_name!r} is not a DNS name: lowercase labels of letters, digits and '-' joined by '.', "
                "such as 'api.example.com'",
            )
        )
    return problems


def _check_endpoints_section(config: InferentiaConfig, spec: EndpointsSpec) -> list[Problem]:
    path: Path = ("endpoints",)
    problems = check_endpoints_spec(spec, region=config.cluster.region, account=config.cluster.account)
    exposed = config.exposed_apis()
    ports = sorted({api.port for api in exposed})
    if len(ports) > MAX_SECURITY_GROUP_RULES:
        problems.append(
            LOAD_BALANCER_EGRESS_PORTS.problem(
                path,
                f"the exposed APIs listen on {len(ports)} different ports, but the load balancer reaches its pods "
                f"through one security group rule per port, at most {MAX_SECURITY_GROUP_RULES} (VPC quota); put "
                "APIs on shared ports",
            )
        )
    if exposed and config.cluster.region is None:
        problems.append(
            REGION_FOR_ENDPOINTS.problem(
                ("cluster", "region"),
                "is required with endpoints: the load balancer's access logs go to a bucket whose policy names the "
                "region's Elastic Load Balancing log delivery, which is known only for a region-specific stack",
            )
        )
    if len(exposed) > MAX_EXPOSED_APIS:
        problems.append(
            EXPOSED_APIS_LIMIT.problem(
                path,
                f"{len(exposed)} APIs are exposed, but one Application Load Balancer holds at most {MAX_EXPOSED_APIS} "
                "listener rules and target groups (Elastic Load Balancing quotas); set endpoint: false on "
                f"{len(exposed) - MAX_EXPOSED_APIS} of them or split them over two configs",
            )
        )
    return problems


ENDPOINT_WITHOUT_SECTION = rule("EP011", "error", "an API that asks for an endpoint has an endpoints section")
OUTPUT_UNIQUE = rule("EP012", "error", "exposed APIs' names make distinct stack outputs")


def check_endpoints(config: InferentiaConfig) -> list[Problem]:
    """Every problem of ``endpoints`` and of the APIs' ``endpoint`` flags."""
    problems: list[Problem] = []
    if config.endpoints is None:
        for i, api in enumerate(config.apis):
            if api.endpoint:
                problems.append(
                    ENDPOINT_WITHOUT_SECTION.problem(
                        ("apis", i, "endpoint"),
                        f"API {api.name!r} asks for an endpoint, but the config has no endpoints section to put it on",
                    )
                )
        return problems
    problems += _check_endpoints_section(config, config.endpoints)
    problems += check_priorities(config)
    seen: dict[str, str] = {}
    for i, api in enumerate(config.apis):
        if api.endpoint is False:
            continue
        output = output_id(api.name)
        if output in seen and seen[output] != api.name:
            problems.append(
                OUTPUT_UNIQUE.problem(
                    ("apis", i, "name"),
                    f"API names {seen[output]!r} and {api.name!r} both make the stack output {output!r}; rename one",
                )
            )
        seen.setdefault(output, api.name)
    return problems


ADMIN_ONCE = rule("OPS002", "error", "cluster.admins lists each ARN once")
PUBLIC_ENDPOINT = rule("OPS003", "error", "the API server endpoint is not 'public' (it could not be limited)")
PUBLIC_CIDRS_UNUSED = rule("OPS004", "error", "public_access_cidrs is set only with a public endpoint")
PUBLIC_CIDRS_REQUIRED = rule(
    "OPS005", "error", "a public API server endpoint names who may reach it (public_access_cidrs)"
)


def check_operator_access(config: InferentiaConfig) -> list[Problem]:
    """Every problem of ``cluster.admins`` and ``cluster.public_access_cidrs``."""
    cluster = config.cluster
    problems: list[Problem] = []
    seen: set[str] = set()
    for i, arn in enumerate(cluster.admins):
        reason = principal_arn_error(arn, region=cluster.region)
        if reason is not None:
            problems.append(ADMIN_ARN.problem(("cluster", "admins", i), reason))
        elif arn in seen:
            problems.append(ADMIN_ONCE.problem(("cluster", "admins", i), f"{arn!r} is listed more than once"))
        seen.add(arn)
    path: Path = ("cluster", "public_access_cidrs")
    if cluster.endpoint_access == "public":
        problems.append(
            PUBLIC_ENDPOINT.problem(
                ("cluster", "endpoint_access"),
                "'public' cannot be limited to public_access_cidrs: the nodes would then reach the API server over the "
                "internet, from addresses the list would have to hold (aws-cdk-lib refuses it), so the endpoint would "
                "stay open to everyone; use public_and_private with public_access_cidrs, or private",
            )
        )
    elif cluster.endpoint_access == "private":
        if cluster.public_access_cidrs:
            problems.append(
                PUBLIC_CIDRS_UNUSED.problem(
                    path,
                    "has no effect with endpoint_access: private (the API server has no public endpoint); remove it "
                    "or set endpoint_access to public_and_private",
                )
            )
    elif not cluster.public_access_cidrs:
        problems.append(
            PUBLIC_CIDRS_REQUIRED.problem(
                path,
                f"is required with endpoint_access: {cluster.endpoint_access}: list the networks that may reach the "
                "public API server endpoint (EKS's default would be 0.0.0.0/0, the whole internet)",
            )
        )
    else:
        problems += check_public_access_cidrs(cluster.public_access_cidrs, cluster.public_access_any_source, path)
    return problems


def api_url(plan: EndpointsPlan, api: ApiSpec | ExposedApi, host: str) -> str:
    """The URL clients call an API at; ``host`` is the domain name or the load balancer's DNS name."""
    return f"{plan.url_scheme}://{host}/{api.name}/"


def exposed_api_problems(api: object, argument: str | Path = "api") -> list[Problem]:
    """Why ``api`` (a construct's keyword argument) is not an :class:`ExposedApi` that :func:`plan_endpoints` could
    have made: its name, port and health path under ``ApiSpec``'s rules, a listener rule priority in range and the
    output id of its name."""
    if not isinstance(api, ExposedApi):
        return [argument_problem(argument, api, "an ExposedApi (from plan_endpoints(config).apis)")]
    at: Path = (argument,) if isinstance(argument, str) else argument
    problems: list[Problem] = []
    fields = {"name": api.name, "port": api.port, "health_path": api.health_path}
    try:
        # ApiSpec's own validators, on the fields an endpoint uses: the other required fields are stand-ins.
        ApiSpec.model_validate({**fields, "node_group": "-", "image": "stand-in"})
    except ValidationError as error:
        problems += [replace(p, path=(*at, *p.path)) for p in pydantic_problems(error)]
    if (
        isinstance(api.priority, bool)
        or not isinstance(api.priority, int)
        or not 1 <= api.priority <= MAX_RULE_PRIORITY
    ):
        problems.append(argument_problem((*at, "priority"), api.priority, f"an int from 1 to {MAX_RULE_PRIORITY}"))
    if not problems and api.output_id != output_id(api.name):
        problems.append(argument_problem((*at, "output_id"), api.output_id, repr(output_id(api.name))))
    return problems
