"""``history``: the metrics as they were at each past step, imported by the real promtool and
queried from a real Prometheus.

Pure parts are table-driven with literal data; the end-to-end test syncs a simulated
repository into a store, writes a month of daily history, runs
``promtool tsdb create-blocks-from openmetrics`` and asks ``prometheus`` for ``query_range``
over the imported blocks. Both binaries are required: a missing one fails the test.
"""

from __future__ import annotations

import io
import math
import re
import shutil
import subprocess
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from prometheus_client.core import Metric
from prometheus_client.utils import floatToGoString

from healthexporter import runtime
from healthexporter.cli import main
from healthexporter.config import Config, load_config
from healthexporter.exposition import health_families, render
from healthexporter.health.compute import compute
from healthexporter.health.snapshot import HealthSettings, RepositoryData
from healthexporter.history import (
    as_of,
    go_float,
    item_as_of,
    load,
    parse_date,
    parse_labels,
    parse_step,
    run_history,
    step_times,
    write_history,
)
from healthexporter.model import Activity, ActivityKind, Actor, ActorKind, Item, ItemKind, ItemState
from healthexporter.simulator.generate import generate
from healthexporter.store.sqlite import SQLiteStore

from .conftest import free_port, simulator

DAY = timedelta(days=1)
T0 = datetime(2024, 5, 1, tzinfo=UTC)
AUTHOR = Actor("ann", ActorKind.USER)
MAINTAINER = Actor("max", ActorKind.USER)
# The simulated repository's present is in the past, so the imported month is far from
# Prometheus' head block and from any retention edge but the one we set.
SIMULATED_NOW = datetime(2025, 3, 1, tzinfo=UTC)
DAYS = 30


def day(n: float) -> datetime:
    return T0 + n * DAY


# --- arguments ------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("since", "until", "step", "now", "expected"),
    [
        # until defaults to now; since is 00:00 UTC; now itself is a step when it falls on one
        (date(2024, 5, 1), None, DAY, day(2), [day(0), day(1), day(2)]),
        (date(2024, 5, 1), None, DAY, day(2.5), [day(0), day(1), day(2)]),
        # until is inclusive (its 00:00) but never past now
        (date(2024, 5, 1), date(2024, 5, 2), DAY, day(9), [day(0), day(1)]),
        (date(2024, 5, 1), date(2024, 5, 9), DAY, day(1.5), [day(0), day(1)]),
        (date(2024, 5, 1), None, timedelta(hours=12), day(1), [day(0), day(0.5), day(1)]),
        # nothing to do: since in the future, or after until
        (date(2024, 5, 4), None, DAY, day(2), []),
        (date(2024, 5, 3), date(2024, 5, 2), DAY, day(9), []),
    ],
)
def test_step_times(
    since: date, until: date | None, step: timedelta, now: datetime, expected: list[datetime]
) -> None:
    assert step_times(since, until, step, now) == expected


def test_parsing_helpers() -> None:
    assert parse_date("2024-05-01") == date(2024, 5, 1)
    assert parse_step("1d") == DAY
    assert parse_step("6h") == timedelta(hours=6)
    assert parse_labels(["job=healthexporter", "instance=host:9935"]) == {
        "job": "healthexporter",
        "instance": "host:9935",
    }
    for bad in ("2024-13-01", "yesterday", ""):
        with pytest.raises(ValueError, match="YYYY-MM-DD"):
            parse_date(bad)
    for bad in ("0s", "1y", "-1d"):
        with pytest.raises(ValueError, match=r"step|duration"):
            parse_step(bad)
    for bad in ("job", "=x", "__name__=x", "a-b=c", "1a=b", "é=x"):
        with pytest.raises(ValueError, match="NAME=VALUE"):
            parse_labels([bad])


# --- the data as it was ---------------------------------------------------------------------
def activity(kind: ActivityKind, at: float, actor: Actor = MAINTAINER) -> Activity:
    return Activity(f"{kind.value}-{at}", kind, actor, day(at), "MEMBER")


def item(
    state: ItemState = ItemState.OPEN,
    *activities: Activity,
    kind: ItemKind = ItemKind.ISSUE,
    closed: float | None = None,
    merged: float | None = None,
    draft: bool = False,
    number: int = 1,
) -> Item:
    return Item(
        repository="o/r",
        number=number,
        kind=kind,
        state=state,
        created_at=day(0),
        updated_at=day(20),
        author=AUTHOR,
        author_association="NONE",
        closed_at=None if closed is None else day(closed),
        merged_at=None if merged is None else day(merged),
        is_draft=draft,
        activities=tuple(activities),
    )


CLOSE_10 = activity(ActivityKind.CLOSED, 10)
REOPEN_12 = activity(ActivityKind.REOPENED, 12)
CLOSE_14 = activity(ActivityKind.CLOSED, 14)
MERGE_10 = activity(ActivityKind.MERGED, 10)
READY_10 = activity(ActivityKind.READY_FOR_REVIEW, 10, AUTHOR)
DRAFT_10 = activity(ActivityKind.CONVERT_TO_DRAFT, 10, AUTHOR)
PR = ItemKind.PULL_REQUEST


OPEN, CLOSED, MERGED = ItemState.OPEN, ItemState.CLOSED, ItemState.MERGED
AsOf = tuple[ItemState, float | None, float | None, bool]  # state, closed, merged, draft


@pytest.mark.parametrize(
    ("stored", "at", "expected"),
    [
        # closed after t: open at t, and its close is not known yet
        (item(CLOSED, CLOSE_10, closed=10), 5, (OPEN, None, None, False)),
        (item(CLOSED, CLOSE_10, closed=10), 11, (CLOSED, 10, None, False)),
        # no close event stored (a partial timeline): closed_at alone decides
        (item(CLOSED, closed=10), 5, (OPEN, None, None, False)),
        (item(CLOSED, closed=10), 11, (CLOSED, 10, None, False)),
        # closed, reopened, closed again: each period as it was
        (item(CLOSED, CLOSE_10, REOPEN_12, CLOSE_14, closed=14), 11, (CLOSED, 10, None, False)),
        (item(CLOSED, CLOSE_10, REOPEN_12, CLOSE_14, closed=14), 13, (OPEN, None, None, False)),
        (item(OPEN, CLOSE_10, REOPEN_12, closed=10), 11, (CLOSED, 10, None, False)),
        # nothing happened since t: today's item as stored (GitHub keeps a reopened closedAt)
        (item(OPEN, CLOSE_10, REOPEN_12, closed=10), 13, (OPEN, 10, None, False)),
        # merged after t: an open pull request at t
        (item(MERGED, MERGE_10, kind=PR, closed=10, merged=10), 5, (OPEN, None, None, False)),
        (item(MERGED, MERGE_10, kind=PR, closed=10, merged=10), 11, (MERGED, 10, 10, False)),
        # drafts: the last transition before t, else the opposite of the first after it
        (item(OPEN, READY_10, kind=PR), 5, (OPEN, None, None, True)),
        (item(OPEN, READY_10, kind=PR), 11, (OPEN, None, None, False)),
        (item(OPEN, DRAFT_10, kind=PR, draft=True), 5, (OPEN, None, None, False)),
        (item(OPEN, DRAFT_10, kind=PR, draft=True), 11, (OPEN, None, None, True)),
        (item(OPEN, kind=PR, draft=True), 5, (OPEN, None, None, True)),
    ],
)
def test_item_as_of(stored: Item, at: float, expected: AsOf) -> None:
    rewound = item_as_of(stored, day(at))
    assert rewound is not None
    state, closed_at, merged_at, is_draft = expected
    assert (rewound.state, rewound.closed_at, rewound.merged_at, rewound.is_draft) == (
        state,
        None if closed_at is None else day(closed_at),
        None if merged_at is None else day(merged_at),
        is_draft,
    )
    assert all(a.at < day(at) for a in rewound.activities)


def test_an_item_not_yet_opened_does_not_exist() -> None:
    assert item_as_of(item(), day(0)) is None
    data = RepositoryData("p", "o/r", None, (item(),))
    rewound = as_of(data, day(0))
    assert rewound is not None
    assert rewound.items == ()


def test_an_item_closed_after_t_is_open_and_waiting_at_t() -> None:
    """The close (by a maintainer, so also the first response) comes on day 10."""
    data = RepositoryData("p", "o/r", None, (item(ItemState.CLOSED, CLOSE_10, closed=10),))
    out = io.StringIO()
    write_history([data], HealthSettings(), [day(5), day(11)], out)
    values = series_values(out.getvalue())
    waiting = 'github_health_waiting_items{kind="issue",project="p",repository="o/r"}'
    closed = 'github_health_closed_items{kind="issue",project="p",repository="o/r",window="7d"}'
    assert values[waiting] == [(day(5), 1.0), (day(11), 0.0)]
    assert values[closed] == [(day(5), 0.0), (day(11), 1.0)]


# --- the file -------------------------------------------------------------------------------
def series_values(text: str) -> dict[str, list[tuple[datetime, float]]]:
    """``name{labels}`` → [(time, value)] in file order, from a history file."""
    values: dict[str, list[tuple[datetime, float]]] = {}
    for line in text.splitlines():
        if not line.startswith("#"):
            series, value, timestamp = line.rsplit(" ", 2)
            at = datetime.fromtimestamp(float(timestamp), UTC)
            values.setdefault(series, []).append((at, float(value)))
    return values


@pytest.mark.parametrize(
    "value",
    [
        0.0,
        1.0,
        -1.0,
        0.5,
        1e-7,
        300.0,
        86400.0,
        1.2096e6,
        2592000.0,
        1.7e9,
        123456.0,
        1234567.0,
        1234567.25,
        2.0**60,
        math.inf,
        -math.inf,
        math.nan,
        3,
    ],
)
def test_values_are_spelled_as_client_python_spells_them(value: float) -> None:
    assert go_float(value) == floatToGoString(value)  # type: ignore[no-untyped-call]


# --- a simulated store ----------------------------------------------------------------------
@dataclass(frozen=True)
class Synced:
    config: Config
    datas: list[RepositoryData]
    settings: HealthSettings


@pytest.fixture(scope="module")
def synced(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Synced]:
    directory = tmp_path_factory.mktemp("history")
    dataset = generate("kube-rs:items=300", now=SIMULATED_NOW)
    with pytest.MonkeyPatch.context() as patch, simulator(dataset) as server:
        patch.setenv("HE_HISTORY_TOKEN", "history-token")
        path = directory / "config.yaml"
        path.write_text(
            f"github: {{api_url: '{server.url}', token_env: HE_HISTORY_TOKEN, max_retries: 0}}\n"
            "projects: {kube: {repositories: [kube-rs/kube]}}\n"
            "storage: {path: store.db}\n"
            "logging: {level: warning}\n",
            encoding="utf-8",
        )
        assert main(["sync", "--config.file", str(path), "--output", "json"]) == 0
    config = load_config(path)
    store = SQLiteStore.open(config.storage.path)
    try:
        targets = [(t.project, t.repository) for t in runtime.known_targets(config, store)]
        datas = load(store, targets)
        settings = runtime.HealthSettingsFactory(config, store)()
    finally:
        store.close()
    yield Synced(config, datas, settings)


def without_exemplar(line: str) -> str:
    return line.split(" # ", 1)[0]


def test_a_step_has_the_names_labels_and_values_metrics_serves(synced: Synced) -> None:
    at = SIMULATED_NOW - 3 * DAY
    out = io.StringIO()
    write_history(synced.datas, synced.settings, [at], out)
    history = out.getvalue().splitlines()
    assert history[-1] == "# EOF"
    stamp = f" {int(at.timestamp())}"
    assert all(line.endswith(stamp) for line in history if not line.startswith("#"))
    served = render(
        f
        for f in health_families(compute(rewind(synced.datas, at), synced.settings, at))
        if not f.name.startswith("healthexporter_")
    ).openmetrics.decode()
    expected = [without_exemplar(line) for line in served.splitlines()]
    assert [line.removesuffix(stamp) for line in history] == expected


def rewind(datas: Sequence[RepositoryData], at: datetime) -> list[RepositoryData]:
    return [d for d in (as_of(data, at) for data in datas) if d is not None]


LINE = re.compile(
    r"(?P<name>[a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(?P<labels>.*)\})? (?P<value>\S+) (?P<ts>\S+)"
)
LABEL = re.compile(r'([a-zA-Z_]\w*)="((?:[^"\\]|\\.)*)"')


def check_grouping(text: str) -> dict[str, dict[str, str]]:
    """The OpenMetrics rules promtool leaves unchecked: each family once, under its header; each
    Metric (label set without ``le``) contiguous; each series' timestamps increasing; ``# EOF``
    last. (client_python's parser cannot check these here: it drops the second point of a
    timestamped histogram as a "duplicate".) Returns each family's TYPE and the labels seen."""
    lines = text.splitlines()
    assert lines[-1] == "# EOF"
    types: dict[str, dict[str, str]] = {}
    family = ""
    metrics_seen: set[tuple[str, tuple[tuple[str, str], ...]]] = set()
    current: tuple[str, tuple[tuple[str, str], ...]] | None = None
    last: dict[str, float] = {}
    for line in lines[:-1]:
        if line.startswith("# TYPE "):
            _, _, family, kind = line.split(" ")
            assert family not in types, f"{family} twice"
            types[family] = {"type": kind}
            continue
        if line.startswith("#"):
            continue
        match = LINE.fullmatch(line)
        assert match is not None, line
        assert match["name"].startswith(family), f"{match['name']} outside {family}"
        labels = dict(LABEL.findall(match["labels"] or ""))
        types[family].update(labels)
        metric = (family, tuple(sorted((k, v) for k, v in labels.items() if k != "le")))
        if metric != current:
            assert metric not in metrics_seen, f"{metric} interleaved"
            metrics_seen.add(metric)
            current = metric
        series = match["name"] + (match["labels"] or "")
        at = float(match["ts"])
        assert at > last.get(series, -math.inf), f"{series} goes back in time"
        last[series] = at
    return types


def test_the_file_is_grouped_by_family_and_metric_in_time_order(synced: Synced) -> None:
    times = [SIMULATED_NOW - n * DAY for n in (3, 2, 1)]
    out = io.StringIO()
    write_history(synced.datas, synced.settings, times, out, labels={"job": "healthexporter"})
    text = out.getvalue()
    families = check_grouping(text)
    assert not any(name.startswith("healthexporter_") for name in families)
    assert families["github_health_first_response_seconds"]["type"] == "gaugehistogram"
    assert all(family.get("job") == "healthexporter" for family in families.values())
    assert " # {" not in text  # no exemplars: promtool would drop them anyway
    stamps = {line.rsplit(" ", 1)[1] for line in text.splitlines() if not line.startswith("#")}
    assert stamps == {str(int(t.timestamp())) for t in times}


def test_run_history_exit_codes(
    synced: Synced, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    output = tmp_path / "history.om"
    since = (SIMULATED_NOW - 2 * DAY).date()
    assert run_history(synced.config, since, None, DAY, output, now=SIMULATED_NOW) == 0
    assert output.read_text(encoding="utf-8").endswith("# EOF\n")
    assert "3 steps" in capsys.readouterr().out
    # since in the future, or a step of nothing: usage errors, no file
    later = tmp_path / "later.om"
    assert run_history(synced.config, date(2030, 1, 1), None, DAY, later) == 2
    assert run_history(synced.config, since, None, timedelta(0), later) == 2
    assert not later.exists()
    # an extra label the metrics have already
    labels = {"window": "1y"}
    assert (
        run_history(synced.config, since, None, DAY, later, labels=labels, now=SIMULATED_NOW) == 2
    )
    assert "label window" in capsys.readouterr().err
    assert not later.exists()
    # an empty store: nothing to compute from
    empty = synced.config.model_copy(
        update={"storage": synced.config.storage.model_copy(update={"path": tmp_path / "e.db"})}
    )
    assert run_history(empty, since, None, DAY, later, now=SIMULATED_NOW) == 1
    assert "sync" in capsys.readouterr().err
    assert not later.exists()


# --- promtool and Prometheus ----------------------------------------------------------------
def binary(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.fail(f"{name} is not installed (Debian: apt-get install prometheus)")
    return path


class Prometheus:
    """A real Prometheus on loopback over ``data``, started once the caller has imported into
    it (Prometheus reads blocks it finds at startup) and terminated by the fixture."""

    def __init__(self, directory: Path) -> None:
        self.data = directory / "data"
        self.data.mkdir()
        self.url = f"http://127.0.0.1:{free_port()}"
        self._config = directory / "prometheus.yml"
        self._config.write_text("scrape_configs: []\n", encoding="utf-8")
        self._log = directory / "prometheus.log"
        self._process: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 60) -> None:
        with self._log.open("wb") as log:
            self._process = subprocess.Popen(
                [
                    binary("prometheus"),
                    f"--config.file={self._config}",
                    f"--storage.tsdb.path={self.data}",
                    "--storage.tsdb.retention.time=10y",
                    f"--web.listen-address={self.url.removeprefix('http://')}",
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                pytest.fail(f"prometheus exited:\n{self._log.read_text()}")
            try:
                if httpx.get(f"{self.url}/-/ready", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        pytest.fail(f"prometheus not ready after {timeout:.0f} s:\n{self._log.read_text()}")

    def stop(self) -> None:
        if self._process is None:
            return
        self._process.terminate()
        try:
            self._process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()


@pytest.fixture
def prometheus(tmp_path: Path) -> Iterator[Prometheus]:
    server = Prometheus(tmp_path)
    try:
        yield server
    finally:
        server.stop()


def query_range(url: str, query: str, start: datetime, end: datetime) -> list[tuple[float, float]]:
    response = httpx.get(
        f"{url}/api/v1/query_range",
        params={
            "query": query,
            "start": str(start.timestamp()),
            "end": str(end.timestamp()),
            "step": "1d",
        },
        timeout=30,
    )
    assert response.status_code == 200, response.text
    result = response.json()["data"]["result"]
    assert len(result) == 1, result
    return [(float(at), float(value)) for at, value in result[0]["values"]]


def value_of(families: Sequence[Metric], name: str, labels: Mapping[str, str]) -> float:
    [value] = [
        s.value
        for f in families
        for s in f.samples
        if s.name == name and all(s.labels.get(k) == v for k, v in labels.items())
    ]
    return float(value)


def bucket_quantile(q: float, buckets: Sequence[tuple[float, float]]) -> float:
    """Prometheus' ``histogram_quantile`` over cumulative ``(le, count)`` buckets: linear
    interpolation inside the bucket, 0 as the first bucket's lower bound, and the highest
    finite bound when the rank falls in +Inf."""
    total = buckets[-1][1]
    if total == 0:
        return math.nan
    rank = q * total
    index = next(i for i, (_, count) in enumerate(buckets) if count >= rank)
    if index == len(buckets) - 1:
        return buckets[-2][0]
    lower, below = (0.0, 0.0) if index == 0 else buckets[index - 1]
    upper, count = buckets[index]
    return lower + (upper - lower) * (rank - below) / (count - below)


ACTIVE = 'github_health_active_contributors{window="30d",contribution="any"}'
MEDIAN = (
    "histogram_quantile(0.5, sum by (le) "
    '(github_health_first_response_seconds_bucket{window="90d",kind="pull_request"}))'
)


@pytest.mark.slow
def test_promtool_imports_and_prometheus_serves_a_month(
    synced: Synced, tmp_path: Path, prometheus: Prometheus
) -> None:
    since = (SIMULATED_NOW - DAYS * DAY).date()
    output = tmp_path / "history.om"
    assert run_history(synced.config, since, SIMULATED_NOW.date(), DAY, output) == 0
    imported = subprocess.run(
        [
            binary("promtool"),
            "tsdb",
            "create-blocks-from",
            "openmetrics",
            "--max-block-duration=744h",
            str(output),
            str(prometheus.data),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert imported.returncode == 0, imported.stdout + imported.stderr
    prometheus.start()

    start = datetime(since.year, since.month, since.day, tzinfo=UTC)
    times = [start + n * DAY for n in range(DAYS + 1)]
    active = query_range(prometheus.url, ACTIVE, times[0], times[-1])
    median = query_range(prometheus.url, MEDIAN, times[0], times[-1])
    assert [at for at, _ in active] == [t.timestamp() for t in times]
    assert [at for at, _ in median] == [t.timestamp() for t in times]

    # a few steps against a direct computation at that time, from the same stored data
    # (not rewound: the maths itself ignores what came at or after `now` for these two)
    for index in (0, DAYS // 2, DAYS):
        at = times[index]
        families = health_families(compute(synced.datas, synced.settings, at))
        expected_active = value_of(
            families,
            "github_health_active_contributors",
            {"window": "30d", "contribution": "any"},
        )
        assert active[index][1] == expected_active
        buckets = [
            (
                float(s.labels["le"]),
                float(s.value),
            )
            for f in families
            for s in f.samples
            if s.name == "github_health_first_response_seconds_bucket"
            and s.labels["window"] == "90d"
            and s.labels["kind"] == "pull_request"
        ]
        expected_median = bucket_quantile(0.5, buckets)
        assert median[index][1] == pytest.approx(expected_median, nan_ok=True)
    # the month is not flat zero: the test would prove little otherwise
    assert any(value > 0 for _, value in active)
    assert any(value > 0 for _, value in median)
