"""Endpoints and operator access, planned and checked without CDK: which APIs the load balancer routes to, the
listener rule priority and stack output of each, and the rules of ``endpoints``, ``cluster.admins`` and
``cluster.public_access_cidrs``.
"""

from __future__ import annotations

import ipaddress
import re
import zlib
from collections.abc import Sequence
from dataclasses import dataclass

from ..config.models import ApiSpec, EndpointsSpec, InferentiaConfig
from ..config.problems import Path, Problem, rule

# Elastic Load Balancing quotas of an Application Load Balancer: 100 rules (default rules not counted) and 100 target
# groups. Each exposed API takes one rule and one target group, so one load balancer carries at most 100 APIs.
MAX_EXPOSED_APIS = 100
# Listener rule priorities are 1-50000 and unique per listener.
MAX_RULE_PRIORITY = 50_000

DEREGISTRATION_DELAY_SECONDS = 30
"""How long the load balancer lets a leaving pod finish its in-flight requests (target group attribute)."""
PRE_STOP_SLEEP_SECONDS = DEREGISTRATION_DELAY_SECONDS + 5
"""A leaving pod keeps serving this long before it gets SIGTERM: the deregistration delay plus the seconds the load
balancer takes to stop sending new requests once deregistration starts."""
TERMINATION_GRACE_PERIOD_SECONDS = PRE_STOP_SLEEP_SECONDS + 30
"""The pre-stop pause plus 30 s for the model server's own graceful shutdown after SIGTERM."""

# A role or user of IAM; paths (e.g. aws-reserved/sso.amazonaws.com/) are allowed.
_PRINCIPAL_ARN = re.compile(r"arn:aws(-cn|-us-gov)?:iam::[0-9]{12}:(role|user)/([\w+=,.@-]+/)*[\w+=,.@-]{1,128}")
_SESSION_ARN = re.compile(r"arn:aws(-cn|-us-gov)?:sts::[0-9]{12}:assumed-role/([\w+=,.@-]+)/[\w+=,.@-]+")
_CERTIFICATE_ARN = re.compile(
    r"arn:aws(-cn|-us-gov)?:acm:(?P<region>[a-z]{2}(-[a-z]+)+-[0-9]):(?P<account>[0-9]{12}):certificate/[0-9a-f-]{36}"
)
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


def _slot(name: str) -> int:
    return zlib.crc32(name.encode()) % MAX_RULE_PRIORITY + 1


def rule_priorities(names: Sequence[str]) -> dict[str, int]:
    """A listener rule priority per API name, from a hash of the name so that it never depends on the other APIs.

    When two names hash to one priority, the one listed first keeps it and the other takes the next free one: an API
    appended to the list never moves another API's rule.
    """
    taken: set[int] = set()
    priorities: dict[str, int] = {}
    for name in names:
        priority = _slot(name)
        while priority in taken:
            priority = priority % MAX_RULE_PRIORITY + 1
        taken.add(priority)
        priorities[name] = priority
    return priorities


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
    priorities = rule_priorities([api.name for api in exposed])
    return EndpointsPlan(
        config.endpoints,
        tuple(
            ExposedApi(api.name, api.port, api.health_path, priorities[api.name], output_id(api.name))
            for api in exposed
        ),
    )


def _network(value: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network | None:
    try:
        return ipaddress.ip_network(value, strict=True)
    except ValueError:
        return None


CIDR_GRAMMAR = rule("NET001", "error", "a CIDR is address/prefix with its host bits zero")
PUBLIC_ACCESS_IPV4 = rule("NET002", "error", "public_access_cidrs are IPv4 (what EKS public endpoint access takes)")


def _cidr_problems(cidrs: Sequence[str], path: Path, *, ipv4_only: bool = False) -> list[Problem]:
    problems = []
    for i, cidr in enumerate(cidrs):
        network = _network(cidr)
        if network is None:
            problems.append(
                CIDR_GRAMMAR.problem(
                    (*path, i),
                    f"{cidr!r} is not a CIDR block with its host bits zero, such as '10.20.0.0/16' or '203.0.113.7/32'",
                )
            )
        elif ipv4_only and network.version != 4:
            problems.append(
                PUBLIC_ACCESS_IPV4.problem((*path, i), f"{cidr!r} is IPv6; EKS public endpoint access takes IPv4 CIDRs")
            )
    return problems


HTTPS_ON_INTERNET = rule("EP001", "error", "an internet-facing load balancer serves HTTPS (certificate_arn)")
CERTIFICATE_ARN = rule("EP002", "error", "certificate_arn is an ACM certificate ARN")
CERTIFICATE_REGION = rule("EP003", "error", "the certificate is in the cluster's region")
CERTIFICATE_ACCOUNT = rule("EP004", "error", "the certificate is in the cluster's account")
ALLOWED_CIDRS_REQUIRED = rule(
    "EP005", "error", "an internet-facing load balancer names who may call it (allowed_cidrs)"
)
ALLOWED_CIDRS_EMPTY = rule("EP006", "error", "allowed_cidrs is not empty")
ANY_SOURCE = rule("EP007", "error", "APIs open to every address say so with allow_any_source")
DOMAIN_NAME = rule("EP008", "error", "domain_name is a DNS name")
REGION_FOR_ENDPOINTS = rule("EP009", "error", "cluster.region is set when APIs are exposed (access log bucket policy)")
EXPOSED_APIS_LIMIT = rule("EP010", "error", "one load balancer exposes at most 100 APIs (listener rule quota)")


def _check_endpoints_section(config: InferentiaConfig, spec: EndpointsSpec) -> list[Problem]:
    path: Path = ("endpoints",)
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
        match = _CERTIFICATE_ARN.fullmatch(spec.certificate_arn)
        if match is None:
            problems.append(
                CERTIFICATE_ARN.problem(
                    (*path, "certificate_arn"),
                    f"{spec.certificate_arn!r} is not an ACM certificate ARN "
                    "(arn:aws:acm:REGION:ACCOUNT:certificate/ID)",
                )
            )
        else:
            region, account = match.group("region"), match.group("account")
            if config.cluster.region is not None and region != config.cluster.region:
                problems.append(
                    CERTIFICATE_REGION.problem(
                        (*path, "certificate_arn"),
                        f"the certificate is in {region}, but a load balancer can only use certificates of its own "
                        f"region, cluster.region {config.cluster.region!r}",
                    )
                )
            if config.cluster.account is not None and account != config.cluster.account:
                problems.append(
                    CERTIFICATE_ACCOUNT.problem(
                        (*path, "certificate_arn"),
                        f"the certificate belongs to account {account}, not cluster.account {config.cluster.account}",
                    )
                )
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
        problems += _cidr_problems(spec.allowed_cidrs, (*path, "allowed_cidrs"))
        for i, cidr in enumerate(spec.allowed_cidrs):
            network = _network(cidr)
            if network is not None and network.prefixlen == 0 and not spec.allow_any_source:
                problems.append(
                    ANY_SOURCE.problem(
                        (*path, "allowed_cidrs", i),
                        f"{cidr!r} lets anyone call the APIs; set allow_any_source: true to say that is intended",
                    )
                )
    if spec.domain_name is not None and not _DNS_NAME.fullmatch(spec.domain_name):
        problems.append(
            DOMAIN_NAME.problem(
                (*path, "domain_name"),
                f"{spec.domain_name!r} is not a DNS name: lowercase labels of letters, digits and '-' joined by '.', "
                "such as 'api.example.com'",
            )
        )
    exposed = config.exposed_apis()
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


def principal_problem(arn: str) -> str | None:
    """Why ``arn`` cannot be given cluster access, or None for an IAM role or user ARN."""
    if _PRINCIPAL_ARN.fullmatch(arn):
        return None
    session = _SESSION_ARN.fullmatch(arn)
    if session is not None:
        return (
            f"{arn!r} is a session of role {session.group(2)!r}, which ends when the session does; give the role "
            "itself, arn:aws:iam::ACCOUNT:role/NAME (with its path, if it has one)"
        )
    return f"{arn!r} is not an IAM role or user ARN (arn:aws:iam::ACCOUNT:role/NAME or arn:aws:iam::ACCOUNT:user/NAME)"


ADMIN_ARN = rule("OPS001", "error", "cluster.admins are IAM role or user ARNs")
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
        reason = principal_problem(arn)
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
        problems += _cidr_problems(cluster.public_access_cidrs, path, ipv4_only=True)
    return problems


def api_url(plan: EndpointsPlan, api: ApiSpec | ExposedApi, host: str) -> str:
    """The URL clients call an API at; ``host`` is the domain name or the load balancer's DNS name."""
    return f"{plan.url_scheme}://{host}/{api.name}/"
