"""Which stack an API's resources live in: a fixed number of shards, each API in the one a hash of its name picks.

CloudFormation limits each template to 1,000,000 bytes, 500 resources and 200 outputs, which one APIs stack would
reach at about 185 APIs. The APIs are therefore spread over ``SHARD_COUNT`` nested stacks of the APIs stack. The
shard of an API depends on its name and nothing else (not its position in the list, not how many APIs there are):
adding, removing, reordering or renaming one API never moves another, because moving an API between stacks is a
delete and a create, and so downtime.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

SHARD_COUNT = 32
"""Fixed for good: changing it would move most APIs to another stack. At 1,000 APIs the fullest shard holds about
1.5 times the mean (31), far inside every per-template limit (README, "How APIs are placed in stacks")."""


def shard_of(api_name: str) -> int:
    """The shard (0 to ``SHARD_COUNT - 1``) of the API called ``api_name``.

    SHA-256 rather than Python's ``hash``: that one is salted per process, and the shard must be the same on every
    machine and every synth for years.
    """
    digest = hashlib.sha256(api_name.encode()).digest()
    return int.from_bytes(digest[:8], "big") % SHARD_COUNT


def shard_id(shard: int) -> str:
    """The construct id of a shard's nested stack, ``Shard07``: it names the shard by its index, so that its
    CloudFormation logical id never changes."""
    return f"Shard{shard:02d}"


def place(api_names: Iterable[str]) -> dict[int, list[str]]:
    """The APIs of each non-empty shard, in the order given."""
    shards: dict[int, list[str]] = {}
    for name in api_names:
        shards.setdefault(shard_of(name), []).append(name)
    return shards
