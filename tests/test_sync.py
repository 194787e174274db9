"""End to end: simulated GitHub over real HTTP → client → sync → SQLite store.

The store is checked against the simulator's dataset item by item, and each item's first
response is checked against an independent computation over the raw timeline (tests/expected.py).
"""

from __future__ import annotations

import math
from datetime import timedelta
from pathlib import Path

import pytest

from healthexporter.bots import BotMatcher
from healthexporter.clock import FakeClock
from healthexporter.health.first_response import Responders, ResponsePolicy, first_response
from healthexporter.model import Actor, ActorKind, ItemKind
from healthexporter.simulator.dataset import Dataset, SimItem, SimRepository
from healthexporter.simulator.evolve import evolve
from healthexporter.simulator.generate import generate
from healthexporter.store.sqlite import SQLiteStore
from healthexporter.sync import OrgSelection, SyncSettings, Target

from .conftest import exporter_for, simulator
from .expected import expected_first_response

KUBE = Target("kube-rs", "kube-rs/kube")
BOTS = BotMatcher()


def is_bot(actor: Actor) -> bool:
    return BOTS.is_bot(actor.login, actor.kind)


def sim_is_bot(dataset: Dataset, login: str | None) -> bool:
    """The same bot rule the exporter uses, applied to the simulator's raw accounts."""
    if login is None:
        return False
    user = dataset.user(login)
    kind = ActorKind(user.kind) if user is not None else ActorKind.USER
    return BOTS.is_bot(login, kind)


def stored_login(dataset: Dataset, login: str | None) -> str | None:
    return login


def assert_store_matches(
    dataset: Dataset, repo: SimRepository, store: SQLiteStore, name: str
) -> dict[str, int]:
    """Every item, release, tag and commit the simulator has is stored, field by field, and
    every item's first response (two policies) equals the independent computation."""
    stored = {item.number: item for item in store.items(name)}
    assert set(stored) == {item.number for item in repo.items}
    counts = {"unanswered": 0, "paged": 0, "drafts": 0, "bot_authored": 0, "self_only": 0}
    for sim in repo.items:
        item = stored[sim.number]
        assert item.kind is (
            ItemKind.PULL_REQUEST if sim.kind == "pull_request" else ItemKind.ISSUE
        )
        assert (item.state.value, item.created_at, item.updated_at, item.closed_at, item.merged_at) == (
            sim.state, sim.created_at, sim.updated_at, sim.closed_at, sim.merged_at
        )  # fmt: skip
        assert item.is_draft == sim.is_draft
        assert item.author.login == sim.author
        assert item.author_association == sim.author_association
        assert item.labels == tuple(sorted(set(sim.labels)))
        sim_ids = {entry.id for entry in sim.timeline}
        stored_ids = {activity.id for activity in item.activities}
        assert stored_ids <= sim_ids
        if item.activity_cursor is None:
            assert stored_ids == sim_ids, sim.number
        else:
            counts["paged"] += 0  # stopped early because the first response was settled
        if len(sim.timeline) > 100:
            counts["paged"] += 1
        check_first_response(dataset, sim, item, counts)
    assert {
        (r.tag_name, r.published_at, r.is_prerelease, r.is_draft) for r in store.releases(name)
    } == {(r.tag_name, r.published_at, r.is_prerelease, r.is_draft) for r in repo.releases}
    assert {(t.name, t.commit_oid) for t in store.tags(name)} == {
        (t.name, t.commit_oid) for t in repo.tags
    }
    assert {(c.oid, c.committed_at, c.author_login) for c in store.commits(name)} == {
        (c.oid, c.committed_date, c.author_login) for c in repo.commits
    }
    return counts


def check_first_response(
    dataset: Dataset, sim: SimItem, item: object, counts: dict[str, int]
) -> None:
    from healthexporter.model import Item

    assert isinstance(item, Item)
    for responders, maintainers_only in (
        (Responders.ANYONE, False),
        (Responders.MAINTAINERS, True),
    ):
        ours = first_response(item, ResponsePolicy(responders=responders), is_bot)
        theirs = expected_first_response(
            dataset, sim, maintainers_only=maintainers_only, is_bot=sim_is_bot
        )
        assert (ours.clock_start, ours.responded_at, ours.responder) == (
            theirs.clock_start, theirs.responded_at, theirs.responder
        ), f"{item.ref} ({responders})"  # fmt: skip
    if ours.clock_start is None:
        counts["drafts"] += 1
    elif ours.responded_at is None:
        counts["unanswered"] += 1
    if sim.author is not None and sim_is_bot(dataset, sim.author):
        counts["bot_authored"] += 1


def test_backfill_stores_everything_with_first_responses(tmp_path: Path) -> None:
    dataset = generate("kube-rs")
    repo = dataset.repository("kube-rs", "kube")
    assert repo is not None
    with simulator(dataset) as server, exporter_for(server, tmp_path / "store.db") as exporter:
        [report] = exporter.sync(KUBE)
        assert report.ok, report.errors
        counts = assert_store_matches(dataset, repo, exporter.store, "kube-rs/kube")
        # the edge cases are really there (so the comparison above means something)
        assert counts["unanswered"] > 20
        assert counts["drafts"] >= 1
        assert counts["bot_authored"] > 50
        assert counts["paged"] >= 5  # items whose timeline is longer than one page

        stats = server.stats()
        operations = stats["operations"]
        n = len(repo.items)
        # Every stream advances in one bundled query a round, each within 149 requests: 1 point.
        # Items take 1 + 2 requests each (labels, timeline): at most 74 a query, at least 70
        # while releases, tags, commits and followed timelines ride along.
        assert operations["Page"] == stats["graphql_points"] == report.points
        assert math.ceil(n / 74) <= report.points <= math.ceil(n / 70) + 3
        # commits (100 a page) rode along with the items instead of costing a point a page
        assert math.ceil(len(repo.commits) / 100) < report.points
        # The issue's bound: 1.2·⌈N/100⌉·k + 10 with k = 2, the points of a page of 100 items
        assert report.points <= 1.2 * math.ceil(n / 100) * 2 + 10
        assert set(operations) == {
            "GET /repos/{owner}/{repo}",
            "GET /repos/{owner}/{repo}/issues",
            "GET /repos/{owner}/{repo}/releases",
            "Page",
        }

        # a second sync with nothing changed costs nothing: three conditional requests, all 304
        server.reset_stats()
        [again] = exporter.sync(KUBE)
        stats = server.stats()
        assert again.ok and again.points == 0
        assert stats["graphql_points"] == 0 and stats["core_charged"] == 0
        assert stats["requests"] == {"total": 3, "graphql": 0, "rest": 0, "rest_not_modified": 3}


def test_profiles_ride_along_in_page_queries_and_the_rest_come_in_batches() -> None:
    dataset = generate("kube-rs")
    with simulator(dataset) as server, exporter_for(server) as exporter:
        [report] = exporter.sync(KUBE)
        # up to 100 `repositoryOwner` lookups ride in each page query: no connection, no cost
        assert report.users > 150
        assert report.points == server.stats()["operations"]["Page"]
        assert "Users100" not in server.stats()["operations"]
        assert len(exporter.store.users()) == report.users
        # logins seen in the last query had no query left to ride in: one batch fetches them
        users, requests, points = exporter.syncer.sync_profiles()
        assert 0 < users <= 100 and requests == points == 1
        stored = exporter.store.users()
        for login, user in stored.items():
            sim_user = dataset.user(login)
            assert sim_user is not None
            assert user.company == sim_user.company
        # nothing new to fetch the second time
        assert exporter.syncer.sync_profiles() == (0, 0, 0)


def test_new_activity_appears_after_the_next_sync_and_equals_a_fresh_backfill(
    tmp_path: Path,
) -> None:
    dataset = generate("kube-rs")
    repo = dataset.repository("kube-rs", "kube")
    assert repo is not None
    with simulator(dataset) as server:
        with exporter_for(server, tmp_path / "polled.db") as exporter:
            exporter.sync(KUBE)
            summary = evolve(dataset, seed=7, advance=timedelta(hours=6), changed_fraction=0.05,
                             new_items=25, new_releases=2, new_commits=15)  # fmt: skip
            assert summary.first_responses > 0 and summary.new_items
            server.reset_stats()
            [report] = exporter.sync(KUBE)
            assert report.ok, report.errors
            assert report.items >= len(summary.touched_items)
            assert server.stats()["graphql_points"] < 30  # only what changed
            assert_store_matches(dataset, repo, exporter.store, "kube-rs/kube")
            # profiles ride along in whichever queries a sync makes; the rest come in batches
            exporter.syncer.sync_profiles()
            polled = exporter.store.dump()
        with exporter_for(server, tmp_path / "fresh.db") as fresh:
            fresh.sync(KUBE)
            fresh.syncer.sync_profiles()
            assert fresh.store.dump() == polled


def test_reconcile_removes_what_github_no_longer_has() -> None:
    dataset = generate("small")
    repo = dataset.repository("acme", "widgets")
    assert repo is not None
    clock = FakeClock()
    target = Target("acme", "acme/widgets")
    with simulator(dataset) as server, exporter_for(server, clock=clock) as exporter:
        exporter.sync(target)
        gone = repo.items[3]
        with dataset.lock:  # GitHub deleted (or transferred) an issue
            repo.items.remove(gone)
            dataset.add_release(
                repo, repo.releases[0].__class__("v99.0.0", dataset.now, dataset.now)
            )
        exporter.sync(target)  # a poll does not notice deletions …
        assert exporter.store.item("acme/widgets", gone.number) is not None
        clock.advance(timedelta(days=8).total_seconds())
        [report] = exporter.sync(target)  # … the weekly reconcile does
        assert report.ok
        assert exporter.store.item("acme/widgets", gone.number) is None
        assert_store_matches(dataset, repo, exporter.store, "acme/widgets")


def test_missing_renamed_archived_and_empty_repositories() -> None:
    dataset = generate("small+org:4")
    org = dataset.org_repositories("example-org")
    renamed, archived = org[0], org[1]
    old_name = renamed.full_name
    dataset.rename_repository(renamed, "new-name")
    dataset.archive_repository(archived)
    empty = SimRepository(owner="example-org", name="empty", created_at=dataset.now)
    dataset.add_repository(empty)
    targets = [
        Target("p", "acme/widgets"),
        Target("p", "acme/does-not-exist"),
        Target("p", old_name),
        Target("p", archived.full_name),
        Target("p", "example-org/empty"),
    ]
    with simulator(dataset) as server, exporter_for(server) as exporter:
        reports = {r.repository: r for r in exporter.sync(*targets)}
        assert reports["acme/does-not-exist"].error_reason == "not_found"
        assert not reports["acme/does-not-exist"].ok
        for name in ("acme/widgets", old_name, archived.full_name, "example-org/empty"):
            assert reports[name].ok, (name, reports[name].errors)
        # the renamed repository's data is kept under the configured name
        assert len(exporter.store.items(old_name)) == len(renamed.items)
        stored = dict((r.full_name, r) for _, r in exporter.store.repositories())
        assert stored[archived.full_name].is_archived
        assert stored["example-org/empty"].is_empty
        assert exporter.store.items("example-org/empty") == []


def test_org_expansion_with_filters() -> None:
    dataset = generate("org:12")
    repos = dataset.org_repositories("example-org")
    with simulator(dataset) as server, exporter_for(server) as exporter:
        everything = OrgSelection("example-org", archived=True, forks=True)
        targets, failures = exporter.syncer.targets([], [("p", everything)])
        assert not failures
        assert sorted(t.repository for t in targets) == sorted(r.full_name for r in repos)
        default = OrgSelection("example-org")
        targets, _ = exporter.syncer.targets([], [("p", default)])
        expected = sorted(r.full_name for r in repos if not r.is_archived and not r.is_fork)
        assert sorted(t.repository for t in targets) == expected
        first = repos[0].name
        picky = OrgSelection(
            "example-org", include=(first[:3] + "*",), exclude=(first,), archived=True, forks=True
        )
        targets, _ = exporter.syncer.targets([], [("p", picky)])
        assert first not in {t.repository.split("/")[1] for t in targets}
        # an unchanged org is listed again for free (ETag → 304)
        server.reset_stats()
        exporter.syncer.targets([], [("p", default)])
        assert server.stats()["core_charged"] == 0
        _, failures = exporter.syncer.targets([], [("p", OrgSelection("no-such-org"))])
        assert failures[0].error_reason == "not_found"


@pytest.mark.parametrize(
    "faults",
    [
        "502 api=graphql at=2-3",
        "503 api=any at=1",
        "reset api=graphql at=4",
        "timeout api=graphql at=5 seconds=0.5",
        "malformed api=graphql at=3",
        "truncate api=graphql at=6",
        "partial api=graphql at=2",
        "rate_limited api=graphql at=3",
        "secondary api=graphql at=2 seconds=30",
        "secondary status=429 api=rest at=1",
    ],
)
def test_faults_during_backfill_end_in_the_same_store(faults: str, tmp_path: Path) -> None:
    dataset = generate("small")
    target = Target("acme", "acme/widgets")
    # small pages, so the backfill takes ten queries and every fault lands inside it
    settings = SyncSettings(page_size=3)
    with simulator(dataset) as server:
        with exporter_for(server, tmp_path / "clean.db", settings=settings) as clean:
            clean.sync(target)
            reference = clean.store.dump()
        server.set_faults(faults)
        with exporter_for(server, tmp_path / "faulty.db", settings=settings) as faulty:
            # the exporter's HTTP timeout is 30 s; the "timeout" fault hangs shorter than that
            [report] = faulty.sync(target)
            assert report.ok, report.errors
            assert server.stats()["faults"], "the fault did not fire"
            assert faulty.store.dump() == reference


def test_a_poll_after_one_new_comment_costs_one_point() -> None:
    from healthexporter.simulator.dataset import SimTimelineEntry

    dataset = generate("small")
    repo = dataset.repository("acme", "widgets")
    assert repo is not None
    target = Target("acme", "acme/widgets")
    with simulator(dataset) as server, exporter_for(server) as exporter:
        exporter.sync(target)
        pull = next(i for i in repo.items if i.kind == "pull_request" and i.state == "OPEN")
        comment = SimTimelineEntry("IC_new", "IssueComment", "maintainer-1", dataset.now, "MEMBER")
        dataset.add_timeline_entry(repo, pull, comment)
        server.reset_stats()
        [report] = exporter.sync(target)
        stats = server.stats()
        # pull requests and issues in one query, 73 items each: round(148/100) = 1 point
        assert stats["operations"] == {
            "GET /repos/{owner}/{repo}": 1,
            "GET /repos/{owner}/{repo}/issues": 1,
            "GET /repos/{owner}/{repo}/releases": 1,
            "Page": 1,
        }
        assert stats["graphql_points"] == report.points == 1
        stored = exporter.store.item("acme/widgets", pull.number)
        assert stored is not None and "IC_new" in {a.id for a in stored.activities}


def test_closing_an_item_does_not_refetch_commits_or_tags() -> None:
    """The repository's ETag changes with its open-issue count; only a push brings commits."""
    from healthexporter.simulator.dataset import SimTimelineEntry

    dataset = generate("small")
    repo = dataset.repository("acme", "widgets")
    assert repo is not None
    target = Target("acme", "acme/widgets")
    with simulator(dataset) as server, exporter_for(server) as exporter:
        exporter.sync(target)
        issue = next(i for i in repo.items if i.kind == "issue" and i.state == "OPEN")
        dataset.add_timeline_entry(
            repo, issue, SimTimelineEntry("CE_new", "ClosedEvent", "maintainer-1", dataset.now)
        )
        server.reset_stats()
        [report] = exporter.sync(target)
        assert report.ok
        stats = server.stats()
        assert stats["repository_fields"] == {"pullRequests": 1, "issues": 1}
        assert stats["repository_shapes"] == {"issues+pullRequests": 1}  # no commits, tags
        stored = exporter.store.item("acme/widgets", issue.number)
        assert stored is not None and stored.state.value == "CLOSED"


def test_short_timeline_pages_follow_items_and_a_poll_refetches_an_overflowing_timeline(
    tmp_path: Path,
) -> None:
    """With 2 timeline entries a page, many items need further timeline pages for their first
    response: they ride along in the next bundled queries and their pages wait for them. A poll
    whose new activity on an item overflows one page fetches that item's timeline again from
    its start, then as far as its first response."""
    from healthexporter.simulator.dataset import SimTimelineEntry

    dataset = generate("small")
    repo = dataset.repository("acme", "widgets")
    assert repo is not None
    target = Target("acme", "acme/widgets")
    settings = SyncSettings(timeline_page_size=2)
    with simulator(dataset) as server, exporter_for(server, settings=settings) as exporter:
        [report] = exporter.sync(target)
        assert report.ok, report.errors
        followed = server.stats()["repository_fields"]
        assert followed.get("pullRequest", 0) + followed.get("issue", 0) >= 5
        assert report.points == server.stats()["operations"]["Page"]  # 1 point a query
        assert_store_matches(dataset, repo, exporter.store, "acme/widgets")

        pull = next(i for i in repo.items if i.kind == "pull_request" and i.state == "OPEN")
        new = [
            SimTimelineEntry(f"IC_poll_{n}", "IssueComment", "someone-else", dataset.now, "NONE")
            for n in range(3)
        ]
        for entry in new:
            dataset.add_timeline_entry(repo, pull, entry)
        server.reset_stats()
        [polled] = exporter.sync(target)
        assert polled.ok, polled.errors
        assert server.stats()["repository_fields"].get("pullRequest", 0) >= 1
        stored = exporter.store.item("acme/widgets", pull.number)
        assert stored is not None
        assert {e.id for e in new} <= {a.id for a in stored.activities}
        assert_store_matches(dataset, repo, exporter.store, "acme/widgets")
