"""The collector: store → health maths → exposition, rendered once and kept as bytes.

It reads only the store (never GitHub), recomputes after syncs, and swaps in the new rendering
atomically, so a scrape is a memory read that never waits for a sync or a computation. The
exporter's own numbers (sync results, GitHub usage, rate limits) are tracked here too.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
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
from healthexporter.health.compute import compute
from healthexporter.health.snapshot import HealthSettings, HealthSnapshot, RepositoryData
from healthexporter.model import RateLimitState, SyncReport
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
        self._lock = threading.Lock()  # guards the counters and the data cache
        self._compute_lock = threading.Lock()  # one computation at a time
        self._data: dict[str, RepositoryData] = {}
        self._stale: set[str] = set()
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
        """Count a sync's outcome; its repository's data is reloaded at the next computation
        if anything was stored."""
        with self._lock:
            self._latest[report.repository] = (report, self._clock.now())
            self._syncs[report.repository] += 1
            if not report.ok:
                reason = report.error_reason or "error"
                self._errors[report.repository][reason] = (
                    self._errors[report.repository].get(reason, 0) + 1
                )
            if (
                report.items
                or report.releases
                or report.tags
                or report.commits
                or report.repository not in self._data
            ):
                self._stale.add(report.repository)

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
            datas = [self._repository_data(project, name) for project, name in targets]
            snapshot = compute(datas, self._settings_factory(), now)
            families = [*health_families(snapshot), *exporter_families(status)]
            self._last_compute_seconds = time.monotonic() - started
            self._snapshot = snapshot
            self._exposition = render(families)
            log.info(
                "metrics computed for %d repositories in %.2f s",
                len(datas),
                self._last_compute_seconds,
            )
            return snapshot

    def _repository_data(self, project: str, name: str) -> RepositoryData:
        with self._lock:
            cached = self._data.get(name)
            stale = name in self._stale
            self._stale.discard(name)
        if cached is not None and not stale and cached.project == project:
            return cached
        info = next(
            (r for p, r in self._store.repositories() if r.full_name.lower() == name.lower()), None
        )
        data = RepositoryData(
            project=project,
            repository=name,
            info=info,
            items=tuple(self._store.items(name)),
            releases=tuple(self._store.releases(name)),
            tags=tuple(self._store.tags(name)),
            commits=tuple(self._store.commits(name)),
        )
        with self._lock:
            self._data[name] = data
        return data

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
