"""The SQLite store against real files: round trips, upserts, sweeps, atomicity, threads, errors."""

from __future__ import annotations

import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from healthexporter.errors import StoreError
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
    SyncReport,
    Tag,
    User,
)
from healthexporter.store import CachedResponse, PassKind, Store, Stream, StreamState
from healthexporter.store.schema import SCHEMA_VERSION
from healthexporter.store.sqlite import SQLiteStore

T0 = datetime(2026, 1, 5, 9, 0, 0, 123456, tzinfo=UTC)
REPO = "kube-rs/kube"
ALICE = Actor("alice", ActorKind.USER)
BOB = Actor("Bob", ActorKind.USER)
JOSE = Actor("josé-ñúñez", ActorKind.USER)
DEPENDABOT = Actor("dependabot[bot]", ActorKind.BOT)
GHOST = Actor.deleted()
MANNEQUIN = Actor("imported-42", ActorKind.MANNEQUIN)

PRS = StreamState(REPO, Stream.PULL_REQUESTS, generation=1, pass_kind=PassKind.BACKFILL)
ISSUES = StreamState(REPO, Stream.ISSUES, generation=1, pass_kind=PassKind.BACKFILL)


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def act(
    id_: str,
    minutes: float,
    actor: Actor = BOB,
    kind: ActivityKind = ActivityKind.COMMENT,
    association: str | None = "MEMBER",
    review_state: str | None = None,
) -> Activity:
    return Activity(id_, kind, actor, at(minutes), association, review_state)


def item(number: int, *activities: Activity, **fields: object) -> Item:
    values: dict[str, object] = {
        "repository": REPO,
        "number": number,
        "kind": ItemKind.PULL_REQUEST,
        "state": ItemState.OPEN,
        "created_at": at(0),
        "updated_at": at(60),
        "author": ALICE,
        "author_association": "CONTRIBUTOR",
        "activities": activities,
    }
    values.update(fields)
    return Item(**values)  # type: ignore[arg-type]


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "store.db"


@pytest.fixture
def store(path: Path) -> Iterator[SQLiteStore]:
    opened = SQLiteStore.open(path)
    yield opened
    opened.close()


def test_implements_the_protocol(store: SQLiteStore) -> None:
    as_protocol: Store = store
    assert as_protocol is store


# --- round trips ---------------------------------------------------------------------------
ROUND_TRIP_ITEMS = [
    item(
        1,
        act("C1", 5, BOB, association="MEMBER"),
        act("R1", 7, JOSE, ActivityKind.REVIEW, "CONTRIBUTOR", "APPROVED"),
        act("R2", 8, JOSE, ActivityKind.REVIEW, "CONTRIBUTOR", "PENDING"),
        act("E1", 9, GHOST, ActivityKind.READY_FOR_REVIEW, None),
        act("E2", 10, DEPENDABOT, ActivityKind.CONVERT_TO_DRAFT, None),
        act("M1", 11, BOB, ActivityKind.MERGED, None),
        act("X1", 11, BOB, ActivityKind.CLOSED, None),  # same time: ordered by id
        state=ItemState.MERGED,
        closed_at=at(11),
        merged_at=at(11),
        labels=("kind/bug", "área: ñ", 'say "hi"', "two\nlines", "it's"),
        author=JOSE,
        author_association="FIRST_TIME_CONTRIBUTOR",
    ),
    item(2, author=GHOST, author_association="NONE", is_draft=True),
    item(
        3,
        act("C3", 1, MANNEQUIN, association="NONE"),
        author=DEPENDABOT,
        activity_cursor="Y3Vyc29yOjE=",
    ),
    item(
        4,
        act("C4", 0.000001 / 60, ALICE),
        kind=ItemKind.ISSUE,
        state=ItemState.CLOSED,
        closed_at=datetime(2026, 2, 1, 0, 0, 0, 1, tzinfo=UTC),
        updated_at=datetime(2026, 2, 1, 0, 0, 0, 999999, tzinfo=UTC),
    ),
    item(
        5,
        act("A5", 3, Actor("Organization-x", ActorKind.ORGANIZATION)),
        act("B5", 3, Actor("ent", ActorKind.ENTERPRISE_USER_ACCOUNT), kind=ActivityKind.REOPENED),
    ),
]


def normalized(saved: Item) -> Item:
    """What the store gives back: activities by (time, id), labels sorted."""
    return replace(
        saved,
        labels=tuple(sorted(saved.labels)),
        activities=tuple(sorted(saved.activities, key=lambda a: (a.at, a.id))),
    )


def test_items_round_trip(store: SQLiteStore) -> None:
    shuffled = [replace(i, activities=tuple(reversed(i.activities))) for i in ROUND_TRIP_ITEMS]
    store.save_items(shuffled[::-1], PRS)
    assert store.items(REPO) == [normalized(i) for i in ROUND_TRIP_ITEMS]
    assert store.item(REPO, 1) == normalized(ROUND_TRIP_ITEMS[0])
    assert store.item(REPO, 99) is None
    assert store.items("other/repo") == []


def test_items_read_back_as_utc_with_microseconds(store: SQLiteStore) -> None:
    cest = timezone(timedelta(hours=2))
    local = datetime(2026, 3, 1, 12, 0, 0, 7, tzinfo=cest)
    store.save_items([item(1, act("C1", 0), created_at=local)], PRS)
    stored = store.item(REPO, 1)
    assert stored is not None
    assert stored.created_at == local
    assert stored.created_at.utcoffset() == timedelta(0)
    assert stored.created_at.microsecond == 7
    assert stored.activities[0].at == T0
    assert stored.activities[0].at.tzinfo is not None


def test_naive_datetimes_are_refused(store: SQLiteStore) -> None:
    with pytest.raises(ValueError, match="naive datetime"):
        store.save_items([item(1, created_at=datetime(2026, 1, 1))], PRS)
    assert store.items(REPO) == []


def test_repository_names_are_case_insensitive(store: SQLiteStore) -> None:
    store.save_items([item(1)], PRS)
    store.save_items([item(1, repository="Kube-RS/KUBE", state=ItemState.CLOSED)], PRS)
    assert [(i.number, i.state) for i in store.items("KUBE-RS/Kube")] == [(1, ItemState.CLOSED)]
    assert store.stream_state("Kube-RS/kube", Stream.PULL_REQUESTS).generation == 1
    assert store.stream_state("Kube-RS/kube", Stream.ISSUES).generation == 0


def test_releases_tags_commits_round_trip(store: SQLiteStore) -> None:
    releases = [
        Release(REPO, "v2.0.0-rc.1", at(20), None, is_prerelease=True, is_draft=True),
        Release(REPO, "v1.0.0", at(10), at(10.5), is_prerelease=False, is_draft=False),
    ]
    tags = [Tag(REPO, "v1.0.0", "a" * 40, at(9)), Tag(REPO, "ünïcode-tag", "b" * 40, at(1))]
    commits = [
        Commit(REPO, "c" * 40, at(2), at(1), "alice", "alice"),
        Commit(REPO, "d" * 40, at(1), at(0), None, "email:0123456789abcdef"),
    ]
    store.save_releases(releases, StreamState(REPO, Stream.RELEASES))
    store.save_tags(tags, StreamState(REPO, Stream.TAGS))
    store.save_commits(commits, StreamState(REPO, Stream.COMMITS))
    assert store.releases(REPO) == releases[::-1]
    assert store.tags(REPO) == tags[::-1]
    assert store.commits(REPO) == commits[::-1]
    assert store.releases("other/repo") == [] and store.commits("x/y") == []


def test_repositories_round_trip(store: SQLiteStore) -> None:
    kube = Repository(REPO, "R_1", "main", False, False, False, at(-1000), at(5))
    empty = Repository("Zed/empty", "R_2", None, True, True, True, at(-10), None)
    other = Repository("a/b", "R_3", "trunk", False, False, False, at(0), at(1))
    store.save_repository("kubernetes", empty)
    store.save_repository("kubernetes", kube)
    store.save_repository("alpha", other)
    assert store.repositories() == [("alpha", other), ("kubernetes", kube), ("kubernetes", empty)]
    archived = replace(kube, full_name="Kube-RS/kube", is_archived=True)
    store.save_repository("moved", archived)  # same repository, other spelling: updated
    assert ("moved", archived) in store.repositories()
    assert len(store.repositories()) == 3


def test_users_round_trip(store: SQLiteStore) -> None:
    users = [
        User("Alice", ActorKind.USER, "@acme, Inc.", at(0)),
        User("renovate[bot]", ActorKind.BOT, None, at(1)),
        User("josé", ActorKind.USER, 'Zürich "quoted"\nnewline', at(2)),
    ]
    store.save_users(users)
    assert store.users() == {"alice": users[0], "renovate[bot]": users[1], "josé": users[2]}
    store.save_users([User("ALICE", ActorKind.USER, None, at(5))])
    assert store.users()["alice"] == User("ALICE", ActorKind.USER, None, at(5))
    assert len(store.users()) == 3


def test_http_cache_round_trip(store: SQLiteStore) -> None:
    url = "/repos/kube-rs/kube/issues?direction=desc&per_page=1"
    assert store.cached_response(url) is None
    body = {"id": 1, "name": "kube", "topics": ["ø", "rust"], "owner": None, "ok": True, "f": 1.5}
    store.save_cached_response(CachedResponse(url, 'W/"abc"', body))
    assert store.cached_response(url) == CachedResponse(url, 'W/"abc"', body)
    store.save_cached_response(CachedResponse(url, '"def"', [1, 2]))
    assert store.cached_response(url) == CachedResponse(url, '"def"', [1, 2])


# --- upserts, merges, generations ------------------------------------------------------------
def test_saving_the_same_page_twice_changes_nothing(store: SQLiteStore) -> None:
    store.save_items(ROUND_TRIP_ITEMS, PRS)
    first = store.dump()
    store.save_items(ROUND_TRIP_ITEMS, PRS)
    assert store.dump() == first
    assert len(first["items"]) == 5
    assert len(first["activities"]) == 11


def test_items_are_replaced_and_activities_merged(store: SQLiteStore) -> None:
    store.save_items([item(1, act("C1", 1), act("C2", 2), labels=("a", "b"))], PRS)
    edited = act("C2", 2, BOB, association="OWNER")
    store.save_items(
        [item(1, edited, act("C3", 3), state=ItemState.CLOSED, closed_at=at(3), labels=("c",))],
        PRS,
    )
    stored = store.item(REPO, 1)
    assert stored == item(
        1,
        act("C1", 1),
        edited,
        act("C3", 3),
        state=ItemState.CLOSED,
        closed_at=at(3),
        labels=("c",),
    )


def test_an_item_twice_in_a_page_is_stored_as_its_last_copy(store: SQLiteStore) -> None:
    first = item(1, act("C1", 1), labels=("a", "b"))
    second = item(1, act("C2", 2), state=ItemState.CLOSED, closed_at=at(2), labels=("c",))
    store.save_items([first, second], PRS)
    assert store.item(REPO, 1) == replace(second, activities=(act("C1", 1), act("C2", 2)))


def test_save_activities_merges_and_sets_the_cursor(store: SQLiteStore) -> None:
    store.save_items([item(1, act("C1", 1), activity_cursor="page1")], PRS)
    store.save_activities(item(1, act("C2", 2), act("C1", 1), activity_cursor=None))
    assert store.item(REPO, 1) == item(1, act("C1", 1), act("C2", 2))
    with pytest.raises(StoreError, match="kube-rs/kube#7"):
        store.save_activities(item(7, act("C9", 1)))


def test_sweep_removes_what_a_full_pass_did_not_see(store: SQLiteStore) -> None:
    gen1, gen2 = PRS, replace(PRS, generation=2)
    store.save_items(
        [
            item(1, act("C1", 1), act("C1b", 2)),  # will be seen completely: C1b deleted
            item(2, act("C2", 1), act("C2b", 2), labels=("x",)),  # will be gone
            item(3, act("C3", 1), act("C3b", 2)),  # will be seen with an incomplete timeline
        ],
        gen1,
    )
    store.save_items([item(4, act("C4", 1), kind=ItemKind.ISSUE)], ISSUES)
    store.save_items([item(1, act("C1", 1)), item(3, act("C3", 1), activity_cursor="more")], gen2)
    # 1 item + its 2 activities, and C1b
    assert store.sweep(REPO, Stream.PULL_REQUESTS, 2) == 4
    assert store.items(REPO) == [
        item(1, act("C1", 1)),
        item(3, act("C3", 1), act("C3b", 2), activity_cursor="more"),
        item(4, act("C4", 1), kind=ItemKind.ISSUE),  # another stream: untouched
    ]
    assert store.dump()["item_labels"] == []
    assert store.sweep(REPO, Stream.PULL_REQUESTS, 2) == 0
    assert store.integrity_check() == ["ok"]


def test_sweep_of_releases_tags_and_commits(store: SQLiteStore) -> None:
    old, new = (
        StreamState(REPO, Stream.RELEASES, generation=1),
        StreamState(REPO, Stream.RELEASES, generation=2),
    )
    kept = Release(REPO, "v2", at(2), at(2), False, False)
    store.save_releases([Release(REPO, "v1", at(1), at(1), False, False), kept], old)
    store.save_releases([kept], new)
    store.save_tags(
        [Tag(REPO, "t1", "a" * 40, at(1))], StreamState(REPO, Stream.TAGS, generation=1)
    )
    store.save_commits(
        [Commit(REPO, "c" * 40, at(1), at(1), None, "x")],
        StreamState(REPO, Stream.COMMITS, generation=1),
    )
    assert store.sweep(REPO, Stream.RELEASES, 2) == 1
    assert store.releases(REPO) == [kept]
    assert store.sweep(REPO, Stream.TAGS, 2) == 1
    assert store.sweep(REPO, Stream.COMMITS, 1) == 0
    assert store.tags(REPO) == [] and len(store.commits(REPO)) == 1


def test_dump_ignores_generations_and_bookkeeping(tmp_path: Path) -> None:
    one, two = SQLiteStore.open(tmp_path / "one.db"), SQLiteStore.open(tmp_path / "two.db")
    try:
        page = [item(1, act("C1", 1)), item(2, act("C2", 1), labels=("l",))]
        one.save_items(page, PRS)
        two.save_items(page[:1], PRS)  # an interrupted pass, then a reconcile
        two.save_items(page, replace(PRS, generation=5, pass_cursor="abc"))
        two.save_cached_response(CachedResponse("/x", "e", {}))
        two.save_sync_report(SyncReport(REPO, "p", ok=True), at(1))
        assert one.dump() == two.dump()
        assert set(one.dump()) == {
            "repositories", "items", "item_labels", "activities", "releases", "tags", "commits", "users",
        }  # fmt: skip
    finally:
        one.close()
        two.close()


def test_logins_needing_profile(store: SQLiteStore) -> None:
    store.save_items(
        [
            item(1, act("C1", 1, BOB), act("C2", 2, DEPENDABOT), act("C3", 3, GHOST), author=ALICE),
            item(
                2, act("C4", 1, Actor("BOB", ActorKind.USER)), act("C5", 1, MANNEQUIN), author=JOSE
            ),
        ],
        PRS,
    )
    store.save_commits(
        [
            Commit(REPO, "c" * 40, at(1), at(1), "zed", "zed"),
            Commit(REPO, "d" * 40, at(1), at(1), None, "email:1"),
        ],
        StreamState(REPO, Stream.COMMITS),
    )
    assert store.logins_needing_profile(at(100), 10) == [
        "alice",
        "BOB",
        "josé-ñúñez",
        "zed",
    ]  # one spelling per login
    store.save_users(
        [
            User("alice", ActorKind.USER, None, at(50)),  # stale
            User("bob", ActorKind.USER, "acme", at(200)),  # fresh
            User("zed", ActorKind.USER, None, at(10)),  # staler
        ]
    )
    assert store.logins_needing_profile(at(100), 10) == ["josé-ñúñez", "zed", "alice"]
    assert store.logins_needing_profile(at(100), 2) == ["josé-ñúñez", "zed"]
    assert store.logins_needing_profile(at(0), 10) == ["josé-ñúñez"]


# --- sync progress and results ------------------------------------------------------------
def test_stream_state_survives_close_and_reopen(path: Path) -> None:
    state = StreamState(
        REPO, Stream.COMMITS, watermark=at(1), pass_kind=PassKind.RECONCILE, pass_cursor="Y3Vy",
        pass_high_water=at(2), generation=7, last_full_pass_at=at(-5),
    )  # fmt: skip
    first = SQLiteStore.open(path)
    assert first.stream_state(REPO, Stream.COMMITS) == StreamState(REPO, Stream.COMMITS)
    first.save_commits([Commit(REPO, "c" * 40, at(1), at(1), None, "x")], state)
    first.close()
    second = SQLiteStore.open(path)
    try:
        assert second.stream_state(REPO, Stream.COMMITS) == state
        done = replace(state, pass_kind=None, pass_cursor=None, pass_high_water=None)
        second.save_stream_state(done)
        assert second.stream_state(REPO, Stream.COMMITS) == done
        assert second.stream_state(REPO, Stream.TAGS) == StreamState(REPO, Stream.TAGS)
    finally:
        second.close()


def test_sync_reports_newest_per_repository(store: SQLiteStore) -> None:
    ok = SyncReport(REPO, "kube", ok=True, items=10, requests=3, points=4, duration_seconds=1.25)
    failed = SyncReport(REPO, "kube", ok=False, errors=("boom: ü",), error_reason="transient")
    other = SyncReport("a/b", "alpha", ok=True, commits=5)
    assert store.last_sync_reports() == {}
    assert store.last_successful_sync(REPO) is None
    store.save_sync_report(failed, at(1))
    assert store.last_successful_sync(REPO) is None
    store.save_sync_report(ok, at(5))
    store.save_sync_report(failed, at(10))
    store.save_sync_report(ok, at(3))  # an older report, arriving late: kept out
    store.save_sync_report(other, at(2))
    assert store.last_sync_reports() == {REPO: (failed, at(10)), "a/b": (other, at(2))}
    assert store.last_successful_sync(REPO) == at(5)
    assert store.last_successful_sync("A/B") == at(2)


# --- opening, migrations, errors ------------------------------------------------------------
def test_opens_an_empty_file_and_migrates(path: Path) -> None:
    path.touch()
    SQLiteStore.open(path).close()
    with sqlite3.connect(path) as raw:
        assert raw.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        assert raw.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        tables = {r[0] for r in raw.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    raw.close()
    assert {"items", "activities", "item_labels", "stream_states", "http_cache"} <= tables
    reopened = SQLiteStore.open(path)  # already migrated: nothing to do
    assert reopened.items(REPO) == []
    reopened.close()


def test_refuses_a_newer_schema(path: Path) -> None:
    SQLiteStore.open(path).close()
    raw = sqlite3.connect(path)
    raw.execute(f"PRAGMA user_version={SCHEMA_VERSION + 98}")
    raw.close()
    message = f"store schema version {SCHEMA_VERSION + 98} is newer than this healthexporter understands \\({SCHEMA_VERSION}\\)"
    with pytest.raises(StoreError, match=message):
        SQLiteStore.open(path)


@pytest.mark.parametrize(
    ("make_path", "cause"),
    [
        (lambda tmp: tmp / "missing" / "store.db", "does not exist"),
        (lambda tmp: tmp / "file.txt" / "store.db", "is not a directory"),
        (lambda tmp: tmp, "is a directory"),
        (lambda tmp: Path("/proc/healthexporter.db"), "unable to open database file"),
        (lambda tmp: tmp / "file.txt", "file is not a database"),
    ],
)
def test_unusable_paths_are_clear_errors(tmp_path: Path, make_path: object, cause: str) -> None:
    (tmp_path / "file.txt").write_text("not a database, just some text " * 100)
    target = make_path(tmp_path)  # type: ignore[operator]
    with pytest.raises(StoreError, match=cause) as error:
        SQLiteStore.open(target)
    assert str(target) in str(error.value)


@pytest.mark.skipif(os.geteuid() == 0, reason="root ignores file permissions")
def test_unwritable_directory_is_a_clear_error(tmp_path: Path) -> None:
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        with pytest.raises(StoreError, match=r"locked/store\.db"):
            SQLiteStore.open(locked / "store.db")
    finally:
        locked.chmod(0o700)


def test_read_only_file_is_a_clear_error_at_open(path: Path) -> None:
    """Found at open, not at the first page a sync tries to store."""
    SQLiteStore.open(path).close()
    if os.geteuid() != 0:
        path.chmod(0o444)
        undo = ["chmod", "0644", str(path)]
    else:  # root ignores permissions, but not the immutable attribute
        if shutil.which("chattr") is None:
            pytest.skip("no chattr to make the file read-only for root")
        made = subprocess.run(["chattr", "+i", str(path)], capture_output=True, check=False)
        if made.returncode != 0:
            pytest.skip(f"chattr +i failed: {made.stderr.decode().strip()}")
        undo = ["chattr", "-i", str(path)]
    try:
        with pytest.raises(StoreError, match="readonly database") as error:
            SQLiteStore.open(path)
        assert str(path) in str(error.value)
    finally:
        subprocess.run(undo, check=True)


def test_closed_store_refuses_use(path: Path) -> None:
    closing = SQLiteStore.open(path)
    closing.close()
    closing.close()
    with pytest.raises(StoreError, match="closed"):
        closing.items(REPO)


def test_in_memory_store(tmp_path: Path) -> None:
    memory = SQLiteStore.open(":memory:")
    try:
        memory.save_items(ROUND_TRIP_ITEMS, PRS)
        assert memory.items(REPO) == [normalized(i) for i in ROUND_TRIP_ITEMS]
        assert memory.size_bytes() > 0
        worker = threading.Thread(target=memory.save_stream_state, args=(ISSUES,))
        worker.start()
        worker.join()
        assert memory.stream_state(REPO, Stream.ISSUES) == ISSUES
    finally:
        memory.close()


# --- atomicity ------------------------------------------------------------------------------
def test_a_failing_page_writes_nothing(store: SQLiteStore) -> None:
    store.save_items([item(1, act("C1", 1))], PRS)
    before = store.dump()
    page = [
        item(2, act("C2", 1), labels=("x",)),
        item(0, act("C0", 1)),
        item(3),
    ]  # number 0 is refused
    advanced = replace(PRS, pass_cursor="after-page-2")
    with pytest.raises(StoreError, match="CHECK constraint failed"):
        store.save_items(page, advanced)
    assert store.dump() == before
    assert store.stream_state(REPO, Stream.PULL_REQUESTS) == PRS
    store.save_items(page[:1], advanced)  # the store is still usable
    assert [i.number for i in store.items(REPO)] == [1, 2]


def test_disk_full_is_a_store_error_and_writes_nothing(store: SQLiteStore) -> None:
    store.save_items([item(1, act("C1", 1))], PRS)
    before, size = store.dump(), store.size_bytes()
    connection = store._connection()  # the test thread's own connection: limit its file size
    pages = connection.execute("PRAGMA page_count").fetchone()[0]
    connection.execute(f"PRAGMA max_page_count={pages + 1}")
    big = [
        item(n, *(act(f"A{n}-{k}", k, Actor(f"user-{k}", ActorKind.USER)) for k in range(30)),
             labels=tuple(f"label-{k}" for k in range(10)))
        for n in range(10, 200)
    ]  # fmt: skip
    with pytest.raises(StoreError, match="database or disk is full"):
        store.save_items(big, replace(PRS, pass_cursor="next"))
    assert store.dump() == before
    assert store.stream_state(REPO, Stream.PULL_REQUESTS) == PRS
    assert store.integrity_check() == ["ok"]
    assert size > 0


KILLED_WRITER = """
import sys
from datetime import UTC, datetime
from healthexporter.model import Activity, ActivityKind, Actor, ActorKind, Item, ItemKind, ItemState
from healthexporter.store import Stream, StreamState
from healthexporter.store.sqlite import SQLiteStore

store = SQLiteStore.open(sys.argv[1])
t = datetime(2026, 1, 1, tzinfo=UTC)
bob = Actor("bob", ActorKind.USER)
page = 0
print("ready", flush=True)
while True:
    items = [
        Item("o/r", page * 100 + n, ItemKind.ISSUE, ItemState.OPEN, t, t, bob, "NONE",
             activities=tuple(Activity(f"A{page}-{n}-{k}", ActivityKind.COMMENT, bob, t) for k in range(10)))
        for n in range(1, 101)
    ]
    store.save_items(items, StreamState("o/r", Stream.ISSUES, pass_cursor=str(page), generation=1))
    page += 1
"""


def test_a_killed_writer_leaves_whole_pages(path: Path) -> None:
    """SIGKILL in the middle of a sync: every page is either fully stored with its state, or
    not at all."""
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[1] / "src")}
    writer = subprocess.Popen(
        [sys.executable, "-c", KILLED_WRITER, str(path)], stdout=subprocess.PIPE, env=env
    )
    assert writer.stdout is not None
    assert writer.stdout.readline() == b"ready\n"
    time.sleep(0.5)
    writer.send_signal(signal.SIGKILL)
    writer.wait()
    writer.stdout.close()
    store = SQLiteStore.open(path)
    try:
        cursor = store.stream_state("o/r", Stream.ISSUES).pass_cursor
        assert cursor is not None
        pages = int(cursor) + 1
        assert pages >= 2
        dump = store.dump()
        assert len(dump["items"]) == 100 * pages
        assert len(dump["activities"]) == 1000 * pages
        assert store.integrity_check() == ["ok"]
    finally:
        store.close()


# --- threads --------------------------------------------------------------------------------
def test_concurrent_writers_and_readers(path: Path) -> None:
    store = SQLiteStore.open(path)
    errors: list[BaseException] = []
    stop = threading.Event()

    def write(worker: int) -> None:
        repository = f"org/repo-{worker}"
        try:
            for page in range(15):
                state = StreamState(repository, Stream.ISSUES, pass_cursor=str(page), generation=1)
                items = [
                    item(page * 20 + n, act(f"{worker}-{page}-{n}-a", 1), act(f"{worker}-{page}-{n}-b", 2),
                         repository=repository, kind=ItemKind.ISSUE, labels=("l",))
                    for n in range(1, 21)
                ]  # fmt: skip
                store.save_items(items, state)
                store.save_cached_response(CachedResponse(f"/{repository}", str(page), {"p": page}))
                store.save_sync_report(SyncReport(repository, "p", ok=True), at(page))
        except BaseException as exc:
            errors.append(exc)

    def read() -> None:
        try:
            while not stop.is_set():
                for worker in range(6):
                    for found in store.items(f"org/repo-{worker}"):
                        assert len(found.activities) == 2 and found.labels == ("l",)
                store.dump()
        except BaseException as exc:
            errors.append(exc)

    writers = [threading.Thread(target=write, args=(w,)) for w in range(6)]
    readers = [threading.Thread(target=read) for _ in range(2)]
    try:
        for thread in writers + readers:
            thread.start()
        for thread in writers:
            thread.join()
        stop.set()
        for thread in readers:
            thread.join()
        assert errors == []
        for worker in range(6):
            repository = f"org/repo-{worker}"
            assert len(store.items(repository)) == 300
            assert store.stream_state(repository, Stream.ISSUES).pass_cursor == "14"
        assert len(store.last_sync_reports()) == 6
        assert store.integrity_check() == ["ok"]
    finally:
        store.close()


def test_two_stores_on_one_file_share_the_write_lock(path: Path) -> None:
    """Like a `healthexporter sync` run beside the server: BEGIN IMMEDIATE and the busy timeout
    serialize the two without "database is locked"."""
    one, two = SQLiteStore.open(path), SQLiteStore.open(path)
    errors: list[BaseException] = []

    def write(store: SQLiteStore, offset: int) -> None:
        try:
            for page in range(20):
                numbers = range(offset + page * 10 + 1, offset + page * 10 + 11)
                store.save_items([item(n, act(f"A{n}", 1)) for n in numbers], PRS)
        except BaseException as exc:
            errors.append(exc)

    threads = [
        threading.Thread(target=write, args=(one, 0)),
        threading.Thread(target=write, args=(two, 1000)),
    ]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert errors == []
        assert len(one.items(REPO)) == 400
    finally:
        one.close()
        two.close()


def test_size_bytes_grows(store: SQLiteStore) -> None:
    empty = store.size_bytes()
    store.save_items([item(n, act(f"A{n}", 1)) for n in range(1, 500)], PRS)
    assert store.size_bytes() > empty > 0
