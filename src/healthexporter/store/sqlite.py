"""The SQLite store: the default ``Store``, one file on disk.

Why the standard library's ``sqlite3`` and no ORM: the store is a handful of tables whose hot
path is bulk upserts of a page of items with their activities. ``executemany`` of a prepared
``INSERT … ON CONFLICT DO UPDATE`` does that in a few milliseconds; an ORM would add object
tracking per row and hide the one thing that matters here, which statements run in which
transaction.

The parts: connections and transactions, and what they guarantee when a process dies or
threads share the store, in ``store/connections.py``; the schema in ``store/schema.py``; rows
as domain objects in ``store/rows.py``; the reads of a computation's window in
``store/window.py``. This module holds the rest of the ``Store``: the statements of each
``save_*`` and of the plain reads.
"""

from __future__ import annotations

import dataclasses
import json
import os
import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

from healthexporter.errors import StoreError
from healthexporter.model import (
    Activity,
    ActorKind,
    Commit,
    Item,
    ItemKind,
    Release,
    Repository,
    SyncReport,
    Tag,
    User,
)
from healthexporter.store import CachedResponse, PassKind, Stream, StreamState, window
from healthexporter.store.connections import Connections
from healthexporter.store.rows import (
    ACTOR_KINDS,
    commit_from_row,
    load_items,
    maybe_parse_time,
    maybe_time_text,
    parse_report,
    parse_time,
    time_text,
)

# Columns of the GitHub data in ``dump()``: everything but the sync bookkeeping (generations).
_DUMP_QUERIES = {
    "repositories": "SELECT full_name, project, node_id, default_branch, is_archived, is_fork,"
    " is_empty, created_at, pushed_at FROM repositories ORDER BY full_name",
    "items": "SELECT repository, number, kind, state, created_at, updated_at, closed_at,"
    " merged_at, is_draft, author_login, author_kind, author_association, activity_cursor"
    " FROM items ORDER BY repository, number",
    "item_labels": "SELECT repository, number, label FROM item_labels"
    " ORDER BY repository, number, label",
    "activities": "SELECT id, repository, number, kind, actor_login, actor_kind, at,"
    " association, review_state FROM activities ORDER BY id",
    "releases": "SELECT repository, tag_name, created_at, published_at, is_prerelease, is_draft"
    " FROM releases ORDER BY repository, tag_name",
    "tags": "SELECT repository, name, commit_oid, tagged_at FROM tags ORDER BY repository, name",
    "commits": "SELECT repository, oid, committed_at, authored_at, author_login,"
    " author_identity FROM commits ORDER BY repository, oid",
    # fetched_at is when *we* asked, not something GitHub knows: left out like generations
    "users": "SELECT login, kind, company FROM users ORDER BY login",
}

_ITEM_STREAMS = {Stream.PULL_REQUESTS: ItemKind.PULL_REQUEST, Stream.ISSUES: ItemKind.ISSUE}
_REF_TABLES = {Stream.RELEASES: "releases", Stream.TAGS: "tags", Stream.COMMITS: "commits"}


class SQLiteStore:
    """The ``Store`` in one SQLite file. Create it with ``SQLiteStore.open(path)``."""

    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        self._db = Connections(self.path)

    @classmethod
    def open(cls, path: str | Path) -> SQLiteStore:
        """Open (creating if needed) and migrate the store at ``path``; ``":memory:"`` is a
        private in-memory store. Raises ``StoreError`` naming the path and the cause when the
        file cannot be created or written, or was written by a newer healthexporter."""
        return cls(path)

    # --- transactions -----------------------------------------------------------------------
    def _connection(self) -> sqlite3.Connection:
        """This thread's connection (the only one for an in-memory store)."""
        return self._db.connection()

    @contextmanager
    def reading(self) -> Iterator[None]:
        """Several reads of this thread as one: all see the store as it was at the first,
        whatever a sync commits meanwhile (the next ``reading`` sees it). No writes inside."""
        with self._db.reading():
            yield

    # --- repositories -----------------------------------------------------------------------
    def save_repository(self, project: str, repository: Repository) -> None:
        with self._db.writing(f"repository {repository.full_name}") as connection:
            connection.execute(
                """INSERT INTO repositories (full_name, project, node_id, default_branch,
                       is_archived, is_fork, is_empty, created_at, pushed_at)
                   VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
                   ON CONFLICT (full_name) DO UPDATE SET
                       full_name = excluded.full_name, project = excluded.project,
                       node_id = excluded.node_id, default_branch = excluded.default_branch,
                       is_archived = excluded.is_archived, is_fork = excluded.is_fork,
                       is_empty = excluded.is_empty, created_at = excluded.created_at,
                       pushed_at = excluded.pushed_at""",
                (
                    repository.full_name,
                    project,
                    repository.node_id,
                    repository.default_branch,
                    repository.is_archived,
                    repository.is_fork,
                    repository.is_empty,
                    time_text(repository.created_at),
                    maybe_time_text(repository.pushed_at),
                ),
            )

    def repositories(self) -> list[tuple[str, Repository]]:
        with self._db.reading() as connection:
            rows = connection.execute(
                """SELECT project, full_name, node_id, default_branch, is_archived, is_fork,
                          is_empty, created_at, pushed_at
                   FROM repositories ORDER BY project, full_name"""
            ).fetchall()
        return [
            (
                project,
                Repository(
                    full_name=full_name,
                    node_id=node_id,
                    default_branch=default_branch,
                    is_archived=bool(is_archived),
                    is_fork=bool(is_fork),
                    is_empty=bool(is_empty),
                    created_at=parse_time(created_at),
                    pushed_at=maybe_parse_time(pushed_at),
                ),
            )
            for (project, full_name, node_id, default_branch, is_archived, is_fork, is_empty,
                 created_at, pushed_at) in rows
        ]  # fmt: skip

    # --- sync progress ----------------------------------------------------------------------
    def stream_state(self, repository: str, stream: Stream) -> StreamState:
        with self._db.reading() as connection:
            row = connection.execute(
                """SELECT repository, watermark, pass_kind, pass_cursor, pass_high_water,
                          generation, last_full_pass_at
                   FROM stream_states WHERE repository = ? AND stream = ?""",
                (repository, stream.value),
            ).fetchone()
        if row is None:
            return StreamState(repository=repository, stream=stream)
        stored_name, watermark, pass_kind, cursor, high_water, generation, last_full = row
        return StreamState(
            repository=stored_name,
            stream=stream,
            watermark=maybe_parse_time(watermark),
            pass_kind=None if pass_kind is None else PassKind(pass_kind),
            pass_cursor=cursor,
            pass_high_water=maybe_parse_time(high_water),
            generation=generation,
            last_full_pass_at=maybe_parse_time(last_full),
        )

    def save_stream_state(self, state: StreamState) -> None:
        with self._db.writing(f"{state.repository} {state.stream} state") as connection:
            _write_state(connection, state)

    # --- pull requests and issues -----------------------------------------------------------
    def save_items(self, items: Sequence[Item], state: StreamState) -> None:
        generation = state.generation
        with self._db.writing(f"{state.repository} {state.stream} page") as connection:
            connection.executemany(
                """INSERT INTO items (repository, number, kind, state, created_at, updated_at,
                       closed_at, merged_at, is_draft, author_login, author_kind,
                       author_association, activity_cursor, generation)
                   VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                   ON CONFLICT (repository, number) DO UPDATE SET
                       kind = excluded.kind, state = excluded.state,
                       created_at = excluded.created_at, updated_at = excluded.updated_at,
                       closed_at = excluded.closed_at, merged_at = excluded.merged_at,
                       is_draft = excluded.is_draft, author_login = excluded.author_login,
                       author_kind = excluded.author_kind,
                       author_association = excluded.author_association,
                       activity_cursor = excluded.activity_cursor,
                       generation = excluded.generation""",
                [
                    (
                        item.repository,
                        item.number,
                        item.kind.value,
                        item.state.value,
                        time_text(item.created_at),
                        time_text(item.updated_at),
                        maybe_time_text(item.closed_at),
                        maybe_time_text(item.merged_at),
                        item.is_draft,
                        item.author.login,
                        item.author.kind.value,
                        item.author_association,
                        item.activity_cursor,
                        generation,
                    )
                    for item in items
                ],
            )
            connection.executemany(
                "DELETE FROM item_labels WHERE repository = ? AND number = ?",
                [(item.repository, item.number) for item in items],
            )
            # An item twice in one page (GitHub's pages shift under edits): the last one's
            # labels, as for its other fields.
            last = {(item.repository.lower(), item.number): item for item in items}
            connection.executemany(
                "INSERT OR IGNORE INTO item_labels (repository, number, label) VALUES (?, ?, ?)",
                [(i.repository, i.number, label) for i in last.values() for label in i.labels],
            )
            _merge_activities(
                connection,
                [(item, activity) for item in items for activity in item.activities],
                generation,
            )
            _write_state(connection, state)

    def save_activities(self, item: Item) -> None:
        with self._db.writing(f"{item.ref} activities") as connection:
            row = connection.execute(
                "SELECT generation FROM items WHERE repository = ? AND number = ?",
                (item.repository, item.number),
            ).fetchone()
            if row is None:
                raise StoreError(f"cannot save activities of {item.ref}: the item is not stored")
            connection.execute(
                "UPDATE items SET activity_cursor = ? WHERE repository = ? AND number = ?",
                (item.activity_cursor, item.repository, item.number),
            )
            _merge_activities(connection, [(item, a) for a in item.activities], row[0])

    def item(self, repository: str, number: int) -> Item | None:
        with self._db.reading() as connection:
            found = load_items(connection, repository, "?2", [number])
        return found[0] if found else None

    def items(self, repository: str) -> list[Item]:
        with self._db.reading() as connection:
            return load_items(connection, repository)

    def items_since(self, repository: str, since: datetime) -> list[Item]:
        """Every open item, and every item changed at or after ``since``, with all its
        activities, by number.

        Changed means ``updated_at`` or a stored activity at or after ``since``. GitHub sends an
        item's ``createdAt``, ``closedAt`` and ``mergedAt`` in the object whose ``updatedAt``
        moved when they were set, so ``updated_at`` is never earlier than those. Activities are
        looked at themselves: a timeline page fetched after its item (``save_activities``) can
        hold activity newer than the stored ``updated_at``, until the next poll fetches the
        item again.
        """
        with self._db.reading() as connection:
            return window.items_since(connection, repository, since)

    # --- releases, tags, commits ------------------------------------------------------------
    def save_releases(self, releases: Sequence[Release], state: StreamState) -> None:
        with self._db.writing(f"{state.repository} releases page") as connection:
            connection.executemany(
                """INSERT INTO releases (repository, tag_name, created_at, published_at,
                       is_prerelease, is_draft, generation)
                   VALUES (?, ?, ?, ?, ?, ?, ?)
                   ON CONFLICT (repository, tag_name) DO UPDATE SET
                       created_at = excluded.created_at, published_at = excluded.published_at,
                       is_prerelease = excluded.is_prerelease, is_draft = excluded.is_draft,
                       generation = excluded.generation""",
                [
                    (
                        release.repository,
                        release.tag_name,
                        time_text(release.created_at),
                        maybe_time_text(release.published_at),
                        release.is_prerelease,
                        release.is_draft,
                        state.generation,
                    )
                    for release in releases
                ],
            )
            _write_state(connection, state)

    def save_tags(self, tags: Sequence[Tag], state: StreamState) -> None:
        with self._db.writing(f"{state.repository} tags page") as connection:
            connection.executemany(
                """INSERT INTO tags (repository, name, commit_oid, tagged_at, generation)
                   VALUES (?, ?, ?, ?, ?)
                   ON CONFLICT (repository, name) DO UPDATE SET
                       commit_oid = excluded.commit_oid, tagged_at = excluded.tagged_at,
                       generation = excluded.generation""",
                [
                    (
                        tag.repository,
                        tag.name,
                        tag.commit_oid,
                        time_text(tag.tagged_at),
                        state.generation,
                    )
                    for tag in tags
                ],
            )
            _write_state(connection, state)

    def save_commits(self, commits: Sequence[Commit], state: StreamState) -> None:
        with self._db.writing(f"{state.repository} commits page") as connection:
            connection.executemany(
                """INSERT INTO commits (repository, oid, committed_at, authored_at,
                       author_login, author_identity, generation)
                   VALUES (?, ?, ?, ?, ?, ?, ?)
                   ON CONFLICT (repository, oid) DO UPDATE SET
                       committed_at = excluded.committed_at, authored_at = excluded.authored_at,
                       author_login = excluded.author_login,
                       author_identity = excluded.author_identity,
                       generation = excluded.generation""",
                [
                    (
                        commit.repository,
                        commit.oid,
                        time_text(commit.committed_at),
                        time_text(commit.authored_at),
                        commit.author_login,
                        commit.author_identity,
                        state.generation,
                    )
                    for commit in commits
                ],
            )
            _write_state(connection, state)

    def releases(self, repository: str) -> list[Release]:
        """Oldest first (by creation, then tag name)."""
        with self._db.reading() as connection:
            rows = connection.execute(
                """SELECT repository, tag_name, created_at, published_at, is_prerelease, is_draft
                   FROM releases WHERE repository = ? ORDER BY created_at, tag_name""",
                (repository,),
            ).fetchall()
        return [
            Release(name, tag, parse_time(created), maybe_parse_time(published),
                    bool(prerelease), bool(draft))
            for name, tag, created, published, prerelease, draft in rows
        ]  # fmt: skip

    def tags(self, repository: str) -> list[Tag]:
        """Oldest first (by tag date, then name)."""
        with self._db.reading() as connection:
            rows = connection.execute(
                """SELECT repository, name, commit_oid, tagged_at FROM tags
                   WHERE repository = ? ORDER BY tagged_at, name""",
                (repository,),
            ).fetchall()
        return [Tag(repo, name, oid, parse_time(at)) for repo, name, oid, at in rows]

    def commits(self, repository: str) -> list[Commit]:
        """Oldest first (by commit date, then oid)."""
        with self._db.reading() as connection:
            rows = connection.execute(
                """SELECT repository, oid, committed_at, authored_at, author_login,
                          author_identity
                   FROM commits WHERE repository = ? ORDER BY committed_at, oid""",
                (repository,),
            ).fetchall()
        return [commit_from_row(row) for row in rows]

    def commits_since(self, repository: str, since: datetime) -> list[Commit]:
        """Commits committed at or after ``since``, oldest first (by commit date, then oid)."""
        with self._db.reading() as connection:
            return window.commits_since(connection, repository, since)

    # --- contributions, for the numbers that look back past what a computation loads -------
    def contributions_since(
        self, repository: str, since: datetime, before: datetime
    ) -> list[tuple[str, ActorKind | None, str, datetime]]:
        """Every contribution at ``since <= at < before``, as (login, actor kind, contribution
        kind, at), in no particular order: items by their author at ``created_at``, comments
        and submitted reviews by their actor, default-branch commits by their author at
        ``authored_at``. A commit GitHub did not link to an account has actor kind None and its
        ``author_identity`` for a login. Deleted accounts (no login) are left out; bots are
        not (the maths tells them apart). ``health.contributors`` has the definition."""
        with self._db.reading() as connection:
            return window.contributions_since(connection, repository, since, before)

    def contribution_totals(
        self, repository: str, before: datetime
    ) -> list[tuple[str, ActorKind | None, int, datetime]]:
        """Per actor (as in ``contributions_since``, which has the definition): how many
        contributions before ``before``, and when the first was. An actor may appear once per
        kind of contribution; the sums and the earliest are theirs."""
        with self._db.reading() as connection:
            return window.contribution_totals(connection, repository, before)

    def earliest_contributions(self, repository: str) -> dict[str, datetime]:
        """Each lower-cased login's first item (by ``created_at``) or default-branch commit (by
        ``committed_at``), whenever it was: the first-timer rule's look at stored history."""
        with self._db.reading() as connection:
            return window.earliest_contributions(connection, repository)

    def sweep(self, repository: str, stream: Stream, generation: int) -> int:
        with self._db.writing(f"{repository} {stream} sweep") as connection:
            kind = _ITEM_STREAMS.get(stream)
            if kind is None:
                return connection.execute(
                    f"DELETE FROM {_REF_TABLES[stream]} WHERE repository = ? AND generation < ?",
                    (repository, generation),
                ).rowcount
            # Items the pass did not see (deleted or transferred), with their activities.
            gone = """SELECT repository, number FROM items
                      WHERE repository = ? AND kind = ? AND generation < ?"""
            deleted = connection.execute(
                f"DELETE FROM activities WHERE (repository, number) IN ({gone})",
                (repository, kind.value, generation),
            ).rowcount
            deleted += connection.execute(
                "DELETE FROM items WHERE repository = ? AND kind = ? AND generation < ?",
                (repository, kind.value, generation),
            ).rowcount
            # Activities no longer on a timeline the pass saw completely (deleted comments).
            deleted += connection.execute(
                """DELETE FROM activities WHERE generation < ? AND (repository, number) IN (
                       SELECT repository, number FROM items
                       WHERE repository = ? AND kind = ? AND generation = ?
                           AND activity_cursor IS NULL)""",
                (generation, repository, kind.value, generation),
            ).rowcount
            return deleted

    # --- users ------------------------------------------------------------------------------
    def save_users(self, users: Sequence[User]) -> None:
        with self._db.writing("user profiles") as connection:
            connection.executemany(
                """INSERT INTO users (login, kind, company, fetched_at) VALUES (?, ?, ?, ?)
                   ON CONFLICT (login) DO UPDATE SET
                       login = excluded.login, kind = excluded.kind,
                       company = excluded.company, fetched_at = excluded.fetched_at""",
                [(u.login, u.kind.value, u.company, time_text(u.fetched_at)) for u in users],
            )

    def users(self) -> dict[str, User]:
        with self._db.reading() as connection:
            rows = connection.execute("SELECT login, kind, company, fetched_at FROM users")
            return {
                login.lower(): User(login, ACTOR_KINDS[kind], company, parse_time(fetched))
                for login, kind, company, fetched in rows
            }

    def logins_needing_profile(self, stale_before: datetime, limit: int) -> list[str]:
        """Logins of ``User`` actors (item authors, activity actors, linked commit authors)
        with no profile, then those with the oldest profiles fetched before ``stale_before``;
        ties by login. Logins differing only in case count once."""
        with self._db.reading() as connection:
            rows = connection.execute(
                """WITH actors (login) AS (
                       SELECT author_login FROM items
                           WHERE author_kind = 'User' AND author_login IS NOT NULL
                       UNION SELECT actor_login FROM activities
                           WHERE actor_kind = 'User' AND actor_login IS NOT NULL
                       UNION SELECT author_login FROM commits WHERE author_login IS NOT NULL
                   )
                   SELECT MIN(actors.login), users.fetched_at
                   FROM actors LEFT JOIN users ON users.login = actors.login COLLATE NOCASE
                   WHERE users.login IS NULL OR users.fetched_at < ?
                   GROUP BY lower(actors.login)
                   ORDER BY users.fetched_at IS NOT NULL, users.fetched_at, lower(actors.login)
                   LIMIT ?""",
                (time_text(stale_before), limit),
            ).fetchall()
        return [login for login, _ in rows]

    # --- HTTP conditional-request cache ----------------------------------------------------
    def cached_response(self, url: str) -> CachedResponse | None:
        with self._db.reading() as connection:
            row = connection.execute(
                "SELECT etag, body FROM http_cache WHERE url = ?", (url,)
            ).fetchone()
        return None if row is None else CachedResponse(url, row[0], json.loads(row[1]))

    def save_cached_response(self, response: CachedResponse) -> None:
        body = json.dumps(response.body, separators=(",", ":"), ensure_ascii=False)
        with self._db.writing(f"cached response of {response.url}") as connection:
            connection.execute(
                """INSERT INTO http_cache (url, etag, body) VALUES (?, ?, ?)
                   ON CONFLICT (url) DO UPDATE SET etag = excluded.etag, body = excluded.body""",
                (response.url, response.etag, body),
            )

    # --- sync results ------------------------------------------------------------------------
    def save_sync_report(self, report: SyncReport, finished_at: datetime) -> None:
        """Keeps the report if it is the repository's newest (reports of concurrent or
        clock-skewed runs never replace a newer one)."""
        text = json.dumps(dataclasses.asdict(report), ensure_ascii=False)
        finished = time_text(finished_at)
        with self._db.writing(f"{report.repository} sync report") as connection:
            connection.execute(
                """INSERT INTO sync_reports (repository, finished_at, report, last_success_at)
                   VALUES (?1, ?2, ?3, CASE WHEN ?4 THEN ?2 END)
                   ON CONFLICT (repository) DO UPDATE SET
                       finished_at = max(finished_at, excluded.finished_at),
                       report = CASE WHEN excluded.finished_at >= finished_at
                                THEN excluded.report ELSE report END,
                       last_success_at = CASE WHEN ?4 AND (last_success_at IS NULL
                                                  OR excluded.finished_at > last_success_at)
                                         THEN excluded.finished_at
                                         ELSE last_success_at END""",
                (report.repository, finished, text, report.ok),
            )

    def last_sync_reports(self) -> dict[str, tuple[SyncReport, datetime]]:
        with self._db.reading() as connection:
            rows = connection.execute(
                "SELECT repository, report, finished_at FROM sync_reports"
            ).fetchall()
        return {name: (parse_report(text), parse_time(finished)) for name, text, finished in rows}

    def last_successful_sync(self, repository: str) -> datetime | None:
        with self._db.reading() as connection:
            row = connection.execute(
                "SELECT last_success_at FROM sync_reports WHERE repository = ?", (repository,)
            ).fetchone()
        return None if row is None else maybe_parse_time(row[0])

    # --- housekeeping -----------------------------------------------------------------------
    def dump(self) -> dict[str, list[tuple[Any, ...]]]:
        """Every table of GitHub data as rows ordered by key, without generations: two stores
        that learnt the same things through different pass histories dump equal."""
        with self._db.reading() as connection:
            return {
                table: [tuple(row) for row in connection.execute(query)]
                for table, query in _DUMP_QUERIES.items()
            }

    def integrity_check(self) -> list[str]:
        """SQLite's ``PRAGMA integrity_check`` and ``foreign_key_check``: ``["ok"]`` when the
        file is sound."""
        with self._db.reading() as connection:
            problems = [str(row[0]) for row in connection.execute("PRAGMA integrity_check")]
            problems += [
                f"foreign key: {row!r}" for row in connection.execute("PRAGMA foreign_key_check")
            ]
        return problems

    def size_bytes(self) -> int:
        """The database file plus its write-ahead log."""
        if self._db.memory:
            with self._db.reading() as connection:
                pages = connection.execute("PRAGMA page_count").fetchone()[0]
                page_size = connection.execute("PRAGMA page_size").fetchone()[0]
            return int(pages) * int(page_size)
        return sum(
            os.path.getsize(name)
            for name in (self.path, self.path + "-wal")
            if os.path.exists(name)
        )

    def close(self) -> None:
        """Close every thread's connection. Idempotent."""
        self._db.close()


def _write_state(connection: sqlite3.Connection, state: StreamState) -> None:
    connection.execute(
        """INSERT INTO stream_states (repository, stream, watermark, pass_kind, pass_cursor,
               pass_high_water, generation, last_full_pass_at)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?)
           ON CONFLICT (repository, stream) DO UPDATE SET
               watermark = excluded.watermark, pass_kind = excluded.pass_kind,
               pass_cursor = excluded.pass_cursor, pass_high_water = excluded.pass_high_water,
               generation = excluded.generation,
               last_full_pass_at = excluded.last_full_pass_at""",
        (
            state.repository,
            state.stream.value,
            maybe_time_text(state.watermark),
            None if state.pass_kind is None else state.pass_kind.value,
            state.pass_cursor,
            maybe_time_text(state.pass_high_water),
            state.generation,
            maybe_time_text(state.last_full_pass_at),
        ),
    )


def _merge_activities(
    connection: sqlite3.Connection, activities: list[tuple[Item, Activity]], generation: int
) -> None:
    """Add new activities and update known ones (by id); none are removed."""
    connection.executemany(
        """INSERT INTO activities (id, repository, number, kind, actor_login, actor_kind, at,
               association, review_state, generation)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
           ON CONFLICT (id) DO UPDATE SET
               repository = excluded.repository, number = excluded.number,
               kind = excluded.kind, actor_login = excluded.actor_login,
               actor_kind = excluded.actor_kind, at = excluded.at,
               association = excluded.association, review_state = excluded.review_state,
               generation = excluded.generation""",
        [
            (
                activity.id,
                item.repository,
                item.number,
                activity.kind.value,
                activity.actor.login,
                activity.actor.kind.value,
                time_text(activity.at),
                activity.association,
                activity.review_state,
                generation,
            )
            for item, activity in activities
        ],
    )
