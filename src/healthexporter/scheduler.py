"""Polling: one APScheduler job per repository, plus org expansion, profiles and recomputation.

APScheduler gives us what a poller needs and is easy to get subtly wrong by hand: per-job
interval triggers with jitter (so hundreds of repositories don't poll in lockstep),
``max_instances=1`` (never two syncs of one repository at once), ``coalesce`` (a sync that
overran its interval runs once, not in a burst), and a bounded worker pool.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from datetime import timedelta

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.interval import IntervalTrigger

from healthexporter.clock import Clock, SystemClock
from healthexporter.collector import Collector
from healthexporter.errors import GitHubError
from healthexporter.sync import OrgSelection, Syncer, Target

log = logging.getLogger("healthexporter.scheduler")


class Poller:
    def __init__(
        self,
        syncer: Syncer,
        collector: Collector,
        *,
        repositories: Sequence[Target],
        orgs: Sequence[tuple[str, OrgSelection]],
        poll_interval: timedelta,
        jitter: timedelta,
        workers: int = 4,
        recompute_every: timedelta = timedelta(seconds=5),
        owns: Callable[[str], bool] = lambda repository: True,
        clock: Clock | None = None,
    ) -> None:
        self.syncer = syncer
        self.collector = collector
        self.repositories = list(repositories)
        self.orgs = list(orgs)
        self.poll_interval = poll_interval
        self.jitter = jitter
        self.owns = owns  # sharding: which repositories this instance syncs
        self.clock = clock or SystemClock()
        self._targets: list[Target] = []
        self._targets_lock = threading.Lock()
        self._dirty = threading.Event()
        self._scheduler = BackgroundScheduler(
            timezone="UTC",
            executors={"default": ThreadPoolExecutor(max_workers=max(1, workers))},
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": None},
        )
        self._recompute_every = recompute_every

    # --- targets ------------------------------------------------------------------------------
    def targets(self) -> list[tuple[str, str]]:
        with self._targets_lock:
            return [(t.project, t.repository) for t in self._targets]

    def seed(self, known: Sequence[Target]) -> None:
        """Start from what is already known (configured and stored repositories), without
        calling GitHub, so metrics are served from the store at once after a restart."""
        self._reconcile([t for t in [*self.repositories, *known] if self.owns(t.repository)])

    def expand(self) -> None:
        """(Re-)expand orgs and reconcile the per-repository jobs with the result. An org that
        cannot be listed keeps its known repositories."""
        targets, failures = self.syncer.targets(self.repositories, self.orgs)
        for failure in failures:
            self.collector.record_sync(failure)
        if failures:
            with self._targets_lock:
                known = {t.repository.lower() for t in targets}
                targets += [t for t in self._targets if t.repository.lower() not in known]
        self._reconcile([t for t in targets if self.owns(t.repository)])

    def _reconcile(self, wanted: Sequence[Target]) -> None:
        unique: dict[str, Target] = {}
        for target in wanted:
            unique.setdefault(target.repository.lower(), target)
        mine = list(unique.values())
        with self._targets_lock:
            before = {t.repository for t in self._targets}
            self._targets = mine
        after = {t.repository for t in mine}
        for index, target in enumerate(t for t in mine if t.repository not in before):
            self._add_sync_job(target, index)
        for repository in before - after:
            job = self._scheduler.get_job(f"sync:{repository}")
            if job is not None:
                job.remove()
        if before != after:
            self._dirty.set()

    def _add_sync_job(self, target: Target, index: int) -> None:
        # the first sync of each repository starts soon, a little apart from the others
        first = self.clock.now() + timedelta(seconds=min(index, 30) * 0.5)
        self._scheduler.add_job(
            self.sync_one,
            IntervalTrigger(
                seconds=self.poll_interval.total_seconds(),
                jitter=int(self.jitter.total_seconds()) or None,
            ),
            args=[target],
            id=f"sync:{target.repository}",
            name=f"sync {target.repository}",
            next_run_time=first,
            replace_existing=True,
        )

    # --- jobs ---------------------------------------------------------------------------------
    def sync_one(self, target: Target) -> None:
        report = self.syncer.sync_repository(target)
        self.collector.record_sync(report)
        if report.ok:
            log.info(
                "synced %s: %d items, %d points", target.repository, report.items, report.points
            )
        else:
            log.warning(
                "sync of %s failed (%s): %s",
                target.repository,
                report.error_reason,
                "; ".join(report.errors),
            )
        self._dirty.set()

    def profiles(self) -> None:
        try:
            users, _, _ = self.syncer.sync_profiles()
        except GitHubError as exc:
            log.warning("profile refresh failed: %s", exc)
            return
        if users:
            self._dirty.set()

    def recompute_if_dirty(self) -> None:
        if self._dirty.is_set():
            self._dirty.clear()
            try:
                self.collector.refresh()
            except Exception:
                log.exception("computing the metrics failed; the previous values stay served")

    # --- lifecycle ----------------------------------------------------------------------------
    def start(self) -> None:
        self._scheduler.start()
        self._scheduler.add_job(
            self.expand,
            IntervalTrigger(seconds=self.poll_interval.total_seconds()),
            id="expand",
            next_run_time=self.clock.now(),
        )
        self._scheduler.add_job(
            self.profiles,
            IntervalTrigger(seconds=self.poll_interval.total_seconds()),
            id="profiles",
            next_run_time=self.clock.now() + timedelta(seconds=60),
        )
        self._scheduler.add_job(
            self.recompute_if_dirty,
            IntervalTrigger(seconds=self._recompute_every.total_seconds()),
            id="recompute",
        )

    def stop(self) -> None:
        self._scheduler.shutdown(wait=True)
