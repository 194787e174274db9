"""Contributors: who took part in a window, who is new, who comes and goes (episodic).

A contribution (docs/metrics.md, "Contributors"; DevStats counts the same five kinds) is one of:

- ``pull_request``: a pull request opened, at ``created_at``, by its author;
- ``issue``: an issue opened, at ``created_at``, by its author;
- ``commit``: a default-branch commit, at ``authored_at`` — when the person did the work; a
  rebase or a late merge moves ``committed_at`` but not the authorship (velocity counts commits
  by ``committed_at`` instead, because it measures what landed);
- ``review``: a submitted pull-request review (any state but PENDING), by its actor;
- ``comment``: an issue or pull-request comment, by its actor.

A person is a lower-cased GitHub login (logins are case-insensitive), or a commit's
``author_identity`` (``"email:…"``) when GitHub did not link the commit to an account. Bots
(``HealthSettings.is_bot``) and deleted accounts (no login) are nobody. People are the same
across repositories, so a project's numbers are not the sum of its repositories' numbers.

Everything is counted only up to ``now``: contributions at or after ``now`` do not exist yet.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime

from healthexporter.health.snapshot import (
    CONTRIBUTION_KINDS,
    Contributors,
    HealthSettings,
    RepositoryData,
    Window,
)
from healthexporter.model import ActivityKind, Actor, ActorKind, ItemKind

__all__ = [
    "Contribution",
    "RawContribution",
    "contributions",
    "contributors",
    "contributors_from",
    "raw_contributions",
]

_PENDING = "PENDING"


@dataclass(frozen=True, slots=True)
class Contribution:
    person: str  # lower-cased login, or "email:…" for a commit GitHub did not link
    kind: str  # one of CONTRIBUTION_KINDS
    at: datetime
    repository: str


# (person, kind, at, repository): the hot loops read tuples, which cost a third of a
# dataclass to build; ``contributions`` wraps them for everyone else.
RawContribution = tuple[str, str, datetime, str]


def raw_contributions(
    datas: Sequence[RepositoryData], is_bot: Callable[[Actor], bool]
) -> Iterator[RawContribution]:
    """Every contribution in ``datas`` as a plain tuple, in no particular order.

    ``is_bot`` is asked once per distinct (login, kind): a project has far fewer people than
    activities, and a bot matcher with patterns is not free.
    """
    person_of: dict[tuple[str | None, ActorKind], str | None] = {}

    def person(login: str | None, kind: ActorKind) -> str | None:
        key = (login, kind)
        try:
            return person_of[key]
        except KeyError:
            pass
        found = None if login is None or is_bot(Actor(login, kind)) else login.lower()
        person_of[key] = found
        return found

    pull_request, issue = ItemKind.PULL_REQUEST, ItemKind.ISSUE
    review, comment = ActivityKind.REVIEW, ActivityKind.COMMENT
    for data in datas:
        repository = data.repository
        for item in data.items:
            author = item.author
            who = person(author.login, author.kind)
            if who is not None:
                if item.kind is pull_request:
                    yield (who, "pull_request", item.created_at, repository)
                elif item.kind is issue:
                    yield (who, "issue", item.created_at, repository)
            for activity in item.activities:
                kind = activity.kind
                if kind is comment:
                    label = "comment"
                elif kind is review and activity.review_state != _PENDING:
                    label = "review"
                else:
                    continue
                actor = activity.actor
                who = person(actor.login, actor.kind)
                if who is not None:
                    yield (who, label, activity.at, repository)
        for commit in data.commits:
            if commit.author_login is None:
                # not linked to an account: the identity is an e-mail hash, which no bot list
                # can recognise
                yield (commit.author_identity, "commit", commit.authored_at, repository)
                continue
            # GitHub does not say what kind of account a commit author is; the bot list and
            # patterns (e.g. "[bot]" logins) still apply
            who = person(commit.author_login, ActorKind.USER)
            if who is not None:
                yield (who, "commit", commit.authored_at, repository)


def contributions(
    datas: Sequence[RepositoryData], is_bot: Callable[[Actor], bool]
) -> list[Contribution]:
    """Every contribution in ``datas`` (see the module docstring for what counts)."""
    return [Contribution(*raw) for raw in raw_contributions(datas, is_bot)]


def contributors(
    datas: Sequence[RepositoryData], window: Window, now: datetime, settings: HealthSettings
) -> Contributors:
    """Distinct people in the window, overall and per kind; new and episodic ones."""
    return contributors_from(raw_contributions(datas, settings.is_bot), window, now, settings)


def contributors_from(
    extracted: Iterable[RawContribution], window: Window, now: datetime, settings: HealthSettings
) -> Contributors:
    """``contributors`` over contributions already extracted, so that a caller computing
    several windows extracts them once (the extraction is most of the cost).

    - active: at least one contribution in the window;
    - new: active, and no contribution before the window (in these repositories);
    - episodic (after DevStats' "episodic contributors"): active, no contribution in the
      ``episodic_lookback`` before the window start, and at most ``episodic_max_contributions``
      contributions in all up to ``now``. A new person with few contributions is also episodic.
    """
    start = window.start(now)
    lookback_start = start - settings.episodic_lookback
    by_kind: dict[str, set[str]] = {kind: set() for kind in CONTRIBUTION_KINDS}
    total: dict[str, int] = {}
    before: set[str] = set()  # anything before the window
    recently: set[str] = set()  # anything in the lookback before the window
    for who, kind, at, _repository in extracted:
        if at >= now:
            continue
        total[who] = total.get(who, 0) + 1
        if at >= start:
            by_kind[kind].add(who)
        else:
            before.add(who)
            if at >= lookback_start:
                recently.add(who)
    active: set[str] = set().union(*by_kind.values())
    limit = settings.episodic_max_contributions
    return Contributors(
        active=len(active),
        active_by_kind={kind: len(people) for kind, people in by_kind.items()},
        new=len(active - before),
        episodic=sum(1 for who in active - recently if total[who] <= limit),
    )
