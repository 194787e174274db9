"""What the health maths takes and gives: the contract between the store, the maths and the
exposition.

Inputs are the stored domain objects of a repository (``RepositoryData``) and the settings
(``HealthSettings``); outputs are plain frozen values (``HealthSnapshot``). Durations are kept
as raw samples (seconds plus the item they belong to); the exposition buckets them into
histograms and picks exemplars, so the maths knows nothing of Prometheus.

Every window is ``[now - duration, now)``; "in the window" means the event's time falls in it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from healthexporter.health.first_response import ResponsePolicy
from healthexporter.model import (
    Actor,
    ActorKind,
    Commit,
    Item,
    ItemKind,
    Release,
    Repository,
    Tag,
)

HOUR = 3600.0
DAY = 86400.0
WAITING_THRESHOLDS: tuple[tuple[str, float], ...] = (("1h", HOUR), ("1d", DAY), ("3d", 3 * DAY))


@dataclass(frozen=True)
class Window:
    name: str  # as configured and exported in the `window` label, e.g. "7d"
    duration: timedelta

    def start(self, now: datetime) -> datetime:
        return now - self.duration

    def contains(self, at: datetime | None, now: datetime) -> bool:
        return at is not None and now - self.duration <= at < now


DEFAULT_WINDOWS = (
    Window("7d", timedelta(days=7)),
    Window("30d", timedelta(days=30)),
    Window("90d", timedelta(days=90)),
)


def _never_bot(actor: Actor) -> bool:
    return False


def _no_affiliation(login: str, at: datetime) -> str | None:
    return None


@dataclass(frozen=True)
class HealthSettings:
    windows: tuple[Window, ...] = DEFAULT_WINDOWS
    policy: ResponsePolicy = field(default_factory=ResponsePolicy)
    is_bot: Callable[[Actor], bool] = _never_bot
    # organization of a login at a time (affiliations file, overrides, profile company —
    # already normalised); None when unknown
    affiliation: Callable[[str, datetime], str | None] = _no_affiliation
    good_first_issue_labels: frozenset[str] = frozenset({"good first issue", "good-first-issue"})
    help_wanted_labels: frozenset[str] = frozenset({"help wanted", "help-wanted"})
    # DevStats: not active in the previous 3 months
    episodic_lookback: timedelta = timedelta(days=90)
    episodic_max_contributions: int = 5  # … and few contributions in all (documented)
    release_intervals: int = 10  # median over the intervals between the last N+1 releases

    def reach(self, now: datetime) -> tuple[datetime, datetime]:
        """How far back the numbers as of ``now`` look: (the start of the longest window, the
        start of the episodic lookback before it)."""
        longest = max((window.duration for window in self.windows), default=timedelta(0))
        return now - longest, now - longest - self.episodic_lookback


# A contribution as the store reads it, before bots and people are told apart
# (``health.contributors``): (login, actor kind, contribution kind, at). A commit GitHub did not
# link to an account has actor kind None and its author identity (``email:…``) for a login.
StoredContribution = tuple[str, ActorKind | None, str, datetime]
# One actor's contributions as the store sums them: (login, actor kind, how many, the first's time).
ContributionTotal = tuple[str, ActorKind | None, int, datetime]


@dataclass(frozen=True)
class StoredHistory:
    """What the maths needs from further back than a windowed ``RepositoryData`` holds, as
    the store works it out in SQL over everything stored. Valid for one ``now`` only.

    - ``contributions``: every contribution at ``contributions_since <= at < now`` — the
      longest window and the episodic lookback before it;
    - ``totals``: per actor, the contributions before ``now`` and the first one's time (who is
      new, who is episodic);
    - ``earliest``: each lower-cased login's first item (by creation) or default-branch commit
      (by commit time), whenever it was (who is a first-timer).
    """

    now: datetime
    since: datetime  # the items and commits are those of the windows from here on
    contributions_since: datetime
    contributions: tuple[StoredContribution, ...]
    totals: tuple[ContributionTotal, ...]
    earliest: Mapping[str, datetime]


@dataclass(frozen=True)
class RepositoryData:
    """Everything stored for one repository, as the maths reads it — or only what the windows
    read of it, with ``history`` for the rest.

    ``history`` None: ``items`` and ``commits`` are the whole stored history. Otherwise
    ``items`` are the open ones and those changed since ``history.since`` (every item a window
    or a waiting count can select, with all its activities), ``commits`` those committed since
    then, and ``history`` has what contributors and first-timers need from before;
    ``compute`` gives the same numbers either way, as of ``history.now``. Releases and tags
    are always all of them.
    """

    project: str
    repository: str
    info: Repository | None
    items: tuple[Item, ...]
    releases: tuple[Release, ...] = ()
    tags: tuple[Tag, ...] = ()
    commits: tuple[Commit, ...] = ()
    history: StoredHistory | None = None


@dataclass(frozen=True, slots=True)
class Sample:
    """One duration and the item it was measured on (``owner/repo#N``, for exemplars)."""

    seconds: float
    item: str
    at: datetime  # when the duration ended (the response, merge or close)


# --- responsiveness ------------------------------------------------------------------------
@dataclass(frozen=True)
class Responsiveness:
    """One repository, one window, one kind of item (pull requests or issues).

    ``first_response``: items whose clock started in the window and that got a first response
    (at any time up to now); ``unanswered``: items whose clock started in the window and have
    none yet (open or closed). Bot-authored items and drafts are left out of both.
    ``time_to_merge``: pull requests merged in the window, from clock start. ``time_to_close``:
    items closed in the window without a merge, from clock start.
    """

    first_response: tuple[Sample, ...] = ()
    unanswered: int = 0
    time_to_merge: tuple[Sample, ...] = ()
    time_to_close: tuple[Sample, ...] = ()
    opened: int = 0
    closed: int = 0  # closed in the window, merged ones excluded
    merged: int = 0
    merge_ratio: float | None = None  # pull requests: merged / (merged + closed unmerged)
    closure_ratio: float | None = None  # closed (incl. merged) in window / opened in window


@dataclass(frozen=True)
class Waiting:
    """Open items still without a first response, whatever their age (never dropped).
    Drafts and bot-authored items are counted apart, not as waiting."""

    count: int = 0
    oldest_seconds: float | None = None
    oldest_item: str | None = None
    over: Mapping[str, int] = field(default_factory=dict)  # "1h"/"1d"/"3d" → items waiting longer
    drafts: int = 0  # open drafts (no clock yet)
    bot_authored: int = 0  # open bot-authored items without a response


# --- contributors and risk -----------------------------------------------------------------
CONTRIBUTION_KINDS = ("pull_request", "issue", "commit", "review", "comment")


@dataclass(frozen=True)
class Contributors:
    """Distinct non-bot people in the window. ``active_by_kind`` keys are CONTRIBUTION_KINDS."""

    active: int = 0
    active_by_kind: Mapping[str, int] = field(default_factory=dict)
    new: int = 0  # whose first contribution ever (in this scope) falls in the window
    episodic: int = 0


@dataclass(frozen=True)
class Risk:
    """CHAOSS Contributor Absence Factor (bus factor) and Elephant Factor over the window."""

    contributions: int = 0
    bus_factor: int = 0  # smallest number of people with > 50% of contributions (0: none)
    elephant_factor: int = 0  # the same over organizations (known affiliations only)
    organizations: int = 0  # distinct known organizations
    unaffiliated_share: float | None = None  # share of contributions by people of unknown org


# --- velocity, releases, inclusivity -------------------------------------------------------
@dataclass(frozen=True)
class Velocity:
    pull_requests_opened: int = 0
    pull_requests_merged: int = 0
    pull_requests_closed: int = 0  # closed without merge
    issues_opened: int = 0
    issues_closed: int = 0
    commits: int = 0  # on the default branch, by committed time


@dataclass(frozen=True)
class ReleaseActivity:
    """Not windowed, except the counts in ``WindowHealth``. ``source`` is "release" when the
    repository publishes GitHub releases, "tag" when it only tags, None when neither."""

    source: str | None = None
    last_release_at: datetime | None = None  # newest stable (non-prerelease, non-draft)
    last_prerelease_at: datetime | None = None
    median_interval_seconds: float | None = None  # between recent stable releases
    total: int = 0


@dataclass(frozen=True)
class Inclusivity:
    first_timer_pull_requests: int = 0  # opened in the window by first-time contributors
    first_timer_first_response: tuple[Sample, ...] = ()
    first_timer_merge_ratio: float | None = None


# --- the snapshot --------------------------------------------------------------------------
@dataclass(frozen=True)
class WindowHealth:
    responsiveness: Mapping[ItemKind, Responsiveness]
    contributors: Contributors
    risk: Risk
    velocity: Velocity
    inclusivity: Inclusivity
    releases: int = 0  # stable releases (or tags) in the window
    prereleases: int = 0


@dataclass(frozen=True)
class RepositoryHealth:
    project: str
    repository: str
    info: Repository | None
    windows: Mapping[str, WindowHealth]
    waiting: Mapping[ItemKind, Waiting]
    releases: ReleaseActivity
    open_labelled_issues: Mapping[str, int]  # "good_first_issue" / "help_wanted" → open issues


@dataclass(frozen=True)
class ProjectWindowHealth:
    contributors: Contributors
    risk: Risk


@dataclass(frozen=True)
class ProjectHealth:
    """People across all of a project's repositories: one person in two repositories is one."""

    project: str
    repositories: tuple[str, ...]
    windows: Mapping[str, ProjectWindowHealth]


@dataclass(frozen=True)
class HealthSnapshot:
    computed_at: datetime
    windows: tuple[Window, ...]
    repositories: tuple[RepositoryHealth, ...]
    projects: tuple[ProjectHealth, ...]
