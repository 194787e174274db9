"""How the sync packs its streams into one query: every plan is a valid GitHub query that costs
exactly 1 point by GitHub's formula (computed by the simulator's cost walker, the one that
charges the tests' syncs), whatever streams are active and however many timelines are followed.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import pytest
from graphql import OperationDefinitionNode

from healthexporter.github import queries
from healthexporter.model import Activity, Actor, ActorKind, Item, ItemKind, ItemState
from healthexporter.paging import (
    MAX_FOLLOWS,
    MIN_ITEMS,
    CommitPager,
    Follow,
    ItemPager,
    Pager,
    RefPager,
    plan,
)
from healthexporter.progress import NoProgress
from healthexporter.simulator.cost import query_cost
from healthexporter.simulator.schema import check_query, github_schema
from healthexporter.store import PassKind, Stream, StreamState
from healthexporter.store.sqlite import SQLiteStore

NOW = datetime(2026, 11, 1, tzinfo=UTC)


class Host:
    """A repository sync as the pagers see it, over a real (in-memory) store."""

    def __init__(self) -> None:
        self.store = SQLiteStore.open(":memory:")
        self.repository = "acme/widgets"
        self.progress = NoProgress()
        self.timeline_size = 100
        self.points = 0

    def count(self, what: str, n: int) -> None: ...

    def settled(self, item: Item, activities: Sequence[Activity]) -> bool:
        return False

    def finish_pass(self, state: StreamState) -> object:
        return state

    def now(self) -> datetime:
        return NOW


def item(number: int) -> Item:
    return Item(
        repository="acme/widgets",
        number=number,
        kind=ItemKind.PULL_REQUEST,
        state=ItemState.OPEN,
        created_at=NOW,
        updated_at=NOW,
        author=Actor("someone", ActorKind.USER),
        author_association="NONE",
        activity_cursor="c",
    )


def pagers(host: Host, streams: Sequence[Stream], *, backfill: bool) -> list[Pager]:
    out: list[Pager] = []
    for stream in streams:
        state = StreamState(host.repository, stream)
        if backfill:
            state = StreamState(host.repository, stream, pass_kind=PassKind.BACKFILL)
        else:
            state = StreamState(host.repository, stream, watermark=NOW - timedelta(days=1))
        if stream in (Stream.PULL_REQUESTS, Stream.ISSUES):
            out.append(ItemPager(host, state, overlap=timedelta(minutes=5), max_timeline_pages=5))
        elif stream is Stream.COMMITS:
            out.append(CommitPager(host, state, overlap=timedelta(minutes=5)))
        else:
            out.append(RefPager(host, state))
    return out


def points_of(parts: Sequence[queries.Part]) -> tuple[int, int]:
    """(requests, points) of the bundled query, by the simulator's GitHub cost formula."""
    query, variables = queries.page_query("Page", parts)
    checked = check_query(github_schema(), query)
    assert checked.errors == () and checked.document is not None
    operation = checked.document.definitions[0]
    assert isinstance(operation, OperationDefinitionNode)
    cost = query_cost(github_schema(), operation, {}, {"owner": "a", "name": "b", **variables})
    assert cost.errors == ()
    return cost.requests, cost.cost


ALL_STREAMS = tuple(Stream)
SUBSETS = [
    combo
    for n in range(1, len(ALL_STREAMS) + 1)
    for combo in itertools.combinations(ALL_STREAMS, n)
]


@pytest.mark.parametrize("streams", SUBSETS, ids=lambda s: "+".join(x.value for x in s))
@pytest.mark.parametrize("followed", [0, 3, 150])
@pytest.mark.parametrize("page_size", [100, 10])
def test_every_plan_costs_one_point(
    streams: Sequence[Stream], followed: int, page_size: int
) -> None:
    host = Host()
    walking = pagers(host, streams, backfill=True)
    item_pagers = [p for p in walking if isinstance(p, ItemPager)]
    if item_pagers and followed:
        # items of a page waiting for their first response on further timeline pages
        from healthexporter.paging import _Page

        follows: list[Item | Follow] = [Follow(item(n), [], "c", 5) for n in range(1, followed + 1)]
        item_pagers[0].queue.append(_Page(follows, item_pagers[0].state))
    page = plan(walking, page_size, host.settled)
    requests, points = points_of(page.parts)
    assert points == 1 and requests <= queries.BUDGET_REQUESTS
    asked = {name: v[1] for part in page.parts for name, v in part.variables.items()}
    for pager in walking:
        first = asked[f"{pager.prefix}First"]
        if isinstance(pager, ItemPager):
            assert MIN_ITEMS <= first <= page_size
        else:
            assert first == page_size
    item_requests = sum(1 + 2 * asked[f"{p.prefix}First"] for p in item_pagers)
    asked_follows = len(page.follow_aliases)
    if item_pagers and followed:
        assert asked_follows == min(followed, MAX_FOLLOWS)
        if followed < 10 and page_size == 100:
            # few followed timelines leave the item streams nearly the whole budget
            assert item_requests >= queries.BUDGET_REQUESTS - 3 - asked_follows - 2 * len(
                item_pagers
            )
    else:
        assert asked_follows == 0


def test_one_item_stream_alone_takes_74_items() -> None:
    host = Host()
    [pull_requests] = pagers(host, [Stream.PULL_REQUESTS], backfill=False)
    page = plan([pull_requests], 100, host.settled)
    assert page.parts[0].variables["prFirst"] == ("Int!", 74)
    assert points_of(page.parts) == (149, 1)


def test_both_item_streams_and_the_rest_share_the_budget() -> None:
    host = Host()
    page = plan(pagers(host, ALL_STREAMS, backfill=True), 100, host.settled)
    firsts = {name: v[1] for part in page.parts for name, v in part.variables.items()}
    assert firsts["prFirst"] == firsts["isFirst"] == 36  # (149 - 5) // 4
    assert firsts["relFirst"] == firsts["tagFirst"] == firsts["comFirst"] == 100
    assert points_of(page.parts) == (2 * 73 + 3, 1)


def test_not_found_for_a_followed_item_or_a_riding_profile_spares_the_page() -> None:
    from healthexporter.paging import Plan
    from healthexporter.sync import _gone

    page = Plan(follow_aliases={"t0"}, profiles={"u0": "ghost"})
    gone = {"type": "NOT_FOUND", "message": "Could not resolve"}
    assert _gone({**gone, "path": ["repository", "t0"]}, page)  # deleted while followed
    assert _gone({**gone, "path": ["u0"]}, page)  # a login that no longer exists
    assert not _gone({**gone, "path": ["repository"]}, page)  # the repository itself
    assert not _gone({**gone, "path": ["repository", "t1"]}, page)
    assert not _gone({"type": "FORBIDDEN", "path": ["u0"]}, page)
