"""Compute a whole ``HealthSnapshot`` from the stored data of every repository.

Only orchestration lives here; each topic's maths is in its own module.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime

from healthexporter.health import (
    contributors,
    inclusivity,
    prepared,
    releases,
    responsiveness,
    risk,
    velocity,
)
from healthexporter.health.contributors import ContributionIndex, PersonOf
from healthexporter.health.snapshot import (
    HealthSettings,
    HealthSnapshot,
    ProjectHealth,
    ProjectWindowHealth,
    RepositoryData,
    RepositoryHealth,
    WindowHealth,
)
from healthexporter.model import ItemKind

KINDS = (ItemKind.PULL_REQUEST, ItemKind.ISSUE)


def contribution_index(
    data: RepositoryData,
    settings: HealthSettings,
    now: datetime,
    person: PersonOf | None = None,
) -> ContributionIndex:
    """The repository's contributions indexed as of ``now``: extracted from its items and
    commits, or, for a windowed read, from what the store summed (``data.history``).
    ``person``: ``people_of(settings.is_bot)``, when the caller shares one."""
    if data.history is None:
        return ContributionIndex.of(contributors.raw_contributions([data], settings.is_bot), now)
    person = person or contributors.people_of(settings.is_bot)
    return ContributionIndex.of_stored(data.history, data.repository, person)


def check_reach(data: RepositoryData, settings: HealthSettings, now: datetime) -> None:
    """A windowed read gives the numbers of a whole one only as of the ``now`` it was read
    for, and only for windows it reaches back to: anything else is a caller's mistake, which
    would otherwise give wrong numbers silently."""
    history = data.history
    if history is None:
        return
    if history.now != now:
        raise ValueError(f"{data.repository}: read as of {history.now}, computed as of {now}")
    since, contributions_since = settings.reach(now)
    if history.since > since:
        raise ValueError(f"{data.repository}: read since {history.since}, windows need more")
    if history.contributions_since > contributions_since:
        raise ValueError(
            f"{data.repository}: contributions read since {history.contributions_since}, "
            "the episodic lookback needs more"
        )


def repository_health(
    data: RepositoryData,
    settings: HealthSettings,
    now: datetime,
    *,
    people: ContributionIndex | None = None,
) -> RepositoryHealth:
    """``people``: the repository's contributions indexed as of ``now``, when the caller has
    them already (``compute`` reuses them for the project)."""
    check_reach(data, settings, now)
    windows = {}
    # extracted once, reused by every window (contributors and risk read the same index)
    if people is None:
        people = contribution_index(data, settings, now)
    # each item's facts once, and indexes by time each window selects from
    items = prepared.prepare(data, settings)
    for window in settings.windows:
        stable, pre = releases.releases_in_window(data, window, now)
        windows[window.name] = WindowHealth(
            responsiveness={
                kind: responsiveness.responsiveness(
                    data, kind, window, now, settings, prepared=items
                )
                for kind in KINDS
            },
            contributors=contributors.contributors_in(people, window, settings),
            risk=risk.risk_in(people, window, settings),
            velocity=velocity.velocity(data, window, now, prepared=items),
            inclusivity=inclusivity.inclusivity(data, window, now, settings, prepared=items),
            releases=stable,
            prereleases=pre,
        )
    return RepositoryHealth(
        project=data.project,
        repository=data.repository,
        info=data.info,
        windows=windows,
        waiting={
            kind: responsiveness.waiting(data, kind, now, settings, prepared=items)
            for kind in KINDS
        },
        releases=releases.release_activity(data, now, settings),
        open_labelled_issues=inclusivity.open_labelled_issues(data, settings),
    )


def project_health(
    project: str,
    repositories: Sequence[str],
    people: ContributionIndex,
    settings: HealthSettings,
) -> ProjectHealth:
    """``people``: the contributions of all of the project's ``repositories``, indexed (as of
    ``people.now``)."""
    return ProjectHealth(
        project=project,
        repositories=tuple(sorted(repositories)),
        windows={
            window.name: ProjectWindowHealth(
                contributors=contributors.contributors_in(people, window, settings),
                risk=risk.risk_in(people, window, settings),
            )
            for window in settings.windows
        },
    )


class SnapshotBuilder:
    """``compute``, one repository at a time: ``add`` each repository's data, then take the
    ``snapshot``. A caller that reads the store repository by repository holds one
    repository's data at a time; between the two this keeps each repository's health and its
    contributions index, which its project's numbers need."""

    def __init__(self, settings: HealthSettings, now: datetime) -> None:
        self._settings, self._now = settings, now
        self._person = contributors.people_of(settings.is_bot)
        self._repositories: list[RepositoryHealth] = []
        self._people: dict[str, dict[str, ContributionIndex]] = defaultdict(dict)

    def add(self, data: RepositoryData) -> RepositoryHealth:
        # each repository's contributions are indexed once and serve its project too
        indexed = contribution_index(data, self._settings, self._now, self._person)
        health = repository_health(data, self._settings, self._now, people=indexed)
        self._repositories.append(health)
        self._people[data.project][data.repository] = indexed
        return health

    def snapshot(self) -> HealthSnapshot:
        return HealthSnapshot(
            computed_at=self._now,
            windows=self._settings.windows,
            repositories=tuple(sorted(self._repositories, key=lambda r: (r.project, r.repository))),
            projects=tuple(
                project_health(
                    project,
                    list(members),
                    ContributionIndex.combine([members[name] for name in sorted(members)]),
                    self._settings,
                )
                for project, members in sorted(self._people.items())
            ),
        )


def compute(
    datas: Sequence[RepositoryData], settings: HealthSettings, now: datetime
) -> HealthSnapshot:
    builder = SnapshotBuilder(settings, now)
    for data in datas:
        builder.add(data)
    return builder.snapshot()
