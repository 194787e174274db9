"""Sync benchmark: the GitHub API cost and the wall time of healthexporter's sync.

The simulator runs in its own process (its GraphQL execution is CPU-heavy and would share the
GIL with the exporter in-process); the exporter — client, syncer, SQLite store in a file — runs
in this one, wired as ``healthexporter sync`` wires it. Per dataset:

1. **backfill** into an empty store, then profiles until none is missing;
2. **unchanged poll**: must cost 0 points and 0 charged REST requests (304s only);
3. **poll after 1% of the items changed** (``evolve(changed_fraction=0.01)``, one hour later);

then the same with GitHub-like latency injected into the simulator, for wall time.

Request counts, points and charged requests are the simulator's own accounting
(``/_simulator/stats``), not the exporter's, so a miscount in the exporter cannot hide a cost.

Usage: ``python -m bench.sync_cost [--quick] [--output FILE]``.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import os
import platform
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from healthexporter.bots import BotMatcher
from healthexporter.clock import SystemClock
from healthexporter.github.auth import StaticToken
from healthexporter.github.client import GitHubClient
from healthexporter.model import SyncReport
from healthexporter.store.sqlite import SQLiteStore
from healthexporter.sync import OrgSelection, Syncer, Target

PROJECT = "bench"
# Limits far above what any run spends: the benchmark measures cost, it must never wait for a
# rate-limit window.
UNLIMITED = 10_000_000
# The exporter's defaults (``Syncer`` and ``GitHubClient``): four repositories at a time.
WORKERS = 4
# GitHub-like latency: a GraphQL page of 100 items with nested connections takes a few hundred
# milliseconds on github.com, a small conditional REST request about a hundred.
GRAPHQL_LATENCY_MS = 300.0
REST_LATENCY_MS = 100.0
PAGE_OPERATION = "Page"  # the sync's bundled query (src/healthexporter/paging.py)
PROFILE_OPERATION = "Users"


@dataclass(frozen=True)
class Dataset:
    """A generated dataset and what the exporter is configured to sync from it."""

    name: str  # as shown in the tables
    spec: str  # the generator SPEC
    repositories: tuple[str, ...] = ()
    org: str | None = None  # synced with archived repositories and forks included

    def target_lists(self) -> tuple[list[Target], list[tuple[str, OrgSelection]]]:
        repositories = [Target(PROJECT, name) for name in self.repositories]
        orgs = (
            []
            if self.org is None
            else [(PROJECT, OrgSelection(self.org, archived=True, forks=True))]
        )
        return repositories, orgs


def datasets(quick: bool) -> list[Dataset]:
    kubernetes_spec = "kubernetes:items=20000" if quick else "kubernetes"
    return [
        Dataset("kube-rs", "kube-rs", repositories=("kube-rs/kube",)),
        Dataset(kubernetes_spec, kubernetes_spec, repositories=("kubernetes/kubernetes",)),
        Dataset("org:300", "org:300", org="example-org"),
    ]


def latency_datasets(quick: bool) -> list[Dataset]:
    org = "org:50" if quick else "org:300"
    return [
        Dataset("kube-rs", "kube-rs", repositories=("kube-rs/kube",)),
        Dataset(org, org, org="example-org"),
    ]


# --- the simulator, in its own process -------------------------------------------------------
class Simulator:
    """``python -m healthexporter.simulator`` as a child process, and its control endpoints."""

    def __init__(self, process: subprocess.Popen[str], url: str, started_seconds: float) -> None:
        self.process = process
        self.url = url
        self.started_seconds = started_seconds  # dataset generation and bind
        self._control = httpx.Client(base_url=url, timeout=600.0)

    def stats(self) -> dict[str, Any]:
        return dict(self._control.get("/_simulator/stats").raise_for_status().json())

    def reset(self) -> None:
        self._control.post("/_simulator/reset", json={"buckets": True}).raise_for_status()

    def evolve(self, **arguments: Any) -> dict[str, Any]:
        return dict(
            self._control.post("/_simulator/evolve", json=arguments).raise_for_status().json()
        )

    def close(self) -> None:
        self._control.close()


# The simulator as shipped answers in two writes (headers, then body) without TCP_NODELAY, so
# Nagle's algorithm holds the body until the client's delayed ACK: ~40 ms added to every request
# on a kept-alive connection (Linux), which GitHub does not have. Unless --simulator-as-shipped,
# the child process sets ``disable_nagle_algorithm`` (socketserver's switch for TCP_NODELAY) on
# the simulator's request handler before serving; once the simulator sets it, this is a no-op.
NODELAY_BOOTSTRAP = """\
import sys
from healthexporter.simulator import server
server._Handler.disable_nagle_algorithm = True
from healthexporter.simulator.__main__ import main
sys.exit(main(sys.argv[1:]))
"""


@contextmanager
def simulator(
    spec: str,
    *,
    graphql_latency_ms: float = 0.0,
    rest_latency_ms: float = 0.0,
    as_shipped: bool = False,
) -> Iterator[Simulator]:
    launcher = ["-m", "healthexporter.simulator"] if as_shipped else ["-c", NODELAY_BOOTSTRAP]
    command = [
        sys.executable,
        *launcher,
        "--port",
        "0",
        "--generate",
        spec,
        "--graphql-limit",
        str(UNLIMITED),
        "--core-limit",
        str(UNLIMITED),
        "--graphql-latency-ms",
        str(graphql_latency_ms),
        "--rest-latency-ms",
        str(rest_latency_ms),
    ]
    started = time.perf_counter()
    with tempfile.TemporaryFile("w+") as stderr:
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=stderr, text=True)
        try:
            assert process.stdout is not None
            url = process.stdout.readline().strip()  # the first line is the URL (see __main__)
            if not url.startswith("http"):
                process.wait(timeout=10)
                stderr.seek(0)
                raise RuntimeError(f"the simulator did not start: {stderr.read()[-2000:]}")
            sim = Simulator(process, url, time.perf_counter() - started)
            try:
                yield sim
            finally:
                sim.close()
        finally:
            process.terminate()
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


# --- the exporter, in this process -------------------------------------------------------------
@dataclass
class Exporter:
    client: GitHubClient
    store: SQLiteStore
    syncer: Syncer


@contextmanager
def exporter(url: str, store_path: Path) -> Iterator[Exporter]:
    clock = SystemClock()
    client = GitHubClient(
        api_url=url,
        tokens=StaticToken("bench-token"),
        clock=clock,
        max_concurrency=WORKERS,
        reserve={"graphql": 0, "core": 0},
    )
    store = SQLiteStore.open(store_path)
    syncer = Syncer(client, store, BotMatcher(), clock=clock, max_workers=WORKERS)
    try:
        yield Exporter(client, store, syncer)
    finally:
        client.close()
        store.close()


# --- one measured pass ---------------------------------------------------------------------------
@dataclass
class Pass:
    """One sync of every target plus profiles, as the simulator counted it."""

    wall_seconds: float
    sync_seconds: float  # sync_all, with org expansion
    profile_seconds: float  # sync_profiles, called until nothing is left to fetch
    repositories: int
    items: int  # items stored by the pass (backfill: all; poll: fetched)
    releases: int
    tags: int
    commits: int
    users: int
    profile_calls: int  # sync_profiles() calls (each fetches at most 1,000 profiles)
    graphql_requests: int
    rest_charged: int
    rest_not_modified: int
    graphql_points: int
    operations: dict[str, int]
    repository_fields: dict[str, int]  # how often each stream was asked for, across queries
    repository_shapes: dict[str, int]  # how many queries asked each set of streams
    items_per_repository: list[int] = field(repr=False)

    @property
    def requests(self) -> int:
        return self.graphql_requests + self.rest_charged + self.rest_not_modified

    @property
    def items_per_second(self) -> float:
        return self.items / self.wall_seconds if self.wall_seconds else 0.0

    def operation(self, *names: str) -> int:
        return sum(self.operations.get(name, 0) for name in names)

    def summary(self) -> dict[str, Any]:
        out = asdict(self)
        del out["items_per_repository"]
        out["requests"] = self.requests
        out["items_per_second"] = round(self.items_per_second, 1)
        return out


def measure_pass(sim: Simulator, exp: Exporter, dataset: Dataset) -> Pass:
    sim.reset()
    started = time.perf_counter()
    repositories, orgs = dataset.target_lists()
    targets, failures = exp.syncer.targets(repositories, orgs)
    reports = failures + exp.syncer.sync_all(targets)
    synced = time.perf_counter()
    broken = [r for r in reports if not r.ok]
    if broken:
        raise RuntimeError(f"{len(broken)} repositories failed: {broken[:3]}")
    users = calls = 0
    while True:
        fetched, _, _ = exp.syncer.sync_profiles()
        calls += 1
        users += fetched
        if fetched == 0:
            break
    finished = time.perf_counter()
    stats = sim.stats()
    return Pass(
        wall_seconds=round(finished - started, 3),
        sync_seconds=round(synced - started, 3),
        profile_seconds=round(finished - synced, 3),
        repositories=len(reports),
        items=_total(reports, "items"),
        releases=_total(reports, "releases"),
        tags=_total(reports, "tags"),
        commits=_total(reports, "commits"),
        users=users,
        profile_calls=calls,
        graphql_requests=stats["requests"]["graphql"],
        rest_charged=stats["core_charged"],
        rest_not_modified=stats["requests"]["rest_not_modified"],
        graphql_points=stats["graphql_points"],
        operations=_graphql_operations(stats["operations"]),
        repository_fields=dict(stats["repository_fields"]),
        repository_shapes=dict(stats["repository_shapes"]),
        items_per_repository=[r.items for r in reports],
    )


def _total(reports: Sequence[SyncReport], what: str) -> int:
    return sum(int(getattr(r, what)) for r in reports)


def _graphql_operations(operations: dict[str, int]) -> dict[str, int]:
    """GraphQL operation names, with ``Users`` for every batch size of the profile query."""
    out: dict[str, int] = {}
    for name, count in operations.items():
        if name.startswith("GET "):
            continue
        key = "Users" if name.startswith("Users") else name
        out[key] = out.get(key, 0) + count
    return out


def backfill_cost(backfill: Pass) -> dict[str, Any]:
    """The backfill's points against issue 5's bound, 1.2·⌈N/100⌉·k + 10 per repository with
    k = 2 (the points of a page of 100 items with labels and timeline: 201 requests / 100).

    The sync bundles the next page of every stream into one query of at most 149 requests
    (1 point); each must have cost exactly 1 point. The bound is on N items, so it holds the
    queries that carried items (with whatever rode along); ``other_queries`` are those after
    the items were done: commits beyond what rode along, the last followed timelines.
    ``streams_asked`` counts how often each stream rode in a query (``pullRequest``/``issue``:
    a followed item's further timeline page)."""
    pages = backfill.operation(PAGE_OPERATION)
    page_points = backfill.graphql_points - backfill.operation(PROFILE_OPERATION)
    bound = sum(
        math.floor(1.2 * math.ceil(n / 100) * 2 + 10) for n in backfill.items_per_repository
    )
    fields = backfill.repository_fields
    item_queries = sum(
        count
        for shape, count in backfill.repository_shapes.items()
        if {"pullRequests", "issues"} & set(shape.split("+"))
    )
    return {
        "n_items": backfill.items,
        "queries": pages,
        "sync_points": page_points,
        "bound": bound,
        "item_queries": item_queries,
        "other_queries": pages - item_queries,
        "within_bound": item_queries <= bound,
        "floor": sum(math.ceil(n / 74) for n in backfill.items_per_repository),
        "streams_asked": {
            "items": fields.get("pullRequests", 0) + fields.get("issues", 0),
            "timelines": fields.get("pullRequest", 0) + fields.get("issue", 0),
            "releases": fields.get("releases", 0),
            "tags": fields.get("refs", 0),
            "commits": fields.get("defaultBranchRef", 0),
        },
        "profile_points": backfill.operation(PROFILE_OPERATION),
        "total_points": backfill.graphql_points,
        "unexplained_points": page_points - pages,
    }


# --- scenarios ---------------------------------------------------------------------------------
EVOLVE = {"seed": 7, "advance": 3600, "changed_fraction": 0.01}


def run_dataset(
    dataset: Dataset,
    workdir: Path,
    *,
    graphql_latency_ms: float = 0.0,
    rest_latency_ms: float = 0.0,
    as_shipped: bool = False,
) -> dict[str, Any]:
    print(
        f"\n== {dataset.name} (latency graphql {graphql_latency_ms} ms, rest {rest_latency_ms} ms)",
        flush=True,
    )
    store_path = (
        workdir / f"{dataset.name.replace(':', '_').replace('=', '_')}-{int(graphql_latency_ms)}.db"
    )
    with (
        simulator(
            dataset.spec,
            graphql_latency_ms=graphql_latency_ms,
            rest_latency_ms=rest_latency_ms,
            as_shipped=as_shipped,
        ) as sim,
        exporter(sim.url, store_path) as exp,
    ):
        print(f"   simulator up in {sim.started_seconds:.1f} s at {sim.url}", flush=True)
        backfill = measure_pass(sim, exp, dataset)
        print(
            f"   backfill: {backfill.wall_seconds:.1f} s, {backfill.graphql_points} points",
            flush=True,
        )
        unchanged = measure_pass(sim, exp, dataset)
        print(
            f"   unchanged poll: {unchanged.wall_seconds:.2f} s, {unchanged.graphql_points} points",
            flush=True,
        )
        summary = sim.evolve(**EVOLVE)
        changed = measure_pass(sim, exp, dataset)
        print(
            f"   poll after 1%: {changed.wall_seconds:.2f} s, {changed.graphql_points} points",
            flush=True,
        )
    return {
        "dataset": dataset.name,
        "spec": dataset.spec,
        "graphql_latency_ms": graphql_latency_ms,
        "rest_latency_ms": rest_latency_ms,
        "simulator_start_seconds": round(sim.started_seconds, 2),
        "store_bytes": store_path.stat().st_size,
        "backfill": backfill.summary(),
        "cost": backfill_cost(backfill),
        "unchanged_poll": unchanged.summary(),
        "evolve": {
            **EVOLVE,
            "changed_items": len(summary["changed_items"]),
            "new_items": len(summary["new_items"]),
            "timeline_entries": summary["timeline_entries"],
            "new_users": len(summary["new_users"]),
        },
        "changed_poll": changed.summary(),
    }


# --- output ------------------------------------------------------------------------------------
def table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A Markdown table (readable in a terminal too)."""
    cells = [[str(h) for h in headers], *[[_cell(v) for v in row] for row in rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    lines = [
        "| "
        + " | ".join(
            c.ljust(w) if i == 0 else c.rjust(w)
            for i, (c, w) in enumerate(zip(row, widths, strict=True))
        )
        + " |"
        for row in cells
    ]
    lines.insert(
        1,
        "|"
        + "|".join(
            ":" + "-" * (w + 1) if i == 0 else "-" * (w + 1) + ":" for i, w in enumerate(widths)
        )
        + "|",
    )
    return "\n".join(lines)


def _cell(value: object) -> str:
    if isinstance(value, float):
        return f"{value:,.2f}" if value < 100 else f"{value:,.0f}"
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    return str(value)


def report(results: dict[str, Any]) -> str:
    runs = results["runs"]
    backfill = table(
        [
            "dataset",
            "repos",
            "items",
            "GraphQL req",
            "REST charged",
            "REST 304",
            "points",
            "wall s",
            "items/s",
        ],
        [
            [
                r["dataset"],
                r["backfill"]["repositories"],
                r["backfill"]["items"],
                r["backfill"]["graphql_requests"],
                r["backfill"]["rest_charged"],
                r["backfill"]["rest_not_modified"],
                r["backfill"]["graphql_points"],
                r["backfill"]["wall_seconds"],
                r["backfill"]["items_per_second"],
            ]
            for r in runs
        ],
    )
    cost = table(
        [
            "dataset",
            "N",
            "queries",
            "sync points",
            "queries with items",
            "bound 1.2·⌈N/100⌉·2+10",
            "⌈N/74⌉",
            "item pages",
            "followed timelines",
            "releases",
            "tags",
            "commits",
            "profile points",
            "total points",
        ],
        [
            [
                r["dataset"],
                r["cost"]["n_items"],
                r["cost"]["queries"],
                r["cost"]["sync_points"],
                r["cost"]["item_queries"],
                r["cost"]["bound"],
                r["cost"]["floor"],
                r["cost"]["streams_asked"]["items"],
                r["cost"]["streams_asked"]["timelines"],
                r["cost"]["streams_asked"]["releases"],
                r["cost"]["streams_asked"]["tags"],
                r["cost"]["streams_asked"]["commits"],
                r["cost"]["profile_points"],
                r["cost"]["total_points"],
            ]
            for r in runs
        ],
    )
    unchanged = table(
        ["dataset", "points", "requests", "REST charged", "REST 304", "wall s"],
        [
            [
                r["dataset"],
                r["unchanged_poll"]["graphql_points"],
                r["unchanged_poll"]["requests"],
                r["unchanged_poll"]["rest_charged"],
                r["unchanged_poll"]["rest_not_modified"],
                r["unchanged_poll"]["wall_seconds"],
            ]
            for r in runs
        ],
    )
    changed = table(
        [
            "dataset",
            "items changed",
            "items fetched",
            "points",
            "GraphQL req",
            "REST charged",
            "REST 304",
            "profiles",
            "wall s",
        ],
        [
            [
                r["dataset"],
                r["evolve"]["changed_items"],
                r["changed_poll"]["items"],
                r["changed_poll"]["graphql_points"],
                r["changed_poll"]["graphql_requests"],
                r["changed_poll"]["rest_charged"],
                r["changed_poll"]["rest_not_modified"],
                r["changed_poll"]["users"],
                r["changed_poll"]["wall_seconds"],
            ]
            for r in runs
        ],
    )
    latency = table(
        [
            "dataset",
            "backfill s",
            "backfill requests",
            "unchanged poll s",
            "poll after 1% s",
            "poll after 1% requests",
        ],
        [
            [
                r["dataset"],
                r["backfill"]["wall_seconds"],
                r["backfill"]["requests"],
                r["unchanged_poll"]["wall_seconds"],
                r["changed_poll"]["wall_seconds"],
                r["changed_poll"]["requests"],
            ]
            for r in results["latency_runs"]
        ],
    )
    return "\n\n".join(
        [
            "Backfill\n\n" + backfill,
            "Backfill cost in points against the bound (item pages … commits: how often each"
            " stream rode in a query)\n\n" + cost,
            "Poll, nothing changed\n\n" + unchanged,
            "Poll after 1% of the items changed\n\n" + changed,
            f"With latency (GraphQL {GRAPHQL_LATENCY_MS:.0f} ms, REST {REST_LATENCY_MS:.0f} ms a request)\n\n"
            + latency,
        ]
    )


def problems(results: dict[str, Any]) -> list[str]:
    """What docs/sync.md promises and this run contradicts."""
    out = []
    for r in results["runs"] + results["latency_runs"]:
        name = r["dataset"]
        if not r["cost"]["within_bound"]:
            out.append(
                f"{name}: {r['cost']['item_queries']} queries with items, over the bound"
                f" {r['cost']['bound']}"
            )
        if r["cost"]["unexplained_points"]:
            out.append(
                f"{name}: {r['cost']['unexplained_points']} more points than bundled queries"
            )
        poll = r["unchanged_poll"]
        if poll["graphql_points"] or poll["rest_charged"]:
            out.append(
                f"{name}: unchanged poll cost {poll['graphql_points']} points, {poll['rest_charged']} REST"
            )
    return out


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.sync_cost", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="kubernetes:items=20000 and org:50 with latency (≈ 3 min)",
    )
    parser.add_argument("--output", type=Path, help="write the results as JSON")
    parser.add_argument(
        "--only",
        action="append",
        metavar="DATASET",
        help="run only this dataset (repeatable); latency runs are skipped",
    )
    parser.add_argument(
        "--simulator-as-shipped",
        action="store_true",
        help="leave Nagle's algorithm on in the simulator (≈ 40 ms more per request)",
    )
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    started = time.perf_counter()
    results: dict[str, Any] = {
        "mode": "quick" if args.quick else "full",
        "command": " ".join(["python -m bench.sync_cost", *sys.argv[1:]]),
        "simulator": "as shipped" if args.simulator_as_shipped else "TCP_NODELAY set by the bench",
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": {
            "nproc": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
            "processor": platform.processor() or platform.machine(),
        },
        "exporter": {"workers": WORKERS, "store": "SQLite file"},
        "runs": [],
        "latency_runs": [],
    }
    with tempfile.TemporaryDirectory(prefix="bench-sync-") as workdir:
        for dataset in datasets(args.quick):
            if args.only and dataset.name not in args.only:
                continue
            results["runs"].append(
                run_dataset(dataset, Path(workdir), as_shipped=args.simulator_as_shipped)
            )
        if not args.only:
            for dataset in latency_datasets(args.quick):
                results["latency_runs"].append(
                    run_dataset(
                        dataset,
                        Path(workdir),
                        graphql_latency_ms=GRAPHQL_LATENCY_MS,
                        rest_latency_ms=REST_LATENCY_MS,
                        as_shipped=args.simulator_as_shipped,
                    )
                )
    results["total_seconds"] = round(time.perf_counter() - started, 1)
    results["problems"] = problems(results)
    print()
    print(report(results))
    print(f"\n{results['mode']} run: {results['total_seconds']:.0f} s")
    for problem in results["problems"]:
        print(f"PROBLEM: {problem}")
    if args.output:
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
        print(f"results written to {args.output}")
    return 1 if results["problems"] else 0


if __name__ == "__main__":
    sys.exit(main())
