"""Inclusivity: how a repository treats newcomers (CHAOSS "Newcomer Experience", "Issue Label
Inclusivity"). Definitions in docs/metrics.md ("Inclusivity").
"""

from __future__ import annotations

from datetime import datetime

from healthexporter.health.first_response import MAINTAINER_ASSOCIATIONS
from healthexporter.health.responsiveness import closed_unmerged_at, merged_at, response
from healthexporter.health.snapshot import (
    HealthSettings,
    Inclusivity,
    RepositoryData,
    Sample,
    Window,
)
from healthexporter.model import Item, ItemKind, ItemState

# GitHub's authorAssociation values for someone who has not contributed to the repository
# (FIRST_TIME_CONTRIBUTOR) or to GitHub (FIRST_TIMER) before.
FIRST_TIMER_ASSOCIATIONS = frozenset({"FIRST_TIME_CONTRIBUTOR", "FIRST_TIMER"})


def _earliest_contributions(data: RepositoryData) -> dict[str, datetime]:
    """Each lower-cased login's first item (pull request or issue) or default-branch commit.

    Commits count by committed time: a pull request's own commits were often authored before
    it was opened, but they land in the branch only when it is merged.
    """
    earliest: dict[str, datetime] = {}
    dated = [(item.author.login, item.created_at) for item in data.items]
    dated += [(commit.author_login, commit.committed_at) for commit in data.commits]
    for login, at in dated:
        if login is not None:
            key = login.lower()
            earliest[key] = min(at, earliest.get(key, at))
    return earliest


def is_first_timer(item: Item, earliest: dict[str, datetime]) -> bool:
    """GitHub says so (FIRST_TIME_CONTRIBUTOR, FIRST_TIMER), or — because GitHub computes the
    association when asked, so it reads CONTRIBUTOR once the first pull request is merged — the
    author has no stored item or commit older than this one. Maintainers (OWNER, MEMBER,
    COLLABORATOR) are never first-timers, even in a repository whose history starts with them,
    and neither is a deleted account, which has no history to look at."""
    if item.author_association in FIRST_TIMER_ASSOCIATIONS:
        return True
    if item.author_association in MAINTAINER_ASSOCIATIONS or item.author.login is None:
        return False
    return earliest.get(item.author.login.lower(), item.created_at) >= item.created_at


def inclusivity(
    data: RepositoryData, window: Window, now: datetime, settings: HealthSettings
) -> Inclusivity:
    """Pull requests opened in the window by first-time contributors (bots never are), the
    first responses they got (same definition as responsiveness; at any time before ``now``)
    and how many of those closed so far were merged rather than closed unmerged."""
    earliest = _earliest_contributions(data)
    first_timers = [
        item
        for item in data.items
        if item.kind is ItemKind.PULL_REQUEST
        and window.contains(item.created_at, now)
        and not settings.is_bot(item.author)
        and is_first_timer(item, earliest)
    ]
    samples: list[Sample] = []
    for item in first_timers:
        _, answer = response(item, now, settings)
        if answer is not None:
            samples.append(answer)
    merged = sum((merged_at(item) or now) < now for item in first_timers)
    closed = sum((closed_unmerged_at(item) or now) < now for item in first_timers)
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
