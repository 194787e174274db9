"""Rows of the store as domain objects, and domain values as the store's columns.

Times are stored as ISO-8601 UTC text with microseconds (``2026-01-05T09:00:00.000001+00:00``):
fixed width, so SQL comparisons and ``ORDER BY`` are chronological, readable in the ``sqlite3``
shell, and read back as the same timezone-aware datetimes.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import sqlite3
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, overload

from healthexporter.model import (
    Activity,
    ActivityKind,
    Actor,
    ActorKind,
    Commit,
    Item,
    ItemKind,
    ItemState,
    SyncReport,
)

_ACTIVITY_KINDS = {kind.value: kind for kind in ActivityKind}
CONTRIBUTION_KINDS = {
    kind: kind for kind in ("pull_request", "issue", "commit", "review", "comment")
}
ACTOR_KINDS = {kind.value: kind for kind in ActorKind}
_ITEM_KINDS = {kind.value: kind for kind in ItemKind}
_ITEM_STATES = {state.value: state for state in ItemState}


def time_text(value: datetime) -> str:
    """The stored text of a timezone-aware time (naive ones are refused: whose clock?)."""
    if value.tzinfo is None:
        raise ValueError(f"naive datetime {value!r}: the store keeps timezone-aware UTC times")
    if value.tzinfo is not UTC:
        value = value.astimezone(UTC)
    return value.isoformat(timespec="microseconds")


def maybe_time_text(value: datetime | None) -> str | None:
    return None if value is None else time_text(value)


def parse_time(text: str) -> datetime:
    return datetime.fromisoformat(text)


def maybe_parse_time(text: str | None) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text)


def maybe_actor_kind(text: str | None) -> ActorKind | None:
    """An actor kind; None for a commit author identity that is no account."""
    return None if text is None else ACTOR_KINDS[text]


def load_items(
    connection: sqlite3.Connection,
    repository: str,
    numbers: str | None = None,
    numbers_params: Sequence[object] = (),
) -> list[Item]:
    """The repository's items — those whose number ``numbers`` selects (SQL; its parameters
    are numbered from ?2, after the repository's ?1), or all — with labels and activities: one
    query per table, assembled here (not a query per item: a large repository has 100,000+
    items). The loops are written for speed (local names, one ``Actor`` per distinct actor):
    kubernetes has 600,000 activities."""
    where = "repository = ?1" if numbers is None else f"repository = ?1 AND number IN ({numbers})"
    params: list[object] = [repository, *numbers_params]
    parse_time = datetime.fromisoformat
    actors: dict[tuple[str | None, str], Actor] = {}
    actor_kinds, activity_kinds = ACTOR_KINDS, _ACTIVITY_KINDS
    share = Shared()  # associations, review states: a handful of values, each read per row

    labels: dict[int, tuple[str, ...]] = {}
    rows = connection.execute(
        f"SELECT number, label FROM item_labels WHERE {where} ORDER BY number, label", params
    )
    for item_number, group in itertools.groupby(rows, key=_first):
        labels[item_number] = tuple(label for _, label in group)

    activities: dict[int, tuple[Activity, ...]] = {}
    rows = connection.execute(
        f"""SELECT number, id, kind, actor_login, actor_kind, at, association, review_state
            FROM activities WHERE {where} ORDER BY number, at, id""",
        params,
    )
    for item_number, group in itertools.groupby(rows, key=_first):
        timeline = []
        for _, id_, kind, login, actor_kind, at, association, review_state in group:
            actor = actors.get((login, actor_kind))
            if actor is None:
                actor = actors[(login, actor_kind)] = Actor(login, actor_kinds[actor_kind])
            timeline.append(
                Activity(
                    id_,
                    activity_kinds[kind],
                    actor,
                    parse_time(at),
                    share(association),
                    share(review_state),
                )
            )
        activities[item_number] = tuple(timeline)

    items = []
    rows = connection.execute(
        f"""SELECT repository, number, kind, state, created_at, updated_at, closed_at,
                   merged_at, is_draft, author_login, author_kind, author_association,
                   activity_cursor
            FROM items WHERE {where} ORDER BY number""",
        params,
    )
    for (name, item_number, kind, state, created, updated, closed, merged, draft,
         author_login, author_kind, association, cursor) in rows:  # fmt: skip
        author = actors.get((author_login, author_kind))
        if author is None:
            author = actors[(author_login, author_kind)] = Actor(
                author_login, actor_kinds[author_kind]
            )
        items.append(
            Item(
                repository=name,
                number=item_number,
                kind=_ITEM_KINDS[kind],
                state=_ITEM_STATES[state],
                created_at=parse_time(created),
                updated_at=parse_time(updated),
                author=author,
                author_association=share(association),
                closed_at=None if closed is None else parse_time(closed),
                merged_at=None if merged is None else parse_time(merged),
                is_draft=bool(draft),
                labels=labels.get(item_number, ()),
                activities=activities.get(item_number, ()),
                activity_cursor=cursor,
            )
        )
    return items


def _first(row: tuple[Any, ...]) -> Any:
    return row[0]


class Shared:
    """One object per distinct text read: SQLite gives each row its own copy, and values
    repeated over many rows (logins, associations) would otherwise be held once per row."""

    def __init__(self) -> None:
        self._seen: dict[str | None, str | None] = {}

    @overload
    def __call__(self, text: str) -> str: ...
    @overload
    def __call__(self, text: None) -> None: ...
    @overload
    def __call__(self, text: str | None) -> str | None: ...
    def __call__(self, text: str | None) -> str | None:
        return self._seen.setdefault(text, text)


def parse_report(text: str) -> SyncReport:
    """A stored report; fields an older or newer healthexporter wrote that this one lacks are
    dropped."""
    data = json.loads(text)
    known = {f.name for f in dataclasses.fields(SyncReport)}
    fields = {key: value for key, value in data.items() if key in known}
    fields["errors"] = tuple(fields.get("errors", ()))
    return SyncReport(**fields)


def commit_from_row(row: tuple[Any, ...]) -> Commit:
    """A commit from (repository, oid, committed_at, authored_at, author_login,
    author_identity)."""
    repository, oid, committed, authored, login, identity = row
    return Commit(repository, oid, parse_time(committed), parse_time(authored), login, identity)
