"""Responsiveness: how fast people who are not the author engage with, merge and close items.

Definitions are in docs/metrics.md ("Responsiveness"); the first response itself is
``first_response.first_response`` (CHAOSS "Time to First Response", DevStats "time to
engagement"). Here it is applied to a repository, a kind of item and a window:

- Bot-authored items are left out everywhere (dependabot's pull requests are not people waiting
  for people); ``waiting`` counts them apart so they stay visible.
- A pull request still in draft has no clock, so it is neither answered nor unanswered.
- Every window is ``[now - duration, now)``. Anything stored with a time at or after ``now``
  has not happened yet as far as this computation goes — a response at ``now`` is no response —
  so computing "as of" an earlier ``now`` never sees the future.
"""

from __future__ import annotations

from datetime import datetime

from healthexporter.health.first_response import first_response
from healthexporter.health.snapshot import (
    WAITING_THRESHOLDS,
    HealthSettings,
    RepositoryData,
    Responsiveness,
    Sample,
    Waiting,
    Window,
)
from healthexporter.model import Item, ItemKind, ItemState


def response(
    item: Item, now: datetime, settings: HealthSettings
) -> tuple[datetime | None, Sample | None]:
    """The item's clock start and its first response before ``now`` as a sample (or None).

    Shared with inclusivity so first-timers' first responses follow the same definition.
    """
    result = first_response(item, settings.policy, settings.is_bot)
    if result.clock_start is None or result.responded_at is None or result.responded_at >= now:
        return result.clock_start, None
    seconds = (result.responded_at - result.clock_start).total_seconds()
    return result.clock_start, Sample(seconds, item.ref, result.responded_at)


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


def _duration(start: datetime | None, end: datetime, item: Item) -> Sample | None:
    """From clock start to ``end``; no sample without a clock (a draft closed before it was ever
    ready for review) or when the clock started after ``end`` (such a draft, reopened later)."""
    if start is None or start > end:
        return None
    return Sample((end - start).total_seconds(), item.ref, end)


def _ordered(samples: list[Sample]) -> tuple[Sample, ...]:
    return tuple(sorted(samples, key=lambda s: (s.at, s.item)))


def _ratio(numerator: int, denominator: int) -> float | None:
    return numerator / denominator if denominator else None


def responsiveness(
    data: RepositoryData, kind: ItemKind, window: Window, now: datetime, settings: HealthSettings
) -> Responsiveness:
    """One kind of item in one window; see ``Responsiveness`` for what each field holds.

    ``opened``, ``closed`` and ``merged`` count human-authored items including drafts (an
    abandoned draft that is closed is a closed pull request); the duration samples need a clock.
    ``closure_ratio`` compares items closed in the window with items opened in it — not the same
    items — so it exceeds 1 when a window clears an older backlog.
    """
    first_responses: list[Sample] = []
    to_merge: list[Sample] = []
    to_close: list[Sample] = []
    unanswered = opened = closed = merged = 0
    for item in data.items:
        if item.kind is not kind or settings.is_bot(item.author):
            continue
        start, answer = response(item, now, settings)
        if window.contains(item.created_at, now):
            opened += 1
        if window.contains(start, now):
            if answer is None:
                unanswered += 1
            else:
                first_responses.append(answer)
        merge_time = merged_at(item)
        if merge_time is not None and window.contains(merge_time, now):
            merged += 1
            sample = _duration(start or item.created_at, merge_time, item)
            if sample is not None:
                to_merge.append(sample)
        close_time = closed_unmerged_at(item)
        if close_time is not None and window.contains(close_time, now):
            closed += 1
            sample = _duration(start, close_time, item)
            if sample is not None:
                to_close.append(sample)
    return Responsiveness(
        first_response=_ordered(first_responses),
        unanswered=unanswered,
        time_to_merge=_ordered(to_merge),
        time_to_close=_ordered(to_close),
        opened=opened,
        closed=closed,
        merged=merged,
        merge_ratio=_ratio(merged, merged + closed) if kind is ItemKind.PULL_REQUEST else None,
        closure_ratio=_ratio(closed + merged, opened),
    )


def waiting(
    data: RepositoryData, kind: ItemKind, now: datetime, settings: HealthSettings
) -> Waiting:
    """Open items whose clock runs and that nobody has answered yet, however old.

    ``over`` counts waits strictly longer than each threshold of ``WAITING_THRESHOLDS`` (CNCF
    guidance: a first response within an hour is good, after three days is bad). The oldest
    wait names its item; on a tie, the lowest item number. Items opened (or made ready) at or
    after ``now`` are not waiting yet.
    """
    ages: list[tuple[float, Item]] = []
    drafts = bot_authored = 0
    for item in data.items:
        if item.kind is not kind or item.state is not ItemState.OPEN or item.created_at >= now:
            continue
        start, answer = response(item, now, settings)
        if settings.is_bot(item.author):
            bot_authored += answer is None
        elif start is None:
            drafts += 1
        elif answer is None and start < now:
            ages.append(((now - start).total_seconds(), item))
    over = {name: sum(age > threshold for age, _ in ages) for name, threshold in WAITING_THRESHOLDS}
    if not ages:
        return Waiting(over=over, drafts=drafts, bot_authored=bot_authored)
    oldest_seconds, oldest = min(ages, key=lambda entry: (-entry[0], entry[1].number))
    return Waiting(
        count=len(ages),
        oldest_seconds=oldest_seconds,
        oldest_item=oldest.ref,
        over=over,
        drafts=drafts,
        bot_authored=bot_authored,
    )
