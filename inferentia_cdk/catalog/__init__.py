"""What exists outside this project: the Neuron instance types EC2 sells (:mod:`.instance_types`) and the releases
we deploy (:mod:`.versions`). Every number about hardware and every pinned version lives here, each with its source."""

from .instance_types import (
    FAMILIES,
    INSTANCE_TYPES,
    NEURON_INSTANCE_TYPE_NAMES,
    TRAINIUM3_NOTE,
    CapacityType,
    NeuronFamily,
    NeuronInstanceType,
    PriceQuote,
    ServiceQuota,
    family_of,
    lookup,
)

__all__ = [
    "FAMILIES",
    "INSTANCE_TYPES",
    "NEURON_INSTANCE_TYPE_NAMES",
    "TRAINIUM3_NOTE",
    "CapacityType",
    "NeuronFamily",
    "NeuronInstanceType",
    "PriceQuote",
    "ServiceQuota",
    "family_of",
    "lookup",
]
