"""A repository's items, prepared once per computation: what each item's facts are, and
indexes by time so that each window selects its items by bisection.

Every window of every topic asks the same questions of every item — when did its clock start,
when did it get its first response, was it merged or closed, is its author a bot or a
first-timer. Asked per window and kind, that is millions of calls for a large repository;
asked once here, each window is a slice of a sorted index. None of the facts depend on ``now``
(a response after ``now`` is dropped where a window is computed), so one ``PreparedRepository``
serves every window.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from operator import itemgetter
from typing import Generic, TypeVar

from healthexporter.health.first_response import MAINTAINER_ASSOCIATIONS, find_first_response
from healthexporter.health.snapshot import HealthSettings, RepositoryData, Sample
from healthexporter.model import Commit, Item, ItemKind, ItemState

__all__ = [
    "FIRST_TIMER_ASSOCIATIONS",
    "ItemFacts",
    "ItemTimes",
    "KindIndex",
    "PreparedRepository",
    "Timed",
    "closed_unmerged_at",
    "earliest_contributions",
    "is_first_timer",
    "item_times",
    "merged_at",
    "prepare",
]

T = TypeVar("T")

# GitHub's authorAssociation values for someone who has not contributed to the repository
# (FIRST_TIME_CONTRIBUTOR) or to GitHub (FIRST_TIMER) before.
FIRST_TIMER_ASSOCIATIONS = frozenset({"FIRST_TIME_CONTRIBUTOR", "FIRST_TIMER"})


def merged_at(item: Item) -> datetime | None:
    """When a merged pull request was merged; None for anything not merged."""
    if item.state is not ItemState.MERGED:
        return None
    return item.merged_at or item.closed_at


def closed_unmerged_at(item: Item) -> datetime | None:
    """When an item closed without a merge was closed; None if open or merged.

    A reopened item is OPEN again and so not closed, whatever ``closed_at`` still says.
    """
    return item.closed_at if item.state is ItemState.CLOSED else None


def earliest_contributions(data: RepositoryData) -> dict[str, datetime]:
    """Each lower-cased login's first item (pull request or issue) or default-branch commit.

    Commits count by committed time: a pull request's own commits were often authored before
    it was opened, but they land in the branch only when it is merged.
    """
    earliest: dict[str, datetime] = {}
    dated = [(item.author.login, item.created_at) for item in data.items]
    dated += [(commit.author_login, commit.committed_at) for commit in data.commits]
    for login, at in dated:
        if login is not None:
            key = login.lower()
            earliest[key] = min(at, earliest.get(key, at))
    return earliest


def is_first_timer(item: Item, earliest: Mapping[str, datetime]) -> bool:
    """GitHub says so (FIRST_TIME_CONTRIBUTOR, FIRST_TIMER), or — because GitHub computes the
    association when asked, so it reads CONTRIBUTOR once the first pull request is merged — the
    author has no stored item or commit older than this one. Maintainers (OWNER, MEMBER,
    COLLABORATOR) are never first-timers, even in a repository whose history starts with them,
    and neither is a deleted account, which has no history to look at."""
    if item.author_association in FIRST_TIMER_ASSOCIATIONS:
        return True
    if item.author_association in MAINTAINER_ASSOCIATIONS or item.author.login is None:
        return False
    return earliest.get(item.author.login.lower(), item.created_at) >= item.created_at


@dataclass(frozen=True, slots=True)
class Timed(Generic[T]):
    """Values sorted by a time; ``between`` is a window's ``start <= at < end`` by bisection."""

    times: tuple[datetime, ...]
    values: tuple[T, ...]

    @classmethod
    def of(cls, values: Sequence[T], times: Sequence[datetime | None]) -> Timed[T]:
        """``values`` sorted by their ``times`` (one each); those without a time never fall in
        a window and are left out."""
        dated = [(at, value) for at, value in zip(times, values, strict=True) if at is not None]
        dated.sort(key=itemgetter(0))  # C-level key: a large repository sorts millions
        return cls(tuple(map(itemgetter(0), dated)), tuple(map(itemgetter(1), dated)))

    def _bounds(self, start: datetime, end: datetime) -> tuple[int, int]:
        low = bisect_left(self.times, start)
        return low, max(low, bisect_left(self.times, end, low))

    def count(self, start: datetime, end: datetime) -> int:
        low, high = self._bounds(start, end)
        return high - low

    def between(self, start: datetime, end: datetime) -> tuple[T, ...]:
        low, high = self._bounds(start, end)
        return self.values[low:high]


@dataclass(frozen=True, slots=True)
class ItemFacts:
    """What the maths needs of one item, worked out once. Samples are made only for the items
    a window selects: a large repository has hundreds of thousands of items, a window few."""

    item: Item
    bot_authored: bool
    clock_start: datetime | None  # None: a draft never ready for review
    responded_at: datetime | None  # the first response, whenever it was (None: none yet)
    merged_at: datetime | None
    closed_at: datetime | None  # closed without a merge

    def answered_before(self, now: datetime) -> bool:
        """A response before ``now``: one at or after it has not happened yet."""
        at = self.responded_at
        return self.clock_start is not None and at is not None and at < now

    def response(self, now: datetime) -> Sample | None:
        """Clock start → first response, if that was before ``now``."""
        start, at = self.clock_start, self.responded_at
        if start is None or at is None or at >= now:
            return None
        return Sample((at - start).total_seconds(), self.item.ref, at)

    def merge(self) -> Sample | None:
        """Clock start (or opening, for a draft never ready) → merge."""
        return _duration(self.clock_start or self.item.created_at, self.merged_at, self.item)

    def close(self) -> Sample | None:
        """Clock start → close without a merge."""
        return _duration(self.clock_start, self.closed_at, self.item)


def _duration(start: datetime | None, end: datetime | None, item: Item) -> Sample | None:
    """From clock start to ``end``; no sample without a clock (a draft closed before it was ever
    ready for review) or when the clock started after ``end`` (such a draft, reopened later)."""
    if start is None or end is None or start > end:
        return None
    return Sample((end - start).total_seconds(), item.ref, end)


def item_facts(item: Item, settings: HealthSettings) -> ItemFacts:
    result = find_first_response(item, settings.policy, settings.is_bot)
    return ItemFacts(
        item=item,
        bot_authored=settings.is_bot(item.author),
        clock_start=result.clock_start,
        responded_at=result.responded_at,
        merged_at=merged_at(item),
        closed_at=closed_unmerged_at(item),
    )


@dataclass(frozen=True, slots=True)
class ItemTimes:
    """Velocity's indexes: every item, bot-authored ones included, and the commits."""

    opened: Mapping[ItemKind, Timed[Item]]
    merged: Mapping[ItemKind, Timed[Item]]
    closed: Mapping[ItemKind, Timed[Item]]  # without a merge
    commits: Timed[Commit]  # by committed time


def item_times(data: RepositoryData) -> ItemTimes:
    """Velocity's indexes alone: they need no settings."""
    by_kind = {kind: [item for item in data.items if item.kind is kind] for kind in ItemKind}
    return ItemTimes(
        opened={
            kind: Timed.of(items, [i.created_at for i in items]) for kind, items in by_kind.items()
        },
        merged={
            kind: Timed.of(items, [merged_at(i) for i in items]) for kind, items in by_kind.items()
        },
        closed={
            kind: Timed.of(its, [closed_unmerged_at(i) for i in its])
            for kind, its in by_kind.items()
        },
        commits=Timed.of(data.commits, [commit.committed_at for commit in data.commits]),
    )


@dataclass(frozen=True, slots=True)
class KindIndex:
    """One kind of item. The four indexes hold human-authored items only (responsiveness
    leaves bots out); ``open`` holds every open item, bots' too (``waiting`` counts them)."""

    by_opening: Timed[ItemFacts]
    by_clock_start: Timed[ItemFacts]
    by_merge: Timed[ItemFacts]
    by_close: Timed[ItemFacts]  # closed without a merge
    open: tuple[ItemFacts, ...]


@dataclass(frozen=True, slots=True)
class PreparedRepository:
    """One repository under one ``HealthSettings`` (bots, response policy): build it with
    ``prepare`` and pass it with the same settings."""

    kinds: Mapping[ItemKind, KindIndex]
    first_timer_pull_requests: Timed[ItemFacts]  # human-authored, by opening
    times: ItemTimes


def _kind_index(facts: list[ItemFacts]) -> KindIndex:
    human = [f for f in facts if not f.bot_authored]
    return KindIndex(
        by_opening=Timed.of(human, [f.item.created_at for f in human]),
        by_clock_start=Timed.of(human, [f.clock_start for f in human]),
        by_merge=Timed.of(human, [f.merged_at for f in human]),
        by_close=Timed.of(human, [f.closed_at for f in human]),
        open=tuple(f for f in facts if f.item.state is ItemState.OPEN),
    )


def prepare(data: RepositoryData, settings: HealthSettings) -> PreparedRepository:
    """Each item's facts, once, and the indexes every window selects from."""
    facts = [item_facts(item, settings) for item in data.items]
    earliest = data.history.earliest if data.history else earliest_contributions(data)
    first_timers = [
        f
        for f in facts
        if f.item.kind is ItemKind.PULL_REQUEST
        and not f.bot_authored
        and is_first_timer(f.item, earliest)
    ]
    return PreparedRepository(
        kinds={kind: _kind_index([f for f in facts if f.item.kind is kind]) for kind in ItemKind},
        first_timer_pull_requests=Timed.of(first_timers, [f.item.created_at for f in first_timers]),
        times=item_times(data),
    )
