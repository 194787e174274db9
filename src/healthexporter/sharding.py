"""Sharding: which projects this instance polls and exports, for users who outgrow one.

Like kube-state-metrics, ``--shard i --total-shards n``, or the shard taken from the
StatefulSet pod ordinal (``name-2`` → 2) when only ``--total-shards`` is given. The unit of
assignment is the *project*: project-level numbers (contributors across repositories) need all
of a project's repositories in one place, so a project is never split; the union of the shards'
outputs is then exactly the unsharded output. To spread one large org, configure it as several
projects (``orgs`` with ``include`` patterns).

Assignment uses jump consistent hashing (Lamping & Veach, 2014) over a SHA-256 of the project
name: stable across restarts and Python versions (no ``hash()`` randomisation), even, and when
the number of shards grows from n to n+1 only about 1/(n+1) of the projects move.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

_ORDINAL = re.compile(r"-(\d+)$")


def jump_hash(key: str, buckets: int) -> int:
    """Jump consistent hash of ``key`` into ``range(buckets)``."""
    if buckets < 1:
        raise ValueError("buckets must be at least 1")
    state = int.from_bytes(hashlib.sha256(key.encode("utf-8")).digest()[:8], "big")
    bucket, candidate = -1, 0
    while candidate < buckets:
        bucket = candidate
        state = (state * 2862933555777941757 + 1) % (1 << 64)
        candidate = int((bucket + 1) * ((1 << 31) / ((state >> 33) + 1)))
    return bucket


def ordinal_from_hostname(hostname: str) -> int | None:
    """The StatefulSet pod ordinal: the number after the last dash of the pod name."""
    match = _ORDINAL.search(hostname.split(".", 1)[0])
    return int(match.group(1)) if match else None


@dataclass(frozen=True)
class Shard:
    index: int = 0
    total: int = 1

    def __post_init__(self) -> None:
        if self.total < 1 or not 0 <= self.index < self.total:
            raise ValueError(f"shard {self.index} is not in 0..{self.total - 1}")

    def owns(self, project: str) -> bool:
        return self.total == 1 or jump_hash(project, self.total) == self.index


def resolve_shard(shard: int | None, total: int | None, hostname: str) -> Shard:
    """From the command line: both given; only the total (ordinal from the hostname); or
    neither (one shard). Raises ValueError with a message for the user otherwise."""
    if total is None:
        if shard is not None:
            raise ValueError("--shard needs --total-shards")
        return Shard()
    if shard is None:
        ordinal = ordinal_from_hostname(hostname)
        if ordinal is None:
            raise ValueError(
                f"--total-shards without --shard takes the shard from the pod ordinal, but "
                f"the hostname {hostname!r} does not end in -N"
            )
        shard = ordinal
    return Shard(shard, total)
