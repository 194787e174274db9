"""The settings of the health maths (``health:``) and where people's organizations come from
(``affiliations:``).

These are the configured half of ``healthexporter.health.snapshot.HealthSettings``; the runtime
adds what only it knows (the bot matcher, the affiliation lookup built from these files and the
stored profiles). Config does not import ``health``: the maths takes plain values, not files.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from types import MappingProxyType
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BeforeValidator,
    Field,
    StrictInt,
    StrictStr,
    WrapSerializer,
    model_validator,
)

from healthexporter.config.values import (
    Duration,
    Login,
    ReadableFile,
    Section,
    at_least,
    format_duration,
    parse_duration,
    quote,
)

MIN_WINDOW = timedelta(hours=1)
# Activity that can be a first response (health/first_response.py: comment, review, closed,
# merged), as people write it.
ResponseEvent = Literal["comment", "review", "close", "merge"]
RESPONSE_EVENTS: tuple[ResponseEvent, ...] = ("comment", "review", "close", "merge")
Responders = Literal["anyone", "maintainers", "list"]
NO_MAINTAINERS = '"list" counts only projects.<name>.maintainers, and no project lists any'


def no_maintainers_problem(responders: object, maintainers: int) -> str | None:
    """``responders: list`` counts only the projects' maintainers; with none listed anywhere no
    response would ever count. Checked in ``Config`` and on the raw data (``crosschecks``)."""
    return NO_MAINTAINERS if responders == "list" and maintainers == 0 else None


# Entries written twice. Reported by the models and, at the repeated entry, by ``crosschecks``
# (even when another entry is broken); the messages are the same so each is reported once.
def repeated_window(name: str) -> str:
    return f"window {name} is listed twice (compared as durations: 168h is 7d)"


def repeated_event(event: str) -> str:
    return f"{event} is listed twice"


def repeated_login(login: str) -> str:
    return f"{quote(login)} is listed twice (logins compare case-insensitively)"


def canonical_window(value: object) -> tuple[str, timedelta]:
    """The canonical name and duration of a window; raises ``ValueError`` on a bad one."""
    duration = parse_duration(value)
    if duration < MIN_WINDOW:
        raise ValueError(f"must be at least 1h, got {format_duration(duration)}")
    # Canonical so that "1w", "7d" and "168h" export one label value, "7d".
    return format_duration(duration), duration


class WindowConfig(Section):
    """A trailing window ``[now - duration, now)``; ``name`` is the canonical duration ("7d",
    "12h", "1d12h"), the ``window`` label of every windowed metric."""

    name: StrictStr
    duration: timedelta


def _window(value: object) -> object:
    if isinstance(value, WindowConfig):
        return value
    name, duration = canonical_window(value)
    return WindowConfig(name=name, duration=duration)


def _unique_windows(windows: tuple[WindowConfig, ...]) -> tuple[WindowConfig, ...]:
    if not windows:
        raise ValueError("at least one window is required")
    names = [window.name for window in windows]
    for name in dict.fromkeys(names):
        if names.count(name) > 1:
            raise ValueError(repeated_window(name))
    return windows


def _response_events(events: tuple[ResponseEvent, ...]) -> tuple[ResponseEvent, ...]:
    if not events:
        raise ValueError(f"at least one of {', '.join(RESPONSE_EVENTS)} is required")
    for event in dict.fromkeys(events):
        if events.count(event) > 1:
            raise ValueError(repeated_event(event))
    return events


def _label(value: str) -> str:
    if not value.strip():
        raise ValueError("empty label name")
    return value


def _company(value: str) -> str:
    if not value.strip():
        raise ValueError("empty company name")
    return value.strip()


def _overrides(value: Mapping[str, str]) -> Mapping[str, str]:
    # Logins compare case-insensitively (GitHub's do): keys are kept lower-cased, and "Alice"
    # next to "alice" is one person written twice.
    lowered: dict[str, str] = {}
    for login, company in value.items():
        key = login.lower()
        if key in lowered:
            raise ValueError(repeated_login(login))
        lowered[key] = company
    return MappingProxyType(lowered)


Window = Annotated[WindowConfig, BeforeValidator(_window)]
Label = Annotated[StrictStr, AfterValidator(_label)]
Company = Annotated[StrictStr, AfterValidator(_company)]


class LabelsConfig(Section):
    """Issue labels that mark newcomer-friendly work; compared case-insensitively."""

    good_first_issue: tuple[Label, ...] = ("good first issue", "good-first-issue")
    help_wanted: tuple[Label, ...] = ("help wanted", "help-wanted")


class EpisodicConfig(Section):
    """Episodic contributors (DevStats): active in the window, not in the ``lookback`` before it,
    and with at most ``max_contributions`` contributions in all."""

    lookback: Annotated[Duration, at_least(MIN_WINDOW, "1h")] = timedelta(days=90)
    max_contributions: Annotated[StrictInt, Field(ge=1)] = 5


_SUBSECTIONS = ("labels", "episodic")


class HealthConfig(Section):
    windows: Annotated[tuple[Window, ...], AfterValidator(_unique_windows)] = (
        WindowConfig(name="7d", duration=timedelta(days=7)),
        WindowConfig(name="30d", duration=timedelta(days=30)),
        WindowConfig(name="90d", duration=timedelta(days=90)),
    )
    responders: Responders = "anyone"
    response_events: Annotated[tuple[ResponseEvent, ...], AfterValidator(_response_events)] = (
        RESPONSE_EVENTS
    )
    labels: LabelsConfig = Field(default_factory=LabelsConfig)
    episodic: EpisodicConfig = Field(default_factory=EpisodicConfig)
    # The median is taken over the intervals between the last release_intervals + 1 releases.
    release_intervals: Annotated[StrictInt, Field(ge=1, le=100)] = 10

    @model_validator(mode="before")
    @classmethod
    def _empty_subsections(cls, data: Any) -> Any:
        if isinstance(data, dict):
            # `labels:` with nothing under it means its defaults, as for top-level sections.
            empty: dict[str, Any] = {
                key: {} for key in _SUBSECTIONS if key in data and data[key] is None
            }
            return {**data, **empty}
        return data


class AffiliationsConfig(Section):
    """Which organization a person works for, for the Elephant Factor: ``overrides`` first, then
    the ``files`` (cncf/gitdm ``developers_affiliations*.txt``, dated), then GitHub profiles."""

    files: tuple[ReadableFile, ...] = ()  # checked readable here; parsed by the runtime
    overrides: Annotated[
        Mapping[Login, Company],
        AfterValidator(_overrides),
        WrapSerializer(lambda overrides, handler: handler(dict(overrides))),
    ] = Field(default_factory=lambda: MappingProxyType({}))
