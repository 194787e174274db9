"""The simulator's world: users, repositories and everything in them, held in memory.

This is the data the simulated GitHub serves. It is loaded from a JSON dataset (format in
``docs/simulator.md``) or made by the seeded generator (``generate.py``), and it can change while
the simulator runs (``add_*`` methods) so incremental sync can be tested. Every mutation goes
through the methods here so that ``updated_at``/``pushed_at`` move the way GitHub moves them and
so that ``version`` changes (the REST layer's ETags and the GraphQL layer's sort caches key on it).

Unlike the domain model (``healthexporter.model``) this is mutable and holds what GitHub has, in
GitHub's vocabulary (``__typename`` strings, ``authorAssociation`` values).
"""

from __future__ import annotations

import hashlib
import json
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

FORMAT_VERSION = 1

USER_KINDS = ("User", "Bot", "Mannequin", "Organization")
TIMELINE_TYPES = (
    "IssueComment",
    "PullRequestReview",
    "ReadyForReviewEvent",
    "ConvertToDraftEvent",
    "ClosedEvent",
    "MergedEvent",
    "ReopenedEvent",
)
REVIEW_STATES = ("APPROVED", "CHANGES_REQUESTED", "COMMENTED", "DISMISSED", "PENDING")
ASSOCIATIONS = (
    "OWNER",
    "MEMBER",
    "COLLABORATOR",
    "CONTRIBUTOR",
    "FIRST_TIME_CONTRIBUTOR",
    "FIRST_TIMER",
    "MANNEQUIN",
    "NONE",
)


def node_id(prefix: str, *parts: object) -> str:
    """A stable, GitHub-looking global node id (``PR_kwDO…``-like) derived from its parts."""
    digest = hashlib.sha1("/".join(str(p) for p in parts).encode()).hexdigest()[:16]
    return f"{prefix}_{digest}"


def parse_time(value: str | None) -> datetime | None:
    if value is None:
        return None
    return datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(UTC)


def format_time(value: datetime | None) -> str | None:
    """GitHub's ISO 8601 form: ``2024-01-02T03:04:05Z`` (seconds precision, UTC)."""
    if value is None:
        return None
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class SimUser:
    login: str
    kind: str = "User"  # one of USER_KINDS
    company: str | None = None
    node_id: str = ""
    database_id: int = 0


@dataclass
class SimTimelineEntry:
    """One timeline item. ``actor`` is the login (None = deleted user, GitHub's "ghost").
    For reviews: ``review_state`` and ``submitted_at`` (None while PENDING)."""

    id: str
    type: str  # one of TIMELINE_TYPES
    actor: str | None
    created_at: datetime
    author_association: str | None = None  # comments and reviews only
    review_state: str | None = None
    submitted_at: datetime | None = None


@dataclass
class SimItem:
    """A pull request (``kind == "pull_request"``) or issue; numbers share one sequence per repo."""

    number: int
    kind: str
    author: str | None
    author_association: str
    created_at: datetime
    updated_at: datetime
    state: str = "OPEN"  # OPEN, CLOSED, MERGED (MERGED only for pull requests)
    closed_at: datetime | None = None
    merged_at: datetime | None = None
    merged_by: str | None = None
    is_draft: bool = False
    labels: list[str] = field(default_factory=list)
    timeline: list[SimTimelineEntry] = field(default_factory=list)
    node_id: str = ""
    database_id: int = 0


@dataclass
class SimRelease:
    tag_name: str
    created_at: datetime
    published_at: datetime | None
    is_prerelease: bool = False
    is_draft: bool = False
    author: str | None = None
    node_id: str = ""
    database_id: int = 0


@dataclass
class SimTag:
    name: str
    commit_oid: str
    tagged_at: datetime
    annotated: bool = False


@dataclass
class SimCommit:
    oid: str
    committed_date: datetime
    authored_date: datetime
    author_login: str | None
    author_name: str
    author_email: str


@dataclass
class SimRepository:
    owner: str
    name: str
    created_at: datetime
    pushed_at: datetime | None = None
    updated_at: datetime | None = None
    is_archived: bool = False
    is_fork: bool = False
    default_branch: str = "main"
    former_names: list[str] = field(default_factory=list)  # "owner/name" it was renamed from
    items: list[SimItem] = field(default_factory=list)  # sorted by number
    releases: list[SimRelease] = field(default_factory=list)
    tags: list[SimTag] = field(default_factory=list)
    commits: list[SimCommit] = field(default_factory=list)  # default branch, newest first
    node_id: str = ""
    database_id: int = 0

    @property
    def full_name(self) -> str:
        return f"{self.owner}/{self.name}"

    @property
    def is_empty(self) -> bool:
        return not self.commits

    def item(self, number: int) -> SimItem | None:
        # items are kept sorted by number; numbers are dense in generated data but need not be
        lo, hi = 0, len(self.items)
        while lo < hi:
            mid = (lo + hi) // 2
            if self.items[mid].number < number:
                lo = mid + 1
            else:
                hi = mid
        if lo < len(self.items) and self.items[lo].number == number:
            return self.items[lo]
        return None

    def next_number(self) -> int:
        return (self.items[-1].number + 1) if self.items else 1


class Dataset:
    """Everything the simulated GitHub knows. Thread-safe through ``lock``; ``version`` grows on
    every change (per repository too, in ``repo_versions``)."""

    def __init__(self, now: datetime, users: list[SimUser], repositories: list[SimRepository]):
        self.lock = threading.RLock()
        self.now = now  # the dataset's "present"; generated activity ends here
        self.users: dict[str, SimUser] = {}
        self.repositories: dict[str, SimRepository] = {}  # key: full_name.lower()
        self.version = 0
        self.repo_versions: dict[str, int] = {}
        for user in users:
            self.add_user(user)
        for repo in repositories:
            self.add_repository(repo)

    # --- lookup -----------------------------------------------------------------------------
    def repository(self, owner: str, name: str) -> SimRepository | None:
        return self.repositories.get(f"{owner}/{name}".lower())

    def renamed_repository(self, owner: str, name: str) -> SimRepository | None:
        """The repository now answering for a former ``owner/name`` (GitHub redirects these)."""
        wanted = f"{owner}/{name}".lower()
        for repo in self.repositories.values():
            if wanted in (n.lower() for n in repo.former_names):
                return repo
        return None

    def user(self, login: str) -> SimUser | None:
        return self.users.get(login.lower())

    def organizations(self) -> list[str]:
        return sorted({r.owner for r in self.repositories.values()}, key=str.lower)

    def org_repositories(self, org: str) -> list[SimRepository]:
        return sorted(
            (r for r in self.repositories.values() if r.owner.lower() == org.lower()),
            key=lambda r: r.name.lower(),
        )

    # --- mutation (each bumps versions) -----------------------------------------------------
    def _bump(self, repo: SimRepository | None = None) -> None:
        self.version += 1
        if repo is not None:
            key = repo.full_name.lower()
            self.repo_versions[key] = self.repo_versions.get(key, 0) + 1

    def add_user(self, user: SimUser) -> SimUser:
        with self.lock:
            if not user.node_id:
                user.node_id = node_id("U" if user.kind != "Bot" else "BOT", user.login)
            if not user.database_id:
                user.database_id = len(self.users) + 1000
            self.users[user.login.lower()] = user
            self._bump()
            return user

    def add_repository(self, repo: SimRepository) -> SimRepository:
        with self.lock:
            if not repo.node_id:
                repo.node_id = node_id("R", repo.full_name)
            if not repo.database_id:
                repo.database_id = len(self.repositories) + 100_000
            repo.items.sort(key=lambda i: i.number)
            for item in repo.items:
                self._fill_item_ids(repo, item)
            for release in repo.releases:
                if not release.node_id:
                    release.node_id = node_id("RE", repo.full_name, release.tag_name)
            self.repositories[repo.full_name.lower()] = repo
            self._bump(repo)
            return repo

    def _fill_item_ids(self, repo: SimRepository, item: SimItem) -> None:
        if not item.node_id:
            prefix = "PR" if item.kind == "pull_request" else "I"
            item.node_id = node_id(prefix, repo.full_name, item.number)
        if not item.database_id:
            item.database_id = repo.database_id * 1_000_000 + item.number

    def add_item(self, repo: SimRepository, item: SimItem) -> SimItem:
        with self.lock:
            if repo.items and item.number <= repo.items[-1].number:
                raise ValueError(f"item number {item.number} is not after {repo.items[-1].number}")
            self._fill_item_ids(repo, item)
            repo.items.append(item)
            repo.updated_at = max(filter(None, [repo.updated_at, item.updated_at]))
            self._bump(repo)
            return item

    def add_timeline_entry(
        self, repo: SimRepository, item: SimItem, entry: SimTimelineEntry
    ) -> None:
        """Append activity; like GitHub, the item's ``updated_at`` moves to the entry's time and
        closing, merging, reopening and ready-for-review change the item's state."""
        with self.lock:
            item.timeline.append(entry)
            item.timeline.sort(key=lambda e: e.created_at)
            at = entry.submitted_at or entry.created_at
            item.updated_at = max(item.updated_at, at)
            if entry.type == "ClosedEvent":
                item.state, item.closed_at = "CLOSED", entry.created_at
            elif entry.type == "MergedEvent":
                item.state, item.merged_at, item.merged_by = "MERGED", entry.created_at, entry.actor
                item.closed_at = entry.created_at
            elif entry.type == "ReopenedEvent":
                item.state, item.closed_at = "OPEN", None
            elif entry.type == "ReadyForReviewEvent":
                item.is_draft = False
            elif entry.type == "ConvertToDraftEvent":
                item.is_draft = True
            self._bump(repo)

    def add_release(self, repo: SimRepository, release: SimRelease) -> None:
        with self.lock:
            if not release.node_id:
                release.node_id = node_id("RE", repo.full_name, release.tag_name)
            repo.releases.append(release)
            self._bump(repo)

    def add_tag(self, repo: SimRepository, tag: SimTag) -> None:
        with self.lock:
            repo.tags.append(tag)
            repo.pushed_at = max(filter(None, [repo.pushed_at, tag.tagged_at]))
            self._bump(repo)

    def add_commit(self, repo: SimRepository, commit: SimCommit) -> None:
        with self.lock:
            repo.commits.insert(0, commit)
            repo.pushed_at = max(filter(None, [repo.pushed_at, commit.committed_date]))
            self._bump(repo)

    def rename_repository(self, repo: SimRepository, new_name: str) -> None:
        with self.lock:
            old_key = repo.full_name.lower()
            repo.former_names.append(repo.full_name)
            del self.repositories[old_key]
            repo.name = new_name
            self.repositories[repo.full_name.lower()] = repo
            self._bump(repo)

    def delete_repository(self, repo: SimRepository) -> None:
        with self.lock:
            del self.repositories[repo.full_name.lower()]
            self._bump()

    def archive_repository(self, repo: SimRepository) -> None:
        with self.lock:
            repo.is_archived = True
            self._bump(repo)

    # --- JSON -------------------------------------------------------------------------------
    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Dataset:
        if data.get("format") != FORMAT_VERSION:
            raise ValueError(f"dataset format must be {FORMAT_VERSION}, got {data.get('format')!r}")
        now = parse_time(data["now"])
        assert now is not None
        users = [SimUser(**u) for u in data.get("users", [])]
        repos = [_repo_from_json(r) for r in data.get("repositories", [])]
        return cls(now=now, users=users, repositories=repos)

    def to_json(self) -> dict[str, Any]:
        with self.lock:
            return {
                "format": FORMAT_VERSION,
                "now": format_time(self.now),
                "users": [vars(u).copy() for u in self.users.values()],
                "repositories": [_repo_to_json(r) for r in self.repositories.values()],
            }

    @classmethod
    def load(cls, path: str | Path) -> Dataset:
        with open(path, encoding="utf-8") as handle:
            return cls.from_json(json.load(handle))

    def save(self, path: str | Path) -> None:
        with open(path, "w", encoding="utf-8") as handle:
            json.dump(self.to_json(), handle, separators=(",", ":"))


_TIME_FIELDS = {
    "created_at", "updated_at", "closed_at", "merged_at", "published_at", "tagged_at",
    "committed_date", "authored_date", "submitted_at", "pushed_at",
}  # fmt: skip


def _times_in(raw: dict[str, Any]) -> dict[str, Any]:
    return {k: (parse_time(v) if k in _TIME_FIELDS else v) for k, v in raw.items()}


def _times_out(obj: object) -> dict[str, Any]:
    return {k: (format_time(v) if k in _TIME_FIELDS else v) for k, v in vars(obj).items()}


def _repo_from_json(raw: dict[str, Any]) -> SimRepository:
    fields = _times_in(
        {k: v for k, v in raw.items() if k not in ("items", "releases", "tags", "commits")}
    )
    items = []
    for item_raw in raw.get("items", []):
        item_fields = _times_in({k: v for k, v in item_raw.items() if k != "timeline"})
        timeline = [SimTimelineEntry(**_times_in(e)) for e in item_raw.get("timeline", [])]
        items.append(SimItem(**item_fields, timeline=timeline))
    return SimRepository(
        **fields,
        items=items,
        releases=[SimRelease(**_times_in(r)) for r in raw.get("releases", [])],
        tags=[SimTag(**_times_in(t)) for t in raw.get("tags", [])],
        commits=[SimCommit(**_times_in(c)) for c in raw.get("commits", [])],
    )


def _repo_to_json(repo: SimRepository) -> dict[str, Any]:
    out = _times_out(repo)
    out["items"] = []
    for item in repo.items:
        item_out = _times_out(item)
        item_out["timeline"] = [_times_out(e) for e in item.timeline]
        out["items"].append(item_out)
    out["releases"] = [_times_out(r) for r in repo.releases]
    out["tags"] = [_times_out(t) for t in repo.tags]
    out["commits"] = [_times_out(c) for c in repo.commits]
    return out
