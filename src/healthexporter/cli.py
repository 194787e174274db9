"""The ``healthexporter`` command: parse arguments, load the configuration, wire, run.

Flags follow the Prometheus exporters' style (``--config.file``). Exit codes: 0 success;
1 a repository failed to sync; 2 bad configuration or usage (with one message per problem
and no traceback).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from dataclasses import asdict
from typing import TextIO

from healthexporter import __version__
from healthexporter.config import Config, load_config
from healthexporter.errors import ConfigError, StoreError
from healthexporter.model import SyncReport
from healthexporter.progress import Progress

EXIT_OK, EXIT_FAILED, EXIT_CONFIG = 0, 1, 2


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

    sync = with_config("sync", "Sync every configured repository once and print a summary.")
    sync.add_argument("--output", choices=("text", "json"), default="text")
    with_config("check-config", "Validate the configuration; print every problem.")
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
        print(f"{args.config_file}: ok ({len(config.projects)} projects)")
        return EXIT_OK
    if args.command == "sync":
        return _sync(config, args.output, sys.stdout)
    raise AssertionError(args.command)  # argparse refuses unknown commands


def _sync(config: Config, output: str, out: TextIO) -> int:
    from healthexporter import runtime

    runtime.setup_logging(config.logging.level, config.logging.format)
    try:
        rt = runtime.build(config, progress=Progress())
    except StoreError as error:
        print(f"healthexporter: {error}", file=sys.stderr)
        return EXIT_CONFIG
    try:
        repositories, orgs = runtime.targets(config)
        targets, failures = rt.syncer.targets(repositories, orgs)
        reports = failures + rt.syncer.sync_all(targets)
        if any(r.ok for r in reports):
            users, _, _ = rt.syncer.sync_profiles()
        else:
            users = 0
    finally:
        rt.close()
    if output == "json":
        json.dump({"repositories": [asdict(r) for r in reports], "profiles": users}, out, indent=2)
        out.write("\n")
    else:
        _print_table(reports, users, out)
    return EXIT_OK if all(r.ok for r in reports) else EXIT_FAILED


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
