"""Wiring: build the client, store and syncer a configuration describes.

The CLI (and later the scheduler) only wire parts together; this is the one place that knows
how a ``Config`` maps onto constructors, so ``sync`` and ``serve`` cannot drift apart.
"""

from __future__ import annotations

import json
import logging
import sys
from dataclasses import dataclass

from healthexporter.bots import BotMatcher
from healthexporter.clock import Clock, SystemClock
from healthexporter.config import Config
from healthexporter.github.auth import AppInstallationToken, EnvToken, FileToken, TokenProvider
from healthexporter.github.client import GitHubClient
from healthexporter.progress import Progress
from healthexporter.store.sqlite import SQLiteStore
from healthexporter.sync import OrgSelection, Syncer, SyncSettings, Target


def token_provider(config: Config, clock: Clock) -> TokenProvider:
    github = config.github
    if github.app is not None:
        return AppInstallationToken(
            github.app.id,
            github.app.installation_id,
            github.app.private_key_file,
            api_url=github.api_url,
            clock=clock,
        )
    if github.token_file is not None:
        return FileToken(github.token_file)
    assert github.token_env is not None
    return EnvToken(github.token_env)


def github_client(config: Config, clock: Clock) -> GitHubClient:
    github = config.github
    return GitHubClient(
        api_url=github.api_url,
        graphql_url=github.graphql_url,
        tokens=token_provider(config, clock),
        clock=clock,
        max_concurrency=github.max_concurrency,
        reserve=github.reserve.as_dict(),
        max_retries=github.max_retries,
        timeout=github.timeout.total_seconds(),
        max_wait_seconds=github.max_wait.total_seconds(),
    )


def sync_settings(config: Config) -> SyncSettings:
    sync = config.sync
    maintainers = {m.lower() for p in config.projects.values() for m in p.maintainers}
    return SyncSettings(
        page_size=sync.page_size,
        timeline_page_size=sync.timeline_page_size,
        overlap=sync.overlap,
        reconcile_interval=sync.reconcile_interval,
        profile_refresh=sync.profile_refresh,
        maintainers=frozenset(maintainers),
    )


def targets(config: Config) -> tuple[list[Target], list[tuple[str, OrgSelection]]]:
    repositories = [Target(project, repo) for project, repo in config.repositories()]
    orgs = [
        (project, OrgSelection(org.name, org.include, org.exclude, org.archived, org.forks))
        for project, org in config.orgs()
    ]
    return repositories, orgs


@dataclass
class Runtime:
    config: Config
    client: GitHubClient
    store: SQLiteStore
    syncer: Syncer

    def close(self) -> None:
        self.client.close()
        self.store.close()


def build(
    config: Config, *, clock: Clock | None = None, progress: Progress | None = None
) -> Runtime:
    clock = clock or SystemClock()
    store = SQLiteStore.open(config.storage.path)
    client = github_client(config, clock)
    syncer = Syncer(
        client,
        store,
        BotMatcher.from_config(config.bots),
        sync_settings(config),
        clock=clock,
        progress=progress,
        max_workers=config.github.max_concurrency,
    )
    return Runtime(config, client, store, syncer)


class JsonFormatter(logging.Formatter):
    """One JSON object per line, for log collectors."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S%z"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


def setup_logging(level: str, fmt: str) -> None:
    handler = logging.StreamHandler(sys.stderr)
    if fmt == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # PyGithub installs its own handler on import and logs response bodies at debug level;
    # route it through ours and keep it quiet.
    github_logger = logging.getLogger("github")
    github_logger.handlers[:] = []
    github_logger.setLevel(logging.WARNING)
    # httpx logs every request at INFO; our client logs what matters (retries, waits).
    if root.level > logging.DEBUG:
        logging.getLogger("httpx").setLevel(logging.WARNING)
