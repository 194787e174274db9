"""The ``healthexporter`` command: parse arguments, load the configuration, wire, run.

Flags follow the Prometheus exporters' style (``--config.file``). Exit codes: 0 success;
1 a repository failed to sync; 2 bad configuration or usage (with one message per problem
and no traceback).
"""

from __future__ import annotations

import argparse
import json
import socket
import sys
from collections.abc import Sequence
from dataclasses import asdict
from typing import TYPE_CHECKING, TextIO

from healthexporter import __version__
from healthexporter.config import Config, load_config
from healthexporter.errors import ConfigError, GitHubError, StoreError
from healthexporter.model import SyncReport
from healthexporter.progress import Progress

if TYPE_CHECKING:
    from healthexporter.sharding import Shard
    from healthexporter.store.sqlite import SQLiteStore

EXIT_OK, EXIT_FAILED, EXIT_CONFIG = 0, 1, 2
PROFILE_BATCH = 1000  # sync.fetch_profiles' default limit


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="healthexporter",
        description="Project-health metrics from GitHub, served as OpenMetrics for Prometheus.",
    )
    parser.add_argument("--version", action="version", version=f"healthexporter {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def with_config(name: str, help_text: str) -> argparse.ArgumentParser:
        command = commands.add_parser(name, help=help_text, description=help_text)
        command.add_argument(
            "--config.file",
            dest="config_file",
            required=True,
            metavar="FILE",
            help="YAML configuration",
        )
        return command

    def with_shards(command: argparse.ArgumentParser) -> None:
        command.add_argument(
            "--shard", type=int, metavar="I", help="this instance's shard (0-based)"
        )
        command.add_argument(
            "--total-shards", type=int, metavar="N",
            help="number of shards; without --shard, the shard is the StatefulSet pod ordinal",
        )  # fmt: skip

    sync = with_config("sync", "Sync every configured repository once and print a summary.")
    sync.add_argument("--output", choices=("text", "json"), default="text")
    with_shards(sync)
    with_config("check-config", "Validate the configuration; print every problem.")
    serve = with_config("serve", "Poll GitHub on a schedule and serve /metrics.")
    serve.add_argument(
        "--web.listen-address",
        dest="listen_address",
        metavar="HOST:PORT",
        help="overrides web.listen_address (default :9935)",
    )
    serve.add_argument(
        "--web.config.file",
        dest="web_config_file",
        metavar="FILE",
        help="exporter-toolkit web configuration (TLS, basic auth)",
    )
    with_shards(serve)
    report = with_config("report", "Print the health numbers from the store (no GitHub calls).")
    report.add_argument("--format", choices=("table", "json", "markdown"), default="table")
    report.add_argument(
        "--window", help="window for table and markdown (default: the first configured)"
    )
    history = with_config(
        "history", "Write past days' metrics as OpenMetrics for promtool to import."
    )
    history.add_argument("--since", required=True, metavar="YYYY-MM-DD", help="first day (UTC)")
    history.add_argument("--until", metavar="YYYY-MM-DD", help="last day (default: today)")
    history.add_argument("--step", default="1d", help="time between points (default 1d)")
    history.add_argument(
        "--output", required=True, metavar="FILE", help="OpenMetrics file to write"
    )
    history.add_argument(
        "--label", action="append", default=[], metavar="NAME=VALUE",
        help="add a label to every series (e.g. job=healthexporter, as a scrape would)",
    )  # fmt: skip
    explain = with_config("explain", "Show how one item's first response was derived.")
    explain.add_argument("item", metavar="OWNER/REPO#N")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        config = load_config(args.config_file)
    except ConfigError as error:
        for problem in error.problems:
            print(f"healthexporter: {problem}", file=sys.stderr)
        return EXIT_CONFIG
    if args.command == "check-config":
        if config.web.config_file is not None:
            from healthexporter.web_config import load_web_config

            try:
                load_web_config(config.web.config_file)
            except ConfigError as error:
                for problem in error.problems:
                    print(f"healthexporter: {problem}", file=sys.stderr)
                return EXIT_CONFIG
        print(f"{args.config_file}: ok ({len(config.projects)} projects)")
        return EXIT_OK
    if args.command in ("sync", "serve"):
        from healthexporter.sharding import resolve_shard

        try:
            shard = resolve_shard(args.shard, args.total_shards, socket.gethostname())
        except ValueError as error:
            print(f"healthexporter: {error}", file=sys.stderr)
            return EXIT_CONFIG
        if args.command == "sync":
            return _sync(config, args.output, sys.stdout, shard)
        from healthexporter.serve import serve

        return serve(
            config,
            listen_address=args.listen_address,
            web_config_file=args.web_config_file,
            shard=shard,
        )
    if args.command == "report":
        return _report(config, args.format, args.window, sys.stdout)
    if args.command == "history":
        return _history(config, args)
    if args.command == "explain":
        return _explain(config, args.item, sys.stdout)
    raise AssertionError(args.command)  # argparse refuses unknown commands


def _sync(config: Config, output: str, out: TextIO, shard: Shard) -> int:
    from healthexporter import runtime

    runtime.setup_logging(config.logging.level, config.logging.format)
    try:
        rt = runtime.build(config, progress=Progress())
    except StoreError as error:
        print(f"healthexporter: {error}", file=sys.stderr)
        return EXIT_CONFIG
    try:
        repositories, orgs = runtime.targets(config, shard)
        targets, failures = rt.syncer.targets(repositories, orgs)
        reports = failures + rt.syncer.sync_all(targets)
        users = 0
        profile_error: str | None = None
        if any(r.ok for r in reports):
            # profiles come 1,000 per call (10 requests); a first backfill may need many
            try:
                for _ in range(200):
                    fetched, _, _ = rt.syncer.sync_profiles()
                    users += fetched
                    if fetched < PROFILE_BATCH:
                        break
            except (GitHubError, StoreError) as error:  # the repositories' data is stored
                profile_error = str(error)
    finally:
        rt.close()
    if output == "json":
        summary = {"repositories": [asdict(r) for r in reports], "profiles": users}
        json.dump({**summary, "profiles_error": profile_error}, out, indent=2)
        out.write("\n")
    else:
        _print_table(reports, users, out)
        if profile_error is not None:
            out.write(f"profiles: {profile_error}\n")
    ok = all(r.ok for r in reports) and profile_error is None
    return EXIT_OK if ok else EXIT_FAILED


def _open_store(config: Config) -> SQLiteStore | None:
    from healthexporter.store.sqlite import SQLiteStore

    try:
        return SQLiteStore.open(config.storage.path)
    except StoreError as error:
        print(f"healthexporter: {error}", file=sys.stderr)
        return None


def _report(config: Config, fmt: str, window: str | None, out: TextIO) -> int:
    from healthexporter import report, runtime
    from healthexporter.collector import Collector

    windows = [w.name for w in config.health.windows]
    if window is not None and window not in windows:
        print(
            f"healthexporter: --window {window}: not a configured window ({', '.join(windows)})",
            file=sys.stderr,
        )
        return EXIT_CONFIG
    store = _open_store(config)
    if store is None:
        return EXIT_CONFIG
    try:
        known = runtime.known_targets(config, store)
        collector = Collector(
            store,
            runtime.HealthSettingsFactory(config, store),
            targets=lambda: [(t.project, t.repository) for t in known],
        )
        snapshot = collector.refresh()
    finally:
        store.close()
    if fmt == "json":
        out.write(report.as_json(snapshot))
    elif fmt == "markdown":
        out.write(report.as_markdown(snapshot, window or windows[0]))
    else:
        out.write(report.as_table(snapshot, window or windows[0]))
    return EXIT_OK


def _history(config: Config, args: argparse.Namespace) -> int:
    from pathlib import Path

    from healthexporter import history

    try:
        since = history.parse_date(args.since)
        until = history.parse_date(args.until) if args.until else None
        step = history.parse_step(args.step)
        labels = history.parse_labels(args.label)
    except ValueError as error:
        print(f"healthexporter: {error}", file=sys.stderr)
        return EXIT_CONFIG
    return history.run_history(config, since, until, step, Path(args.output), labels=labels)


def _explain(config: Config, ref: str, out: TextIO) -> int:
    from healthexporter import runtime
    from healthexporter.explain import explain

    repository, _, number = ref.partition("#")
    if "/" not in repository or not number.isdigit():
        print(f"healthexporter: {ref!r} is not OWNER/REPO#NUMBER", file=sys.stderr)
        return EXIT_CONFIG
    store = _open_store(config)
    if store is None:
        return EXIT_CONFIG
    try:
        item = store.item(repository, int(number))
        factory = runtime.HealthSettingsFactory(config, store)
    finally:
        store.close()
    if item is None:
        print(
            f"healthexporter: {ref} is not in the store (is the repository configured and synced?)",
            file=sys.stderr,
        )
        return EXIT_FAILED
    out.write(explain(item, factory.policy, factory.is_bot))
    return EXIT_OK


def _print_table(reports: Sequence[SyncReport], users: int, out: TextIO) -> None:
    header = (
        "repository",
        "items",
        "releases",
        "commits",
        "requests",
        "points",
        "seconds",
        "result",
    )
    rows = [
        (
            r.repository,
            str(r.items),
            str(r.releases),
            str(r.commits),
            str(r.requests),
            str(r.points),
            f"{r.duration_seconds:.1f}",
            "ok" if r.ok else f"{r.error_reason}: {'; '.join(r.errors)}",
        )
        for r in reports
    ]
    widths = [max(len(h), *(len(row[i]) for row in rows)) for i, h in enumerate(header[:-1])]
    for row in [header, *rows]:
        cells = [
            cell.ljust(w) if i == 0 else cell.rjust(w)
            for i, (cell, w) in enumerate(zip(row, widths, strict=False))
        ]
        out.write("  ".join(cells) + "  " + row[-1] + "\n")
    out.write(f"profiles fetched: {users}\n")


if __name__ == "__main__":
    sys.exit(main())
