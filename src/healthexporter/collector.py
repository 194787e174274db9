"""The collector: store → health maths → exposition, rendered once and kept as bytes.

It reads only the store (never GitHub), recomputes after syncs, and swaps in the new rendering
atomically, so a scrape is a memory read that never waits for a sync or a computation. The
exporter's own numbers (sync results, GitHub usage, rate limits) are tracked here too.

A computation reads one repository at a time, and only what the windows need of it
(``read_window``): the open items and what changed in the longest window, with per-person
sums over the older history worked out by the store in SQL. Nothing read is kept between
computations; what is kept is the rendering and the snapshot it came from.
"""

from __future__ import annotations

import gc
import logging
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime

from healthexporter import __version__
from healthexporter.clock import Clock, SystemClock
from healthexporter.exposition import (
    ExporterStatus,
    RenderedExposition,
    RepositoryStatus,
    exporter_families,
    health_families,
    render,
)
from healthexporter.health.compute import SnapshotBuilder
from healthexporter.health.snapshot import (
    HealthSettings,
    HealthSnapshot,
    RepositoryData,
    StoredHistory,
)
from healthexporter.model import RateLimitState, Repository, SyncReport
from healthexporter.store import Store

log = logging.getLogger("healthexporter.collector")


@dataclass(frozen=True)
class GitHubUsage:
    """What the GitHub client has spent since the process started."""

    requests: Mapping[tuple[str, str], int]
    units: Mapping[str, int]
    rate_limits: Mapping[str, RateLimitState]


def _no_usage() -> GitHubUsage:
    return GitHubUsage({}, {}, {})


@contextmanager
def _cyclic_gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while one repository is read and computed.

    Reading and computing a large repository allocates hundreds of thousands of objects (items,
    activities, facts, indexes), and the collections they trigger find nothing: the model and
    the maths make no reference cycles, so reference counting frees all of it. Paused, the
    140,049-item kubernetes store computes in 1.47 s instead of 1.84 s (docs/benchmarks.md).
    The collector runs again between repositories, for any cyclic garbage the rest of the
    process made meanwhile; it is re-enabled only if it was enabled (a caller that turned it
    off keeps it off).
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def read_repository(
    store: Store, project: str, name: str, info: Repository | None
) -> RepositoryData:
    """Everything stored for one repository: what ``history`` computes past days from."""
    with store.reading():
        return RepositoryData(
            project=project,
            repository=name,
            info=info,
            items=tuple(store.items(name)),
            releases=tuple(store.releases(name)),
            tags=tuple(store.tags(name)),
            commits=tuple(store.commits(name)),
        )


def read_window(
    store: Store,
    project: str,
    name: str,
    info: Repository | None,
    settings: HealthSettings,
    now: datetime,
) -> RepositoryData:
    """What the numbers as of ``now`` read of one repository: the items open or changed in
    the longest window with their activities, the commits of that window, all releases and
    tags, and — summed by the store over everything stored — the contributions of the longest
    window and the episodic lookback before it, each person's totals and first contribution,
    and each login's first item or commit. ``compute`` gives the numbers of the whole history
    from it (tests/test_windowed.py compares the two)."""
    since, contributions_since = settings.reach(now)
    # one view of the store: the sums must agree with the contributions (a sync's sweep
    # between two reads would leave a contributor without totals)
    with store.reading():
        return RepositoryData(
            project=project,
            repository=name,
            info=info,
            items=tuple(store.items_since(name, since)),
            releases=tuple(store.releases(name)),
            tags=tuple(store.tags(name)),
            commits=tuple(store.commits_since(name, since)),
            history=StoredHistory(
                now=now,
                since=since,
                contributions_since=contributions_since,
                contributions=tuple(store.contributions_since(name, contributions_since, now)),
                totals=tuple(store.contribution_totals(name, now)),
                earliest=store.earliest_contributions(name),
            ),
        )


class Collector:
    def __init__(
        self,
        store: Store,
        settings_factory: Callable[[], HealthSettings],
        *,
        targets: Callable[[], Sequence[tuple[str, str]]],
        usage: Callable[[], GitHubUsage] = _no_usage,
        clock: Clock | None = None,
        shard: int = 0,
        total_shards: int = 1,
    ) -> None:
        self._store = store
        self._settings_factory = settings_factory
        self._targets = targets  # (project, repository) this instance exports
        self._usage = usage
        self._clock = clock or SystemClock()
        self._shard, self._total_shards = shard, total_shards
        self._started_at = self._clock.now()
        self._lock = threading.Lock()  # guards the counters
        self._compute_lock = threading.Lock()  # one computation at a time
        self._errors: dict[str, dict[str, int]] = defaultdict(dict)
        self._syncs: dict[str, int] = defaultdict(int)
        # the newest report per repository as this process saw it: the store may have failed
        # to record it (a full disk), and the up-gauge must tell the truth anyway
        self._latest: dict[str, tuple[SyncReport, datetime]] = {}
        self._exposition: RenderedExposition | None = None
        self._snapshot: HealthSnapshot | None = None
        self._last_compute_seconds: float | None = None

    # --- what scrapes read -------------------------------------------------------------------
    def exposition(self) -> RenderedExposition | None:
        return self._exposition  # a reference swap: no lock needed to read

    def snapshot(self) -> HealthSnapshot | None:
        return self._snapshot

    def status(self) -> ExporterStatus:
        """The exporter's own state now (for the landing page)."""
        return self._status(list(self._targets()), self._clock.now())

    # --- what syncs report -------------------------------------------------------------------
    def record_sync(self, report: SyncReport) -> None:
        """Count a sync's outcome (the next computation reads whatever it stored)."""
        with self._lock:
            self._latest[report.repository] = (report, self._clock.now())
            self._syncs[report.repository] += 1
            if not report.ok:
                reason = report.error_reason or "error"
                self._errors[report.repository][reason] = (
                    self._errors[report.repository].get(reason, 0) + 1
                )

    # --- computing ---------------------------------------------------------------------------
    def refresh(self) -> HealthSnapshot:
        """Recompute everything from the store and swap in the new rendering."""
        with self._compute_lock:
            started = time.monotonic()
            targets = list(self._targets())
            now = self._clock.now()
            # The status is read before the data: a sync finishing meanwhile is then shown as
            # not yet done next to numbers that may already include it, never the reverse.
            status = self._status(targets, now)
            settings = self._settings_factory()
            infos = {r.full_name.lower(): r for _, r in self._store.repositories()}
            builder = SnapshotBuilder(settings, now)
            for project, name in targets:
                # one repository's data at a time, dropped once its numbers are computed
                info = infos.get(name.lower())
                with _cyclic_gc_paused():
                    builder.add(read_window(self._store, project, name, info, settings, now))
            snapshot = builder.snapshot()
            families = [*health_families(snapshot), *exporter_families(status)]
            self._last_compute_seconds = time.monotonic() - started
            self._snapshot = snapshot
            self._exposition = render(families)
            log.info(
                "metrics computed for %d repositories in %.2f s",
                len(targets),
                self._last_compute_seconds,
            )
            return snapshot

    def _last_success(self, name: str) -> datetime | None:
        stored = self._store.last_successful_sync(name)
        latest = self._latest.get(name)
        if latest is not None and latest[0].ok and stored is None:
            return latest[1]
        return stored

    def _status(self, targets: Sequence[tuple[str, str]], now: datetime) -> ExporterStatus:
        reports = self._store.last_sync_reports()
        repositories: dict[str, RepositoryStatus] = {}
        with self._lock:
            for project, name in targets:
                report, finished = reports.get(name, (None, None))
                latest = self._latest.get(name)
                if latest is not None and latest[0] != report:
                    # this process's newest sync wins over what the store could record
                    report, finished = latest
                repositories[name] = RepositoryStatus(
                    project=project,
                    last_report=report,
                    last_finished_at=finished,
                    last_success_at=self._last_success(name),
                    errors_total=dict(self._errors.get(name, {})),
                    syncs_total=self._syncs.get(name, 0),
                )
        usage = self._usage()
        return ExporterStatus(
            repositories=repositories,
            github_requests_total=usage.requests,
            github_units_total=usage.units,
            rate_limits=usage.rate_limits,
            store_size_bytes=self._store.size_bytes(),
            version=__version__,
            started_at=self._started_at,
            last_compute_seconds=self._last_compute_seconds,
            shard=self._shard,
            total_shards=self._total_shards,
        )
