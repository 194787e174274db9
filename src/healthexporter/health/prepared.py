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
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Generic, TypeVar

from healthexporter.health.first_response import MAINTAINER_ASSOCIATIONS, find_first_response
from healthexporter.health.snapshot import HealthSettings, RepositoryData, Sample
from healthexporter.model import Item, ItemKind, ItemState

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


def is_first_timer(item: Item, earliest: dict[str, datetime]) -> bool:
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
    def of(cls, dated: Iterable[tuple[datetime | None, T]]) -> Timed[T]:
        """The values with a time, sorted by it (the ones without never fall in a window)."""
        pairs = sorted(
            ((at, value) for at, value in dated if at is not None), key=lambda pair: pair[0]
        )
        return cls(tuple(at for at, _ in pairs), tuple(value for _, value in pairs))

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
    """What the maths needs of one item, worked out once. The samples end at the response,
    merge or close, whenever that was: a window drops those at or after its ``now``."""

    item: Item
    bot_authored: bool
    clock_start: datetime | None  # None: a draft never ready for review
    response: Sample | None  # clock start → first response (None: no response yet)
    merged_at: datetime | None
    merge: Sample | None  # clock start (or opening, for a draft) → merge
    closed_at: datetime | None  # closed without a merge
    close: Sample | None  # clock start → close

    @property
    def responded_at(self) -> datetime | None:
        return None if self.response is None else self.response.at


def _duration(start: datetime | None, end: datetime | None, ref: str) -> Sample | None:
    """From clock start to ``end``; no sample without a clock (a draft closed before it was ever
    ready for review) or when the clock started after ``end`` (such a draft, reopened later)."""
    if start is None or end is None or start > end:
        return None
    return Sample((end - start).total_seconds(), ref, end)


def item_facts(item: Item, settings: HealthSettings) -> ItemFacts:
    result = find_first_response(item, settings.policy, settings.is_bot)
    start = result.clock_start
    ref = item.ref
    response = None
    if start is not None and result.responded_at is not None:
        seconds = (result.responded_at - start).total_seconds()
        response = Sample(seconds, ref, result.responded_at)
    merge_time = merged_at(item)
    close_time = closed_unmerged_at(item)
    return ItemFacts(
        item=item,
        bot_authored=settings.is_bot(item.author),
        clock_start=start,
        response=response,
        merged_at=merge_time,
        merge=_duration(start or item.created_at, merge_time, ref),
        closed_at=close_time,
        close=_duration(start, close_time, ref),
    )


@dataclass(frozen=True, slots=True)
class ItemTimes:
    """Velocity's indexes: every item, bot-authored ones included, and the commits."""

    opened: Mapping[ItemKind, Timed[None]]
    merged: Mapping[ItemKind, Timed[None]]
    closed: Mapping[ItemKind, Timed[None]]  # without a merge
    commits: Timed[str]  # oids by committed time


def item_times(data: RepositoryData) -> ItemTimes:
    """Velocity's indexes alone: they need no settings."""
    kinds = tuple(ItemKind)

    def by(when: Callable[[Item], datetime | None]) -> dict[ItemKind, Timed[None]]:
        return {
            kind: Timed.of((when(item), None) for item in data.items if item.kind is kind)
            for kind in kinds
        }

    return ItemTimes(
        opened=by(lambda item: item.created_at),
        merged=by(merged_at),
        closed=by(closed_unmerged_at),
        commits=Timed.of((commit.committed_at, commit.oid) for commit in data.commits),
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
        by_opening=Timed.of((f.item.created_at, f) for f in human),
        by_clock_start=Timed.of((f.clock_start, f) for f in human),
        by_merge=Timed.of((f.merged_at, f) for f in human),
        by_close=Timed.of((f.closed_at, f) for f in human),
        open=tuple(f for f in facts if f.item.state is ItemState.OPEN),
    )


def prepare(data: RepositoryData, settings: HealthSettings) -> PreparedRepository:
    """Each item's facts, once, and the indexes every window selects from."""
    facts = [item_facts(item, settings) for item in data.items]
    earliest = earliest_contributions(data)
    first_timers = (
        f
        for f in facts
        if f.item.kind is ItemKind.PULL_REQUEST
        and not f.bot_authored
        and is_first_timer(f.item, earliest)
    )
    return PreparedRepository(
        kinds={kind: _kind_index([f for f in facts if f.item.kind is kind]) for kind in ItemKind},
        first_timer_pull_requests=Timed.of((f.item.created_at, f) for f in first_timers),
        times=item_times(data),
    )
