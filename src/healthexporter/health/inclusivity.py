"""Inclusivity: how a repository treats newcomers (CHAOSS "Newcomer Experience", "Issue Label
Inclusivity"). Definitions in docs/metrics.md ("Inclusivity").
"""

from __future__ import annotations

from datetime import datetime

from healthexporter.health.prepared import (
    FIRST_TIMER_ASSOCIATIONS,
    PreparedRepository,
    is_first_timer,
    prepare,
)
from healthexporter.health.snapshot import (
    HealthSettings,
    Inclusivity,
    RepositoryData,
    Sample,
    Window,
)
from healthexporter.model import ItemKind, ItemState

# The first-timer rule lives in ``prepared`` (which every window reads); it stays importable
# from here.
__all__ = ["FIRST_TIMER_ASSOCIATIONS", "inclusivity", "is_first_timer", "open_labelled_issues"]


def inclusivity(
    data: RepositoryData,
    window: Window,
    now: datetime,
    settings: HealthSettings,
    *,
    prepared: PreparedRepository | None = None,
) -> Inclusivity:
    """Pull requests opened in the window by first-time contributors (bots never are; the
    definition is ``is_first_timer``), the first responses they got (same definition as
    responsiveness; at any time before ``now``) and how many of those closed so far were merged
    rather than closed unmerged.

    ``prepared`` is ``prepare(data, settings)``, when the caller computes several windows.
    """
    first_timers = (prepared or prepare(data, settings)).first_timer_pull_requests.between(
        window.start(now), now
    )
    samples: list[Sample] = [s for f in first_timers if (s := f.response(now)) is not None]
    merged = sum(f.merged_at is not None and f.merged_at < now for f in first_timers)
    closed = sum(f.closed_at is not None and f.closed_at < now for f in first_timers)
    return Inclusivity(
        first_timer_pull_requests=len(first_timers),
        first_timer_first_response=tuple(sorted(samples, key=lambda s: (s.at, s.item))),
        first_timer_merge_ratio=merged / (merged + closed) if merged + closed else None,
    )


def open_labelled_issues(data: RepositoryData, settings: HealthSettings) -> dict[str, int]:
    """Open issues (not pull requests) carrying any of the configured "good first issue" or
    "help wanted" labels; label names compare case-insensitively, as GitHub's do."""
    label_sets = {
        "good_first_issue": {label.lower() for label in settings.good_first_issue_labels},
        "help_wanted": {label.lower() for label in settings.help_wanted_labels},
    }
    counts = dict.fromkeys(label_sets, 0)
    for item in data.items:
        if item.kind is not ItemKind.ISSUE or item.state is not ItemState.OPEN:
            continue
        labels = {label.lower() for label in item.labels}
        for name, wanted in label_sets.items():
            counts[name] += bool(labels & wanted)
    return counts
