"""Contributors with literal data: what counts as a contribution, who is a person, the window
edges, new and episodic people (docs/metrics.md, "Contributors")."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from healthexporter.health.contributors import (
    Contribution,
    contributions,
    contributors,
    contributors_from,
    raw_contributions,
)
from healthexporter.health.snapshot import (
    CONTRIBUTION_KINDS,
    Contributors,
    HealthSettings,
    RepositoryData,
    Window,
)
from healthexporter.model import (
    Activity,
    ActivityKind,
    Actor,
    ActorKind,
    Commit,
    Item,
    ItemKind,
    ItemState,
)

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
WINDOW = Window("30d", timedelta(days=30))
START = NOW - timedelta(days=30)


def is_bot(actor: Actor) -> bool:
    login = actor.login or ""
    return actor.kind is ActorKind.BOT or login.endswith(("-robot", "[bot]"))


SETTINGS = HealthSettings(is_bot=is_bot)  # episodic: 90 days lookback, at most 5 in all


def user(login: str) -> Actor:
    return Actor(login, ActorKind.USER)


def ago(days: float) -> datetime:
    return NOW - timedelta(days=days)


def comment(login: str | None, days: float, kind: ActorKind = ActorKind.USER) -> Activity:
    return Activity(f"C{login}{days}", ActivityKind.COMMENT, Actor(login, kind), ago(days), "NONE")


def review(login: str, days: float, state: str = "APPROVED") -> Activity:
    return Activity(f"R{login}{days}", ActivityKind.REVIEW, user(login), ago(days), "MEMBER", state)


def event(kind: ActivityKind, login: str, days: float) -> Activity:
    return Activity(f"E{login}{days}", kind, user(login), ago(days))


def item(
    kind: ItemKind, author: Actor, days: float, *activities: Activity, number: int = 1
) -> Item:
    return Item(
        repository="o/a", number=number, kind=kind, state=ItemState.OPEN, created_at=ago(days),
        updated_at=ago(days), author=author, author_association="NONE", activities=activities,
    )  # fmt: skip


def pr(login: str, days: float, *activities: Activity) -> Item:
    return item(ItemKind.PULL_REQUEST, user(login), days, *activities)


def issue(login: str, days: float, *activities: Activity) -> Item:
    return item(ItemKind.ISSUE, user(login), days, *activities)


def commit(login: str | None, days: float, identity: str | None = None) -> Commit:
    return Commit(
        repository="o/a", oid=f"{login}{days}", committed_at=NOW - timedelta(seconds=1),
        authored_at=ago(days), author_login=login, author_identity=identity or str(login),
    )  # fmt: skip


def repo(name: str, *items: Item, commits: tuple[Commit, ...] = ()) -> RepositoryData:
    return RepositoryData(project="p", repository=name, info=None, items=items, commits=commits)


def counts(active: int, new: int, episodic: int, **by_kind: int) -> Contributors:
    return Contributors(
        active=active,
        active_by_kind={kind: by_kind.get(kind, 0) for kind in CONTRIBUTION_KINDS},
        new=new,
        episodic=episodic,
    )


CASES = [
    # (name, repositories, expected)
    ("nothing", [], counts(0, 0, 0)),
    (
        "each kind once; pending reviews and events are not contributions",
        [
            repo(
                "o/a",
                pr(
                    "alice",
                    3,
                    review("dave", 2),
                    review("erin", 2, "PENDING"),
                    event(ActivityKind.MERGED, "gina", 1),
                    event(ActivityKind.CLOSED, "hal", 1),
                ),
                issue("bob", 4, comment("frank", 3)),
                commits=(commit("Carol", 5),),
            )
        ],
        counts(5, 5, 5, pull_request=1, issue=1, commit=1, review=1, comment=1),
    ),
    (
        "bots (by kind and by name) and deleted accounts are nobody",
        [
            repo(
                "o/a",
                item(
                    ItemKind.PULL_REQUEST,
                    Actor("dependabot", ActorKind.BOT),
                    3,
                    comment("k8s-ci-robot", 2),
                    comment(None, 2, ActorKind.DELETED),
                    comment("alice", 1),
                ),
                item(ItemKind.ISSUE, Actor.deleted(), 3, number=2),
                commits=(commit("renovate[bot]", 2), commit("alice", 2)),
            )
        ],
        counts(1, 1, 1, comment=1, commit=1),
    ),
    (
        "logins are case-insensitive; an unlinked commit author is their e-mail identity",
        [
            repo(
                "o/a",
                pr("Alice", 3, comment("ALICE", 2)),
                commits=(
                    commit(None, 2, "email:1a2b"),
                    commit(None, 1, "email:1a2b"),
                    commit("alice", 1),
                ),
            )
        ],
        counts(2, 2, 2, pull_request=1, comment=1, commit=2),
    ),
    (
        "window edges: the start is in, now is out",
        [repo("o/a", pr("alice", 30), pr("bob", 0), pr("carol", 30.0001))],
        counts(1, 1, 1, pull_request=1),
    ),
    (
        "new: nothing before the window; returning people are not new",
        [repo("o/a", pr("alice", 200), pr("alice", 10), issue("bob", 10, comment("carol", 40)))],
        counts(2, 1, 2, pull_request=1, issue=1),
    ),
    (
        "episodic: a contribution in the 90-day lookback makes a regular",
        [repo("o/a", pr("alice", 30 + 89), pr("alice", 5), pr("bob", 30 + 91), pr("bob", 5))],
        counts(2, 0, 1, pull_request=2),
    ),
    (
        # alice 5 (episodic), bob 6 (not), carol 5 up to now and one after it (episodic)
        "episodic: at most 5 contributions in all, future ones not counted",
        [
            repo(
                "o/a",
                issue("alice", 9, *(comment("alice", d) for d in (8, 7, 6, 5))),
                issue("bob", 9, *(comment("bob", d) for d in (8, 7, 6, 5, 4))),
                issue(
                    "carol", 400, *(comment("carol", d) for d in (8, 7, 6, 5)), comment("carol", -1)
                ),
            )
        ],
        counts(3, 2, 2, issue=2, comment=3),
    ),
]


@pytest.mark.parametrize(
    ("repositories", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_contributors(repositories: list[RepositoryData], expected: Contributors) -> None:
    assert contributors(repositories, WINDOW, NOW, SETTINGS) == expected


# alice works in both repositories, bob only in o/a but long ago in o/b
PROJECT = [
    repo("o/a", pr("alice", 3), pr("bob", 2)),
    repo("o/b", issue("Alice", 4, comment("bob", 300))),
]


@pytest.mark.parametrize(
    ("repositories", "expected"),
    [
        ([PROJECT[0]], counts(2, 2, 2, pull_request=2)),
        ([PROJECT[1]], counts(1, 1, 1, issue=1)),
        # one person in two repositories is one; bob is not new to the project
        (PROJECT, counts(2, 1, 2, pull_request=2, issue=1)),
    ],
    ids=["o/a", "o/b", "project"],
)
def test_people_are_counted_once_across_repositories(
    repositories: list[RepositoryData], expected: Contributors
) -> None:
    assert contributors(repositories, WINDOW, NOW, SETTINGS) == expected


def test_episodic_settings_are_respected() -> None:
    data = [repo("o/a", pr("alice", 50), pr("alice", 5), pr("bob", 5), pr("bob", 4))]
    strict = HealthSettings(
        is_bot=is_bot, episodic_lookback=timedelta(days=10), episodic_max_contributions=1
    )
    # alice's earlier one is 20 days before the window: outside a 10-day lookback, but she
    # has 2 contributions; bob has 2 as well
    assert contributors(data, WINDOW, NOW, strict).episodic == 0
    loose = HealthSettings(is_bot=is_bot, episodic_lookback=timedelta(days=10))
    assert contributors(data, WINDOW, NOW, loose).episodic == 2


def test_contributions_lists_each_one() -> None:
    data = repo(
        "o/a",
        pr(
            "Alice",
            3,
            review("bob", 2, "COMMENTED"),
            review("bob", 1, "PENDING"),
            comment("carol", 1),
        ),
        issue("dependabot[bot]", 2, comment("alice", 1)),
        commits=(commit("Bob", 4), commit(None, 5, "email:9f")),
    )
    got = sorted(contributions([data], is_bot), key=lambda c: (c.at, c.person))
    assert got == [
        Contribution("email:9f", "commit", ago(5), "o/a"),
        Contribution("bob", "commit", ago(4), "o/a"),
        Contribution("alice", "pull_request", ago(3), "o/a"),
        Contribution("bob", "review", ago(2), "o/a"),
        Contribution("alice", "comment", ago(1), "o/a"),
        Contribution("carol", "comment", ago(1), "o/a"),
    ]


def test_commits_count_when_authored_not_when_committed() -> None:
    # authored before the window, landed (committed) inside it: the work is older
    late = Commit("o/a", "abc", committed_at=ago(1), authored_at=ago(40), author_login="alice",
                  author_identity="alice")  # fmt: skip
    assert contributors([repo("o/a", commits=(late,))], WINDOW, NOW, SETTINGS) == counts(0, 0, 0)


def test_extracting_once_for_several_windows_gives_the_same_numbers() -> None:
    data = [repo("o/a", pr("alice", 200), pr("alice", 10), issue("bob", 3, comment("carol", 40)))]
    extracted = list(raw_contributions(data, is_bot))
    for window in (WINDOW, Window("90d", timedelta(days=90)), Window("1y", timedelta(days=365))):
        assert contributors_from(extracted, window, NOW, SETTINGS) == contributors(
            data, window, NOW, SETTINGS
        )
