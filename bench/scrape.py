"""Scrape benchmark: latency of ``/metrics`` served from cached bytes against rendering on
each scrape with prometheus-client.

The metric families are healthexporter's own (``exposition.health_families``) over a
synthesized ``HealthSnapshot``: the ``kube-rs`` dataset is generated and computed once (real
histograms, exemplars, ratios for three windows), and its ``RepositoryHealth`` is repeated under
as many repository names (``bench-org-0001/repo-0001``, …) as it takes to reach the series count
(1k, 10k, 100k samples; the table shows the exact count). Both servers serve those same family
objects, each in its own process:

- **healthexporter**: ``render(families)`` once, served by ``web.WebServer`` (stdlib
  one asyncio event loop, HTTP/1.1 keep-alive) choosing among the cached byte strings;
- **client_python**: the standard way to export custom families with prometheus-client, a
  ``CollectorRegistry`` with a collector yielding the families and ``start_http_server`` (its
  WSGI server), which encodes the registry and gzips the output on every request.

Load: ``wrk`` (one thread, in its own process) with 1, 8 and 32 connections for a bounded time
each, sending the headers Prometheus sends: ``Accept:`` OpenMetrics 1.0.0 first (Prometheus 2's
scrape header) and ``Accept-Encoding: gzip``. Before each run one request checks that the
server answers OpenMetrics, gzip-compressed. Latency percentiles are wrk's (closed loop: each
connection sends its next request when the previous answer has arrived).

Usage: ``python -m bench.scrape [--quick] [--output FILE]``.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import os
import platform
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from prometheus_client.core import Metric
from prometheus_client.registry import Collector, CollectorRegistry

from bench.compute import Copy, domain_commit, domain_items, domain_repository
from bench.sync_cost import table
from healthexporter.exposition import health_families, render
from healthexporter.health.compute import compute
from healthexporter.health.snapshot import HealthSettings, HealthSnapshot, RepositoryData
from healthexporter.model import Release, Tag
from healthexporter.simulator.generate import generate
from healthexporter.web import LandingStatus, WebServer

SIZES = (1_000, 10_000, 100_000)
CONCURRENCY = (1, 8, 32)
SIDES = ("healthexporter", "client_python")
# Prometheus 2.x's scrape Accept header (scrape/scrape.go, acceptHeader with OpenMetrics on)
PROMETHEUS_ACCEPT = (
    "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;"
    "q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1"
)
TARGETS_P99_MS = {10_000: 5.0, 100_000: 50.0}  # with 32 scrapers
TARGET_CONCURRENCY = 32

WRK_SCRIPT = (
    """\
wrk.headers["Accept"] = "ACCEPT"
wrk.headers["Accept-Encoding"] = "gzip"
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'RESULT {"requests":%d,"duration_us":%d,"bytes":%d,"errors":%d,"timeouts":%d,' ..
    '"p50_us":%d,"p90_us":%d,"p99_us":%d,"max_us":%d,"mean_us":%.1f}\\n',
    summary.requests, summary.duration, summary.bytes,
    e.connect + e.read + e.write + e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99),
    latency.max, latency.mean))
end
"""
).replace("ACCEPT", PROMETHEUS_ACCEPT)


# --- the families ------------------------------------------------------------------------------
def base_snapshot(now: datetime) -> HealthSnapshot:
    """kube-rs, generated up to ``now`` and computed with the default settings."""
    dataset = generate("kube-rs", now=now)
    repo = dataset.repositories["kube-rs/kube"]
    copy = Copy(repo.full_name)
    data = RepositoryData(
        project="bench",
        repository=repo.full_name,
        info=domain_repository(repo, copy),
        items=tuple(domain_items(dataset, repo, copy)),
        releases=tuple(
            Release(
                repo.full_name,
                r.tag_name,
                r.created_at,
                r.published_at,
                r.is_prerelease,
                r.is_draft,
            )
            for r in repo.releases
        ),
        tags=tuple(Tag(repo.full_name, t.name, t.commit_oid, t.tagged_at) for t in repo.tags),
        commits=tuple(domain_commit(repo.full_name, c) for c in repo.commits),
    )
    return compute([data], HealthSettings(), dataset.now)


def replicated(snapshot: HealthSnapshot, repositories: int) -> HealthSnapshot:
    """The snapshot's one repository under ``repositories`` names, in one project."""
    template = snapshot.repositories[0]
    names = [f"bench-org-{i:04d}/repo-{i:04d}" for i in range(1, repositories + 1)]
    project = dataclasses.replace(snapshot.projects[0], repositories=tuple(names))
    return dataclasses.replace(
        snapshot,
        repositories=tuple(dataclasses.replace(template, repository=name) for name in names),
        projects=(project,),
    )


def series(families: Iterable[Metric]) -> int:
    return sum(len(f.samples) for f in families)


def families_for(target_series: int, now: datetime) -> list[Metric]:
    snapshot = base_snapshot(now)
    one = series(health_families(replicated(snapshot, 1)))
    per_repository = series(health_families(replicated(snapshot, 2))) - one
    repositories = max(1, round((target_series - (one - per_repository)) / per_repository))
    return health_families(replicated(snapshot, repositories))


# --- the servers (child processes) -------------------------------------------------------------
class _Families(Collector):
    def __init__(self, families: Sequence[Metric]) -> None:
        self._families = families

    def collect(self) -> Iterable[Metric]:
        return self._families


def serve_child(side: str, target_series: int, now: datetime, port: int) -> None:
    """Run one server until stdin closes; print ``READY <series> <openmetrics bytes> <gzip
    bytes>`` once it accepts connections."""
    families = families_for(target_series, now)
    rendered = render(families)
    if side == "healthexporter":
        server = WebServer(
            f"127.0.0.1:{port}",
            exposition=lambda: rendered,
            status=lambda: LandingStatus(version="bench"),
            ready=lambda: True,
        ).start()
    else:
        from prometheus_client import start_http_server

        registry = CollectorRegistry(auto_describe=False)
        registry.register(_Families(families))
        start_http_server(port, addr="127.0.0.1", registry=registry)
    print(
        f"READY {series(families)} {len(rendered.openmetrics)} {len(rendered.openmetrics_gzip)}",
        flush=True,
    )
    sys.stdin.read()  # until the parent closes it
    if side == "healthexporter":
        server.stop()


class Server:
    def __init__(self, side: str, target_series: int, now: datetime) -> None:
        self.side = side
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}/metrics"
        command = [
            sys.executable,
            "-m",
            "bench.scrape",
            "--serve",
            side,
            "--series",
            str(target_series),
            "--now",
            now.isoformat(),
            "--port",
            str(self.port),
        ]
        self.process = subprocess.Popen(
            command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        )
        assert self.process.stdout is not None
        line = self.process.stdout.readline().split()
        if not line or line[0] != "READY":
            self.close()
            raise RuntimeError(f"{side} server did not start")
        self.series, self.openmetrics_bytes, self.gzip_bytes = map(int, line[1:])

    def check(self) -> dict[str, str]:
        """One scrape as Prometheus asks: must be OpenMetrics, gzip-compressed."""
        response = httpx.get(
            self.url, headers={"Accept": PROMETHEUS_ACCEPT, "Accept-Encoding": "gzip"}
        )
        response.raise_for_status()
        content_type = response.headers["content-type"]
        encoding = response.headers.get("content-encoding", "")
        if not content_type.startswith("application/openmetrics-text") or encoding != "gzip":
            raise RuntimeError(f"{self.side}: {content_type!r}, encoding {encoding!r}")
        if not response.content.rstrip().endswith(b"# EOF"):
            raise RuntimeError(f"{self.side}: the exposition does not end with # EOF")
        return {"content_type": content_type, "content_encoding": encoding}

    def close(self) -> None:
        assert self.process.stdin is not None
        self.process.stdin.close()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# --- load --------------------------------------------------------------------------------------
def wrk(url: str, connections: int, seconds: float, script: Path) -> dict[str, Any]:
    command = [
        "wrk",
        "-t1",
        f"-c{connections}",
        f"-d{seconds:g}s",
        "--timeout",
        "60s",
        "-s",
        str(script),
        url,
    ]
    output = subprocess.run(
        command, capture_output=True, text=True, check=True, timeout=seconds + 120
    ).stdout
    line = next(line for line in output.splitlines() if line.startswith("RESULT "))
    raw = json.loads(line.removeprefix("RESULT "))
    duration = raw["duration_us"] / 1e6
    done = raw["requests"] > 0
    return {
        "connections": connections,
        "requests": raw["requests"],
        "errors": raw["errors"],
        "timeouts": raw["timeouts"],
        "requests_per_second": round(raw["requests"] / duration, 1) if duration else 0.0,
        "p50_ms": raw["p50_us"] / 1000 if done else None,
        "p90_ms": raw["p90_us"] / 1000 if done else None,
        "p99_ms": raw["p99_us"] / 1000 if done else None,
        "max_ms": raw["max_us"] / 1000 if done else None,
        "mean_ms": round(raw["mean_us"] / 1000, 3) if done else None,
        "response_bytes": round(raw["bytes"] / raw["requests"]) if raw["requests"] else 0,
        "seconds": round(duration, 2),
    }


SLOW_FACTOR = 4


def slow(side: str, size: int) -> bool:
    return side == "client_python" and size >= 100_000


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:,.2f}"


def run(quick: bool, seconds: float) -> list[dict[str, Any]]:
    now = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-scrape-") as workdir:
        script = Path(workdir) / "prometheus.lua"
        script.write_text(WRK_SCRIPT, encoding="utf-8")
        for size in SIZES:
            for side in SIDES:
                server = Server(side, size, now)
                try:
                    headers = server.check()
                    print(
                        f"== {size:,} series ({server.series:,}), {side}: "
                        f"{server.openmetrics_bytes:,} B, gzip {server.gzip_bytes:,} B",
                        flush=True,
                    )
                    # rendering 100k series per scrape takes seconds: give it longer, so
                    # that some scrapes complete at all
                    run_seconds = seconds * SLOW_FACTOR if slow(side, size) else seconds
                    for connections in CONCURRENCY:
                        result = wrk(server.url, connections, run_seconds, script)
                        print(
                            f"   {connections:>2} connections: p50 {_ms(result['p50_ms'])} ms, "
                            f"p99 {_ms(result['p99_ms'])} ms, "
                            f"{result['requests_per_second']:,.0f} req/s "
                            f"({result['requests']} requests)",
                            flush=True,
                        )
                        rows.append(
                            {
                                "size": size,
                                "series": server.series,
                                "side": side,
                                "openmetrics_bytes": server.openmetrics_bytes,
                                "openmetrics_gzip_bytes": server.gzip_bytes,
                                **headers,
                                **result,
                            }
                        )
                finally:
                    server.close()
    return rows


# --- output ------------------------------------------------------------------------------------
def comparisons(rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per (size, connections): both sides and client_python / healthexporter."""
    by_key = {(r["size"], r["connections"], r["side"]): r for r in rows}
    out = []
    for size in SIZES:
        for connections in CONCURRENCY:
            ours = by_key.get((size, connections, "healthexporter"))
            theirs = by_key.get((size, connections, "client_python"))
            if ours is None or theirs is None:
                continue
            out.append(
                {
                    "size": size,
                    "series": ours["series"],
                    "connections": connections,
                    "healthexporter": {
                        k: ours[k] for k in ("p50_ms", "p99_ms", "requests_per_second", "requests")
                    },
                    "client_python": {
                        **{
                            k: theirs[k]
                            for k in ("p50_ms", "p99_ms", "requests_per_second", "requests")
                        },
                        "seconds_run": theirs["seconds"],
                    },
                    # no scrape completed in the run: the run's length is a lower bound
                    "p50_ratio": _ratio(_or_bound(theirs, "p50_ms"), ours["p50_ms"]),
                    "p99_ratio": _ratio(_or_bound(theirs, "p99_ms"), ours["p99_ms"]),
                    "lower_bound": theirs["requests"] == 0,
                    "throughput_ratio": _ratio(
                        ours["requests_per_second"], theirs["requests_per_second"]
                    ),
                }
            )
    return out


def _or_bound(row: dict[str, Any], key: str) -> float:
    value = row[key]
    return float(row["seconds"] * 1000) if value is None else float(value)


def _ratio(a: float, b: float) -> float:
    return round(a / b, 1) if b else float("inf")


def verdicts(compared: Sequence[dict[str, Any]]) -> list[dict[str, str]]:
    out = []
    for size, limit in TARGETS_P99_MS.items():
        row = next(
            (c for c in compared if c["size"] == size and c["connections"] == TARGET_CONCURRENCY),
            None,
        )
        if row is None:
            continue
        p99 = row["healthexporter"]["p99_ms"]
        out.append(
            {
                "target": f"p99 ≤ {limit:g} ms at {size:,} series, {TARGET_CONCURRENCY} scrapers",
                "measured": f"{p99:.2f} ms ({row['series']:,} series)",
                "verdict": "met" if p99 <= limit else "missed",
            }
        )
    return out


def _theirs(row: dict[str, Any], key: str) -> object:
    value = row["client_python"][key]
    if value is None:
        return f"> {row['client_python']['seconds_run'] * 1000:,.0f}"
    return value


def report(results: dict[str, Any]) -> str:
    compared = results["comparisons"]
    latency = table(
        [
            "series",
            "scrapers",
            "healthexporter p50 ms",
            "p99 ms",
            "req/s",
            "client_python p50 ms",
            "p99 ms",
            "req/s",
            "p50 ×",
            "p99 ×",
            "req/s ×",
        ],
        [
            [
                c["series"],
                c["connections"],
                c["healthexporter"]["p50_ms"],
                c["healthexporter"]["p99_ms"],
                c["healthexporter"]["requests_per_second"],
                _theirs(c, "p50_ms"),
                _theirs(c, "p99_ms"),
                c["client_python"]["requests_per_second"],
                ("≥ " if c["lower_bound"] else "") + f"{c['p50_ratio']:,g}",
                ("≥ " if c["lower_bound"] else "") + f"{c['p99_ratio']:,g}",
                "-" if c["lower_bound"] else c["throughput_ratio"],
            ]
            for c in compared
        ],
    )
    sizes = table(
        ["series", "repositories", "OpenMetrics bytes", "gzip bytes", "requests (ours / theirs)"],
        [
            [
                c["series"],
                round((c["series"]) / results["series_per_repository"]),
                next(r["openmetrics_bytes"] for r in results["rows"] if r["series"] == c["series"]),
                next(
                    r["openmetrics_gzip_bytes"]
                    for r in results["rows"]
                    if r["series"] == c["series"]
                ),
                " / ".join(
                    "{:,}".format(
                        sum(
                            r["requests"]
                            for r in results["rows"]
                            if r["series"] == c["series"] and r["side"] == side
                        )
                    )
                    for side in SIDES
                ),
            ]
            for c in compared
            if c["connections"] == CONCURRENCY[0]
        ],
    )
    targets = table(
        ["target", "measured", "verdict"],
        [[t["target"], t["measured"], t["verdict"]] for t in results["targets"]],
    )
    return "\n\n".join(
        [
            "Scrape latency (wrk, OpenMetrics + gzip as Prometheus asks; × = client_python / "
            "healthexporter, req/s × = healthexporter / client_python)\n\n" + latency,
            "Expositions\n\n" + sizes,
            "Targets\n\n" + targets,
        ]
    )


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.scrape", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--quick", action="store_true", help="2 s per load run instead of 5 s")
    parser.add_argument("--seconds", type=float, help="seconds per load run")
    parser.add_argument("--output", type=Path, help="write the results as JSON")
    # internal: run one server (the benchmark starts these itself)
    parser.add_argument("--serve", choices=SIDES, help=argparse.SUPPRESS)
    parser.add_argument("--series", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--now", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    if args.serve:
        serve_child(args.serve, args.series, datetime.fromisoformat(args.now), args.port)
        return 0
    if shutil.which("wrk") is None:
        print("wrk is not installed (Debian: apt-get install wrk)", file=sys.stderr)
        return 2
    seconds = args.seconds or (2.0 if args.quick else 5.0)
    started = time.perf_counter()
    rows = run(args.quick, seconds)
    compared = comparisons(rows)
    now = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    snapshot = base_snapshot(now)
    results: dict[str, Any] = {
        "mode": "quick" if args.quick else "full",
        "command": " ".join(["python -m bench.scrape", *sys.argv[1:]]),
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": {
            "nproc": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
            "processor": platform.processor() or platform.machine(),
            "wrk": subprocess.run(
                ["wrk", "--version"], check=False, capture_output=True, text=True
            ).stdout.split("\n")[0],
        },
        "seconds_per_run": seconds,
        "accept": PROMETHEUS_ACCEPT,
        "series_per_repository": series(health_families(replicated(snapshot, 2)))
        - series(health_families(replicated(snapshot, 1))),
        "rows": rows,
        "comparisons": compared,
        "targets": verdicts(compared),
    }
    results["total_seconds"] = round(time.perf_counter() - started, 1)
    print()
    print(report(results))
    print(f"\n{results['mode']} run: {results['total_seconds']:.0f} s")
    if args.output:
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
        print(f"results written to {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
