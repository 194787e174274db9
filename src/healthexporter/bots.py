"""Who is a bot. A bot's comment is not a first response and a bot is not a contributor.

GitHub marks GitHub Apps as ``Bot`` actors, but many projects run automation as ordinary user
accounts (``k8s-ci-robot``), so the actor kind alone misses them: a shipped list of known
automation and AI-agent accounts and name patterns fills the gap, and the configuration can add
to it (``bots.logins``, ``bots.patterns``) or take a login out of it (``bots.not_bots``).

GitHub names one App account two ways: REST says ``dependabot[bot]``, GraphQL says
``dependabot`` with ``__typename: Bot``. Every comparison here therefore drops a trailing
``[bot]`` and ignores case (logins are case-insensitive on GitHub).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import TYPE_CHECKING

from healthexporter.model import ActorKind

if TYPE_CHECKING:
    from healthexporter.config import BotsConfig

__all__ = ["DEFAULT_BOT_LOGINS", "DEFAULT_BOT_PATTERNS", "BotMatcher", "normalize_login"]

DEFAULT_BOT_LOGINS: tuple[str, ...] = (
    # CI, review and merge automation run as user accounts or Apps (Kubernetes' Prow robots,
    # bors/homu merge queues, coverage and preview-deploy comments, stale-issue closers).
    "k8s-ci-robot",
    "k8s-triage-robot",
    "k8s-github-robot",
    "k8s-infra-ci-robot",
    "fejta-bot",
    "openshift-ci",
    "openshift-ci-robot",
    "openshift-merge-robot",
    "istio-testing",
    "knative-prow-robot",
    "tekton-robot",
    "github-actions",
    "codecov",
    "codecov-io",
    "codecov-commenter",
    "coveralls",
    "netlify",
    "vercel",
    "azure-pipelines",
    "mergify",
    "mergifyio",
    "stale",
    "bors",
    "bors-ng",
    "homu",
    "rust-highfive",
    "rustbot",
    "rfcbot",
    "rust-timer",
    "sonarcloud",
    "sonarqubecloud",
    "lgtm-com",
    "deepsource-autofix",
    "gitter-badger",
    "imgbot",
    "pre-commit-ci",
    "changeset-bot",
    "release-please",
    "semantic-release-bot",
    # Dependency updates and security scanners.
    "dependabot",
    "dependabot-preview",
    "renovate",
    "renovate-bot",
    "greenkeeper",
    "greenkeeperio-bot",
    "snyk-bot",
    "whitesource-bolt-for-github",
    "mend-bolt-for-github",
    "socket-security",
    # Contributor licence agreements and contributor lists.
    "allcontributors",
    "linux-foundation-easycla",
    "CLAassistant",
    "cla-bot",
    "googlebot",
    "google-cla",
    # AI coding agents and AI reviewers (GitHub Apps or their machine accounts). A human who
    # really owns one of these logins can be listed in bots.not_bots.
    "copilot",
    "copilot-swe-agent",
    "copilot-pull-request-reviewer",
    "devin-ai-integration",
    "coderabbitai",
    "sweep-ai",
    "codex",
    "chatgpt-codex-connector",
    "openhands-agent",
    "claude",
    "cursor",
    "gemini-code-assist",
    "sourcery-ai",
    "ellipsis-dev",
    "qodo-merge-pro",
    "korbit-ai",
    "graphite-app",
)

DEFAULT_BOT_PATTERNS: tuple[str, ...] = (
    # Naming conventions for machine accounts; searched in the login without "[bot]".
    r".*-bot$",
    r".*-robot$",
    r"^bot-.*",
)

_BOT_SUFFIX = "[bot]"


def normalize_login(login: str) -> str:
    """``Dependabot[bot]`` and ``dependabot`` are the same account: lower case, no suffix."""
    lowered = login.strip().lower()
    return lowered.removesuffix(_BOT_SUFFIX)


class BotMatcher:
    """Decides ``is_bot`` from the actor kind, the login and the configured lists.

    Order: ``not_bots`` wins over everything (a project may count its own automation account
    as a responder, or own a login that looks like a bot); then GitHub's own word (``Bot``
    kind or a ``[bot]`` login); then the logins and patterns.
    """

    def __init__(
        self,
        *,
        logins: Iterable[str] = (),
        patterns: Iterable[str] = (),
        not_bots: Iterable[str] = (),
        defaults: bool = True,
    ) -> None:
        all_logins = [*(DEFAULT_BOT_LOGINS if defaults else ()), *logins]
        all_patterns = [*(DEFAULT_BOT_PATTERNS if defaults else ()), *patterns]
        self._logins = frozenset(normalize_login(login) for login in all_logins)
        # Compiled one by one (not joined into one alternation) so that a pattern's inline
        # flags or group names cannot clash with another's.
        self._patterns = tuple(re.compile(pattern, re.IGNORECASE) for pattern in all_patterns)
        self._not_bots = frozenset(normalize_login(login) for login in not_bots)

    @classmethod
    def from_config(cls, bots: BotsConfig) -> BotMatcher:
        return cls(logins=bots.logins, patterns=bots.patterns, not_bots=bots.not_bots)

    def is_bot(self, login: str | None, kind: ActorKind) -> bool:
        if login is None:  # a deleted account ("ghost"): nobody can tell
            return kind is ActorKind.BOT
        name = normalize_login(login)
        if name in self._not_bots:
            return False
        if kind is ActorKind.BOT or login.strip().lower().endswith(_BOT_SUFFIX):
            return True
        if name in self._logins:
            return True
        return any(pattern.search(name) for pattern in self._patterns)
