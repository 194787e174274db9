"""The domain model: what healthexporter knows about a repository.

These frozen dataclasses are the contract between the GitHub layer (which builds them from API
responses), the store (which persists them) and the health maths (which only reads them). They
hold times, logins, associations and labels only — never bodies or other free text.
All datetimes are timezone-aware UTC.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum


class ActorKind(StrEnum):
    """GitHub's ``Actor`` implementations, plus ``DELETED`` for a null author ("ghost")."""

    USER = "User"
    BOT = "Bot"
    MANNEQUIN = "Mannequin"
    ORGANIZATION = "Organization"
    ENTERPRISE_USER_ACCOUNT = "EnterpriseUserAccount"
    DELETED = "Deleted"


@dataclass(frozen=True, slots=True)
class Actor:
    """Who did something. ``login`` is None only for deleted accounts."""

    login: str | None
    kind: ActorKind

    @staticmethod
    def deleted() -> Actor:
        return Actor(login=None, kind=ActorKind.DELETED)


class ItemKind(StrEnum):
    PULL_REQUEST = "pull_request"
    ISSUE = "issue"


class ItemState(StrEnum):
    OPEN = "OPEN"
    CLOSED = "CLOSED"
    MERGED = "MERGED"


class ActivityKind(StrEnum):
    """Timeline entries that can decide a first response or move an item's clock."""

    COMMENT = "comment"  # IssueComment
    REVIEW = "review"  # PullRequestReview (state tells PENDING from submitted)
    READY_FOR_REVIEW = "ready_for_review"  # ReadyForReviewEvent
    CONVERT_TO_DRAFT = "convert_to_draft"  # ConvertToDraftEvent
    CLOSED = "closed"  # ClosedEvent (actor = who closed)
    MERGED = "merged"  # MergedEvent (actor = who merged)
    REOPENED = "reopened"  # ReopenedEvent


@dataclass(frozen=True, slots=True)
class Activity:
    """One timeline entry of a pull request or issue.

    ``id`` is GitHub's node id, which makes re-fetching idempotent. ``association`` is the
    actor's ``authorAssociation`` for comments and reviews, None for events (GitHub gives
    events no association). ``review_state`` is set for reviews only (APPROVED,
    CHANGES_REQUESTED, COMMENTED, DISMISSED, PENDING). ``at`` is ``createdAt`` for comments and
    events and ``submittedAt`` for submitted reviews (``createdAt`` for PENDING ones).
    """

    id: str
    kind: ActivityKind
    actor: Actor
    at: datetime
    association: str | None = None
    review_state: str | None = None


@dataclass(frozen=True, slots=True)
class Item:
    """A pull request or an issue, with the activity fetched for it.

    ``activities`` is sorted by ``at``. ``activity_cursor`` is None when every activity of the
    item is stored; otherwise it is GitHub's cursor after the last stored activity, kept so that
    a later sync can page further for this item only.
    """

    repository: str  # "owner/name"
    number: int
    kind: ItemKind
    state: ItemState
    created_at: datetime
    updated_at: datetime
    author: Actor
    author_association: str
    closed_at: datetime | None = None
    merged_at: datetime | None = None
    is_draft: bool = False
    labels: tuple[str, ...] = ()
    activities: tuple[Activity, ...] = ()
    activity_cursor: str | None = None

    @property
    def ref(self) -> str:
        """``owner/repo#number``: how people (and exemplars) name an item."""
        return f"{self.repository}#{self.number}"


@dataclass(frozen=True, slots=True)
class Release:
    repository: str
    tag_name: str
    created_at: datetime
    published_at: datetime | None
    is_prerelease: bool
    is_draft: bool


@dataclass(frozen=True, slots=True)
class Tag:
    """A git tag, for projects that tag without GitHub releases."""

    repository: str
    name: str
    commit_oid: str
    tagged_at: datetime  # the tagger date of an annotated tag, else the commit's date


@dataclass(frozen=True, slots=True)
class Commit:
    """A commit on the default branch.

    ``author_login`` is the GitHub login when GitHub linked the commit to an account.
    ``author_identity`` always identifies the author: the login when linked, otherwise
    ``"email:"`` plus a short SHA-256 of the lower-cased e-mail (the address itself is not
    stored).
    """

    repository: str
    oid: str
    committed_at: datetime
    authored_at: datetime
    author_login: str | None
    author_identity: str


@dataclass(frozen=True, slots=True)
class User:
    """A profile, for organization diversity. ``company`` is the raw profile text."""

    login: str
    kind: ActorKind
    company: str | None
    fetched_at: datetime


@dataclass(frozen=True, slots=True)
class Repository:
    """Repository metadata as last seen."""

    full_name: str  # "owner/name", as configured or as GitHub now names it
    node_id: str
    default_branch: str | None  # None for an empty repository
    is_archived: bool
    is_fork: bool
    is_empty: bool
    created_at: datetime
    pushed_at: datetime | None


@dataclass(frozen=True, slots=True)
class RateLimitState:
    """One bucket's state as GitHub last reported it. None fields are unknown (e.g. GHES with
    rate limiting off sends no headers): unknown is not zero."""

    resource: str  # "graphql", "core", "search", …
    limit: int | None
    remaining: int | None
    used: int | None
    reset_at: datetime | None
    observed_at: datetime


@dataclass(frozen=True, slots=True)
class SyncReport:
    """What one sync of one repository did; printed by ``healthexporter sync``."""

    repository: str
    project: str
    ok: bool
    items: int = 0
    releases: int = 0
    tags: int = 0
    commits: int = 0
    users: int = 0
    requests: int = 0
    points: int = 0
    duration_seconds: float = 0.0
    errors: tuple[str, ...] = field(default_factory=tuple)
    error_reason: str | None = None  # e.g. "not_found", "unauthorized", "rate_limited"
