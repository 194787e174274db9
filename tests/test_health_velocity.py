"""Velocity with literal items and commits: bots count, windows are [now - duration, now)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from healthexporter.health.snapshot import RepositoryData, Velocity, Window
from healthexporter.health.velocity import velocity
from healthexporter.model import Actor, ActorKind, Commit, Item, ItemKind, ItemState

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
WEEK = Window("7d", timedelta(days=7))
ALICE = Actor("alice", ActorKind.USER)
DEPENDABOT = Actor("dependabot", ActorKind.BOT)
PR, ISSUE = ItemKind.PULL_REQUEST, ItemKind.ISSUE
OPEN, CLOSED, MERGED = ItemState.OPEN, ItemState.CLOSED, ItemState.MERGED


def at(days: float) -> datetime:
    return NOW + timedelta(days=days)


def item(number: int, kind: ItemKind, created: float, state: ItemState = OPEN,
         closed: float | None = None, merged: float | None = None, author: Actor = ALICE) -> Item:  # fmt: skip
    return Item(
        repository="o/r", number=number, kind=kind, state=state, created_at=at(created),
        updated_at=at(created), author=author, author_association="NONE",
        closed_at=None if closed is None else at(closed),
        merged_at=None if merged is None else at(merged),
    )  # fmt: skip


def commit(oid: str, committed: float, authored: float | None = None) -> Commit:
    authored_at = at(committed if authored is None else authored)
    return Commit("o/r", oid, at(committed), authored_at, "alice", "alice")


CASES: list[tuple[str, tuple[Item, ...], tuple[Commit, ...], Velocity]] = [
    ("nothing", (), (), Velocity()),
    ("opened, merged, closed unmerged", (item(1, PR, -3), item(2, PR, -3, MERGED, -1, -1), item(3, PR, -3, CLOSED, -2)), (), Velocity(3, 1, 1, 0, 0, 0)),
    ("bot-authored items count", (item(1, PR, -3, MERGED, -1, -1, author=DEPENDABOT), item(2, ISSUE, -2, author=DEPENDABOT)), (), Velocity(1, 1, 0, 1, 0, 0)),
    ("issues opened and closed", (item(1, ISSUE, -3, CLOSED, -1), item(2, ISSUE, -20, CLOSED, -6), item(3, ISSUE, -1)), (), Velocity(0, 0, 0, 2, 2, 0)),
    ("window start is in, now is out", (item(1, PR, -7), item(2, PR, 0), item(3, PR, -9, MERGED, -7, -7), item(4, PR, -9, MERGED, 0, 0)), (), Velocity(1, 1, 0, 0, 0, 0)),
    ("before the window: not counted", (item(1, PR, -20, MERGED, -8, -8), item(2, ISSUE, -20, CLOSED, -7.5)), (), Velocity()),
    ("reopened items are not closed", (item(1, ISSUE, -20, OPEN, -2),), (), Velocity()),
    ("commits by committed time", (), (commit("a", -1), commit("b", -7), commit("c", 0), commit("d", -2, authored=-30), commit("e", -8, authored=-1)), Velocity(commits=3)),
    ("a commit stored twice counts once", (), (commit("a", -1), commit("a", -1)), Velocity(commits=1)),
]  # fmt: skip


@pytest.mark.parametrize(("name", "items", "commits", "expected"), CASES, ids=[c[0] for c in CASES])
def test_velocity(
    name: str, items: tuple[Item, ...], commits: tuple[Commit, ...], expected: Velocity
) -> None:
    data = RepositoryData(project="p", repository="o/r", info=None, items=items, commits=commits)
    assert velocity(data, WEEK, NOW) == expected
