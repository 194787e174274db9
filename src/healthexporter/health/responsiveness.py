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

from healthexporter.health.first_response import find_first_response
from healthexporter.health.prepared import (
    PreparedRepository,
    closed_unmerged_at,
    merged_at,
    prepare,
)
from healthexporter.health.snapshot import (
    WAITING_THRESHOLDS,
    HealthSettings,
    RepositoryData,
    Responsiveness,
    Sample,
    Waiting,
    Window,
)
from healthexporter.model import Item, ItemKind

# merged_at and closed_unmerged_at live in ``prepared`` (which every window reads); they stay
# importable from here.
__all__ = ["closed_unmerged_at", "merged_at", "response", "responsiveness", "waiting"]


def response(
    item: Item, now: datetime, settings: HealthSettings
) -> tuple[datetime | None, Sample | None]:
    """The item's clock start and its first response before ``now`` as a sample (or None).

    The same definition as the prepared facts (``prepared.item_facts``) that responsiveness,
    waiting and inclusivity read.
    """
    result = find_first_response(item, settings.policy, settings.is_bot)
    if result.clock_start is None or result.responded_at is None or result.responded_at >= now:
        return result.clock_start, None
    seconds = (result.responded_at - result.clock_start).total_seconds()
    return result.clock_start, Sample(seconds, item.ref, result.responded_at)


def _ordered(samples: list[Sample]) -> tuple[Sample, ...]:
    return tuple(sorted(samples, key=lambda s: (s.at, s.item)))


def _ratio(numerator: int, denominator: int) -> float | None:
    return numerator / denominator if denominator else None


def responsiveness(
    data: RepositoryData,
    kind: ItemKind,
    window: Window,
    now: datetime,
    settings: HealthSettings,
    *,
    prepared: PreparedRepository | None = None,
) -> Responsiveness:
    """One kind of item in one window; see ``Responsiveness`` for what each field holds.

    ``opened``, ``closed`` and ``merged`` count human-authored items including drafts (an
    abandoned draft that is closed is a closed pull request); the duration samples need a clock.
    ``closure_ratio`` compares items closed in the window with items opened in it — not the same
    items — so it exceeds 1 when a window clears an older backlog.

    ``prepared`` is ``prepare(data, settings)``, when the caller computes several windows.
    """
    index = (prepared or prepare(data, settings)).kinds[kind]
    start = window.start(now)
    first_responses: list[Sample] = []
    unanswered = 0
    for facts in index.by_clock_start.between(start, now):
        answer = facts.response(now)
        if answer is None:
            unanswered += 1
        else:
            first_responses.append(answer)
    merged_items = index.by_merge.between(start, now)
    closed_items = index.by_close.between(start, now)
    opened, merged, closed = (
        index.by_opening.count(start, now),
        len(merged_items),
        len(closed_items),
    )
    return Responsiveness(
        first_response=_ordered(first_responses),
        unanswered=unanswered,
        time_to_merge=_ordered([s for f in merged_items if (s := f.merge()) is not None]),
        time_to_close=_ordered([s for f in closed_items if (s := f.close()) is not None]),
        opened=opened,
        closed=closed,
        merged=merged,
        merge_ratio=_ratio(merged, merged + closed) if kind is ItemKind.PULL_REQUEST else None,
        closure_ratio=_ratio(closed + merged, opened),
    )


def waiting(
    data: RepositoryData,
    kind: ItemKind,
    now: datetime,
    settings: HealthSettings,
    *,
    prepared: PreparedRepository | None = None,
) -> Waiting:
    """Open items whose clock runs and that nobody has answered yet, however old.

    ``over`` counts waits strictly longer than each threshold of ``WAITING_THRESHOLDS`` (CNCF
    guidance: a first response within an hour is good, after three days is bad). The oldest
    wait names its item; on a tie, the lowest item number. Items opened (or made ready) at or
    after ``now`` are not waiting yet.
    """
    ages: list[tuple[float, Item]] = []
    drafts = bot_authored = 0
    for facts in (prepared or prepare(data, settings)).kinds[kind].open:
        item = facts.item
        if item.created_at >= now:
            continue
        start = facts.clock_start
        answered = facts.answered_before(now)
        if facts.bot_authored:
            bot_authored += not answered
        elif start is None:
            drafts += 1
        elif not answered and start < now:
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
