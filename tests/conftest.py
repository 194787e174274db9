"""Shared fixtures: a simulated GitHub on loopback and an exporter wired to it."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from healthexporter.bots import BotMatcher
from healthexporter.clock import Clock, FakeClock
from healthexporter.github.auth import StaticToken
from healthexporter.github.client import GitHubClient
from healthexporter.simulator.dataset import Dataset
from healthexporter.simulator.server import SimulatorServer
from healthexporter.store.sqlite import SQLiteStore
from healthexporter.sync import Syncer, SyncSettings, Target


def free_port() -> int:
    """A free TCP port on 127.0.0.1 (tests bind to loopback only)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def write_serve_config(
    directory: Path,
    api_url: str,
    projects: Mapping[str, Sequence[str]],
    *,
    token_env: str,
    log_level: str = "warning",
) -> Path:
    """A configuration for ``serve`` against the simulator that syncs once: the poll interval
    is long, so every scrape during a test serves the same numbers."""
    listed = "".join(
        f"  {name}: {{repositories: [{', '.join(repos)}]}}\n" for name, repos in projects.items()
    )
    path = directory / "config.yaml"
    path.write_text(
        f"github: {{api_url: '{api_url}', token_env: {token_env}, max_retries: 0}}\n"
        f"projects:\n{listed}"
        f"storage: {{path: '{directory / 'store.db'}'}}\n"
        "sync: {poll_interval: 1h, jitter: 1s}\n"
        f"logging: {{level: {log_level}}}\n",
        encoding="utf-8",
    )
    return path


def run_serve(config: Path, port: int) -> tuple[threading.Thread, threading.Event]:
    """``serve`` in a thread on 127.0.0.1:port; set the event and join the thread to stop it."""
    from healthexporter.config import load_config
    from healthexporter.serve import serve

    stop = threading.Event()
    thread = threading.Thread(
        target=serve,
        args=(load_config(config),),
        kwargs={"listen_address": f"127.0.0.1:{port}", "stop": stop},
    )
    thread.start()
    return thread, stop


@dataclass
class Exporter:
    """The exporter's data path (client → sync → store) pointed at a simulator."""

    client: GitHubClient
    store: SQLiteStore
    syncer: Syncer
    clock: Clock

    def sync(self, *targets: Target) -> list[Any]:
        return self.syncer.sync_all(list(targets))


@contextmanager
def exporter_for(
    server: SimulatorServer,
    store_path: Path | str = ":memory:",
    *,
    settings: SyncSettings | None = None,
    clock: Clock | None = None,
    max_retries: int = 5,
) -> Iterator[Exporter]:
    # The client's waits (Retry-After, backoff) go through a fake clock: tests never sleep.
    clock = clock or FakeClock()
    client = GitHubClient(
        api_url=server.url,
        tokens=StaticToken("test-token"),
        clock=clock,
        max_retries=max_retries,
        reserve={"graphql": 0, "core": 0},
    )
    store = SQLiteStore.open(store_path)
    syncer = Syncer(client, store, BotMatcher(), settings, clock=clock, max_workers=4)
    try:
        yield Exporter(client, store, syncer, clock)
    finally:
        client.close()
        store.close()


@contextmanager
def simulator(dataset: Dataset, **kwargs: Any) -> Iterator[SimulatorServer]:
    server = SimulatorServer(dataset, **kwargs).start()
    try:
        yield server
    finally:
        server.stop()
