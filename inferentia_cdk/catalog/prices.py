"""What a cluster costs besides its Neuron nodes: list prices for ``plan``, each with where it was read and when.

Estimates for planning only, never used for a decision: us-east-1 list prices in USD, without tax, data transfer,
load balancer capacity units or CloudWatch charges. ``inferentia-cdk plan --prices live`` reads the instance prices of
the config's region from the AWS Price List API instead. The Neuron types' own prices live beside their hardware in
:mod:`.instance_types`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Final

HOURS_PER_MONTH: Final = 730
"""AWS's own convention for a month in its price calculator (8,760 hours a year / 12)."""
CATALOG_REGION: Final = "us-east-1"
"""The region every price of the catalog is for."""


@dataclass(frozen=True)
class Price:
    """An hourly list price and where it comes from."""

    usd_per_hour: float
    source: str
    as_of: str
    """When the figure was last checked against the source (ISO date)."""


EKS_CONTROL_PLANE: Final = Price(
    0.10,
    "Amazon EKS pricing, cluster in standard Kubernetes version support (AWS Containers blog, 'Amazon EKS extended "
    "support for Kubernetes versions pricing': $0.10 standard, $0.60 extended)",
    "2026-12-04",
)
NAT_GATEWAY: Final = Price(
    0.045, "Amazon VPC pricing, NAT gateway hour in us-east-1 (data processed, $0.045/GB, not counted)", "2026-12-04"
)
APPLICATION_LOAD_BALANCER: Final = Price(
    0.0225,
    "Elastic Load Balancing pricing, Application Load Balancer hour in us-east-1 (capacity units, $0.008 per LCU-hour, "
    "not counted: they follow traffic)",
    "2026-12-04",
)
PUBLIC_IPV4_ADDRESS: Final = Price(
    0.005,
    "Amazon VPC pricing, public IPv4 address hour (every NAT gateway and internet-facing load balancer node has one)",
    "2026-12-04",
)

_EC2_ON_DEMAND = "EC2 On-Demand pricing, Linux, us-east-1 (Karpenter's generated price table agrees)"
SYSTEM_INSTANCE_PRICES: Mapping[str, Price] = MappingProxyType(
    {
        name: Price(usd, _EC2_ON_DEMAND, "2026-12-04")
        for name, usd in (
            ("m5.large", 0.096),
            ("m5.xlarge", 0.192),
            ("m6i.large", 0.096),
            ("m6i.xlarge", 0.192),
            ("m6i.2xlarge", 0.384),
            ("m7i.large", 0.1008),
            ("c5.large", 0.085),
            ("c6i.large", 0.085),
            ("c6i.xlarge", 0.17),
            ("t3.medium", 0.0416),
            ("t3.large", 0.0832),
        )
    }
)
"""Prices of common system node group types; a type not listed is shown as not priced, never guessed."""
