"""The simulator's rate-limit buckets, one per (token, resource), as GitHub keeps them.

A bucket holds ``limit`` units per window of ``window_seconds`` starting at its first use;
``reset_at`` is when it refills (epoch seconds, like ``x-ratelimit-reset``). The GraphQL engine
charges points to the "graphql" bucket, the REST layer requests to "core"; 304 answers to
conditional requests are not charged (GitHub: "Best practices for using the REST API").
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass
class BucketSnapshot:
    resource: str
    limit: int
    remaining: int
    used: int
    reset_at: int  # epoch seconds


class Bucket:
    def __init__(
        self,
        resource: str,
        limit: int,
        *,
        window_seconds: float = 3600.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.resource = resource
        self.limit = limit
        self.window_seconds = window_seconds
        self._clock = clock
        self._lock = threading.Lock()
        self._used = 0
        self._window_start: float | None = None

    def _roll(self) -> None:
        now = self._clock()
        if self._window_start is None or now >= self._window_start + self.window_seconds:
            self._window_start = now
            self._used = 0

    def snapshot(self) -> BucketSnapshot:
        with self._lock:
            self._roll()
            assert self._window_start is not None
            return BucketSnapshot(
                resource=self.resource,
                limit=self.limit,
                remaining=max(self.limit - self._used, 0),
                used=self._used,
                reset_at=math.ceil(self._window_start + self.window_seconds),
            )

    def try_charge(self, units: int) -> bool:
        """Charge ``units`` if that many remain; False (nothing charged) otherwise."""
        with self._lock:
            self._roll()
            if self._used + units > self.limit:
                return False
            self._used += units
            return True

    def can_spend(self) -> bool:
        with self._lock:
            self._roll()
            return self._used < self.limit

    def drain(self) -> None:
        """Use up the bucket (a fault: 'primary limit exhausted until the reset')."""
        with self._lock:
            self._roll()
            self._used = self.limit


class Buckets:
    """All buckets of the simulator, created on first use per (token, resource)."""

    def __init__(
        self,
        limits: dict[str, int] | None = None,
        *,
        window_seconds: float = 3600.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.limits = {"core": 5000, "graphql": 5000, "search": 30, **(limits or {})}
        self.window_seconds = window_seconds
        self._clock = clock
        self._lock = threading.Lock()
        self._buckets: dict[tuple[str, str], Bucket] = {}

    def get(self, token: str, resource: str) -> Bucket:
        with self._lock:
            key = (token, resource)
            bucket = self._buckets.get(key)
            if bucket is None:
                bucket = Bucket(
                    resource,
                    self.limits.get(resource, 5000),
                    # GitHub's search limit is 30 requests a *minute*; the others are hourly
                    window_seconds=60.0 if resource == "search" else self.window_seconds,
                    clock=self._clock,
                )
                self._buckets[key] = bucket
            return bucket
