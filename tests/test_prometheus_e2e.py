"""A real Prometheus scrapes ``serve`` (synced from the simulator), and PromQL agrees with
``healthexporter report``.

The unit tests check the exposition against golden text and client_python's parsers; this one
asks Prometheus itself: it scrapes OpenMetrics with exemplars, stores them, and answers the
queries the docs promise work — ``histogram_quantile`` over ``sum by (le)`` of a gauge
histogram, for one repository and across a project's repositories. The exact figures come from
``report --format json`` over the same store: a quantile Prometheus estimates from buckets must
land in the bucket of the exact one (report.py's docstring), and counts must be equal.
"""

from __future__ import annotations

import contextlib
import io
import json
import math
import os
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.openmetrics.parser import text_string_to_metric_families

from healthexporter.cli import main
from healthexporter.simulator.dataset import Dataset
from healthexporter.simulator.generate import generate

from .conftest import free_port, run_serve, simulator, write_serve_config
from .prometheus import Prometheus, promtool_check_metrics, run_prometheus, wait_until

pytestmark = pytest.mark.slow

# Activity ends at the current hour, so the generated history fills the 7d/30d/90d windows.
NOW = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
# kube-rs/kube with a year of history (~80 pull requests in 90 days) and four small org
# repositories; fewer commits than the default keep the sync short.
SPEC = "kube-rs:items=400,years=1,commits=400+org:4,items=40"
# "kube" has three repositories, so sums over them are real aggregations.
PROJECTS = {
    "kube": ["kube-rs/kube", "example-org/web-service", "example-org/auth-service"],
    "example": ["example-org/api-service"],
}
TOKEN_ENV = "HE_E2E_TOKEN"
JOB = "healthexporter"
OPENMETRICS = {"Accept": "application/openmetrics-text; version=1.0.0"}
# docs/metrics.md, "Duration histograms".
BOUNDS = [300, 900, 1800, 3600, 7200, 14400, 28800, 86400, 172800, 259200, 604800, 1209600,
          2592000, 7776000, math.inf]  # fmt: skip
KUBE = 'repository="kube-rs/kube", window="90d", kind="pull_request"'
# Match a bound by number, not one spelling ("86400" or "86400.0"): Prometheus 2 stores `le` as
# exposed, Prometheus 3 normalises it on ingestion.
LE_1D = "86400(.0)?"
LE_WITHIN = "(3600|86400|259200)(.0)?"


def write_config(directory: Path, api_url: str) -> Path:
    return write_serve_config(
        directory, api_url, PROJECTS, token_env=TOKEN_ENV, log_level="warning"
    )


def scrape(url: str, headers: dict[str, str] | None = None) -> str:
    response = httpx.get(f"{url}/metrics", headers=headers, timeout=10)
    assert response.status_code == 200, response.text
    return response.text


def synced(url: str) -> bool:
    """Every configured repository's first sync succeeded, and the served numbers include it.

    ``sync_up`` alone is not enough: a computation that read a repository's (empty) data just
    before its sync finished still shows the sync's status, and the next one comes seconds later.
    ``github_health_repository_info`` is absent until the repository's data is there.
    """
    try:
        text = scrape(url, OPENMETRICS)
    except httpx.HTTPError:
        return False
    repositories = {repository: 1.0 for names in PROJECTS.values() for repository in names}
    found: dict[str, dict[str, float]] = {
        "healthexporter_sync_up": {},
        "github_health_repository": {},
    }
    for family in text_string_to_metric_families(text):
        if family.name in found:
            found[family.name] = {s.labels["repository"]: s.value for s in family.samples}
    return all(values == repositories for values in found.values())


def report_json(config: Path) -> dict[str, Any]:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main(["report", "--config.file", str(config), "--format", "json"]) == 0
    document: dict[str, Any] = json.loads(out.getvalue())
    return document


@dataclass
class Stack:
    dataset: Dataset
    exporter_url: str
    prometheus: Prometheus
    report: dict[str, Any]

    def repository(self, name: str) -> dict[str, Any]:
        [found] = [r for r in self.report["repositories"] if r["repository"] == name]
        return found

    def first_response(self, repository: str, window: str, kind: str) -> dict[str, Any]:
        summary = self.repository(repository)["windows"][window]["responsiveness"][kind]
        return summary["first_response"] or {"count": 0}  # no samples: null in the report


def scrapes_done(prometheus: Prometheus, at_least: int) -> bool:
    target = [t for t in prometheus.api("targets")["activeTargets"] if t["labels"]["job"] == JOB]
    if not target or target[0]["health"] != "up":
        return False
    done = prometheus.query(f'count_over_time(up{{job="{JOB}"}}[1m])')
    return bool(done) and float(done[0]["value"][1]) >= at_least


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    directory = tmp_path_factory.mktemp("prometheus-e2e")
    dataset = generate(SPEC, now=NOW)
    with pytest.MonkeyPatch.context() as env, simulator(dataset) as github:
        env.setenv(TOKEN_ENV, "e2e-token")
        config = write_config(directory, github.url)
        port = free_port()
        exporter_url = f"http://127.0.0.1:{port}"
        thread, stop = run_serve(config, port)
        try:
            wait_until(
                lambda: synced(exporter_url) or not thread.is_alive(),
                30,
                "the first sync of every repository",
            )
            assert thread.is_alive(), "serve exited (see the log above)"
            with run_prometheus(
                directory / "prometheus",
                free_port(),
                {JOB: f"127.0.0.1:{port}"},
                "exemplar-storage",
            ) as prometheus:
                # Prometheus hands new targets to its scrapers every 5 s: allow for that.
                wait_until(lambda: scrapes_done(prometheus, 3), 40, "three scrapes", prometheus)
                yield Stack(dataset, exporter_url, prometheus, report_json(config))
        finally:
            stop.set()
            thread.join(timeout=30)
    assert not thread.is_alive(), "serve did not stop"
    assert TOKEN_ENV not in os.environ


def key(labels: dict[str, str] | frozenset[tuple[str, str]], *names: str) -> tuple[str, ...]:
    """The values of ``names``; an ``le`` bound as an integer, however it was spelled."""
    labels = dict(labels)
    return tuple(
        f"{float(labels[name]):.0f}" if name == "le" and labels[name] != "+Inf" else labels[name]
        for name in names
    )


def bucket_of(seconds: float) -> tuple[float, float]:
    """The histogram bucket ``(lower, upper]`` that holds ``seconds``."""
    lower = 0.0
    for upper in BOUNDS:
        if seconds <= upper:
            return lower, upper
        lower = upper
    raise AssertionError(seconds)


# --- the scrape -----------------------------------------------------------------------------
def test_prometheus_scrapes_every_sample_without_an_error(stack: Stack) -> None:
    prometheus = stack.prometheus
    assert prometheus.value(f'up{{job="{JOB}"}}') == 1
    [target] = [t for t in prometheus.api("targets")["activeTargets"] if t["labels"]["job"] == JOB]
    assert (target["health"], target["lastError"]) == ("up", "")
    # Nothing was dropped: every sample line of the exposition became a sample.
    lines = scrape(stack.exporter_url, OPENMETRICS).splitlines()
    samples = sum(1 for line in lines if line and not line.startswith("#"))
    assert prometheus.value(f'scrape_samples_scraped{{job="{JOB}"}}') == samples
    assert prometheus.value(f'scrape_samples_post_metric_relabeling{{job="{JOB}"}}') == samples
    # Samples and exemplars Prometheus refused would show only in its own counters.
    refused = {
        name: value
        for name, value in prometheus.self_metrics().items()
        if name.startswith("prometheus_target_scrapes_")
    }
    for name in (
        "prometheus_target_scrapes_sample_duplicate_timestamp_total",
        "prometheus_target_scrapes_sample_out_of_bounds_total",
        "prometheus_target_scrapes_sample_out_of_order_total",
        "prometheus_target_scrapes_exemplar_out_of_order_total",
    ):
        assert name in refused, sorted(refused)
    assert {name: value for name, value in refused.items() if value} == {}


def test_promtool_and_the_strict_parser_accept_the_live_exposition(stack: Stack) -> None:
    classic = httpx.get(f"{stack.exporter_url}/metrics", timeout=10)
    assert classic.headers["content-type"].startswith("text/plain; version=0.0.4")
    returncode, problems = promtool_check_metrics(classic.content)
    print(problems)
    assert (returncode, problems) == (0, "")
    families = {
        f.name: f for f in text_string_to_metric_families(scrape(stack.exporter_url, OPENMETRICS))
    }
    assert families["github_health_first_response_seconds"].type == "gaugehistogram"
    assert families["github_health_project_bus_factor"].type == "gauge"


# --- PromQL against the report --------------------------------------------------------------
def test_the_median_first_response_lands_in_the_exact_medians_bucket(stack: Stack) -> None:
    exact = stack.first_response("kube-rs/kube", "90d", "pull_request")
    assert exact["count"] >= 20, "too few samples for a meaningful median"
    estimated = stack.prometheus.value(
        f"histogram_quantile(0.5, sum by (le) (github_health_first_response_seconds_bucket{{{KUBE}}}))"
    )
    assert bucket_of(estimated) == bucket_of(exact["median_seconds"]), (estimated, exact)


def test_histogram_counts_and_buckets_equal_the_report(stack: Stack) -> None:
    prometheus = stack.prometheus
    exact = stack.first_response("kube-rs/kube", "90d", "pull_request")
    gcount = prometheus.value(f"github_health_first_response_seconds_gcount{{{KUBE}}}")
    assert gcount == exact["count"]
    within_1d = f'github_health_first_response_seconds_bucket{{{KUBE}, le=~"{LE_1D}"}}'
    assert prometheus.value(within_1d) == exact["within_1d"]

    # _gcount is the +Inf bucket, in all 24 series (docs/metrics.md).
    equal = prometheus.value(
        'count(github_health_first_response_seconds_bucket{le="+Inf"}'
        " == ignoring (le) github_health_first_response_seconds_gcount)"
    )
    assert equal == 4 * 3 * 2

    # Every repository, window and kind.
    labels = ("repository", "window", "kind")
    counts, sums, buckets = (
        {key(series, *labels, *extra): value for series, value in prometheus.values(query).items()}
        for query, extra in (
            ("github_health_first_response_seconds_gcount", ()),
            ("github_health_first_response_seconds_gsum", ()),
            (f'github_health_first_response_seconds_bucket{{le=~"{LE_WITHIN}"}}', ("le",)),
        )
    )
    assert len(counts) == len(sums) == 4 * 3 * 2 and len(buckets) == 3 * len(counts)
    for (repository, window, kind), count in counts.items():
        exact = stack.first_response(repository, window, kind)
        where = f"{repository} {window} {kind}"
        assert count == exact["count"], where
        if not count:
            continue
        assert sums[repository, window, kind] == pytest.approx(exact["sum_seconds"], rel=1e-9)
        for within, le in (("within_1h", "3600"), ("within_1d", "86400"), ("within_3d", "259200")):
            assert buckets[repository, window, kind, le] == exact[within], (where, within)


def test_a_projects_repositories_aggregate_into_one_histogram(stack: Stack) -> None:
    prometheus = stack.prometheus
    selector = 'project="kube", window="90d", kind="pull_request"'
    p90 = prometheus.value(
        f"histogram_quantile(0.9, sum by (le) (github_health_first_response_seconds_bucket{{{selector}}}))"
    )
    assert 0 < p90 < math.inf
    counts = [stack.first_response(r, "90d", "pull_request")["count"] for r in PROJECTS["kube"]]
    assert sum(counts) > counts[0], "the other repositories add nothing: not an aggregation"
    assert prometheus.value(
        f"sum(github_health_first_response_seconds_gcount{{{selector}}})"
    ) == sum(counts)
    assert prometheus.value(
        f'sum(github_health_first_response_seconds_bucket{{{selector}, le="+Inf"}})'
    ) == sum(counts)


def test_gauges_agree_with_the_report(stack: Stack) -> None:
    prometheus = stack.prometheus
    waiting = {
        (r["repository"], kind): r["waiting"][kind]
        for r in stack.report["repositories"]
        for kind in ("pull_request", "issue")
    }
    found = prometheus.values("github_health_waiting_items")
    assert {key(s, "repository", "kind"): v for s, v in found.items()} == {
        where: exact["count"] for where, exact in waiting.items()
    }
    # The longest wait is absent (never 0) where nothing waits; the report ran a little later.
    found = prometheus.values("github_health_waiting_oldest_seconds")
    oldest = {key(s, "repository", "kind"): v for s, v in found.items()}
    assert oldest.keys() == {where for where, exact in waiting.items() if exact["count"]}
    for where, seconds in oldest.items():
        assert 0 <= waiting[where]["oldest_seconds"] - seconds < 300, where
    # An OpenMetrics info metric is the series `…_info` with value 1.
    found = prometheus.values("github_health_repository_info")
    assert {key(s, "repository", "default_branch"): v for s, v in found.items()} == {
        (repository.full_name, repository.default_branch): 1
        for repository in stack.dataset.repositories.values()
        if any(repository.full_name in names for names in PROJECTS.values())
    }
    windows = stack.report["windows"]
    repositories = stack.report["repositories"]
    projects = stack.report["projects"]
    for metric, section, field in (
        ("github_health_bus_factor", "risk", "bus_factor"),
        ('github_health_active_contributors{contribution="any"}', "contributors", "active"),
    ):
        found = prometheus.values(metric)
        assert {key(s, "repository", "window"): v for s, v in found.items()} == {
            (r["repository"], w): r["windows"][w][section][field]
            for r in repositories
            for w in windows
        }, metric
        project_metric = metric.replace("github_health_", "github_health_project_")
        found = prometheus.values(project_metric)
        assert {key(s, "project", "window"): v for s, v in found.items()} == {
            (p["project"], w): p["windows"][w][section][field] for p in projects for w in windows
        }, project_metric
    # One person active in two of a project's repositories is one person: the project's
    # number is never more than the sum of its repositories' numbers.
    assert (
        prometheus.query(
            'github_health_project_active_contributors{contribution="any"}'
            " > on (project, window) sum by (project, window)"
            ' (github_health_active_contributors{contribution="any"})'
        )
        == []
    )


def test_exemplars_name_the_items_in_their_buckets(stack: Stack) -> None:
    now = time.time()
    found = stack.prometheus.api(
        "query_exemplars",
        query=f"github_health_first_response_seconds_bucket{{{KUBE}}}",
        start=str(now - 60),
        end=str(now),
    )
    assert found, "no exemplars stored"
    kube = stack.dataset.repository("kube-rs", "kube")
    assert kube is not None
    seen = 0
    for series in found:
        lower, upper = bucket_of(float(series["seriesLabels"]["le"]))
        for exemplar in series["exemplars"]:
            match = re.fullmatch(r"kube-rs/kube#(\d+)", exemplar["labels"]["item"])
            assert match, exemplar
            item = kube.item(int(match.group(1)))
            assert item is not None and item.kind == "pull_request", exemplar
            # the slowest item of the bucket itself: between the previous bound and this one
            assert lower < float(exemplar["value"]) <= upper, (series["seriesLabels"], exemplar)
            seen += 1
    assert seen >= 1
