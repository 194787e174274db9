"""Backfill API cost against a per-item REST baseline in the style of github/issue-metrics.

The baseline is the documented call pattern of github/issue-metrics: a search listing
(``GET /search/issues?q=repo:OWNER/NAME is:issue`` and ``… is:pr``, 100 a page), then per item
its comments, and for a pull request also the pull request, its events and its reviews, every
listing followed by its ``Link: rel="next"``; serial, as GitHub recommends per token. Then
healthexporter's backfill of the same repository on the same simulator process, as
``bench.sync_cost`` measures it. Units are what GitHub would charge, as the simulator counted
them (``/_simulator/stats``): charged REST requests (core and search) for the baseline,
GraphQL points plus charged REST requests for healthexporter.

The search API shows at most 1,000 results a query (GitHub and the simulator alike): the
baseline cannot even see the items beyond, and the run says how many. Search is also limited
to 30 requests a minute and REST to 5,000 requests an hour per token; the run reports the wall
time those limits and GitHub-like latency would impose, computed, without sleeping.

Usage: ``python -m bench.rest_baseline [--quick] [--dataset NAME]… [--output FILE]``: by
default the datasets of ``bench.sync_cost`` (``kube-rs``, ``kubernetes`` or with ``--quick``
``kubernetes:items=20000``, ``org:300``); issue 5's 100× target is set on ``kube-rs``.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from bench.sync_cost import (
    EVOLVE,
    GRAPHQL_LATENCY_MS,
    REST_LATENCY_MS,
    Dataset,
    Simulator,
    datasets,
    exporter,
    measure_pass,
    simulator,
    table,
)

TARGET_RATIO = 100.0
TARGET_DATASET = "kube-rs"
SEARCH_OPERATION = "GET /search/issues"
# GitHub's documented limits for one personal token
SEARCH_PER_MINUTE = 30
CORE_PER_HOUR = 5000
GRAPHQL_POINTS_PER_HOUR = 5000
PER_PAGE = 100


@dataclass
class Baseline:
    """What the per-item client did, by its own count and by the simulator's."""

    wall_seconds: float
    searched: dict[str, int]  # total_count per search query
    seen: int  # items the searches returned (at most 1,000 a query)
    unseen: int  # items matching but beyond the 1,000-result cap
    pulls_seen: int
    issue_requests: int  # per-item requests for the issues seen
    pull_requests: int  # per-item requests for the pull requests seen
    requests: int  # made by the client
    search_requests: int  # charged, from the simulator's stats
    core_requests: int  # charged, from the simulator's stats
    by_operation: dict[str, int]

    @property
    def units(self) -> int:
        return self.search_requests + self.core_requests

    def units_if_all_seen(self) -> int:
        """The units had search shown every item: the unseen ones at the seen ones' mean
        per-item cost, by kind (each search is cut at 1,000 of one kind)."""
        units = self.units
        for kind, seen, spent in (
            ("is:pr", self.pulls_seen, self.pull_requests),
            ("is:issue", self.seen - self.pulls_seen, self.issue_requests),
        ):
            total = sum(n for q, n in self.searched.items() if q.endswith(kind))
            if seen and total > seen:
                units += round((total - seen) * spent / seen)
        return units


class PerItemClient:
    """The issue-metrics call pattern over httpx, counting its requests."""

    def __init__(self, url: str) -> None:
        self.http = httpx.Client(
            base_url=url,
            headers={
                "Authorization": "bearer bench-token",
                "Accept": "application/vnd.github+json",
            },
            timeout=60.0,
        )
        self.requests = 0
        self.by_kind = {"issue": 0, "pull_request": 0}
        self.limit_waits = 0  # rate-limit answers "waited out" (see ``get``)

    def close(self) -> None:
        self.http.close()

    def get(self, url: str, params: dict[str, str] | None = None) -> httpx.Response:
        self.requests += 1
        answer = self.http.get(url, params=params)
        while (
            answer.status_code in (403, 429) and answer.headers.get("x-ratelimit-remaining") == "0"
        ):
            # A real client waits for the reset (search: 30 requests a minute); the wait is
            # accounted in ``github_floor_seconds``, so here the bucket is refilled at once.
            self.limit_waits += 1
            self.http.post("/_simulator/reset", json={"buckets": True, "stats": False})
            answer = self.http.get(url, params=params)
        answer.raise_for_status()
        return answer

    def listing(self, path: str) -> list[Any]:
        """Every entry of a list endpoint, following ``Link: rel="next"``."""
        entries: list[Any] = []
        answer = self.get(path, {"per_page": str(PER_PAGE)})
        while True:
            entries += answer.json()
            following = answer.links.get("next", {}).get("url")
            if following is None:
                return entries
            answer = self.get(following)

    def search(self, q: str) -> tuple[int, list[dict[str, Any]]]:
        """``(total_count, items)``: the items GitHub lets a search show, ≤ 1,000."""
        answer = self.get("/search/issues", {"q": q, "per_page": str(PER_PAGE)})
        total = int(answer.json()["total_count"])
        items: list[dict[str, Any]] = []
        while True:
            items += answer.json()["items"]
            following = answer.links.get("next", {}).get("url")
            if following is None:
                return total, items
            answer = self.get(following)

    def item(self, repository: str, entry: dict[str, Any]) -> None:
        before = self.requests
        self._item(repository, entry)
        self.by_kind["pull_request" if "pull_request" in entry else "issue"] += (
            self.requests - before
        )

    def _item(self, repository: str, entry: dict[str, Any]) -> None:
        number = entry["number"]
        self.listing(f"/repos/{repository}/issues/{number}/comments")
        if "pull_request" in entry:
            self.get(f"/repos/{repository}/pulls/{number}")
            self.listing(f"/repos/{repository}/issues/{number}/events")
            self.listing(f"/repos/{repository}/pulls/{number}/reviews")


def run_baseline(sim: Simulator, repositories: Sequence[str], org: str | None = None) -> Baseline:
    """The pattern over each repository (an org's are listed first, with ``GET
    /orgs/{org}/repos``: one search per repository and kind sees more than one ``org:`` search,
    which would stop at 1,000 items for the whole org)."""
    sim.reset()
    client = PerItemClient(sim.url)
    started = time.perf_counter()
    try:
        names = list(repositories)
        if org is not None:
            names += [str(r["full_name"]) for r in client.listing(f"/orgs/{org}/repos")]
        searched: dict[str, int] = {}
        seen: list[tuple[str, dict[str, Any]]] = []
        for repository in names:
            for kind in ("is:issue", "is:pr"):
                q = f"repo:{repository} {kind}"
                searched[q], items = client.search(q)
                seen += [(repository, item) for item in items]
        for repository, entry in seen:
            client.item(repository, entry)
    finally:
        client.close()
    wall = time.perf_counter() - started
    stats = sim.stats()
    operations = {k: v for k, v in stats["operations"].items() if k.startswith("GET ")}
    # The simulator charges every REST request to its core bucket; GitHub charges searches to
    # the search one, so they are told apart by operation (none answered 304 in a cold run).
    search = operations.get(SEARCH_OPERATION, 0)
    return Baseline(
        wall_seconds=round(wall, 2),
        searched=searched,
        seen=len(seen),
        unseen=sum(searched.values()) - len(seen),
        pulls_seen=sum(1 for _, entry in seen if "pull_request" in entry),
        issue_requests=client.by_kind["issue"],
        pull_requests=client.by_kind["pull_request"],
        requests=client.requests,
        search_requests=search,
        core_requests=stats["core_charged"] - search,
        by_operation=operations,
    )


def github_floor_seconds(
    *,
    graphql_requests: int = 0,
    graphql_points: int = 0,
    core_requests: int = 0,
    search_requests: int = 0,
) -> dict[str, float]:
    """The least wall time github.com would take for these requests from one token, serial:
    latency (``bench.sync_cost``'s GitHub-like figures), and the waits of the primary limits
    (a new window for every 5,000 core requests or points beyond the first) and of search's
    30 requests a minute. The limits' waits overlap with the latency of the requests in
    between, so the floor is the larger of latency and the longest wait."""
    latency = (
        graphql_requests * GRAPHQL_LATENCY_MS + (core_requests + search_requests) * REST_LATENCY_MS
    ) / 1000
    core_wait = max(math.ceil(core_requests / CORE_PER_HOUR) - 1, 0) * 3600.0
    graphql_wait = max(math.ceil(graphql_points / GRAPHQL_POINTS_PER_HOUR) - 1, 0) * 3600.0
    search_wait = max(math.ceil(search_requests / SEARCH_PER_MINUTE) - 1, 0) * 60.0
    return {
        "latency_seconds": round(latency, 1),
        "core_limit_wait_seconds": core_wait,
        "graphql_limit_wait_seconds": graphql_wait,
        "search_limit_wait_seconds": search_wait,
        "floor_seconds": round(max(latency, core_wait, graphql_wait, search_wait), 1),
    }


def run(dataset: Dataset) -> dict[str, Any]:
    repository = ", ".join(dataset.repositories) or f"org:{dataset.org}"
    with (
        tempfile.TemporaryDirectory(prefix="bench-rest-") as workdir,
        simulator(dataset.spec) as sim,
    ):
        print(f"== {dataset.name}: simulator up in {sim.started_seconds:.1f} s", flush=True)
        baseline = run_baseline(sim, dataset.repositories, dataset.org)
        print(
            f"   per-item REST baseline: {baseline.units:,} requests charged, "
            f"{baseline.wall_seconds:.1f} s",
            flush=True,
        )
        with exporter(sim.url, Path(workdir) / "store.db") as exp:
            backfill = measure_pass(sim, exp, dataset)
            print(
                f"   healthexporter backfill: {backfill.graphql_points} points + "
                f"{backfill.rest_charged} REST, {backfill.wall_seconds:.1f} s",
                flush=True,
            )
            # Polls. issue-metrics keeps no state between runs: its next run, changed or not,
            # is the whole pattern again (measured, not assumed).
            unchanged = measure_pass(sim, exp, dataset)
            baseline_unchanged = run_baseline(sim, dataset.repositories, dataset.org)
            sim.evolve(**EVOLVE)
            changed = measure_pass(sim, exp, dataset)
            baseline_changed = run_baseline(sim, dataset.repositories, dataset.org)
        polls = {
            "unchanged": {
                "baseline_units": baseline_unchanged.units,
                "healthexporter_units": unchanged.graphql_points + unchanged.rest_charged,
                "healthexporter_not_modified": unchanged.rest_not_modified,
            },
            "changed_1pct": {
                **EVOLVE,
                "baseline_units": baseline_changed.units,
                "healthexporter_units": changed.graphql_points + changed.rest_charged,
                "healthexporter_items": changed.items,
            },
        }
        print(
            f"   polls: unchanged {polls['unchanged']['healthexporter_units']} units "
            f"(baseline {baseline_unchanged.units:,}), 1% changed "
            f"{polls['changed_1pct']['healthexporter_units']} (baseline {baseline_changed.units:,})",
            flush=True,
        )
    exporter_units = backfill.graphql_points + backfill.rest_charged
    ratio = baseline.units / exporter_units
    return {
        "dataset": dataset.name,
        "repository": repository,
        "items": backfill.items,
        "baseline": {
            **asdict(baseline),
            "units": baseline.units,
            "units_if_all_seen": baseline.units_if_all_seen(),
            "github": github_floor_seconds(
                core_requests=baseline.core_requests, search_requests=baseline.search_requests
            ),
        },
        "healthexporter": {
            "graphql_requests": backfill.graphql_requests,
            "graphql_points": backfill.graphql_points,
            "rest_charged": backfill.rest_charged,
            "units": exporter_units,
            "items": backfill.items,
            "wall_seconds": backfill.wall_seconds,
            "github": github_floor_seconds(
                graphql_requests=backfill.graphql_requests,
                graphql_points=backfill.graphql_points,
                core_requests=backfill.rest_charged + backfill.rest_not_modified,
            ),
        },
        "polls": polls,
        "ratio": round(ratio, 1),
        "ratio_if_all_seen": round(baseline.units_if_all_seen() / exporter_units, 1),
        # issue 5's target is set on the kube-rs-like repository; elsewhere the ratio is shown
        "target_ratio": TARGET_RATIO if dataset.name == TARGET_DATASET else None,
        "target_met": ratio >= TARGET_RATIO if dataset.name == TARGET_DATASET else None,
    }


def report(result: dict[str, Any]) -> str:
    base, mine = result["baseline"], result["healthexporter"]
    rows = [
        [
            "per-item REST (issue-metrics pattern)",
            f"{base['seen']:,} of {base['seen'] + base['unseen']:,}",
            base["core_requests"],
            base["search_requests"],
            base["units"],
            "1×",
            base["wall_seconds"],
            _duration(base["github"]["floor_seconds"]),
        ],
        [
            "healthexporter backfill",
            f"{mine['items']:,} of {mine['items']:,}",
            mine["rest_charged"],
            0,
            mine["units"],
            f"{base['units'] / mine['units']:.1f}×",
            mine["wall_seconds"],
            _duration(mine["github"]["floor_seconds"]),
        ],
    ]
    headline = table(
        [
            result["dataset"],
            "items seen",
            "core req",
            "search req",
            "units",
            "ratio",
            "wall s (simulator)",
            "GitHub floor",
        ],
        rows,
    )
    by_operation: dict[str, int] = base["by_operation"]
    operations = sorted(by_operation.items(), key=lambda kv: -kv[1])
    calls = table(
        ["baseline operation", "requests"],
        [[name, count] for name, count in operations],
    )
    verdict = (
        f"ratio {result['ratio']:,}× ({result['ratio_if_all_seen']:,}× had search shown all "
        f"{result['items']:,} items: {base['units_if_all_seen']:,} units)"
    )
    if result["target_ratio"] is not None:
        verdict += f" against the target ≥ {result['target_ratio']:.0f}×: " + (
            "met" if result["target_met"] else "NOT met"
        )
    floor = base["github"]
    notes = (
        f"baseline searches: {len(base['searched'])} queries matching "
        f"{sum(base['searched'].values()):,} items, {base['unseen']:,} items "
        f"beyond the 1,000-result cap never seen; baseline GitHub floor: latency "
        f"{_duration(floor['latency_seconds'])}, core limit wait "
        f"{_duration(floor['core_limit_wait_seconds'])}, search limit wait "
        f"{_duration(floor['search_limit_wait_seconds'])}"
    )
    polls = result["polls"]
    poll_table = table(
        ["poll (after the backfill)", "baseline units", "healthexporter units"],
        [
            [
                "nothing changed",
                polls["unchanged"]["baseline_units"],
                polls["unchanged"]["healthexporter_units"],
            ],
            [
                f"{polls['changed_1pct']['changed_fraction']:.0%} of the items changed",
                polls["changed_1pct"]["baseline_units"],
                polls["changed_1pct"]["healthexporter_units"],
            ],
        ],
    )
    return "\n\n".join([headline, calls, notes, verdict, poll_table])


def _duration(seconds: float) -> str:
    if seconds >= 3600:
        return f"{seconds / 3600:.1f} h"
    if seconds >= 60:
        return f"{seconds / 60:.1f} min"
    return f"{seconds:.1f} s"


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    known = {d.name: d for d in datasets(quick=False) + datasets(quick=True)}
    parser = argparse.ArgumentParser(
        prog="python -m bench.rest_baseline", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument(
        "--dataset",
        action="append",
        choices=sorted(known),
        help="run only this dataset (repeatable); default: those of bench.sync_cost",
    )
    parser.add_argument("--output", type=Path, help="write the results as JSON")
    parser.add_argument(
        "--quick", action="store_true", help="kubernetes:items=20000 instead of kubernetes"
    )
    args = parser.parse_args(argv)
    args.chosen = (
        [known[name] for name in args.dataset] if args.dataset else datasets(quick=args.quick)
    )
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    started = time.perf_counter()
    runs = [run(dataset) for dataset in args.chosen]
    result: dict[str, Any] = {
        "runs": runs,
        "command": " ".join(["python -m bench.rest_baseline", *sys.argv[1:]]),
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": {
            "nproc": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
        },
        "total_seconds": round(time.perf_counter() - started, 1),
    }
    for one in runs:
        print()
        print(report(one))
    if args.output:
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
        print(f"results written to {args.output}")
    return 1 if any(one["target_met"] is False for one in runs) else 0


if __name__ == "__main__":
    sys.exit(main())
