"""Wiring: build the client, store and syncer a configuration describes.

The CLI (and later the scheduler) only wire parts together; this is the one place that knows
how a ``Config`` maps onto constructors, so ``sync`` and ``serve`` cannot drift apart.
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from healthexporter.bots import BotMatcher
from healthexporter.clock import Clock, SystemClock
from healthexporter.collector import GitHubUsage
from healthexporter.config import Config
from healthexporter.github.auth import AppInstallationToken, EnvToken, FileToken, TokenProvider
from healthexporter.github.client import GitHubClient
from healthexporter.health.affiliation import (
    AffiliationEntry,
    Affiliations,
    parse_gitdm_affiliations,
)
from healthexporter.health.first_response import Responders, ResponsePolicy
from healthexporter.health.snapshot import HealthSettings, Window
from healthexporter.model import ActivityKind, Actor, ActorKind
from healthexporter.progress import Progress
from healthexporter.sharding import Shard
from healthexporter.store import Store
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


def targets(
    config: Config, shard: Shard | None = None
) -> tuple[list[Target], list[tuple[str, OrgSelection]]]:
    """Configured repositories and orgs of the projects this shard owns."""
    shard = shard or Shard()
    repositories = [
        Target(project, repo) for project, repo in config.repositories() if shard.owns(project)
    ]
    orgs = [
        (project, OrgSelection(org.name, org.include, org.exclude, org.archived, org.forks))
        for project, org in config.orgs()
        if shard.owns(project)
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
    # APScheduler logs every job run at INFO; the poller logs each sync's outcome itself.
    if root.level > logging.DEBUG:
        logging.getLogger("httpx").setLevel(logging.WARNING)
        logging.getLogger("apscheduler").setLevel(logging.WARNING)


_RESPONSE_KINDS = {
    "comment": ActivityKind.COMMENT,
    "review": ActivityKind.REVIEW,
    "close": ActivityKind.CLOSED,
    "merge": ActivityKind.MERGED,
}


class HealthSettingsFactory:
    """Builds ``HealthSettings`` for each computation: profile companies come from the store
    (they change as profiles are fetched); affiliation files are parsed once per change of
    their modification time (CNCF's gitdm files are megabytes)."""

    def __init__(self, config: Config, store: Store) -> None:
        self._config = config
        self._store = store
        self._parsed: dict[Path, tuple[float, list[AffiliationEntry]]] = {}
        matcher = BotMatcher.from_config(config.bots)
        # One verdict per (login, kind), kept for the factory's life: a computation asks about
        # every activity's actor (over a million times for a 140,000-item repository) but a
        # repository has few distinct people, and the matcher's patterns are not free. The bot
        # configuration is read once, so a verdict never goes stale; a plain dict is safe under
        # the GIL (a race only computes the same verdict twice).
        verdicts: dict[tuple[str | None, ActorKind], bool] = {}

        def is_bot(actor: Actor) -> bool:
            key = (actor.login, actor.kind)
            verdict = verdicts.get(key)
            if verdict is None:
                verdict = verdicts[key] = matcher.is_bot(actor.login, actor.kind)
            return verdict

        self.is_bot: Callable[[Actor], bool] = is_bot
        health = config.health
        maintainers = {m.lower() for p in config.projects.values() for m in p.maintainers}
        self.policy = ResponsePolicy(
            responders=Responders(health.responders),
            maintainers=frozenset(maintainers),
            kinds=frozenset(_RESPONSE_KINDS[event] for event in health.response_events),
        )

    def _entries(self) -> list[AffiliationEntry]:
        entries: list[AffiliationEntry] = []
        for configured in self._config.affiliations.files:
            path = Path(configured)
            try:
                mtime = path.stat().st_mtime
                cached = self._parsed.get(path)
                if cached is None or cached[0] != mtime:
                    cached = (mtime, parse_gitdm_affiliations(path.read_text(encoding="utf-8")))
                    self._parsed[path] = cached
            except (OSError, ValueError) as error:
                logging.getLogger("healthexporter").error("affiliations file %s: %s", path, error)
                continue
            entries.extend(cached[1])
        return entries

    def __call__(self) -> HealthSettings:
        health = self._config.health
        profiles = {
            login: user.company for login, user in self._store.users().items() if user.company
        }
        affiliations = Affiliations(self._entries(), self._config.affiliations.overrides, profiles)
        return HealthSettings(
            windows=tuple(Window(w.name, w.duration) for w in health.windows),
            policy=self.policy,
            is_bot=self.is_bot,
            affiliation=affiliations.organization,
            good_first_issue_labels=frozenset(
                label.lower() for label in health.labels.good_first_issue
            ),
            help_wanted_labels=frozenset(label.lower() for label in health.labels.help_wanted),
            episodic_lookback=health.episodic.lookback,
            episodic_max_contributions=health.episodic.max_contributions,
            release_intervals=health.release_intervals,
        )


def github_usage(client: GitHubClient) -> GitHubUsage:
    stats = client.stats()
    return GitHubUsage(
        requests=stats.results,
        units={"graphql": stats.graphql_points, "core": stats.rest_charged},
        rate_limits=client.rate_limits(),
    )


def known_targets(config: Config, store: Store, shard: Shard | None = None) -> list[Target]:
    """Configured repositories plus those stored from earlier org expansions of configured
    projects: what ``serve`` exports at once after a restart, before asking GitHub anything."""
    shard = shard or Shard()
    configured, _ = targets(config, shard)
    stored = [
        Target(project, repo.full_name)
        for project, repo in store.repositories()
        if project in config.projects and shard.owns(project)
    ]
    unique: dict[str, Target] = {}
    for target in [*configured, *stored]:
        unique.setdefault(target.repository.lower(), target)
    return list(unique.values())
