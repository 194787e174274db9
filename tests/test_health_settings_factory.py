"""``HealthSettingsFactory.is_bot``: remembered per (login, kind), the same verdicts as the
configured ``BotMatcher``."""

from __future__ import annotations

from pathlib import Path

import pytest

from healthexporter.bots import BotMatcher
from healthexporter.config.loading import parse_config
from healthexporter.model import Actor, ActorKind
from healthexporter.runtime import HealthSettingsFactory
from healthexporter.store.sqlite import SQLiteStore

CONFIG = parse_config(
    "projects: {p: {repositories: [a/b]}}\n"
    "bots: {logins: [ci-helper], patterns: ['-ci$'], not_bots: [stale]}\n"
)
USER, BOT = ActorKind.USER, ActorKind.BOT


@pytest.mark.parametrize(
    ("login", "kind", "expected"),
    [
        ("ci-helper", USER, True),
        ("kube-ci", USER, True),
        ("stale", USER, False),
        ("alice", USER, False),
        ("alice", BOT, True),  # the same login, another kind: its own verdict
        ("ALICE", USER, False),
        (None, USER, False),  # a deleted account
        (None, BOT, True),
    ],
)
def test_is_bot_is_the_matchers_verdict_asked_once_or_twice(
    tmp_path: Path, login: str | None, kind: ActorKind, expected: bool
) -> None:
    store = SQLiteStore.open(tmp_path / "store.db")
    try:
        factory = HealthSettingsFactory(CONFIG, store)
        matcher = BotMatcher.from_config(CONFIG.bots)
        actor = Actor(login, kind)
        assert matcher.is_bot(login, kind) is expected
        assert factory.is_bot(actor) is expected
        assert factory.is_bot(actor) is expected  # remembered
        assert factory().is_bot(actor) is expected  # what every computation gets
    finally:
        store.close()
