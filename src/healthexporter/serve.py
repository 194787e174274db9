"""``healthexporter serve``: wire the store, the collector, the poller and the web server, and
run until SIGTERM or SIGINT.

Start-up order matters: the metrics are computed from the store *before* anything is fetched,
so after a restart the first scrape already has every number and no GitHub request was needed
for it; polling starts afterwards.
"""

from __future__ import annotations

import logging
import signal
import threading
from types import FrameType

from healthexporter import __version__, runtime
from healthexporter.collector import Collector
from healthexporter.config import Config
from healthexporter.errors import ConfigError, StoreError
from healthexporter.scheduler import Poller
from healthexporter.sharding import Shard
from healthexporter.web import LandingStatus, WebServer
from healthexporter.web_config import WebConfig, load_web_config

log = logging.getLogger("healthexporter")

EXIT_OK, EXIT_CONFIG = 0, 2


def serve(
    config: Config,
    *,
    listen_address: str | None = None,
    web_config_file: str | None = None,
    stop: threading.Event | None = None,
    shard: Shard | None = None,
) -> int:
    shard = shard or Shard()
    runtime.setup_logging(config.logging.level, config.logging.format)
    web_config: WebConfig | None = None
    web_config_path = web_config_file or config.web.config_file
    try:
        if web_config_path is not None:
            web_config = load_web_config(web_config_path)
        built = runtime.build(config)
    except (ConfigError, StoreError) as error:
        problems = error.problems if isinstance(error, ConfigError) else [str(error)]
        for problem in problems:
            log.error("%s", problem)
        return EXIT_CONFIG
    repositories, orgs = runtime.targets(config, shard)
    poller: Poller | None = None

    def targets() -> list[tuple[str, str]]:
        return poller.targets() if poller is not None else []

    collector = Collector(
        built.store,
        runtime.HealthSettingsFactory(config, built.store),
        targets=targets,
        usage=lambda: runtime.github_usage(built.client),
        shard=shard.index,
        total_shards=shard.total,
    )
    poller = Poller(
        built.syncer,
        collector,
        repositories=repositories,
        orgs=orgs,
        poll_interval=config.sync.poll_interval,
        jitter=config.sync.jitter,
        workers=config.github.max_concurrency,
    )
    poller.seed(runtime.known_targets(config, built.store, shard))
    if shard.total > 1:
        log.info("shard %d of %d: %d repositories", shard.index, shard.total, len(poller.targets()))
    collector.refresh()  # from the store, before any GitHub request

    def landing() -> LandingStatus:
        status = collector.status()
        snapshot = collector.snapshot()
        return LandingStatus.from_exporter_status(
            status, snapshot.computed_at if snapshot else None
        )

    web = WebServer(
        listen_address or config.web.listen_address,
        exposition=collector.exposition,
        status=landing,
        ready=lambda: collector.exposition() is not None,
        web_config=web_config,
    )
    try:
        web.start()
    except OSError as error:
        log.error("cannot listen on %s: %s", listen_address or config.web.listen_address, error)
        built.close()
        return EXIT_CONFIG
    log.info("healthexporter %s serving %s on %s", __version__, "/metrics", web.url)
    poller.start()

    stopping = stop or threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        log.info("received %s, stopping", signal.Signals(signum).name)
        stopping.set()

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, on_signal)
        signal.signal(signal.SIGINT, on_signal)
    stopping.wait()
    poller.stop()
    web.stop()
    built.close()
    return EXIT_OK
