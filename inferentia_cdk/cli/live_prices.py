"""``plan --prices live``: current on-demand prices of a config's instance types from the AWS Price List API.

The Price List API answers from a few regions only (us-east-1 for the aws partition, cn-northwest-1 for aws-cn) and
prices every region from there; boto3 honours AWS_ENDPOINT_URL_PRICING, which the tests point at a local server.
Spot prices are not in the Price List API, so spot node groups keep "at most the on-demand price".
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from ..catalog.prices import Price
from ..config.aws_grammar import region_error
from ..config.models import InferentiaConfig
from ..config.problems import shown
from ..planning.cluster_plan import PriceBook
from ..quota.service_quotas import MAX_ATTEMPTS, boto_config

PRICE_LIST_REGIONS = {"aws": "us-east-1", "aws-cn": "cn-northwest-1"}
"""Where the Price List API of each partition answers (its service endpoints in botocore's endpoint rules)."""
SOURCE = "AWS Price List API (GetProducts, AmazonEC2, Linux, shared tenancy, on-demand)"


class PriceListError(Exception):
    """The prices could not be read; the message says why and what to do, on one line. ``bad_input`` when the
    arguments were at fault (no region, or none that AWS has), rather than AWS or the network."""

    def __init__(self, message: str, *, bad_input: bool = False) -> None:
        super().__init__(message)
        self.bad_input = bad_input


def pricing_region(region: str) -> str:
    return PRICE_LIST_REGIONS["aws-cn"] if region.startswith("cn-") else PRICE_LIST_REGIONS["aws"]


def pricing_client(region: str) -> Any:
    import boto3

    return boto3.session.Session().client("pricing", region_name=pricing_region(region), config=boto_config())


def _filters(instance_type: str, region: str) -> list[dict[str, str]]:
    fields = {
        "instanceType": instance_type,
        "regionCode": region,
        "operatingSystem": "Linux",
        "tenancy": "Shared",
        "preInstalledSw": "NA",
        "capacitystatus": "Used",
        "licenseModel": "No License required",
    }
    return [{"Type": "TERM_MATCH", "Field": field, "Value": value} for field, value in fields.items()]


def on_demand_usd_per_hour(product: dict[str, Any]) -> float | None:
    """The hourly USD price of one GetProducts item (a decoded PriceList entry), or None when it has none."""
    for term in product.get("terms", {}).get("OnDemand", {}).values():
        for dimension in term.get("priceDimensions", {}).values():
            usd = dimension.get("pricePerUnit", {}).get("USD")
            if dimension.get("unit") in ("Hrs", "Hours") and usd is not None and float(usd) > 0:
                return float(usd)
    return None


def read_prices(client: Any, instance_types: Iterable[str], region: str, today: str) -> dict[str, Price]:
    """The on-demand price of each type in ``region``; a type the API does not price there is left out."""
    prices: dict[str, Price] = {}
    for name in dict.fromkeys(instance_types):
        response = client.get_products(ServiceCode="AmazonEC2", Filters=_filters(name, region), MaxResults=10)
        for item in response.get("PriceList", []):
            usd = on_demand_usd_per_hour(json.loads(item) if isinstance(item, str) else item)
            if usd is not None:
                prices[name] = Price(usd, f"{SOURCE}, {region}", today)
                break
    return prices


def explain(error: Exception, region: str) -> str:
    from botocore.exceptions import ClientError, EndpointConnectionError, NoCredentialsError, PartialCredentialsError

    where = f"could not read prices for {region} from the AWS Price List API"
    if isinstance(error, NoCredentialsError | PartialCredentialsError):
        return (
            f"{where}: no AWS credentials were found (set AWS_PROFILE or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY); "
            "plan without --prices live uses the bundled prices"
        )
    if isinstance(error, EndpointConnectionError):
        return f"{where}: the endpoint could not be reached ({error}); plan without --prices live works offline"
    if isinstance(error, ClientError):
        code = str(error.response.get("Error", {}).get("Code", "Unknown"))
        if code in ("AccessDeniedException", "AccessDenied"):
            return f"{where}: access denied, the caller needs permission pricing:GetProducts"
        if code in ("ThrottlingException", "TooManyRequestsException"):
            return f"{where}: still throttled after {MAX_ATTEMPTS} attempts; try again later"
        return f"{where}: GetProducts failed with {code}"
    return f"{where}: {type(error).__name__}: {error}"


def live_price_book(config: InferentiaConfig, region: str | None, client: Any | None = None) -> PriceBook:
    """Current prices of every instance type of ``config`` in ``region`` (default: cluster.region)."""
    from botocore.exceptions import BotoCoreError, ClientError

    region = region or config.cluster.region
    if region is None:
        raise PriceListError(
            "--prices live needs a region: pass --region or set cluster.region in the config", bad_input=True
        )
    if region_error(region) is not None:
        raise PriceListError(f"--region {shown(region)} is not an AWS region name (such as us-east-1)", bad_input=True)
    names = [t for group in config.node_groups for t in group.instance_types]
    names += config.cluster.system_node_group.instance_types
    today = datetime.now(UTC).date().isoformat()
    try:
        prices = read_prices(client or pricing_client(region), names, region, today)
    except (BotoCoreError, ClientError) as error:
        raise PriceListError(explain(error, region)) from error
    return PriceBook(prices, f"live {region}")
