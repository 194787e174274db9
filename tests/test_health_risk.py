"""Bus factor (CHAOSS Contributor Absence Factor) and elephant factor with literal data
(docs/metrics.md, "Risk (bus and elephant factor)")."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from healthexporter.health.affiliation import AffiliationEntry, Affiliations
from healthexporter.health.contributors import raw_contributions
from healthexporter.health.risk import absence_factor, risk, risk_from
from healthexporter.health.snapshot import HealthSettings, RepositoryData, Risk, Window
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


@pytest.mark.parametrize(
    ("counts", "expected"),
    [
        ([], 0),
        ([0, 0], 0),
        ([1], 1),
        ([6, 4], 1),  # 60% is more than half
        ([4, 4, 2], 2),  # 40% is not; 80% is
        ([5, 5], 2),  # exactly half is not more than half
        ([1, 1, 1, 1], 3),
        ([2, 1, 1], 2),  # 50% again
        ([3, 1, 1], 1),
        ([1000, 202, 90, 33, 332, 343, 42, 433], 2),  # CHAOSS' worked example: 1,433 > 1,237.5
    ],
)
def test_absence_factor(counts: list[int], expected: int) -> None:
    assert absence_factor(counts) == expected


def ago(days: float) -> datetime:
    return NOW - timedelta(days=days)


def comments(login: str, *days: float) -> tuple[Activity, ...]:
    actor = Actor(login, ActorKind.USER)
    return tuple(Activity(f"{login}{d}", ActivityKind.COMMENT, actor, ago(d)) for d in days)


def issue(number: int, login: str, days: float, *activities: Activity) -> Item:
    return Item(
        repository="o/a", number=number, kind=ItemKind.ISSUE, state=ItemState.OPEN,
        created_at=ago(days), updated_at=ago(days), author=Actor(login, ActorKind.USER),
        author_association="NONE", activities=activities,
    )  # fmt: skip


def commit(identity: str, days: float) -> Commit:
    login = None if identity.startswith("email:") else identity
    return Commit("o/a", f"{identity}{days}", ago(days), ago(days), login, identity)


def repo(name: str, *items: Item, commits: tuple[Commit, ...] = ()) -> RepositoryData:
    return RepositoryData(project="p", repository=name, info=None, items=items, commits=commits)


# alice is at Acme; bob moved from Acme to Globex 10 days ago; carol's employer is unknown;
# every login is asked for lower-cased
def organization(login: str, at: datetime) -> str | None:
    if login == "bob":
        return "acme" if at < ago(10) else "globex"
    return {"alice": "acme", "dave": "initech"}.get(login)


def is_bot(actor: Actor) -> bool:
    return actor.kind is ActorKind.BOT


SETTINGS = HealthSettings(is_bot=is_bot, affiliation=organization)

CASES = [
    # (name, repositories, expected)
    ("nothing", [], Risk(contributions=0, unaffiliated_share=None)),
    (
        "one person with 60%",
        [
            repo(
                "o/a",
                issue(1, "Alice", 5, *comments("alice", 4, 3)),
                issue(2, "carol", 5, *comments("carol", 4)),
            )
        ],
        Risk(
            contributions=5,
            bus_factor=1,
            elephant_factor=1,
            organizations=1,
            unaffiliated_share=0.4,
        ),
    ),
    (
        "40/40/20; bob counts for Acme before his move and for Globex after",
        [
            repo(
                "o/a",
                issue(1, "alice", 20, *comments("alice", 19)),
                issue(2, "bob", 20, *comments("bob", 1)),
                issue(3, "carol", 5),
            )
        ],
        Risk(
            contributions=5,
            bus_factor=2,
            elephant_factor=1,
            organizations=2,
            unaffiliated_share=0.2,
        ),
    ),
    (
        "50/50 needs both; organizations 50/50 need both",
        [
            repo(
                "o/a",
                issue(1, "alice", 5, *comments("alice", 4)),
                issue(2, "dave", 5, *comments("dave", 4)),
            )
        ],
        Risk(
            contributions=4,
            bus_factor=2,
            elephant_factor=2,
            organizations=2,
            unaffiliated_share=0.0,
        ),
    ),
    (
        "outside the window, bots and deleted accounts do not count",
        [
            repo(
                "o/a",
                issue(1, "alice", 31, *comments("alice", 30.5, 0)),
                Item(
                    "o/a",
                    2,
                    ItemKind.ISSUE,
                    ItemState.OPEN,
                    ago(3),
                    ago(3),
                    Actor("renovate", ActorKind.BOT),
                    "NONE",
                    activities=(Activity("x", ActivityKind.COMMENT, Actor.deleted(), ago(2)),),
                ),
                issue(3, "carol", 2),
            )
        ],
        Risk(
            contributions=1,
            bus_factor=1,
            elephant_factor=0,
            organizations=0,
            unaffiliated_share=1.0,
        ),
    ),
    (
        "unlinked commit authors are people without an organization",
        [
            repo(
                "o/a",
                issue(1, "alice", 5),
                commits=(commit("email:77", 3), commit("email:77", 2), commit("email:88", 1)),
            )
        ],
        Risk(
            contributions=4,
            bus_factor=2,
            elephant_factor=1,
            organizations=1,
            unaffiliated_share=0.75,
        ),
    ),
]


@pytest.mark.parametrize(
    ("repositories", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_risk(repositories: list[RepositoryData], expected: Risk) -> None:
    assert risk(repositories, WINDOW, NOW, SETTINGS) == expected


def test_an_e_mail_identity_is_never_asked_for_an_organization() -> None:
    asked: list[str] = []

    def everyone_at_acme(login: str, at: datetime) -> str | None:
        asked.append(login)
        return "acme"

    settings = HealthSettings(affiliation=everyone_at_acme)
    data = repo("o/a", issue(1, "Alice", 5), commits=(commit("email:77", 3),))
    assert risk([data], WINDOW, NOW, settings).unaffiliated_share == 0.5
    assert asked == ["alice"]


# o/a: alice, bob and carol once each; o/b: alice twice more
PROJECT = [
    repo("o/a", issue(1, "alice", 3), issue(2, "bob", 3), issue(3, "carol", 3)),
    repo("o/b", issue(1, "ALICE", 2, *comments("alice", 1))),
]


@pytest.mark.parametrize(
    ("repositories", "bus_factor", "contributions"),
    [([PROJECT[0]], 2, 3), ([PROJECT[1]], 1, 2), (PROJECT, 1, 5)],  # project: alice has 3 of 5
    ids=["o/a", "o/b", "project"],
)
def test_a_person_in_two_repositories_is_one_person(
    repositories: list[RepositoryData], bus_factor: int, contributions: int
) -> None:
    got = risk(repositories, WINDOW, NOW, SETTINGS)
    assert (got.bus_factor, got.contributions) == (bus_factor, contributions)


def test_affiliations_plug_in_as_the_setting() -> None:
    affiliations = Affiliations(
        [
            AffiliationEntry("bob", "Acme Inc.", until=date(2026, 2, 20)),
            AffiliationEntry("bob", "Globex"),
        ],
        profiles={"alice": "@acme", "carol": "ACME, Inc"},
    )
    settings = HealthSettings(affiliation=affiliations.organization)
    data = repo(
        "o/a", issue(1, "alice", 5), issue(2, "bob", 15), issue(3, "bob", 2), issue(4, "carol", 1)
    )
    # acme: alice, bob (15 days ago, before 2026-02-20), carol; globex: bob 2 days ago
    assert risk([data], WINDOW, NOW, settings) == Risk(
        contributions=4, bus_factor=2, elephant_factor=1, organizations=2, unaffiliated_share=0.0
    )


def test_extracting_once_for_several_windows_gives_the_same_numbers() -> None:
    data = [
        repo(
            "o/a",
            issue(1, "alice", 20, *comments("alice", 19)),
            issue(2, "bob", 60, *comments("bob", 1)),
        )
    ]
    extracted = list(raw_contributions(data, is_bot))
    for window in (WINDOW, Window("90d", timedelta(days=90)), Window("7d", timedelta(days=7))):
        assert risk_from(extracted, window, NOW, SETTINGS) == risk(data, window, NOW, SETTINGS)
