"""What the store should hold, computed straight from the simulator's dataset.

An independent second implementation for the end-to-end tests: it reads the simulator's raw
world (SimItem timelines, GitHub's vocabulary) rather than the domain model the exporter
builds, so a mistake in parsing, paging or storing shows up as a difference.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from healthexporter.simulator.dataset import Dataset, SimItem, SimRepository

MAINTAINER = {"OWNER", "MEMBER", "COLLABORATOR"}
RESPONSE_TYPES = {"IssueComment", "PullRequestReview", "ClosedEvent", "MergedEvent"}


@dataclass(frozen=True)
class ExpectedResponse:
    clock_start: datetime | None
    responded_at: datetime | None
    responder: str | None


def sim_is_bot(dataset: Dataset, login: str | None) -> bool:
    """GitHub's Bot kind or a name that every bot list has (the default list's core)."""
    if login is None:
        return False
    user = dataset.user(login)
    if user is not None and user.kind == "Bot":
        return True
    lowered = login.lower()
    return lowered.endswith(("[bot]", "-bot", "-robot")) or lowered in {"codecov-io", "netlify"}


def expected_first_response(
    dataset: Dataset, item: SimItem, *, maintainers_only: bool = False,
    is_bot: Callable[[Dataset, str | None], bool] = sim_is_bot,
) -> ExpectedResponse:  # fmt: skip
    timeline = sorted(item.timeline, key=lambda e: (e.submitted_at or e.created_at, e.id))
    start: datetime | None = item.created_at
    if item.kind == "pull_request":
        draft_events = [
            e for e in timeline if e.type in ("ReadyForReviewEvent", "ConvertToDraftEvent")
        ]
        if draft_events and draft_events[0].type == "ReadyForReviewEvent":
            start = draft_events[0].created_at
        elif not draft_events and item.is_draft:
            start = None
    for entry in timeline:
        when = entry.submitted_at or entry.created_at
        if start is None or entry.type not in RESPONSE_TYPES or when < start:
            continue
        if entry.type == "PullRequestReview" and entry.review_state == "PENDING":
            continue
        if entry.actor is None or is_bot(dataset, entry.actor):
            continue
        if item.author is not None and entry.actor.lower() == item.author.lower():
            continue
        is_event = entry.type in ("ClosedEvent", "MergedEvent")
        if maintainers_only and not is_event and entry.author_association not in MAINTAINER:
            continue
        return ExpectedResponse(start, when, entry.actor)
    return ExpectedResponse(start, None, None)


def all_items(repo: SimRepository) -> dict[int, SimItem]:
    return {item.number: item for item in repo.items}
