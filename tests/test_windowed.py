"""The collector reads only what the windows need (``collector.read_window``: open items, what
changed in the longest window, and per-person sums in SQL); the numbers must be exactly those of
the whole history (``collector.read_repository``): the same snapshot, the same exposition bytes.

Shown on literal data built for the edges — a contributor whose first contribution is years
old, an open item untouched for years, items closed just inside and just outside the window,
commits outside it, bots, deleted accounts, activity newer than its item's ``updated_at``,
data after ``now`` — and on generated repositories synced from the simulator, each at several
``now``s and under other windows.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

import pytest

from healthexporter.clock import FakeClock
from healthexporter.collector import Collector, read_repository, read_window
from healthexporter.config.loading import parse_config
from healthexporter.exposition import health_families, render
from healthexporter.health.compute import compute
from healthexporter.health.snapshot import HealthSettings, HealthSnapshot, Window
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
)
from healthexporter.runtime import HealthSettingsFactory
from healthexporter.simulator.generate import generate
from healthexporter.store import Stream, StreamState
from healthexporter.store.sqlite import SQLiteStore
from healthexporter.sync import Target

from .conftest import exporter_for, simulator

NOW = datetime(2026, 6, 1, tzinfo=UTC)
APP, LIB = "o/app", "o/lib"
TARGETS = [("p", APP), ("p", LIB)]


def is_bot(actor: Actor) -> bool:
    login = actor.login or ""
    return actor.kind is ActorKind.BOT or login.endswith(("[bot]", "-robot"))


ORGANIZATIONS = {"veteran": "acme", "lookback": "acme", "newbie": "initech", "maint": "acme"}


def affiliation(login: str, at: datetime) -> str | None:
    return ORGANIZATIONS.get(login)


SETTINGS = HealthSettings(is_bot=is_bot, affiliation=affiliation)
# other windows and lookback: a year-long window, a one-day one, and a short lookback
OTHER_SETTINGS = replace(
    SETTINGS,
    windows=(Window("1d", timedelta(days=1)), Window("400d", timedelta(days=400))),
    episodic_lookback=timedelta(days=30),
    episodic_max_contributions=2,
)


def snapshots(
    store: SQLiteStore,
    targets: Sequence[tuple[str, str]],
    settings: HealthSettings,
    now: datetime,
) -> tuple[HealthSnapshot, HealthSnapshot]:
    """(whole history, windowed read) computed as of ``now``."""
    infos = {r.full_name.lower(): r for _, r in store.repositories()}
    whole = [read_repository(store, p, name, infos.get(name.lower())) for p, name in targets]
    windowed = [
        read_window(store, p, name, infos.get(name.lower()), settings, now) for p, name in targets
    ]
    return compute(whole, settings, now), compute(windowed, settings, now)


def assert_same(whole: HealthSnapshot, windowed: HealthSnapshot) -> None:
    assert windowed == whole
    served = render(health_families(whole))
    assert render(health_families(windowed)) == served  # every format, byte for byte


# --- literal data -------------------------------------------------------------------------
def user(login: str | None) -> Actor:
    return Actor(login, ActorKind.USER) if login is not None else Actor.deleted()


DEPENDABOT = Actor("dependabot[bot]", ActorKind.BOT)
ROBOT = Actor("k8s-ci-robot", ActorKind.USER)  # a user-kind bot, by its name
MICROSECOND = timedelta(microseconds=1)


def ago(days: float) -> datetime:
    return NOW - timedelta(days=days)


def act(
    kind: ActivityKind,
    actor: Actor | str,
    at: datetime,
    association: str | None = "MEMBER",
    review_state: str | None = None,
) -> Activity:
    who = actor if isinstance(actor, Actor) else user(actor)
    label = who.login or "ghost"
    return Activity(
        f"{kind.value}-{label}-{at.isoformat()}", kind, who, at, association, review_state
    )


def comment(actor: Actor | str, at: datetime, association: str = "MEMBER") -> Activity:
    return act(ActivityKind.COMMENT, actor, at, association)


def entry(
    repository: str,
    number: int,
    author: Actor | str,
    created: datetime,
    *activities: Activity,
    kind: ItemKind = ItemKind.ISSUE,
    state: ItemState = ItemState.OPEN,
    association: str = "CONTRIBUTOR",
    closed: datetime | None = None,
    updated: datetime | None = None,
    draft: bool = False,
    labels: tuple[str, ...] = (),
) -> Item:
    """An item as GitHub sends it: updated at its newest event unless told otherwise."""
    events = [created, *(a.at for a in activities), *([closed] if closed else [])]
    return Item(
        repository=repository,
        number=number,
        kind=kind,
        state=state,
        created_at=created,
        updated_at=updated or max(events),
        author=author if isinstance(author, Actor) else user(author),
        author_association=association,
        closed_at=closed,
        merged_at=closed if state is ItemState.MERGED else None,
        is_draft=draft,
        labels=labels,
        activities=tuple(sorted(activities, key=lambda a: (a.at, a.id))),
    )


PR, ISSUE = ItemKind.PULL_REQUEST, ItemKind.ISSUE
CLOSED, MERGED = ItemState.CLOSED, ItemState.MERGED
C, R = ActivityKind.COMMENT, ActivityKind.REVIEW
READY, CLOSE, MERGE = ActivityKind.READY_FOR_REVIEW, ActivityKind.CLOSED, ActivityKind.MERGED
EDGE = ago(90)  # the start of the longest window

APP_ITEMS = [
    # open for three years, never answered: waiting, the oldest
    entry(APP, 1, "veteran", ago(1100), labels=("help wanted",)),
    # open for two years, answered then: not waiting
    entry(APP, 2, "returning", ago(730), comment("maint", ago(729)), kind=PR),
    # closed exactly at the start of the 90 days (in it), and a microsecond before (not)
    entry(APP, 3, "casey", ago(365), comment("maint", ago(360)), act(CLOSE, "maint", EDGE),
          state=CLOSED, closed=EDGE),
    entry(APP, 4, "Casey", ago(365), act(CLOSE, "maint", EDGE - MICROSECOND),
          state=CLOSED, closed=EDGE - MICROSECOND),
    # a newcomer's first pull request, merged (GitHub now says CONTRIBUTOR); a bot greets it, a
    # pending review is no response, the maintainer's review is
    entry(APP, 5, "newbie", ago(10), comment(ROBOT, ago(10)),
          act(R, "lookback", ago(4), "NONE", "PENDING"),
          act(R, "maint", ago(3), "MEMBER", "APPROVED"), act(MERGE, "maint", ago(2)),
          kind=PR, state=MERGED, closed=ago(2)),
    # someone with an issue two years ago: no first-timer; waiting
    entry(APP, 6, "returning", ago(6), comment("returning", ago(5), "CONTRIBUTOR"),
          comment("casey", ago(1), "CONTRIBUTOR"), kind=PR),
    # a draft for half a year, ready for review 20 days ago (the clock starts then)
    entry(APP, 7, "lookback", ago(200), act(READY, "lookback", ago(20), None),
          comment("lookback", ago(100), "CONTRIBUTOR"), comment("maint", ago(19)), kind=PR),
    # closed long ago as a draft; a timeline page fetched later holds a ready-for-review newer
    # than the stored updated_at (the clock starts 10 days ago: unanswered)
    entry(APP, 8, "drifter", ago(300), act(CLOSE, "drifter", ago(250)),
          act(READY, "drifter", ago(10), None), kind=PR, state=CLOSED, closed=ago(250),
          updated=ago(250), draft=True),
    # a bot's pull request, open for over a year: counted apart
    entry(APP, 9, DEPENDABOT, ago(400), comment(DEPENDABOT, ago(399)), kind=PR),
    # a deleted account's issue, and a deleted account's comment
    entry(APP, 10, Actor.deleted(), ago(3), comment(Actor.deleted(), ago(2)),
          labels=("good first issue",)),
    # closed two years ago, commented on two days ago: its updated_at moved
    entry(APP, 11, "veteran", ago(800), act(CLOSE, "maint", ago(790)),
          comment("veteran", ago(2), "CONTRIBUTOR"), state=CLOSED, closed=ago(790)),
    # stored with times after now (a clock behind GitHub's)
    entry(APP, 12, "future", NOW + timedelta(days=1), comment("maint", NOW + timedelta(days=2))),
    # Casey (any case) merged 35 days ago; the merge is also a bot's comment later
    entry(APP, 13, "Casey", ago(40), act(R, "maint", ago(36), "MEMBER", "APPROVED"),
          act(MERGE, "maint", ago(35)), comment(ROBOT, ago(34)), kind=PR, state=MERGED,
          closed=ago(35)),
    # a closed issue whose only contributions are far outside every window and lookback
    entry(APP, 14, "ancient", ago(2000), comment("lookback", ago(1999), "NONE"),
          act(CLOSE, "ancient", ago(1990)), state=CLOSED, closed=ago(1990)),
    # answered by the author only (self-comment), closed unanswered inside the window
    entry(APP, 15, "solo", ago(50), comment("solo", ago(49), "NONE"), act(CLOSE, "solo", ago(45)),
          state=CLOSED, closed=ago(45)),
    # the lookback person: a comment 100 days ago (outside 90 days, in the lookback)
    entry(APP, 16, "maint", ago(150), comment("lookback", ago(100), "NONE"),
          act(CLOSE, "maint", ago(99)), state=CLOSED, closed=ago(99), association="MEMBER"),
]  # fmt: skip
LIB_ITEMS = [
    entry(LIB, 1, "veteran", ago(700), act(CLOSE, "maint", ago(690)), state=CLOSED, closed=ago(690)),
    entry(LIB, 2, "lookback", ago(1), kind=PR),
    entry(LIB, 3, "newbie", ago(95), comment("maint", ago(94)), act(CLOSE, "newbie", ago(93)),
          state=CLOSED, closed=ago(93)),
]  # fmt: skip


def commit(repository: str, oid: str, committed: datetime, authored: datetime, login: str | None,
           identity: str | None = None) -> Commit:  # fmt: skip
    return Commit(repository, oid * 40, committed, authored, login, identity or login or "")


APP_COMMITS = [
    commit(APP, "a", ago(1200), ago(1200), "committer"),
    commit(APP, "b", ago(5), ago(200), "committer"),  # rebased: written long ago, landed now
    commit(APP, "c", ago(3), ago(3), None, "email:0123456789abcdef"),
    commit(APP, "d", ago(400), ago(400), None, "email:0123456789abcdef"),
    commit(APP, "e", ago(2), ago(10), "newbie"),  # landed with the merge of #5
    commit(APP, "f", ago(1), ago(1), "k8s-ci-robot"),
    commit(APP, "0", NOW + timedelta(hours=1), NOW + timedelta(hours=1), "future"),
]
LIB_COMMITS = [commit(LIB, "9", ago(365), ago(366), "returning")]
APP_RELEASES = [
    Release(APP, "v1.0.0", ago(1000), ago(1000), False, False),
    Release(APP, "v1.1.0", ago(200), ago(200), False, False),
    Release(APP, "v1.2.0-rc.1", ago(20), ago(20), False, False),
    Release(APP, "v1.2.0", ago(5), ago(5), False, False),
    Release(APP, "v2.0.0", ago(1), None, False, True),  # a draft
]
LIB_TAGS = [
    Tag(LIB, "v0.1.0", "1" * 40, ago(400)),
    Tag(LIB, "latest", "2" * 40, ago(1)),
    Tag(LIB, "v0.2.0", "3" * 40, ago(6)),
]


@pytest.fixture(scope="module")
def literal(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SQLiteStore]:
    store = SQLiteStore.open(tmp_path_factory.mktemp("windowed") / "store.db")
    for name, items, commits in ((APP, APP_ITEMS, APP_COMMITS), (LIB, LIB_ITEMS, LIB_COMMITS)):
        created = ago(3000)
        store.save_repository("p", Repository(name, f"R_{name}", "main", False, False, False,
                                              created, NOW))  # fmt: skip
        store.save_items(items, StreamState(name, Stream.ISSUES, generation=1))
        store.save_commits(commits, StreamState(name, Stream.COMMITS, generation=1))
    store.save_releases(APP_RELEASES, StreamState(APP, Stream.RELEASES, generation=1))
    store.save_tags(LIB_TAGS, StreamState(LIB, Stream.TAGS, generation=1))
    yield store
    store.close()


LITERAL_NOWS = [
    NOW,
    NOW - timedelta(days=45),  # data after now is stored
    NOW - timedelta(days=1500),  # before most of it
    NOW + timedelta(days=60),  # the windows have moved on
    EDGE + timedelta(days=90, microseconds=1),
]


@pytest.mark.parametrize("settings", [SETTINGS, OTHER_SETTINGS], ids=["default", "other"])
@pytest.mark.parametrize("now", LITERAL_NOWS, ids=lambda now: now.strftime("%Y-%m-%d"))
def test_literal_edges_give_the_numbers_of_the_whole_history(
    literal: SQLiteStore, settings: HealthSettings, now: datetime
) -> None:
    whole, windowed = snapshots(literal, TARGETS, settings, now)
    assert_same(whole, windowed)


def test_the_literal_edges_are_there(literal: SQLiteStore) -> None:
    """The comparison above means something: the window read leaves items out, and the
    numbers that look past the window are not trivial."""
    _, windowed = snapshots(literal, TARGETS, SETTINGS, NOW)
    infos = {r.full_name: r for _, r in literal.repositories()}
    read = read_window(literal, "p", APP, infos[APP], SETTINGS, NOW)
    left_out = {item.number for item in APP_ITEMS} - {item.number for item in read.items}
    assert left_out == {4, 14, 16}
    assert {c.oid[0] for c in read.commits} == {"b", "c", "e", "f", "0"}
    app = windowed.repositories[0]
    assert app.waiting[ISSUE].oldest_item == f"{APP}#1"
    assert app.waiting[PR].bot_authored == 1
    ninety = app.windows["90d"]
    closes = ninety.responsiveness[ISSUE].time_to_close
    assert [sample.item for sample in closes] == [f"{APP}#3", f"{APP}#15"]
    assert ninety.responsiveness[PR].unanswered == 1  # #8, ready for review 10 days ago
    assert ninety.inclusivity.first_timer_pull_requests == 1  # newbie's #5, not returning's #6
    month = app.windows["30d"]
    # newbie, maint, returning, casey, veteran and an unlinked commit identity; only newbie is
    # new (Casey came a year ago; the identity's other commit is 400 days old)
    assert (month.contributors.active, month.contributors.new) == (6, 1)
    [project] = windowed.projects
    # and lookback, in o/lib; newbie is not new to the project (an o/lib issue 95 days ago)
    contributors = project.windows["30d"].contributors
    assert (contributors.active, contributors.new) == (7, 0)


def test_collector_refresh_is_the_whole_history_s_snapshot(literal: SQLiteStore) -> None:
    collector = Collector(
        literal, lambda: SETTINGS, targets=lambda: TARGETS, clock=FakeClock(NOW.timestamp())
    )
    whole, _ = snapshots(literal, TARGETS, SETTINGS, NOW)
    assert collector.refresh() == whole


@pytest.mark.parametrize("enabled", [True, False])
def test_refresh_leaves_the_garbage_collector_as_it_found_it(
    literal: SQLiteStore, enabled: bool
) -> None:
    """The collector pauses the cyclic collector while it reads and computes a repository."""
    collector = Collector(
        literal, lambda: SETTINGS, targets=lambda: TARGETS, clock=FakeClock(NOW.timestamp())
    )
    was = gc.isenabled()
    try:
        (gc.enable if enabled else gc.disable)()
        collector.refresh()
        assert gc.isenabled() is enabled
    finally:
        (gc.enable if was else gc.disable)()


def test_a_windowed_read_refuses_another_now_or_longer_windows(literal: SQLiteStore) -> None:
    infos = {r.full_name: r for _, r in literal.repositories()}
    read = read_window(literal, "p", APP, infos[APP], SETTINGS, NOW)
    with pytest.raises(ValueError, match="read as of"):
        compute([read], SETTINGS, NOW + timedelta(seconds=1))
    with pytest.raises(ValueError, match="windows need more"):
        compute([read], OTHER_SETTINGS, NOW)
    longer_lookback = replace(SETTINGS, episodic_lookback=timedelta(days=91))
    with pytest.raises(ValueError, match="lookback needs more"):
        compute([read], longer_lookback, NOW)


# --- generated repositories, synced from the simulator ------------------------------------
@dataclass(frozen=True)
class Synced:
    store: SQLiteStore
    targets: list[tuple[str, str]]
    settings: HealthSettings
    now: datetime


@pytest.fixture(scope="module")
def synced(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Synced]:
    """kube-rs and four example-org repositories in one project (the generator shares people
    across them), the scripted ``small`` in another; synced, with profiles, the way ``serve``
    does; settings from a configuration (the default bot rules, profile companies)."""
    dataset = generate("kube-rs+org:4+small")
    targets = [
        ("acme" if repo.owner == "acme" else "kube", repo.full_name)
        for repo in dataset.repositories.values()
    ]
    directory = tmp_path_factory.mktemp("synced")
    with simulator(dataset) as server, exporter_for(server, directory / "store.db") as exporter:
        reports = exporter.sync(*(Target(project, name) for project, name in targets))
        assert all(report.ok for report in reports), reports
        exporter.syncer.sync_profiles()
    store = SQLiteStore.open(directory / "store.db")
    projects = {project: [name for p, name in targets if p == project] for project, _ in targets}
    config = parse_config(
        "github: {token_env: HE_TOKEN}\nprojects:\n"
        + "".join(f"  {p}: {{repositories: [{', '.join(n)}]}}\n" for p, n in projects.items())
    )
    yield Synced(store, targets, HealthSettingsFactory(config, store)(), dataset.now)
    store.close()


@pytest.mark.parametrize("days_before", [0, 3, 45, 400, -30])
def test_generated_repositories_give_the_numbers_of_the_whole_history(
    synced: Synced, days_before: int
) -> None:
    now = synced.now - timedelta(days=days_before)
    whole, windowed = snapshots(synced.store, synced.targets, synced.settings, now)
    assert_same(whole, windowed)


def test_generated_repositories_under_other_windows(synced: Synced) -> None:
    settings = replace(
        synced.settings,
        windows=OTHER_SETTINGS.windows,
        episodic_lookback=OTHER_SETTINGS.episodic_lookback,
    )
    whole, windowed = snapshots(synced.store, synced.targets, settings, synced.now)
    assert_same(whole, windowed)


def test_the_generated_comparison_means_something(synced: Synced) -> None:
    """Most of kube-rs is left out of the read, and every topic has numbers to compare."""
    store = synced.store
    infos = {r.full_name: r for _, r in store.repositories()}
    read = read_window(store, "kube", "kube-rs/kube", infos["kube-rs/kube"], synced.settings,
                       synced.now)  # fmt: skip
    assert len(read.items) < len(store.items("kube-rs/kube")) / 2
    assert len(read.commits) < len(store.commits("kube-rs/kube")) / 2
    whole, _ = snapshots(store, synced.targets, synced.settings, synced.now)
    kube = next(r for r in whole.repositories if r.repository == "kube-rs/kube")
    ninety = kube.windows["90d"]
    assert ninety.contributors.new > 0 and ninety.contributors.episodic > 0
    assert ninety.contributors.active > ninety.contributors.new
    assert ninety.inclusivity.first_timer_pull_requests > 0
    assert ninety.velocity.commits > 0 and kube.waiting[PR].count > 0
    project = next(p for p in whole.projects if p.project == "kube")
    assert len(project.repositories) == 5
