"""Crash safety: ``healthexporter sync`` killed with SIGKILL at random moments of a backfill
resumes and ends with a store identical to an uninterrupted run."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from healthexporter.simulator.generate import generate
from healthexporter.store.sqlite import SQLiteStore

from .conftest import simulator

KILLS = 12  # kills that land while a sync is running
SPEC = "kube-rs:items=900,commits=900,releases=60"


def write_config(directory: Path, url: str) -> Path:
    config = directory / "healthexporter.yaml"
    config.write_text(
        "github:\n"
        f"  api_url: {url}\n"
        "  token_env: HEALTHEXPORTER_TEST_TOKEN\n"
        "projects:\n"
        "  kube-rs:\n"
        "    repositories: [kube-rs/kube]\n"
        "storage:\n"
        "  path: store.db\n"
        "logging:\n"
        "  level: warning\n",
        encoding="utf-8",
    )
    return config


def start_sync(config: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "HEALTHEXPORTER_TEST_TOKEN": "kill-test-token"}
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "healthexporter",
            "sync",
            "--config.file",
            str(config),
            "--output",
            "json",
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def run_sync(config: Path) -> float:
    started = time.monotonic()
    process = start_sync(config)
    _, stderr = process.communicate(timeout=300)
    assert process.returncode == 0, stderr.decode()
    return time.monotonic() - started


def dump(path: Path) -> dict[str, list[tuple[object, ...]]]:
    store = SQLiteStore.open(path)
    try:
        assert store.integrity_check() == ["ok"]
        return store.dump()
    finally:
        store.close()


@pytest.mark.slow
def test_sigkill_at_random_moments_then_resume(tmp_path: Path) -> None:
    dataset = generate(SPEC)
    # a little latency per request spreads the backfill out so kills land in every phase
    with simulator(dataset, graphql_latency_ms=15, rest_latency_ms=5) as server:
        reference_dir = tmp_path / "reference"
        reference_dir.mkdir()
        duration = run_sync(write_config(reference_dir, server.url))
        reference = dump(reference_dir / "store.db")
        assert len(reference["items"]) == sum(len(r.items) for r in dataset.repositories.values())

        rng = random.Random(20261125)
        killed_mid_sync = 0
        # bounded: at most 3 × KILLS tries to land KILLS kills while a sync is running
        for trial in range(3 * KILLS):
            if killed_mid_sync == KILLS:
                break
            trial_dir = tmp_path / f"trial{trial}"
            trial_dir.mkdir()
            config = write_config(trial_dir, server.url)
            process = start_sync(config)
            time.sleep(rng.uniform(0.1, 0.85 * duration))
            if process.poll() is None:
                killed_mid_sync += 1
            process.send_signal(signal.SIGKILL)
            process.communicate(timeout=30)
            run_sync(config)  # resume
            assert dump(trial_dir / "store.db") == reference, f"trial {trial}"
        assert killed_mid_sync == KILLS
