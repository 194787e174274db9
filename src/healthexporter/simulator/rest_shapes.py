"""GitHub's REST JSON shapes, built from the dataset: users, repositories, issues and pull
requests, comments, issue events, reviews, releases, tags and the rate limit.

Each function answers one schema of GitHub's OpenAPI description (named in its docstring):
every key the schema marks required is present, texts are empty and counts that the dataset
does not hold are 0. URLs lead back to the server the request came in on (``RestRequest``'s
``base_url`` and ``html_url``). The endpoints that answer with them are in ``rest``.
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING

from healthexporter.simulator.dataset import (
    Dataset,
    SimItem,
    SimRelease,
    SimRepository,
    SimTag,
    SimTimelineEntry,
    format_time,
    node_id,
)
from healthexporter.simulator.ratelimit import BucketSnapshot

if TYPE_CHECKING:
    from healthexporter.simulator.rest import Json, RestRequest

GHOST = {"login": "ghost", "id": 10137, "node_id": "MDQ6VXNlcjEwMTM3", "type": "User"}


def derived_id(*parts: object) -> int:
    """A stable positive id for things the dataset gives no database id."""
    return int(hashlib.sha1("/".join(map(str, parts)).encode()).hexdigest()[:10], 16)


def user_json(login: str | None, dataset: Dataset, request: RestRequest) -> dict[str, Json]:
    """GitHub's ``simple-user``. Bots' logins carry ``[bot]`` in REST (not in GraphQL)."""
    if login is None:
        login, user_id, user_node, kind = "ghost", GHOST["id"], GHOST["node_id"], "User"
    else:
        user = dataset.user(login)
        if user is None:
            user_id, user_node, kind = derived_id("user", login), node_id("U", login), "User"
        else:
            login, user_id, user_node, kind = user.login, user.database_id, user.node_id, user.kind
        if kind == "Bot" and not login.endswith("[bot]"):
            login += "[bot]"
    api = f"{request.base_url}/users/{login}"
    return {
        "login": login,
        "id": user_id,
        "node_id": user_node,
        "avatar_url": f"https://avatars.githubusercontent.com/u/{user_id}?v=4",
        "gravatar_id": "",
        "url": api,
        "html_url": f"{request.html_url}/{login}",
        "followers_url": f"{api}/followers",
        "following_url": f"{api}/following{{/other_user}}",
        "gists_url": f"{api}/gists{{/gist_id}}",
        "starred_url": f"{api}/starred{{/owner}}{{/repo}}",
        "subscriptions_url": f"{api}/subscriptions",
        "organizations_url": f"{api}/orgs",
        "repos_url": f"{api}/repos",
        "events_url": f"{api}/events{{/privacy}}",
        "received_events_url": f"{api}/received_events",
        "type": kind,
        "user_view_type": "public",
        "site_admin": False,
    }


_REPO_URLS = {
    "archive_url": "/{archive_format}{/ref}",
    "assignees_url": "/assignees{/user}",
    "blobs_url": "/git/blobs{/sha}",
    "branches_url": "/branches{/branch}",
    "collaborators_url": "/collaborators{/collaborator}",
    "comments_url": "/comments{/number}",
    "commits_url": "/commits{/sha}",
    "compare_url": "/compare/{base}...{head}",
    "contents_url": "/contents/{+path}",
    "contributors_url": "/contributors",
    "deployments_url": "/deployments",
    "downloads_url": "/downloads",
    "events_url": "/events",
    "forks_url": "/forks",
    "git_commits_url": "/git/commits{/sha}",
    "git_refs_url": "/git/refs{/sha}",
    "git_tags_url": "/git/tags{/sha}",
    "hooks_url": "/hooks",
    "issue_comment_url": "/issues/comments{/number}",
    "issue_events_url": "/issues/events{/number}",
    "issues_url": "/issues{/number}",
    "keys_url": "/keys{/key_id}",
    "labels_url": "/labels{/name}",
    "languages_url": "/languages",
    "merges_url": "/merges",
    "milestones_url": "/milestones{/number}",
    "notifications_url": "/notifications{?since,all,participating}",
    "pulls_url": "/pulls{/number}",
    "releases_url": "/releases{/id}",
    "stargazers_url": "/stargazers",
    "statuses_url": "/statuses/{sha}",
    "subscribers_url": "/subscribers",
    "subscription_url": "/subscription",
    "tags_url": "/tags",
    "teams_url": "/teams",
    "trees_url": "/git/trees{/sha}",
}


def repository_json(
    repo: SimRepository, dataset: Dataset, request: RestRequest, *, full: bool
) -> dict[str, Json]:
    """``full-repository`` (``full=True``, ``GET /repos/…``) or ``minimal-repository`` (lists)."""
    api = f"{request.base_url}/repos/{repo.full_name}"
    html = f"{request.html_url}/{repo.full_name}"
    host = request.html_url.split("://", 1)[-1]
    open_count = sum(1 for item in repo.items if item.state == "OPEN")
    body: dict[str, Json] = {
        "id": repo.database_id,
        "node_id": repo.node_id,
        "name": repo.name,
        "full_name": repo.full_name,
        "private": False,
        "owner": user_json(repo.owner, dataset, request),
        "html_url": html,
        "description": None,
        "fork": repo.is_fork,
        "url": api,
        **{key: api + suffix for key, suffix in _REPO_URLS.items()},
        "git_url": f"git://{host}/{repo.full_name}.git",
        "ssh_url": f"git@{host}:{repo.full_name}.git",
        "clone_url": f"{html}.git",
        "svn_url": html,
        "mirror_url": None,
        "homepage": None,
        "language": None,
        "forks_count": 0,
        "forks": 0,
        "stargazers_count": 0,
        "watchers_count": 0,
        "watchers": 0,
        "size": 0 if repo.is_empty else 1,
        "default_branch": repo.default_branch,
        "open_issues_count": open_count,
        "open_issues": open_count,
        "is_template": False,
        "topics": [],
        "has_issues": True,
        "has_projects": True,
        "has_wiki": True,
        "has_pages": False,
        "has_downloads": True,
        "has_discussions": False,
        "archived": repo.is_archived,
        "disabled": False,
        "visibility": "public",
        "pushed_at": format_time(repo.pushed_at),
        "created_at": format_time(repo.created_at),
        "updated_at": format_time(repo.updated_at or repo.created_at),
        "permissions": {
            "admin": False,
            "maintain": False,
            "push": False,
            "triage": False,
            "pull": True,
        },
        "license": None,
    }
    if full:
        body["network_count"] = 0
        body["subscribers_count"] = 0
        body["allow_forking"] = True
        body["web_commit_signoff_required"] = False
    return body


def comment_count(item: SimItem) -> int:
    return sum(1 for entry in item.timeline if entry.type == "IssueComment")


def label_json(repo: SimRepository, name: str, request: RestRequest) -> dict[str, Json]:
    return {
        "id": derived_id(repo.full_name, "label", name),
        "node_id": node_id("LA", repo.full_name, name),
        "url": f"{request.base_url}/repos/{repo.full_name}/labels/{name}",
        "name": name,
        "color": "ededed",
        "default": False,
        "description": None,
    }


def issue_json(
    repo: SimRepository, item: SimItem, dataset: Dataset, request: RestRequest
) -> dict[str, Json]:
    """An entry of ``issues/list-for-repo``: issues and pull requests alike."""
    api = f"{request.base_url}/repos/{repo.full_name}"
    html = f"{request.html_url}/{repo.full_name}"
    is_pull = item.kind == "pull_request"
    closed = item.state != "OPEN"
    body: dict[str, Json] = {
        "url": f"{api}/issues/{item.number}",
        "repository_url": api,
        "labels_url": f"{api}/issues/{item.number}/labels{{/name}}",
        "comments_url": f"{api}/issues/{item.number}/comments",
        "events_url": f"{api}/issues/{item.number}/events",
        "html_url": f"{html}/{'pull' if is_pull else 'issues'}/{item.number}",
        "id": item.database_id,
        "node_id": item.node_id,
        "number": item.number,
        "title": "",
        "user": user_json(item.author, dataset, request),
        "labels": [label_json(repo, name, request) for name in item.labels],
        "state": "closed" if closed else "open",
        "locked": False,
        "assignee": None,
        "assignees": [],
        "milestone": None,
        "comments": comment_count(item),
        "created_at": format_time(item.created_at),
        "updated_at": format_time(item.updated_at),
        "closed_at": format_time(item.closed_at) if closed else None,
        "author_association": item.author_association,
        "type": None,
        "active_lock_reason": None,
        "body": None,
        "timeline_url": f"{api}/issues/{item.number}/timeline",
        "performed_via_github_app": None,
        "state_reason": ("completed" if closed and not is_pull else None),
    }
    if is_pull:
        body["draft"] = item.is_draft
        body["pull_request"] = {
            "url": f"{api}/pulls/{item.number}",
            "html_url": f"{html}/pull/{item.number}",
            "diff_url": f"{html}/pull/{item.number}.diff",
            "patch_url": f"{html}/pull/{item.number}.patch",
            "merged_at": format_time(item.merged_at),
        }
    return body


ISSUE_EVENTS = {
    "ClosedEvent": "closed",
    "MergedEvent": "merged",
    "ReopenedEvent": "reopened",
    "ReadyForReviewEvent": "ready_for_review",
    "ConvertToDraftEvent": "convert_to_draft",
}


def comment_json(
    repo: SimRepository,
    item: SimItem,
    entry: SimTimelineEntry,
    dataset: Dataset,
    request: RestRequest,
) -> dict[str, Json]:
    """An entry of ``issues/list-comments``."""
    api = f"{request.base_url}/repos/{repo.full_name}"
    html = f"{request.html_url}/{repo.full_name}"
    comment_id = derived_id(repo.full_name, "comment", entry.id)
    kind = "pull" if item.kind == "pull_request" else "issues"
    return {
        "id": comment_id,
        "node_id": node_id("IC", repo.full_name, entry.id),
        "url": f"{api}/issues/comments/{comment_id}",
        "html_url": f"{html}/{kind}/{item.number}#issuecomment-{comment_id}",
        "issue_url": f"{api}/issues/{item.number}",
        "body": "",
        "user": user_json(entry.actor, dataset, request),
        "created_at": format_time(entry.created_at),
        "updated_at": format_time(entry.created_at),
        "author_association": entry.author_association or "NONE",
        "performed_via_github_app": None,
    }


def issue_event_json(
    repo: SimRepository, entry: SimTimelineEntry, dataset: Dataset, request: RestRequest
) -> dict[str, Json]:
    """An entry of ``issues/list-events``: closed, merged, reopened, ready_for_review and
    convert_to_draft, from the item's timeline (commit ids are not in the dataset: null)."""
    event_id = derived_id(repo.full_name, "event", entry.id)
    return {
        "id": event_id,
        "node_id": node_id("E", repo.full_name, entry.id),
        "url": f"{request.base_url}/repos/{repo.full_name}/issues/events/{event_id}",
        "actor": user_json(entry.actor, dataset, request),
        "event": ISSUE_EVENTS[entry.type],
        "commit_id": None,
        "commit_url": None,
        "created_at": format_time(entry.created_at),
        "performed_via_github_app": None,
    }


def review_json(
    repo: SimRepository,
    item: SimItem,
    entry: SimTimelineEntry,
    dataset: Dataset,
    request: RestRequest,
) -> dict[str, Json]:
    """An entry of ``pulls/list-reviews``."""
    review_id = derived_id(repo.full_name, "review", entry.id)
    html = f"{request.html_url}/{repo.full_name}/pull/{item.number}#pullrequestreview-{review_id}"
    pull_url = f"{request.base_url}/repos/{repo.full_name}/pulls/{item.number}"
    return {
        "id": review_id,
        "node_id": node_id("PRR", repo.full_name, entry.id),
        "user": user_json(entry.actor, dataset, request),
        "body": "",
        "state": entry.review_state,
        "html_url": html,
        "pull_request_url": pull_url,
        "_links": {"html": {"href": html}, "pull_request": {"href": pull_url}},
        "submitted_at": format_time(entry.submitted_at or entry.created_at),
        "commit_id": None,
        "author_association": entry.author_association or "NONE",
    }


def pull_json(
    repo: SimRepository, item: SimItem, dataset: Dataset, request: RestRequest
) -> dict[str, Json]:
    """``pulls/get``. Branches, commits and diff sizes are not in the dataset: the head and
    base are the default branch, counts of them 0."""
    issue = issue_json(repo, item, dataset, request)
    api = f"{request.base_url}/repos/{repo.full_name}"
    pull = issue["pull_request"]
    url = pull["url"]
    merged = item.state == "MERGED"
    ref = {
        "label": f"{repo.owner}:{repo.default_branch}",
        "ref": repo.default_branch,
        "sha": "0" * 40,
        "user": user_json(repo.owner, dataset, request),
        "repo": repository_json(repo, dataset, request, full=False),
    }
    links = {
        "self": url,
        "html": pull["html_url"],
        "issue": issue["url"],
        "comments": issue["comments_url"],
        "review_comments": f"{url}/comments",
        "review_comment": f"{api}/pulls/comments{{/number}}",
        "commits": f"{url}/commits",
        "statuses": f"{api}/statuses/{ref['sha']}",
    }
    return {
        "url": url,
        "id": item.database_id,
        "node_id": item.node_id,
        "html_url": pull["html_url"],
        "diff_url": pull["diff_url"],
        "patch_url": pull["patch_url"],
        "issue_url": issue["url"],
        "commits_url": links["commits"],
        "review_comments_url": links["review_comments"],
        "review_comment_url": links["review_comment"],
        "comments_url": issue["comments_url"],
        "statuses_url": links["statuses"],
        "number": item.number,
        "state": issue["state"],
        "locked": False,
        "title": "",
        "user": issue["user"],
        "body": None,
        "labels": issue["labels"],
        "milestone": None,
        "active_lock_reason": None,
        "created_at": issue["created_at"],
        "updated_at": issue["updated_at"],
        "closed_at": issue["closed_at"],
        "merged_at": pull["merged_at"],
        "merge_commit_sha": None,
        "assignee": None,
        "assignees": [],
        "requested_reviewers": [],
        "requested_teams": [],
        "head": ref,
        "base": ref,
        "_links": {name: {"href": href} for name, href in links.items()},
        "author_association": item.author_association,
        "auto_merge": None,
        "draft": item.is_draft,
        "merged": merged,
        "mergeable": None,
        "rebaseable": None,
        "mergeable_state": "unknown",
        "merged_by": (
            user_json(item.merged_by, dataset, request)
            if merged and item.merged_by is not None
            else None
        ),
        "comments": issue["comments"],
        "review_comments": 0,
        "maintainer_can_modify": False,
        "commits": 0,
        "additions": 0,
        "deletions": 0,
        "changed_files": 0,
    }


def release_json(
    repo: SimRepository, release: SimRelease, dataset: Dataset, request: RestRequest
) -> dict[str, Json]:
    api = f"{request.base_url}/repos/{repo.full_name}"
    html = f"{request.html_url}/{repo.full_name}"
    release_id = release.database_id or derived_id(repo.full_name, "release", release.tag_name)
    return {
        "url": f"{api}/releases/{release_id}",
        "html_url": f"{html}/releases/tag/{release.tag_name}",
        "assets_url": f"{api}/releases/{release_id}/assets",
        "upload_url": f"{api}/releases/{release_id}/assets{{?name,label}}",
        "tarball_url": f"{api}/tarball/{release.tag_name}",
        "zipball_url": f"{api}/zipball/{release.tag_name}",
        "id": release_id,
        "node_id": release.node_id,
        "tag_name": release.tag_name,
        "target_commitish": repo.default_branch,
        "name": release.tag_name,
        "body": None,
        "draft": release.is_draft,
        "prerelease": release.is_prerelease,
        "immutable": False,
        "created_at": format_time(release.created_at),
        "published_at": format_time(release.published_at),
        "author": user_json(release.author, dataset, request),
        "assets": [],
    }


def tag_json(repo: SimRepository, tag: SimTag, request: RestRequest) -> dict[str, Json]:
    api = f"{request.base_url}/repos/{repo.full_name}"
    return {
        "name": tag.name,
        "commit": {"sha": tag.commit_oid, "url": f"{api}/commits/{tag.commit_oid}"},
        "zipball_url": f"{api}/zipball/refs/tags/{tag.name}",
        "tarball_url": f"{api}/tarball/refs/tags/{tag.name}",
        "node_id": node_id("REF", repo.full_name, "refs/tags/" + tag.name),
    }


def rate_limit_json(snapshots: dict[str, BucketSnapshot]) -> dict[str, Json]:
    """``GET /rate_limit``: every resource's bucket, and ``rate`` (the core one, deprecated)."""

    def entry(snapshot: BucketSnapshot) -> dict[str, int]:
        return {
            "limit": snapshot.limit,
            "used": snapshot.used,
            "remaining": snapshot.remaining,
            "reset": snapshot.reset_at,
        }

    resources = {name: entry(snapshot) for name, snapshot in snapshots.items()}
    return {"resources": resources, "rate": resources["core"]}


def authenticated_user_json(login: str, dataset: Dataset, request: RestRequest) -> dict[str, Json]:
    """``GET /user`` for a personal token: GitHub's ``public-user`` shape."""
    user = dataset.user(login)
    since = format_time(dataset.now)
    return {
        **user_json(login, dataset, request),
        "name": None,
        "company": user.company if user is not None else None,
        "blog": "",
        "location": None,
        "email": None,
        "hireable": None,
        "bio": None,
        "twitter_username": None,
        "public_repos": len(dataset.org_repositories(login)),
        "public_gists": 0,
        "followers": 0,
        "following": 0,
        "created_at": since,
        "updated_at": since,
    }
