"""Every GraphQL document healthexporter sends to GitHub.

They are built here, from one selection per stream, so a test can validate every shape the sync
sends against GitHub's published schema (``ALL_QUERIES`` in ``tests/test_simulator_graphql.py``)
and the simulator can be checked to execute them. Costs follow GitHub's formula ("Rate limits and
query limits for the GraphQL API"): one request per connection, times the ``first`` of every
connection above it, summed, divided by 100 and rounded.

Why one ``timelineItems`` connection instead of ``comments`` + ``reviews`` + events: every
nested connection adds one request per item of the page. A single ``timelineItems(itemTypes: …)``
brings comments, reviews, ready-for-review, close and merge events at once, so a page of n items
needs 1 + 2n requests (timeline + labels) instead of 1 + 4n or more.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

# Timeline item types that decide a first response or move an item's clock.
PULL_REQUEST_TIMELINE_TYPES = (
    "ISSUE_COMMENT",
    "PULL_REQUEST_REVIEW",
    "READY_FOR_REVIEW_EVENT",
    "CONVERT_TO_DRAFT_EVENT",
    "CLOSED_EVENT",
    "MERGED_EVENT",
    "REOPENED_EVENT",
)
ISSUE_TIMELINE_TYPES = ("ISSUE_COMMENT", "CLOSED_EVENT", "REOPENED_EVENT")

RATE_LIMIT_FIELDS = "rateLimit { cost limit remaining used resetAt nodeCount }"

_ACTOR = "{ __typename login }"

_TIMELINE_NODE = f"""
          __typename
          ... on IssueComment {{ id createdAt authorAssociation author {_ACTOR} }}
          ... on PullRequestReview {{
            id createdAt submittedAt state authorAssociation author {_ACTOR}
          }}
          ... on ReadyForReviewEvent {{ id createdAt actor {_ACTOR} }}
          ... on ConvertToDraftEvent {{ id createdAt actor {_ACTOR} }}
          ... on ClosedEvent {{ id createdAt actor {_ACTOR} }}
          ... on MergedEvent {{ id createdAt actor {_ACTOR} }}
          ... on ReopenedEvent {{ id createdAt actor {_ACTOR} }}"""

_ISSUE_TIMELINE_NODE = f"""
          __typename
          ... on IssueComment {{ id createdAt authorAssociation author {_ACTOR} }}
          ... on ClosedEvent {{ id createdAt actor {_ACTOR} }}
          ... on ReopenedEvent {{ id createdAt actor {_ACTOR} }}"""

_PR_TYPES = ", ".join(PULL_REQUEST_TIMELINE_TYPES)
_ISSUE_TYPES = ", ".join(ISSUE_TIMELINE_TYPES)

# --- pages, bundled ---------------------------------------------------------------------------
#
# GitHub charges a query by the *sum* of its connections' requests, divided by 100 and rounded
# to the nearest whole number: 1 to 149 requests cost 1 point. A page of n items with labels and
# timeline nested costs 1 + 2n requests; a page of releases, tags or commits costs 1; a further
# timeline page of one item costs 1. So the sync asks for the next page of *every* stream it is
# walking in one query (``page_query``), and fills the budget of 149 requests: e.g. 36 pull
# requests + 36 issues + 100 commits + 100 releases + 100 tags for 1 point, where five separate
# queries would cost 2 + 2 + 1 + 1 + 1. Each stream's selection takes its variables with its own
# prefix, so any set of them makes one valid document.

BUDGET_REQUESTS = 149  # the most requests a query can need and still cost 1 point


def _var(prefix: str, name: str) -> str:
    return f"{prefix}{name[0].upper()}{name[1:]}" if prefix else name


@dataclass(frozen=True)
class Part:
    """One stream's selection inside ``repository { … }``: its text, its variables (name →
    (GraphQL type, value)) and the requests it adds to the query's cost."""

    text: str
    variables: Mapping[str, tuple[str, Any]]
    requests: int
    root: bool = False  # asked at the query's root, beside ``repository``


def items_part(
    kind: str,
    *,
    first: int,
    after: str | None,
    since: str | None,
    timeline_first: int,
    prefix: str = "",
) -> Part:
    """A page of pull requests (``kind="pullRequests"``) or issues (``"issues"``), most recently
    updated first, with their labels and the first page of their timeline. ``pullRequests``
    has no ``since`` filter (the sync stops paging at its watermark); ``since`` also limits the
    nested timeline to new activity. Requests: 1 + 2·first."""
    v = functools.partial(_var, prefix)
    if kind == "pullRequests":
        connection = (
            f"{prefix or kind}: pullRequests(first: ${v('first')}, after: ${v('after')}, "
            "orderBy: {field: UPDATED_AT, direction: DESC})"
        )
        fields = "number state isDraft createdAt updatedAt closedAt mergedAt authorAssociation"
        types, node = _PR_TYPES, _TIMELINE_NODE
    elif kind == "issues":
        connection = (
            f"{prefix or kind}: issues(first: ${v('first')}, after: ${v('after')}, "
            "orderBy: {field: UPDATED_AT, direction: DESC}, "
            f"filterBy: {{since: ${v('since')}}})"
        )
        fields = "number state createdAt updatedAt closedAt authorAssociation"
        types, node = _ISSUE_TYPES, _ISSUE_TIMELINE_NODE
    else:
        raise ValueError(f"no such item connection: {kind}")
    text = f"""
    {connection} {{
      totalCount
      pageInfo {{ hasNextPage endCursor }}
      nodes {{
        {fields}
        author {_ACTOR}
        labels(first: 20) {{ nodes {{ name }} }}
        timelineItems(first: ${v("timelineFirst")}, since: ${v("since")}, itemTypes: [{types}]) {{
          pageInfo {{ hasNextPage endCursor }}
          nodes {{{node}
          }}
        }}
      }}
    }}"""
    return Part(
        text,
        {
            v("first"): ("Int!", first),
            v("after"): ("String", after),
            v("since"): ("DateTime", since),
            v("timelineFirst"): ("Int!", timeline_first),
        },
        1 + 2 * first,
    )


def timeline_part(kind: str, *, number: int, after: str | None, prefix: str = "") -> Part:
    """The next timeline page of one pull request (``kind="pullRequest"``) or issue
    (``"issue"``), for an item whose first response was not on its first page. Requests: 1."""
    if kind not in ("pullRequest", "issue"):
        raise ValueError(f"no such item: {kind}")
    v = functools.partial(_var, prefix)
    types, node = (
        (_PR_TYPES, _TIMELINE_NODE)
        if kind == "pullRequest"
        else (_ISSUE_TYPES, _ISSUE_TIMELINE_NODE)
    )
    text = f"""
    {prefix or kind}: {kind}(number: ${v("number")}) {{
      timelineItems(first: 100, after: ${v("after")}, itemTypes: [{types}]) {{
        pageInfo {{ hasNextPage endCursor }}
        nodes {{{node}
        }}
      }}
    }}"""
    return Part(text, {v("number"): ("Int!", number), v("after"): ("String", after)}, 1)


def releases_part(*, first: int, after: str | None, prefix: str = "") -> Part:
    v = functools.partial(_var, prefix)
    text = f"""
    {prefix or "releases"}: releases(first: ${v("first")}, after: ${v("after")},
             orderBy: {{field: CREATED_AT, direction: DESC}}) {{
      totalCount
      pageInfo {{ hasNextPage endCursor }}
      nodes {{ tagName createdAt publishedAt isPrerelease isDraft }}
    }}"""
    return Part(text, {v("first"): ("Int!", first), v("after"): ("String", after)}, 1)


def tags_part(*, first: int, after: str | None, prefix: str = "") -> Part:
    v = functools.partial(_var, prefix)
    text = f"""
    {prefix or "refs"}: refs(refPrefix: "refs/tags/", first: ${v("first")}, after: ${v("after")},
         orderBy: {{field: TAG_COMMIT_DATE, direction: DESC}}) {{
      totalCount
      pageInfo {{ hasNextPage endCursor }}
      nodes {{
        name
        target {{
          __typename oid
          ... on Commit {{ committedDate }}
          ... on Tag {{ tagger {{ date }} target {{ oid ... on Commit {{ committedDate }} }} }}
        }}
      }}
    }}"""
    return Part(text, {v("first"): ("Int!", first), v("after"): ("String", after)}, 1)


def commits_part(*, first: int, after: str | None, since: str | None, prefix: str = "") -> Part:
    """Default-branch history; ``since`` bounds incremental polls. Co-authors would need the
    nested ``authors`` connection (100 more requests a page), so only the primary author is
    collected."""
    v = functools.partial(_var, prefix)
    text = f"""
    {prefix or "defaultBranchRef"}: defaultBranchRef {{
      target {{
        ... on Commit {{
          history(first: ${v("first")}, after: ${v("after")}, since: ${v("since")}) {{
            totalCount
            pageInfo {{ hasNextPage endCursor }}
            nodes {{ oid committedDate authoredDate author {{ email user {{ login }} }} }}
          }}
        }}
      }}
    }}"""
    return Part(
        text,
        {
            v("first"): ("Int!", first),
            v("after"): ("String", after),
            v("since"): ("GitTimestamp", since),
        },
        1,
    )


_PROFILE = "{ __typename login ... on User { company } }"


def profile_part(login: str, *, prefix: str) -> Part:
    """One login's profile (``repositoryOwner`` answers for users and organizations alike; a
    bot or a deleted account answers null). No connection: 0 requests, so up to 100 of them
    ride in a page query for nothing."""
    text = f"\n  {prefix}: repositoryOwner(login: ${prefix}Login) {_PROFILE}"
    return Part(text, {f"{prefix}Login": ("String!", login)}, 0, root=True)


def page_query(name: str, parts: Sequence[Part]) -> tuple[str, dict[str, Any]]:
    """One query asking for every part under ``repository(owner: $owner, name: $name)`` (and
    the ``root`` parts beside it); returns the document and its variables (without
    ``owner``/``name``)."""
    if not parts:
        raise ValueError("page_query needs at least one part")
    declared: dict[str, str] = {}
    values: dict[str, Any] = {}
    for part in parts:
        for variable, (graphql_type, value) in part.variables.items():
            if variable in declared or variable in ("owner", "name"):
                raise ValueError(f"variable ${variable} is used by two parts")
            declared[variable] = graphql_type
            values[variable] = value
    params = ", ".join(
        ["$owner: String!", "$name: String!", *(f"${k}: {t}" for k, t in declared.items())]
    )
    body = "".join(part.text for part in parts if not part.root)
    beside = "".join(part.text for part in parts if part.root)
    document = (
        f"query {name}({params}) {{\n  {RATE_LIMIT_FIELDS}{beside}\n"
        f"  repository(owner: $owner, name: $name) {{{body}\n  }}\n}}\n"
    )
    return document, values


def requests_of(parts: Sequence[Part]) -> int:
    return sum(part.requests for part in parts)


def users_query(count: int) -> str:
    """Profiles of up to 100 logins in one request through aliases (no connection: 1 point).

    Variables are ``$l0 … $l{count-1}``; ``repositoryOwner`` answers for users and
    organizations alike, so a login that turned into an organization does not fail the batch
    (bots are no ``RepositoryOwner``: they answer null, and the sync only asks for users).
    """
    if not 1 <= count <= 100:
        raise ValueError("users_query takes 1 to 100 logins")
    params = ", ".join(f"$l{i}: String!" for i in range(count))
    body = "\n".join(f"  u{i}: repositoryOwner(login: $l{i}) {_PROFILE}" for i in range(count))
    return f"query Users({params}) {{\n  {RATE_LIMIT_FIELDS}\n{body}\n}}\n"


def _examples() -> dict[str, str]:
    """Every shape of query the exporter sends, for the schema tests: each part alone and all
    of them bundled, as the sync builds them."""
    since = "2026-01-01T00:00:00Z"
    singles: dict[str, list[Part]] = {
        "PullRequests": [items_part("pullRequests", first=74, after=None, since=None,
                                    timeline_first=100)],
        "Issues": [items_part("issues", first=74, after="x", since=since, timeline_first=100)],
        "Releases": [releases_part(first=100, after=None)],
        "Tags": [tags_part(first=100, after=None)],
        "Commits": [commits_part(first=100, after=None, since=since)],
        "PullRequestTimeline": [timeline_part("pullRequest", number=1, after="x")],
        "IssueTimeline": [timeline_part("issue", number=1, after=None)],
    }  # fmt: skip
    bundle = [
        items_part("pullRequests", first=30, after=None, since=None, timeline_first=100,
                   prefix="pr"),
        items_part("issues", first=30, after=None, since=None, timeline_first=100, prefix="is"),
        releases_part(first=100, after=None, prefix="rel"),
        tags_part(first=100, after=None, prefix="tag"),
        commits_part(first=100, after=None, since=None, prefix="com"),
        timeline_part("pullRequest", number=1, after="x", prefix="t0"),
        timeline_part("issue", number=2, after="y", prefix="t1"),
        profile_part("octocat", prefix="u0"),
        profile_part("hubot", prefix="u1"),
    ]  # fmt: skip
    out = {name: page_query(name, parts)[0] for name, parts in singles.items()}
    out["Page"] = page_query("Page", bundle)[0]
    return out


ALL_QUERIES: dict[str, str] = {
    **_examples(),
    "Users1": users_query(1),
    "Users100": users_query(100),
}
