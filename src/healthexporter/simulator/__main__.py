"""``python -m healthexporter.simulator``: serve a simulated GitHub until SIGINT or SIGTERM.

The first line on stdout is the URL served (with the bound port when ``--port 0``), so scripts
and tests can start it and read where to connect.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from collections.abc import Sequence
from datetime import UTC, datetime
from types import FrameType

from healthexporter.simulator.dataset import Dataset
from healthexporter.simulator.faults import FaultPlan
from healthexporter.simulator.server import SimulatorServer


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m healthexporter.simulator",
        description="A simulated GitHub (REST and GraphQL) with rate limits and fault injection.",
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765, help="0 picks a free port")
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--dataset", metavar="FILE", help="a dataset JSON file")
    source.add_argument(
        "--generate",
        metavar="SPEC",
        default="small",
        help='generate a dataset: "small", "kube-rs", "kubernetes", "org:300", joined with "+"',
    )
    parser.add_argument("--seed", type=int, default=1, help="seed of --generate")
    parser.add_argument(
        "--now",
        default="2026-11-01T00:00:00Z",
        help='the present of generated data (ISO 8601), or "now" for a live-looking demo',
    )
    parser.add_argument("--latency-ms", type=float, default=0.0, help="added to every request")
    parser.add_argument("--graphql-latency-ms", type=float, default=None)
    parser.add_argument("--rest-latency-ms", type=float, default=None)
    parser.add_argument("--faults", metavar="SPEC", default="", help="see docs/simulator.md")
    parser.add_argument("--graphql-limit", type=int, default=5000, help="points per window")
    parser.add_argument("--core-limit", type=int, default=5000, help="REST requests per window")
    parser.add_argument("--window-seconds", type=float, default=3600.0)
    parser.add_argument("--primary-limit-status", type=int, choices=(403, 429), default=403)
    parser.add_argument(
        "--token",
        action="append",
        dest="tokens",
        metavar="TOKEN",
        help="accept only these tokens (repeatable); default: any non-empty token",
    )
    parser.add_argument("--save-dataset", metavar="FILE", help="write the dataset served")
    parser.add_argument("--log", metavar="FILE", help="append one JSON line per API request")
    return parser.parse_args(argv)


def load_dataset(args: argparse.Namespace) -> Dataset:
    if args.dataset:
        return Dataset.load(args.dataset)
    from healthexporter.simulator.generate import generate

    if args.now == "now":
        now = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    else:
        now = datetime.fromisoformat(args.now.replace("Z", "+00:00")).astimezone(UTC)
    return generate(args.generate, seed=args.seed, now=now)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        plan = FaultPlan.parse(args.faults)
    except ValueError as problem:
        print(f"--faults: {problem}", file=sys.stderr)
        return 2
    dataset = load_dataset(args)
    if args.save_dataset:
        dataset.save(args.save_dataset)
    server = SimulatorServer(
        dataset,
        host=args.host,
        port=args.port,
        latency_ms=args.latency_ms,
        graphql_latency_ms=args.graphql_latency_ms,
        rest_latency_ms=args.rest_latency_ms,
        faults=plan,
        limits={"graphql": args.graphql_limit, "core": args.core_limit},
        window_seconds=args.window_seconds,
        tokens=set(args.tokens) if args.tokens else None,
        primary_limit_status=args.primary_limit_status,
        log_path=args.log,
    )
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    with server:
        print(server.url, flush=True)
        repositories = len(dataset.repositories)
        print(
            f"serving {repositories} repositories: REST {server.url}/ and /api/v3/, "
            f"GraphQL {server.url}/graphql, stats {server.url}/_simulator/stats",
            file=sys.stderr,
            flush=True,
        )
        while not stop.wait(0.5):
            pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
