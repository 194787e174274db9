"""The store's schema: its tables and indexes, as migrations applied in order.

A file written by an older healthexporter is brought up to date when it is opened; one written
by a newer one is refused rather than misread.
"""

from __future__ import annotations

import sqlite3

from healthexporter.errors import StoreError

# The schema, one step per version; ``PRAGMA user_version`` is the number of steps applied.
# Never edit a released step: append a new one. Steps are lists of statements (not scripts),
# because ``executescript`` would commit the migration's transaction half-way.
MIGRATIONS: list[list[str]] = [
    [
        """CREATE TABLE repositories (
            full_name TEXT NOT NULL COLLATE NOCASE PRIMARY KEY,
            project TEXT NOT NULL,
            node_id TEXT NOT NULL,
            default_branch TEXT,
            is_archived INTEGER NOT NULL,
            is_fork INTEGER NOT NULL,
            is_empty INTEGER NOT NULL,
            created_at TEXT NOT NULL,
            pushed_at TEXT
        )""",
        """CREATE TABLE items (
            repository TEXT NOT NULL COLLATE NOCASE,
            number INTEGER NOT NULL CHECK (number > 0),
            kind TEXT NOT NULL CHECK (kind IN ('pull_request', 'issue')),
            state TEXT NOT NULL,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL,
            closed_at TEXT,
            merged_at TEXT,
            is_draft INTEGER NOT NULL,
            author_login TEXT,
            author_kind TEXT NOT NULL,
            author_association TEXT NOT NULL,
            activity_cursor TEXT,
            generation INTEGER NOT NULL,
            PRIMARY KEY (repository, number)
        ) WITHOUT ROWID""",
        """CREATE TABLE item_labels (
            repository TEXT NOT NULL COLLATE NOCASE,
            number INTEGER NOT NULL,
            label TEXT NOT NULL,
            PRIMARY KEY (repository, number, label),
            FOREIGN KEY (repository, number) REFERENCES items (repository, number)
                ON DELETE CASCADE
        ) WITHOUT ROWID""",
        """CREATE TABLE activities (
            id TEXT NOT NULL PRIMARY KEY,
            repository TEXT NOT NULL COLLATE NOCASE,
            number INTEGER NOT NULL,
            kind TEXT NOT NULL,
            actor_login TEXT,
            actor_kind TEXT NOT NULL,
            at TEXT NOT NULL,
            association TEXT,
            review_state TEXT,
            generation INTEGER NOT NULL,
            FOREIGN KEY (repository, number) REFERENCES items (repository, number)
                ON DELETE CASCADE
        )""",
        "CREATE INDEX activities_by_item ON activities (repository, number, at, id)",
        """CREATE TABLE releases (
            repository TEXT NOT NULL COLLATE NOCASE,
            tag_name TEXT NOT NULL,
            created_at TEXT NOT NULL,
            published_at TEXT,
            is_prerelease INTEGER NOT NULL,
            is_draft INTEGER NOT NULL,
            generation INTEGER NOT NULL,
            PRIMARY KEY (repository, tag_name)
        ) WITHOUT ROWID""",
        """CREATE TABLE tags (
            repository TEXT NOT NULL COLLATE NOCASE,
            name TEXT NOT NULL,
            commit_oid TEXT NOT NULL,
            tagged_at TEXT NOT NULL,
            generation INTEGER NOT NULL,
            PRIMARY KEY (repository, name)
        ) WITHOUT ROWID""",
        """CREATE TABLE commits (
            repository TEXT NOT NULL COLLATE NOCASE,
            oid TEXT NOT NULL,
            committed_at TEXT NOT NULL,
            authored_at TEXT NOT NULL,
            author_login TEXT,
            author_identity TEXT NOT NULL,
            generation INTEGER NOT NULL,
            PRIMARY KEY (repository, oid)
        ) WITHOUT ROWID""",
        """CREATE TABLE users (
            login TEXT NOT NULL COLLATE NOCASE PRIMARY KEY,
            kind TEXT NOT NULL,
            company TEXT,
            fetched_at TEXT NOT NULL
        )""",
        """CREATE TABLE stream_states (
            repository TEXT NOT NULL COLLATE NOCASE,
            stream TEXT NOT NULL,
            watermark TEXT,
            pass_kind TEXT,
            pass_cursor TEXT,
            pass_high_water TEXT,
            generation INTEGER NOT NULL,
            last_full_pass_at TEXT,
            PRIMARY KEY (repository, stream)
        ) WITHOUT ROWID""",
        """CREATE TABLE http_cache (
            url TEXT NOT NULL PRIMARY KEY,
            etag TEXT NOT NULL,
            body TEXT NOT NULL
        )""",
        # Only the newest report per repository is kept (the table stays small however often
        # syncs run), plus when the newest successful one finished.
        """CREATE TABLE sync_reports (
            repository TEXT NOT NULL COLLATE NOCASE PRIMARY KEY,
            finished_at TEXT NOT NULL,
            report TEXT NOT NULL,
            last_success_at TEXT
        )""",
    ],
    # What a computation reads (the ``WINDOW_QUERIES``): the open items and what changed in
    # the longest window by index rather than by a scan of the whole history, and per-person
    # sums from covering indexes (``activities_by_actor`` holds the contributing activities
    # only: its WHERE is ``window._CONTRIBUTING``, which a query must repeat for SQLite to use it).
    [
        "CREATE INDEX items_by_state ON items (repository, state)",
        "CREATE INDEX items_by_update ON items (repository, updated_at)",
        "CREATE INDEX items_by_author ON items (repository, author_login, author_kind, created_at)",
        "CREATE INDEX activities_by_time ON activities (repository, at)",
        """CREATE INDEX activities_by_actor ON activities (repository, actor_login, actor_kind, at)
           WHERE actor_login IS NOT NULL
               AND (kind = 'comment' OR (kind = 'review' AND review_state IS NOT 'PENDING'))""",
        "CREATE INDEX commits_by_time ON commits (repository, committed_at)",
    ],
]
SCHEMA_VERSION = len(MIGRATIONS)


def migrate(connection: sqlite3.Connection, path: str) -> None:
    """Apply the migrations the file at ``path`` lacks, all in one transaction; raise
    ``StoreError`` if it was written by a newer healthexporter."""
    version = _version(connection)
    if version == SCHEMA_VERSION:
        # A read-only file opens and reads fine; find out now, not at the first page.
        connection.execute("BEGIN IMMEDIATE")
        try:
            connection.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
        finally:
            connection.execute("ROLLBACK")
        return
    if version > SCHEMA_VERSION:
        raise StoreError(
            f"{path}: store schema version {version} is newer than this healthexporter"
            f" understands ({SCHEMA_VERSION})"
        )
    connection.execute("BEGIN IMMEDIATE")
    try:
        version = _version(connection)  # another process may have migrated meanwhile
        if version > SCHEMA_VERSION:
            raise StoreError(
                f"{path}: store schema version {version} is newer than this"
                f" healthexporter understands ({SCHEMA_VERSION})"
            )
        for step in MIGRATIONS[version:]:
            for statement in step:
                connection.execute(statement)
        connection.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
        connection.execute("COMMIT")
    except BaseException:
        if connection.in_transaction:
            connection.execute("ROLLBACK")
        raise


def _version(connection: sqlite3.Connection) -> int:
    row = connection.execute("PRAGMA user_version").fetchone()
    return int(row[0])
