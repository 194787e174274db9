"""Inclusivity with literal items: who is a first-timer, how they are answered, labelled issues."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from healthexporter.health.inclusivity import inclusivity, open_labelled_issues
from healthexporter.health.snapshot import HealthSettings, RepositoryData, Window
from healthexporter.model import (
    Activity,
    ActivityKind,
    Actor,
    ActorKind,
    Commit,
    Item,
    ItemKind,
    ItemState,
)

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
WEEK = Window("7d", timedelta(days=7))
NEWBIE = Actor("newbie", ActorKind.USER)
BOB = Actor("bob", ActorKind.USER)  # a maintainer
DEPENDABOT = Actor("dependabot", ActorKind.BOT)
PR, ISSUE = ItemKind.PULL_REQUEST, ItemKind.ISSUE
OPEN, CLOSED, MERGED = ItemState.OPEN, ItemState.CLOSED, ItemState.MERGED
SETTINGS = HealthSettings(is_bot=lambda actor: actor.kind is ActorKind.BOT)
FTC, NONE, CONTRIBUTOR, MEMBER = "FIRST_TIME_CONTRIBUTOR", "NONE", "CONTRIBUTOR", "MEMBER"


def at(days: float, hours: float = 0) -> datetime:
    return NOW + timedelta(days=days, hours=hours)


def comment(actor: Actor, when: datetime) -> Activity:
    return Activity(
        f"c-{actor.login}-{when.isoformat()}", ActivityKind.COMMENT, actor, when, "MEMBER"
    )


def item(number: int, created: float, association: str = NONE, *activities: Activity,
         kind: ItemKind = PR, author: Actor = NEWBIE, state: ItemState = OPEN,
         closed: float | None = None, merged: float | None = None,
         labels: tuple[str, ...] = ()) -> Item:  # fmt: skip
    return Item(
        repository="o/r", number=number, kind=kind, state=state, created_at=at(created),
        updated_at=at(created), author=author, author_association=association,
        closed_at=None if closed is None else at(closed),
        merged_at=None if merged is None else at(merged), labels=labels, activities=activities,
    )  # fmt: skip


def commit(login: str | None, committed: float, authored: float) -> Commit:
    identity = login or "email:0123abcd"
    return Commit("o/r", f"sha-{committed}", at(committed), at(authored), login, identity)


CASES: list[tuple[str, tuple[Item, ...], tuple[Commit, ...], dict[str, Any]]] = [
    ("nothing", (), (), {"count": 0, "responses": [], "merge_ratio": None}),
    ("GitHub says first-time contributor", (item(1, -2, FTC),), (), {"count": 1}),
    ("GitHub says first timer", (item(1, -2, "FIRST_TIMER"),), (), {"count": 1}),
    ("no earlier history: first-timer even as CONTRIBUTOR (the merge changed it)", (item(1, -2, CONTRIBUTOR, state=MERGED, closed=-1, merged=-1),), (), {"count": 1, "merge_ratio": 1.0}),
    ("an earlier issue: not a first-timer", (item(1, -30, kind=ISSUE), item(2, -2)), (), {"count": 0}),
    ("an earlier issue, other login case: not a first-timer", (item(1, -30, kind=ISSUE, author=Actor("NewBie", ActorKind.USER)), item(2, -2)), (), {"count": 0}),
    ("an earlier commit: not a first-timer", (item(1, -2),), (commit("newbie", -40, -41),), {"count": 0}),
    ("the PR's own commit, committed at merge: still a first-timer", (item(1, -2, CONTRIBUTOR, state=MERGED, closed=-1, merged=-1),), (commit("newbie", -1, -3),), {"count": 1}),
    ("two PRs in the window: only the first is by a first-timer", (item(1, -3), item(2, -2)), (), {"count": 1}),
    ("two PRs GitHub both marks first-time: both count", (item(1, -3, FTC), item(2, -2, FTC)), (), {"count": 2}),
    ("maintainers are never first-timers", (item(1, -2, MEMBER, author=BOB), item(2, -2, "OWNER", author=BOB)), (), {"count": 0}),
    ("bots are never first-timers", (item(1, -2, FTC, author=DEPENDABOT),), (), {"count": 0}),
    ("deleted accounts only by association", (item(1, -2, NONE, author=Actor.deleted()), item(2, -2, FTC, author=Actor.deleted())), (), {"count": 1}),
    ("issues are not pull requests", (item(1, -2, FTC, kind=ISSUE),), (), {"count": 0}),
    ("opened before the window: out; at its start: in; at now: out", (item(1, -8, FTC), item(2, -7, FTC), item(3, 0, FTC)), (), {"count": 1}),
    ("first responses, same definition", (item(1, -2, FTC, comment(NEWBIE, at(-2, 1)), comment(DEPENDABOT, at(-2, 1)), comment(BOB, at(-2, 3))), item(2, -2, FTC)), (), {"count": 2, "responses": [("o/r#1", 3 * 3600.0)]}),
    ("merge ratio among closed ones; open ones wait", (item(1, -3, FTC, state=MERGED, closed=-1, merged=-1), item(2, -3, FTC, state=CLOSED, closed=-1), item(3, -3, FTC)), (), {"count": 3, "merge_ratio": 0.5}),
    ("merge ratio None while none is closed", (item(1, -3, FTC),), (), {"merge_ratio": None}),
]  # fmt: skip


@pytest.mark.parametrize(("name", "items", "commits", "expected"), CASES, ids=[c[0] for c in CASES])
def test_inclusivity(
    name: str, items: tuple[Item, ...], commits: tuple[Commit, ...], expected: dict[str, Any]
) -> None:
    data = RepositoryData("p", "o/r", None, items, commits=commits)
    result = inclusivity(data, WEEK, NOW, SETTINGS)
    summary = {
        "count": result.first_timer_pull_requests,
        "responses": [(s.item, s.seconds) for s in result.first_timer_first_response],
        "merge_ratio": result.first_timer_merge_ratio,
    }
    assert {key: summary[key] for key in expected} == expected


LABELS: list[tuple[str, tuple[Item, ...], HealthSettings, dict[str, int]]] = [
    ("nothing", (), SETTINGS, {"good_first_issue": 0, "help_wanted": 0}),
    ("labels compare case-insensitively", (item(1, -2, kind=ISSUE, labels=("Good First Issue",)), item(2, -2, kind=ISSUE, labels=("HELP-WANTED",))), SETTINGS, {"good_first_issue": 1, "help_wanted": 1}),
    ("one issue in both sets counts in both, once each", (item(1, -2, kind=ISSUE, labels=("good first issue", "good-first-issue", "help wanted")),), SETTINGS, {"good_first_issue": 1, "help_wanted": 1}),
    ("closed issues and pull requests do not count", (item(1, -2, kind=ISSUE, state=CLOSED, closed=-1, labels=("good first issue",)), item(2, -2, labels=("help wanted",))), SETTINGS, {"good_first_issue": 0, "help_wanted": 0}),
    ("old open issues count", (item(1, -900, kind=ISSUE, labels=("help wanted",)),), SETTINGS, {"good_first_issue": 0, "help_wanted": 1}),
    ("configured labels", (item(1, -2, kind=ISSUE, labels=("Beginner",)), item(2, -2, kind=ISSUE, labels=("good first issue",))), HealthSettings(good_first_issue_labels=frozenset({"beginner"})), {"good_first_issue": 1, "help_wanted": 0}),
]  # fmt: skip


@pytest.mark.parametrize(
    ("name", "items", "settings", "expected"), LABELS, ids=[c[0] for c in LABELS]
)
def test_open_labelled_issues(
    name: str, items: tuple[Item, ...], settings: HealthSettings, expected: dict[str, int]
) -> None:
    assert open_labelled_issues(RepositoryData("p", "o/r", None, items), settings) == expected
