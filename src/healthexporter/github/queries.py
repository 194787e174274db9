"""Every GraphQL document healthexporter sends to GitHub.

They are kept together, as plain constants, so a test can validate each one against GitHub's
published schema (``tests/test_queries_schema.py``) and the simulator can be checked to execute
them. Costs follow GitHub's formula ("Rate limits and query limits for the GraphQL API"): one
request per connection, times the ``first`` of every connection above it, summed, divided by 100.

Why one ``timelineItems`` connection instead of ``comments`` + ``reviews`` + events: every
nested connection adds 100 requests to a page of 100 items, i.e. one point. A single
``timelineItems(itemTypes: …)`` brings comments, reviews, ready-for-review, close and merge
events at once, so a page of 100 pull requests costs 2 points (timeline + labels) instead of 4–5.
"""

from __future__ import annotations

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

REPOSITORY = f"""
query Repository($owner: String!, $name: String!) {{
  {RATE_LIMIT_FIELDS}
  repository(owner: $owner, name: $name) {{
    id nameWithOwner isArchived isFork isEmpty createdAt pushedAt
    defaultBranchRef {{ name }}
  }}
}}
"""

# A page of pull requests, most recently updated first (pullRequests has no `since` filter:
# the sync stops paging at its watermark). $since limits the nested timeline to new activity on
# incremental polls; null on backfill. Cost: 1 + 100 (timeline) + 100 (labels) → 2 points.
PULL_REQUESTS = f"""
query PullRequests($owner: String!, $name: String!, $first: Int!, $after: String,
                   $since: DateTime, $timelineFirst: Int!) {{
  {RATE_LIMIT_FIELDS}
  repository(owner: $owner, name: $name) {{
    pullRequests(first: $first, after: $after, orderBy: {{field: UPDATED_AT, direction: DESC}}) {{
      totalCount
      pageInfo {{ hasNextPage endCursor }}
      nodes {{
        number state isDraft createdAt updatedAt closedAt mergedAt authorAssociation
        author {_ACTOR}
        labels(first: 20) {{ nodes {{ name }} }}
        timelineItems(first: $timelineFirst, since: $since, itemTypes: [{_PR_TYPES}]) {{
          pageInfo {{ hasNextPage endCursor }}
          nodes {{{_TIMELINE_NODE}
          }}
        }}
      }}
    }}
  }}
}}
"""

# Issues support `filterBy.since`, so incremental polls fetch only changed issues.
ISSUES = f"""
query Issues($owner: String!, $name: String!, $first: Int!, $after: String,
             $since: DateTime, $timelineFirst: Int!) {{
  {RATE_LIMIT_FIELDS}
  repository(owner: $owner, name: $name) {{
    issues(first: $first, after: $after, orderBy: {{field: UPDATED_AT, direction: DESC}},
           filterBy: {{since: $since}}) {{
      totalCount
      pageInfo {{ hasNextPage endCursor }}
      nodes {{
        number state createdAt updatedAt closedAt authorAssociation
        author {_ACTOR}
        labels(first: 20) {{ nodes {{ name }} }}
        timelineItems(first: $timelineFirst, since: $since, itemTypes: [{_ISSUE_TYPES}]) {{
          pageInfo {{ hasNextPage endCursor }}
          nodes {{{_ISSUE_TIMELINE_NODE}
          }}
        }}
      }}
    }}
  }}
}}
"""

# Further activity of one item, when its first timeline page did not settle its first response.
PULL_REQUEST_TIMELINE = f"""
query PullRequestTimeline($owner: String!, $name: String!, $number: Int!, $after: String) {{
  {RATE_LIMIT_FIELDS}
  repository(owner: $owner, name: $name) {{
    pullRequest(number: $number) {{
      timelineItems(first: 100, after: $after, itemTypes: [{_PR_TYPES}]) {{
        pageInfo {{ hasNextPage endCursor }}
        nodes {{{_TIMELINE_NODE}
        }}
      }}
    }}
  }}
}}
"""

ISSUE_TIMELINE = f"""
query IssueTimeline($owner: String!, $name: String!, $number: Int!, $after: String) {{
  {RATE_LIMIT_FIELDS}
  repository(owner: $owner, name: $name) {{
    issue(number: $number) {{
      timelineItems(first: 100, after: $after, itemTypes: [{_ISSUE_TYPES}]) {{
        pageInfo {{ hasNextPage endCursor }}
        nodes {{{_ISSUE_TIMELINE_NODE}
        }}
      }}
    }}
  }}
}}
"""

RELEASES = f"""
query Releases($owner: String!, $name: String!, $first: Int!, $after: String) {{
  {RATE_LIMIT_FIELDS}
  repository(owner: $owner, name: $name) {{
    releases(first: $first, after: $after, orderBy: {{field: CREATED_AT, direction: DESC}}) {{
      totalCount
      pageInfo {{ hasNextPage endCursor }}
      nodes {{ tagName createdAt publishedAt isPrerelease isDraft }}
    }}
  }}
}}
"""

TAGS = f"""
query Tags($owner: String!, $name: String!, $first: Int!, $after: String) {{
  {RATE_LIMIT_FIELDS}
  repository(owner: $owner, name: $name) {{
    refs(refPrefix: "refs/tags/", first: $first, after: $after,
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
    }}
  }}
}}
"""

# Default-branch history; $since bounds incremental polls. Co-authors would need the nested
# `authors` connection (one more point per page), so only the primary author is collected.
COMMITS = f"""
query Commits($owner: String!, $name: String!, $first: Int!, $after: String,
              $since: GitTimestamp) {{
  {RATE_LIMIT_FIELDS}
  repository(owner: $owner, name: $name) {{
    defaultBranchRef {{
      target {{
        ... on Commit {{
          history(first: $first, after: $after, since: $since) {{
            totalCount
            pageInfo {{ hasNextPage endCursor }}
            nodes {{ oid committedDate authoredDate author {{ email user {{ login }} }} }}
          }}
        }}
      }}
    }}
  }}
}}
"""


def users_query(count: int) -> str:
    """Profiles of up to 100 logins in one request through aliases (no connection: 1 point).

    Variables are ``$l0 … $l{count-1}``; ``repositoryOwner`` answers for users and
    organizations alike, so a login that turned into an organization does not fail the batch
    (bots are no ``RepositoryOwner``: they answer null, and the sync only asks for users).
    """
    if not 1 <= count <= 100:
        raise ValueError("users_query takes 1 to 100 logins")
    params = ", ".join(f"$l{i}: String!" for i in range(count))
    body = "\n".join(
        f"  u{i}: repositoryOwner(login: $l{i}) {{ __typename login ... on User {{ company }} }}"
        for i in range(count)
    )
    return f"query Users({params}) {{\n  {RATE_LIMIT_FIELDS}\n{body}\n}}\n"


ALL_QUERIES: dict[str, str] = {
    "Repository": REPOSITORY,
    "PullRequests": PULL_REQUESTS,
    "Issues": ISSUES,
    "PullRequestTimeline": PULL_REQUEST_TIMELINE,
    "IssueTimeline": ISSUE_TIMELINE,
    "Releases": RELEASES,
    "Tags": TAGS,
    "Commits": COMMITS,
    "Users1": users_query(1),
    "Users100": users_query(100),
}
