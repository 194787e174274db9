"""Shared fixtures: a simulated GitHub on loopback and an exporter wired to it."""

from __future__ import annotations

from collections.abc import Iterator
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
