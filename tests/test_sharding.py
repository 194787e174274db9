"""Sharding: stable assignment, and the union of the shards equals the unsharded output."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import pytest

from healthexporter.sharding import Shard, jump_hash, ordinal_from_hostname, resolve_shard

from .test_serve import health_lines


def test_jump_hash_is_stable_even_and_moves_little() -> None:
    projects = [f"project-{i}" for i in range(3000)]
    # stable: literal values (no per-process hash randomisation)
    assert [jump_hash(p, 7) for p in projects[:5]] == [jump_hash(p, 7) for p in projects[:5]]
    assert jump_hash("kube-rs", 1) == 0
    counts = Counter(jump_hash(p, 4) for p in projects)
    assert set(counts) == {0, 1, 2, 3} and min(counts.values()) > 600
    moved = sum(jump_hash(p, 4) != jump_hash(p, 5) for p in projects)
    assert moved < 0.3 * len(projects)  # about 1/5 move, never a full reshuffle
    assert all(jump_hash(p, 5) in (jump_hash(p, 4), 4) for p in projects)  # only to the new shard


@pytest.mark.parametrize(
    ("hostname", "ordinal"),
    [
        ("healthexporter-2", 2),
        ("healthexporter-10.svc.cluster.local", 10),
        ("web", None),
        ("a-b", None),
    ],
)
def test_ordinal_from_hostname(hostname: str, ordinal: int | None) -> None:
    assert ordinal_from_hostname(hostname) == ordinal


def test_resolve_shard() -> None:
    assert resolve_shard(None, None, "x") == Shard(0, 1)
    assert resolve_shard(1, 3, "x") == Shard(1, 3)
    assert resolve_shard(None, 3, "healthexporter-2") == Shard(2, 3)
    for shard, total, host in ((None, 3, "web"), (3, 3, "x"), (1, None, "x"), (None, 2, "he-5")):
        with pytest.raises(ValueError):
            resolve_shard(shard, total, host)


def test_every_project_has_exactly_one_shard() -> None:
    projects = [f"p{i}" for i in range(50)]
    for total in (1, 2, 3, 7):
        owners = [[s for s in range(total) if Shard(s, total).owns(p)] for p in projects]
        assert all(len(o) == 1 for o in owners)


def _config(directory: Path, url: str, store: str) -> Path:
    path = directory / f"{store}.yaml"
    path.write_text(
        f"github: {{api_url: '{url}', token_env: HE_SHARD_TOKEN}}\n"
        "projects:\n"
        "  widgets: {repositories: [acme/widgets]}\n"
        "  alpha: {orgs: [{name: example-org, include: ['a*', 'b*', 'c*']}]}\n"
        "  beta: {orgs: [{name: example-org, include: ['d*', 'e*', 'f*', 'g*']}]}\n"
        "  gamma: {orgs: [{name: example-org, include: ['[h-z]*']}]}\n"
        f"storage: {{path: {store}.db}}\n"
        "logging: {level: error}\n",
        encoding="utf-8",
    )
    return path


def _health(config: Path, shard: Shard) -> set[str]:
    """Every github_health_ series this configuration's store exports (ages by name only)."""
    from healthexporter import runtime
    from healthexporter.collector import Collector
    from healthexporter.config import load_config
    from healthexporter.store.sqlite import SQLiteStore

    loaded = load_config(config)
    store = SQLiteStore.open(loaded.storage.path)
    try:
        known = runtime.known_targets(loaded, store, shard)
        collector = Collector(store, runtime.HealthSettingsFactory(loaded, store),
                              targets=lambda: [(t.project, t.repository) for t in known])  # fmt: skip
        collector.refresh()
        exposition = collector.exposition()
        assert exposition is not None
        text = exposition.openmetrics.decode()
    finally:
        store.close()
    return set(health_lines(text))


def test_union_of_shards_equals_the_unsharded_output(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from healthexporter.cli import main
    from healthexporter.simulator.generate import generate

    from .conftest import simulator

    monkeypatch.setenv("HE_SHARD_TOKEN", "t")
    dataset = generate("small+org:10", now=NOW)
    with simulator(dataset) as server:
        whole = _config(tmp_path, server.url, "whole")
        assert main(["sync", "--config.file", str(whole)]) == 0
        everything = _health(whole, Shard())
        union: set[str] = set()
        all_repositories = set(server.stats()["repositories"])
        seen: set[str] = set()
        for index in range(3):
            server.reset_stats()
            config = _config(tmp_path, server.url, f"shard{index}")
            shard = Shard(index, 3)
            command = [
                "sync",
                "--config.file",
                str(config),
                "--shard",
                str(index),
                "--total-shards",
                "3",
            ]
            assert main(command) == 0
            lines = _health(config, shard)
            owned = {line.split('project="', 1)[1].split('"', 1)[0] for line in lines}
            assert all(shard.owns(project) for project in owned)
            # this shard called GitHub only for its own projects' repositories
            asked = set(server.stats()["repositories"])
            assert asked, "each of the three shards owns a project here"
            assert not asked & seen
            seen |= asked
            union |= lines
        assert seen == all_repositories
        assert union == everything
        capsys.readouterr()


NOW = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
