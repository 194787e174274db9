"""The simulator's GraphQL engine answers the exporter's queries as GitHub would.

Everything runs against GitHub's real schema (``npm install`` provides it) and a small literal
dataset built here; costs and limits are checked against the examples in GitHub's "Rate limits
and query limits for the GraphQL API".
"""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from graphql import OperationDefinitionNode, parse

from healthexporter.github import queries
from healthexporter.simulator.cost import QueryCost, query_cost
from healthexporter.simulator.dataset import (
    Dataset,
    SimCommit,
    SimItem,
    SimRelease,
    SimRepository,
    SimTag,
    SimTimelineEntry,
    SimUser,
)
from healthexporter.simulator.graphql_api import GraphQLEngine, GraphQLResult
from healthexporter.simulator.ratelimit import Bucket
from healthexporter.simulator.schema import (
    SCHEMA_ENV,
    SchemaNotFoundError,
    check_query,
    github_schema,
)

# The exporter's selections, one stream per query, with unprefixed variables ($first, $after,
# $since, $timelineFirst, $number): the sync bundles the same selections (queries.page_query).
PULL_REQUESTS, ISSUES, PULL_REQUEST_TIMELINE, ISSUE_TIMELINE, RELEASES, TAGS, COMMITS = (
    queries.page_query(name, [part])[0]
    for name, part in (
        ("PullRequests", queries.items_part("pullRequests", first=1, after=None, since=None,
                                            timeline_first=1)),
        ("Issues", queries.items_part("issues", first=1, after=None, since=None,
                                      timeline_first=1)),
        ("PullRequestTimeline", queries.timeline_part("pullRequest", number=1, after=None)),
        ("IssueTimeline", queries.timeline_part("issue", number=1, after=None)),
        ("Releases", queries.releases_part(first=1, after=None)),
        ("Tags", queries.tags_part(first=1, after=None)),
        ("Commits", queries.commits_part(first=1, after=None, since=None)),
    )
)  # fmt: skip
REPOSITORY = f"""
query Repository($owner: String!, $name: String!) {{
  {queries.RATE_LIMIT_FIELDS}
  repository(owner: $owner, name: $name) {{
    id nameWithOwner isArchived isFork isEmpty createdAt pushedAt
    defaultBranchRef {{ name }}
  }}
}}
"""


def at(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


def world() -> Dataset:
    """octo-org/widgets: two pull requests and two issues with timelines, two releases, a
    lightweight and an annotated tag, three commits; octo-org/empty has nothing."""
    users = [
        SimUser("alice", company="Acme"),
        SimUser("bob"),
        SimUser("dependabot[bot]", kind="Bot"),
        SimUser("old-timer", kind="Mannequin"),
        SimUser("octo-org", kind="Organization"),
    ]
    items = [
        SimItem(
            1, "pull_request", "alice", "CONTRIBUTOR",
            at("2024-01-01T10:00:00Z"), at("2024-01-03T00:00:00Z"),
            state="MERGED", closed_at=at("2024-01-03T00:00:00Z"),
            merged_at=at("2024-01-03T00:00:00Z"), merged_by="bob", labels=["bug", "size/S"],
            timeline=[
                SimTimelineEntry("IC_1", "IssueComment", "alice", at("2024-01-01T12:00:00Z"),
                                 author_association="CONTRIBUTOR"),
                SimTimelineEntry("PRR_1", "PullRequestReview", "bob", at("2024-01-02T09:00:00Z"),
                                 author_association="MEMBER", review_state="APPROVED",
                                 submitted_at=at("2024-01-02T09:05:00Z")),
                SimTimelineEntry("ME_1", "MergedEvent", "bob", at("2024-01-03T00:00:00Z")),
            ],
        ),
        SimItem(
            2, "issue", None, "NONE", at("2024-02-01T00:00:00Z"), at("2024-02-02T00:00:00Z"),
            timeline=[
                SimTimelineEntry("IC_2", "IssueComment", "dependabot[bot]",
                                 at("2024-02-02T00:00:00Z"), author_association="NONE"),
            ],
        ),
        SimItem(
            3, "pull_request", "dependabot[bot]", "NONE",
            at("2024-03-01T00:00:00Z"), at("2024-03-05T00:00:00Z"),
            timeline=[
                SimTimelineEntry("RFR_3", "ReadyForReviewEvent", "dependabot[bot]",
                                 at("2024-03-02T00:00:00Z")),
                SimTimelineEntry("IC_3", "IssueComment", "bob", at("2024-03-05T00:00:00Z"),
                                 author_association="MEMBER"),
            ],
        ),
        SimItem(
            4, "issue", "bob", "MEMBER", at("2024-04-01T00:00:00Z"), at("2024-04-02T00:00:00Z"),
            state="CLOSED", closed_at=at("2024-04-02T00:00:00Z"),
            timeline=[
                SimTimelineEntry("CE_4", "ClosedEvent", "alice", at("2024-04-02T00:00:00Z")),
            ],
        ),
    ]  # fmt: skip
    c1, c2, c3 = "c1" * 20, "c2" * 20, "c3" * 20
    widgets = SimRepository(
        "octo-org", "widgets", at("2020-01-01T00:00:00Z"),
        pushed_at=at("2024-05-30T00:00:00Z"), updated_at=at("2024-05-30T00:00:00Z"),
        former_names=["octo-org/gadgets"],
        items=items,
        releases=[
            SimRelease("v1.0", at("2024-01-05T00:00:00Z"), at("2024-01-05T01:00:00Z")),
            SimRelease("v1.1-rc1", at("2024-03-10T00:00:00Z"), at("2024-03-10T00:00:00Z"),
                       is_prerelease=True),
        ],
        tags=[
            SimTag("v1.0", c1, at("2024-01-05T00:00:00Z")),
            SimTag("v1.1-rc1", c2, at("2024-03-10T01:00:00Z"), annotated=True),
        ],
        commits=[
            SimCommit(c3, at("2024-05-30T00:00:00Z"), at("2024-05-29T00:00:00Z"), "bob", "Bob",
                      "bob@example.com"),
            SimCommit(c2, at("2024-03-10T00:00:00Z"), at("2024-03-10T00:00:00Z"), "alice",
                      "Alice", "alice@example.com"),
            SimCommit(c1, at("2024-01-05T00:00:00Z"), at("2024-01-04T00:00:00Z"),
                      "dependabot[bot]", "dependabot[bot]", "bot@example.com"),
        ],
    )  # fmt: skip
    empty = SimRepository("octo-org", "empty", at("2023-01-01T00:00:00Z"))
    return Dataset(at("2024-06-01T00:00:00Z"), users, [widgets, empty])


REPO = {"owner": "octo-org", "name": "widgets"}
PAGE = {**REPO, "first": 100, "timelineFirst": 100}


def run(
    engine: GraphQLEngine, query: str, variables: dict[str, Any], bucket: Bucket | None = None
) -> GraphQLResult:
    return engine.execute(
        {"query": query, "variables": variables}, bucket or Bucket("graphql", 5000)
    )


def data(result: GraphQLResult) -> dict[str, Any]:
    assert result.status == 200
    assert "errors" not in result.body, result.body["errors"]
    payload: dict[str, Any] = result.body["data"]
    payload.pop("rateLimit", None)
    return payload


@pytest.fixture
def engine() -> GraphQLEngine:
    return GraphQLEngine(world())


BOT = {"__typename": "Bot", "login": "dependabot"}
ALICE = {"__typename": "User", "login": "alice"}
BOB = {"__typename": "User", "login": "bob"}


# --- schema -------------------------------------------------------------------------------------


def test_schema_is_built_once() -> None:
    assert github_schema() is github_schema()


def test_missing_schema_file_says_what_to_do(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv(SCHEMA_ENV, str(tmp_path / "nowhere.graphql"))
    with pytest.raises(SchemaNotFoundError, match=SCHEMA_ENV):
        github_schema()


@pytest.mark.parametrize("name", sorted(queries.ALL_QUERIES))
def test_every_exporter_query_is_valid_for_github(name: str) -> None:
    checked = check_query(github_schema(), queries.ALL_QUERIES[name])
    assert checked.errors == ()


# --- the exporter's queries ---------------------------------------------------------------------


def test_repository(engine: GraphQLEngine) -> None:
    assert data(run(engine, REPOSITORY, REPO)) == {
        "repository": {
            "id": "R_6019355a1788d173",
            "nameWithOwner": "octo-org/widgets",
            "isArchived": False,
            "isFork": False,
            "isEmpty": False,
            "createdAt": "2020-01-01T00:00:00Z",
            "pushedAt": "2024-05-30T00:00:00Z",
            "defaultBranchRef": {"name": "main"},
        }
    }


def test_empty_repository_has_no_default_branch(engine: GraphQLEngine) -> None:
    repository = data(run(engine, REPOSITORY, {**REPO, "name": "empty"}))["repository"]
    assert (repository["isEmpty"], repository["defaultBranchRef"]) == (True, None)


def test_pull_requests_page(engine: GraphQLEngine) -> None:
    result = data(run(engine, PULL_REQUESTS, PAGE))
    connection = result["repository"]["pullRequests"]
    assert connection["totalCount"] == 2
    assert connection["pageInfo"]["hasNextPage"] is False
    first, second = connection["nodes"]
    assert first == {
        "number": 3,
        "state": "OPEN",
        "isDraft": False,
        "createdAt": "2024-03-01T00:00:00Z",
        "updatedAt": "2024-03-05T00:00:00Z",
        "closedAt": None,
        "mergedAt": None,
        "authorAssociation": "NONE",
        "author": BOT,
        "labels": {"nodes": []},
        "timelineItems": {
            "pageInfo": first["timelineItems"]["pageInfo"],
            "nodes": [
                {
                    "__typename": "ReadyForReviewEvent",
                    "id": "RFR_3",
                    "createdAt": "2024-03-02T00:00:00Z",
                    "actor": BOT,
                },
                {
                    "__typename": "IssueComment",
                    "id": "IC_3",
                    "createdAt": "2024-03-05T00:00:00Z",
                    "authorAssociation": "MEMBER",
                    "author": BOB,
                },
            ],
        },
    }
    assert second["number"] == 1
    assert (second["state"], second["mergedAt"]) == ("MERGED", "2024-01-03T00:00:00Z")
    assert second["labels"] == {"nodes": [{"name": "bug"}, {"name": "size/S"}]}
    assert second["timelineItems"]["nodes"][1] == {
        "__typename": "PullRequestReview",
        "id": "PRR_1",
        "createdAt": "2024-01-02T09:00:00Z",
        "submittedAt": "2024-01-02T09:05:00Z",
        "state": "APPROVED",
        "authorAssociation": "MEMBER",
        "author": BOB,
    }
    assert second["timelineItems"]["nodes"][2]["__typename"] == "MergedEvent"


def test_issues_page_excludes_pull_requests_and_shows_deleted_author_as_null(
    engine: GraphQLEngine,
) -> None:
    connection = data(run(engine, ISSUES, PAGE))["repository"]["issues"]
    assert [n["number"] for n in connection["nodes"]] == [4, 2]
    assert connection["totalCount"] == 2
    closed, deleted_author = connection["nodes"]
    assert closed["timelineItems"]["nodes"] == [
        {
            "__typename": "ClosedEvent",
            "id": "CE_4",
            "createdAt": "2024-04-02T00:00:00Z",
            "actor": ALICE,
        }
    ]
    assert deleted_author["author"] is None
    assert deleted_author["timelineItems"]["nodes"][0]["author"] == BOT


def test_issues_since_keeps_only_updated_ones(engine: GraphQLEngine) -> None:
    variables = {**PAGE, "since": "2024-03-01T00:00:00Z"}
    connection = data(run(engine, ISSUES, variables))["repository"]["issues"]
    assert [n["number"] for n in connection["nodes"]] == [4]
    assert connection["totalCount"] == 1


def test_pull_request_timeline(engine: GraphQLEngine) -> None:
    result = data(run(engine, PULL_REQUEST_TIMELINE, {**REPO, "number": 1}))
    timeline = result["repository"]["pullRequest"]["timelineItems"]
    assert [n["id"] for n in timeline["nodes"]] == ["IC_1", "PRR_1", "ME_1"]
    assert timeline["pageInfo"]["hasNextPage"] is False


def test_issue_timeline(engine: GraphQLEngine) -> None:
    result = data(run(engine, ISSUE_TIMELINE, {**REPO, "number": 2}))
    assert result["repository"]["issue"]["timelineItems"]["nodes"] == [
        {
            "__typename": "IssueComment",
            "id": "IC_2",
            "createdAt": "2024-02-02T00:00:00Z",
            "authorAssociation": "NONE",
            "author": BOT,
        }
    ]


def test_releases_newest_first(engine: GraphQLEngine) -> None:
    result = data(run(engine, RELEASES, {**REPO, "first": 100}))
    assert result["repository"]["releases"]["nodes"] == [
        {
            "tagName": "v1.1-rc1",
            "createdAt": "2024-03-10T00:00:00Z",
            "publishedAt": "2024-03-10T00:00:00Z",
            "isPrerelease": True,
            "isDraft": False,
        },
        {
            "tagName": "v1.0",
            "createdAt": "2024-01-05T00:00:00Z",
            "publishedAt": "2024-01-05T01:00:00Z",
            "isPrerelease": False,
            "isDraft": False,
        },
    ]


def test_tags_lightweight_and_annotated(engine: GraphQLEngine) -> None:
    result = data(run(engine, TAGS, {**REPO, "first": 100}))
    refs = result["repository"]["refs"]
    assert refs["totalCount"] == 2
    annotated, lightweight = refs["nodes"]
    assert annotated["name"] == "v1.1-rc1"
    assert annotated["target"]["__typename"] == "Tag"
    assert annotated["target"]["tagger"] == {"date": "2024-03-10T01:00:00Z"}
    assert annotated["target"]["target"] == {
        "oid": "c2" * 20,
        "committedDate": "2024-03-10T00:00:00Z",
    }
    assert lightweight == {
        "name": "v1.0",
        "target": {
            "__typename": "Commit",
            "oid": "c1" * 20,
            "committedDate": "2024-01-05T00:00:00Z",
        },
    }


def test_commits_newest_first_with_since(engine: GraphQLEngine) -> None:
    result = data(run(engine, COMMITS, {**REPO, "first": 100}))
    history = result["repository"]["defaultBranchRef"]["target"]["history"]
    assert history["totalCount"] == 3
    assert history["nodes"][0] == {
        "oid": "c3" * 20,
        "committedDate": "2024-05-30T00:00:00Z",
        "authoredDate": "2024-05-29T00:00:00Z",
        "author": {"email": "bob@example.com", "user": {"login": "bob"}},
    }
    # a bot commits as a GitActor without a User
    assert history["nodes"][2]["author"] == {"email": "bot@example.com", "user": None}

    since = {**REPO, "first": 100, "since": "2024-03-01T00:00:00Z"}
    result = data(run(engine, COMMITS, since))
    history = result["repository"]["defaultBranchRef"]["target"]["history"]
    assert [n["oid"] for n in history["nodes"]] == ["c3" * 20, "c2" * 20]


def test_commit_history_pages_by_cursor(engine: GraphQLEngine) -> None:
    seen: list[str] = []
    after = None
    for _ in range(3):
        result = data(run(engine, COMMITS, {**REPO, "first": 1, "after": after}))
        history = result["repository"]["defaultBranchRef"]["target"]["history"]
        seen += [n["oid"] for n in history["nodes"]]
        after = history["pageInfo"]["endCursor"]
    assert seen == ["c3" * 20, "c2" * 20, "c1" * 20]
    assert history["pageInfo"]["hasNextPage"] is False


def test_users_by_alias_with_bot_and_unknown(engine: GraphQLEngine) -> None:
    logins = ["alice", "octo-org", "dependabot[bot]", "nobody-at-all"]
    variables = {f"l{i}": login for i, login in enumerate(logins)}
    result = data(run(engine, queries.users_query(4), variables))
    assert result == {
        "u0": {"__typename": "User", "login": "alice", "company": "Acme"},
        "u1": {"__typename": "Organization", "login": "octo-org"},
        "u2": None,  # a Bot is not a RepositoryOwner
        "u3": None,
    }


def test_users_100_executes(engine: GraphQLEngine) -> None:
    variables = {f"l{i}": "bob" for i in range(100)}
    result = run(engine, queries.users_query(100), variables)
    assert result.cost == 1
    assert data(result)["u99"] == {"__typename": "User", "login": "bob", "company": None}


def test_organization_repositories(engine: GraphQLEngine) -> None:
    query = """query { organization(login: "OCTO-ORG") {
        repositories(first: 10) { nodes { nameWithOwner isArchived isFork } } } }"""
    assert data(run(engine, query, {})) == {
        "organization": {
            "repositories": {
                "nodes": [
                    {"nameWithOwner": "octo-org/empty", "isArchived": False, "isFork": False},
                    {"nameWithOwner": "octo-org/widgets", "isArchived": False, "isFork": False},
                ]
            }
        }
    }


def test_repository_lookup_is_case_insensitive_and_follows_renames(
    engine: GraphQLEngine,
) -> None:
    query = 'query { a: repository(owner: "OCTO-org", name: "Widgets") { nameWithOwner } '
    query += 'b: repository(owner: "octo-org", name: "gadgets") { nameWithOwner } }'
    assert data(run(engine, query, {})) == {
        "a": {"nameWithOwner": "octo-org/widgets"},
        "b": {"nameWithOwner": "octo-org/widgets"},
    }


# --- timeline filters ---------------------------------------------------------------------------

TIMELINE = """
query($since: DateTime, $types: [PullRequestTimelineItemsItemType!]) {
  repository(owner: "octo-org", name: "widgets") {
    pullRequest(number: 1) {
      timelineItems(first: 10, since: $since, itemTypes: $types) {
        totalCount
        nodes { __typename ... on Node { id } }
      }
    }
  }
}"""


@pytest.mark.parametrize(
    ("since", "types", "expected"),
    [
        (None, None, ["IC_1", "PRR_1", "ME_1"]),
        (None, ["PULL_REQUEST_REVIEW"], ["PRR_1"]),
        (None, ["ISSUE_COMMENT", "MERGED_EVENT"], ["IC_1", "ME_1"]),
        (None, ["LABELED_EVENT"], []),
        ("2024-01-02T00:00:00Z", None, ["PRR_1", "ME_1"]),
        # a review counts from when it was submitted (09:05), not created (09:00)
        ("2024-01-02T09:03:00Z", None, ["PRR_1", "ME_1"]),
        ("2024-01-02T09:06:00Z", ["ISSUE_COMMENT", "PULL_REQUEST_REVIEW"], []),
    ],
)
def test_timeline_filters(
    engine: GraphQLEngine, since: str | None, types: list[str] | None, expected: list[str]
) -> None:
    result = data(run(engine, TIMELINE, {"since": since, "types": types}))
    timeline = result["repository"]["pullRequest"]["timelineItems"]
    assert [n["id"] for n in timeline["nodes"]] == expected
    assert timeline["totalCount"] == len(expected)


# --- pagination ---------------------------------------------------------------------------------


def busy_world() -> Dataset:
    """25 pull requests whose update times tie in pairs: order must break ties by number."""
    created = at("2024-01-01T00:00:00Z")
    items = [
        SimItem(
            n, "pull_request", "alice", "MEMBER", created,
            at(f"2024-02-{(n + 1) // 2:02d}T00:00:00Z"),
        )
        for n in range(1, 26)
    ]  # fmt: skip
    repo = SimRepository("octo-org", "busy", created, items=items)
    return Dataset(at("2024-06-01T00:00:00Z"), [SimUser("alice")], [repo])


PRS = """
query($first: Int, $after: String, $last: Int, $before: String) {
  repository(owner: "octo-org", name: "busy") {
    pullRequests(first: $first, after: $after, last: $last, before: $before,
                 orderBy: {field: UPDATED_AT, direction: DESC}) {
      totalCount
      pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
      edges { cursor node { number } }
    }
  }
}"""


def page(engine: GraphQLEngine, **variables: Any) -> dict[str, Any]:
    connection: dict[str, Any] = data(run(engine, PRS, variables))["repository"]["pullRequests"]
    return connection


def numbers(connection: dict[str, Any]) -> list[int]:
    return [e["node"]["number"] for e in connection["edges"]]


def test_forward_pagination_returns_every_item_once_in_order() -> None:
    engine = GraphQLEngine(busy_world())
    seen: list[int] = []
    after = None
    while True:
        connection = page(engine, first=10, after=after)
        seen += numbers(connection)
        assert connection["totalCount"] == 25
        assert connection["pageInfo"]["endCursor"] == connection["edges"][-1]["cursor"]
        if not connection["pageInfo"]["hasNextPage"]:
            break
        after = connection["pageInfo"]["endCursor"]
    assert seen == list(range(25, 0, -1))  # ties on updatedAt broken by number, descending


def test_backward_pagination() -> None:
    engine = GraphQLEngine(busy_world())
    last_three = page(engine, last=3)
    assert numbers(last_three) == [3, 2, 1]
    assert last_three["pageInfo"]["hasPreviousPage"] is True
    before = page(engine, last=2, before=last_three["pageInfo"]["startCursor"])
    assert numbers(before) == [5, 4]


def test_cursor_is_opaque_base64() -> None:
    cursor = page(GraphQLEngine(busy_world()), first=1)["pageInfo"]["endCursor"]
    assert base64.b64decode(cursor).startswith(b"cursor:v2:")


def test_cursors_survive_new_and_updated_items() -> None:
    dataset = busy_world()
    engine = GraphQLEngine(dataset)
    first = page(engine, first=10)
    assert numbers(first) == list(range(25, 15, -1))
    repo = dataset.repository("octo-org", "busy")
    assert repo is not None
    # a new pull request, and activity on one already seen, both move to the front
    dataset.add_item(
        repo,
        SimItem(26, "pull_request", "alice", "MEMBER", dataset.now, dataset.now),
    )
    seen_item = repo.item(20)
    assert seen_item is not None
    comment = SimTimelineEntry("IC_late", "IssueComment", "alice", dataset.now)
    dataset.add_timeline_entry(repo, seen_item, comment)
    second = page(engine, first=10, after=first["pageInfo"]["endCursor"])
    assert numbers(second) == list(range(15, 5, -1))
    assert numbers(page(engine, first=2)) == [26, 20]  # same time: higher number first


def test_bad_cursor_is_refused_like_github() -> None:
    result = run(GraphQLEngine(busy_world()), PRS, {"first": 5, "after": "bm90IGEgY3Vyc29y"})
    error = result.body["errors"][0]
    assert error["type"] == "INVALID_CURSOR_ARGUMENTS"
    assert error["message"] == "`$after` does not appear to be a valid cursor."


# --- GitHub's refusals --------------------------------------------------------------------------


def refused(result: GraphQLResult) -> dict[str, Any]:
    assert (result.status, result.cost) == (200, 0)
    assert "data" not in result.body
    errors: list[dict[str, Any]] = result.body["errors"]
    assert len(errors) == 1, errors
    return errors[0]


def test_unknown_field(engine: GraphQLEngine) -> None:
    error = refused(run(engine, 'query { repository(owner: "a", name: "b") { stars } }', {}))
    assert error == {
        "message": "Field 'stars' doesn't exist on type 'Repository'",
        "locations": [{"line": 1, "column": 45}],
        "extensions": {"code": "undefinedField", "typeName": "Repository", "fieldName": "stars"},
    }


def test_wrong_argument_type(engine: GraphQLEngine) -> None:
    query = 'query { repository(owner: "a", name: 5) { name } }'
    error = refused(run(engine, query, {}))
    assert error["extensions"] == {"code": "argumentLiteralsIncompatible"}


def test_missing_required_argument(engine: GraphQLEngine) -> None:
    error = refused(run(engine, 'query { repository(owner: "a") { name } }', {}))
    assert error["extensions"] == {"code": "missingRequiredArguments"}


def test_variable_of_wrong_type(engine: GraphQLEngine) -> None:
    error = refused(run(engine, RELEASES, {**REPO, "first": "ten"}))
    assert error["message"] == "Variable $first of type Int! was provided invalid value"
    assert error["extensions"]["value"] == "ten"


def test_syntax_error(engine: GraphQLEngine) -> None:
    error = refused(run(engine, "query { repository(owner: }", {}))
    assert error == {
        "message": 'Parse error on "}" (RCURLY) at [1, 27]',
        "locations": [{"line": 1, "column": 27}],
    }


def test_missing_first(engine: GraphQLEngine) -> None:
    query = 'query { repository(owner: "a", name: "b") { pullRequests { nodes { number } } } }'
    error = refused(run(engine, query, {}))
    assert error["type"] == "MISSING_PAGINATION_BOUNDARIES"
    assert error["message"] == (
        "You must provide a `first` or `last` value to properly paginate the `pullRequests` "
        "connection."
    )
    assert error["path"] == ["repository", "pullRequests"]


def test_total_count_alone_needs_no_first(engine: GraphQLEngine) -> None:
    query = 'query { repository(owner: "octo-org", name: "widgets") { issues { totalCount } } }'
    assert data(run(engine, query, {})) == {"repository": {"issues": {"totalCount": 2}}}


def test_first_above_100(engine: GraphQLEngine) -> None:
    error = refused(run(engine, PULL_REQUESTS, {**PAGE, "first": 101}))
    assert error["type"] == "EXCESSIVE_PAGINATION"
    assert error["message"] == (
        "Requesting 101 records on the `pullRequests` connection exceeds the `first` limit of "
        "100 records."
    )


def test_node_limit(engine: GraphQLEngine) -> None:
    query = """query { repository(owner: "a", name: "b") {
      pullRequests(first: 100) { nodes { timelineItems(first: 100) { nodes { __typename
        ... on PullRequestReview { comments(first: 51) { totalCount } } } } } } } }"""
    error = refused(run(engine, query, {}))
    assert error["type"] == "MAX_NODE_LIMIT_EXCEEDED"
    # 100 pull requests + 100·100 timeline items + 100·100·51 comments
    assert "520,100 possible nodes" in error["message"]
    assert "maximum limit of 500,000" in error["message"]


def test_not_json_object_is_http_400(engine: GraphQLEngine) -> None:
    result = engine.execute([1, 2], Bucket("graphql", 5000))  # type: ignore[arg-type]
    assert result.status == 400
    assert result.body["message"] == "Problems parsing JSON"
    assert engine.execute({"variables": {}}, Bucket("graphql", 5000)).status == 400


def test_refusals_cost_nothing(engine: GraphQLEngine) -> None:
    bucket = Bucket("graphql", 5000)
    run(engine, PULL_REQUESTS, {**PAGE, "first": 101}, bucket)
    run(engine, "query { nope }", {}, bucket)
    assert bucket.snapshot().used == 0


def test_unimplemented_field_is_named_not_silently_null(engine: GraphQLEngine) -> None:
    query = 'query { repository(owner: "octo-org", name: "widgets") { stargazerCount } }'
    result = run(engine, query, {})
    assert result.body["errors"][0]["message"] == (
        "healthexporter simulator does not implement Repository.stargazerCount"
    )
    # stargazerCount is non-null: the null propagates up to the nullable repository
    assert result.body["data"] == {"repository": None}


# --- NOT_FOUND ----------------------------------------------------------------------------------


def test_missing_repository_is_a_partial_error(engine: GraphQLEngine) -> None:
    result = run(engine, REPOSITORY, {"owner": "octo-org", "name": "nope"})
    assert result.status == 200
    assert result.body["data"]["repository"] is None
    assert result.body["data"]["rateLimit"]["cost"] == 1
    assert result.body["errors"] == [
        {
            "type": "NOT_FOUND",
            "message": "Could not resolve to a Repository with the name 'octo-org/nope'.",
            "locations": [{"line": 4, "column": 3}],
            "path": ["repository"],
        }
    ]


# --- cost and rate limit ------------------------------------------------------------------------


def cost_of(query: str, variables: dict[str, Any] | None = None) -> QueryCost:
    document = parse(query)
    operation = document.definitions[0]
    assert isinstance(operation, OperationDefinitionNode)
    return query_cost(github_schema(), operation, {}, variables or {})


@pytest.mark.parametrize(
    ("name", "variables", "points"),
    [
        ("PullRequests", {"first": 100, "timelineFirst": 100}, 2),
        ("Issues", {"first": 100, "timelineFirst": 100}, 2),
        ("PullRequestTimeline", {}, 1),
        ("Releases", {"first": 100}, 1),
        ("Tags", {"first": 100}, 1),
        ("Commits", {"first": 100}, 1),
        ("Users100", {}, 1),
        # every stream and two followed timelines in one query: 2·(1 + 2·30) + 5 = 127 → 1
        ("Page", {"prFirst": 30, "isFirst": 30, "relFirst": 100, "tagFirst": 100,
                  "comFirst": 100, "prTimelineFirst": 100, "isTimelineFirst": 100}, 1),
    ],
)  # fmt: skip
def test_cost_of_exporter_queries(name: str, variables: dict[str, Any], points: int) -> None:
    assert cost_of(queries.ALL_QUERIES[name], variables).cost == points


def test_cost_of_pull_requests_page() -> None:
    cost = cost_of(PULL_REQUESTS, {"first": 100, "timelineFirst": 100})
    assert (cost.requests, cost.node_count) == (201, 100 + 100 * 20 + 100 * 100)


def test_docs_example_three_nested_connections() -> None:
    # GitHub: 100 pull requests each with three connections of 10 → (1 + 3·100)/100 ≈ 3 points
    cost = cost_of("""query { repository(owner: "a", name: "b") { pullRequests(first: 100) {
      nodes { comments(first: 10) { nodes { id } } reviews(first: 10) { nodes { id } }
              timelineItems(first: 10) { nodes { __typename } } } } } }""")
    assert (cost.requests, cost.cost, cost.node_count) == (301, 3, 100 + 3 * 1000)


def test_docs_example_viewer_repositories_issues_labels() -> None:
    cost = cost_of("""query { viewer { repositories(first: 50) { edges { repository: node {
      name issues(first: 10) { totalCount edges { node { title
        labels(first: 80) { edges { node { name } } } } } } } } } } }""")
    assert (cost.requests, cost.cost, cost.node_count) == (551, 6, 40_550)


def test_docs_example_repositories_issues_labels_with_variables() -> None:
    cost = cost_of(
        """query($r: Int!, $i: Int!) { viewer { login repositories(first: $r) { edges { node {
        id issues(first: $i) { edges { node { id labels(first: 60) { edges { node { id name }
        } } } } } } } } } }""",
        {"r": 100, "i": 50},
    )
    assert (cost.requests, cost.cost, cost.node_count) == (5101, 51, 305_100)


def test_rate_limit_is_charged_and_reported_after_charging(engine: GraphQLEngine) -> None:
    bucket = Bucket("graphql", 5)
    first = run(engine, PULL_REQUESTS, PAGE, bucket)
    rate = first.body["data"]["rateLimit"]
    assert first.cost == 2
    assert (rate["cost"], rate["limit"], rate["remaining"], rate["used"]) == (2, 5, 3, 2)
    assert rate["nodeCount"] == 100 + 100 * 20 + 100 * 100
    second = run(engine, ISSUES, PAGE, bucket)
    assert second.body["data"]["rateLimit"]["remaining"] == 1

    limited = run(engine, PULL_REQUESTS, PAGE, bucket)
    assert limited.status == 200
    assert limited.body == {
        "errors": [{"type": "RATE_LIMITED", "message": "API rate limit exceeded for user ID 1."}]
    }
    assert limited.cost == 0
    assert bucket.snapshot().remaining == 1  # nothing charged for the refusal

    last_point = run(engine, RELEASES, {**REPO, "first": 10}, bucket)
    assert last_point.body["data"]["rateLimit"]["remaining"] == 0
    assert "errors" in run(engine, RELEASES, {**REPO, "first": 10}, bucket).body


def test_dry_run_costs_nothing_and_runs_nothing(engine: GraphQLEngine) -> None:
    bucket = Bucket("graphql", 5000)
    query = PULL_REQUESTS.replace("rateLimit {", "rateLimit(dryRun: true) {")
    result = run(engine, query, PAGE, bucket)
    assert result.cost == 0
    assert result.body["data"]["repository"] is None
    assert result.body["data"]["rateLimit"]["cost"] == 2
    assert result.body["data"]["rateLimit"]["remaining"] == 5000
    assert bucket.snapshot().used == 0


def test_operation_name_comes_from_document_or_body(engine: GraphQLEngine) -> None:
    assert run(engine, RELEASES, {**REPO, "first": 1}).operation_name == "Releases"
    two = "query A { rateLimit { cost } } query B { rateLimit { limit } }"
    result = engine.execute({"query": two, "operationName": "B"}, Bucket("graphql", 10))
    assert result.operation_name == "B"
    assert result.body == {"data": {"rateLimit": {"limit": 10}}}
