"""What a computation reads of the store (``items_since``, ``commits_since`` and the
contribution sums), against a real SQLite file: which rows, and by which index.

tests/test_windowed.py shows that the maths gives the same numbers from these reads as from the
whole history.
"""

from __future__ import annotations

import re
import sqlite3
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from healthexporter.health.contributors import ContributionIndex, people_of, raw_contributions
from healthexporter.health.prepared import earliest_contributions
from healthexporter.health.snapshot import RepositoryData
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
from healthexporter.store import Stream, StreamState
from healthexporter.store.sqlite import SQLiteStore
from healthexporter.store.window import WINDOW_QUERIES

REPO = "o/r"
NOW = datetime(2026, 6, 1, tzinfo=UTC)
SINCE = NOW - timedelta(days=90)
STATE = StreamState(REPO, Stream.ISSUES, generation=1)
MICROSECOND = timedelta(microseconds=1) / timedelta(days=1)  # in days
ALICE, BOB = Actor("alice", ActorKind.USER), Actor("Bob", ActorKind.USER)
BOT = Actor("dependabot[bot]", ActorKind.BOT)
GHOST = Actor.deleted()


def ago(days: float) -> datetime:
    return NOW - timedelta(days=days)


def activity(
    id_: str,
    days: float,
    actor: Actor = BOB,
    kind: ActivityKind = ActivityKind.COMMENT,
    review_state: str | None = None,
) -> Activity:
    return Activity(id_, kind, actor, ago(days), "MEMBER", review_state)


def item(
    number: int,
    created: float,
    updated: float,
    *activities: Activity,
    state: ItemState = ItemState.CLOSED,
    author: Actor = ALICE,
    kind: ItemKind = ItemKind.ISSUE,
) -> Item:
    closed = ago(updated) if state is not ItemState.OPEN else None
    return Item(
        REPO, number, kind, state, ago(created), ago(updated), author, "CONTRIBUTOR",
        closed_at=closed, merged_at=closed if state is ItemState.MERGED else None,
        labels=("bug",), activities=activities,
    )  # fmt: skip


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SQLiteStore]:
    opened = SQLiteStore.open(tmp_path / "store.db")
    yield opened
    opened.close()


def test_items_since_are_the_open_ones_and_those_changed_since(store: SQLiteStore) -> None:
    store.save_items(
        [
            item(1, 1000, 1000, state=ItemState.OPEN),  # open for years, untouched: waiting
            item(2, 400, 90),  # closed exactly at the start of the 90 days
            item(3, 400, 90 + MICROSECOND),  # closed a microsecond before it
            item(4, 400, 300, activity("A4", 300)),  # closed long ago …
            item(5, 20, 1, activity("A5", 2), state=ItemState.MERGED),
            item(6, 500, 500, activity("A6", 500)),
        ],
        STATE,
    )
    # … but a timeline page fetched after the item holds activity newer than its updated_at
    late = Activity("A4-late", ActivityKind.READY_FOR_REVIEW, BOB, ago(10))
    stored = store.item(REPO, 4)
    assert stored is not None
    store.save_activities(Item(**{**_fields(stored), "activities": (late,)}))
    chosen = store.items_since(REPO, SINCE)
    assert [i.number for i in chosen] == [1, 2, 4, 5]
    # whole items: every activity (old ones too) and label
    assert chosen == [store.item(REPO, n) for n in (1, 2, 4, 5)]
    assert [a.id for a in chosen[2].activities] == ["A4", "A4-late"]
    assert store.items_since("other/repo", SINCE) == []


def _fields(stored: Item) -> dict[str, object]:
    return {name: getattr(stored, name) for name in Item.__slots__}


def test_commits_since_by_commit_time(store: SQLiteStore) -> None:
    commits = [
        Commit(REPO, "a" * 40, ago(91), ago(91), "alice", "alice"),
        Commit(REPO, "b" * 40, SINCE, ago(200), "alice", "alice"),  # rebased: landed now
        Commit(REPO, "c" * 40, ago(1), ago(1), None, "email:0123456789abcdef"),
    ]
    store.save_commits(commits, StreamState(REPO, Stream.COMMITS))
    assert store.commits_since(REPO, SINCE) == commits[1:]


CONTRIBUTING_ITEMS = [
    item(
        1,
        100,
        1,
        activity("C1", 95),  # a comment before the bounds
        activity("C2", 50),
        activity("R1", 40, ALICE, ActivityKind.REVIEW, "APPROVED"),
        activity("R2", 30, ALICE, ActivityKind.REVIEW, "PENDING"),  # not submitted
        activity("R3", 20, ALICE, ActivityKind.REVIEW, None),
        activity("E1", 10, BOB, ActivityKind.CLOSED),  # events are not contributions
        activity("C3", 5, BOT),  # bots are the maths' business
        activity("C4", 4, GHOST),  # deleted accounts are nobody
        activity("C5", 0),  # at `before`: not yet
        kind=ItemKind.PULL_REQUEST,
    ),
    item(2, 60, 60, author=Actor("alice", ActorKind.MANNEQUIN)),
    item(3, 60, 60, author=GHOST),
    item(4, 1000, 1000, activity("C6", 999, Actor("ALICE", ActorKind.USER))),
]
CONTRIBUTING_COMMITS = [
    Commit(REPO, "a" * 40, ago(9), ago(70), "alice", "alice"),  # authored in, committed later
    Commit(REPO, "b" * 40, ago(8), ago(8), None, "email:0123456789abcdef"),
    Commit(REPO, "c" * 40, ago(2000), ago(2000), "Bob", "Bob"),
]


def test_contributions_since_are_what_contributors_count(store: SQLiteStore) -> None:
    store.save_items(CONTRIBUTING_ITEMS, STATE)
    store.save_commits(CONTRIBUTING_COMMITS, StreamState(REPO, Stream.COMMITS))
    user, mannequin = ActorKind.USER, ActorKind.MANNEQUIN
    assert sorted(store.contributions_since(REPO, ago(90), NOW), key=lambda c: c[3]) == [
        ("alice", user, "commit", ago(70)),
        ("alice", mannequin, "issue", ago(60)),
        ("Bob", user, "comment", ago(50)),
        ("alice", user, "review", ago(40)),
        ("alice", user, "review", ago(20)),
        ("email:0123456789abcdef", None, "commit", ago(8)),
        ("dependabot[bot]", ActorKind.BOT, "comment", ago(5)),
    ]


def test_contribution_totals_are_the_sums_of_every_contribution(store: SQLiteStore) -> None:
    store.save_items(CONTRIBUTING_ITEMS, STATE)
    store.save_commits(CONTRIBUTING_COMMITS, StreamState(REPO, Stream.COMMITS))
    whole = RepositoryData(
        "p", REPO, None, tuple(store.items(REPO)), commits=tuple(store.commits(REPO))
    )

    def is_bot(actor: Actor) -> bool:
        return actor.kind is ActorKind.BOT

    expected = ContributionIndex.of(raw_contributions([whole], is_bot), NOW)
    person = people_of(is_bot)
    totals: dict[str, int] = {}
    first: dict[str, datetime] = {}
    for login, kind, count, at in store.contribution_totals(REPO, NOW):
        who = login if kind is None else person(login, kind)
        if who is not None:
            totals[who] = totals.get(who, 0) + count
            first[who] = min(at, first.get(who, at))
    assert (totals, first) == (expected.totals, expected.first)
    assert totals == {"alice": 7, "bob": 3, "email:0123456789abcdef": 1}
    assert first["bob"] == ago(2000)  # a commit as "Bob"


def test_earliest_contributions_by_lower_cased_login(store: SQLiteStore) -> None:
    store.save_items(CONTRIBUTING_ITEMS, STATE)
    store.save_commits(CONTRIBUTING_COMMITS, StreamState(REPO, Stream.COMMITS))
    whole = RepositoryData(
        "p", REPO, None, tuple(store.items(REPO)), commits=tuple(store.commits(REPO))
    )
    assert store.earliest_contributions(REPO) == earliest_contributions(whole)
    assert store.earliest_contributions(REPO) == {"alice": ago(1000), "bob": ago(2000)}


def test_reads_inside_reading_see_the_store_as_it_was_at_the_first(store: SQLiteStore) -> None:
    """A sync committing while a computation reads a repository is seen by the next one."""
    store.save_items([item(1, 10, 1, state=ItemState.OPEN)], STATE)
    writer = threading.Thread(
        target=store.save_items, args=([item(2, 10, 1, state=ItemState.OPEN)], STATE)
    )
    with store.reading():
        before = store.items_since(REPO, SINCE)
        writer.start()
        writer.join()
        assert store.items(REPO) == before
        assert len(store.contributions_since(REPO, SINCE, NOW)) == 1  # #1's opening only
    assert [i.number for i in store.items(REPO)] == [1, 2]


def test_what_a_computation_reads_is_found_by_index(store: SQLiteStore) -> None:
    """No read of a computation scans a table: each is a search of an index (or of the
    primary key, by repository), so its cost follows the rows it needs."""
    connection = sqlite3.connect(store.path)
    values = (REPO, SINCE.isoformat(), NOW.isoformat())
    try:
        plans = {
            name: [
                row[3]
                for row in connection.execute(
                    f"EXPLAIN QUERY PLAN {query}",
                    values[: max(int(n) for n in re.findall(r"\?(\d)", query))],
                )
            ]
            for name, query in WINDOW_QUERIES.items()
        }
    finally:
        connection.close()
    for name, plan in plans.items():
        assert not [step for step in plan if step.startswith("SCAN")], (name, plan)
    text = {name: "\n".join(plan) for name, plan in plans.items()}
    assert "COVERING INDEX items_by_state (repository=? AND state=?)" in text["changed_items"]
    assert "items_by_update (repository=? AND updated_at>?)" in text["changed_items"]
    assert "activities_by_time (repository=? AND at>?)" in text["changed_items"]
    assert "commits_by_time (repository=? AND committed_at>?)" in text["commits_since"]
    assert "activities_by_time (repository=? AND at>? AND at<?)" in text["contributions_since"]
    assert "activities_by_actor" in text["contribution_totals"]
    assert "COVERING INDEX items_by_author" in text["contribution_totals"]
    assert "COVERING INDEX items_by_author" in text["earliest_contributions"]
