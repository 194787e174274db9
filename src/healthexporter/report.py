"""The same numbers as ``/metrics``, for people: a terminal table, JSON for scripts, Markdown
for a weekly issue or a badge page (the job github/issue-metrics does today).

Durations are summarised exactly (count, median, 90th percentile, share within 1 h / 1 d /
3 d) from the samples; Prometheus estimates quantiles from the histogram buckets, so its
figures land in the same bucket as these.
"""

from __future__ import annotations

import json
import statistics
from collections.abc import Sequence
from dataclasses import asdict, is_dataclass
from datetime import datetime
from typing import Any

from healthexporter.health.snapshot import (
    DAY,
    HOUR,
    HealthSnapshot,
    RepositoryHealth,
    Sample,
)
from healthexporter.model import ItemKind


def summarize(samples: Sequence[Sample]) -> dict[str, Any]:
    values = sorted(s.seconds for s in samples)
    if not values:
        return {"count": 0}
    slowest = max(samples, key=lambda s: s.seconds)
    return {
        "count": len(values),
        "median_seconds": statistics.median(values),
        "p90_seconds": values[min(len(values) - 1, int(0.9 * len(values)))],
        "sum_seconds": sum(values),
        "within_1h": sum(v <= HOUR for v in values),
        "within_1d": sum(v <= DAY for v in values),
        "within_3d": sum(v <= 3 * DAY for v in values),
        "slowest_item": slowest.item,
        "slowest_seconds": slowest.seconds,
    }


def _plain(value: Any) -> Any:
    """Dataclasses, mappings with enum keys, datetimes and sample tuples → JSON values."""
    if isinstance(value, datetime):
        return value.isoformat().replace("+00:00", "Z")
    if isinstance(value, tuple) and value and isinstance(value[0], Sample):
        return summarize(value)
    if isinstance(value, tuple) and not value:
        return None
    if is_dataclass(value) and not isinstance(value, type):
        return {k: _plain(getattr(value, k)) for k in asdict(value)}
    if isinstance(value, dict) or hasattr(value, "items"):
        return {str(getattr(k, "value", k)): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def as_json(snapshot: HealthSnapshot) -> str:
    document = {
        "computed_at": _plain(snapshot.computed_at),
        "windows": [w.name for w in snapshot.windows],
        "repositories": [_plain(r) for r in snapshot.repositories],
        "projects": [_plain(p) for p in snapshot.projects],
    }
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "–"
    if seconds < HOUR:
        return f"{seconds / 60:.0f}m"
    if seconds < 2 * DAY:
        return f"{seconds / HOUR:.1f}h"
    return f"{seconds / DAY:.1f}d"


def _rows(repository: RepositoryHealth, window: str) -> list[tuple[str, str]]:
    health = repository.windows[window]
    prs = health.responsiveness[ItemKind.PULL_REQUEST]
    issues = health.responsiveness[ItemKind.ISSUE]
    waiting = repository.waiting[ItemKind.PULL_REQUEST]
    pr_summary, issue_summary = summarize(prs.first_response), summarize(issues.first_response)
    release = repository.releases
    return [
        ("PR first response (median)", _duration(pr_summary.get("median_seconds"))),
        (
            "PR first response within 1 day",
            f"{pr_summary.get('within_1d', 0)}/{pr_summary['count'] + prs.unanswered}",
        ),
        ("Issue first response (median)", _duration(issue_summary.get("median_seconds"))),
        (
            "PRs waiting for a first response",
            f"{waiting.count} (oldest {_duration(waiting.oldest_seconds)})",
        ),
        ("PRs waiting longer than 3 days", str(waiting.over.get("3d", 0))),
        ("Active contributors", str(health.contributors.active)),
        ("New contributors", str(health.contributors.new)),
        ("Episodic contributors", str(health.contributors.episodic)),
        ("Bus factor", str(health.risk.bus_factor)),
        ("Elephant factor", str(health.risk.elephant_factor)),
        (
            "PRs opened / merged",
            f"{health.velocity.pull_requests_opened} / {health.velocity.pull_requests_merged}",
        ),
        (
            "Issues opened / closed",
            f"{health.velocity.issues_opened} / {health.velocity.issues_closed}",
        ),
        ("Commits", str(health.velocity.commits)),
        ("Releases in window", str(health.releases)),
        (
            "Last release",
            release.last_release_at.date().isoformat() if release.last_release_at else "–",
        ),
        ("First-timer PRs", str(health.inclusivity.first_timer_pull_requests)),
    ]


def as_table(snapshot: HealthSnapshot, window: str) -> str:
    lines: list[str] = []
    for repository in snapshot.repositories:
        lines.append(f"{repository.repository} ({repository.project}) — last {window}")
        rows = _rows(repository, window)
        width = max(len(name) for name, _ in rows)
        lines += [f"  {name.ljust(width)}  {value}" for name, value in rows]
        lines.append("")
    return "\n".join(lines)


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def as_markdown(snapshot: HealthSnapshot, window: str) -> str:
    lines = [
        f"# Project health — last {window}",
        "",
        f"Computed {snapshot.computed_at:%Y-%m-%d %H:%M} UTC.",
        "",
    ]
    for repository in snapshot.repositories:
        lines += [f"## {repository.repository}", "", "| Metric | Value |", "| --- | --- |"]
        lines += [f"| {name} | {_cell(value)} |" for name, value in _rows(repository, window)]
        waiting = repository.waiting[ItemKind.PULL_REQUEST]
        if waiting.oldest_item:
            lines += ["", f"Longest-waiting pull request: {waiting.oldest_item}"]
        lines.append("")
    return "\n".join(lines)
