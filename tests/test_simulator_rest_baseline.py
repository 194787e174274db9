"""The simulator's REST routes for a per-item client in the style of github/issue-metrics
(``bench/rest_baseline.py``): search, an item's comments and events, a pull request and its
reviews. Shapes are checked against GitHub's OpenAPI description with the checker of
``test_simulator_server``; pagination, the search's 1,000-result cap, ETags and charging."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import httpx
import pytest

from healthexporter.simulator.dataset import Dataset, SimItem, SimRepository, SimTimelineEntry
from healthexporter.simulator.server import SimulatorServer
from tests.test_simulator_server import AUTH, NOW, make_dataset, response_schema, shape_problems

BIG = 1_050  # items in acme/big: more than search can show


def make_world() -> Dataset:
    dataset = make_dataset()
    rocket = dataset.repository("acme", "rocket")
    assert rocket is not None
    pull = rocket.item(9)  # merged
    assert pull is not None
    at = pull.created_at
    pull.merged_by = "alice"
    pull.timeline += [
        SimTimelineEntry(
            "r1",
            "PullRequestReview",
            "bob",
            at + timedelta(hours=1),
            "MEMBER",
            "CHANGES_REQUESTED",
            at + timedelta(hours=1),
        ),
        SimTimelineEntry(
            "r2",
            "PullRequestReview",
            "bob",
            at + timedelta(hours=2),
            "MEMBER",
            "APPROVED",
            at + timedelta(hours=2),
        ),
        SimTimelineEntry(
            "r3", "PullRequestReview", "carol", at + timedelta(hours=3), "NONE", "PENDING", None
        ),
        SimTimelineEntry("d1", "ConvertToDraftEvent", "alice", at + timedelta(minutes=5)),
        SimTimelineEntry("d2", "ReadyForReviewEvent", "alice", at + timedelta(minutes=6)),
        SimTimelineEntry("m1", "MergedEvent", "alice", at + timedelta(hours=4)),
        SimTimelineEntry("x1", "ClosedEvent", "alice", at + timedelta(hours=4)),
    ]
    pull.timeline += [
        SimTimelineEntry(
            f"c{n}",
            "IssueComment",
            None if n == 3 else "bob",
            at + timedelta(minutes=10 + n),
            "NONE",
        )
        for n in range(45)
    ]
    issue = rocket.item(4)  # closed issue
    assert issue is not None
    issue.timeline += [
        SimTimelineEntry("i1", "ClosedEvent", "alice", issue.created_at + timedelta(days=1)),
        SimTimelineEntry("i2", "ReopenedEvent", "bob", issue.created_at + timedelta(days=2)),
    ]
    big = SimRepository(
        owner="acme",
        name="big",
        created_at=NOW - timedelta(days=900),
        items=[
            SimItem(
                number=n,
                kind="pull_request" if n % 3 else "issue",
                author="alice",
                author_association="MEMBER",
                created_at=NOW - timedelta(hours=2 * BIG - n),
                updated_at=NOW - timedelta(hours=BIG - n),
            )
            for n in range(1, BIG + 1)
        ],
    )
    return Dataset(NOW, list(dataset.users.values()), [*dataset.repositories.values(), big])


@pytest.fixture
def server() -> Iterator[SimulatorServer]:
    with SimulatorServer(make_world()) as running:
        yield running


@pytest.fixture
def client(server: SimulatorServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, headers=AUTH, timeout=10) as http:
        yield http


@pytest.mark.parametrize(
    ("operation_id", "path"),
    [
        ("search/issues-and-pull-requests", "/search/issues?q=repo:acme/rocket+is:pr"),
        ("search/issues-and-pull-requests", "/search/issues?q=repo:acme/rocket is:issue"),
        ("issues/list-comments", "/repos/acme/rocket/issues/9/comments"),
        ("issues/list-comments", "/repos/acme/rocket/issues/2/comments"),
        ("issues/list-events", "/repos/acme/rocket/issues/9/events"),
        ("issues/list-events", "/repos/acme/rocket/issues/4/events"),
        ("pulls/get", "/repos/acme/rocket/pulls/9"),
        ("pulls/get", "/repos/acme/rocket/pulls/3"),
        ("pulls/list-reviews", "/repos/acme/rocket/pulls/9/reviews"),
    ],
)
def test_per_item_routes_follow_githubs_openapi(
    client: httpx.Client, operation_id: str, path: str
) -> None:
    answer = client.get(path)
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"] == "application/json; charset=utf-8"
    assert answer.headers["etag"].startswith('W/"')
    body = answer.json()
    if isinstance(body, list):
        assert body, "an empty list proves nothing"
    else:
        assert body.get("items", [body]), "an empty list proves nothing"
    assert shape_problems(body, response_schema(operation_id)) == []


def walk(client: httpx.Client, path: str) -> list[Any]:
    """Every entry of a listing, following ``Link: rel="next"`` only."""
    entries: list[Any] = []
    url: str | None = path
    while url is not None:
        answer = client.get(url)
        assert answer.status_code == 200, answer.text
        body = answer.json()
        entries += body["items"] if isinstance(body, dict) else body
        url = answer.links.get("next", {}).get("url")
    return entries


def test_comments_page_by_link_in_order(client: httpx.Client) -> None:
    first = client.get("/repos/acme/rocket/issues/9/comments?per_page=20")
    assert 'rel="next"' in first.headers["link"] and 'rel="last"' in first.headers["link"]
    comments = walk(client, "/repos/acme/rocket/issues/9/comments?per_page=20")
    assert len(comments) == 45
    assert len({c["id"] for c in comments}) == 45
    assert [c["created_at"] for c in comments] == sorted(c["created_at"] for c in comments)
    assert {c["user"]["login"] for c in comments} == {"bob", "ghost"}
    assert client.get("/repos/acme/rocket/issues/9/comments?per_page=500").json().__len__() == 45


def test_events_reviews_and_the_pull_request(client: httpx.Client) -> None:
    events = client.get("/repos/acme/rocket/issues/9/events").json()
    # oldest first; ties (merged and closed at once) go by id
    assert [e["event"] for e in events] == [
        "convert_to_draft",
        "ready_for_review",
        "merged",
        "closed",
    ]
    issue_events = client.get("/repos/acme/rocket/issues/4/events").json()
    assert [e["event"] for e in issue_events] == ["closed", "reopened"]
    reviews = client.get("/repos/acme/rocket/pulls/9/reviews").json()
    assert [r["state"] for r in reviews] == ["CHANGES_REQUESTED", "APPROVED"]  # no PENDING
    pull = client.get("/repos/acme/rocket/pulls/9").json()
    assert pull["merged"] is True and pull["merged_by"]["login"] == "alice"
    assert pull["number"] == 9 and pull["comments"] == 45
    assert client.get("/repos/acme/rocket/pulls/3").json()["draft"] is True
    # issues are not pull requests; unknown numbers are 404
    assert client.get("/repos/acme/rocket/pulls/4").status_code == 404
    assert client.get("/repos/acme/rocket/pulls/4/reviews").status_code == 404
    assert client.get("/repos/acme/rocket/issues/999/comments").status_code == 404
    assert client.get("/repos/acme/rocket/issues/x/events").status_code == 404
    # the issue routes answer for pull requests too, as GitHub's do
    assert client.get("/repos/acme/rocket/issues/2/comments").json()[0]["user"]["login"] == "bob"


def test_search_filters_like_github(client: httpx.Client) -> None:
    pulls = walk(client, "/search/issues?q=repo:acme/rocket+is:pr&per_page=10")
    issues = walk(client, "/search/issues?q=repo:acme/rocket+type:issue&per_page=10")
    assert len(pulls) == 24 and all("pull_request" in p for p in pulls)
    assert len(issues) == 23 and not any("pull_request" in i for i in issues)
    assert len({p["number"] for p in pulls} | {i["number"] for i in issues}) == 47
    everything = client.get("/search/issues?q=repo:acme/rocket").json()
    assert everything["total_count"] == 47 and len(everything["items"]) == 30
    merged = client.get("/search/issues?q=repo:acme/rocket is:merged").json()
    assert [i["number"] for i in merged["items"]] == [9]
    open_issues = client.get("/search/issues?q=repo:acme/rocket is:issue is:open").json()
    assert all(i["state"] == "open" for i in open_issues["items"])
    day = (NOW - timedelta(days=90)).date().isoformat()  # item 10's creation day
    one_day = client.get(f"/search/issues?q=repo:acme/rocket created:{day}").json()
    assert [i["number"] for i in one_day["items"]] == [10]
    since = client.get(f"/search/issues?q=repo:acme/rocket created:>={day}&sort=created&order=asc")
    assert since.json()["items"][0]["number"] == 10
    assert since.json()["total_count"] == 38
    assert (
        client.get("/search/issues?q=repo:acme/rocket created:<" + day).json()["total_count"] == 9
    )
    assert client.get("/search/issues?q=repo:acme/rocket+bug").status_code == 422
    assert client.get("/search/issues?q=repo:acme/rocket+label:bug").status_code == 422
    assert client.get("/search/issues?q=repo:acme/rocket&sort=best").status_code == 422


def test_search_shows_only_the_first_thousand_results(client: httpx.Client) -> None:
    first = client.get("/search/issues?q=repo:acme/big&per_page=100")
    body = first.json()
    assert body["total_count"] == BIG and body["incomplete_results"] is False
    assert first.links["last"]["url"].endswith("page=10")
    seen = walk(client, "/search/issues?q=repo:acme/big&per_page=100")
    assert len(seen) == 1000 and len({i["number"] for i in seen}) == 1000
    assert seen[0]["number"] == BIG  # newest first by default
    beyond = client.get("/search/issues?q=repo:acme/big&per_page=100&page=11")
    assert beyond.status_code == 422
    assert "first 1000" in beyond.json()["message"]


def test_each_route_is_charged_one_request_and_304s_are_free(
    server: SimulatorServer, client: httpx.Client
) -> None:
    paths = [
        "/search/issues?q=repo:acme/rocket+is:pr",
        "/repos/acme/rocket/issues/9/comments",
        "/repos/acme/rocket/issues/9/events",
        "/repos/acme/rocket/pulls/9",
        "/repos/acme/rocket/pulls/9/reviews",
    ]
    server.reset_stats()
    etags = [client.get(path).headers["etag"] for path in paths]
    for path, etag in zip(paths, etags, strict=True):
        assert client.get(path, headers={"If-None-Match": etag}).status_code == 304
    stats = server.stats()
    assert stats["core_charged"] == len(paths)
    assert stats["requests"]["rest_not_modified"] == len(paths)
    assert stats["operations"]["GET /search/issues"] == 2
    assert stats["operations"]["GET /repos/{owner}/{repo}/pulls/{pull_number}"] == 2
