"""Exposition: health snapshot and exporter status → metric families → bytes, as pure functions.

The model is prometheus/client_python: families are plain data, rendering is a function, and the
HTTP handler (``web``) only picks one of the pre-rendered byte strings. Everything here is
computed after each sync (by the collector) and served as cached bytes, so a scrape never waits
for GitHub, the store or the maths.

Label sets stay bounded: ``project``, ``repository``, ``window``, ``kind`` and a few fixed
enumerations; never users, item numbers or free text (items appear only in exemplars).

Example lines, one or two per family (OpenMetrics, label order as rendered; ``R`` stands
for ``project="p",repository="o/r"``, ↩ marks a wrapped line; the full catalogue is in
docs/metrics.md)::

    github_health_repository_info{archived="false",default_branch="main",fork="false",R} 1.0
    github_health_first_response_seconds_bucket{kind="issue",le="3600.0",R,window="7d"} 2.0 # ↩
        {item="o/r#12"} 3000.0
    github_health_first_response_seconds_gcount{kind="issue",R,window="7d"} 3.0
    github_health_first_response_seconds_gsum{kind="issue",R,window="7d"} 93000.0
    github_health_time_to_merge_seconds_bucket{le="+Inf",R,window="7d"} 4.0
    github_health_time_to_close_seconds_bucket{kind="pull_request",le="+Inf",R,window="7d"} 1.0
    github_health_first_timer_first_response_seconds_bucket{le="+Inf",R,window="7d"} 1.0
    github_health_unanswered_items{kind="issue",R,window="7d"} 1.0
    github_health_waiting_items{kind="issue",R} 2.0
    github_health_waiting_oldest_seconds{kind="issue",R} 400000.0
    github_health_waiting_longer_than_items{kind="issue",R,threshold="1d"} 1.0
    github_health_open_draft_pull_requests{R} 1.0
    github_health_open_bot_items{kind="pull_request",R} 3.0
    github_health_opened_items{kind="pull_request",R,window="7d"} 5.0
    github_health_closed_items{kind="issue",R,window="7d"} 2.0
    github_health_merged_pull_requests{R,window="7d"} 4.0
    github_health_commits{R,window="7d"} 17.0
    github_health_merge_ratio{R,window="7d"} 0.8
    github_health_closure_ratio{kind="issue",R,window="7d"} 0.5
    github_health_active_contributors{contribution="any",R,window="7d"} 6.0
    github_health_new_contributors{R,window="7d"} 1.0
    github_health_episodic_contributors{R,window="7d"} 2.0
    github_health_contributions{R,window="7d"} 40.0
    github_health_bus_factor{R,window="7d"} 2.0
    github_health_elephant_factor{R,window="7d"} 1.0
    github_health_organizations{R,window="7d"} 3.0
    github_health_unaffiliated_contribution_ratio{R,window="7d"} 0.25
    github_health_releases{prerelease="false",R,window="90d"} 3.0
    github_health_last_release_timestamp_seconds{R,source="release"} 1.7e+09
    github_health_last_prerelease_timestamp_seconds{R,source="release"} 1.7e+09
    github_health_release_interval_median_seconds{R} 1.2096e+06
    github_health_first_timer_pull_requests{R,window="7d"} 1.0
    github_health_first_timer_merge_ratio{R,window="7d"} 1.0
    github_health_open_labelled_issues{label="good_first_issue",R} 4.0
    github_health_project_active_contributors{contribution="any",project="p",window="7d"} 9.0
    github_health_project_bus_factor{project="p",window="7d"} 3.0
    healthexporter_metrics_computed_timestamp_seconds 1.7e+09
    healthexporter_sync_up{R} 1.0
    healthexporter_last_sync_timestamp_seconds{R} 1.7e+09
    healthexporter_last_successful_sync_timestamp_seconds{R} 1.7e+09
    healthexporter_last_sync_duration_seconds{R} 2.5
    healthexporter_syncs_total{R} 12.0
    healthexporter_sync_errors_total{project="p",reason="rate_limited",repository="o/r"} 1.0
    healthexporter_github_requests_total{api="graphql",result="ok"} 230.0
    healthexporter_github_rate_limit_used_total{resource="graphql"} 412.0
    healthexporter_github_rate_limit_remaining{resource="graphql"} 4588.0
    healthexporter_github_rate_limit_limit{resource="graphql"} 5000.0
    healthexporter_github_rate_limit_reset_timestamp_seconds{resource="graphql"} 1.7e+09
    healthexporter_store_size_bytes 1.048576e+06
    healthexporter_build_info{python_version="3.11.2",version="0.1.0"} 1.0
    healthexporter_start_time_seconds 1.7e+09
    healthexporter_metrics_compute_duration_seconds 0.42
    healthexporter_shard 0.0
    healthexporter_total_shards 1.0
"""

from __future__ import annotations

import gzip
import math
import platform
from bisect import bisect_left
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from prometheus_client.core import (
    CounterMetricFamily,
    GaugeHistogramMetricFamily,
    GaugeMetricFamily,
    InfoMetricFamily,
    Metric,
)
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4
from prometheus_client.exposition import generate_latest as generate_text
from prometheus_client.openmetrics.exposition import CONTENT_TYPE_LATEST as CONTENT_TYPE_OPENMETRICS
from prometheus_client.openmetrics.exposition import generate_latest as generate_openmetrics
from prometheus_client.registry import Collector
from prometheus_client.samples import Exemplar
from prometheus_client.samples import Sample as PromSample
from prometheus_client.utils import floatToGoString

from healthexporter.health.snapshot import (
    CONTRIBUTION_KINDS,
    WAITING_THRESHOLDS,
    Contributors,
    HealthSnapshot,
    ProjectHealth,
    RepositoryHealth,
    Risk,
    Sample,
)
from healthexporter.model import ItemKind, RateLimitState, SyncReport

__all__ = [
    "BUCKETS",
    "CONTENT_TYPE_OPENMETRICS",
    "CONTENT_TYPE_TEXT",
    "ExporterStatus",
    "RenderedExposition",
    "RepositoryStatus",
    "exporter_families",
    "health_families",
    "render",
]

CONTENT_TYPE_TEXT = CONTENT_TYPE_PLAIN_0_0_4

# Upper bounds (seconds) of the duration histograms: 5 min … 90 days. 1 h, 1 d and 3 d are
# bounds so that "answered within a day" is a bucket ratio, not an estimate.
BUCKETS: tuple[float, ...] = (
    300.0,
    900.0,
    1800.0,
    3600.0,
    7200.0,
    14400.0,
    28800.0,
    86400.0,
    172800.0,
    259200.0,
    604800.0,
    1209600.0,
    2592000.0,
    7776000.0,
    math.inf,
)

# le label values, spelled as client_python spells its own histograms' bounds ("2.592e+06")
_LE = tuple(floatToGoString(bound) for bound in BUCKETS)  # type: ignore[no-untyped-call]

# OpenMetrics: "The combined length of the label names and values of an Exemplar's LabelSet
# MUST NOT exceed 128 UTF-8 character code points." Longer item names get no exemplar.
EXEMPLAR_MAX_LABEL_CHARS = 128

CACHED = " Computed from the local store after each sync; cached between scrapes."
REPO = ("project", "repository")
WINDOWED = (*REPO, "window")
KINDS = (ItemKind.PULL_REQUEST, ItemKind.ISSUE)


# --- the exporter's own state ---------------------------------------------------------------
@dataclass(frozen=True)
class RepositoryStatus:
    """What the exporter knows about its own work on one repository."""

    project: str
    last_report: SyncReport | None
    last_finished_at: datetime | None
    last_success_at: datetime | None
    errors_total: Mapping[str, int]  # by reason, since process start
    syncs_total: int


@dataclass(frozen=True)
class ExporterStatus:
    repositories: Mapping[str, RepositoryStatus]  # by repository ("owner/name")
    github_requests_total: Mapping[tuple[str, str], int]  # (api, result) → requests
    github_units_total: Mapping[str, int]  # resource → GraphQL points / charged REST requests
    rate_limits: Mapping[str, RateLimitState]
    store_size_bytes: int | None
    version: str
    started_at: datetime
    last_compute_seconds: float | None
    shard: int = 0
    total_shards: int = 1
    python_version: str = field(default_factory=platform.python_version)


# --- health ---------------------------------------------------------------------------------
def health_families(snapshot: HealthSnapshot) -> list[Metric]:
    """The health metrics of every repository and project in the snapshot."""
    repositories = snapshot.repositories
    computed = GaugeMetricFamily(
        "healthexporter_metrics_computed_timestamp_seconds",
        "When the health metrics served now were computed (Unix time).",
        unit="seconds",
    )
    computed.add_metric([], snapshot.computed_at.timestamp())
    return [
        *_repository_info(repositories),
        *_durations(repositories),
        *_waiting(repositories),
        *_velocity(repositories),
        *_contributors(repositories),
        *_risk(repositories),
        *_releases(repositories),
        *_inclusivity(repositories),
        *_projects(snapshot.projects),
        computed,
    ]


def _gauge(name: str, help_text: str, labels: Sequence[str], unit: str = "") -> GaugeMetricFamily:
    return GaugeMetricFamily(name, help_text + CACHED, labels=labels, unit=unit)


def _histogram(name: str, help_text: str, labels: Sequence[str]) -> GaugeHistogramMetricFamily:
    return GaugeHistogramMetricFamily(name, help_text + CACHED, labels=labels, unit="seconds")


def _bool(value: bool) -> str:
    return "true" if value else "false"


def _repository_info(repositories: Sequence[RepositoryHealth]) -> Iterator[Metric]:
    info = InfoMetricFamily(
        "github_health_repository",
        "Repository metadata as GitHub last reported it." + CACHED,
        labels=REPO,
    )
    for repo in repositories:
        if repo.info is not None:
            info.add_metric(
                [repo.project, repo.repository],
                {
                    "default_branch": repo.info.default_branch or "",
                    "archived": _bool(repo.info.is_archived),
                    "fork": _bool(repo.info.is_fork),
                },
            )
    yield info


def add_duration_histogram(
    family: GaugeHistogramMetricFamily, labels: Mapping[str, str], samples: Iterable[Sample]
) -> None:
    """Bucket ``samples`` into ``family`` with ``labels`` (all but ``le``), each bucket with an
    exemplar: the slowest item that fell into that bucket (not the cumulative range below it).

    ``GaugeHistogramMetricFamily.add_metric`` takes no exemplars, so the samples are built
    here. Non-finite durations are left out (they cannot be bucketed or summed).
    """
    counts = [0] * len(BUCKETS)
    slowest: list[Sample | None] = [None] * len(BUCKETS)
    total = 0.0
    for sample in samples:
        if not math.isfinite(sample.seconds):
            continue
        index = bisect_left(BUCKETS, sample.seconds)  # le is inclusive: first bound >= value
        counts[index] += 1
        total += sample.seconds
        current = slowest[index]
        if current is None or (sample.seconds, sample.item) > (current.seconds, current.item):
            slowest[index] = sample
    base = dict(labels)
    cumulative = 0
    for le, count, example in zip(_LE, counts, slowest, strict=True):
        cumulative += count
        family.samples.append(
            PromSample(
                family.name + "_bucket",
                {**base, "le": le},
                cumulative,
                exemplar=_exemplar(example),
            )
        )
    family.samples.append(PromSample(family.name + "_gcount", dict(base), cumulative))
    family.samples.append(PromSample(family.name + "_gsum", dict(base), total))


def _exemplar(sample: Sample | None) -> Exemplar | None:
    """``item="owner/repo#N"`` names the item; ``url_path="owner/repo/issues/N"`` is the same
    item as a github.com path (GitHub redirects ``/issues/N`` to ``/pull/N`` for pull requests),
    because Grafana's exemplar links can only insert a label's whole value. The path is left
    out when both would pass OpenMetrics' 128-character limit for exemplar labels."""
    # No exemplar timestamp: Prometheus rejects exemplars older than the series' last one,
    # and the slowest item of a bucket may be older than the previous scrape's.
    if sample is None or len("item") + len(sample.item) > EXEMPLAR_MAX_LABEL_CHARS:
        return None
    labels = {"item": sample.item}
    repository, _, number = sample.item.rpartition("#")
    path = f"{repository}/issues/{number}"
    size = len("item") + len(sample.item) + len("url_path") + len(path)
    if repository and number.isdigit() and size <= EXEMPLAR_MAX_LABEL_CHARS:
        labels["url_path"] = path
    return Exemplar(labels, sample.seconds)


def _durations(repositories: Sequence[RepositoryHealth]) -> Iterator[Metric]:
    first_response = _histogram(
        "github_health_first_response_seconds",
        "Time from an item's clock start (opened, or ready for review) to its first response "
        "by someone other than the author or a bot, for items whose clock started in the "
        "window. Exemplars name the slowest item of each bucket.",
        (*WINDOWED, "kind"),
    )
    to_merge = _histogram(
        "github_health_time_to_merge_seconds",
        "Time from clock start to merge, for pull requests merged in the window.",
        WINDOWED,
    )
    to_close = _histogram(
        "github_health_time_to_close_seconds",
        "Time from clock start to close without merge, for items closed in the window.",
        (*WINDOWED, "kind"),
    )
    first_timer = _histogram(
        "github_health_first_timer_first_response_seconds",
        "Time to first response on pull requests opened in the window by first-time contributors.",
        WINDOWED,
    )
    for repo in repositories:
        for window, health in repo.windows.items():
            for kind in KINDS:
                resp = health.responsiveness.get(kind)
                if resp is None:
                    continue
                windowed = {
                    "project": repo.project,
                    "repository": repo.repository,
                    "window": window,
                }
                labels = {**windowed, "kind": kind.value}
                add_duration_histogram(first_response, labels, resp.first_response)
                add_duration_histogram(to_close, labels, resp.time_to_close)
                if kind is ItemKind.PULL_REQUEST:
                    add_duration_histogram(to_merge, windowed, resp.time_to_merge)
            add_duration_histogram(
                first_timer, windowed, health.inclusivity.first_timer_first_response
            )
    yield from (first_response, to_merge, to_close, first_timer)


def _waiting(repositories: Sequence[RepositoryHealth]) -> Iterator[Metric]:
    unanswered = _gauge(
        "github_health_unanswered_items",
        "Items whose clock started in the window and that have no first response yet "
        "(open or closed; drafts and bot-authored items left out).",
        (*WINDOWED, "kind"),
    )
    waiting = _gauge(
        "github_health_waiting_items",
        "Open items without a first response, whatever their age (drafts and bot-authored "
        "items left out).",
        (*REPO, "kind"),
    )
    oldest = _gauge(
        "github_health_waiting_oldest_seconds",
        "How long the oldest open item without a first response has been waiting; absent "
        "when none is waiting.",
        (*REPO, "kind"),
        unit="seconds",
    )
    longer = _gauge(
        "github_health_waiting_longer_than_items",
        "Open items without a first response waiting longer than the threshold.",
        (*REPO, "kind", "threshold"),
    )
    drafts = _gauge(
        "github_health_open_draft_pull_requests",
        "Open draft pull requests (their response clock has not started).",
        REPO,
    )
    bots = _gauge(
        "github_health_open_bot_items",
        "Open bot-authored items without a response (not counted as waiting).",
        (*REPO, "kind"),
    )
    for repo in repositories:
        for window, health in repo.windows.items():
            for kind in KINDS:
                resp = health.responsiveness.get(kind)
                if resp is not None:
                    unanswered.add_metric(
                        [repo.project, repo.repository, window, kind.value], resp.unanswered
                    )
        for kind in KINDS:
            wait = repo.waiting.get(kind)
            if wait is None:
                continue
            labels = [repo.project, repo.repository, kind.value]
            waiting.add_metric(labels, wait.count)
            if wait.count and wait.oldest_seconds is not None:
                oldest.add_metric(labels, wait.oldest_seconds)
            for threshold, _seconds in WAITING_THRESHOLDS:
                longer.add_metric([*labels, threshold], wait.over.get(threshold, 0))
            if kind is ItemKind.PULL_REQUEST:
                drafts.add_metric(labels[:2], wait.drafts)
            bots.add_metric(labels, wait.bot_authored)
    yield from (unanswered, waiting, oldest, longer, drafts, bots)


def _velocity(repositories: Sequence[RepositoryHealth]) -> Iterator[Metric]:
    # Separate names rather than one metric with an opened/merged/closed label: summing
    # across those would count one pull request up to twice.
    opened = _gauge(
        "github_health_opened_items", "Items opened in the window.", (*WINDOWED, "kind")
    )
    closed = _gauge(
        "github_health_closed_items",
        "Items closed in the window without a merge.",
        (*WINDOWED, "kind"),
    )
    merged = _gauge(
        "github_health_merged_pull_requests", "Pull requests merged in the window.", WINDOWED
    )
    commits = _gauge(
        "github_health_commits",
        "Commits on the default branch committed in the window.",
        WINDOWED,
    )
    merge_ratio = _gauge(
        "github_health_merge_ratio",
        "Pull requests merged / (merged + closed unmerged) in the window; absent when none.",
        WINDOWED,
        unit="ratio",
    )
    closure_ratio = _gauge(
        "github_health_closure_ratio",
        "Items closed (merged included) in the window / items opened in the window; absent "
        "when none opened.",
        (*WINDOWED, "kind"),
        unit="ratio",
    )
    for repo in repositories:
        for window, health in repo.windows.items():
            labels = [repo.project, repo.repository, window]
            velocity = health.velocity
            opened.add_metric([*labels, "pull_request"], velocity.pull_requests_opened)
            opened.add_metric([*labels, "issue"], velocity.issues_opened)
            closed.add_metric([*labels, "pull_request"], velocity.pull_requests_closed)
            closed.add_metric([*labels, "issue"], velocity.issues_closed)
            merged.add_metric(labels, velocity.pull_requests_merged)
            commits.add_metric(labels, velocity.commits)
            for kind in KINDS:
                resp = health.responsiveness.get(kind)
                if resp is None:
                    continue
                if kind is ItemKind.PULL_REQUEST and resp.merge_ratio is not None:
                    merge_ratio.add_metric(labels, resp.merge_ratio)
                if resp.closure_ratio is not None:
                    closure_ratio.add_metric([*labels, kind.value], resp.closure_ratio)
    yield from (opened, closed, merged, commits, merge_ratio, closure_ratio)


class _ContributorFamilies:
    """active/new/episodic contributors, for repositories or (under other names) projects."""

    def __init__(self, prefix: str, scope: str, labels: Sequence[str]) -> None:
        self.active = _gauge(
            f"{prefix}active_contributors",
            f"Distinct people (bots left out) who contributed to the {scope} in the window; "
            "contribution any counts each person once.",
            (*labels, "contribution"),
        )
        self.new = _gauge(
            f"{prefix}new_contributors",
            f"People whose first contribution to the {scope} falls in the window.",
            labels,
        )
        self.episodic = _gauge(
            f"{prefix}episodic_contributors",
            f"People active in the window, not active in the 90 days before and with few "
            f"contributions to the {scope} in all.",
            labels,
        )

    def add(self, labels: Sequence[str], contributors: Contributors) -> None:
        self.active.add_metric([*labels, "any"], contributors.active)
        for contribution in CONTRIBUTION_KINDS:
            count = contributors.active_by_kind.get(contribution)
            if count is not None:
                self.active.add_metric([*labels, contribution], count)
        self.new.add_metric(labels, contributors.new)
        self.episodic.add_metric(labels, contributors.episodic)

    def families(self) -> tuple[Metric, ...]:
        return (self.active, self.new, self.episodic)


class _RiskFamilies:
    """CHAOSS bus factor, elephant factor and organization diversity over a window."""

    def __init__(self, prefix: str, scope: str, labels: Sequence[str]) -> None:
        self.contributions = _gauge(
            f"{prefix}contributions",
            f"Contributions (pull requests, issues, commits, reviews, comments; bots left out) "
            f"to the {scope} in the window.",
            labels,
        )
        self.bus_factor = _gauge(
            f"{prefix}bus_factor",
            f"CHAOSS Contributor Absence Factor of the {scope}: the fewest people who made more "
            "than half of the window's contributions (0: no contributions).",
            labels,
        )
        self.elephant_factor = _gauge(
            f"{prefix}elephant_factor",
            f"CHAOSS Elephant Factor of the {scope}: the fewest organizations that made more "
            "than half of the window's contributions by people of known affiliation.",
            labels,
        )
        self.organizations = _gauge(
            f"{prefix}organizations",
            f"Distinct known organizations of the people contributing to the {scope} in the "
            "window.",
            labels,
        )
        self.unaffiliated = _gauge(
            f"{prefix}unaffiliated_contribution_ratio",
            f"Share of the {scope}'s contributions in the window by people of unknown "
            "organization; absent when there were none.",
            labels,
            unit="ratio",
        )

    def add(self, labels: Sequence[str], risk: Risk) -> None:
        self.contributions.add_metric(labels, risk.contributions)
        self.bus_factor.add_metric(labels, risk.bus_factor)
        self.elephant_factor.add_metric(labels, risk.elephant_factor)
        self.organizations.add_metric(labels, risk.organizations)
        if risk.unaffiliated_share is not None:
            self.unaffiliated.add_metric(labels, risk.unaffiliated_share)

    def families(self) -> tuple[Metric, ...]:
        return (
            self.contributions,
            self.bus_factor,
            self.elephant_factor,
            self.organizations,
            self.unaffiliated,
        )


def _contributors(repositories: Sequence[RepositoryHealth]) -> Iterator[Metric]:
    families = _ContributorFamilies("github_health_", "repository", WINDOWED)
    for repo in repositories:
        for window, health in repo.windows.items():
            families.add([repo.project, repo.repository, window], health.contributors)
    yield from families.families()


def _risk(repositories: Sequence[RepositoryHealth]) -> Iterator[Metric]:
    families = _RiskFamilies("github_health_", "repository", WINDOWED)
    for repo in repositories:
        for window, health in repo.windows.items():
            families.add([repo.project, repo.repository, window], health.risk)
    yield from families.families()


def _releases(repositories: Sequence[RepositoryHealth]) -> Iterator[Metric]:
    releases = _gauge(
        "github_health_releases",
        "Releases (or tags, for repositories without GitHub releases) published in the window.",
        (*WINDOWED, "prerelease"),
    )
    last = _gauge(
        "github_health_last_release_timestamp_seconds",
        "Publication time of the newest stable release (Unix time); source is release for "
        "GitHub releases, tag for repositories that only tag.",
        (*REPO, "source"),
        unit="seconds",
    )
    last_pre = _gauge(
        "github_health_last_prerelease_timestamp_seconds",
        "Publication time of the newest prerelease (Unix time).",
        (*REPO, "source"),
        unit="seconds",
    )
    interval = _gauge(
        "github_health_release_interval_median_seconds",
        "Median interval between recent stable releases.",
        REPO,
        unit="seconds",
    )
    for repo in repositories:
        for window, health in repo.windows.items():
            labels = [repo.project, repo.repository, window]
            releases.add_metric([*labels, "false"], health.releases)
            releases.add_metric([*labels, "true"], health.prereleases)
        activity = repo.releases
        labels = [repo.project, repo.repository]
        source = activity.source or ""
        if activity.last_release_at is not None:
            last.add_metric([*labels, source], activity.last_release_at.timestamp())
        if activity.last_prerelease_at is not None:
            last_pre.add_metric([*labels, source], activity.last_prerelease_at.timestamp())
        if activity.median_interval_seconds is not None:
            interval.add_metric(labels, activity.median_interval_seconds)
    yield from (releases, last, last_pre, interval)


def _inclusivity(repositories: Sequence[RepositoryHealth]) -> Iterator[Metric]:
    first_timers = _gauge(
        "github_health_first_timer_pull_requests",
        "Pull requests opened in the window by people contributing for the first time.",
        WINDOWED,
    )
    first_timer_merge = _gauge(
        "github_health_first_timer_merge_ratio",
        "Share of first-time contributors' pull requests (opened in the window) that were "
        "merged; absent when none.",
        WINDOWED,
        unit="ratio",
    )
    labelled = _gauge(
        "github_health_open_labelled_issues",
        "Open issues labelled for newcomers: label good_first_issue or help_wanted (the "
        "label spellings are configured).",
        (*REPO, "label"),
    )
    for repo in repositories:
        for window, health in repo.windows.items():
            labels = [repo.project, repo.repository, window]
            first_timers.add_metric(labels, health.inclusivity.first_timer_pull_requests)
            if health.inclusivity.first_timer_merge_ratio is not None:
                first_timer_merge.add_metric(labels, health.inclusivity.first_timer_merge_ratio)
        for label, count in sorted(repo.open_labelled_issues.items()):
            labelled.add_metric([repo.project, repo.repository, label], count)
    yield from (first_timers, first_timer_merge, labelled)


def _projects(projects: Sequence[ProjectHealth]) -> Iterator[Metric]:
    # Other names than the repository metrics: a person in two repositories is one person in
    # the project, so summing repository values would be wrong, and a shared name invites it.
    contributors = _ContributorFamilies("github_health_project_", "project", ("project", "window"))
    risk = _RiskFamilies("github_health_project_", "project", ("project", "window"))
    for project in projects:
        for window, health in project.windows.items():
            contributors.add([project.project, window], health.contributors)
            risk.add([project.project, window], health.risk)
    yield from contributors.families()
    yield from risk.families()


# --- the exporter itself --------------------------------------------------------------------
def exporter_families(status: ExporterStatus) -> list[Metric]:
    """The exporter's own health: syncs, GitHub usage, rate limits, store, build."""
    return [*_sync_families(status), *_github_families(status), *_process_families(status)]


def _sync_families(status: ExporterStatus) -> Iterator[Metric]:
    up = GaugeMetricFamily(
        "healthexporter_sync_up",
        "1 if the last sync of the repository succeeded, 0 if it failed; absent before the "
        "first sync.",
        labels=REPO,
    )
    finished = GaugeMetricFamily(
        "healthexporter_last_sync_timestamp_seconds",
        "When the last sync of the repository finished, successful or not (Unix time).",
        labels=REPO,
        unit="seconds",
    )
    success = GaugeMetricFamily(
        "healthexporter_last_successful_sync_timestamp_seconds",
        "When the last successful sync of the repository finished (Unix time).",
        labels=REPO,
        unit="seconds",
    )
    duration = GaugeMetricFamily(
        "healthexporter_last_sync_duration_seconds",
        "How long the last sync of the repository took.",
        labels=REPO,
        unit="seconds",
    )
    syncs = CounterMetricFamily(
        "healthexporter_syncs",
        "Syncs of the repository since the process started.",
        labels=REPO,
    )
    errors = CounterMetricFamily(
        "healthexporter_sync_errors",
        "Failed syncs of the repository since the process started, by reason.",
        labels=(*REPO, "reason"),
    )
    for repository, repo in status.repositories.items():
        labels = [repo.project, repository]
        report = repo.last_report
        if report is not None:
            up.add_metric(labels, 1 if report.ok else 0)
            duration.add_metric(labels, report.duration_seconds)
        if repo.last_finished_at is not None:
            finished.add_metric(labels, repo.last_finished_at.timestamp())
        if repo.last_success_at is not None:
            success.add_metric(labels, repo.last_success_at.timestamp())
        syncs.add_metric(labels, repo.syncs_total)
        for reason, count in sorted(repo.errors_total.items()):
            errors.add_metric([*labels, reason], count)
    yield from (up, finished, success, duration, syncs, errors)


def _github_families(status: ExporterStatus) -> Iterator[Metric]:
    requests = CounterMetricFamily(
        "healthexporter_github_requests",
        "GitHub API requests since the process started, by api (graphql, rest) and result "
        "(ok, not_modified, error).",
        labels=("api", "result"),
    )
    for (api, result), count in sorted(status.github_requests_total.items()):
        requests.add_metric([api, result], count)
    used = CounterMetricFamily(
        "healthexporter_github_rate_limit_used",
        "Rate-limit units this process has spent since it started: GraphQL points "
        "(resource graphql) and charged REST requests (resource core).",
        labels=("resource",),
    )
    for resource, units in sorted(status.github_units_total.items()):
        used.add_metric([resource], units)
    remaining = GaugeMetricFamily(
        "healthexporter_github_rate_limit_remaining",
        "Units left in the rate-limit window as GitHub last reported; absent when unknown.",
        labels=("resource",),
    )
    limit = GaugeMetricFamily(
        "healthexporter_github_rate_limit_limit",
        "Units per rate-limit window as GitHub last reported; absent when unknown.",
        labels=("resource",),
    )
    reset = GaugeMetricFamily(
        "healthexporter_github_rate_limit_reset_timestamp_seconds",
        "When GitHub said the rate-limit window resets (Unix time); absent when unknown.",
        labels=("resource",),
        unit="seconds",
    )
    for resource, state in sorted(status.rate_limits.items()):
        if state.remaining is not None:
            remaining.add_metric([resource], state.remaining)
        if state.limit is not None:
            limit.add_metric([resource], state.limit)
        if state.reset_at is not None:
            reset.add_metric([resource], state.reset_at.timestamp())
    yield from (requests, used, remaining, limit, reset)


def _process_families(status: ExporterStatus) -> Iterator[Metric]:
    if status.store_size_bytes is not None:
        yield GaugeMetricFamily(
            "healthexporter_store_size_bytes",
            "Size of the local store on disk.",
            value=status.store_size_bytes,
            unit="bytes",
        )
    yield InfoMetricFamily(
        "healthexporter_build",
        "The exporter's version and the Python running it.",
        value={"version": status.version, "python_version": status.python_version},
    )
    yield GaugeMetricFamily(
        "healthexporter_start_time_seconds",
        "When the exporter process started (Unix time).",
        value=status.started_at.timestamp(),
        unit="seconds",
    )
    if status.last_compute_seconds is not None:
        yield GaugeMetricFamily(
            "healthexporter_metrics_compute_duration_seconds",
            "How long the last computation of the health metrics took (store reads, maths, "
            "rendering excluded).",
            value=status.last_compute_seconds,
            unit="seconds",
        )
    yield GaugeMetricFamily(
        "healthexporter_shard",
        "This process's shard (0-based) of the configured repositories.",
        value=status.shard,
    )
    yield GaugeMetricFamily(
        "healthexporter_total_shards",
        "Number of shards the configured repositories are split into.",
        value=status.total_shards,
    )


# --- rendering ------------------------------------------------------------------------------
class _Families(Collector):
    """A registry stand-in: prometheus_client's encoders only call ``collect()``."""

    def __init__(self, families: Sequence[Metric]) -> None:
        self._families = families

    def collect(self) -> Iterable[Metric]:
        return self._families


def _gzip(data: bytes) -> bytes:
    return gzip.compress(data, compresslevel=6, mtime=0)  # mtime=0: same bytes, same output


@dataclass(frozen=True)
class RenderedExposition:
    """Both exposition formats, rendered once, plain and gzip-compressed.

    A scrape only chooses among these byte strings (``choose``): nothing is encoded or
    compressed per request.
    """

    openmetrics: bytes
    text: bytes
    openmetrics_gzip: bytes
    text_gzip: bytes

    def choose(
        self, accept: str | None, accept_encoding: str | None
    ) -> tuple[bytes, str, str | None]:
        """``(body, Content-Type, Content-Encoding or None)`` for a request's headers.

        Like client_python's ``choose_encoder``: OpenMetrics 1.0 when the client accepts
        ``application/openmetrics-text`` (no version or a 1.x version), else the classic text
        format 0.0.4; gzip when ``Accept-Encoding`` allows it.
        """
        compress = _accepts_gzip(accept_encoding)
        if _accepts_openmetrics(accept):
            if compress:
                return self.openmetrics_gzip, CONTENT_TYPE_OPENMETRICS, "gzip"
            return self.openmetrics, CONTENT_TYPE_OPENMETRICS, None
        if compress:
            return self.text_gzip, CONTENT_TYPE_TEXT, "gzip"
        return self.text, CONTENT_TYPE_TEXT, None


def _media_ranges(header: str | None) -> Iterator[tuple[str, dict[str, str]]]:
    """``(token, parameters)`` of each comma-separated element, leaving out q=0 ones."""
    for element in (header or "").split(","):
        token, *raw_params = (part.strip() for part in element.split(";"))
        params: dict[str, str] = {}
        for raw in raw_params:
            key, _, value = raw.partition("=")
            params[key.strip().lower()] = value.strip().strip('"')
        try:
            quality = float(params.get("q", "1"))
        except ValueError:
            quality = 1.0
        if token and quality > 0:
            yield token.lower(), params


def _accepts_openmetrics(accept: str | None) -> bool:
    for token, params in _media_ranges(accept):
        if token == "application/openmetrics-text":
            version = params.get("version")
            if version is None or version.split(".")[0] == "1":
                return True
    return False


def _accepts_gzip(accept_encoding: str | None) -> bool:
    return any(token in ("gzip", "x-gzip", "*") for token, _ in _media_ranges(accept_encoding))


def render(families: Iterable[Metric]) -> RenderedExposition:
    """Render ``families`` once in both formats and compress each."""
    registry = _Families(list(families))
    openmetrics: bytes = generate_openmetrics(registry)  # type: ignore[no-untyped-call]
    text = generate_text(registry)
    return RenderedExposition(
        openmetrics=openmetrics,
        text=text,
        openmetrics_gzip=_gzip(openmetrics),
        text_gzip=_gzip(text),
    )
