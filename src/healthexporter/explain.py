"""``healthexporter explain owner/repo#N``: how one item's numbers were derived.

Shows the clock start, every activity considered and why it counted or was skipped (bot,
author, before ready for review, not a responder, …), and the result, so a maintainer can
audit any number on the dashboard.
"""

from __future__ import annotations

from collections.abc import Callable

from healthexporter.health.first_response import ResponsePolicy, first_response
from healthexporter.model import Actor, Item, ItemKind


def _when(item: Item, seconds: float | None) -> str:
    if seconds is None:
        return "–"
    hours = seconds / 3600
    return f"{hours:.1f} h ({hours / 24:.1f} d)" if hours >= 1 else f"{seconds / 60:.0f} min"


def explain(item: Item, policy: ResponsePolicy, is_bot: Callable[[Actor], bool]) -> str:
    result = first_response(item, policy, is_bot)
    kind = "pull request" if item.kind is ItemKind.PULL_REQUEST else "issue"
    author = item.author.login or "(deleted account)"
    lines = [
        f"{item.ref} — {kind} by {author} ({item.author_association}"
        f"{', a bot' if is_bot(item.author) else ''}), {item.state.value.lower()}"
        f"{', draft' if item.is_draft else ''}",
        f"opened        {item.created_at:%Y-%m-%d %H:%M:%S} UTC",
        "clock start   "
        + (
            f"{result.clock_start:%Y-%m-%d %H:%M:%S} UTC"
            if result.clock_start
            else "none: still a draft"
        ),
        f"responders    {policy.responders.value}",
        "",
        "activity considered:",
    ]
    if not result.decisions:
        lines.append("  (none stored)")
    for decision in result.decisions:
        activity = decision.activity
        actor = activity.actor.login or "(deleted account)"
        detail = activity.kind.value + (
            f" {activity.review_state}" if activity.review_state else ""
        )
        verdict = "COUNTED: first response" if decision.counted else f"skipped: {decision.reason}"
        association = f" {activity.association}" if activity.association else ""
        lines.append(
            f"  {activity.at:%Y-%m-%d %H:%M:%S}  {actor}{association}  {detail}  → {verdict}"
        )
    if item.activity_cursor is not None:
        lines.append("  … later activity was not fetched (the first response was already settled)")
    lines.append("")
    if result.responded_at is not None:
        responded = f"{result.responded_at:%Y-%m-%d %H:%M:%S} UTC by {result.responder}"
        lines.append(f"first response {responded}, after {_when(item, result.seconds)}")
    elif result.clock_start is not None:
        lines.append(
            "first response none yet"
            + (" (closed without one)" if item.closed_at else " (waiting)")
        )
    if item.merged_at is not None and result.clock_start is not None:
        lines.append(
            f"merged after   {_when(item, (item.merged_at - result.clock_start).total_seconds())}"
        )
    elif item.closed_at is not None and result.clock_start is not None:
        lines.append(
            f"closed after   {_when(item, (item.closed_at - result.clock_start).total_seconds())}"
        )
    return "\n".join(lines) + "\n"
