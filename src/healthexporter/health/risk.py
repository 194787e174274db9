"""Risk: how much a project depends on a few people (bus factor) or a few organizations
(elephant factor), over the contributions made in a window.

- Bus factor: CHAOSS "Contributor Absence Factor" — the smallest number of people whose
  contributions together make up more than 50% of all contributions in the window.
- Elephant factor: CHAOSS "Elephant Factor" — the same rule over organizations, counting only
  contributions whose author's organization at the time of the contribution is known.

Contributions are the ones of ``health.contributors`` (pull requests, issues, commits, reviews,
comments; bots and deleted accounts left out). docs/metrics.md has the reasoning.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime

from healthexporter.health.contributors import (
    ContributionIndex,
    RawContribution,
    raw_contributions,
)
from healthexporter.health.snapshot import HealthSettings, RepositoryData, Risk, Window

__all__ = ["absence_factor", "risk", "risk_from", "risk_in"]

_EMAIL = "email:"


def absence_factor(counts: Iterable[int]) -> int:
    """The smallest number of the largest ``counts`` that add up to more than half the total.

    0 when there is nothing to count. "More than half" as in CHAOSS' worked example
    (1,433 > 1,237.5): two people with half each need both (2), not one. The number does not
    depend on how ties are broken — only the sorted counts matter — so no tie rule is needed.
    """
    ordered = sorted((c for c in counts if c > 0), reverse=True)
    total = sum(ordered)
    running = 0
    for taken, count in enumerate(ordered, start=1):
        running += count
        if 2 * running > total:  # integers: no rounding at exactly one half
            return taken
    return 0


def risk(
    datas: Sequence[RepositoryData], window: Window, now: datetime, settings: HealthSettings
) -> Risk:
    """Bus and elephant factor over the contributions made in ``[now - duration, now)``."""
    return risk_from(raw_contributions(datas, settings.is_bot), window, now, settings)


def risk_from(
    extracted: Iterable[RawContribution], window: Window, now: datetime, settings: HealthSettings
) -> Risk:
    """``risk`` over contributions already extracted (``contributors.raw_contributions``)."""
    return risk_in(ContributionIndex.of(extracted, now), window, settings)


def risk_in(index: ContributionIndex, window: Window, settings: HealthSettings) -> Risk:
    """``risk`` over indexed contributions, as of ``index.now``.

    The organization is ``settings.affiliation(person, at)`` at each contribution's time, so a
    person who changed employer counts for both. A commit identity (``email:…``, not linked to
    an account) has no known organization.
    """
    affiliation = settings.affiliation
    by_person: dict[str, int] = {}
    by_organization: dict[str, int] = {}
    unaffiliated = 0
    in_window = index.between(window.start(index.now), index.now)
    for who, _kind, at, _repository in in_window:
        by_person[who] = by_person.get(who, 0) + 1
        organization = None if who.startswith(_EMAIL) else affiliation(who, at)
        if organization is None:
            unaffiliated += 1
        else:
            by_organization[organization] = by_organization.get(organization, 0) + 1
    contributions = len(in_window)
    return Risk(
        contributions=contributions,
        bus_factor=absence_factor(by_person.values()),
        elephant_factor=absence_factor(by_organization.values()),
        organizations=len(by_organization),
        unaffiliated_share=unaffiliated / contributions if contributions else None,
    )
