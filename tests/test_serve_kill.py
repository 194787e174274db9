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

import json
import os
import random
import resource
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from healthexporter.simulator.generate import generate
from healthexporter.store.sqlite import SQLiteStore

from .conftest import free_port, simulator
from .test_reliability import Samples, parse_openmetrics, small_filesystem
from .test_serve import OPENMETRICS, health_lines

# evolutions move the dataset's present forward; starting a day back keeps it in the past
NOW = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(days=1)
SPEC = "kube-rs:items=300,commits=300,releases=20+org:3"
KILLS = 21
BACKFILL_KILLS = 7  # the first kills land in the backfill, the rest in polls
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
        spans = {"backfill": (0.3, 2.5), "poll": (0.4, 1.8)}
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
            # both recompute every 5 s, and each fetches profiles a minute after it starts
            # (organizations change then): under load, give both time to land
            wait_for(lambda: health_text(port) == health_text(clean_port), timeout=90)
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


# --- a full disk and a read-only store ------------------------------------------------------
SMALL = "small+org:4"


def run_cli(command: str, config: Path, **kwargs: Any) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "healthexporter", command, "--config.file", str(config),
         *(["--output", "json"] if command == "sync" else [])],
        env={**os.environ, TOKEN_ENV: "kill-token"},
        capture_output=True, text=True, timeout=120, check=False, **kwargs,
    )  # fmt: skip


def file_size_limit(limit: int) -> Callable[[], None]:
    def apply() -> None:  # in the child, before exec: writes past `limit` bytes fail (EFBIG)
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    return apply


@pytest.mark.parametrize("how", ["tmpfs", "file-size-limit"])
def test_disk_full_is_a_clear_error_and_the_next_sync_recovers(tmp_path: Path, how: str) -> None:
    dataset = generate(SMALL, now=NOW)
    repositories = sorted(r.full_name for r in dataset.repositories.values())
    with simulator(dataset) as server:
        reference = tmp_path / "reference"
        reference.mkdir()
        assert run_cli("sync", write_config(reference, server.url, repositories)).returncode == 0
        room = (reference / "store.db").stat().st_size // 2

        with ExitStack() as stack:
            if how == "tmpfs":  # a real small disk
                full = stack.enter_context(small_filesystem(tmp_path / "full", room))
                limited: dict[str, Any] = {}
            else:  # where mounting is not permitted: the kernel's per-process file-size limit
                full = tmp_path / "full"
                full.mkdir()
                limited = {"preexec_fn": file_size_limit(room)}
            config = write_config(full, server.url, repositories)
            store = full / "store.db"
            result = run_cli("sync", config, **limited)
            assert result.returncode == 1, result.stderr
            reports = json.loads(result.stdout)["repositories"]
            assert len(reports) == len(repositories)  # it ran to the end and said what happened
            failed = [r for r in reports if not r["ok"]]
            assert failed
            for report in failed:
                assert report["error_reason"] == "store"
                [error] = report["errors"]
                assert str(store) in error
                assert "database or disk is full" in error or "disk I/O error" in error

            if how == "tmpfs":  # serve on the full disk keeps running, serves what is stored
                serve_on_a_full_disk(config)

            # space freed: the store is intact and the next sync ends where a clean one did
            if how == "tmpfs":
                subprocess.run(["mount", "-o", "remount,size=64m", str(full)], check=True)
            assert checked_dump(store)  # integrity_check
            result = run_cli("sync", config)
            assert result.returncode == 0, result.stdout + result.stderr
            assert checked_dump(store) == checked_dump(reference / "store.db")


def serve_on_a_full_disk(config: Path) -> None:
    """Its first syncs fail with reason store; it keeps serving the stored values."""
    with serving(config) as (process, port):

        def store_errors() -> bool:
            samples = scrape(port)
            return samples is not None and any(
                name == "healthexporter_sync_errors_total" and ("reason", "store") in labels
                for name, labels in samples
            )

        wait_for(store_errors, timeout=30)
        assert process.poll() is None
        assert httpx.get(f"http://127.0.0.1:{port}/-/healthy", timeout=5).status_code == 200
        assert health_text(port)


def test_read_only_store_is_a_clear_error(tmp_path: Path) -> None:
    dataset = generate(SMALL, now=NOW)
    repositories = sorted(r.full_name for r in dataset.repositories.values())
    with simulator(dataset) as server, ExitStack() as stack:
        if os.geteuid() == 0:  # root writes through permissions: a read-only filesystem
            directory = stack.enter_context(small_filesystem(tmp_path / "ro", 16 * 1024 * 1024))
        else:
            directory = tmp_path / "ro"
            directory.mkdir()
        config = write_config(directory, server.url, repositories)
        assert run_cli("sync", config).returncode == 0
        store = directory / "store.db"
        before = checked_dump(store)
        if os.geteuid() == 0:
            subprocess.run(["mount", "-o", "remount,ro", str(directory)], check=True)
        else:
            store.chmod(0o444)
            directory.chmod(0o555)
        try:
            for command in ("sync", "serve"):
                result = run_cli(command, config)
                assert result.returncode == 2, (command, result.stdout, result.stderr)
                assert f"cannot open store {store}" in result.stderr, result.stderr
                assert "Traceback" not in result.stderr
        finally:
            if os.geteuid() == 0:
                subprocess.run(["mount", "-o", "remount,rw", str(directory)], check=True)
            else:
                directory.chmod(0o755)
                store.chmod(0o644)
        assert checked_dump(store) == before
