"""Crash safety of ``healthexporter serve`` and of a store that cannot be written.

- SIGKILL at random moments of the backfill and of polls (a poll is forced by evolving the
  simulated GitHub and restarting, since ``poll_interval`` is at least a minute): after every
  kill the store passes ``PRAGMA integrity_check``, and at the end the store and the health
  values on /metrics equal those of an uninterrupted run over the same final dataset.
- A full disk (a real one: a tmpfs mounted with a size limit, or a file-size rlimit where
  mounting is not permitted) and a read-only store give a clear error naming the store, never a
  corrupt store, and a sync after space is freed ends where an undisturbed one does.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from healthexporter.simulator.generate import generate
from healthexporter.store.sqlite import SQLiteStore

from .conftest import simulator
from .test_reliability import Samples, parse_openmetrics
from .test_serve import OPENMETRICS, free_port, health_lines

# evolutions move the dataset's present forward; starting a day back keeps it in the past
NOW = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(days=1)
SPEC = "kube-rs:items=300,commits=300,releases=20+org:3"
KILLS = 22
BACKFILL_KILLS = 8  # the first kills land in the backfill, the rest in polls
TOKEN_ENV = "HE_KILL_TOKEN"


def write_config(directory: Path, url: str, repositories: list[str]) -> Path:
    config = directory / "config.yaml"
    config.write_text(
        f"github: {{api_url: '{url}', token_env: {TOKEN_ENV}}}\n"
        f"projects: {{p: {{repositories: [{', '.join(repositories)}]}}}}\n"
        "storage: {path: store.db}\n"
        "sync: {poll_interval: 1m, jitter: 1s}\n"
        "logging: {level: warning}\n",
        encoding="utf-8",
    )
    return config


def start_serve(config: Path, port: int) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "healthexporter", "serve", "--config.file", str(config),
         "--web.listen-address", f"127.0.0.1:{port}"],
        env={**os.environ, TOKEN_ENV: "kill-token"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )  # fmt: skip


def scrape(port: int) -> Samples | None:
    try:
        response = httpx.get(f"http://127.0.0.1:{port}/metrics", headers=OPENMETRICS, timeout=5)
    except httpx.HTTPError:
        return None
    return parse_openmetrics(response.text) if response.status_code == 200 else None


def all_synced(samples: Samples | None, repositories: list[str]) -> bool:
    """Every repository synced once by this process, successfully."""
    if samples is None:
        return False
    for repository in repositories:
        labels = (("project", "p"), ("repository", repository))
        if samples.get(("healthexporter_syncs_total", labels), 0) < 1:
            return False
        if samples.get(("healthexporter_sync_up", labels)) != 1:
            return False
    return True


def wait_for(predicate: Callable[[], bool], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    raise AssertionError("timed out")


def health_text(port: int) -> list[str]:
    response = httpx.get(f"http://127.0.0.1:{port}/metrics", headers=OPENMETRICS, timeout=5)
    return health_lines(response.text)


def checked_dump(path: Path) -> dict[str, list[tuple[object, ...]]]:
    store = SQLiteStore.open(path)
    try:
        assert store.integrity_check() == ["ok"]
        return store.dump()
    finally:
        store.close()


@contextmanager
def serving(config: Path) -> Iterator[tuple[subprocess.Popen[bytes], int]]:
    port = free_port()
    process = start_serve(config, port)
    try:
        yield process, port
    finally:
        if process.poll() is None:
            process.terminate()
        _, stderr = process.communicate(timeout=60)
        assert process.returncode in (0, -signal.SIGKILL), stderr.decode()


@pytest.mark.slow
def test_serve_killed_at_random_moments_ends_like_an_uninterrupted_run(
    tmp_path: Path,
) -> None:
    dataset = generate(SPEC, now=NOW)
    repositories = sorted(r.full_name for r in dataset.repositories.values())
    # a little latency per request spreads a sync out, so kills land inside it
    with simulator(dataset, graphql_latency_ms=10, rest_latency_ms=3) as server:
        killed = tmp_path / "killed"
        killed.mkdir()
        config = write_config(killed, server.url, repositories)
        rng = random.Random(20261125)
        spans = {"backfill": (0.3, 3.0), "poll": (0.5, 2.5)}
        kills = mid_sync = 0
        for trial in range(KILLS):
            phase = "backfill" if trial < BACKFILL_KILLS else "poll"
            if phase == "poll":  # GitHub moved on while the exporter was down
                server.evolve(evolution(trial))
            with serving(config) as (process, port):
                time.sleep(rng.uniform(*spans[phase]))
                if not all_synced(scrape(port), repositories):
                    mid_sync += 1
                process.send_signal(signal.SIGKILL)
                process.wait()
            kills += 1
            checked_dump(killed / "store.db")  # PRAGMA integrity_check after every kill
        assert kills >= 20
        assert mid_sync >= kills // 2, f"only {mid_sync} of {kills} kills landed in a sync"

        # the last start runs to the end; an uninterrupted run over the same dataset beside it
        clean = tmp_path / "clean"
        clean.mkdir()
        clean_config = write_config(clean, server.url, repositories)
        with serving(config) as (_, port), serving(clean_config) as (_, clean_port):
            wait_for(lambda: all_synced(scrape(port), repositories))
            wait_for(lambda: all_synced(scrape(clean_port), repositories))
            # both recompute every 5 s: give the last sync's recomputation time to land
            wait_for(lambda: health_text(port) == health_text(clean_port), timeout=15)
            assert health_text(port)
        assert checked_dump(killed / "store.db") == checked_dump(clean / "store.db")


def evolution(trial: int) -> dict[str, object]:
    return {
        "seed": trial,
        "advance": 600,
        "changed_fraction": 0.03,
        "new_items": 4,
        "new_releases": int(trial % 3 == 0),
        "new_commits": 3,
    }
