"""The local store: everything learnt from GitHub, so that scrapes and restarts never call it.

``Store`` is the seam through which another backend could be added; ``SQLiteStore``
(``store/sqlite.py``) is the default. Every ``save_*`` call is one transaction that writes the
data *and* the stream state that says how far the sync got, so a sync killed at any moment
resumes from the last committed page without losing or duplicating anything.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, Protocol

from healthexporter.model import (
    ActorKind,
    Commit,
    Item,
    Release,
    Repository,
    SyncReport,
    Tag,
    User,
)


class Stream(StrEnum):
    """What the sync fetches per repository, each with its own progress."""

    PULL_REQUESTS = "pull_requests"
    ISSUES = "issues"
    RELEASES = "releases"
    TAGS = "tags"
    COMMITS = "commits"


class PassKind(StrEnum):
    BACKFILL = "backfill"  # first full pass over a stream
    RECONCILE = "reconcile"  # periodic full pass that also removes what GitHub no longer has


@dataclass(frozen=True, slots=True)
class StreamState:
    """How far the sync of one stream of one repository got.

    - ``watermark``: every change up to this time is stored; incremental polls fetch what was
      updated since (minus a small overlap for clock skew). None until the first pass completes.
    - ``pass_kind``/``pass_cursor``/``pass_high_water``: an unfinished full pass, its GitHub
      cursor after the last stored page, and the newest ``updatedAt`` seen when it started (the
      watermark it will leave behind). All None when no pass is under way.
    - ``generation``: incremented by every full pass; rows the pass does not see keep the older
      generation and are swept when it completes (deleted or transferred items).
    """

    repository: str
    stream: Stream
    watermark: datetime | None = None
    pass_kind: PassKind | None = None
    pass_cursor: str | None = None
    pass_high_water: datetime | None = None
    generation: int = 0
    last_full_pass_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class CachedResponse:
    """A conditional-request cache entry: the ETag and the JSON body it stood for."""

    url: str
    etag: str
    body: Any


class Store(Protocol):
    # --- repositories -----------------------------------------------------------------------
    def save_repository(self, project: str, repository: Repository) -> None:
        """Insert or update the metadata (keyed by ``full_name``, case-insensitively)."""
        ...

    def repositories(self) -> list[tuple[str, Repository]]:
        """(project, repository) for every stored repository, sorted by project and name."""
        ...

    # --- sync progress ----------------------------------------------------------------------
    def stream_state(self, repository: str, stream: Stream) -> StreamState:
        """The stored state, or a fresh ``StreamState`` (generation 0) when there is none."""
        ...

    def save_stream_state(self, state: StreamState) -> None: ...

    # --- data: each call is one transaction together with ``state`` -------------------------
    def save_items(self, items: Sequence[Item], state: StreamState) -> None:
        """Upsert items by (repository, number): every field is replaced by the new value,
        labels are replaced, activities are *merged* by id (new ones added, known ones updated,
        none removed). Items and activities written get ``state.generation``."""
        ...

    def save_activities(self, item: Item) -> None:
        """Merge ``item.activities`` into the stored item's and set its ``activity_cursor``
        (used when paging further through one item's timeline)."""
        ...

    def save_releases(self, releases: Sequence[Release], state: StreamState) -> None: ...

    def save_tags(self, tags: Sequence[Tag], state: StreamState) -> None: ...

    def save_commits(self, commits: Sequence[Commit], state: StreamState) -> None: ...

    def sweep(self, repository: str, stream: Stream, generation: int) -> int:
        """After a full pass of ``generation``: delete the stream's rows of older generations
        (for items, also older activities of items whose timeline was seen completely, i.e.
        whose ``activity_cursor`` is None). Returns how many rows were deleted."""
        ...

    def save_users(self, users: Sequence[User]) -> None: ...

    def logins_needing_profile(self, stale_before: datetime, limit: int) -> list[str]:
        """Logins of human actors (items, activities, commits) with no stored profile or one
        fetched before ``stale_before``, oldest first."""
        ...

    # --- reading (the health maths and the tests read through these) -----------------------
    def reading(self) -> AbstractContextManager[None]:
        """Several reads as one: inside, every read sees the store as it was at the first
        (a computation's reads of one repository must agree with each other)."""
        ...

    def item(self, repository: str, number: int) -> Item | None: ...

    def items(self, repository: str) -> list[Item]:
        """Every item of the repository with its activities (sorted by time), by number."""
        ...

    def items_since(self, repository: str, since: datetime) -> list[Item]:
        """Every open item and every item changed (updated, or with activity) at or after
        ``since``, with all its activities, by number."""
        ...

    def releases(self, repository: str) -> list[Release]: ...

    def tags(self, repository: str) -> list[Tag]: ...

    def commits(self, repository: str) -> list[Commit]: ...

    def commits_since(self, repository: str, since: datetime) -> list[Commit]: ...

    # --- contributions summed over everything stored (health/contributors.py has the
    # definition; an actor kind None is a commit author identity, not an account) ------------
    def contributions_since(
        self, repository: str, since: datetime, before: datetime
    ) -> list[tuple[str, ActorKind | None, str, datetime]]:
        """(login, actor kind, contribution kind, at) of every contribution at ``since <= at <
        before``, bots included, deleted accounts left out."""
        ...

    def contribution_totals(
        self, repository: str, before: datetime
    ) -> list[tuple[str, ActorKind | None, int, datetime]]:
        """(login, actor kind, contributions, first one's time) before ``before``; an actor may
        appear more than once (per kind of contribution)."""
        ...

    def earliest_contributions(self, repository: str) -> dict[str, datetime]:
        """Each lower-cased login's first item (created) or default-branch commit (committed)."""
        ...

    def users(self) -> dict[str, User]:
        """By lower-cased login."""
        ...

    # --- HTTP conditional-request cache ----------------------------------------------------
    def cached_response(self, url: str) -> CachedResponse | None: ...

    def save_cached_response(self, response: CachedResponse) -> None: ...

    # --- sync results ------------------------------------------------------------------------
    def save_sync_report(self, report: SyncReport, finished_at: datetime) -> None: ...

    def last_sync_reports(self) -> dict[str, tuple[SyncReport, datetime]]:
        """The newest report per repository, with when it finished."""
        ...

    def last_successful_sync(self, repository: str) -> datetime | None: ...

    # --- housekeeping -----------------------------------------------------------------------
    def dump(self) -> dict[str, list[tuple[Any, ...]]]:
        """The stored GitHub data (not sync bookkeeping such as ETags, states or reports) as
        sorted tuples per table: two stores with equal dumps know the same things."""
        ...

    def size_bytes(self) -> int: ...

    def close(self) -> None: ...
