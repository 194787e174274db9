"""The whole snapshot: every repository and window present; project numbers are unions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from healthexporter.health.compute import compute
from healthexporter.health.snapshot import HealthSettings, RepositoryData
from healthexporter.model import Activity, ActivityKind, Actor, ActorKind, Item, ItemKind, ItemState

NOW = datetime(2026, 6, 1, tzinfo=UTC)


def pr(
    repository: str, number: int, author: str, days_ago: float, *responses: tuple[str, float]
) -> Item:
    created = NOW - timedelta(days=days_ago)
    activities = tuple(
        Activity(f"{repository}-{number}-{i}", ActivityKind.COMMENT, Actor(login, ActorKind.USER),
                 created + timedelta(hours=hours), "MEMBER")
        for i, (login, hours) in enumerate(responses)
    )  # fmt: skip
    return Item(repository, number, ItemKind.PULL_REQUEST, ItemState.OPEN, created, created,
                Actor(author, ActorKind.USER), "CONTRIBUTOR", activities=activities)  # fmt: skip


def test_project_contributors_are_a_union_not_a_sum() -> None:
    a = RepositoryData("p", "o/a", None, (pr("o/a", 1, "alice", 2, ("bob", 1)),))
    b = RepositoryData("p", "o/b", None, (pr("o/b", 1, "alice", 3, ("carol", 30)),))
    snapshot = compute([b, a], HealthSettings(), NOW)
    assert [r.repository for r in snapshot.repositories] == ["o/a", "o/b"]
    by_repo = {r.repository: r for r in snapshot.repositories}
    assert {name for name in by_repo["o/a"].windows} == {"7d", "30d", "90d"}
    assert by_repo["o/a"].windows["7d"].contributors.active == 2  # alice, bob
    assert by_repo["o/b"].windows["7d"].contributors.active == 2  # alice, carol
    [project] = snapshot.projects
    assert project.repositories == ("o/a", "o/b")
    assert project.windows["7d"].contributors.active == 3  # alice once
    first = by_repo["o/b"].windows["7d"].responsiveness[ItemKind.PULL_REQUEST].first_response
    assert [(s.seconds, s.item) for s in first] == [(30 * 3600, "o/b#1")]
