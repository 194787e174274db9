"""GitHub's GraphQL JSON → the domain model.

Pure functions, no I/O. Every field read here is one the queries in ``queries.py`` select.
Bot logins: GitHub's GraphQL API names a Bot without the ``[bot]`` suffix that its REST API and
github.com show ("dependabot" vs "dependabot[bot]"); we store the ``[bot]`` form so logins read
as people see them and match bot lists written from the web UI.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from healthexporter.model import (
    Activity,
    ActivityKind,
    Actor,
    ActorKind,
    Commit,
    Item,
    ItemKind,
    ItemState,
    Release,
    Repository,
    Tag,
    User,
)

JSON = Mapping[str, Any]

_TIMELINE_KINDS: dict[str, ActivityKind] = {
    "IssueComment": ActivityKind.COMMENT,
    "PullRequestReview": ActivityKind.REVIEW,
    "ReadyForReviewEvent": ActivityKind.READY_FOR_REVIEW,
    "ConvertToDraftEvent": ActivityKind.CONVERT_TO_DRAFT,
    "ClosedEvent": ActivityKind.CLOSED,
    "MergedEvent": ActivityKind.MERGED,
    "ReopenedEvent": ActivityKind.REOPENED,
}

_ACTOR_KINDS = {kind.value: kind for kind in ActorKind}


def parse_time(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(UTC)


def parse_optional_time(value: str | None) -> datetime | None:
    return None if value is None else parse_time(value)


def parse_actor(raw: JSON | None) -> Actor:
    """An ``Actor`` object (``{__typename login}``); null means a deleted account."""
    if raw is None or raw.get("login") is None:
        return Actor.deleted()
    kind = _ACTOR_KINDS.get(str(raw.get("__typename")), ActorKind.USER)
    login = str(raw["login"])
    if kind is ActorKind.BOT and not login.endswith("[bot]"):
        login = f"{login}[bot]"
    return Actor(login=login, kind=kind)


def parse_activity(raw: JSON) -> Activity | None:
    """One ``timelineItems`` node; None for types we did not ask for (defensive)."""
    kind = _TIMELINE_KINDS.get(str(raw.get("__typename")))
    if kind is None:
        return None
    if kind is ActivityKind.REVIEW:
        state = str(raw["state"])
        submitted = raw.get("submittedAt")
        at = parse_time(submitted if submitted is not None else raw["createdAt"])
        return Activity(
            id=str(raw["id"]),
            kind=kind,
            actor=parse_actor(raw.get("author")),
            at=at,
            association=raw.get("authorAssociation"),
            review_state=state,
        )
    if kind is ActivityKind.COMMENT:
        return Activity(
            id=str(raw["id"]),
            kind=kind,
            actor=parse_actor(raw.get("author")),
            at=parse_time(raw["createdAt"]),
            association=raw.get("authorAssociation"),
        )
    return Activity(
        id=str(raw["id"]),
        kind=kind,
        actor=parse_actor(raw.get("actor")),
        at=parse_time(raw["createdAt"]),
    )


def parse_timeline(raw: JSON) -> tuple[list[Activity], str | None]:
    """A ``timelineItems`` connection → (activities, cursor to continue from or None)."""
    activities = [a for a in (parse_activity(n) for n in raw.get("nodes") or []) if a is not None]
    page_info = raw.get("pageInfo") or {}
    cursor = page_info.get("endCursor") if page_info.get("hasNextPage") else None
    return activities, cursor


def parse_item(repository: str, kind: ItemKind, raw: JSON) -> Item:
    """A ``PullRequest`` or ``Issue`` node. ``activity_cursor`` is set when the nested timeline
    page was not the last; the caller decides whether to page further."""
    activities, cursor = parse_timeline(raw.get("timelineItems") or {})
    state = (
        ItemState(str(raw["state"])) if raw["state"] in ItemState.__members__ else ItemState.OPEN
    )
    labels = tuple(sorted({str(n["name"]) for n in (raw.get("labels") or {}).get("nodes") or []}))
    return Item(
        repository=repository,
        number=int(raw["number"]),
        kind=kind,
        state=state,
        created_at=parse_time(raw["createdAt"]),
        updated_at=parse_time(raw["updatedAt"]),
        author=parse_actor(raw.get("author")),
        author_association=str(raw.get("authorAssociation") or "NONE"),
        closed_at=parse_optional_time(raw.get("closedAt")),
        merged_at=parse_optional_time(raw.get("mergedAt")),
        is_draft=bool(raw.get("isDraft", False)),
        labels=labels,
        activities=tuple(sorted(activities, key=lambda a: (a.at, a.id))),
        activity_cursor=cursor,
    )


def parse_release(repository: str, raw: JSON) -> Release:
    return Release(
        repository=repository,
        tag_name=str(raw["tagName"]),
        created_at=parse_time(raw["createdAt"]),
        published_at=parse_optional_time(raw.get("publishedAt")),
        is_prerelease=bool(raw.get("isPrerelease")),
        is_draft=bool(raw.get("isDraft")),
    )


def parse_tag(repository: str, raw: JSON) -> Tag | None:
    """A tag ``Ref``: lightweight (target is the Commit) or annotated (target is a Tag whose
    tagger date is the tagging time). Tags pointing at trees or blobs are skipped."""
    target = raw.get("target") or {}
    typename = target.get("__typename")
    if typename == "Commit":
        return Tag(
            repository, str(raw["name"]), str(target["oid"]), parse_time(target["committedDate"])
        )
    if typename == "Tag":
        inner = target.get("target") or {}
        tagger_date = (target.get("tagger") or {}).get("date")
        when = tagger_date or inner.get("committedDate")
        if when is None:
            return None
        return Tag(
            repository, str(raw["name"]), str(inner.get("oid") or target["oid"]), parse_time(when)
        )
    return None


def email_identity(email: str) -> str:
    """A stable identity for an author GitHub did not link to an account, without storing the
    address itself."""
    return "email:" + hashlib.sha256(email.strip().lower().encode()).hexdigest()[:16]


NOREPLY_DOMAIN = "@users.noreply.github.com"


def noreply_login(email: str) -> str | None:
    """The login in a GitHub no-reply address (``ID+login@…`` or ``login@…``).

    ``GitAuthor.user`` is a ``User``, so commits by apps (``dependabot[bot]``) come back
    without one; their no-reply address still names them, which lets bot commits be told
    apart from people's.
    """
    if not email.lower().endswith(NOREPLY_DOMAIN):
        return None
    local = email[: -len(NOREPLY_DOMAIN)]
    return local.split("+", 1)[1] if "+" in local else local or None


def parse_commit(repository: str, raw: JSON) -> Commit:
    author = raw.get("author") or {}
    user = author.get("user") or {}
    login = user.get("login") or noreply_login(str(author.get("email") or ""))
    identity = str(login) if login else email_identity(str(author.get("email") or ""))
    return Commit(
        repository=repository,
        oid=str(raw["oid"]),
        committed_at=parse_time(raw["committedDate"]),
        authored_at=parse_time(raw["authoredDate"]),
        author_login=str(login) if login else None,
        author_identity=identity,
    )


def parse_repository_rest(raw: JSON) -> Repository:
    """``GET /repos/{owner}/{repo}`` (the probe we make anyway) → metadata, so it costs no
    GraphQL point."""
    return Repository(
        full_name=str(raw["full_name"]),
        node_id=str(raw["node_id"]),
        default_branch=raw.get("default_branch") or None,
        is_archived=bool(raw.get("archived")),
        is_fork=bool(raw.get("fork")),
        is_empty=not raw.get("pushed_at") or raw.get("size") == 0,
        created_at=parse_time(raw["created_at"]),
        pushed_at=parse_optional_time(raw.get("pushed_at")),
    )


def parse_user(login: str, raw: JSON | None, fetched_at: datetime) -> User:
    """A ``repositoryOwner`` alias from ``users_query``; null (deleted/renamed) keeps the login
    with no company so it is not asked for again until the profile refresh."""
    if raw is None:
        return User(login=login, kind=ActorKind.USER, company=None, fetched_at=fetched_at)
    kind = _ACTOR_KINDS.get(str(raw.get("__typename")), ActorKind.USER)
    company = raw.get("company")
    return User(
        login=login, kind=kind, company=str(company) if company else None, fetched_at=fetched_at
    )
