"""Releases: how often a repository ships (CHAOSS "Release Frequency").

The source is the repository's GitHub releases when it publishes any (drafts are not
published); a repository that never published one but tags versions is measured by its version
tags instead. Definitions in docs/metrics.md ("Releases").
"""

from __future__ import annotations

import itertools
import re
import statistics
from dataclasses import dataclass
from datetime import datetime

from healthexporter.health.snapshot import HealthSettings, ReleaseActivity, RepositoryData, Window

# After the version core: a SemVer 2.0.0 pre-release (``-`` and an identifier with a letter:
# ``-rc.1``, ``-alpha``, ``-beta.2``), or the other spellings projects use (PEP 440 ``1.2.0rc1``,
# ``1.2.0.dev0``, ``b2``; Maven ``-SNAPSHOT``, ``.M1``; ``-preview``, ``-nightly``, ``-canary``).
_PRERELEASE_WORDS = r"alpha|beta|rc|cr|pre|preview|dev|snapshot|nightly|canary|next|insiders|edge"
_PRERELEASE = re.compile(
    rf"^(?:-[0-9a-z.-]*[a-z]|[._]?(?:{_PRERELEASE_WORDS})|[._]?[abm]\d)", re.IGNORECASE
)
# Suffixes that mark a final release: Java's ``.Final``/``.RELEASE``/``-GA``, PEP 440 post
# releases, ``-stable``/``-lts``.
_STABLE_SUFFIX = re.compile(r"^[._-](?:final|release|ga|stable|lts|post\d*|p\d+)$", re.IGNORECASE)
# A version core: dotted numbers (``1.2``, ``1.2.3.4``) wherever they are in the name
# (``v1.2.3``, ``release-1.2``, ``k8s/v1.2.3``, ``python3-v1.0``), else a lone number (``v2``,
# ``2024-01-05``). What follows, up to build metadata (``+linux``), is the suffix.
_DOTTED = re.compile(r"\d+(?:\.\d+)+")
_NUMBER = re.compile(r"\d+")


def _suffix(name: str) -> str | None:
    """What follows the version core, or None when the name has no number at all."""
    core = _DOTTED.search(name) or _NUMBER.search(name)
    if core is None:
        return None
    return name[core.end() :].split("+", 1)[0]


def is_version(name: str) -> bool:
    """A tag names a version when it contains a number; ``latest`` or ``nightly`` do not."""
    return _suffix(name) is not None


def is_prerelease_name(name: str) -> bool:
    """Whether a tag or release name marks a pre-release: ``v1.2.0-rc.1``, ``2.0.0b1``,
    ``v3.0.0-alpha``. A dash followed by digits only (``1.2.3-2``, ``2024-01-05``) is a package
    revision or a date, not a pre-release."""
    suffix = _suffix(name)
    if not suffix or _STABLE_SUFFIX.match(suffix):
        return False
    return _PRERELEASE.match(suffix) is not None


@dataclass(frozen=True)
class _Shipped:
    at: datetime
    prerelease: bool


def _shipped(data: RepositoryData, now: datetime) -> tuple[str | None, list[_Shipped]]:
    """The source and its releases before ``now``, oldest first.

    GitHub releases count by publication (creation for the rare release without one) and are
    prereleases when flagged so or when their tag name says so — the checkbox is easy to
    forget. Tags count by tag date; several version tags on one commit (``v1.2.0`` and
    ``api/v1.2.0`` in a monorepo) are one release, stable if any of them is stable.
    """
    releases = [r for r in data.releases if not r.is_draft]
    if releases:
        shipped = [
            _Shipped(
                r.published_at or r.created_at, r.is_prerelease or is_prerelease_name(r.tag_name)
            )
            for r in releases
        ]
        source: str | None = "release"
    else:
        by_commit: dict[str, _Shipped] = {}
        for tag in data.tags:
            if not is_version(tag.name):
                continue
            this = _Shipped(tag.tagged_at, is_prerelease_name(tag.name))
            seen = by_commit.get(tag.commit_oid)
            if seen is not None:
                this = _Shipped(min(seen.at, this.at), seen.prerelease and this.prerelease)
            by_commit[tag.commit_oid] = this
        shipped = list(by_commit.values())
        source = "tag" if shipped else None
    return source, sorted((s for s in shipped if s.at < now), key=lambda s: s.at)


def releases_in_window(data: RepositoryData, window: Window, now: datetime) -> tuple[int, int]:
    """(stable, pre) releases — or version tags, for a repository without releases — in the
    window."""
    _, shipped = _shipped(data, now)
    in_window = [s for s in shipped if window.contains(s.at, now)]
    pre = sum(s.prerelease for s in in_window)
    return len(in_window) - pre, pre


def release_activity(
    data: RepositoryData, now: datetime, settings: HealthSettings
) -> ReleaseActivity:
    """Source, newest stable release and prerelease, and the median of the last
    ``settings.release_intervals`` intervals between consecutive stable releases (None with
    fewer than two). The median, not the mean, so one long pause does not hide a steady cadence.
    """
    source, shipped = _shipped(data, now)
    stable = [s.at for s in shipped if not s.prerelease]
    pre = [s.at for s in shipped if s.prerelease]
    recent = stable[-(settings.release_intervals + 1) :] if settings.release_intervals > 0 else []
    intervals = [(later - earlier).total_seconds() for earlier, later in itertools.pairwise(recent)]
    return ReleaseActivity(
        source=source,
        last_release_at=stable[-1] if stable else None,
        last_prerelease_at=pre[-1] if pre else None,
        median_interval_seconds=statistics.median(intervals) if intervals else None,
        total=len(stable),
    )
