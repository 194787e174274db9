"""Every benchmark, one after another, and one table of their headline figures.

Runs ``bench.sync_cost``, ``bench.rest_baseline``, ``bench.scrape`` and ``bench.compute`` (each with ``--quick`` when
given) as child processes, one at a time so that none shares the CPUs with another; each writes
its own JSON to ``bench/results/`` (``sync[-quick].json``, ``rest_baseline[-quick].json``,
``scrape[-quick].json``,
``compute[-quick].json``) and all of them together go to ``bench/results/all.json``.

Usage: ``python -m bench.run [--quick] [--only NAME]``.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.sync_cost import table

RESULTS = Path(__file__).parent / "results"
BENCHMARKS = ("sync_cost", "rest_baseline", "scrape", "compute")
_FILES = {
    "sync_cost": "sync",
    "rest_baseline": "rest_baseline",
    "scrape": "scrape",
    "compute": "compute",
}


def result_path(name: str, quick: bool) -> Path:
    return RESULTS / f"{_FILES[name]}{'-quick' if quick else ''}.json"


def run_one(name: str, quick: bool) -> dict[str, Any]:
    output = result_path(name, quick)
    command = [sys.executable, "-m", f"bench.{name}", "--output", str(output)]
    if quick:
        command.append("--quick")
    print(f"\n##### {' '.join(command[1:])}", flush=True)
    started = time.perf_counter()
    code = subprocess.run(command, check=False).returncode
    seconds = round(time.perf_counter() - started, 1)
    results = json.loads(output.read_text(encoding="utf-8")) if output.exists() else None
    return {"exit_code": code, "seconds": seconds, "results": results}


def headline_rows(runs: dict[str, dict[str, Any]]) -> list[list[object]]:
    """(benchmark, measure, value, target, verdict) rows."""
    rows: list[list[object]] = []
    sync = (runs.get("sync_cost") or {}).get("results")
    if sync:
        for r in sync["runs"]:
            rows.append(
                [
                    "sync_cost",
                    f"{r['dataset']}: backfill",
                    f"{r['backfill']['wall_seconds']:.1f} s, {r['backfill']['graphql_points']:,} points",
                    f"points of item queries {r['cost']['item_queries']:,} ≤ 1.2·⌈N/100⌉·2+10"
                    f" = {r['cost']['bound']:,}",
                    "met" if r["cost"]["within_bound"] else "missed",
                ]
            )
            poll = r["unchanged_poll"]
            rows.append(
                [
                    "sync_cost",
                    f"{r['dataset']}: unchanged poll",
                    f"{poll['graphql_points']} points, {poll['rest_charged']} charged REST",
                    "0 points, 0 charged",
                    "met" if not (poll["graphql_points"] or poll["rest_charged"]) else "missed",
                ]
            )
    baselines = (runs.get("rest_baseline") or {}).get("results")
    for baseline in (baselines or {}).get("runs", []):
        target = baseline["target_ratio"]
        rows.append(
            [
                "rest_baseline",
                f"{baseline['dataset']}: backfill units, per-item REST / ours",
                f"{baseline['baseline']['units']:,} / {baseline['healthexporter']['units']:,} "
                f"(×{baseline['ratio']:,g}; ×{baseline['ratio_if_all_seen']:,g} had search "
                "shown every item)",
                f"≥ {target:.0f}×" if target else "-",
                "-" if target is None else "met" if baseline["target_met"] else "missed",
            ]
        )
    scrape = (runs.get("scrape") or {}).get("results")
    if scrape:
        targets = {t["target"]: t for t in scrape["targets"]}
        for c in scrape["comparisons"]:
            if c["connections"] != 32:
                continue
            target = next(
                (t for name, t in targets.items() if f"{c['size']:,} series" in name), None
            )
            rows.append(
                [
                    "scrape",
                    f"{c['series']:,} series, 32 scrapers: p99 ours / client_python",
                    f"{c['healthexporter']['p99_ms']:.2f} / {_theirs(c)} ms "
                    f"(×{'≥ ' if c.get('lower_bound') else ''}{c['p99_ratio']:,g})",
                    target["target"].split(" at ")[0] if target else "-",
                    target["verdict"] if target else "-",
                ]
            )
    compute = (runs.get("compute") or {}).get("results")
    if compute:
        for t in compute["targets"]:
            rows.append(["compute", t["target"], t["measured"], "", t["verdict"]])
    return rows


def _theirs(comparison: dict[str, Any]) -> str:
    p99 = comparison["client_python"]["p99_ms"]
    if p99 is None:  # no scrape completed within the run
        return f"> {comparison['client_python']['seconds_run'] * 1000:,.0f}"
    return f"{p99:,.1f}"


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.run", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--quick", action="store_true", help="every benchmark's --quick")
    parser.add_argument(
        "--only", action="append", choices=BENCHMARKS, help="run only this benchmark (repeatable)"
    )
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    started = time.perf_counter()
    runs: dict[str, dict[str, Any]] = {}
    for name in BENCHMARKS:
        if args.only and name not in args.only:
            continue
        runs[name] = run_one(name, args.quick)
    combined = {
        "mode": "quick" if args.quick else "full",
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "total_seconds": round(time.perf_counter() - started, 1),
        "benchmarks": runs,
    }
    combined["headlines"] = headline_rows(runs)
    output = RESULTS / "all.json"  # the latest run, quick or full ("mode" says which)
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(combined, indent=2) + "\n", encoding="utf-8")
    print("\n##### all benchmarks\n")
    print(table(["benchmark", "measure", "value", "target", "verdict"], combined["headlines"]))
    for name, run in runs.items():
        print(f"{name}: exit {run['exit_code']}, {run['seconds']:.0f} s")
    print(f"\n{combined['mode']} run: {combined['total_seconds']:.0f} s; results in {output}")
    return max((run["exit_code"] for run in runs.values()), default=0)


if __name__ == "__main__":
    sys.exit(main())
