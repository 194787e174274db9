"""Releases with literal releases and tags: source choice, prereleases, cadence."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from healthexporter.health.releases import (
    is_prerelease_name,
    is_version,
    release_activity,
    releases_in_window,
)
from healthexporter.health.snapshot import HealthSettings, ReleaseActivity, RepositoryData, Window
from healthexporter.model import Release, Tag

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
MONTH = Window("30d", timedelta(days=30))
DAY = 86400.0


def at(days: float) -> datetime:
    return NOW + timedelta(days=days)


def release(name: str, published: float | None, created: float = -1000, pre: bool = False,
            draft: bool = False) -> Release:  # fmt: skip
    return Release(
        "o/r", name, at(created), None if published is None else at(published), pre, draft
    )


def tag(name: str, tagged: float, commit: str | None = None) -> Tag:
    return Tag("o/r", name, commit or f"sha-{name}", at(tagged))


def data(releases: tuple[Release, ...] = (), tags: tuple[Tag, ...] = ()) -> RepositoryData:
    return RepositoryData("p", "o/r", None, (), releases=releases, tags=tags)


NAMES = [
    # (name, is a version, is a prerelease)
    ("v1.2.0", True, False),
    ("1.2", True, False),
    ("v1.2.0-rc.1", True, True),
    ("v3.0.0-alpha", True, True),
    ("v1.0.0-beta.2", True, True),
    ("V1.0.0-RC1", True, True),
    ("1.2.0rc1", True, True),
    ("2.0.0b1", True, True),
    ("v1.2.3.dev0", True, True),
    ("3.0.0.M1", True, True),
    ("v1.2.3-SNAPSHOT", True, True),
    ("k8s/v1.2.3-rc.1", True, True),
    ("api/v1.2.3", True, False),
    ("python3-v1.0", True, False),
    ("release-1.28", True, False),
    ("v1.2.3+build.5", True, False),
    ("v1.2.3-rc.1+build.5", True, True),
    ("5.4.0.Final", True, False),
    ("5.0.0.RELEASE", True, False),
    ("v1.0-GA", True, False),
    ("1.2.3.post1", True, False),
    ("1.2.3-2", True, False),  # a package revision
    ("2024-01-05", True, False),  # a date
    ("latest", False, False),
    ("nightly", False, False),
]


@pytest.mark.parametrize(("name", "version", "prerelease"), NAMES, ids=[n[0] for n in NAMES])
def test_version_names(name: str, version: bool, prerelease: bool) -> None:
    assert is_version(name) is version
    assert is_prerelease_name(name) is prerelease


IN_WINDOW: list[tuple[str, RepositoryData, tuple[int, int]]] = [
    ("nothing", data(), (0, 0)),
    ("stable and flagged prerelease", data((release("v1.1.0", -5), release("v1.2.0-x", -3, pre=True))), (1, 1)),
    ("prerelease by name, flag forgotten", data((release("v2.0.0-rc.1", -3),)), (0, 1)),
    ("drafts are not releases", data((release("v1.1.0", None, -2, draft=True), release("v1.0.0", -2))), (1, 0)),
    ("no publication date: creation", data((release("v1.1.0", None, -2),)), (1, 0)),
    ("window start is in, now is out", data((release("v1", -30), release("v2", 0), release("v0", -31))), (1, 0)),
    ("tag-only project: tags count", data(tags=(tag("v1.0.0", -10), tag("v1.1.0-rc.1", -5), tag("v0.9.0", -40))), (1, 1)),
    ("releases exist: tags ignored", data((release("v1.0.0", -100),), (tag("v1.1.0", -5),)), (0, 0)),
    ("only draft releases: tags count", data((release("v2.0.0", None, -1, draft=True),), (tag("v1.1.0", -5),)), (1, 0)),
    ("versionless tags are not releases", data(tags=(tag("latest", -1), tag("v1.0.0", -2))), (1, 0)),
    ("several tags on one commit are one release", data(tags=(tag("v1.2.0", -2, "abc"), tag("api/v1.2.0", -2, "abc"), tag("sdk/v1.2.0", -2, "abc"))), (1, 0)),
    ("one commit tagged stable and rc is stable", data(tags=(tag("v1.2.0-rc.3", -3, "abc"), tag("v1.2.0", -2, "abc"))), (1, 0)),
]  # fmt: skip


@pytest.mark.parametrize(("name", "repo", "expected"), IN_WINDOW, ids=[c[0] for c in IN_WINDOW])
def test_releases_in_window(name: str, repo: RepositoryData, expected: tuple[int, int]) -> None:
    assert releases_in_window(repo, MONTH, NOW) == expected


ACTIVITY: list[tuple[str, RepositoryData, int, ReleaseActivity]] = [
    ("nothing", data(), 10, ReleaseActivity()),
    ("one release: no interval", data((release("v1", -5),)), 10, ReleaseActivity("release", at(-5), None, None, 1)),
    ("two releases: one interval", data((release("v1", -50), release("v2", -20))), 10, ReleaseActivity("release", at(-20), None, 30 * DAY, 2)),
    ("odd number of intervals: the middle one", data(tuple(release(f"v{i}", d) for i, d in enumerate((-100, -90, -60, -59)))), 10, ReleaseActivity("release", at(-59), None, 10 * DAY, 4)),
    ("even number of intervals: mean of the middle two", data(tuple(release(f"v{i}", d) for i, d in enumerate((-100, -90, -60, -59, -50)))), 10, ReleaseActivity("release", at(-50), None, 9.5 * DAY, 5)),
    ("only the last N intervals", data(tuple(release(f"v{i}", d) for i, d in enumerate((-400, -100, -99, -97)))), 2, ReleaseActivity("release", at(-97), None, 1.5 * DAY, 4)),
    ("prereleases are not in the cadence", data((release("v1", -40), release("v2-rc.1", -30), release("v2-rc.2", -25, pre=True), release("v2", -20))), 10, ReleaseActivity("release", at(-20), at(-25), 20 * DAY, 2)),
    ("releases after now are not seen", data((release("v1", -40), release("v2", 1))), 10, ReleaseActivity("release", at(-40), None, None, 1)),
    ("release order does not matter", data((release("v3", -10), release("v1", -30), release("v2", -25))), 10, ReleaseActivity("release", at(-10), None, 10 * DAY, 3)),
    ("tags only", data(tags=(tag("v1.0.0", -30), tag("v1.1.0-beta", -20), tag("v1.1.0", -10), tag("latest", -1))), 10, ReleaseActivity("tag", at(-10), at(-20), 20 * DAY, 2)),
    ("tags, but no versions", data(tags=(tag("latest", -1),)), 10, ReleaseActivity()),
]  # fmt: skip


@pytest.mark.parametrize(
    ("name", "repo", "intervals", "expected"), ACTIVITY, ids=[c[0] for c in ACTIVITY]
)
def test_release_activity(
    name: str, repo: RepositoryData, intervals: int, expected: ReleaseActivity
) -> None:
    assert release_activity(repo, NOW, HealthSettings(release_intervals=intervals)) == expected
