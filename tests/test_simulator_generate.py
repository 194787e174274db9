"""The seeded generator: reproducible, internally consistent, big enough, and full of the edge
cases the first-response and contributor maths must get right; evolve moves it forward."""

from __future__ import annotations

import itertools
import json
import statistics
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from healthexporter.simulator.dataset import (
    ASSOCIATIONS,
    REVIEW_STATES,
    TIMELINE_TYPES,
    Dataset,
    SimItem,
    SimRepository,
)
from healthexporter.simulator.evolve import evolve
from healthexporter.simulator.generate import (
    BOT_ACCOUNTS,
    DEFAULT_NOW,
    MAINTAINER_ASSOCIATIONS,
    generate,
    parse_spec,
)

HOUR = timedelta(hours=1)
DAY = timedelta(days=1)
EVENT_TYPES = {"ReadyForReviewEvent", "ConvertToDraftEvent", "ClosedEvent", "MergedEvent",
               "ReopenedEvent"}  # fmt: skip


@pytest.fixture(scope="module")
def kube() -> Dataset:
    return generate("kube-rs")


@pytest.fixture(scope="module")
def kube_repo(kube: Dataset) -> SimRepository:
    repo = kube.repository("kube-rs", "kube")
    assert repo is not None
    return repo


def is_bot(dataset: Dataset, login: str | None) -> bool:
    if login is None:
        return False
    user = dataset.user(login)
    return login in BOT_ACCOUNTS or (user is not None and user.kind == "Bot")


def first_response(dataset: Dataset, item: SimItem) -> datetime | None:
    """The rule the tests assume: first submitted comment or review by a human who is not the
    author, after the item last became ready for review."""
    ready_at = item.created_at
    for entry in item.timeline:
        if entry.type == "ReadyForReviewEvent":
            ready_at = entry.created_at
    for entry in item.timeline:
        at = entry.submitted_at or entry.created_at
        if (
            entry.type in ("IssueComment", "PullRequestReview")
            and entry.review_state != "PENDING"
            and entry.actor != item.author
            and not is_bot(dataset, entry.actor)
            and at >= ready_at
        ):
            return at
    return None


def problems(dataset: Dataset) -> list[str]:
    """Every broken invariant of a dataset, as readable lines."""
    out: list[str] = []
    ids: Counter[str] = Counter()
    now = dataset.now
    for repo in dataset.repositories.values():
        numbers = [i.number for i in repo.items]
        if numbers != sorted(set(numbers)):
            out.append(f"{repo.full_name}: numbers not unique and sorted")
        created = [i.created_at for i in repo.items]
        if created != sorted(created):
            out.append(f"{repo.full_name}: numbers do not follow creation order")
        oids = {c.oid for c in repo.commits}
        if len(oids) != len(repo.commits):
            out.append(f"{repo.full_name}: duplicate commit oids")
        dates = [c.committed_date for c in repo.commits]
        if dates != sorted(dates, reverse=True) or any(d > now for d in dates):
            out.append(f"{repo.full_name}: commits not newest first or after now")
        pushes = dates[:1] + [t.tagged_at for t in repo.tags]
        if repo.pushed_at != (max(pushes) if pushes else None):
            out.append(f"{repo.full_name}: pushed_at {repo.pushed_at} is not the last push")
        if repo.updated_at is not None and not repo.created_at <= repo.updated_at <= now:
            out.append(f"{repo.full_name}: updated_at {repo.updated_at} outside created..now")
        for tag in repo.tags:
            if tag.commit_oid not in oids:
                out.append(f"{repo.full_name}: tag {tag.name} points nowhere")
        for release in repo.releases:
            ids[release.node_id] += 1
            if release.is_draft != (release.published_at is None):
                out.append(f"{repo.full_name}: release {release.tag_name} draft/published")
            if release.published_at is not None and not (
                release.created_at <= release.published_at <= now
            ):
                out.append(f"{repo.full_name}: release {release.tag_name} published out of order")
        for item in repo.items:
            out.extend(f"{repo.full_name}#{item.number}: {p}" for p in item_problems(dataset, item))
            ids[item.node_id] += 1
            ids.update(e.id for e in item.timeline)
    out.extend(f"duplicate id {i}" for i, n in ids.items() if n > 1)
    return out


def item_problems(dataset: Dataset, item: SimItem) -> list[str]:
    out = []
    pull_request = item.kind == "pull_request"
    if item.kind not in ("pull_request", "issue"):
        out.append(f"kind {item.kind}")
    if item.author_association not in ASSOCIATIONS:
        out.append(f"association {item.author_association}")
    if item.author is not None and dataset.user(item.author) is None:
        out.append(f"unknown author {item.author}")
    state, closed_at, merged_at, merged_by = "OPEN", None, None, None
    updated = item.created_at
    draft_events = []
    times = [item.created_at, item.updated_at] + [e.created_at for e in item.timeline]
    if any(t.microsecond or t.tzinfo is not UTC for t in times):
        out.append("time not whole UTC seconds")
    for entry in item.timeline:
        if entry.type not in TIMELINE_TYPES:
            out.append(f"type {entry.type}")
        if not item.created_at <= entry.created_at <= dataset.now:
            out.append(f"{entry.id} at {entry.created_at} outside created..now")
        if entry.actor is not None and dataset.user(entry.actor) is None:
            out.append(f"unknown actor {entry.actor}")
        if entry.type in EVENT_TYPES and entry.author_association is not None:
            out.append(f"{entry.id}: events carry no association")
        if (
            entry.type in ("IssueComment", "PullRequestReview")
            and entry.author_association not in ASSOCIATIONS
        ):
            out.append(f"{entry.id}: association {entry.author_association}")
        if entry.type == "PullRequestReview":
            if entry.review_state not in REVIEW_STATES:
                out.append(f"{entry.id}: review state {entry.review_state}")
            if (entry.review_state == "PENDING") != (entry.submitted_at is None):
                out.append(f"{entry.id}: PENDING iff not submitted")
            if entry.submitted_at is not None and not (
                entry.created_at <= entry.submitted_at <= dataset.now
            ):
                out.append(f"{entry.id}: submitted out of order")
        elif entry.review_state is not None or entry.submitted_at is not None:
            out.append(f"{entry.id}: review fields on a {entry.type}")
        if not pull_request and entry.type not in ("IssueComment", "ClosedEvent", "ReopenedEvent"):
            out.append(f"{entry.id}: {entry.type} on an issue")
        updated = max(updated, entry.submitted_at or entry.created_at)
        if entry.type == "ClosedEvent":
            state, closed_at = "CLOSED", entry.created_at
        elif entry.type == "MergedEvent":
            state, closed_at, merged_at, merged_by = (
                "MERGED",
                entry.created_at,
                *(
                    entry.created_at,
                    entry.actor,
                ),
            )
        elif entry.type == "ReopenedEvent":
            state, closed_at = "OPEN", None
        elif entry.type in ("ReadyForReviewEvent", "ConvertToDraftEvent"):
            draft_events.append(entry.type)
    if [e.created_at for e in item.timeline] != sorted(e.created_at for e in item.timeline):
        out.append("timeline not in time order")
    if item.updated_at != updated:
        out.append(f"updated_at {item.updated_at} != last activity {updated}")
    if (item.state, item.closed_at, item.merged_at, item.merged_by) != (
        state,
        closed_at,
        merged_at,
        merged_by,
    ):
        out.append(f"state {item.state} does not follow the events ({state})")
    if draft_events and item.is_draft != (draft_events[-1] == "ConvertToDraftEvent"):
        out.append("is_draft does not follow the last draft event")
    if item.is_draft and not pull_request:
        out.append("draft issue")
    return out


# --- determinism ---------------------------------------------------------------------------


def test_same_seed_gives_the_same_dataset() -> None:
    assert generate("kube-rs+org:10").to_json() == generate("kube-rs+org:10").to_json()


def test_different_seeds_give_different_datasets() -> None:
    assert generate("kube-rs", seed=1).to_json() != generate("kube-rs", seed=2).to_json()
    assert generate("org:5", seed=1).to_json() != generate("org:5", seed=2).to_json()


def test_small_is_scripted_and_ignores_the_seed() -> None:
    assert generate("small", seed=1).to_json() == generate("small", seed=99).to_json()


def test_a_repository_does_not_depend_on_what_else_is_generated(kube: Dataset) -> None:
    combined = generate("kube-rs+org:5")
    alone = kube.to_json()["repositories"][0]
    assert combined.to_json()["repositories"][0] == alone
    assert len(combined.repositories) == 6


def test_json_round_trip_is_exact() -> None:
    dataset = generate("small+kube-rs:items=300+org:20")
    data = dataset.to_json()
    again = Dataset.from_json(json.loads(json.dumps(data)))
    assert again.to_json() == data
    assert again.now == dataset.now == DEFAULT_NOW


def test_now_sets_where_activity_ends() -> None:
    now = datetime(2024, 3, 1, 12, 0, tzinfo=UTC)
    dataset = generate("kube-rs:items=200+small", now=now)
    assert dataset.now == now
    assert problems(dataset) == []
    with pytest.raises(ValueError, match="timezone-aware"):
        generate("small", now=datetime(2024, 3, 1))


def test_the_documented_example_loads() -> None:
    text = (Path(__file__).parent.parent / "docs" / "simulator.md").read_text(encoding="utf-8")
    example = text.split("```json\n", 1)[1].split("```", 1)[0]
    dataset = Dataset.from_json(json.loads(example))
    repo = dataset.repository("acme", "widgets")
    assert repo is not None and repo.items[0].timeline[0].actor == "alice"
    assert problems(dataset) == []


# --- SPEC ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "parsed"),
    [
        ("small", [("small", {})]),
        ("kube-rs+org:300", [("kube-rs", {}), ("org", {"repos": 300})]),
        ("kube-rs:items=500,releases=20", [("kube-rs", {"items": 500, "releases": 20})]),
        ("org:repos=4,items=9", [("org", {"repos": 4, "items": 9})]),
        (" kubernetes:items=1000 ", [("kubernetes", {"items": 1000})]),
    ],
)
def test_spec_grammar(spec: str, parsed: list[tuple[str, dict[str, int]]]) -> None:
    assert parse_spec(spec) == parsed


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("linux", "unknown dataset 'linux'"),
        ("kube-rs:repos=3", "takes no parameter"),
        ("kube-rs:500", "takes no parameter"),
        ("org:many", "not a whole number"),
        ("org:items=x", "not a whole number"),
        ("org", "repository count"),
        ("small+small", "twice"),
    ],
)
def test_bad_specs_are_refused(spec: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        generate(spec)


def test_overrides_scale_a_repository() -> None:
    dataset = generate("kube-rs:items=400,releases=12,commits=300")
    repo = dataset.repository("kube-rs", "kube")
    assert repo is not None
    assert 400 <= len(repo.items) <= 440  # plus the planted edge cases
    assert len(repo.releases) == 12 + 2  # and two drafts
    assert 300 <= len(repo.commits) <= 330
    assert problems(dataset) == []


# --- consistency and scale -------------------------------------------------------------------


def test_kube_rs_is_consistent(kube: Dataset, kube_repo: SimRepository) -> None:
    assert problems(kube) == []
    assert kube_repo.updated_at == max(i.updated_at for i in kube_repo.items)


def test_org_and_small_are_consistent() -> None:
    assert problems(generate("small+org:60")) == []


def test_kube_rs_has_the_size_of_kube_rs(kube: Dataset, kube_repo: SimRepository) -> None:
    prs = [i for i in kube_repo.items if i.kind == "pull_request"]
    issues = [i for i in kube_repo.items if i.kind == "issue"]
    assert 1200 <= len(prs) <= 1400
    assert 600 <= len(issues) <= 800
    assert 1900 <= len(kube_repo.items) <= 2150
    merged_authors = {i.author for i in prs if i.merged_at is not None and i.author}
    humans = {a for a in merged_authors if not is_bot(kube, a)}
    assert 150 <= len(humans) <= 260
    assert 2300 <= len(kube_repo.commits) <= 2700
    published = [r for r in kube_repo.releases if not r.is_draft]
    assert 100 <= len(published) <= 120
    span = published[-1].created_at - published[0].created_at
    assert timedelta(days=6 * 365) < span < timedelta(days=7 * 365)
    intervals = [(b.created_at - a.created_at).days for a, b in itertools.pairwise(published)]
    assert 15 <= statistics.median(intervals) <= 30


def test_org_has_many_small_repositories() -> None:
    dataset = generate("org:300")
    repos = list(dataset.repositories.values())
    assert len(repos) == 300
    assert {r.owner for r in repos} == {"example-org"}
    assert all(5 <= len(r.items) <= 40 for r in repos)
    assert 10 <= sum(r.is_archived for r in repos) <= 60
    assert 10 <= sum(r.is_fork for r in repos) <= 60
    assert sum(r.is_empty for r in repos) >= 2
    archived = [r for r in repos if r.is_archived]
    assert all(i.updated_at < dataset.now - timedelta(days=29) for r in archived for i in r.items)
    assert len(dataset.org_repositories("example-org")) == 300


def test_kubernetes_has_140k_items_quickly() -> None:
    started = time.perf_counter()
    dataset = generate("kubernetes")
    elapsed = time.perf_counter() - started
    repo = dataset.repository("kubernetes", "kubernetes")
    assert repo is not None
    planted = len(repo.items) - 140_000
    assert 0 <= planted <= 100
    entries = sum(len(i.timeline) for i in repo.items)
    assert 3.0 <= entries / len(repo.items) <= 5.0
    merges = Counter(i.merged_by for i in repo.items if i.merged_by)
    assert merges.most_common(1)[0][0] == "k8s-ci-robot"  # Prow merges, as a User account
    assert elapsed < 30, f"generate('kubernetes') took {elapsed:.1f} s"


# --- edge cases ------------------------------------------------------------------------------


def test_bots_come_in_every_kind(kube: Dataset) -> None:
    kinds = {login: kube.users[login].kind for login in BOT_ACCOUNTS if login in kube.users}
    assert kinds == {
        "dependabot[bot]": "Bot",
        "github-actions[bot]": "Bot",
        "codecov[bot]": "Bot",
        "copilot-swe-agent[bot]": "Bot",
        "k8s-ci-robot": "User",
    }


def test_authors_are_bots_ghosts_mannequins_and_people(kube_repo: SimRepository) -> None:
    prs = [i for i in kube_repo.items if i.kind == "pull_request"]
    authors = Counter(i.author for i in prs)
    assert 0.07 <= authors["dependabot[bot]"] / len(prs) <= 0.13
    assert authors["copilot-swe-agent[bot]"] >= 10
    assert sum(1 for i in kube_repo.items if i.author is None) >= 5
    assert sum(1 for i in kube_repo.items if i.author_association == "MANNEQUIN") >= 2
    pr_associations = Counter(i.author_association for i in prs)
    assert pr_associations["FIRST_TIME_CONTRIBUTOR"] >= 100
    assert 1 <= pr_associations["FIRST_TIMER"] <= 60
    assert pr_associations["CONTRIBUTOR"] >= 300
    assert sum(pr_associations[a] for a in MAINTAINER_ASSOCIATIONS) >= 200
    assert {"OWNER", "MEMBER", "COLLABORATOR"} <= set(pr_associations)
    issue_associations = Counter(i.author_association for i in kube_repo.items if i.kind == "issue")
    assert issue_associations.most_common(1)[0][0] == "NONE"


def test_contributor_means_a_merged_pull_request_before(kube_repo: SimRepository) -> None:
    """GitHub: FIRST_TIME_CONTRIBUTOR "has not previously committed to the repository"."""
    merges: dict[str, list[datetime]] = {}
    for item in kube_repo.items:
        if item.merged_at is not None and item.author is not None:
            merges.setdefault(item.author, []).append(item.merged_at)
    checked = 0
    for item in kube_repo.items:
        if item.kind != "pull_request" or item.author_association not in (
            "CONTRIBUTOR",
            "FIRST_TIME_CONTRIBUTOR",
            "FIRST_TIMER",
        ):
            continue
        assert item.author is not None
        merged_before = any(at < item.created_at for at in merges.get(item.author, []))
        assert merged_before == (item.author_association == "CONTRIBUTOR"), item.number
        checked += 1
    assert checked >= 800


def test_companies_are_spelled_many_ways(kube: Dataset) -> None:
    companies = Counter(u.company for u in kube.users.values() if u.kind == "User")
    acme = {c for c in companies if c and "acme" in c.lower()}
    red_hat = {c for c in companies if c and "red" in c.lower()}
    assert len(acme) >= 3 and len(red_hat) >= 2
    assert companies[None] >= 50


def test_timelines_hold_the_first_response_traps(kube: Dataset, kube_repo: SimRepository) -> None:
    counts: Counter[str] = Counter()
    for item in kube_repo.items:
        tl = item.timeline
        humans = [e for e in tl if e.type in ("IssueComment", "PullRequestReview")]
        humans = [e for e in humans if not is_bot(kube, e.actor)]
        if (
            tl
            and is_bot(kube, tl[0].actor)
            and tl[0].created_at - item.created_at < timedelta(minutes=5)
        ):
            counts["bot first within minutes"] += 1
        if humans and humans[0].actor == item.author and first_response(kube, item):
            counts["self response first"] += 1
        if any(e.review_state == "PENDING" and e.submitted_at is None for e in tl):
            counts["pending review"] += 1
        counts.update(f"review {e.review_state}" for e in tl if e.review_state)
        types = [e.type for e in tl]
        if "ReadyForReviewEvent" in types:
            ready = types.index("ReadyForReviewEvent")
            if any(e.author_association in MAINTAINER_ASSOCIATIONS for e in tl[:ready]):
                counts["maintainer comment while draft"] += 1
        if (
            "ConvertToDraftEvent" in types
            and "ReadyForReviewEvent" in types[types.index("ConvertToDraftEvent") :]
        ):
            counts["converted to draft and back"] += 1
        if item.is_draft and item.state == "OPEN":
            counts["open draft"] += 1
        alone = all(e.actor == item.author or is_bot(kube, e.actor) for e in tl)
        if item.state == "CLOSED" and tl[-1].actor == item.author and item.author and alone:
            counts["closed by author alone"] += 1
        noise = all(e.actor == item.author or is_bot(kube, e.actor) for e in tl[:100])
        if len(tl) > 100 and noise and first_response(kube, item) is not None:
            counts["100+ bot/author entries first"] += 1
        if any(e.type == "ClosedEvent" and is_bot(kube, e.actor) for e in tl):
            counts["closed by a bot"] += 1
        if "ReopenedEvent" in types:
            counts["reopened"] += 1
        if any(e.actor is None for e in tl):
            counts["deleted commenter"] += 1
        if item.state == "OPEN" and item.kind == "issue":
            counts.update(f"open {label}" for label in item.labels)
    assert counts["bot first within minutes"] >= 500
    assert counts["self response first"] >= 100
    assert counts["pending review"] >= 5
    for state in ("APPROVED", "CHANGES_REQUESTED", "COMMENTED", "DISMISSED", "PENDING"):
        assert counts[f"review {state}"] >= 5, state
    assert counts["maintainer comment while draft"] >= 5
    assert counts["converted to draft and back"] >= 5
    assert counts["open draft"] >= 3
    assert counts["closed by author alone"] >= 10
    assert counts["100+ bot/author entries first"] >= 5
    assert counts["closed by a bot"] >= 10
    assert counts["reopened"] >= 5
    assert counts["deleted commenter"] >= 5
    assert counts["open good first issue"] >= 5
    assert counts["open help wanted"] >= 5


def test_unanswered_items_wait_from_hours_to_months(
    kube: Dataset, kube_repo: SimRepository
) -> None:
    waiting = [
        kube.now - i.created_at
        for i in kube_repo.items
        if i.state == "OPEN" and first_response(kube, i) is None
    ]
    assert len(waiting) >= 20
    assert min(waiting) < DAY
    assert any(DAY < w < 7 * DAY for w in waiting)
    assert any(30 * DAY < w < 90 * DAY for w in waiting)
    assert max(waiting) > 180 * DAY


def test_response_times_spread_from_minutes_to_weeks(
    kube: Dataset, kube_repo: SimRepository
) -> None:
    delays = []
    for item in kube_repo.items:
        answered = first_response(kube, item)
        if answered is not None:
            delays.append((answered - item.created_at).total_seconds())
    assert len(delays) >= 1000
    assert min(delays) < 600
    assert max(delays) > 14 * 86400
    assert 3600 <= statistics.median(delays) <= 2 * 86400


def test_releases_and_tags(kube_repo: SimRepository) -> None:
    releases = kube_repo.releases
    assert sum(r.is_prerelease for r in releases) >= 3
    assert any("-rc." in r.tag_name for r in releases)
    drafts = [r for r in releases if r.is_draft]
    assert 1 <= len(drafts) <= 2
    assert all(r.published_at is None for r in drafts)
    tags = {t.name for t in kube_repo.tags}
    assert {r.tag_name for r in releases if not r.is_draft} <= tags
    assert len(tags - {r.tag_name for r in releases}) >= 3
    assert not tags & {r.tag_name for r in drafts}


def test_commits_have_linked_unlinked_and_bot_authors(kube_repo: SimRepository) -> None:
    logins = Counter(c.author_login for c in kube_repo.commits)
    assert logins["dependabot[bot]"] >= 50
    assert 20 <= logins[None] <= 400  # e-mails GitHub cannot link to an account
    assert all(c.authored_date <= c.committed_date for c in kube_repo.commits)


# --- small: exact, scripted ------------------------------------------------------------------


def test_small_is_scripted() -> None:
    dataset = generate("small")
    repo = dataset.repository("acme", "widgets")
    assert repo is not None and len(dataset.repositories) == 1
    assert len(repo.items) == 30
    assert problems(dataset) == []
    by_number = {i.number: i for i in repo.items}
    mannequin = by_number[1]
    assert (mannequin.author_association, mannequin.kind) == ("MANNEQUIN", "issue")
    plain = by_number[2]
    assert (plain.author, plain.author_association, plain.state) == (
        "dave",
        "FIRST_TIME_CONTRIBUTOR",
        "MERGED",
    )
    assert first_response(dataset, plain) == plain.created_at + 5 * HOUR
    assert plain.merged_by == "alice"
    draft = by_number[7]  # dave again, now a contributor; the draft comment does not count
    assert draft.author_association == "CONTRIBUTOR"
    assert first_response(dataset, draft) == draft.created_at + 26 * HOUR
    pending = by_number[9]
    assert first_response(dataset, pending) == pending.created_at + 10 * HOUR
    first_timer = next(i for i in repo.items if i.author == "judy" and i.kind == "pull_request")
    assert first_timer.author_association == "FIRST_TIMER"
    chain = by_number[17]
    assert len(chain.timeline) == 113
    assert chain.timeline[0].author_association == "FIRST_TIME_CONTRIBUTOR"
    assert first_response(dataset, chain) == chain.created_at + 40 * HOUR
    unanswered = [i for i in repo.items if i.state == "OPEN" and not first_response(dataset, i)]
    assert [i.number for i in unanswered] == [20, 22, 25, 26, 27, 28, 29, 30]
    assert {r.tag_name for r in repo.releases if r.is_prerelease} == {"v0.2.0-rc.1"}
    assert dataset.users["dave"].company == "@Acme"


# --- evolve ----------------------------------------------------------------------------------


def entry_count(dataset: Dataset) -> int:
    return sum(len(i.timeline) for r in dataset.repositories.values() for i in r.items)


def test_evolve_moves_time_and_lands_changes_after_the_old_now() -> None:
    dataset = generate("kube-rs+org:20")
    before = dataset.to_json()
    old_now, version, entries = dataset.now, dataset.version, entry_count(dataset)
    repo_versions = dict(dataset.repo_versions)
    summary = evolve(
        dataset,
        seed=7,
        advance=2 * HOUR,
        changed_fraction=0.02,
        new_items=12,
        new_releases=3,
        new_commits=8,
    )
    assert (summary.previous_now, summary.now) == (old_now, old_now + 2 * HOUR)
    assert dataset.now == old_now + 2 * HOUR
    assert entry_count(dataset) == entries + summary.timeline_entries
    assert len(summary.changed_items) >= 40 and len(summary.new_items) == 12
    assert summary.first_responses > 0 and summary.merged + summary.closed > 0
    assert len(summary.new_releases) == 3 and summary.new_commits >= 8
    assert dataset.version > version
    touched_repos = {ref.split("#")[0].lower() for ref in summary.touched_items}
    assert all(dataset.repo_versions[r] > repo_versions[r] for r in touched_repos)
    assert problems(dataset) == []
    old_ids = {e["id"] for r in before["repositories"] for i in r["items"] for e in i["timeline"]}
    for repo in dataset.repositories.values():
        for item in repo.items:
            for entry in item.timeline:
                if entry.id not in old_ids:
                    assert old_now < entry.created_at <= dataset.now
        for commit in repo.commits[:1]:
            assert commit.committed_date <= dataset.now
    for ref in summary.new_items:
        full_name, number = ref.split("#")
        owner, name = full_name.split("/")
        found = dataset.repository(owner, name)
        assert found is not None
        new_item = found.item(int(number))
        assert new_item is not None and old_now < new_item.created_at <= dataset.now
    for ref in summary.new_releases:
        full_name, tag = ref.split("@")
        owner, name = full_name.split("/")
        found = dataset.repository(owner, name)
        assert found is not None
        assert tag in {t.name for t in found.tags}
        assert found.pushed_at is not None and found.pushed_at > old_now


def test_evolve_is_deterministic() -> None:
    one, two = generate("kube-rs:items=300+org:5"), generate("kube-rs:items=300+org:5")
    first = evolve(one, seed=3, changed_fraction=0.05, new_items=4, new_releases=1, new_commits=2)
    second = evolve(two, seed=3, changed_fraction=0.05, new_items=4, new_releases=1, new_commits=2)
    assert first == second
    assert one.to_json() == two.to_json()
    three = generate("kube-rs:items=300+org:5")
    evolve(three, seed=4, changed_fraction=0.05, new_items=4, new_releases=1, new_commits=2)
    assert three.to_json() != one.to_json()


def test_evolve_repeatedly_keeps_the_dataset_consistent() -> None:
    dataset = generate("small+org:5")
    refs: set[str] = set()
    for step in range(5):
        summary = evolve(dataset, seed=step, advance=DAY, changed_fraction=0.1, new_items=3)
        refs.update(summary.new_items)
    assert len(refs) == 15
    assert dataset.now == DEFAULT_NOW + 5 * DAY
    assert problems(dataset) == []


def test_evolve_only_touches_chosen_unarchived_repositories() -> None:
    dataset = generate("small+org:30")
    archived = next(r for r in dataset.repositories.values() if r.is_archived)
    untouched = json.dumps(dataset.to_json()["repositories"][1:])
    summary = evolve(
        dataset,
        seed=1,
        changed_fraction=0.5,
        new_items=3,
        new_commits=2,
        new_releases=1,
        repositories=["acme/widgets", archived.full_name],
    )
    assert {ref.split("#")[0] for ref in summary.touched_items} == {"acme/widgets"}
    assert json.dumps(dataset.to_json()["repositories"][1:]) == untouched
    with pytest.raises(ValueError, match="no repository"):
        evolve(dataset, seed=1, repositories=["acme/nothing"])
    with pytest.raises(ValueError, match="at least one second"):
        evolve(dataset, seed=1, advance=timedelta(0))


def test_evolve_answers_waiting_items() -> None:
    dataset = generate("small")
    repo = dataset.repository("acme", "widgets")
    assert repo is not None
    waiting = [i for i in repo.items if i.state == "OPEN" and not first_response(dataset, i)]
    summary = evolve(dataset, seed=2, changed_fraction=1.0)
    assert summary.first_responses >= 1
    still = [i for i in repo.items if i.state == "OPEN" and not first_response(dataset, i)]
    assert len(still) < len(waiting)
