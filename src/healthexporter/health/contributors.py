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

import itertools
from bisect import bisect_left
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from operator import itemgetter

from healthexporter.health.snapshot import (
    CONTRIBUTION_KINDS,
    Contributors,
    HealthSettings,
    RepositoryData,
    StoredHistory,
    Window,
)
from healthexporter.model import ActivityKind, Actor, ActorKind, ItemKind

__all__ = [
    "Contribution",
    "ContributionIndex",
    "PersonOf",
    "RawContribution",
    "contributions",
    "contributors",
    "contributors_from",
    "contributors_in",
    "people_of",
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


# Who an actor (login, kind) is: a person (lower-cased login), or None (a bot, a deleted account).
PersonOf = Callable[[str | None, ActorKind], str | None]


def people_of(is_bot: Callable[[Actor], bool]) -> PersonOf:
    """Who an actor is: their lower-cased login, or None for a bot or a deleted account.

    ``is_bot`` is asked once per distinct (login, kind): a project has far fewer people than
    activities, and a bot matcher with patterns is not free. One ``people_of`` shared by the
    repositories of a computation also holds one lower-cased login per person, not one per
    repository.
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

    return person


def raw_contributions(
    datas: Sequence[RepositoryData], is_bot: Callable[[Actor], bool]
) -> Iterator[RawContribution]:
    """Every contribution in ``datas``' items and commits as a plain tuple, in no particular
    order."""
    person = people_of(is_bot)
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


@dataclass(frozen=True, slots=True)
class ContributionIndex:
    """Contributions before ``now`` sorted by time, and what each person did before ``now``:
    built once, it lets each window read only its own contributions (and those of the episodic
    lookback) instead of all of them.

    ``since``: the contributions held start there (earlier ones are only in ``totals`` and
    ``first``); None when all are held. Asking for contributions before it is an error, not an
    empty answer."""

    now: datetime
    times: tuple[datetime, ...]
    contributions: tuple[RawContribution, ...]
    totals: Mapping[str, int]  # contributions before ``now``
    first: Mapping[str, datetime]  # each person's first contribution
    since: datetime | None = None

    @classmethod
    def of(cls, extracted: Iterable[RawContribution], now: datetime) -> ContributionIndex:
        ordered = [raw for raw in extracted if raw[2] < now]
        ordered.sort(key=itemgetter(2))  # C-level key: a large repository has millions
        totals: dict[str, int] = {}
        first: dict[str, datetime] = {}
        for who, _kind, at, _repository in ordered:
            if who in totals:
                totals[who] += 1
            else:
                totals[who] = 1
                first[who] = at  # sorted: the first seen is the earliest
        return cls(now, tuple(map(itemgetter(2), ordered)), tuple(ordered), totals, first)

    @classmethod
    def of_stored(
        cls, history: StoredHistory, repository: str, person: PersonOf
    ) -> ContributionIndex:
        """The index of a windowed read (``RepositoryData.history``): the contributions since
        ``history.contributions_since``, and each person's totals and first contribution as
        the store summed them over everything stored. ``person`` is ``people_of(is_bot)``."""
        ordered: list[RawContribution] = []
        for login, kind, contribution, at in history.contributions:
            who = login if kind is None else person(login, kind)  # None: a commit identity
            if who is not None:
                ordered.append((who, contribution, at, repository))
        ordered.sort(key=itemgetter(2))
        totals: dict[str, int] = {}
        first: dict[str, datetime] = {}
        for login, kind, count, at in history.totals:
            who = login if kind is None else person(login, kind)
            if who is not None:
                totals[who] = totals.get(who, 0) + count
                first[who] = min(at, first.get(who, at))
        return cls(
            history.now,
            tuple(map(itemgetter(2), ordered)),
            tuple(ordered),
            totals,
            first,
            history.contributions_since,
        )

    @classmethod
    def combine(cls, indexes: Sequence[ContributionIndex]) -> ContributionIndex:
        """The contributions of several indexes as of the same ``now`` (a project's
        repositories); people are the same across them, so their totals add up and their
        first contribution is the earliest of any."""
        if len(indexes) == 1:
            return indexes[0]
        now = indexes[0].now
        assert all(index.now == now for index in indexes)
        # sorted runs: the sort merges them
        ordered = sorted(
            itertools.chain.from_iterable(i.contributions for i in indexes), key=itemgetter(2)
        )
        totals: dict[str, int] = {}
        first: dict[str, datetime] = {}
        for index in indexes:
            for who, count in index.totals.items():
                totals[who] = totals.get(who, 0) + count
            for who, at in index.first.items():
                first[who] = min(at, first.get(who, at))
        sinces = [i.since for i in indexes if i.since is not None]
        return cls(
            now,
            tuple(map(itemgetter(2), ordered)),
            tuple(ordered),
            totals,
            first,
            max(sinces) if sinces else None,
        )

    def between(self, start: datetime, end: datetime) -> tuple[RawContribution, ...]:
        """Contributions at ``start <= at < end`` (``end`` at most ``now``)."""
        if self.since is not None and start < self.since:
            raise ValueError(f"contributions from {start} asked of an index since {self.since}")
        low = bisect_left(self.times, start)
        return self.contributions[low : max(low, bisect_left(self.times, end, low))]


def contributors_from(
    extracted: Iterable[RawContribution], window: Window, now: datetime, settings: HealthSettings
) -> Contributors:
    """``contributors`` over contributions already extracted, so that a caller computing
    several windows extracts them once (the extraction is most of the cost)."""
    return contributors_in(ContributionIndex.of(extracted, now), window, settings)


def contributors_in(
    index: ContributionIndex, window: Window, settings: HealthSettings
) -> Contributors:
    """``contributors`` over indexed contributions, as of ``index.now``.

    - active: at least one contribution in the window;
    - new: active, and no contribution before the window (in these repositories);
    - episodic (after DevStats' "episodic contributors"): active, no contribution in the
      ``episodic_lookback`` before the window start, and at most ``episodic_max_contributions``
      contributions in all up to ``now``. A new person with few contributions is also episodic.
    """
    now = index.now
    start = window.start(now)
    by_kind: dict[str, set[str]] = {kind: set() for kind in CONTRIBUTION_KINDS}
    for who, kind, _at, _repository in index.between(start, now):
        by_kind[kind].add(who)
    # anything in the lookback before the window
    recently = {raw[0] for raw in index.between(start - settings.episodic_lookback, start)}
    active: set[str] = set().union(*by_kind.values())
    first, total, limit = index.first, index.totals, settings.episodic_max_contributions
    return Contributors(
        active=len(active),
        active_by_kind={kind: len(people) for kind, people in by_kind.items()},
        new=sum(1 for who in active if first[who] >= start),
        episodic=sum(1 for who in active - recently if total[who] <= limit),
    )
