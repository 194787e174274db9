"""First response: when did someone other than the author (and not a bot) first engage?

Definition (docs/metrics.md; CHAOSS "Time to First Response", DevStats "time to engagement",
github/issue-metrics' rules):

- The clock starts when the item is opened, or — for a pull request opened as a draft — when it
  is first marked ready for review. A pull request that is still a draft has no clock.
- A response is a comment, a submitted review (not PENDING), or a close/merge, made at or after
  the clock start by someone who is not the author and not a bot. Reactions are not activity.
- Which responders count is a policy: anyone; maintainers (authorAssociation OWNER, MEMBER or
  COLLABORATOR — close and merge need write or triage access, so they count as a maintainer's);
  or an explicit list of logins. Which kinds of activity count is configurable too.

Every decision is recorded with its reason so ``healthexporter explain`` can show the working;
``find_first_response`` gives the same answer without them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from healthexporter.model import Activity, ActivityKind, Actor, Item, ItemKind

MAINTAINER_ASSOCIATIONS = frozenset({"OWNER", "MEMBER", "COLLABORATOR"})
RESPONSE_KINDS = frozenset(
    {ActivityKind.COMMENT, ActivityKind.REVIEW, ActivityKind.CLOSED, ActivityKind.MERGED}
)


class Responders(StrEnum):
    ANYONE = "anyone"
    MAINTAINERS = "maintainers"
    LIST = "list"


@dataclass(frozen=True)
class ResponsePolicy:
    responders: Responders = Responders.ANYONE
    maintainers: frozenset[str] = frozenset()  # lower-cased logins, for Responders.LIST
    kinds: frozenset[ActivityKind] = RESPONSE_KINDS


@dataclass(frozen=True)
class Decision:
    activity: Activity
    counted: bool
    reason: str  # "response", "bot", "author", "before clock start", "not a responder", …


@dataclass(frozen=True)
class FirstResponse:
    clock_start: datetime | None  # None: a draft that was never ready for review
    responded_at: datetime | None
    responder: str | None
    activity_id: str | None
    decisions: tuple[Decision, ...] = field(default=())

    @property
    def seconds(self) -> float | None:
        if self.clock_start is None or self.responded_at is None:
            return None
        return (self.responded_at - self.clock_start).total_seconds()


def clock_start(item: Item) -> datetime | None:
    """Opened, or first ready-for-review for a pull request opened as a draft."""
    if item.kind is not ItemKind.PULL_REQUEST:
        return item.created_at
    for activity in item.activities:
        if activity.kind is ActivityKind.READY_FOR_REVIEW:
            return activity.at  # the first draft transition is "ready": it was opened as a draft
        if activity.kind is ActivityKind.CONVERT_TO_DRAFT:
            return item.created_at  # opened ready, converted later: the clock already ran
    return None if item.is_draft else item.created_at


def _same(actor: Actor, author: Actor) -> bool:
    return (
        actor.login is not None
        and author.login is not None
        and actor.login.lower() == author.login.lower()
    )


def first_response(
    item: Item, policy: ResponsePolicy, is_bot: Callable[[Actor], bool]
) -> FirstResponse:
    start = clock_start(item)
    decisions: list[Decision] = []
    for activity in item.activities:
        reason = _reason(item, activity, start, policy, is_bot)
        decisions.append(Decision(activity, reason == "response", reason))
        if reason == "response":
            assert start is not None
            return FirstResponse(
                start, activity.at, activity.actor.login, activity.id, tuple(decisions)
            )
    return FirstResponse(start, None, None, None, tuple(decisions))


def find_first_response(
    item: Item, policy: ResponsePolicy, is_bot: Callable[[Actor], bool]
) -> FirstResponse:
    """``first_response`` without the decisions: the same answer, for the maths, which asks
    for every item of a repository and needs only the result (building a ``Decision`` per
    activity cost a third of a computation). ``explain`` uses ``first_response``."""
    start = clock_start(item)
    for activity in item.activities:
        if _reason(item, activity, start, policy, is_bot) == "response":
            return FirstResponse(start, activity.at, activity.actor.login, activity.id)
    return FirstResponse(start, None, None, None)


def _reason(
    item: Item,
    activity: Activity,
    start: datetime | None,
    policy: ResponsePolicy,
    is_bot: Callable[[Actor], bool],
) -> str:
    if activity.kind not in policy.kinds:
        return f"{activity.kind.value} does not count"
    if activity.kind is ActivityKind.REVIEW and activity.review_state == "PENDING":
        return "pending review"
    if start is None:
        return "still a draft"
    if activity.at < start:
        return "before ready for review"
    if activity.actor.login is None:
        return "deleted account"
    if is_bot(activity.actor):
        return "bot"
    if _same(activity.actor, item.author):
        return "author"
    if policy.responders is Responders.MAINTAINERS:
        is_event = activity.kind in (ActivityKind.CLOSED, ActivityKind.MERGED)
        if not is_event and activity.association not in MAINTAINER_ASSOCIATIONS:
            return "not a responder"
    elif (
        policy.responders is Responders.LIST
        and activity.actor.login.lower() not in policy.maintainers
    ):
        return "not a responder"
    return "response"
