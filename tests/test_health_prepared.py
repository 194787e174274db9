"""The prepared facts and indexes every window reads: selection by time, the fast first
response, contributions indexed once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from healthexporter.health.contributors import ContributionIndex, RawContribution
from healthexporter.health.first_response import (
    Responders,
    ResponsePolicy,
    find_first_response,
    first_response,
)
from healthexporter.health.prepared import Timed, prepare
from healthexporter.health.snapshot import HealthSettings, RepositoryData
from healthexporter.model import Activity, ActivityKind, Actor, ActorKind, Item, ItemKind, ItemState

NOW = datetime(2026, 6, 1, tzinfo=UTC)
ALICE = Actor("alice", ActorKind.USER)
BOB = Actor("bob", ActorKind.USER)
DEPENDABOT = Actor("dependabot[bot]", ActorKind.BOT)
C, R = ActivityKind.COMMENT, ActivityKind.REVIEW


def hours(n: float) -> datetime:
    return NOW + timedelta(hours=n)


# --- Timed: a window is [start, end), found by bisection ------------------------------------
TIMED = Timed.of(["a", "b", "c", "d", "e"], [hours(3), hours(1), None, hours(2), hours(1)])


@pytest.mark.parametrize(
    ("start", "end", "expected"),
    [
        (hours(0), hours(10), ["b", "e", "d", "a"]),  # no time: never selected
        (hours(1), hours(2), ["b", "e"]),  # start inclusive, end exclusive
        (hours(2), hours(3), ["d"]),
        (hours(3), hours(3), []),
        (hours(4), hours(1), []),  # an empty window, not an error
        (hours(-5), hours(1), []),
    ],
)
def test_timed_selects_a_window(start: datetime, end: datetime, expected: list[str]) -> None:
    assert sorted(TIMED.between(start, end)) == sorted(expected)
    assert TIMED.count(start, end) == len(expected)


def test_timed_sorts_by_time() -> None:
    assert TIMED.times == (hours(1), hours(1), hours(2), hours(3))


# --- the fast first response is first_response without its decisions -------------------------
def item(*activities: Activity, draft: bool = False) -> Item:
    return Item("o/r", 1, ItemKind.PULL_REQUEST, ItemState.OPEN, hours(-100), hours(-1), ALICE,
                "CONTRIBUTOR", is_draft=draft, activities=activities)  # fmt: skip


def act(n: int, kind: ActivityKind, actor: Actor, at: float, association: str | None = None,
        state: str | None = None) -> Activity:  # fmt: skip
    return Activity(f"A{n}", kind, actor, hours(at), association, state)


def is_bot(actor: Actor) -> bool:
    return actor.kind is ActorKind.BOT


MAINTAINERS = ResponsePolicy(responders=Responders.MAINTAINERS)
FIRST_RESPONSE_CASES = [
    ("answered", item(act(1, C, ALICE, -99), act(2, C, BOB, -90, "MEMBER")), ResponsePolicy()),
    ("nobody", item(act(1, C, ALICE, -99), act(2, C, DEPENDABOT, -90)), ResponsePolicy()),
    ("pending review", item(act(1, R, BOB, -99, "MEMBER", "PENDING")), ResponsePolicy()),
    ("draft", item(act(1, C, BOB, -99, "MEMBER"), draft=True), ResponsePolicy()),
    (
        "ready later",
        item(
            act(1, C, BOB, -99, "MEMBER"),
            act(2, ActivityKind.READY_FOR_REVIEW, ALICE, -50),
            act(3, C, BOB, -40, "MEMBER"),
            draft=True,
        ),
        ResponsePolicy(),
    ),
    (
        "maintainers only",
        item(act(1, C, BOB, -99, "CONTRIBUTOR"), act(2, ActivityKind.CLOSED, BOB, -80)),
        MAINTAINERS,
    ),
    ("no activity", item(), ResponsePolicy()),
]


@pytest.mark.parametrize(
    ("name", "subject", "policy"), FIRST_RESPONSE_CASES, ids=[c[0] for c in FIRST_RESPONSE_CASES]
)
def test_find_first_response_is_first_response_without_decisions(
    name: str, subject: Item, policy: ResponsePolicy
) -> None:
    explained = first_response(subject, policy, is_bot)
    fast = find_first_response(subject, policy, is_bot)
    assert fast.decisions == ()
    assert (fast.clock_start, fast.responded_at, fast.responder, fast.activity_id) == (
        explained.clock_start,
        explained.responded_at,
        explained.responder,
        explained.activity_id,
    )


def test_prepared_facts_drop_a_response_at_or_after_now() -> None:
    answered = item(act(1, C, BOB, -10, "MEMBER"))
    [facts] = (
        prepare(RepositoryData("p", "o/r", None, (answered,)), HealthSettings())
        .kinds[ItemKind.PULL_REQUEST]
        .open
    )
    assert facts.answered_before(hours(-9)) and facts.response(hours(-9)) is not None
    assert not facts.answered_before(hours(-10)) and facts.response(hours(-10)) is None
    assert facts.response(NOW) == facts.response(hours(-9))


# --- contributions indexed once ------------------------------------------------------------
def raw(who: str, at: float, kind: str = "comment", repository: str = "o/a") -> RawContribution:
    return (who, kind, hours(at), repository)


CONTRIBUTIONS = [raw("alice", -30), raw("bob", -5), raw("alice", -1), raw("carol", 0),
                 raw("alice", 2), raw("bob", -50, "commit")]  # fmt: skip


def test_contribution_index_holds_only_the_past() -> None:
    index = ContributionIndex.of(CONTRIBUTIONS, NOW)
    assert index.totals == {"alice": 2, "bob": 2}  # carol at now and alice after: not yet
    assert index.first == {"alice": hours(-30), "bob": hours(-50)}
    assert [c[0] for c in index.between(hours(-10), NOW)] == ["bob", "alice"]
    assert index.between(hours(-10), hours(-20)) == ()


def test_combined_indexes_are_one_index_over_all_contributions() -> None:
    a = [raw("alice", -30), raw("bob", -5)]
    b = [raw("alice", -40, repository="o/b"), raw("dave", -2, repository="o/b")]
    combined = ContributionIndex.combine(
        [ContributionIndex.of(a, NOW), ContributionIndex.of(b, NOW)]
    )
    whole = ContributionIndex.of(a + b, NOW)
    assert (combined.times, combined.totals, combined.first) == (
        whole.times,
        whole.totals,
        whole.first,
    )
    assert sorted(combined.contributions) == sorted(whole.contributions)
    single = ContributionIndex.of(a, NOW)
    assert ContributionIndex.combine([single]) is single


def test_an_index_that_holds_contributions_since_a_time_refuses_earlier_ones() -> None:
    index = ContributionIndex.of(CONTRIBUTIONS, NOW)
    partial = ContributionIndex(
        NOW, index.times, index.contributions, index.totals, index.first, since=hours(-30)
    )
    assert partial.between(hours(-30), NOW) == index.between(hours(-30), NOW)
    with pytest.raises(ValueError, match="asked of an index since"):
        partial.between(hours(-31), NOW)
    combined = ContributionIndex.combine([partial, index])
    assert combined.since == hours(-30)
