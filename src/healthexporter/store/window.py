"""What a computation reads of a repository: the items and commits of its window, and the
contributions it sums over all the stored history.

Each read is one query that SQLite answers by index search, not a scan of the whole history
(tests/test_store_window.py checks the plans); the indexes are the schema's second migration.
The functions take the connection of a read transaction that ``SQLiteStore`` has begun.
"""

from __future__ import annotations

import sqlite3
from datetime import datetime

from healthexporter.model import ActorKind, Commit, Item
from healthexporter.store.rows import (
    CONTRIBUTION_KINDS,
    Shared,
    commit_from_row,
    load_items,
    maybe_actor_kind,
    parse_time,
    time_text,
)

# Activities that are contributions (``health.contributors``): comments, and reviews submitted.
_CONTRIBUTING = (
    "actor_login IS NOT NULL"
    " AND (kind = 'comment' OR (kind = 'review' AND review_state IS NOT 'PENDING'))"
)
# A commit's author: the linked account (a user, as far as GitHub says), else the identity.
_COMMIT_AUTHOR = (
    "coalesce(author_login, author_identity), CASE WHEN author_login IS NOT NULL THEN 'User' END"
)

# What a computation reads of a repository (the functions below), each an index search
# (tests/test_store_window.py checks the plans). ?1 is the repository.
WINDOW_QUERIES = {
    # the numbers of the items open, or changed at or after ?2
    "changed_items": """SELECT number FROM items WHERE repository = ?1 AND state = 'OPEN'
        UNION SELECT number FROM items WHERE repository = ?1 AND updated_at >= ?2
        UNION SELECT number FROM activities WHERE repository = ?1 AND at >= ?2""",
    "commits_since": """SELECT repository, oid, committed_at, authored_at, author_login,
            author_identity
        FROM commits WHERE repository = ?1 AND committed_at >= ?2
        ORDER BY committed_at, oid""",
    # contributions at ?2 <= at < ?3 (an item's created_at is never after its updated_at)
    "contributions_since": f"""SELECT author_login, author_kind, kind, created_at FROM items
        WHERE repository = ?1 AND updated_at >= ?2 AND author_login IS NOT NULL
            AND created_at >= ?2 AND created_at < ?3
        UNION ALL
        SELECT actor_login, actor_kind, kind, at FROM activities
        WHERE repository = ?1 AND at >= ?2 AND at < ?3 AND {_CONTRIBUTING}
        UNION ALL
        SELECT {_COMMIT_AUTHOR}, 'commit', authored_at FROM commits
        WHERE repository = ?1 AND authored_at >= ?2 AND authored_at < ?3""",
    # per actor: contributions before ?2, and the first one's time ("+at": by actor, not time)
    "contribution_totals": f"""SELECT author_login, author_kind, count(*), min(created_at)
        FROM items WHERE repository = ?1 AND author_login IS NOT NULL AND created_at < ?2
        GROUP BY author_login, author_kind
        UNION ALL
        SELECT actor_login, actor_kind, count(*), min(at) FROM activities
        WHERE repository = ?1 AND +at < ?2 AND {_CONTRIBUTING}
        GROUP BY actor_login, actor_kind
        UNION ALL
        SELECT {_COMMIT_AUTHOR}, count(*), min(authored_at) FROM commits
        WHERE repository = ?1 AND authored_at < ?2
        GROUP BY author_login, author_identity""",
    # per login: the first item (created) or default-branch commit (committed)
    "earliest_contributions": """SELECT author_login, min(created_at) FROM items
        WHERE repository = ?1 AND author_login IS NOT NULL GROUP BY author_login
        UNION ALL
        SELECT author_login, min(committed_at) FROM commits
        WHERE repository = ?1 AND author_login IS NOT NULL GROUP BY author_login""",
}


def items_since(connection: sqlite3.Connection, repository: str, since: datetime) -> list[Item]:
    """The open items and those changed at or after ``since`` (``SQLiteStore.items_since``)."""
    changed = WINDOW_QUERIES["changed_items"]
    return load_items(connection, repository, changed, [time_text(since)])


def commits_since(connection: sqlite3.Connection, repository: str, since: datetime) -> list[Commit]:
    """Commits committed at or after ``since``, oldest first."""
    rows = connection.execute(
        WINDOW_QUERIES["commits_since"], (repository, time_text(since))
    ).fetchall()
    return [commit_from_row(row) for row in rows]


def contributions_since(
    connection: sqlite3.Connection, repository: str, since: datetime, before: datetime
) -> list[tuple[str, ActorKind | None, str, datetime]]:
    """(login, actor kind, contribution kind, at) at ``since <= at < before``
    (``SQLiteStore.contributions_since``)."""
    rows = connection.execute(
        WINDOW_QUERIES["contributions_since"],
        (repository, time_text(since), time_text(before)),
    ).fetchall()
    share = Shared()  # one string per login: the rows outlive the read (by repository)
    return [
        (share(login), maybe_actor_kind(kind), CONTRIBUTION_KINDS[contribution], parse_time(at))
        for login, kind, contribution, at in rows
    ]


def contribution_totals(
    connection: sqlite3.Connection, repository: str, before: datetime
) -> list[tuple[str, ActorKind | None, int, datetime]]:
    """(login, actor kind, count, first) before ``before`` (``SQLiteStore.contribution_totals``)."""
    rows = connection.execute(
        WINDOW_QUERIES["contribution_totals"], (repository, time_text(before))
    ).fetchall()
    share = Shared()
    return [
        (share(login), maybe_actor_kind(kind), count, parse_time(first))
        for login, kind, count, first in rows
    ]


def earliest_contributions(connection: sqlite3.Connection, repository: str) -> dict[str, datetime]:
    """Each lower-cased login's first item or default-branch commit."""
    rows = connection.execute(WINDOW_QUERIES["earliest_contributions"], (repository,)).fetchall()
    earliest: dict[str, datetime] = {}
    for login, first in rows:
        key, at = login.lower(), parse_time(first)
        earliest[key] = min(at, earliest.get(key, at))
    return earliest
