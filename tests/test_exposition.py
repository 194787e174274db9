"""Exposition: a literal snapshot and status → exact OpenMetrics bytes (golden text), the strict
OpenMetrics parser, ``promtool check metrics`` on the classic text, and content negotiation.

Regenerate the golden file after an intended change with
``UPDATE_GOLDEN=1 .venv/bin/pytest tests/test_exposition.py`` and review the diff.
"""

from __future__ import annotations

import gzip
import os
import shutil
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from prometheus_client.core import GaugeHistogramMetricFamily, Metric
from prometheus_client.openmetrics.parser import (
    text_string_to_metric_families as openmetrics_parser,
)
from prometheus_client.parser import text_string_to_metric_families as classic_parser

from healthexporter.exposition import (
    BUCKETS,
    CONTENT_TYPE_OPENMETRICS,
    CONTENT_TYPE_TEXT,
    ExporterStatus,
    RepositoryStatus,
    add_duration_histogram,
    exporter_families,
    health_families,
    render,
)
from healthexporter.health.snapshot import (
    Contributors,
    HealthSnapshot,
    Inclusivity,
    ProjectHealth,
    ProjectWindowHealth,
    ReleaseActivity,
    RepositoryHealth,
    Responsiveness,
    Risk,
    Sample,
    Velocity,
    Waiting,
    Window,
    WindowHealth,
)
from healthexporter.model import ItemKind, RateLimitState, Repository, SyncReport

GOLDEN = Path(__file__).parent / "data" / "golden" / "metrics.om.txt"
NOW = datetime(2024, 6, 1, 12, 0, tzinfo=UTC)
HOUR, DAY = 3600.0, 86400.0


def sample(seconds: float, number: int, repository: str = "acme/rocket") -> Sample:
    return Sample(seconds, f"{repository}#{number}", NOW - timedelta(hours=number))


def window_health(*, scale: int = 1) -> WindowHealth:
    pull_requests = Responsiveness(
        first_response=(sample(120, 1), sample(250, 2), sample(2 * HOUR, 3), sample(9 * DAY, 4)),
        unanswered=2,
        time_to_merge=(sample(DAY, 5), sample(3 * DAY, 6)),
        time_to_close=(sample(200 * DAY, 7),),
        opened=6 * scale,
        closed=1,
        merged=2,
        merge_ratio=2 / 3,
        closure_ratio=0.5,
    )
    issues = Responsiveness(
        first_response=(sample(HOUR, 8),),
        unanswered=1,
        time_to_close=(sample(4 * DAY, 9),),
        opened=3,
        closed=1,
        closure_ratio=None,
    )
    return WindowHealth(
        responsiveness={ItemKind.PULL_REQUEST: pull_requests, ItemKind.ISSUE: issues},
        contributors=Contributors(
            active=5 * scale,
            active_by_kind={"pull_request": 3, "issue": 2, "commit": 2, "review": 1, "comment": 4},
            new=1,
            episodic=2,
        ),
        risk=Risk(
            contributions=40 * scale,
            bus_factor=2,
            elephant_factor=1,
            organizations=3,
            unaffiliated_share=0.25,
        ),
        velocity=Velocity(
            pull_requests_opened=6 * scale,
            pull_requests_merged=2,
            pull_requests_closed=1,
            issues_opened=3,
            issues_closed=1,
            commits=17 * scale,
        ),
        inclusivity=Inclusivity(
            first_timer_pull_requests=1,
            first_timer_first_response=(sample(5 * HOUR, 10),),
            first_timer_merge_ratio=None if scale > 1 else 1.0,
        ),
        releases=1 * scale,
        prereleases=2,
    )


def snapshot(project: str = "rockets", repository: str = "acme/rocket") -> HealthSnapshot:
    windows = (Window("7d", timedelta(days=7)), Window("30d", timedelta(days=30)))
    rocket = RepositoryHealth(
        project=project,
        repository=repository,
        info=Repository(
            full_name=repository,
            node_id="R_1",
            default_branch="main",
            is_archived=False,
            is_fork=False,
            is_empty=False,
            created_at=NOW - timedelta(days=1000),
            pushed_at=NOW,
        ),
        windows={"7d": window_health(), "30d": window_health(scale=3)},
        waiting={
            ItemKind.PULL_REQUEST: Waiting(
                count=2,
                oldest_seconds=5 * DAY,
                oldest_item=f"{repository}#11",
                over={"1h": 2, "1d": 1, "3d": 1},
                drafts=1,
                bot_authored=3,
            ),
            ItemKind.ISSUE: Waiting(count=0, oldest_seconds=None, over={}, bot_authored=0),
        },
        releases=ReleaseActivity(
            source="release",
            last_release_at=NOW - timedelta(days=10),
            last_prerelease_at=None,
            median_interval_seconds=14 * DAY,
            total=12,
        ),
        open_labelled_issues={"good_first_issue": 4, "help_wanted": 0},
    )
    empty = RepositoryHealth(
        project=project,
        repository="acme/empty",
        info=None,
        windows={},
        waiting={},
        releases=ReleaseActivity(),
        open_labelled_issues={},
    )
    project_health = ProjectHealth(
        project=project,
        repositories=(repository, "acme/empty"),
        windows={
            "7d": ProjectWindowHealth(
                contributors=Contributors(active=5, active_by_kind={"pull_request": 3}),
                risk=Risk(contributions=40, bus_factor=2),
            )
        },
    )
    return HealthSnapshot(
        computed_at=NOW,
        windows=windows,
        repositories=(rocket, empty),
        projects=(project_health,),
    )


def status(project: str = "rockets", repository: str = "acme/rocket") -> ExporterStatus:
    return ExporterStatus(
        repositories={
            repository: RepositoryStatus(
                project=project,
                last_report=SyncReport(
                    repository=repository, project=project, ok=True, items=7, duration_seconds=2.5
                ),
                last_finished_at=NOW - timedelta(minutes=5),
                last_success_at=NOW - timedelta(minutes=5),
                errors_total={"rate_limited": 1},
                syncs_total=12,
            ),
            "acme/empty": RepositoryStatus(
                project=project,
                last_report=None,
                last_finished_at=None,
                last_success_at=None,
                errors_total={},
                syncs_total=0,
            ),
        },
        github_requests_total={("graphql", "ok"): 230, ("rest", "not_modified"): 4},
        github_units_total={"graphql": 412, "core": 3},
        rate_limits={
            "graphql": RateLimitState(
                resource="graphql",
                limit=5000,
                remaining=4588,
                used=412,
                reset_at=NOW + timedelta(minutes=30),
                observed_at=NOW,
            ),
            "core": RateLimitState(
                resource="core",
                limit=None,
                remaining=None,
                used=None,
                reset_at=None,
                observed_at=NOW,
            ),
        },
        store_size_bytes=1 << 20,
        version="0.1.0",
        started_at=NOW - timedelta(days=1),
        last_compute_seconds=0.25,
        shard=0,
        total_shards=1,
        python_version="3.11.0",
    )


def openmetrics_text(project: str = "rockets", repository: str = "acme/rocket") -> str:
    families = [*health_families(snapshot(project, repository)), *exporter_families(status())]
    return render(families).openmetrics.decode("utf-8")


def text_string_to_metric_families(text: str) -> list[Metric]:
    """The strict OpenMetrics parser (it raises on anything the format does not allow)."""
    return list(openmetrics_parser(text))  # type: ignore[no-untyped-call]


def classic_families(text: str) -> list[Metric]:
    return list(classic_parser(text))


def promtool_problems(text: bytes) -> str:
    """``promtool check metrics`` output for the classic text; empty when it is clean."""
    promtool = shutil.which("promtool")
    assert promtool, (
        "promtool not found: install the Prometheus server tools (Debian: apt-get install "
        "prometheus) so that the classic exposition can be linted"
    )
    result = subprocess.run(
        [promtool, "check", "metrics"], input=text, capture_output=True, timeout=60, check=False
    )
    return (result.stdout + result.stderr).decode("utf-8", "replace").strip() + (
        f" (exit {result.returncode})" if result.returncode else ""
    )


# --- golden text ----------------------------------------------------------------------------
def test_openmetrics_matches_the_golden_text() -> None:
    text = openmetrics_text()
    if os.environ.get("UPDATE_GOLDEN"):
        GOLDEN.parent.mkdir(parents=True, exist_ok=True)
        GOLDEN.write_text(text, encoding="utf-8")
    assert text == GOLDEN.read_text(encoding="utf-8")


def test_the_strict_openmetrics_parser_accepts_it() -> None:
    families = {f.name: f for f in text_string_to_metric_families(openmetrics_text())}
    assert families["github_health_first_response_seconds"].type == "gaugehistogram"
    assert families["github_health_first_response_seconds"].unit == "seconds"
    assert families["github_health_repository"].type == "info"
    assert families["healthexporter_syncs"].type == "counter"


def test_promtool_finds_no_problems_in_the_classic_text() -> None:
    rendered = render([*health_families(snapshot()), *exporter_families(status())])
    assert promtool_problems(rendered.text) == ""


def test_the_classic_text_drops_exemplars_and_parses() -> None:
    text = render(health_families(snapshot())).text.decode("utf-8")
    assert " # {" not in text
    names = {f.name for f in classic_families(text)}
    assert "github_health_first_response_seconds" in names


# --- histograms and exemplars ---------------------------------------------------------------
def histogram(samples: list[Sample]) -> GaugeHistogramMetricFamily:
    family = GaugeHistogramMetricFamily("t_seconds", "t", labels=("w",), unit="seconds")
    add_duration_histogram(family, {"w": "7d"}, samples)
    return family


def test_the_exemplar_of_a_bucket_is_its_slowest_item() -> None:
    family = histogram(
        [sample(100, 1), sample(299, 2), sample(300, 3), sample(301, 4), sample(3 * DAY, 5)]
    )
    buckets = {s.labels["le"]: s for s in family.samples if s.name.endswith("_bucket")}
    exemplar = buckets["300.0"].exemplar
    assert exemplar is not None
    assert (exemplar.labels, exemplar.value) == (
        {"item": "acme/rocket#3", "url_path": "acme/rocket/issues/3"},
        300,
    )  # le inclusive
    exemplar = buckets["900.0"].exemplar
    assert exemplar is not None and exemplar.labels["item"] == "acme/rocket#4"
    exemplar = buckets["259200.0"].exemplar
    assert exemplar is not None and exemplar.value == 3 * DAY
    assert buckets["1800.0"].exemplar is None  # nothing fell into (900, 1800]
    assert buckets["+Inf"].exemplar is None


def test_buckets_are_cumulative_and_inf_equals_gcount() -> None:
    family = histogram([sample(s, i) for i, s in enumerate([5, 400, 400, 4000, 1e9, 86400])])
    counts = [s.value for s in family.samples if s.name.endswith("_bucket")]
    assert [s.labels["le"] for s in family.samples if s.name.endswith("_bucket")][-1] == "+Inf"
    assert len(counts) == len(BUCKETS)
    assert counts == sorted(counts)
    assert counts[:4] == [1, 3, 3, 3]
    (gcount,) = [s.value for s in family.samples if s.name.endswith("_gcount")]
    (gsum,) = [s.value for s in family.samples if s.name.endswith("_gsum")]
    assert counts[-1] == gcount == 6
    assert gsum == 5 + 400 + 400 + 4000 + 1e9 + 86400


def test_required_bounds_are_buckets() -> None:
    assert {3600.0, 86400.0, 259200.0} <= set(BUCKETS)


def test_an_empty_histogram_is_all_zero() -> None:
    family = histogram([])
    assert {s.value for s in family.samples} == {0}
    assert all(s.exemplar is None for s in family.samples)


def test_a_too_long_item_name_gets_no_exemplar() -> None:
    long_name = "o/" + "r" * 130
    family = histogram([Sample(10, f"{long_name}#1", NOW)])
    assert all(s.exemplar is None for s in family.samples)
    rendered = render([family])
    list(text_string_to_metric_families(rendered.openmetrics.decode()))


# --- None is absent, never zero -------------------------------------------------------------
def test_none_values_are_omitted() -> None:
    text = openmetrics_text()
    # issues' closure ratio is None: only pull requests have one
    assert 'github_health_closure_ratio{kind="issue"' not in text
    assert 'github_health_closure_ratio{kind="pull_request"' in text
    # no issue waits: no oldest; no prerelease; 30d first-timer merge ratio is None
    assert 'github_health_waiting_oldest_seconds{kind="issue"' not in text
    assert 'github_health_waiting_oldest_seconds{kind="pull_request"' in text
    assert "github_health_last_prerelease_timestamp_seconds{" not in text
    assert (
        'github_health_first_timer_merge_ratio{project="rockets",repository="acme/rocket",window="30d"}'
        not in text
    )
    # a repository without info has no info line; unknown rate-limit values are absent
    assert (
        'github_health_repository_info{archived="false",default_branch="main",fork="false",project="rockets",repository="acme/empty"}'
        not in text
    )
    assert 'healthexporter_github_rate_limit_remaining{resource="core"}' not in text
    assert 'healthexporter_github_rate_limit_remaining{resource="graphql"} 4588.0' in text
    # a repository never synced has no up, no timestamps, but its sync counter
    assert 'healthexporter_sync_up{project="rockets",repository="acme/empty"}' not in text
    assert 'healthexporter_syncs_total{project="rockets",repository="acme/empty"} 0.0' in text


def test_optional_exporter_values_are_omitted() -> None:
    base = status()
    bare = ExporterStatus(
        repositories={},
        github_requests_total={},
        github_units_total={},
        rate_limits={},
        store_size_bytes=None,
        version="0.1.0",
        started_at=base.started_at,
        last_compute_seconds=None,
    )
    text = render(exporter_families(bare)).openmetrics.decode()
    assert "healthexporter_store_size_bytes " not in text
    assert "healthexporter_metrics_compute_duration_seconds " not in text
    assert "healthexporter_total_shards 1.0" in text
    assert promtool_problems(render(exporter_families(bare)).text) == ""


# --- content negotiation --------------------------------------------------------------------
PROMETHEUS_ACCEPT = (
    "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;"
    "q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1"
)


@pytest.mark.parametrize(
    ("accept", "openmetrics"),
    [
        (None, False),
        ("", False),
        ("*/*", False),
        ("text/plain", False),
        ("text/plain;version=0.0.4", False),
        ("application/openmetrics-text", True),
        ("application/openmetrics-text; version=1.0.0; charset=utf-8", True),
        ("Application/OpenMetrics-Text;version=1.0.0", True),
        (PROMETHEUS_ACCEPT, True),
        ("application/openmetrics-text;version=0.0.1", False),
        ("application/openmetrics-text;q=0, text/plain", False),
    ],
)
def test_content_negotiation(accept: str | None, openmetrics: bool) -> None:
    rendered = render(health_families(snapshot()))
    body, content_type, encoding = rendered.choose(accept, None)
    assert encoding is None
    if openmetrics:
        assert (body, content_type) == (rendered.openmetrics, CONTENT_TYPE_OPENMETRICS)
        assert content_type == "application/openmetrics-text; version=1.0.0; charset=utf-8"
    else:
        assert (body, content_type) == (rendered.text, CONTENT_TYPE_TEXT)
        assert content_type == "text/plain; version=0.0.4; charset=utf-8"


@pytest.mark.parametrize(
    ("accept_encoding", "gzipped"),
    [
        (None, False),
        ("identity", False),
        ("gzip", True),
        ("deflate, gzip;q=0.5", True),
        ("GZIP", True),
        ("gzip;q=0", False),
        ("br", False),
        ("*", True),
    ],
)
def test_gzip_when_accepted(accept_encoding: str | None, gzipped: bool) -> None:
    rendered = render(health_families(snapshot()))
    for accept, plain in (
        ("application/openmetrics-text", rendered.openmetrics),
        (None, rendered.text),
    ):
        body, _, encoding = rendered.choose(accept, accept_encoding)
        if gzipped:
            assert encoding == "gzip"
            assert gzip.decompress(body) == plain
        else:
            assert (body, encoding) == (plain, None)


def test_rendering_is_deterministic() -> None:
    first = render(health_families(snapshot()))
    second = render(health_families(snapshot()))
    assert first == second  # gzip without a timestamp: same input, same bytes


# --- hostile names --------------------------------------------------------------------------
# Names come from configuration (projects) and from GitHub (repositories, labels, items);
# whatever they contain must not break either format.
hostile = st.text(
    alphabet=st.characters(codec="utf-8"),
    min_size=1,
    max_size=40,
) | st.sampled_from(['"', "\\", "\n", '\\"', "a\\nb", "\x00", "\r\t", "ü\u2028€𝄞", "} 1.0\n# EOF"])


# prometheus_client's strict parser toggles "in quotes" on an escaped quote inside an exemplar's
# labels and then rejects the (valid) line, so exemplar items here have no '"'; the escaping of
# a quote in an exemplar is checked textually in test_exemplar_labels_are_escaped.
exemplar_items = hostile.filter(lambda text: '"' not in text)


def test_exemplar_labels_are_escaped() -> None:
    text = render([histogram([Sample(10, 'a"b\\c\nd', NOW)])]).openmetrics.decode()
    assert '# {item="a\\"b\\\\c\\nd"} 10.0\n' in text


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(project=hostile, repository=hostile, item=exemplar_items)
def test_hostile_names_never_break_the_exposition(project: str, repository: str, item: str) -> None:
    health = snapshot(project, repository)
    rocket = health.repositories[0]
    weird = Sample(7.0, item, NOW)
    first = rocket.windows["7d"].responsiveness[ItemKind.ISSUE]
    windows = dict(rocket.windows)
    windows["7d"] = WindowHealth(
        responsiveness={
            **rocket.windows["7d"].responsiveness,
            ItemKind.ISSUE: Responsiveness(first_response=(weird, *first.first_response)),
        },
        contributors=rocket.windows["7d"].contributors,
        risk=rocket.windows["7d"].risk,
        velocity=rocket.windows["7d"].velocity,
        inclusivity=rocket.windows["7d"].inclusivity,
    )
    rocket = RepositoryHealth(
        project=project,
        repository=repository,
        info=rocket.info,
        windows=windows,
        waiting=rocket.waiting,
        releases=rocket.releases,
        open_labelled_issues={item: 1},
    )
    health = HealthSnapshot(health.computed_at, health.windows, (rocket,), health.projects)
    rendered = render([*health_families(health), *exporter_families(status(project, repository))])

    families = list(text_string_to_metric_families(rendered.openmetrics.decode("utf-8")))
    labels = {s.labels.get("repository") for f in families for s in f.samples}
    assert repository in labels
    assert project in {s.labels.get("project") for f in families for s in f.samples}
    (first_response,) = [f for f in families if f.name == "github_health_first_response_seconds"]
    exemplars = {
        s.exemplar.labels["item"]
        for s in first_response.samples
        if s.exemplar is not None and s.labels.get("repository") == repository
    }
    if len(item) + len("item") <= 128:
        assert item in exemplars

    assert promtool_problems(rendered.text) == ""
