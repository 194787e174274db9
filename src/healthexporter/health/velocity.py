"""Velocity: how much work moved through a repository in a window (CHAOSS "Change Requests",
"Issues New", "Issues Closed"; CNCF DevStats' PR and commit activity).

Unlike responsiveness, velocity counts every item, bot-authored ones included: a dependabot
pull request that is reviewed and merged is work the project did, and leaving bots out would
make a busy repository look idle. Responsiveness leaves them out because a bot is not a person
waiting for an answer. The two "opened" counts therefore differ by the bot-authored items.
"""

from __future__ import annotations

from datetime import datetime

from healthexporter.health.prepared import PreparedRepository, item_times
from healthexporter.health.snapshot import RepositoryData, Velocity, Window
from healthexporter.model import ItemKind


def velocity(
    data: RepositoryData,
    window: Window,
    now: datetime,
    *,
    prepared: PreparedRepository | None = None,
) -> Velocity:
    """Items opened, merged and closed without a merge in ``[now - duration, now)``, and
    default-branch commits by committed time (when the commit landed, not when it was
    written: a rebased or cherry-picked commit moves the branch when it is committed).

    ``prepared`` is ``prepare(data, settings)``, when the caller computes several windows.
    """
    times = prepared.times if prepared is not None else item_times(data)
    start = window.start(now)
    pull, issue = ItemKind.PULL_REQUEST, ItemKind.ISSUE
    return Velocity(
        pull_requests_opened=times.opened[pull].count(start, now),
        pull_requests_merged=times.merged[pull].count(start, now),
        pull_requests_closed=times.closed[pull].count(start, now),
        issues_opened=times.opened[issue].count(start, now),
        issues_closed=times.closed[issue].count(start, now),
        commits=len({commit.oid for commit in times.commits.between(start, now)}),
    )
