"""Velocity: how much work moved through a repository in a window (CHAOSS "Change Requests",
"Issues New", "Issues Closed"; CNCF DevStats' PR and commit activity).

Unlike responsiveness, velocity counts every item, bot-authored ones included: a dependabot
pull request that is reviewed and merged is work the project did, and leaving bots out would
make a busy repository look idle. Responsiveness leaves them out because a bot is not a person
waiting for an answer. The two "opened" counts therefore differ by the bot-authored items.
"""

from __future__ import annotations

from datetime import datetime

from healthexporter.health.responsiveness import closed_unmerged_at, merged_at
from healthexporter.health.snapshot import RepositoryData, Velocity, Window
from healthexporter.model import ItemKind


def velocity(data: RepositoryData, window: Window, now: datetime) -> Velocity:
    """Items opened, merged and closed without a merge in ``[now - duration, now)``, and
    default-branch commits by committed time (when the commit landed, not when it was
    written: a rebased or cherry-picked commit moves the branch when it is committed)."""
    pulls = [item for item in data.items if item.kind is ItemKind.PULL_REQUEST]
    issues = [item for item in data.items if item.kind is ItemKind.ISSUE]
    return Velocity(
        pull_requests_opened=sum(window.contains(item.created_at, now) for item in pulls),
        pull_requests_merged=sum(window.contains(merged_at(item), now) for item in pulls),
        pull_requests_closed=sum(window.contains(closed_unmerged_at(item), now) for item in pulls),
        issues_opened=sum(window.contains(item.created_at, now) for item in issues),
        issues_closed=sum(window.contains(closed_unmerged_at(item), now) for item in issues),
        commits=len({c.oid for c in data.commits if window.contains(c.committed_at, now)}),
    )
