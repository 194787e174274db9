"""History: the health metrics as they were at each past step, as one timestamped OpenMetrics
file for ``promtool tsdb create-blocks-from openmetrics`` — a year of trend on the first day.

The store is read once; for each step time ``t`` the data is rewound to what it was at ``t``
(``as_of``), the snapshot is computed with ``now=t`` and turned into the same families
``/metrics`` serves (``exposition.health_families``), minus the exporter's own
``healthexporter_*`` numbers, which describe this process rather than the past.

OpenMetrics wants each family under one header, each Metric's points contiguous and in
increasing time order, and ``# EOF`` at the end (promtool refuses a file without it). Steps
come in time order but the file is grouped by family, so values are recorded as compact
arrays (about 12 bytes a sample) and the text is streamed to the file at the end: the rendered
text, several times larger, is never held in memory.
"""

from __future__ import annotations

import logging
import math
import os
import re
import sys
import time
from array import array
from bisect import bisect_left
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from itertools import pairwise
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, TextIO

from healthexporter.collector import read_repository
from healthexporter.config import Config, parse_duration
from healthexporter.exposition import health_families
from healthexporter.health.compute import compute
from healthexporter.health.snapshot import HealthSettings, RepositoryData
from healthexporter.model import ActivityKind, Actor, Item, ItemKind, ItemState

if TYPE_CHECKING:
    from healthexporter.store import Store

log = logging.getLogger("healthexporter.history")

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
OWN_PREFIX = "healthexporter_"  # the process's own metrics: not history
_STATE_EVENTS = frozenset({ActivityKind.CLOSED, ActivityKind.MERGED, ActivityKind.REOPENED})
_DRAFT_EVENTS = frozenset({ActivityKind.READY_FOR_REVIEW, ActivityKind.CONVERT_TO_DRAFT})
_LABEL_NAME = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")  # Prometheus' label names


# --- arguments ------------------------------------------------------------------------------
def parse_date(text: str) -> date:
    """``YYYY-MM-DD`` (a UTC day); ValueError with a usable message otherwise."""
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(f"bad date '{text}': use YYYY-MM-DD") from None


def parse_step(text: str) -> timedelta:
    """A Prometheus-style duration (``1d``, ``12h``); must be positive."""
    step = parse_duration(text)
    if step <= timedelta(0):
        raise ValueError(f"bad step '{text}': must be positive")
    return step


def parse_labels(pairs: Iterable[str]) -> dict[str, str]:
    """``["job=healthexporter", "instance=host:9935"]`` → a dict; ValueError on a bad pair."""
    labels: dict[str, str] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not _LABEL_NAME.fullmatch(name) or name.startswith("__"):
            raise ValueError(f"bad label '{pair}': use NAME=VALUE")
        labels[name] = value
    return labels


def step_times(since: date, until: date | None, step: timedelta, now: datetime) -> list[datetime]:
    """``since`` 00:00 UTC, then every ``step``, up to and including ``until`` 00:00 UTC
    (default: ``now``) but never after ``now``: the future has no history yet."""
    if step <= timedelta(0):
        raise ValueError("step must be positive")
    start = datetime(since.year, since.month, since.day, tzinfo=UTC)
    end = now if until is None else datetime(until.year, until.month, until.day, tzinfo=UTC)
    end = min(end, now)
    times: list[datetime] = []
    at = start
    while at <= end:
        times.append(at)
        at += step
    return times


# --- the data as it was ---------------------------------------------------------------------
def item_as_of(item: Item, at: datetime) -> Item | None:
    """``item`` as it was just before ``at``, as far as the store knows; None if not yet opened.

    The maths already ignores activity at or after ``now``, but reads ``state``,
    ``closed_at``, ``merged_at`` and ``is_draft`` as they are today (``waiting`` counts only
    items OPEN today, for instance). Here they are replayed from the timeline: a final
    close or merge before ``at`` stands; otherwise the last close, merge or reopen before
    ``at`` decides, and with none the item was open. Draft state is the last draft transition
    before ``at``, or the opposite of the first one after it. Labels are today's: the store
    keeps no label history.
    """
    if item.created_at >= at:
        return None
    activities = item.activities
    cut = bisect_left([a.at for a in activities], at) if activities else 0
    final = (item.merged_at or item.closed_at) if item.state is not ItemState.OPEN else None
    if cut == len(activities) and (item.state is ItemState.OPEN or (final and final < at)):
        return item  # nothing happened to it at or after `at`
    past, future = activities[:cut], activities[cut:]
    state, closed_at, merged_at = item.state, item.closed_at, item.merged_at
    if item.state is ItemState.OPEN or final is None or final >= at:
        state, closed_at, merged_at = ItemState.OPEN, None, None
        for activity in reversed(past):
            if activity.kind in _STATE_EVENTS:
                if activity.kind is ActivityKind.CLOSED:
                    state, closed_at = ItemState.CLOSED, activity.at
                elif activity.kind is ActivityKind.MERGED:
                    state, closed_at, merged_at = ItemState.MERGED, activity.at, activity.at
                break
    is_draft = item.is_draft
    if item.kind is ItemKind.PULL_REQUEST:
        before = [a.kind for a in past if a.kind in _DRAFT_EVENTS]
        after = [a.kind for a in future if a.kind in _DRAFT_EVENTS]
        if before:
            is_draft = before[-1] is ActivityKind.CONVERT_TO_DRAFT
        elif after:
            is_draft = after[0] is ActivityKind.READY_FOR_REVIEW
    return replace(
        item,
        state=state,
        closed_at=closed_at,
        merged_at=merged_at,
        is_draft=is_draft,
        activities=past,
    )


def as_of(data: RepositoryData, at: datetime) -> RepositoryData | None:
    """The repository as it was just before ``at``; None if it did not exist yet.

    Items not yet opened and commits not yet made are dropped (they also make each step
    cheaper); releases and tags are left to the maths, which counts only those before ``now``.
    """
    if data.info is not None and data.info.created_at >= at:
        return None
    items = tuple(i for i in (item_as_of(item, at) for item in data.items) if i is not None)
    commits = tuple(c for c in data.commits if c.committed_at < at)
    return replace(data, items=items, commits=commits)


def load(store: Store, targets: Sequence[tuple[str, str]]) -> list[RepositoryData]:
    """Every target's whole stored history, read once: each step rewinds it (``as_of``), so
    unlike the collector, which reads only what the windows as of now need, it needs all."""
    repositories = {r.full_name.lower(): r for _, r in store.repositories()}
    return [
        read_repository(store, project, name, repositories.get(name.lower()))
        for project, name in targets
    ]


# --- recording ------------------------------------------------------------------------------
class _Sample(Protocol):
    """The part of prometheus_client's ``Sample`` read here (only exposition imports it)."""

    @property
    def name(self) -> str: ...
    @property
    def labels(self) -> Mapping[str, str]: ...
    @property
    def value(self) -> float: ...


class _Family(Protocol):
    @property
    def name(self) -> str: ...
    @property
    def type(self) -> str: ...
    @property
    def documentation(self) -> str: ...
    @property
    def unit(self) -> str: ...
    @property
    def samples(self) -> Sequence[_Sample]: ...


def _escape(text: str) -> str:
    # OpenMetrics: backslash, double quote and line feed are escaped in label values and HELP
    return text.replace("\\", r"\\").replace("\n", r"\n").replace('"', r"\"")


def go_float(value: float) -> str:
    """A value as client_python writes it (``floatToGoString``), so files and scrapes agree."""
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if math.isnan(value):
        return "NaN"
    text = repr(float(value))
    dot = text.find(".")
    if value > 0 and dot > 6:  # Go switches to exponents sooner than Python
        mantissa = f"{text[0]}.{text[1:dot]}{text[dot + 1 :]}".rstrip("0.")
        return f"{mantissa}e+{dot - 1:02d}"
    return text


def _series_text(name: str, labels: Mapping[str, str]) -> str:
    if not labels:
        return name
    pairs = ",".join(f'{key}="{_escape(labels[key])}"' for key in sorted(labels))
    return f"{name}{{{pairs}}}"


def _header(family: _Family) -> str:
    lines = f"# HELP {family.name} {_escape(family.documentation)}\n"
    lines += f"# TYPE {family.name} {family.type}\n"
    if family.unit:
        lines += f"# UNIT {family.name} {family.unit}\n"
    return lines


def _timestamp(at: datetime) -> str:
    seconds = at.timestamp()
    return str(int(seconds)) if seconds.is_integer() else f"{seconds:.3f}"


@dataclass
class _Series:
    """One series' values: the step each was taken at (index into the step times)."""

    steps: array[int]
    values: array[float]


class _FamilyHistory:
    """One family over time: its header and its Metrics (label sets without ``le``), each
    holding its series (a histogram's buckets, count and sum; a gauge's one series)."""

    def __init__(self, header: str) -> None:
        self.header = header
        self.metrics: dict[tuple[tuple[str, str], ...], dict[str, _Series]] = {}

    def add(self, step: int, sample: _Sample, extra: Mapping[str, str]) -> None:
        labels = sample.labels
        if extra:
            clash = extra.keys() & labels.keys()
            if clash:
                raise ValueError(f"label {min(clash)}: {sample.name} has it already")
            labels = {**labels, **extra}
        metric = tuple(sorted((k, v) for k, v in labels.items() if k != "le"))
        series = self.metrics.setdefault(metric, {})
        key = _series_text(sample.name, labels)
        record = series.get(key)
        if record is None:
            record = series[key] = _Series(array("I"), array("d"))
        record.steps.append(step)
        record.values.append(sample.value)

    def write(self, out: TextIO, timestamps: Sequence[str]) -> int:
        """The header, then each Metric's points in time order, each point's samples together
        in the order /metrics gives them (buckets by ``le``, then count and sum)."""
        out.write(self.header)
        written = 0
        for series in self.metrics.values():
            if len(series) == 1:
                [(key, record)] = series.items()
                for step, value in zip(record.steps, record.values, strict=True):
                    out.write(f"{key} {go_float(value)} {timestamps[step]}\n")
                written += len(record.steps)
                continue
            positions = dict.fromkeys(series, 0)
            for step in sorted({s for record in series.values() for s in record.steps}):
                for key, record in series.items():
                    index = positions[key]
                    if index < len(record.steps) and record.steps[index] == step:
                        out.write(f"{key} {go_float(record.values[index])} {timestamps[step]}\n")
                        positions[key] = index + 1
                        written += 1
        return written


class HistoryRecorder:
    """Collects each step's families (in time order) and writes one OpenMetrics file."""

    def __init__(self, labels: Mapping[str, str] | None = None) -> None:
        self._labels = dict(labels or {})
        self._families: dict[str, _FamilyHistory] = {}
        self._timestamps: list[str] = []

    def record(self, at: datetime, families: Iterable[_Family]) -> None:
        step = len(self._timestamps)
        self._timestamps.append(_timestamp(at))
        for family in families:
            if family.name.startswith(OWN_PREFIX):
                continue
            history = self._families.get(family.name)
            if history is None:
                history = self._families[family.name] = _FamilyHistory(_header(family))
            for sample in family.samples:
                history.add(step, sample, self._labels)

    @property
    def steps(self) -> int:
        return len(self._timestamps)

    def write(self, out: TextIO) -> int:
        """Every family, then ``# EOF``; the number of samples written."""
        written = sum(f.write(out, self._timestamps) for f in self._families.values())
        out.write("# EOF\n")
        return written


def _memoized(is_bot: Callable[[Actor], bool]) -> Callable[[Actor], bool]:
    """``is_bot`` answers the same for an actor at every step; the matcher's patterns were a
    third of a year's computing time before this cache (the maths asks millions of times)."""
    answers: dict[Actor, bool] = {}

    def cached(actor: Actor) -> bool:
        answer = answers.get(actor)
        if answer is None:
            answer = answers[actor] = is_bot(actor)
        return answer

    return cached


# --- the command ----------------------------------------------------------------------------
@dataclass(frozen=True)
class HistoryResult:
    steps: int
    samples: int
    compute_seconds: float
    write_seconds: float


def write_history(
    datas: Sequence[RepositoryData],
    settings: HealthSettings,
    times: Sequence[datetime],
    out: TextIO,
    *,
    labels: Mapping[str, str] | None = None,
) -> HistoryResult:
    """Compute the snapshot at each of ``times`` (increasing) and write the OpenMetrics file."""
    if any(b <= a for a, b in pairwise(times)):
        raise ValueError("step times must increase")
    recorder = HistoryRecorder(labels)
    settings = replace(settings, is_bot=_memoized(settings.is_bot))
    started = time.monotonic()
    for number, at in enumerate(times, 1):
        rewound = [d for d in (as_of(data, at) for data in datas) if d is not None]
        recorder.record(at, health_families(compute(rewound, settings, at)))
        if number % 30 == 0:
            log.info("history: %d of %d steps computed", number, len(times))
    computed = time.monotonic()
    samples = recorder.write(out)
    return HistoryResult(len(times), samples, computed - started, time.monotonic() - computed)


def run_history(
    config: Config,
    since: date,
    until: date | None,
    step: timedelta,
    output: Path,
    *,
    labels: Mapping[str, str] | None = None,
    now: datetime | None = None,
    out: TextIO | None = None,
    err: TextIO | None = None,
) -> int:
    """``healthexporter history``: exit 0 when written, 1 when nothing is stored, 2 on bad
    arguments or an unreadable store. The file appears whole or not at all (written beside
    it, then renamed)."""
    from healthexporter import runtime
    from healthexporter.errors import StoreError
    from healthexporter.store.sqlite import SQLiteStore

    out, err = out or sys.stdout, err or sys.stderr
    runtime.setup_logging(config.logging.level, config.logging.format)  # progress at info
    now = now or datetime.now(UTC)
    try:
        times = step_times(since, until, step, now)
    except ValueError as error:
        print(f"healthexporter: {error}", file=err)
        return EXIT_USAGE
    if not times:
        print(f"healthexporter: --since {since} is after --until or in the future", file=err)
        return EXIT_USAGE
    try:
        store = SQLiteStore.open(config.storage.path)
    except StoreError as error:
        print(f"healthexporter: {error}", file=err)
        return EXIT_USAGE
    try:
        targets = [(t.project, t.repository) for t in runtime.known_targets(config, store)]
        datas = load(store, targets)
        settings = runtime.HealthSettingsFactory(config, store)()
    finally:
        store.close()
    if not any(d.items or d.commits or d.releases or d.tags for d in datas):
        print("healthexporter: nothing stored yet: run `healthexporter sync` first", file=err)
        return EXIT_FAILED
    partial = output.with_name(f".{output.name}.partial")
    try:
        with partial.open("w", encoding="utf-8", newline="\n") as file:
            result = write_history(datas, settings, times, file, labels=labels)
        os.replace(partial, output)
    except ValueError as error:  # an extra label the metrics already have
        print(f"healthexporter: {error}", file=err)
        partial.unlink(missing_ok=True)
        return EXIT_USAGE
    except OSError as error:
        print(f"healthexporter: {output}: {error.strerror or error}", file=err)
        partial.unlink(missing_ok=True)
        return EXIT_FAILED
    print(
        f"{output}: {result.samples} samples at {result.steps} steps "
        f"({times[0]:%Y-%m-%d %H:%M} … {times[-1]:%Y-%m-%d %H:%M} UTC) in "
        f"{result.compute_seconds + result.write_seconds:.1f} s",
        file=out,
    )
    return EXIT_OK
