"""Pagers: one per stream a repository sync walks (pull requests, issues, releases, tags,
commits). Each says what it wants from the next GraphQL query and takes its share of the answer;
``plan`` packs what every pager wants into one query within GitHub's 1-point budget
(``queries.BUDGET_REQUESTS``), so the streams of a repository advance together and a backfill
costs about one point per 72 items, with the commits, releases and tags riding along for free.

The pagers keep the store's promise: each page is written in one transaction together with the
cursor to continue from, in the order GitHub gave the pages. An item whose first timeline page
did not settle its first response is *followed*: its further timeline pages ride along in the
next queries, and its page waits (with the pages after it) until every such item is settled.
"""

from __future__ import annotations

import functools
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol, TypeGuard

from healthexporter.github import parse, queries
from healthexporter.model import Activity, ActorKind, Commit, Item, ItemKind, Release, Tag
from healthexporter.progress import Progress
from healthexporter.store import Store, Stream, StreamState

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

# Fewest items a page of an item stream asks for while followed timelines share the budget.
MIN_ITEMS = 10
# At most this many followed timelines in one query (each brings up to 100 nodes).
MAX_FOLLOWS = 100
# At most this many profiles ride in one query (as many as a profile query asks for).
MAX_PROFILES = 100


class Host(Protocol):
    """What a pager needs of the repository sync that runs it."""

    store: Store
    repository: str
    progress: Progress
    timeline_size: int  # the nested timeline's page size (halved when GitHub times out)

    @property
    def points(self) -> int: ...

    def count(self, what: str, n: int) -> None: ...

    def settled(self, item: Item, activities: Sequence[Activity]) -> bool: ...

    def saw(self, logins: Iterable[str]) -> None:
        """Logins of people in what was just stored (their profiles may ride along)."""

    def finish_pass(self, state: StreamState) -> object: ...

    def now(self) -> datetime: ...


def _text(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _page_cursor(connection: Mapping[str, Any]) -> str | None:
    page_info = connection["pageInfo"]
    return str(page_info["endCursor"]) if page_info["hasNextPage"] else None


@dataclass
class Follow:
    """An item whose timeline is paged further, from ``cursor`` (None: from its start), until
    its first response is settled, the timeline ends, or ``limit`` pages were fetched."""

    item: Item
    activities: list[Activity]
    cursor: str | None
    limit: int
    pages: int = 0
    done: bool = False

    def part(self, prefix: str) -> queries.Part:
        kind = "pullRequest" if self.item.kind is ItemKind.PULL_REQUEST else "issue"
        return queries.timeline_part(
            kind, number=self.item.number, after=self.cursor, prefix=prefix
        )

    def take(self, node: Mapping[str, Any] | None, settled: Callable[..., bool]) -> None:
        self.pages += 1
        if node is None:  # deleted meanwhile: keep what we have
            self.done = True
            return
        more, self.cursor = parse.parse_timeline(node["timelineItems"])
        self.activities.extend(more)
        self.done = (
            self.cursor is None or self.pages >= self.limit or settled(self.item, self.activities)
        )

    def result(self) -> Item:
        unique = {a.id: a for a in self.activities}
        return replace(
            self.item,
            activities=tuple(sorted(unique.values(), key=lambda a: (a.at, a.id))),
            activity_cursor=self.cursor,
        )


class Pager:
    """A stream's walk. Subclasses fill in ``part`` and ``take``."""

    prefix: str
    fixed = True  # one request a page whatever its size (no nested connection)

    def __init__(self, host: Host, state: StreamState) -> None:
        self.host = host
        self.state = state
        self.full_pass = state.pass_kind is not None
        self.cursor = state.pass_cursor if self.full_pass else None
        self.more = True  # another page is wanted

    def part(self, first: int) -> queries.Part:
        raise NotImplementedError

    def take(self, repository: Mapping[str, Any]) -> None:
        raise NotImplementedError

    def follows(self) -> list[Follow]:
        return []

    def flush(self) -> None:
        """Store the pages that are complete."""

    @property
    def done(self) -> bool:
        return not self.more and not self.follows()

    def finish(self) -> None:
        raise NotImplementedError


def _people(items: Sequence[Item]) -> set[str]:
    """Logins of the users (not bots, not deleted accounts) who wrote or acted on ``items``."""
    actors = [i.author for i in items] + [a.actor for i in items for a in i.activities]
    return {a.login for a in actors if a.kind is ActorKind.USER and a.login is not None}


def _waiting(entry: Item | Follow) -> TypeGuard[Follow]:
    """A followed item whose first response is not settled yet."""
    return isinstance(entry, Follow) and not entry.done


def _take_follow(
    follow: Follow, alias: str, settled: Callable[..., bool], repository: Mapping[str, Any]
) -> None:
    follow.take(repository.get(alias), settled)


@dataclass
class _Page:
    entries: list[Item | Follow]
    state: StreamState
    newest: datetime | None = None


class ItemPager(Pager):
    """Pull requests or issues: a full pass (backfill, reconcile) from the stored cursor, or a
    poll of what changed since the watermark minus ``overlap``."""

    fixed = False

    def __init__(
        self,
        host: Host,
        state: StreamState,
        *,
        overlap: timedelta,
        max_timeline_pages: int,
    ) -> None:
        super().__init__(host, state)
        self.kind = (
            ItemKind.PULL_REQUEST if state.stream is Stream.PULL_REQUESTS else ItemKind.ISSUE
        )
        self.connection = "pullRequests" if self.kind is ItemKind.PULL_REQUEST else "issues"
        self.prefix = "pr" if self.kind is ItemKind.PULL_REQUEST else "is"
        self.max_timeline_pages = max_timeline_pages
        self.since: datetime | None = None
        self.newest = state.watermark
        if not self.full_pass:
            assert state.watermark is not None
            self.since = state.watermark - overlap
        self.queue: deque[_Page] = deque()
        self.label = f"{host.repository} {state.stream.value}"
        self.stored = 0
        self.total: int | None = None

    def part(self, first: int) -> queries.Part:
        return queries.items_part(
            self.connection,
            first=first,
            after=self.cursor,
            since=None if self.since is None else _text(self.since),
            timeline_first=self.host.timeline_size,
            prefix=self.prefix,
        )

    def follows(self) -> list[Follow]:
        return [e for page in self.queue for e in page.entries if _waiting(e)]

    def _follow(self, item: Item) -> Item | Follow:
        if item.activity_cursor is None or self.host.settled(item, item.activities):
            return item
        return Follow(item, list(item.activities), item.activity_cursor, self.max_timeline_pages)

    def take(self, repository: Mapping[str, Any]) -> None:
        connection = repository[self.prefix]
        self.total = connection.get("totalCount")
        cursor = _page_cursor(connection)
        if self.full_pass:
            items = [
                parse.parse_item(self.host.repository, self.kind, n) for n in connection["nodes"]
            ]
            high_water = self.state.pass_high_water
            if high_water is None and items:
                high_water = max(i.updated_at for i in items)
            if cursor is None:
                high_water = high_water or EPOCH
            self.state = replace(self.state, pass_cursor=cursor, pass_high_water=high_water)
            self.queue.append(_Page([self._follow(i) for i in items], self.state))
            self.cursor, self.more = cursor, cursor is not None
        else:
            assert self.since is not None
            entries: list[Item | Follow] = []
            reached_old = False
            for node in connection["nodes"]:
                item = parse.parse_item(self.host.repository, self.kind, node)
                if item.updated_at < self.since:
                    reached_old = True  # pull requests have no `since` filter: stop here
                    break
                entries.append(self._polled(item))
            newest = (
                max((e.item if isinstance(e, Follow) else e).updated_at for e in entries)
                if entries
                else None
            )
            self.queue.append(_Page(entries, self.state, newest))
            self.cursor, self.more = cursor, cursor is not None and not reached_old

    def _polled(self, item: Item) -> Item | Follow:
        """An item fetched with a ``since``-filtered timeline: its activities are only the new
        ones (the store merges them). If even the new ones did not fit in a page, the item's
        whole timeline is fetched again from the start."""
        if item.activity_cursor is not None:
            restarted = replace(item, activities=(), activity_cursor=None)
            return Follow(restarted, [], None, self.max_timeline_pages)
        # The new activities all fit; older ones not stored before stay not stored (their item
        # was settled when it was fetched, and new activity cannot unsettle it).
        stored = self.host.store.item(self.host.repository, item.number)
        return replace(item, activity_cursor=stored.activity_cursor if stored is not None else None)

    def flush(self) -> None:
        while self.queue and not any(_waiting(e) for e in self.queue[0].entries):
            page = self.queue.popleft()
            items = [e.result() if isinstance(e, Follow) else e for e in page.entries]
            if not self.full_pass and not items:
                continue
            self.host.store.save_items(items, page.state)
            self.host.saw(_people(items))
            if page.newest is not None and self.newest is not None:
                self.newest = max(self.newest, page.newest)
            self.stored += len(items)
            self.host.count("items", len(items))
            self.host.progress.update(self.label, self.stored, self.total, self.host.points)

    def finish(self) -> None:
        if self.full_pass:
            self.host.finish_pass(self.state)
            self.host.progress.finish(self.label)
        else:
            self.host.store.save_stream_state(replace(self.state, watermark=self.newest))


class RefPager(Pager):
    """Releases or tags: newest first; a full pass on backfill/reconcile, otherwise stop at the
    first page that holds nothing new (both lists are short and rarely edited; the reconcile
    catches edits and deletions)."""

    def __init__(self, host: Host, state: StreamState) -> None:
        super().__init__(host, state)
        self.releases = state.stream is Stream.RELEASES
        self.prefix = "rel" if self.releases else "tag"
        stored: Sequence[Release | Tag] = (
            host.store.releases(host.repository)
            if self.releases
            else host.store.tags(host.repository)
        )
        self.known: set[Release | Tag] = set(stored)

    def part(self, first: int) -> queries.Part:
        build = queries.releases_part if self.releases else queries.tags_part
        return build(first=first, after=self.cursor, prefix=self.prefix)

    def take(self, repository: Mapping[str, Any]) -> None:
        connection = repository[self.prefix]
        rows: list[Any]
        if self.releases:
            rows = [parse.parse_release(self.host.repository, n) for n in connection["nodes"]]
        else:
            parsed = (parse.parse_tag(self.host.repository, n) for n in connection["nodes"])
            rows = [t for t in parsed if t is not None]
        new = [row for row in rows if row not in self.known]
        self.cursor = _page_cursor(connection)
        if self.full_pass:
            self.state = replace(self.state, pass_cursor=self.cursor)
        to_save = rows if self.full_pass else new
        if self.releases:
            self.host.store.save_releases(to_save, self.state)
        else:
            self.host.store.save_tags(to_save, self.state)
        self.host.count(self.state.stream.value, len(to_save))
        self.more = self.cursor is not None and (self.full_pass or bool(new))

    def finish(self) -> None:
        if self.full_pass:
            self.host.finish_pass(replace(self.state, pass_high_water=self.host.now()))


class CommitPager(Pager):
    """Default-branch history: all of it on a full pass, since the watermark minus ``overlap``
    on a poll."""

    prefix = "com"

    def __init__(self, host: Host, state: StreamState, *, overlap: timedelta) -> None:
        super().__init__(host, state)
        self.since: str | None = None
        if not self.full_pass:
            assert state.watermark is not None
            self.since = _text(state.watermark - overlap)
        self.newest = state.pass_high_water if self.full_pass else state.watermark
        self.label = f"{host.repository} commits"
        self.stored = 0

    def part(self, first: int) -> queries.Part:
        return queries.commits_part(
            first=first, after=self.cursor, since=self.since, prefix=self.prefix
        )

    def take(self, repository: Mapping[str, Any]) -> None:
        target = (repository.get(self.prefix) or {}).get("target") or {}
        history = target.get("history")
        if history is None:  # an empty repository
            self.more = False
            return
        commits: list[Commit] = [
            parse.parse_commit(self.host.repository, n) for n in history["nodes"]
        ]
        if commits:
            page_newest = max(c.committed_at for c in commits)
            self.newest = page_newest if self.newest is None else max(self.newest, page_newest)
        self.cursor = _page_cursor(history)
        if self.full_pass:
            # the watermark a pass leaves is the newest commit of its first page
            self.state = replace(self.state, pass_cursor=self.cursor, pass_high_water=self.newest)
        self.host.store.save_commits(commits, self.state)
        self.host.saw(c.author_login for c in commits if c.author_login is not None)
        self.stored += len(commits)
        self.host.count("commits", len(commits))
        self.host.progress.update(
            self.label, self.stored, history.get("totalCount"), self.host.points
        )
        self.more = self.cursor is not None

    def finish(self) -> None:
        self.host.progress.finish(self.label)
        if self.full_pass:
            self.host.finish_pass(replace(self.state, pass_high_water=self.newest or EPOCH))
        else:
            self.host.store.save_stream_state(
                replace(self.state, watermark=self.newest or self.state.watermark)
            )


@dataclass
class Plan:
    """One query's worth: its parts and, for each, who takes the answer."""

    parts: list[queries.Part] = field(default_factory=list)
    takers: list[Callable[[Mapping[str, Any]], None]] = field(default_factory=list)
    follow_aliases: set[str] = field(default_factory=set)
    profiles: dict[str, str] = field(default_factory=dict)  # alias → login, at the root

    def add(self, part: queries.Part, taker: Callable[[Mapping[str, Any]], None]) -> None:
        self.parts.append(part)
        self.takers.append(taker)


def plan(
    pagers: Sequence[Pager],
    page_size: int,
    settled: Callable[..., bool],
    profiles: Sequence[str] = (),
) -> Plan:
    """Pack the next page of every pager that wants one, and the next timeline page of every
    followed item, into one query of at most ``queries.BUDGET_REQUESTS`` requests (1 point).

    Releases, tags and commits take one request a page at any size; followed timelines one
    each (at most ``MAX_FOLLOWS``, leaving every item stream ``MIN_ITEMS``); the item streams
    share what is left (1 + 2n requests for n items), each at most ``page_size``. Up to
    ``MAX_PROFILES`` ``profiles`` (logins) ride along at the root: no connection, no cost."""
    out = Plan()
    fixed = [p for p in pagers if p.more and p.fixed]
    items = [p for p in pagers if p.more and not p.fixed]
    follows = [f for p in pagers for f in p.follows()]
    budget = queries.BUDGET_REQUESTS - len(fixed) - len(items)
    room = budget - 2 * MIN_ITEMS * len(items)
    follows = follows[: max(0, min(MAX_FOLLOWS, room))] if items else follows[:MAX_FOLLOWS]
    budget -= len(follows)
    for pager in fixed:
        out.add(pager.part(page_size), pager.take)
    if items:
        first = max(1, min(page_size, budget // (2 * len(items))))
        for pager in items:
            out.add(pager.part(first), pager.take)
    for index, follow in enumerate(follows):
        alias = f"t{index}"
        out.follow_aliases.add(alias)
        out.add(follow.part(alias), functools.partial(_take_follow, follow, alias, settled))
    if out.parts:
        for index, login in enumerate(profiles[:MAX_PROFILES]):
            alias = f"u{index}"
            out.profiles[alias] = login
            out.parts.append(queries.profile_part(login, prefix=alias))
    return out
