"""First response with literal data: every edge case of the definition in docs/metrics.md."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from healthexporter.health.first_response import (
    Responders,
    ResponsePolicy,
    clock_start,
    first_response,
)
from healthexporter.model import Activity, ActivityKind, Actor, ActorKind, Item, ItemKind, ItemState

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
ALICE = Actor("alice", ActorKind.USER)  # the author
BOB = Actor("bob", ActorKind.USER)  # a maintainer
CAROL = Actor("carol", ActorKind.USER)  # a contributor
DEPENDABOT = Actor("dependabot[bot]", ActorKind.BOT)
CI_ROBOT = Actor("k8s-ci-robot", ActorKind.USER)  # a bot by name, a User by kind


def is_bot(actor: Actor) -> bool:
    return actor.kind is ActorKind.BOT or (actor.login or "").endswith("-robot")


def act(n: int, kind: ActivityKind, actor: Actor, minutes: int, association: str | None = None,
        state: str | None = None) -> Activity:  # fmt: skip
    return Activity(f"A{n}", kind, actor, T0 + timedelta(minutes=minutes), association, state)


def pr(*activities: Activity, draft: bool = False, author: Actor = ALICE) -> Item:
    return Item(
        repository="o/r", number=1, kind=ItemKind.PULL_REQUEST, state=ItemState.OPEN,
        created_at=T0, updated_at=T0 + timedelta(days=30), author=author,
        author_association="CONTRIBUTOR", is_draft=draft, activities=activities,
    )  # fmt: skip


C, R = ActivityKind.COMMENT, ActivityKind.REVIEW
ANYONE = ResponsePolicy()
MAINTAINERS = ResponsePolicy(responders=Responders.MAINTAINERS)
LISTED = ResponsePolicy(responders=Responders.LIST, maintainers=frozenset({"carol"}))

CASES = [
    # (name, item, policy, expected minutes to response or None, expected responder)
    ("maintainer comment", pr(act(1, C, BOB, 30, "MEMBER")), ANYONE, 30, "bob"),
    ("author comments skipped", pr(act(1, C, ALICE, 5, "CONTRIBUTOR"), act(2, C, BOB, 90, "MEMBER")), ANYONE, 90, "bob"),
    ("bots skipped (kind and name)", pr(act(1, C, DEPENDABOT, 1), act(2, C, CI_ROBOT, 2, "MEMBER"), act(3, R, CAROL, 40, "CONTRIBUTOR", "COMMENTED")), ANYONE, 40, "carol"),
    ("pending review skipped", pr(act(1, R, BOB, 10, "MEMBER", "PENDING"), act(2, R, BOB, 70, "MEMBER", "APPROVED")), ANYONE, 70, "bob"),
    ("no response", pr(act(1, C, ALICE, 10, "CONTRIBUTOR")), ANYONE, None, None),
    ("close by other counts", pr(act(1, ActivityKind.CLOSED, BOB, 300)), ANYONE, 300, "bob"),
    ("close by author does not", pr(act(1, ActivityKind.CLOSED, ALICE, 300)), ANYONE, None, None),
    ("maintainers policy skips contributor", pr(act(1, C, CAROL, 10, "CONTRIBUTOR"), act(2, C, BOB, 20, "COLLABORATOR")), MAINTAINERS, 20, "bob"),
    ("maintainers policy counts merge", pr(act(1, C, CAROL, 10, "CONTRIBUTOR"), act(2, ActivityKind.MERGED, BOB, 50)), MAINTAINERS, 50, "bob"),
    ("list policy", pr(act(1, C, BOB, 10, "MEMBER"), act(2, C, CAROL, 20, "CONTRIBUTOR")), LISTED, 20, "carol"),
    ("deleted account skipped", pr(act(1, C, Actor.deleted(), 5), act(2, C, BOB, 6, "MEMBER")), ANYONE, 6, "bob"),
    ("login case-insensitive author", pr(act(1, C, Actor("ALICE", ActorKind.USER), 5), act(2, C, BOB, 6, "MEMBER")), ANYONE, 6, "bob"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("name", "item", "policy", "minutes", "responder"), CASES, ids=[c[0] for c in CASES]
)
def test_first_response(
    name: str, item: Item, policy: ResponsePolicy, minutes: int | None, responder: str | None
) -> None:
    result = first_response(item, policy, is_bot)
    assert result.clock_start == T0
    assert result.seconds == (None if minutes is None else minutes * 60)
    assert result.responder == responder


def test_draft_clock_starts_when_ready_and_earlier_comments_do_not_count() -> None:
    item = pr(
        act(1, C, BOB, 10, "MEMBER"),  # while still a draft
        act(2, ActivityKind.READY_FOR_REVIEW, ALICE, 60),
        act(3, C, BOB, 75, "MEMBER"),
    )
    result = first_response(item, ANYONE, is_bot)
    assert result.clock_start == T0 + timedelta(minutes=60)
    assert result.seconds == 15 * 60
    assert [d.reason for d in result.decisions] == [
        "before ready for review",
        "ready_for_review does not count",
        "response",
    ]


def test_still_a_draft_has_no_clock() -> None:
    item = pr(act(1, C, BOB, 10, "MEMBER"), draft=True)
    assert clock_start(item) is None
    result = first_response(item, ANYONE, is_bot)
    assert result.responded_at is None
    assert result.decisions[0].reason == "still a draft"


def test_opened_ready_then_converted_keeps_creation_as_start() -> None:
    item = pr(
        act(1, ActivityKind.CONVERT_TO_DRAFT, ALICE, 5),
        act(2, ActivityKind.READY_FOR_REVIEW, ALICE, 50),
        act(3, C, BOB, 55, "MEMBER"),
    )
    assert clock_start(item) == T0
    assert first_response(item, ANYONE, is_bot).seconds == 55 * 60
