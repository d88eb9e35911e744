"""AWS grammar, in one place: partitions and their regions, account ids, the ARNs a config names (ACM certificates,
SNS topics, IAM roles and users), IAM names and paths, availability zones, and CIDR blocks as aws-cdk-lib and EKS
take them. Everything else asks this module; nothing re-types these patterns.

Pure: no CDK import. Each ``*_error`` function returns why a value is not valid, or None.
"""

from __future__ import annotations

import functools
import ipaddress
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from .problems import shown

# --- partitions and regions ------------------------------------------------------------------------------------------

# Each partition's regionRegex from botocore/data/partitions.json (checked 2026-12-04), with \w narrowed to lowercase
# letters: a region flows into ARNs and Fn::Sub strings, where only the lowercase name is meant.
PARTITION_REGIONS: dict[str, re.Pattern[str]] = {
    "aws": re.compile(r"(us|eu|ap|sa|ca|me|af|il|mx)-[a-z]+-[0-9]+"),
    "aws-cn": re.compile(r"cn-[a-z]+-[0-9]+"),
    "aws-us-gov": re.compile(r"us-gov-[a-z]+-[0-9]+"),
    "aws-iso": re.compile(r"us-iso-[a-z]+-[0-9]+"),
    "aws-iso-b": re.compile(r"us-isob-[a-z]+-[0-9]+"),
    "aws-iso-e": re.compile(r"eu-isoe-[a-z]+-[0-9]+"),
    "aws-iso-f": re.compile(r"us-isof-[a-z]+-[0-9]+"),
    "aws-eusc": re.compile(r"eusc-de-[a-z]+-[0-9]+"),
}
PARTITIONS = tuple(PARTITION_REGIONS)
ACCOUNT_ID = re.compile(r"[0-9]{12}")
REGION_EXAMPLES = "us-east-1, eu-central-2, us-gov-west-1, cn-north-1 or eusc-de-east-1"


def partition_of(region: str) -> str | None:
    """The partition whose regions ``region`` is named like, or None for a name no partition has."""
    return next((p for p, pattern in PARTITION_REGIONS.items() if pattern.fullmatch(region)), None)


def region_error(value: object) -> str | None:
    if isinstance(value, str) and partition_of(value) is not None:
        return None
    return f"region {shown(value)} is not an AWS region name: lowercase like {REGION_EXAMPLES}"


def account_error(value: object) -> str | None:
    if isinstance(value, str) and ACCOUNT_ID.fullmatch(value):
        return None
    return f"account {shown(value)} must be a 12-digit AWS account id (quote it in YAML)"


# An availability zone's name is its region's and one letter (us-east-1a); zone ids (use1-az1) differ per account.
_AVAILABILITY_ZONE = re.compile(r"(?P<region>[a-z-]+-[0-9]+)[a-z]")
MIN_AVAILABILITY_ZONES = 2
"""EKS needs subnets in at least two availability zones."""
MAX_AVAILABILITY_ZONES = 6
"""No region has more than six (us-east-1); also the bound of ``cluster.max_azs``."""


def availability_zone_error(value: str, region: str | None) -> str | None:
    match = _AVAILABILITY_ZONE.fullmatch(value)
    if match is None or partition_of(match["region"]) is None:
        return (
            f"{shown(value)} is not an availability zone name: a region's name and one letter, such as us-east-1a "
            "(zone ids such as use1-az1 are not names)"
        )
    if region is not None and match["region"] != region:
        return f"{shown(value)} is a zone of {match['region']}, not of cluster.region {region!r}"
    return None


# --- ARNs -------------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Arn:
    partition: str
    service: str
    region: str
    account: str
    resource: str


_ARN = re.compile(
    r"arn:(?P<partition>[a-z-]+):(?P<service>[a-z0-9-]+):(?P<region>[a-z0-9-]*):(?P<account>[0-9]*):(?P<resource>.+)"
)
_CERTIFICATE = re.compile(r"certificate/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
# SNS: 1-256 letters, digits, '-' and '_', a FIFO topic's name ending in .fifo (which counts toward the 256).
_SNS_TOPIC = re.compile(r"(?=.{1,256}$)[A-Za-z0-9_-]+(\.fifo)?")
# IAM (IAM User Guide, "IAM object quotas" and the CreateRole/CreateUser API references): role and user names 1-64 of
# [A-Za-z0-9+=,.@_-]; a path '/' or '/.../' of printable ASCII, at most 512 characters.
IAM_NAME = re.compile(r"[A-Za-z0-9+=,.@_-]{1,64}")
IAM_NAME_CHARACTERS = "letters, digits and + = , . @ _ -"
IAM_PATH = re.compile(r"/([\x21-\x7e]*/)?")
IAM_PATH_MAX = 512
_SESSION = re.compile(r"assumed-role/(?P<role>[A-Za-z0-9+=,.@_-]{1,64})/[A-Za-z0-9+=,.@_-]{2,64}")


def parse_arn(text: str) -> Arn | None:
    match = _ARN.fullmatch(text)
    if match is None or match["partition"] not in PARTITION_REGIONS:
        return None
    return Arn(match["partition"], match["service"], match["region"], match["account"], match["resource"])


def _located_arn_error(
    arn: Arn, what: str, region: str | None, account: str | None, same_region_why: str
) -> str | None:
    """The partition, region and account rules every regional ARN of a config follows."""
    own = partition_of(arn.region)
    if own is None:
        return f"the {what}'s region {arn.region!r} is not an AWS region name"
    if own != arn.partition:
        return f"the {what}'s partition {arn.partition!r} is not the partition of its region {arn.region} ({own!r})"
    if region is not None and arn.region != region:
        return f"the {what} is in {arn.region}, but {same_region_why}, cluster.region {region!r}"
    if account is not None and arn.account != account:
        return f"the {what} belongs to account {arn.account}, not cluster.account {account}"
    return None


def certificate_arn_error(text: str, *, region: str | None = None, account: str | None = None) -> str | None:
    arn = parse_arn(text)
    if (
        arn is None
        or arn.service != "acm"
        or not ACCOUNT_ID.fullmatch(arn.account)
        or not _CERTIFICATE.fullmatch(arn.resource)
    ):
        return f"{shown(text)} is not an ACM certificate ARN (arn:PARTITION:acm:REGION:ACCOUNT:certificate/UUID)"
    return _located_arn_error(
        arn, "certificate", region, account, "a load balancer can only use certificates of its own region"
    )


def sns_topic_arn_error(text: str, *, region: str | None = None) -> str | None:
    arn = parse_arn(text)
    if (
        arn is None
        or arn.service != "sns"
        or not ACCOUNT_ID.fullmatch(arn.account)
        or not _SNS_TOPIC.fullmatch(arn.resource)
    ):
        return (
            f"{shown(text)} is not an SNS topic ARN (arn:PARTITION:sns:REGION:ACCOUNT:NAME, NAME 1-256 letters, "
            "digits, '-' and '_', optionally ending in .fifo)"
        )
    return _located_arn_error(arn, "topic", region, None, "CloudWatch alarms notify only topics of their own region")


def iam_name_error(name: str, what: str = "IAM name") -> str | None:
    if IAM_NAME.fullmatch(name):
        return None
    return f"{what} {shown(name)} must be 1-64 ASCII {IAM_NAME_CHARACTERS}"


def iam_path_error(path: str) -> str | None:
    if len(path) <= IAM_PATH_MAX and IAM_PATH.fullmatch(path):
        return None
    return f"IAM path {shown(path)} must be '/' or '/.../' of printable ASCII without spaces, at most {IAM_PATH_MAX}"


def principal_arn_error(text: str, *, region: str | None = None) -> str | None:
    """Why ``text`` is not the ARN of an IAM role or user (of ``region``'s partition, when given), or None."""
    arn = parse_arn(text)
    example = "arn:PARTITION:iam::ACCOUNT:role/NAME or arn:PARTITION:iam::ACCOUNT:user/PATH/NAME"
    if arn is not None and arn.service == "sts" and (session := _SESSION.fullmatch(arn.resource)):
        return (
            f"{shown(text)} is a session of role {session['role']!r}, which ends when the session does; give the role "
            "itself, arn:PARTITION:iam::ACCOUNT:role/NAME (with its path, if it has one)"
        )
    kind, _, rest = (arn.resource if arn else "").partition("/")
    if arn is None or arn.service != "iam" or arn.region or not ACCOUNT_ID.fullmatch(arn.account):
        return f"{shown(text)} is not an IAM role or user ARN ({example})"
    if kind not in ("role", "user") or not rest:
        return f"{shown(text)} is not an IAM role or user ARN ({example}); {kind!r} is neither role nor user"
    path, _, name = rest.rpartition("/")
    problem = iam_name_error(name, f"{kind} name") or (iam_path_error(f"/{path}/") if path else None)
    if problem:
        return f"{shown(text)}: {problem}"
    own = partition_of(region) if region is not None else None
    if own is not None and arn.partition != own:
        return f"{shown(text)} is in partition {arn.partition!r}, but cluster.region {region} is in {own!r}"
    return None


# --- CIDR blocks ------------------------------------------------------------------------------------------------------

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
_IPV4_CIDR = re.compile(r"[0-9]{1,3}(\.[0-9]{1,3}){3}/(0|[1-9][0-9]?)")
_IPV6_CIDR = re.compile(r"[0-9A-Fa-f:]+/(0|[1-9][0-9]{0,2})")
CIDR_EXAMPLES = "'10.20.0.0/16', '203.0.113.7/32' or '2001:db8::/32'"

# Address blocks that are not reachable on the internet (IANA IPv4 special-purpose registry, RFC 6890 and its updates):
# this network, private use, shared (CGN) space, loopback, link local, IETF protocol assignments, documentation,
# benchmarking, multicast and the reserved 240/4 with the limited broadcast address.
NON_PUBLIC_IPV4: tuple[ipaddress.IPv4Network, ...] = tuple(
    ipaddress.IPv4Network(block)
    for block in (
        "0.0.0.0/8",
        "10.0.0.0/8",
        "100.64.0.0/10",
        "127.0.0.0/8",
        "169.254.0.0/16",
        "172.16.0.0/12",
        "192.0.0.0/24",
        "192.0.2.0/24",
        "192.168.0.0/16",
        "198.18.0.0/15",
        "198.51.100.0/24",
        "203.0.113.0/24",
        "224.0.0.0/3",
    )
)
# IPv6 global unicast: every address the internet routes is in 2000::/3.
PUBLIC_IPV6 = (ipaddress.IPv6Network("2000::/3"),)


@functools.cache
def _public_ipv4() -> tuple[ipaddress.IPv4Network, ...]:
    # Computed on first use (about 580 network exclusions), not at import: only configs with public CIDRs need it.
    space = [ipaddress.IPv4Network("0.0.0.0/0")]
    for block in NON_PUBLIC_IPV4:
        space = [rest for piece in space for rest in _exclude(piece, block)]
    return tuple(space)


def _exclude(piece: ipaddress.IPv4Network, block: ipaddress.IPv4Network) -> tuple[ipaddress.IPv4Network, ...]:
    if not piece.overlaps(block):
        return (piece,)
    return () if piece.subnet_of(block) else tuple(piece.address_exclude(block))


def __getattr__(name: str) -> object:
    # PEP 562: PUBLIC_IPV4 (every IPv4 block the internet routes) is a module constant built on first access.
    if name == "PUBLIC_IPV4":
        return _public_ipv4()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def parse_cidr(text: object) -> Network | str:
    """The network ``text`` names, or why it is not a CIDR block AWS takes: ``address/prefix`` with the host bits zero
    (aws-cdk-lib's Peer.ipv4/Peer.ipv6, EC2 security group rules, EKS publicAccessCidrs). Bare addresses, netmask and
    hostmask forms, zone ids and IPv4-mapped IPv6 are refused, although Python's ipaddress reads some of them."""
    if not isinstance(text, str):
        return f"{shown(text)} is not a CIDR block such as {CIDR_EXAMPLES}"
    if "/" not in text:
        try:
            address = ipaddress.ip_address(text)
        except ValueError:
            return f"{shown(text)} is not a CIDR block such as {CIDR_EXAMPLES}"
        return (
            f"{shown(text)} is an address without a prefix length; write it as a block, such as "
            f"'{text}/{address.max_prefixlen}'"
        )
    if "%" in text:
        return f"{shown(text)} has a zone id ('%...'), which only means something on one host; leave it out"
    if not (_IPV4_CIDR.fullmatch(text) or _IPV6_CIDR.fullmatch(text)):
        return (
            f"{shown(text)} is not a CIDR block address/prefix (a prefix length 0-32 or 0-128, not a netmask), such "
            f"as {CIDR_EXAMPLES}"
        )
    try:
        network = ipaddress.ip_network(text, strict=True)
    except ValueError:
        try:
            block = ipaddress.ip_network(text, strict=False)
        except ValueError:
            return f"{shown(text)} is not a CIDR block address/prefix, such as {CIDR_EXAMPLES}"
        host = text.split("/")[0]
        return (
            f"{shown(text)} has host bits set: write the block {str(block)!r}, or the one address {host}/"
            f"{block.max_prefixlen}"
        )
    if isinstance(network, ipaddress.IPv6Network) and network.network_address.ipv4_mapped is not None:
        return f"{shown(text)} is an IPv4-mapped IPv6 block; write the IPv4 block itself"
    return network


DOCUMENTATION_IPV4: tuple[ipaddress.IPv4Network, ...] = tuple(
    ipaddress.IPv4Network(block) for block in ("192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24")
)
"""RFC 5737's documentation blocks: not routed, but the placeholders every example (ours too) writes, so they are left
to the user rather than refused."""


def is_public(network: Network) -> bool:
    """False when the block lies wholly inside space the internet does not route (private, shared, loopback,
    link-local, multicast, reserved); the documentation blocks count as public here (see DOCUMENTATION_IPV4)."""
    if isinstance(network, ipaddress.IPv6Network):
        return any(network.overlaps(block) for block in PUBLIC_IPV6)
    return not any(network.subnet_of(block) for block in NON_PUBLIC_IPV4 if block not in DOCUMENTATION_IPV4)


def covers_internet(networks: Iterable[Network], version: int) -> bool:
    """Whether the blocks together cover every public address of IP ``version``: however they are spelled
    (0.0.0.0/0, or 0.0.0.0/1 with 128.0.0.0/1), such a list admits anyone."""
    public: Sequence[Network] = _public_ipv4() if version == 4 else PUBLIC_IPV6
    blocks = list(ipaddress.collapse_addresses(n for n in networks if n.version == version))  # type: ignore[type-var]
    covered = 0
    for block in blocks:
        for space in public:
            if block.subnet_of(space):  # type: ignore[arg-type]
                covered += block.num_addresses
            elif space.subnet_of(block):  # type: ignore[arg-type]
                covered += space.num_addresses
    return covered == sum(space.num_addresses for space in public)
