"""Sync: bring the store up to date with GitHub for one repository, spending as little of the
rate limit as possible.

Per repository and stream (pull requests, issues, releases, tags, commits):

- **Probe first.** Three conditional REST requests (repository, newest-updated issue/PR, newest
  release) carry the ETags of the last successful sync. GitHub answers 304 to an unchanged
  resource and does not charge it ("Best practices for using the REST API"), so an unchanged
  repository costs no point and no request of the primary limit. New ETags are stored only after
  the streams they guard were synced, so a crash never hides a change.
- **Backfill** walks all history in GraphQL pages of up to 100 items with their timeline nested
  (``queries.py``). Each page is written in one store transaction together with the cursor to
  continue from, so a sync killed at any moment resumes from the last stored page.
- **Incremental polls** fetch only what changed since the stored watermark, minus an overlap for
  clock skew: issues through ``filterBy.since``; pull requests (which have no such filter) by
  paging ``UPDATED_AT DESC`` until the watermark; timelines through ``since``.
- **Reconcile**: every ``reconcile_interval`` a full pass with a new generation; rows it does not
  see (deleted or transferred items) are swept.
- The first response must be found even when the first timeline page is all bots or the author:
  such an item is paged further, that item only, before its page is stored.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any, Protocol
from urllib.parse import quote

from healthexporter import paging
from healthexporter.clock import Clock, SystemClock
from healthexporter.errors import (
    GitHubError,
    GraphQLError,
    HealthExporterError,
    NotFoundError,
    StoreError,
    TransientError,
)
from healthexporter.github import parse, queries
from healthexporter.health.first_response import (
    Responders,
    ResponsePolicy,
    find_first_response,
)
from healthexporter.model import (
    Activity,
    ActivityKind,
    Actor,
    ActorKind,
    Item,
    ItemKind,
    SyncReport,
)
from healthexporter.paging import EPOCH
from healthexporter.progress import NoProgress, Progress
from healthexporter.store import CachedResponse, PassKind, Store, Stream, StreamState

log = logging.getLogger("healthexporter.sync")


DRAFT_TRANSITIONS = frozenset({ActivityKind.READY_FOR_REVIEW, ActivityKind.CONVERT_TO_DRAFT})


class BotCheck(Protocol):
    def is_bot(self, login: str | None, kind: ActorKind) -> bool: ...


class GraphQLResult(Protocol):
    @property
    def data(self) -> dict[str, Any]: ...
    @property
    def errors(self) -> list[dict[str, Any]]: ...
    @property
    def cost(self) -> int | None: ...


class RestResult(Protocol):
    @property
    def status(self) -> int: ...
    @property
    def body(self) -> Any: ...
    @property
    def etag(self) -> str | None: ...
    @property
    def next_url(self) -> str | None: ...
    @property
    def not_modified(self) -> bool: ...


class GitHubAPI(Protocol):
    """What sync needs of ``GitHubClient`` (a Protocol so sync stays testable and typed)."""

    def graphql(self, query: str, variables: Mapping[str, Any]) -> GraphQLResult: ...

    def rest_get(
        self, url_or_path: str, *, params: Mapping[str, str] | None = None, etag: str | None = None
    ) -> RestResult: ...


@dataclass(frozen=True)
class SyncSettings:
    page_size: int = 100
    timeline_page_size: int = 100
    overlap: timedelta = timedelta(minutes=5)
    reconcile_interval: timedelta = timedelta(days=7)
    profile_refresh: timedelta = timedelta(days=30)
    maintainers: frozenset[str] = frozenset()  # lower-cased logins that always count as responders
    max_timeline_pages: int = 50  # per item, a bound on paging for a first response


@dataclass(frozen=True)
class OrgSelection:
    """Which repositories of an organization to sync (glob patterns on the repository name)."""

    org: str
    include: tuple[str, ...] = ("*",)
    exclude: tuple[str, ...] = ()
    archived: bool = False
    forks: bool = False


@dataclass(frozen=True)
class Target:
    project: str
    repository: str  # owner/name


@dataclass
class _Tally:
    """Requests and points one repository's sync spent, and what it stored."""

    requests: int = 0
    points: int = 0
    counts: dict[str, int] = field(default_factory=dict)

    def add(self, what: str, n: int) -> None:
        self.counts[what] = self.counts.get(what, 0) + n


class RepositorySync:
    """Syncs one repository. Not thread-safe itself; the Syncer runs one per worker."""

    def __init__(
        self,
        client: GitHubAPI,
        store: Store,
        bots: BotCheck,
        settings: SyncSettings,
        *,
        clock: Clock,
        progress: Progress,
        project: str,
        repository: str,
        profiles: ProfileRider,
    ) -> None:
        self.client = client
        self.store = store
        self.bots = bots
        self.settings = settings
        self.clock = clock
        self.progress = progress
        self.project = project
        self.repository = repository
        self.owner, self.name = repository.split("/", 1)
        self.tally = _Tally()
        self.page_size = settings.page_size
        self.timeline_size = settings.timeline_page_size
        self._pending_etags: list[CachedResponse] = []
        self.profiles = profiles

    # --- what the pagers ask of this sync (paging.Host) -------------------------------------
    @property
    def points(self) -> int:
        return self.tally.points

    def count(self, what: str, n: int) -> None:
        self.tally.add(what, n)

    def now(self) -> datetime:
        return self.clock.now()

    def saw(self, logins: Iterable[str]) -> None:
        self.profiles.saw(logins)

    # --- GitHub calls, counted ---------------------------------------------------------------
    def _graphql_page(self, page: paging.Plan) -> dict[str, Any] | None:
        """One bundled GraphQL request for this repository, returning ``data``.

        - A query GitHub killed after 10 s (502/504 that persisted through the client's retries)
          returns None after halving the page size (GitHub: "shrink the page"), down to 10
          items; the caller plans the query again.
        - Partial errors (``data`` *and* ``errors``, other than NOT_FOUND) are retried twice;
          a page is never stored from partial data. NOT_FOUND of a followed item (deleted
          meanwhile) only ends that item's paging.
        """
        query, variables = queries.page_query("Page", page.parts)
        partial_tries = 0
        while True:
            try:
                result = self.client.graphql(
                    query, {"owner": self.owner, "name": self.name, **variables}
                )
            except TransientError as exc:
                if exc.status not in (502, 504) or self.page_size <= 10:
                    raise
                self.page_size = max(10, self.page_size // 2)
                self.timeline_size = max(10, self.timeline_size // 2)
                log.warning(
                    "%s: GitHub timed out; page size now %d", self.repository, self.page_size
                )
                return None
            finally:
                self.tally.requests += 1
            self.tally.points += result.cost or 0
            errors = [e for e in result.errors if not _gone(e, page)]
            for error in errors:
                if error.get("type") == "NOT_FOUND":
                    raise NotFoundError(f"{self.repository}: {error.get('message', 'not found')}")
            if errors:
                partial_tries += 1
                if partial_tries <= 2:
                    log.warning("%s: GitHub answered with errors; retrying", self.repository)
                    continue
                messages = "; ".join(str(e.get("message", e)) for e in errors[:3])
                raise GraphQLError(f"{self.repository}: {messages}", errors=errors)
            if result.data.get("repository") is None:
                raise NotFoundError(f"{self.repository}: repository not found")
            return dict(result.data)

    def _probe(self, path: str, params: Mapping[str, str] | None = None) -> tuple[bool, Any, Any]:
        """A conditional GET; returns (changed, body, the body stored from the last successful
        sync or None). The new ETag is kept pending until the streams it guards are stored
        (see ``_commit_probes``)."""
        key = path + (
            "?" + "&".join(f"{k}={v}" for k, v in sorted(params.items())) if params else ""
        )
        cached = self.store.cached_response(key)
        response = self.client.rest_get(path, params=params, etag=cached.etag if cached else None)
        self.tally.requests += 1
        previous = cached.body if cached is not None else None
        if response.not_modified and cached is not None:
            return False, cached.body, previous
        if response.etag:
            self._pending_etags.append(CachedResponse(key, response.etag, response.body))
        return True, response.body, previous

    def _commit_probes(self) -> None:
        for entry in self._pending_etags:
            self.store.save_cached_response(entry)
        self._pending_etags.clear()

    # --- the whole repository ----------------------------------------------------------------
    def run(self) -> SyncReport:
        started = time.monotonic()
        errors: list[str] = []
        reason: str | None = None
        try:
            self._run()
        except GitHubError as exc:
            reason, errors = exc.reason, [str(exc)]
        except StoreError as exc:
            reason, errors = "store", [str(exc)]
        except HealthExporterError as exc:
            reason, errors = "error", [str(exc)]
        except Exception as exc:  # a bug or a shape we did not expect: this repository fails
            log.exception("sync of %s failed unexpectedly", self.repository)
            reason, errors = "internal", [f"{type(exc).__name__}: {exc}"]
        report = SyncReport(
            repository=self.repository,
            project=self.project,
            ok=reason is None,
            items=self.tally.counts.get("items", 0),
            releases=self.tally.counts.get("releases", 0),
            tags=self.tally.counts.get("tags", 0),
            commits=self.tally.counts.get("commits", 0),
            users=self.tally.counts.get("users", 0),
            requests=self.tally.requests,
            points=self.tally.points,
            duration_seconds=round(time.monotonic() - started, 3),
            errors=tuple(errors),
            error_reason=reason,
        )
        try:
            self.store.save_sync_report(report, self.clock.now())
        except StoreError:
            log.exception("could not record the sync report of %s", self.repository)
        return report

    def _run(self) -> None:
        repo_path = f"/repos/{quote(self.owner)}/{quote(self.name)}"
        repo_changed, repo_body, previous = self._probe(repo_path)
        # The repository's ETag also changes with its open-issue count; only a push (a new
        # pushed_at) can bring commits or tags.
        pushed = repo_changed and (
            previous is None or previous.get("pushed_at") != repo_body.get("pushed_at")
        )
        if repo_changed:
            info = parse.parse_repository_rest(repo_body)
            if info.full_name.lower() != self.repository.lower():
                log.warning("%s was renamed to %s on GitHub", self.repository, info.full_name)
            # Keep the configured name as the key, so history stays in one place.
            self.store.save_repository(self.project, replace(info, full_name=self.repository))
        issues_changed, _, _ = self._probe(
            f"{repo_path}/issues",
            {"state": "all", "sort": "updated", "direction": "desc", "per_page": "1"},
        )
        releases_changed, _, _ = self._probe(f"{repo_path}/releases", {"per_page": "1"})
        is_empty = bool(repo_body.get("size") == 0 or not repo_body.get("pushed_at"))

        due = self._due_streams(pushed, issues_changed, releases_changed, is_empty)
        self._walk([self._pager(stream) for stream in due])
        self._commit_probes()

    def _pager(self, stream: Stream) -> paging.Pager:
        state = self._start_pass_if_needed(self.store.stream_state(self.repository, stream))
        if stream in (Stream.PULL_REQUESTS, Stream.ISSUES):
            return paging.ItemPager(
                self,
                state,
                overlap=self.settings.overlap,
                max_timeline_pages=self.settings.max_timeline_pages,
            )
        if stream is Stream.COMMITS:
            return paging.CommitPager(self, state, overlap=self.settings.overlap)
        return paging.RefPager(self, state)

    def _walk(self, pagers: Sequence[paging.Pager]) -> None:
        """Advance every stream together, one bundled query (1 point) at a time."""
        pending = list(pagers)
        while pending:
            riders = self.profiles.take(paging.MAX_PROFILES)
            page = paging.plan(pending, self.page_size, self.settled, riders)
            data = None
            try:
                data = self._graphql_page(page)
            finally:
                if data is None:  # not asked after all: they ride in a later query
                    self.profiles.give_back(riders)
            if data is None:
                continue  # GitHub timed out: plan again with smaller pages
            for take in page.takers:
                take(data["repository"])
            if page.profiles:
                now = self.clock.now()
                self.store.save_users(
                    [
                        parse.parse_user(login, data.get(alias), now)
                        for alias, login in page.profiles.items()
                    ]
                )
                self.count("users", len(page.profiles))
            still = []
            for pager in pending:
                pager.flush()
                if pager.done:
                    pager.finish()
                else:
                    still.append(pager)
            pending = still

    def _due_streams(
        self, pushed: bool, issues_changed: bool, releases_changed: bool, is_empty: bool
    ) -> list[Stream]:
        """Streams that changed, have an unfinished pass, or are due for a reconcile."""
        changed = {
            Stream.PULL_REQUESTS: issues_changed,
            Stream.ISSUES: issues_changed,
            Stream.RELEASES: releases_changed,
            Stream.TAGS: pushed and not is_empty,
            Stream.COMMITS: pushed and not is_empty,
        }
        now = self.clock.now()
        due = []
        for stream, has_changed in changed.items():
            state = self.store.stream_state(self.repository, stream)
            reconcile_due = state.last_full_pass_at is not None and (
                now - state.last_full_pass_at >= self.settings.reconcile_interval
            )
            if (
                has_changed
                or state.pass_kind is not None
                or reconcile_due
                or state.watermark is None
            ):
                if stream in (Stream.TAGS, Stream.COMMITS) and is_empty:
                    continue
                due.append(stream)
        return due

    def _start_pass_if_needed(self, state: StreamState) -> StreamState:
        """Begin a backfill (nothing stored yet) or a reconcile (interval elapsed)."""
        if state.pass_kind is not None:
            return state  # resume the unfinished pass from its cursor
        now = self.clock.now()
        if state.watermark is None:
            kind = PassKind.BACKFILL
        elif (
            state.last_full_pass_at is None
            or now - state.last_full_pass_at >= self.settings.reconcile_interval
        ):
            kind = PassKind.RECONCILE
        else:
            return state
        return replace(
            state,
            pass_kind=kind,
            pass_cursor=None,
            pass_high_water=None,
            generation=state.generation + 1,
        )

    def finish_pass(self, state: StreamState) -> StreamState:
        swept = self.store.sweep(self.repository, state.stream, state.generation)
        if swept:
            log.info(
                "%s %s: removed %d rows GitHub no longer has", self.repository, state.stream, swept
            )
        done = replace(
            state,
            watermark=state.pass_high_water or state.watermark or EPOCH,
            pass_kind=None,
            pass_cursor=None,
            pass_high_water=None,
            last_full_pass_at=self.clock.now(),
        )
        self.store.save_stream_state(done)
        return done

    # --- first response beyond the first timeline page ----------------------------------------
    def settled(self, item: Item, activities: Sequence[Activity]) -> bool:
        """True when the fetched timeline already holds the item's first response under every
        policy a user may configure (health/first_response.py, the definition itself): the
        maintainers policy (which implies "anyone") and, when maintainers are listed, the list
        policy.

        A pull request's clock start is only known once its first draft transition is seen
        (or its whole timeline): a ready-for-review further on would mean it was opened as a
        draft, and its clock started then, after responses that seemed to count. So a pull
        request whose fetched timeline has no draft transition is never settled early."""
        if item.kind is ItemKind.PULL_REQUEST and not any(
            a.kind in DRAFT_TRANSITIONS for a in activities
        ):
            return False
        item = replace(item, activities=tuple(sorted(activities, key=lambda a: (a.at, a.id))))

        def is_bot(actor: Actor) -> bool:
            return self.bots.is_bot(actor.login, actor.kind)

        policies = [ResponsePolicy(responders=Responders.MAINTAINERS)]
        if self.settings.maintainers:
            policies.append(ResponsePolicy(Responders.LIST, self.settings.maintainers))
        return all(find_first_response(item, p, is_bot).responded_at for p in policies)


def _gone(error: Mapping[str, Any], page: paging.Plan) -> bool:
    """A NOT_FOUND error about a followed item (``repository.t<n>``: deleted meanwhile) or a
    riding profile (``u<n>``: a login that no longer exists). Either answers null, which is
    handled; the rest of the page stands."""
    path = error.get("path") or []
    if error.get("type") != "NOT_FOUND" or not path:
        return False
    return path[0] in page.profiles or (len(path) >= 2 and path[1] in page.follow_aliases)


class ProfileRider:
    """Logins whose profile is missing or stale, handed to page queries to ride along at no
    cost (``queries.profile_part``). Shared by a Syncer's repository syncs (thread-safe); a
    login is handed out once per process. What did not ride — a sync that failed, logins seen
    in a repository's last query — is fetched by ``fetch_profiles``, which reads the store."""

    def __init__(self, store: Store, *, clock: Clock, refresh: timedelta) -> None:
        self._store = store
        self._clock = clock
        self._refresh = refresh
        self._lock = threading.Lock()
        self._handled: set[str] | None = None  # lower-cased: fresh in the store, or queued
        self._queue: deque[str] = deque()

    def saw(self, logins: Iterable[str]) -> None:
        with self._lock:
            if self._handled is None:
                fresh_since = self._clock.now() - self._refresh
                self._handled = {
                    login.lower()
                    for login, user in self._store.users().items()
                    if user.fetched_at >= fresh_since
                }
            for login in logins:
                if login.lower() not in self._handled:
                    self._handled.add(login.lower())
                    self._queue.append(login)

    def take(self, n: int) -> list[str]:
        with self._lock:
            return [self._queue.popleft() for _ in range(min(n, len(self._queue)))]

    def give_back(self, logins: Sequence[str]) -> None:
        with self._lock:
            self._queue.extendleft(reversed(logins))


def fetch_profiles(
    client: GitHubAPI, store: Store, *, clock: Clock, refresh: timedelta, limit: int = 1000
) -> tuple[int, int, int]:
    """Fetch the profile (company) of logins that have none or a stale one, 100 per request.
    Returns (users, requests, points)."""
    logins = store.logins_needing_profile(clock.now() - refresh, limit)
    requests = points = 0
    for start in range(0, len(logins), 100):
        batch = logins[start : start + 100]
        result = client.graphql(
            queries.users_query(len(batch)), {f"l{i}": login for i, login in enumerate(batch)}
        )
        requests += 1
        points += result.cost or 0
        now = clock.now()
        store.save_users(
            [
                parse.parse_user(login, result.data.get(f"u{i}"), now)
                for i, login in enumerate(batch)
            ]
        )
    return len(logins), requests, points


def expand_org(client: GitHubAPI, store: Store, selection: OrgSelection) -> list[str]:
    """The org's repositories that match the selection, via ``GET /orgs/{org}/repos`` with
    conditional requests page by page (an unchanged org costs nothing)."""
    from fnmatch import fnmatchcase

    names: list[str] = []
    url: str | None = f"/orgs/{quote(selection.org)}/repos"
    params: dict[str, str] | None = {"type": "all", "per_page": "100"}
    while url is not None:
        key = url + ("?type=all&per_page=100" if params else "")
        cached = store.cached_response(key)
        response = client.rest_get(url, params=params, etag=cached.etag if cached else None)
        if response.not_modified and cached is not None:
            body, next_url = cached.body["repos"], cached.body["next"]
        else:
            body = [
                {
                    "full_name": r["full_name"],
                    "name": r["name"],
                    "archived": r.get("archived", False),
                    "fork": r.get("fork", False),
                }
                for r in response.body
            ]
            next_url = response.next_url
            if response.etag:
                store.save_cached_response(
                    CachedResponse(key, response.etag, {"repos": body, "next": next_url})
                )
        for repo in body:
            if repo["archived"] and not selection.archived:
                continue
            if repo["fork"] and not selection.forks:
                continue
            name = str(repo["name"])
            if not any(fnmatchcase(name.lower(), p.lower()) for p in selection.include):
                continue
            if any(fnmatchcase(name.lower(), p.lower()) for p in selection.exclude):
                continue
            names.append(str(repo["full_name"]))
        url, params = next_url, None
    return names


class Syncer:
    """Syncs many repositories concurrently (bounded by the client's per-token concurrency)."""

    def __init__(
        self,
        client: GitHubAPI,
        store: Store,
        bots: BotCheck,
        settings: SyncSettings | None = None,
        *,
        clock: Clock | None = None,
        progress: Progress | None = None,
        max_workers: int = 4,
    ) -> None:
        self.client = client
        self.store = store
        self.bots = bots
        self.settings = settings or SyncSettings()
        self.clock = clock or SystemClock()
        self.progress = progress or NoProgress()
        self.max_workers = max_workers
        self.profiles = ProfileRider(store, clock=self.clock, refresh=self.settings.profile_refresh)

    def targets(
        self, repositories: Iterable[Target], orgs: Iterable[tuple[str, OrgSelection]]
    ) -> tuple[list[Target], list[SyncReport]]:
        """Explicit repositories plus expanded orgs, de-duplicated (case-insensitive). An org
        that fails to expand is reported and the rest go on."""
        seen: set[str] = set()
        out: list[Target] = []
        failures: list[SyncReport] = []
        for target in repositories:
            if target.repository.lower() not in seen:
                seen.add(target.repository.lower())
                out.append(target)
        for project, selection in orgs:
            try:
                names = expand_org(self.client, self.store, selection)
            except GitHubError as exc:
                failures.append(
                    SyncReport(
                        repository=f"{selection.org}/*",
                        project=project,
                        ok=False,
                        errors=(str(exc),),
                        error_reason=exc.reason,
                    )
                )
                continue
            for name in names:
                if name.lower() not in seen:
                    seen.add(name.lower())
                    out.append(Target(project, name))
        return out, failures

    def sync_repository(self, target: Target) -> SyncReport:
        return RepositorySync(
            self.client,
            self.store,
            self.bots,
            self.settings,
            clock=self.clock,
            progress=self.progress,
            project=target.project,
            repository=target.repository,
            profiles=self.profiles,
        ).run()

    def sync_all(
        self, targets: Sequence[Target], on_report: Callable[[SyncReport], None] | None = None
    ) -> list[SyncReport]:
        reports: list[SyncReport] = []
        with ThreadPoolExecutor(
            max_workers=max(1, self.max_workers), thread_name_prefix="sync"
        ) as pool:
            for report in pool.map(self.sync_repository, targets):
                reports.append(report)
                if on_report is not None:
                    on_report(report)
        return reports

    def sync_profiles(self) -> tuple[int, int, int]:
        return fetch_profiles(
            self.client, self.store, clock=self.clock, refresh=self.settings.profile_refresh
        )
