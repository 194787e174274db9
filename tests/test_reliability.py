"""The fault matrix: every way GitHub fails, during a backfill and during polls of several
repositories, against the simulator over real HTTP.

For each fault the exporter's data path (client → sync → store → collector) must:

- keep running: ``sync_all`` returns one report per repository, whatever GitHub did;
- tell the truth on /metrics: ``healthexporter_sync_up`` is 0 exactly for the repositories
  whose sync failed, ``healthexporter_sync_errors_total{reason}`` counts those failures by
  reason, and every repository's health series are still served (unchanged when its failed
  sync stored nothing);
- wait as GitHub says: ``Retry-After`` exactly, an exhausted primary limit until its reset
  (the simulator's rate-limit windows run on the same fake clock as the client, so "until the
  reset" is real and no test sleeps);
- once the fault clears, end with a store (``dump()``) and health values identical to a
  fault-free run over the same dataset.

Requests are made one repository at a time (``max_workers=1``), so which request a fault hits
is the same on every run. Docs: docs/reliability.md.
"""

from __future__ import annotations

import errno
import functools
import json
import re
import subprocess
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from healthexporter.bots import BotMatcher
from healthexporter.cli import main
from healthexporter.clock import FakeClock
from healthexporter.collector import Collector
from healthexporter.github.auth import FileToken, StaticToken, TokenProvider
from healthexporter.github.client import GitHubClient
from healthexporter.health.snapshot import HealthSettings, Window
from healthexporter.model import SyncReport
from healthexporter.runtime import github_usage
from healthexporter.simulator.dataset import Dataset
from healthexporter.simulator.evolve import evolve
from healthexporter.simulator.generate import DEFAULT_NOW, generate
from healthexporter.simulator.server import SimulatorServer
from healthexporter.store.sqlite import SQLiteStore
from healthexporter.sync import Syncer, Target

from .conftest import simulator

SPEC = "small+org:4"  # acme/widgets and four example-org repositories (one archived fork)
TOKEN = "reliability-token"
START = 1_800_000_000.0  # the fake clock's start (2027-01-15), shared by client and simulator
# The simulator's rate-limit window: shorter than the client's max_wait (900 s), so an
# exhausted limit is waited out until its reset. A 3600 s window is longer: the repository
# fails with reason rate_limited and the next sync after the reset succeeds.
WINDOW = 600
EVOLVE = {
    "seed": 11,
    "advance": 3600,
    "changed_fraction": 0.2,
    "new_items": 10,
    "new_releases": 2,
    "new_commits": 5,
}
FIRST = "acme/widgets"  # synced first: faults at the first requests hit it
VICTIM = "example-org/web-service"  # deleted, renamed or archived by the events below
VIEWED_AT = DEFAULT_NOW.timestamp() + 86400  # the collector's frozen now: a day after the data
RESET = -1.0  # in Case.waits: "until the bucket's reset" (reset - now + 1 s, GitHub's rule)


@dataclass(frozen=True)
class Case:
    """One fault. ``fails``: the reason the faulty sync fails with, for ``failing`` repositories
    (None: the client or sync rides the fault out and every repository succeeds). ``waits``:
    the client's sleeps during the faulty sync, exactly (``RESET`` resolves to the wait until
    ``bucket``'s reset); ``wait_range``: instead, one sleep within these bounds (jitter)."""

    id: str
    faults: str | None = None
    event: str | None = None  # revoke | delete | rename | archive
    fails: str | None = None
    failing: tuple[str, ...] = (FIRST,)
    waits: tuple[float, ...] = ()
    wait_range: tuple[float, float] | None = None
    bucket: str = "core"
    server: dict[str, Any] = field(default_factory=dict)
    client_timeout: float = 30.0


ALL = ("*",)
CASES = [
    # 5xx: backed off 1, 2, 4 … s and retried; GraphQL 502/504 (GitHub's 10-second kill) twice,
    # then the page is halved
    Case("500-rest", "500 api=rest at=2", waits=(1.0,)),
    Case("502-graphql", "502 api=graphql at=1-2", waits=(1.0, 2.0)),
    Case("502-graphql-shrinks-page", "502 api=graphql at=1-3", waits=(1.0, 2.0)),
    Case("503-any", "503 api=any at=1", waits=(1.0,)),
    Case("503-persistent", "503 api=any at=1-6", fails="transient", waits=(1, 2, 4, 8, 16)),
    # the client's own timeout (1 s here) fires before the simulator answers
    Case("timeout", "timeout api=graphql at=1 seconds=1.5", waits=(1.0,), client_timeout=1.0),
    Case("reset", "reset api=graphql at=2", waits=(1.0,)),
    Case("reset-persistent", "reset api=rest at=1-6", fails="transient", waits=(1, 2, 4, 8, 16)),
    Case("truncate", "truncate api=graphql at=1", waits=(1.0,)),
    Case("malformed-graphql", "malformed api=graphql at=2", waits=(1.0,)),
    Case("malformed-rest", "malformed api=rest at=1", waits=(1.0,)),
    # partial data is never stored: retried twice at once, then the repository fails
    Case("partial", "partial api=graphql at=1-2"),
    Case("partial-persistent", "partial api=graphql at=1-3", fails="graphql"),
    # GraphQL's primary limit: HTTP 200 with RATE_LIMITED → wait for the bucket's reset
    Case("rate-limited", "rate_limited api=graphql at=1", waits=(RESET,), bucket="graphql"),
    # secondary limits: Retry-After exactly; without it at least 60 s (+ up to 10 % jitter)
    Case("secondary-403", "secondary api=graphql at=1 seconds=30", waits=(30.0,)),
    Case("secondary-429", "secondary status=429 api=rest at=1 seconds=45", waits=(45.0,)),
    Case("secondary-no-retry-after", "secondary api=rest at=2 seconds=0", wait_range=(60, 66)),
    Case(
        "secondary-persistent",
        "secondary api=any at=1-6 seconds=30",
        fails="rate_limited",
        waits=(30.0,) * 5,
    ),
    # primary limit exhausted: wait until x-ratelimit-reset (403 or 429, REST or GraphQL)
    Case("exhaust-rest-403", "exhaust api=rest at=1", waits=(RESET,)),
    Case(
        "exhaust-rest-429",
        "exhaust api=rest at=1",
        waits=(RESET,),
        server={"primary_limit_status": 429},
    ),
    Case("exhaust-graphql", "exhaust api=graphql at=1", waits=(RESET,), bucket="graphql"),
    # … unless the reset is further away than max_wait: every repository fails, honestly
    Case(
        "exhaust-beyond-max-wait",
        "exhaust api=rest at=1",
        fails="rate_limited",
        failing=ALL,
        server={"window_seconds": 3600},
    ),
    # 401 once: the token is re-read and the request retried at once
    Case("401-once", "401 api=rest at=1"),
    # a mix, at random (seeded): whatever fails must be reported truthfully
    Case(
        "storm",
        "502 p=0.08 seed=3 count=3; reset api=rest p=0.05 seed=4 count=2; "
        "malformed api=graphql p=0.05 seed=5 count=2; secondary p=0.03 seed=6 count=1 seconds=5; "
        "truncate p=0.03 seed=7 count=2",
        fails="*",
    ),
    # not faults of a request but of the world
    Case("revoked-token", event="revoke", fails="unauthorized", failing=ALL),
    Case("deleted-repository", event="delete", fails="not_found", failing=(VICTIM,)),
    Case("renamed-repository", event="rename"),
    Case("archived-repository", event="archive"),
]
PHASES = ("backfill", "poll")


# --- wiring ---------------------------------------------------------------------------------
def targets_of(dataset: Dataset) -> list[Target]:
    names = sorted(dataset.repositories, key=lambda n: (n != FIRST, n))
    return [Target(name.split("/")[0], dataset.repositories[name].full_name) for name in names]


def final_dataset(phase: str, event: str | None) -> Dataset:
    """The dataset as it is once the fault cleared (a deleted repository is restored; a renamed
    or archived one stays so)."""
    dataset = generate(SPEC)
    if phase == "poll":
        generate_evolve(dataset)
    victim = dataset.repositories[VICTIM]
    if event == "rename":
        dataset.rename_repository(victim, "renamed-service")
    elif event == "archive":
        dataset.archive_repository(victim)
    return dataset


def generate_evolve(dataset: Dataset) -> None:
    arguments = {**EVOLVE, "advance": timedelta(seconds=EVOLVE["advance"])}
    evolve(dataset, **arguments)


@functools.cache
def reference(phase: str, event: str | None) -> tuple[dict[str, list[tuple[Any, ...]]], dict]:
    """A fault-free backfill over the final dataset: its store dump and its /metrics health
    values (targets named as configured before any rename)."""
    dataset = final_dataset(phase, event)
    targets = targets_of(generate(SPEC))
    with (
        simulator(dataset) as server,
        rig(
            server, targets, ":memory:", clock=FakeClock(START), tokens=StaticToken(TOKEN)
        ) as clean,
    ):
        reports = clean.sync()
        assert all(r.ok for r in reports), [r.errors for r in reports]
        metrics = clean.complete_profiles()
        return clean.store.dump(), health(metrics, None)


Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]
SAMPLE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$")
LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


def parse_openmetrics(text: str) -> Samples:
    """name and sorted labels → value, for every sample line. (prometheus_client's parser is
    thorough and slow: 0.3 s for this exposition, which the matrix parses ~150 times.)"""
    assert text.endswith("# EOF\n")
    samples: Samples = {}
    for line in text.splitlines():
        if line.startswith("#"):
            continue
        match = SAMPLE.match(line)
        assert match is not None, line
        name, labels, value = match.groups()
        key = (name, tuple(sorted(LABEL.findall(labels or ""))))
        assert key not in samples, line
        samples[key] = float(value)
    return samples


@dataclass
class Rig:
    """Client → sync → store → collector, with a fake clock (the client's and the
    simulator's) and a frozen one (the collector's, so health values depend only on the
    store)."""

    server: SimulatorServer
    targets: list[Target]
    clock: FakeClock
    client: GitHubClient
    store: SQLiteStore
    syncer: Syncer
    collector: Collector
    errors: Counter[tuple[str, str]] = field(default_factory=Counter)

    def sync(self) -> list[SyncReport]:
        reports = self.syncer.sync_all(self.targets)
        assert [r.repository for r in reports] == [t.repository for t in self.targets]
        for report in reports:
            self.collector.record_sync(report)
            if not report.ok:
                self.errors[(report.repository, report.error_reason or "error")] += 1
        self.collector.refresh()
        return reports

    def complete_profiles(self) -> Samples:
        """Fetch the profiles that no page query carried, as ``serve`` does after its syncs
        (which profiles ride along depends on the queries a sync happened to make), recompute
        and return the metrics."""
        while self.syncer.sync_profiles()[0]:
            pass
        self.collector.refresh()
        return self.metrics()

    def metrics(self) -> Samples:
        exposition = self.collector.exposition()
        assert exposition is not None
        return parse_openmetrics(exposition.openmetrics.decode())


@contextmanager
def rig(
    server: SimulatorServer,
    targets: list[Target],
    store_path: Path | str,
    *,
    clock: FakeClock,
    tokens: TokenProvider,
    timeout: float = 30.0,
) -> Iterator[Rig]:
    client = GitHubClient(
        api_url=server.url,
        tokens=tokens,
        clock=clock,
        max_retries=5,
        timeout=timeout,
        reserve={"graphql": 0, "core": 0},
    )
    store = SQLiteStore.open(store_path)
    syncer = Syncer(client, store, BotMatcher(), clock=clock, max_workers=1)
    collector = Collector(
        store,
        lambda: HealthSettings(windows=(Window("30d", timedelta(days=30)),)),
        targets=lambda: [(t.project, t.repository) for t in targets],
        usage=lambda: github_usage(client),
        clock=FakeClock(VIEWED_AT),
    )
    try:
        yield Rig(server, targets, clock, client, store, syncer, collector)
    finally:
        client.close()
        store.close()


def health(samples: Samples, repository: str | None) -> dict[Any, float]:
    """The github_health_* samples (of one repository, or all)."""
    return {
        key: value
        for key, value in samples.items()
        if key[0].startswith("github_health_")
        and (repository is None or ("repository", repository) in key[1])
    }


def sample(samples: Samples, name: str, **labels: str) -> float | None:
    return samples.get((name, tuple(sorted(labels.items()))))


# --- the matrix -----------------------------------------------------------------------------
@pytest.mark.parametrize("phase", PHASES)
@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_fault(case: Case, phase: str, tmp_path: Path) -> None:
    expected_dump, expected_health = reference(phase, case.event)
    dataset = generate(SPEC)
    targets = targets_of(dataset)
    victim = dataset.repositories[VICTIM]
    clock = FakeClock(START)  # the client's and the simulator's rate-limit windows'
    token_file = tmp_path / "token"
    token_file.write_text(TOKEN + "\n", encoding="utf-8")
    kwargs: dict[str, Any] = {"window_seconds": WINDOW, "clock": clock.time, **case.server}
    with (
        simulator(dataset, **kwargs) as server,
        rig(server, targets, tmp_path / "store.db", clock=clock, tokens=FileToken(token_file),
            timeout=case.client_timeout) as exporter,
    ):  # fmt: skip
        before: Samples = {}
        if phase == "poll":
            assert all(r.ok for r in exporter.sync())
            before = exporter.metrics()
            assert health(before, FIRST) and health(before, VICTIM)
            server.evolve({**EVOLVE})

        # --- the fault
        if case.event == "revoke":
            server.revoke_token(TOKEN)
        elif case.event == "delete":
            dataset.delete_repository(victim)
        elif case.event == "rename":
            dataset.rename_repository(victim, "renamed-service")
        elif case.event == "archive":
            dataset.archive_repository(victim)
        if case.faults:
            server.set_faults(case.faults)
        started = exporter.clock.time()
        reset_at = server.buckets.get(TOKEN, case.bucket).snapshot().reset_at
        exporter.clock.sleeps.clear()
        reports = exporter.sync()
        during = exporter.metrics()
        if case.faults:  # (counted when decided: a hung request is not answered yet)
            assert any(server.faults.fired().values()), "the fault did not fire"

        failed = {r.repository: r for r in reports if not r.ok}
        if case.fails is None:
            assert not failed, {n: r.errors for n, r in failed.items()}
        elif case.fails != "*":
            expected = {t.repository for t in targets} if case.failing == ALL else set(case.failing)
            assert set(failed) == expected, {n: r.errors for n, r in failed.items()}
            assert {r.error_reason for r in failed.values()} == {case.fails}
        assert_truthful(exporter, reports, during, before)

        waits = [reset_at - started + 1.0 if w == RESET else float(w) for w in case.waits]
        if case.wait_range is not None:
            [slept] = exporter.clock.sleeps
            assert case.wait_range[0] <= slept <= case.wait_range[1]
        elif case.fails != "*":
            assert exporter.clock.sleeps == pytest.approx(waits)
        if RESET in case.waits:
            assert exporter.clock.time() >= reset_at  # waited until the reset, not less

        # --- the fault clears
        server.set_faults(None)
        if case.event == "revoke":
            token_file.write_text("rotated-token\n", encoding="utf-8")  # a new secret
        elif case.event == "delete":
            dataset.add_repository(victim)
        if case.server.get("window_seconds", WINDOW) > 900:
            exporter.clock.advance(3600)  # the reset the client refused to wait for
        errors_before = dict(exporter.errors)
        reports = exporter.sync()
        assert all(r.ok for r in reports), [r.errors for r in reports if not r.ok]
        after = exporter.metrics()
        assert_truthful(exporter, reports, after, during)
        assert dict(exporter.errors) == errors_before  # counters only ever count failures
        after = exporter.complete_profiles()
        assert exporter.store.dump() == expected_dump
        assert health(after, None) == expected_health
        assert exporter.store.integrity_check() == ["ok"]


def assert_truthful(
    exporter: Rig,
    reports: list[SyncReport],
    samples: Samples,
    before: Samples,
    *,
    check_up: bool = True,
) -> None:
    """/metrics says what happened: up per repository, errors by reason, health series kept."""
    for report in reports:
        labels = {"project": report.project, "repository": report.repository}
        if check_up:
            up = sample(samples, "healthexporter_sync_up", **labels)
            assert up == (1 if report.ok else 0), f"{report.repository}: sync_up {up}"
        errors = {
            reason: count
            for (name, reason), count in exporter.errors.items()
            if name == report.repository
        }
        served = {
            dict(key[1])["reason"]: value
            for key, value in samples.items()
            if key[0] == "healthexporter_sync_errors_total"
            and ("repository", report.repository) in key[1]
        }
        assert served == errors, report.repository
        old = health(before, report.repository)
        if report.ok or not old:
            continue
        # a failed sync: the repository's numbers are still served, from what is stored
        kept = health(samples, report.repository)
        assert kept, f"{report.repository}: health series dropped after a failed sync"
        if not (report.items or report.releases or report.tags or report.commits):
            assert kept == old, f"{report.repository}: last good values not served"


# --- a full disk ----------------------------------------------------------------------------
@contextmanager
def small_filesystem(path: Path, size: int) -> Iterator[Path]:
    """A real filesystem of ``size`` bytes (tmpfs) at ``path``; skips where mounting is not
    permitted (not root, or a container without CAP_SYS_ADMIN)."""
    path.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size},mode=0755", "tmpfs", str(path)],
        capture_output=True,
        check=False,
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs: {mounted.stderr.decode(errors='replace').strip()}")
    try:
        yield path
    finally:
        subprocess.run(["umount", "--lazy", str(path)], check=False)


def fill(directory: Path) -> Path:
    """Take every free byte of the filesystem, as another process logging away would."""
    filler = directory / "filler"
    chunk = b"\0" * 65536
    with filler.open("wb", buffering=0) as out:
        try:
            while True:
                out.write(chunk)
        except OSError as error:
            assert error.errno == errno.ENOSPC, error
    return filler


@pytest.mark.parametrize(
    "check_up",
    [
        pytest.param(False, id="errors-and-recovery"),
        pytest.param(True, id="sync-up"),
    ],
)
def test_disk_full_during_a_poll(tmp_path: Path, check_up: bool) -> None:
    """The disk fills between the backfill and a poll: the poll fails with reason ``store``
    (sync_up 0, the last good values still served), the store stays intact, and once space is
    freed the next sync ends where a fault-free run does."""
    expected_dump, expected_health = reference("poll", None)
    dataset = generate(SPEC)
    targets = targets_of(dataset)
    clock = FakeClock(START)
    with (
        small_filesystem(tmp_path / "disk", 16 * 1024 * 1024) as disk,
        simulator(dataset, clock=clock.time) as server,
        rig(server, targets, disk / "store.db", clock=clock, tokens=StaticToken(TOKEN)) as exporter,
    ):
        assert all(r.ok for r in exporter.sync())
        before = exporter.metrics()
        server.evolve({**EVOLVE})
        filler = fill(disk)
        reports = exporter.sync()
        failed = {r.repository: r for r in reports if not r.ok}
        assert failed, "nothing failed on a full disk"
        for report in failed.values():
            assert report.error_reason == "store"
            assert "database or disk is full" in report.errors[0]
            assert str(disk / "store.db") in report.errors[0]
        assert_truthful(exporter, reports, exporter.metrics(), before, check_up=check_up)

        filler.unlink()  # space freed
        assert exporter.store.integrity_check() == ["ok"]
        reports = exporter.sync()
        assert all(r.ok for r in reports), [r.errors for r in reports if not r.ok]
        assert_truthful(exporter, reports, exporter.metrics(), before)
        after = exporter.complete_profiles()
        assert exporter.store.dump() == expected_dump
        assert health(after, None) == expected_health


# --- the sync command when the profile fetch fails ------------------------------------------
def test_sync_command_reports_when_the_profile_fetch_fails(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("HE_RELIABILITY_TOKEN", TOKEN)
    with simulator(generate("small"), faults="503 api=graphql op=Users count=*") as server:
        config = tmp_path / "config.yaml"
        config.write_text(
            f"github: {{api_url: '{server.url}', token_env: HE_RELIABILITY_TOKEN, "
            "max_retries: 1, max_wait: 1s}\n"
            "projects: {acme: {repositories: [acme/widgets]}}\n"
            f"storage: {{path: {tmp_path / 'store.db'}}}\nlogging: {{level: error}}\n",
            encoding="utf-8",
        )
        code = main(["sync", "--config.file", str(config), "--output", "json"])
    [report] = json.loads(capsys.readouterr().out)["repositories"]
    assert report["ok"]  # the repository synced; only the profiles failed
    assert code in (0, 1)  # whether a profile failure fails the command is a choice
