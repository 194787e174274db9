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


def repository_health(
    data: RepositoryData, settings: HealthSettings, now: datetime
) -> RepositoryHealth:
    windows = {}
    # extracted once, reused by every window (contributors and risk read the same list)
    people = list(contributors.raw_contributions([data], settings.is_bot))
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
            contributors=contributors.contributors_from(people, window, now, settings),
            risk=risk.risk_from(people, window, now, settings),
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
    project: str, datas: Sequence[RepositoryData], settings: HealthSettings, now: datetime
) -> ProjectHealth:
    people = list(contributors.raw_contributions(datas, settings.is_bot))
    return ProjectHealth(
        project=project,
        repositories=tuple(sorted(d.repository for d in datas)),
        windows={
            window.name: ProjectWindowHealth(
                contributors=contributors.contributors_from(people, window, now, settings),
                risk=risk.risk_from(people, window, now, settings),
            )
            for window in settings.windows
        },
    )


def compute(
    datas: Sequence[RepositoryData], settings: HealthSettings, now: datetime
) -> HealthSnapshot:
    by_project: dict[str, list[RepositoryData]] = defaultdict(list)
    for data in datas:
        by_project[data.project].append(data)
    return HealthSnapshot(
        computed_at=now,
        windows=settings.windows,
        repositories=tuple(
            repository_health(d, settings, now)
            for d in sorted(datas, key=lambda d: (d.project, d.repository))
        ),
        projects=tuple(project_health(p, by_project[p], settings, now) for p in sorted(by_project)),
    )
