"""Bot identification, table-driven: (login, kind) → is_bot, for the shipped defaults and for
configured additions and exceptions."""

from __future__ import annotations

import re

import pytest

from healthexporter.bots import (
    DEFAULT_BOT_LOGINS,
    DEFAULT_BOT_PATTERNS,
    BotMatcher,
    normalize_login,
)
from healthexporter.config import parse_config
from healthexporter.model import ActorKind

USER = ActorKind.USER
BOT = ActorKind.BOT

DEFAULTS = BotMatcher()

DEFAULT_CASES: list[tuple[str | None, ActorKind, bool]] = [
    # GitHub's own word: a Bot actor (GraphQL drops "[bot]") or a "[bot]" login (REST).
    ("dependabot", BOT, True),
    ("dependabot[bot]", USER, True),
    ("some-new-app", BOT, True),
    ("some-new-app[bot]", USER, True),
    ("Some-New-App[BOT]", USER, True),
    # Shipped logins, either spelling, any case.
    ("k8s-ci-robot", USER, True),
    ("K8S-CI-Robot", USER, True),
    ("fejta-bot", USER, True),
    ("codecov-io", USER, True),
    ("renovate", USER, True),
    ("renovate[bot]", USER, True),
    ("CLAassistant", USER, True),
    ("claassistant", USER, True),
    ("googlebot", USER, True),
    ("bors", USER, True),
    ("homu", USER, True),
    ("pre-commit-ci", USER, True),
    ("linux-foundation-easycla", USER, True),
    ("github-actions", USER, True),
    # AI coding agents.
    ("Copilot", USER, True),
    ("copilot-swe-agent", USER, True),
    ("copilot-swe-agent[bot]", USER, True),
    ("devin-ai-integration", USER, True),
    ("coderabbitai", USER, True),
    ("openhands-agent", USER, True),
    # Shipped patterns.
    ("release-bot", USER, True),
    ("acme-robot", USER, True),
    ("bot-acme", USER, True),
    ("Bot-Acme", USER, True),
    # People, including names that merely contain "bot".
    ("clux", USER, False),
    ("nightkr", USER, False),
    ("abbott", USER, False),
    ("talbot", USER, False),
    ("botanist", USER, False),
    ("robotics-fan", USER, False),
    ("bot", USER, False),
    ("dependabot-fan", USER, False),
    ("acme-bots", USER, False),
    ("mannequin-user", ActorKind.MANNEQUIN, False),
    ("kube-rs", ActorKind.ORGANIZATION, False),
    # A deleted account ("ghost") cannot be told apart.
    (None, ActorKind.DELETED, False),
]


@pytest.mark.parametrize(("login", "kind", "expected"), DEFAULT_CASES)
def test_defaults(login: str | None, kind: ActorKind, expected: bool) -> None:
    assert DEFAULTS.is_bot(login, kind) is expected


CONFIGURED = BotMatcher(
    logins=["ci-helper", "Deploy-Account[bot]"],
    patterns=[r"^automation-", r"-ci$"],
    not_bots=["release-bot", "Renovate[bot]", "claude", "some-app"],
)

CONFIGURED_CASES: list[tuple[str, ActorKind, bool]] = [
    # Added logins, either spelling.
    ("ci-helper", USER, True),
    ("ci-helper[bot]", USER, True),
    ("CI-Helper", USER, True),
    ("deploy-account", USER, True),
    # Added patterns (searched, case-insensitive, in the login without "[bot]").
    ("automation-kube", USER, True),
    ("Automation-Kube", USER, True),
    ("kube-ci", USER, True),
    ("kube-ci[bot]", USER, True),
    ("my-automation-kube", USER, False),
    ("kube-ci-helper-person", USER, False),
    # not_bots wins over shipped logins, shipped patterns, "[bot]" and the Bot kind.
    ("release-bot", USER, False),
    ("renovate", USER, False),
    ("renovate[bot]", USER, False),
    ("renovate", BOT, False),
    ("claude", USER, False),
    ("some-app", BOT, False),
    ("some-app[bot]", USER, False),
    # Defaults still apply.
    ("k8s-ci-robot", USER, True),
    ("dependabot", BOT, True),
    ("other-bot", USER, True),
    ("clux", USER, False),
]


@pytest.mark.parametrize(("login", "kind", "expected"), CONFIGURED_CASES)
def test_configured(login: str, kind: ActorKind, expected: bool) -> None:
    assert CONFIGURED.is_bot(login, kind) is expected


@pytest.mark.parametrize(
    ("login", "kind", "expected"),
    [
        ("k8s-ci-robot", USER, False),
        ("acme-bot", USER, False),
        ("dependabot[bot]", USER, True),
        ("dependabot", BOT, True),
        ("only-mine", USER, True),
    ],
)
def test_without_defaults(login: str, kind: ActorKind, expected: bool) -> None:
    assert BotMatcher(logins=["only-mine"], defaults=False).is_bot(login, kind) is expected


def test_from_config() -> None:
    config = parse_config(
        "projects: {p: {repositories: [a/b]}}\n"
        "bots: {logins: [ci-helper], patterns: ['-ci$'], not_bots: [stale]}\n"
    )
    matcher = BotMatcher.from_config(config.bots)
    assert matcher.is_bot("ci-helper", USER)
    assert matcher.is_bot("kube-ci", USER)
    assert not matcher.is_bot("stale", USER)
    assert matcher.is_bot("k8s-ci-robot", USER)


@pytest.mark.parametrize(
    ("login", "normalized"),
    [
        ("dependabot[bot]", "dependabot"),
        ("Dependabot", "dependabot"),
        ("CLAassistant", "claassistant"),
        ("bot", "bot"),
    ],
)
def test_normalize_login(login: str, normalized: str) -> None:
    assert normalize_login(login) == normalized


def test_shipped_lists_are_clean() -> None:
    normalized = [normalize_login(login) for login in DEFAULT_BOT_LOGINS]
    assert len(normalized) == len(set(normalized)), "duplicate default login"
    assert all(login == login.strip() and "[bot]" not in login for login in DEFAULT_BOT_LOGINS)
    for pattern in DEFAULT_BOT_PATTERNS:
        re.compile(pattern)
