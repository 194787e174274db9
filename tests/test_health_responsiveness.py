"""Responsiveness and waiting with literal items: the definitions in docs/metrics.md."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from healthexporter.health.responsiveness import responsiveness, waiting
from healthexporter.health.snapshot import (
    HealthSettings,
    RepositoryData,
    Responsiveness,
    Waiting,
    Window,
)
from healthexporter.model import Activity, ActivityKind, Actor, ActorKind, Item, ItemKind, ItemState

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
WEEK = Window("7d", timedelta(days=7))
ALICE = Actor("alice", ActorKind.USER)  # the author
BOB = Actor("bob", ActorKind.USER)  # a maintainer
DEPENDABOT = Actor("dependabot", ActorKind.BOT)
PR, ISSUE = ItemKind.PULL_REQUEST, ItemKind.ISSUE
OPEN, CLOSED, MERGED = ItemState.OPEN, ItemState.CLOSED, ItemState.MERGED
C, R = ActivityKind.COMMENT, ActivityKind.REVIEW
READY = ActivityKind.READY_FOR_REVIEW
SETTINGS = HealthSettings(is_bot=lambda actor: actor.kind is ActorKind.BOT)


def at(days: float = 0, hours: float = 0, seconds: float = 0) -> datetime:
    """A time relative to NOW (negative: in the past)."""
    return NOW + timedelta(days=days, hours=hours, seconds=seconds)


def act(kind: ActivityKind, actor: Actor, when: datetime, state: str | None = None) -> Activity:
    return Activity(f"{kind}-{actor.login}-{when.isoformat()}", kind, actor, when, "MEMBER", state)


def item(number: int, created: datetime, *activities: Activity, kind: ItemKind = PR,
         state: ItemState = OPEN, closed: datetime | None = None, merged: datetime | None = None,
         author: Actor = ALICE, draft: bool = False) -> Item:  # fmt: skip
    return Item(
        repository="o/r", number=number, kind=kind, state=state, created_at=created,
        updated_at=created, author=author, author_association="CONTRIBUTOR",
        closed_at=closed, merged_at=merged, is_draft=draft, activities=activities,
    )  # fmt: skip


def data(*items: Item) -> RepositoryData:
    return RepositoryData(project="p", repository="o/r", info=None, items=items)


def summary(result: Responsiveness) -> dict[str, Any]:
    return {
        "first_response": [(s.item, s.seconds) for s in result.first_response],
        "unanswered": result.unanswered,
        "time_to_merge": [(s.item, s.seconds) for s in result.time_to_merge],
        "time_to_close": [(s.item, s.seconds) for s in result.time_to_close],
        "opened": result.opened,
        "closed": result.closed,
        "merged": result.merged,
        "merge_ratio": result.merge_ratio,
        "closure_ratio": result.closure_ratio,
    }


H, D = 3600.0, 86400.0
RESPONSIVENESS_CASES: list[tuple[str, tuple[Item, ...], ItemKind, dict[str, Any]]] = [
    ("no items: ratios None", (), PR, {"opened": 0, "merge_ratio": None, "closure_ratio": None, "first_response": []}),
    ("maintainer comment answers", (item(1, at(-2), act(C, BOB, at(-2, 0.5))),), PR, {"first_response": [("o/r#1", 0.5 * H)], "unanswered": 0, "opened": 1}),
    ("self-comment is no answer", (item(1, at(-2), act(C, ALICE, at(-2, 0.5))),), PR, {"first_response": [], "unanswered": 1}),
    ("bot comment is no answer", (item(1, at(-2), act(C, DEPENDABOT, at(-2, 0.5))),), PR, {"first_response": [], "unanswered": 1}),
    ("pending review is no answer, the submitted one is", (item(1, at(-2), act(R, BOB, at(-2, 1), "PENDING"), act(R, BOB, at(-2, 3), "APPROVED")),), PR, {"first_response": [("o/r#1", 3 * H)]}),
    ("bot-authored items left out", (item(1, at(-2), act(C, BOB, at(-2, 1)), author=DEPENDABOT, state=MERGED, merged=at(-1)),), PR, {"opened": 0, "merged": 0, "unanswered": 0, "first_response": [], "time_to_merge": []}),
    ("draft never ready: opened, but no clock", (item(1, at(-2), act(C, BOB, at(-2, 1)), draft=True),), PR, {"opened": 1, "unanswered": 0, "first_response": []}),
    ("draft made ready in window: clock from ready", (item(1, at(-10), act(READY, ALICE, at(-1)), act(C, BOB, at(-1, 1))),), PR, {"opened": 0, "first_response": [("o/r#1", H)]}),
    ("clock started exactly at window start: in", (item(1, at(-7)),), PR, {"opened": 1, "unanswered": 1}),
    ("clock started exactly at now: out", (item(1, at()),), PR, {"opened": 0, "unanswered": 0}),
    ("clock started before the window: neither answered nor unanswered", (item(1, at(-8), act(C, BOB, at(-6))), item(2, at(-8))), PR, {"first_response": [], "unanswered": 0}),
    ("answered after the window's items opened, up to now", (item(1, at(-1), act(C, BOB, at(0, -1))),), PR, {"first_response": [("o/r#1", 23 * H)]}),
    ("a response at now has not happened yet", (item(1, at(-1), act(C, BOB, at())),), PR, {"first_response": [], "unanswered": 1}),
    ("closed without answer by the author stays unanswered", (item(1, at(-2), act(ActivityKind.CLOSED, ALICE, at(-1)), state=CLOSED, closed=at(-1)),), PR, {"unanswered": 1, "closed": 1, "time_to_close": [("o/r#1", D)]}),
    ("merged in window: time from clock start", (item(1, at(-3), act(ActivityKind.MERGED, BOB, at(-1)), state=MERGED, closed=at(-1), merged=at(-1)),), PR, {"merged": 1, "closed": 0, "time_to_merge": [("o/r#1", 2 * D)], "first_response": [("o/r#1", 2 * D)], "merge_ratio": 1.0, "closure_ratio": 1.0}),
    ("merged after being a draft: time from ready", (item(1, at(-10), act(READY, ALICE, at(-3)), state=MERGED, closed=at(-1), merged=at(-1)),), PR, {"time_to_merge": [("o/r#1", 2 * D)]}),
    ("merged vs closed unmerged vs open", (item(1, at(-3), state=MERGED, closed=at(-1), merged=at(-1)), item(2, at(-3), state=CLOSED, closed=at(-2)), item(3, at(-3))), PR, {"opened": 3, "merged": 1, "closed": 1, "merge_ratio": 0.5, "closure_ratio": 2 / 3, "time_to_close": [("o/r#2", D)]}),
    ("merged before the window: not counted", (item(1, at(-20), state=MERGED, closed=at(-8), merged=at(-8)),), PR, {"merged": 0, "merge_ratio": None, "closure_ratio": None}),
    ("merged exactly at now: not yet", (item(1, at(-2), state=MERGED, closed=at(), merged=at()),), PR, {"merged": 0, "merge_ratio": None, "closure_ratio": 0.0}),
    ("closed exactly at window start: in", (item(1, at(-9), state=CLOSED, closed=at(-7)),), PR, {"closed": 1, "merge_ratio": 0.0, "closure_ratio": None}),
    ("draft closed without ever being ready: closed, no duration", (item(1, at(-3), state=CLOSED, closed=at(-1), draft=True),), PR, {"opened": 1, "closed": 1, "time_to_close": [], "merge_ratio": 0.0}),
    ("reopened item is open, whatever closed_at says", (item(1, at(-3), state=OPEN, closed=at(-2)),), PR, {"closed": 0}),
    ("issues: time to close from creation, no merge ratio", (item(1, at(-2), act(ActivityKind.CLOSED, BOB, at(-1)), kind=ISSUE, state=CLOSED, closed=at(-1)),), ISSUE, {"closed": 1, "time_to_close": [("o/r#1", D)], "first_response": [("o/r#1", D)], "merge_ratio": None, "closure_ratio": 1.0}),
    ("closure ratio above 1 when a backlog is cleared", (item(1, at(-30), kind=ISSUE, state=CLOSED, closed=at(-2)), item(2, at(-30), kind=ISSUE, state=CLOSED, closed=at(-1)), item(3, at(-1), kind=ISSUE)), ISSUE, {"opened": 1, "closed": 2, "closure_ratio": 2.0}),
    ("only the asked kind", (item(1, at(-1), kind=ISSUE), item(2, at(-1))), ISSUE, {"opened": 1, "unanswered": 1}),
]  # fmt: skip


@pytest.mark.parametrize(
    ("name", "items", "kind", "expected"),
    RESPONSIVENESS_CASES,
    ids=[c[0] for c in RESPONSIVENESS_CASES],
)
def test_responsiveness(
    name: str, items: tuple[Item, ...], kind: ItemKind, expected: dict[str, Any]
) -> None:
    result = summary(responsiveness(data(*items), kind, WEEK, NOW, SETTINGS))
    assert {key: result[key] for key in expected} == expected


def test_samples_name_the_item_and_end_at_the_event() -> None:
    merged = item(7, at(-3), act(C, BOB, at(-2)), state=MERGED, closed=at(-1), merged=at(-1))
    result = responsiveness(data(merged), PR, WEEK, NOW, SETTINGS)
    assert result.first_response[0].at == at(-2)
    assert result.time_to_merge[0].at == at(-1)
    assert result.time_to_merge[0].item == "o/r#7"


NO_WAIT = {"1h": 0, "1d": 0, "3d": 0}
WAITING_CASES: list[tuple[str, tuple[Item, ...], Waiting]] = [
    ("nothing open", (), Waiting(over=NO_WAIT)),
    ("old unanswered item is never dropped", (item(1, at(-400)),), Waiting(1, 400 * D, "o/r#1", {"1h": 1, "1d": 1, "3d": 1})),
    ("thresholds are strictly greater", (item(1, at(hours=-1)), item(2, at(-1)), item(3, at(-3)), item(4, at(-3, seconds=-1))), Waiting(4, 3 * D + 1, "o/r#4", {"1h": 3, "1d": 2, "3d": 1})),
    ("answered items are not waiting", (item(1, at(-2), act(C, BOB, at(-1))),), Waiting(over=NO_WAIT)),
    ("author's and bots' comments do not end the wait", (item(1, at(-2), act(C, ALICE, at(-1)), act(C, DEPENDABOT, at(-1))),), Waiting(1, 2 * D, "o/r#1", {"1h": 1, "1d": 1, "3d": 0})),
    ("a response at now has not happened yet", (item(1, at(hours=-2), act(C, BOB, at())),), Waiting(1, 2 * H, "o/r#1", {"1h": 1, "1d": 0, "3d": 0})),
    ("drafts counted apart", (item(1, at(-5), draft=True),), Waiting(over=NO_WAIT, drafts=1)),
    ("converted back to draft keeps waiting", (item(1, at(-2), act(ActivityKind.CONVERT_TO_DRAFT, ALICE, at(-1)), draft=True),), Waiting(1, 2 * D, "o/r#1", {"1h": 1, "1d": 1, "3d": 0})),
    ("draft made ready waits from ready", (item(1, at(-10), act(READY, ALICE, at(hours=-2))),), Waiting(1, 2 * H, "o/r#1", {"1h": 1, "1d": 0, "3d": 0})),
    ("bot-authored counted apart, answered ones not at all", (item(1, at(-5), author=DEPENDABOT), item(2, at(-5), act(C, BOB, at(-4)), author=DEPENDABOT)), Waiting(over=NO_WAIT, bot_authored=1)),
    ("closed and merged items are not waiting", (item(1, at(-5), state=CLOSED, closed=at(-4)), item(2, at(-5), state=MERGED, closed=at(-4), merged=at(-4))), Waiting(over=NO_WAIT)),
    ("opened at now is not waiting yet", (item(1, at()),), Waiting(over=NO_WAIT)),
    ("oldest tie goes to the lowest number", (item(9, at(-2)), item(3, at(-2)), item(5, at(-1))), Waiting(3, 2 * D, "o/r#3", {"1h": 3, "1d": 2, "3d": 0})),
]  # fmt: skip


@pytest.mark.parametrize(
    ("name", "items", "expected"), WAITING_CASES, ids=[c[0] for c in WAITING_CASES]
)
def test_waiting(name: str, items: tuple[Item, ...], expected: Waiting) -> None:
    assert waiting(data(*items), PR, NOW, SETTINGS) == expected


def test_waiting_counts_only_the_asked_kind() -> None:
    items = data(item(1, at(-1), kind=ISSUE), item(2, at(-1)), item(3, at(-1)))
    assert waiting(items, ISSUE, NOW, SETTINGS).count == 1
    assert waiting(items, PR, NOW, SETTINGS).count == 2
