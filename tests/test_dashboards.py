"""The Grafana dashboards in dashboards/: well-formed, and every query works in a real Prometheus.

A dashboard is a set of PromQL strings that nothing compiles: a renamed metric or label, a typo
in a selector or a template variable that does not exist shows up only as an empty panel, long
after the change that broke it. So the end-to-end test below does what Grafana would: it loads
each dashboard, substitutes its template variables with values that exist, and runs every
panel's query against a Prometheus that scraped ``serve`` over the simulator — each must answer
with a non-empty result, and some with a sensible value. The static tests check what provisioning
and the Grafana Operator need (no ``__inputs``, one datasource variable, unique uids) and that
the GrafanaDashboard resources are what dashboards/generate_operator.py writes.
"""

from __future__ import annotations

import importlib.util
import json
import math
import os
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import pytest
import yaml

from healthexporter.simulator.generate import generate

from .conftest import free_port, run_serve, simulator, write_serve_config
from .prometheus import Prometheus, run_prometheus, wait_until

DASHBOARDS = Path(__file__).resolve().parent.parent / "dashboards"
DATASOURCE = {"type": "prometheus", "uid": "${datasource}"}
UIDS = {"project-health.json": "healthexporter-project", "exporter.json": "healthexporter-exporter"}
BANDS = {3600, 86400, 259200}  # 1h, 1d, 3d: docs/metrics.md, "Waiting"

# Grafana's own variables, as Grafana would fill them in for a short time range.
BUILTINS = {
    "__rate_interval": "1m",
    "__interval": "15s",
    "__interval_ms": "15000",
    "__range": "5m",
    "__range_s": "300",
    "__range_ms": "300000",
}
VARIABLE = re.compile(r"\$\{(\w+)(?::[^}]*)?\}|\[\[(\w+)(?::[^\]]*)?\]\]|\$(\w+)")
LABEL_VALUES = re.compile(r"^label_values\((?:(?P<selector>.+),\s*)?(?P<label>\w+)\)$")

# --- the stack: simulator → serve → Prometheus ----------------------------------------------

# Activity ends at the current hour, so the generated history fills the 7d/30d/90d windows.
NOW = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
SPEC = "kube-rs:items=600+org:2"
# Two projects, each with two repositories; "example-org/missing" does not exist, so its sync
# fails (not_found) and the exporter dashboard's error and status panels have something to show.
PROJECTS = {
    "kube": ["kube-rs/kube", "example-org/web-service"],
    "example": ["example-org/api-service", "example-org/missing"],
}
MISSING = "example-org/missing"
TOKEN_ENV = "HE_DASHBOARDS_TOKEN"
JOB = "healthexporter"


def load(name: str) -> dict[str, Any]:
    document: dict[str, Any] = json.loads((DASHBOARDS / name).read_text(encoding="utf-8"))
    return document


def panels(dashboard: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Every panel that shows data, including those inside collapsed rows."""
    for panel in dashboard["panels"]:
        if panel["type"] == "row":
            yield from panels({"panels": panel.get("panels", [])})
        else:
            yield panel


def variables(dashboard: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {variable["name"]: variable for variable in dashboard["templating"]["list"]}


def variable_query(variable: dict[str, Any]) -> str:
    query = variable["query"]
    return str(query["query"] if isinstance(query, dict) else query)


def substitute(expr: str, values: dict[str, str]) -> str:
    """``expr`` with ``$name``, ``${name}``, ``${name:format}`` and ``[[name]]`` filled in.

    An unknown variable fails: Grafana would leave it in the query, and Prometheus would
    reject the ``$``.
    """

    def value(match: re.Match[str]) -> str:
        name = next(group for group in match.groups() if group)
        merged = {**BUILTINS, **values}
        assert name in merged, f"undefined template variable ${name} in {expr}"
        return merged[name]

    return VARIABLE.sub(value, expr)


def write_config(directory: Path, api_url: str) -> Path:
    return write_serve_config(directory, api_url, PROJECTS, token_env=TOKEN_ENV, log_level="error")


def synced(url: str) -> bool:
    """Every repository's first sync finished (the missing one failed)."""
    try:
        text = httpx.get(f"{url}/metrics", timeout=10).text
    except httpx.HTTPError:
        return False
    done = re.findall(r'^healthexporter_sync_up\{[^}]*repository="([^"]+)"\} (\S+)', text, re.M)
    expected = {r: "0.0" if r == MISSING else "1.0" for names in PROJECTS.values() for r in names}
    return dict(done) == expected


def scrapes_done(prometheus: Prometheus, at_least: int) -> bool:
    done = prometheus.query(f'count_over_time(up{{job="{JOB}"}}[1m])')
    return bool(done) and float(done[0]["value"][1]) >= at_least


@dataclass
class Stack:
    prometheus: Prometheus
    instance: str


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    directory = tmp_path_factory.mktemp("dashboards")
    with pytest.MonkeyPatch.context() as env, simulator(generate(SPEC, now=NOW)) as github:
        env.setenv(TOKEN_ENV, "dashboards-token")
        config = write_config(directory, github.url)
        port = free_port()
        thread, stop = run_serve(config, port)
        try:
            wait_until(lambda: synced(f"http://127.0.0.1:{port}"), 30, "the first syncs")
            with run_prometheus(
                directory / "prometheus",
                free_port(),
                {JOB: f"127.0.0.1:{port}"},
                "exemplar-storage",
            ) as prometheus:
                # rate() and increase() over $__rate_interval need two samples at least.
                wait_until(lambda: scrapes_done(prometheus, 3), 40, "three scrapes", prometheus)
                yield Stack(prometheus, f"127.0.0.1:{port}")
        finally:
            stop.set()
            thread.join(timeout=30)
    assert not thread.is_alive(), "serve did not stop"
    assert TOKEN_ENV not in os.environ


# --- static ---------------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(UIDS))
def test_dashboard_is_provisionable(name: str) -> None:
    dashboard = load(name)
    assert dashboard["uid"] == UIDS[name]
    assert dashboard["schemaVersion"] >= 36  # Grafana 9.4+; written for 10/11 (39)
    # file provisioning and the operator load the JSON as it is: nothing may need an import
    assert "__inputs" not in dashboard and "__requires" not in dashboard
    assert "id" not in dashboard or dashboard["id"] is None
    declared = variables(dashboard)
    assert declared["datasource"]["type"] == "datasource"
    assert declared["datasource"]["query"] == "prometheus"
    ids = [panel["id"] for panel in dashboard["panels"]]
    ids += [panel["id"] for row in dashboard["panels"] for panel in row.get("panels", [])]
    assert len(ids) == len(set(ids)), "panel ids repeat"
    for panel in dashboard["panels"]:
        grid = panel["gridPos"]
        assert grid["x"] + grid["w"] <= 24, panel["title"]


def test_uids_are_unique() -> None:
    uids = [load(name)["uid"] for name in sorted(p.name for p in DASHBOARDS.glob("*.json"))]
    assert sorted(UIDS.values()) == sorted(uids)


def walk(node: Any) -> Iterator[tuple[str, Any]]:
    if isinstance(node, dict):
        for key, value in node.items():
            yield key, value
            yield from walk(value)
    elif isinstance(node, list):
        for item in node:
            yield from walk(item)


@pytest.mark.parametrize("name", sorted(UIDS))
def test_every_panel_queries_the_chosen_datasource(name: str) -> None:
    dashboard = load(name)
    for panel in panels(dashboard):
        assert panel.get("datasource") == DATASOURCE, panel["title"]
        assert panel.get("targets"), f"{panel['title']}: no query"
        assert panel.get("description"), f"{panel['title']}: say what it shows"
        refs = [target["refId"] for target in panel["targets"]]
        assert len(refs) == len(set(refs)), panel["title"]
        for target in panel["targets"]:
            assert target.get("datasource") == DATASOURCE, panel["title"]
            assert target["expr"].strip(), panel["title"]
            if "histogram_quantile" in target["expr"]:
                # quantiles of a gauge histogram: aggregate buckets first, keeping le
                assert "sum by (le" in target["expr"], target["expr"]
                assert panel["fieldConfig"]["defaults"]["unit"] == "s", panel["title"]
    # no hard-coded datasource anywhere (variables, targets, annotations): ${datasource} only
    for key, value in walk(dashboard):
        if key == "datasource" and isinstance(value, dict):
            assert value == DATASOURCE, value
        elif key == "datasource":
            raise AssertionError(f"datasource given by name: {value!r}")


def test_project_dashboard_shape() -> None:
    dashboard = load("project-health.json")
    declared = variables(dashboard)
    assert list(declared) == ["datasource", "project", "repository", "window"]
    assert "$project" in variable_query(declared["repository"])
    rows = [panel["title"] for panel in dashboard["panels"] if panel["type"] == "row"]
    assert rows == [
        "Responsiveness", "Contributors", "Risk", "Velocity", "Releases", "Inclusivity",
    ]  # fmt: skip
    first_response = [
        panel for panel in panels(dashboard) if panel["title"].startswith("First response")
    ]
    assert first_response
    for panel in first_response:
        assert any(target.get("exemplar") for target in panel["targets"]), panel["title"]
        steps = panel["fieldConfig"]["defaults"]["thresholds"]["steps"]
        assert {step["value"] for step in steps} - {None} == BANDS, panel["title"]
    units = {
        panel["fieldConfig"]["defaults"].get("unit")
        for panel in panels(dashboard)
        if panel["type"] != "table"
    }
    assert {"s", "percentunit"} <= units


def load_generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "generate_operator", DASHBOARDS / "generate_operator.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_operator_resources_are_generated_from_the_json() -> None:
    expected: dict[str, str] = load_generator().render(DASHBOARDS)
    committed = {
        path.name: path.read_text(encoding="utf-8")
        for path in (DASHBOARDS / "grafana-operator").glob("*.yaml")
    }
    assert committed == expected, "run: python dashboards/generate_operator.py"
    for name, uid in UIDS.items():
        resource = yaml.safe_load(committed[name.replace(".json", ".yaml")])
        assert resource["apiVersion"] == "grafana.integreatly.org/v1beta1"
        assert resource["kind"] == "GrafanaDashboard"
        assert resource["metadata"]["name"] == uid
        assert resource["spec"]["instanceSelector"] == {"matchLabels": {"dashboards": "grafana"}}
        assert resource["spec"]["json"] == (DASHBOARDS / name).read_text(encoding="utf-8")


def test_substitute() -> None:
    values = {"project": "kube", "repository": ".*"}
    assert (
        substitute('x{project="$project", r=~"${repository}"}[$__rate_interval]', values)
        == 'x{project="kube", r=~".*"}[1m]'
    )
    assert substitute("[[project]] ${project:regex} $__range", values) == "kube kube 5m"
    with pytest.raises(AssertionError, match="undefined"):
        substitute("$nope", values)


# --- end to end -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Scenario:
    """Template variable values to run a dashboard with, and whether every panel must show data."""

    dashboard: str
    values: dict[str, str]
    all_panels_have_data: bool = True


def scenarios(stack: Stack) -> list[Scenario]:
    everything = {"project": "kube", "repository": ".*", "window": "30d"}
    return [
        # the defaults a maintainer opens (All repositories, 30d) and one repository over 90d
        Scenario("project-health.json", everything),
        Scenario("project-health.json", {**everything, "repository": "kube-rs/kube", "window": "90d"}),
        # the small repositories and the short window may have nothing to show in some
        # panels, but every query must still be valid PromQL
        Scenario("project-health.json", {**everything, "window": "7d"}, all_panels_have_data=False),
        Scenario("project-health.json", {"project": "example", "repository": ".*", "window": "30d"}, all_panels_have_data=False),
        Scenario("exporter.json", {"job": JOB, "instance": ".*", "project": ".*"}),
        Scenario("exporter.json", {"job": JOB, "instance": stack.instance, "project": "kube"}),
    ]  # fmt: skip


def sensible(panel: dict[str, Any], expr: str, values: list[float]) -> None:
    """Values a panel of this kind can show: finite, never negative, within its stated range."""
    defaults = panel["fieldConfig"]["defaults"]
    unit = defaults.get("unit")
    for value in values:
        assert math.isfinite(value) and value >= 0, (panel["title"], expr, value)
        if "max" in defaults:
            assert value <= defaults["max"], (panel["title"], expr, value)
        if unit == "dateTimeFromNow":  # milliseconds since the epoch, in the last ten years
            assert time.time() * 1000 - 10 * 365 * 86400_000 < value, (panel["title"], value)
            assert value < (time.time() + 86400) * 1000, (panel["title"], value)
    if "Bus factor" in panel["title"]:
        assert min(values) >= 1, (panel["title"], values)


@pytest.mark.slow
def test_every_panel_query_returns_data(stack: Stack) -> None:
    checked = 0
    for scenario in scenarios(stack):
        dashboard = load(scenario.dashboard)
        values = {"datasource": "", **scenario.values}
        for panel in panels(dashboard):
            for target in panel["targets"]:
                expr = substitute(target["expr"], values)
                result = stack.prometheus.query(expr)  # fails on a PromQL error
                checked += 1
                if not scenario.all_panels_have_data:
                    continue
                assert result, f"{scenario}: {panel['title']!r} {target['refId']}: empty: {expr}"
                sensible(panel, expr, [float(sample["value"][1]) for sample in result])
    assert checked > 100


@pytest.mark.slow
def test_sensible_values(stack: Stack) -> None:
    """A few panels whose value this setup knows."""
    exporter = {panel["title"]: panel for panel in panels(load("exporter.json"))}
    values = {"job": JOB, "instance": ".*", "project": ".*"}

    def run(panel: dict[str, Any]) -> list[dict[str, Any]]:
        return stack.prometheus.query(substitute(panel["targets"][0]["expr"], values))

    [failing] = run(exporter["Repositories failing"])
    assert float(failing["value"][1]) == 1  # example-org/missing
    errors = {
        (sample["metric"]["repository"], sample["metric"].get("reason"))
        for sample in run(exporter["Sync errors"])
    }
    assert (MISSING, "not_found") in errors
    assert len({repository for repository, _ in errors}) == 4
    left = run(exporter["Rate limit left"])
    assert {sample["metric"]["resource"] for sample in left} == {"graphql", "core"}
    assert all(0 < float(sample["value"][1]) <= 1 for sample in left)

    project = {panel["title"]: panel for panel in panels(load("project-health.json"))}
    values = {"project": "kube", "repository": ".*", "window": "90d"}
    within = [
        float(sample["value"][1])
        for target in project["Answered within 1h / 1d / 3d"]["targets"]
        for sample in stack.prometheus.query(substitute(target["expr"], values))
    ]
    assert len(within) == 3 and within == sorted(within), within  # 1h ≤ 1d ≤ 3d
    quantiles = {
        sample["metric"]["kind"]: float(sample["value"][1])
        for target in project["First response, project (p50, p90)"]["targets"]
        for sample in stack.prometheus.query(substitute(target["expr"], values))
    }
    assert set(quantiles) == {"pull_request", "issue"}


@pytest.mark.slow
def test_exemplars_name_items_of_the_project(stack: Stack) -> None:
    """The first-response panels' exemplars exist and name ``owner/repo#N`` of the project."""
    values = {"project": "kube", "repository": ".*", "window": "90d"}
    now = time.time()
    found = 0
    for panel in panels(load("project-health.json")):
        for target in panel["targets"]:
            if not target.get("exemplar"):
                continue
            data = stack.prometheus.api(
                "query_exemplars",
                query=substitute(target["expr"], values),
                start=str(now - 600),
                end=str(now + 60),
            )
            items = [e["labels"]["item"] for series in data for e in series["exemplars"]]
            assert items, f"{panel['title']}: no exemplars"
            for item in items:
                match = re.fullmatch(r"([\w.-]+/[\w.-]+)#(\d+)", item)
                assert match and match[1] in PROJECTS["kube"], item
            found += len(items)
    assert found


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(UIDS))
def test_variables_list_values_that_exist(stack: Stack, name: str) -> None:
    """Each query variable's label_values(...) answers, as Grafana asks Prometheus for it."""
    dashboard = load(name)
    chosen = {"project": "kube", "job": JOB, "instance": ".*"}
    listed: dict[str, set[str]] = {}
    for variable in dashboard["templating"]["list"]:
        if variable["type"] != "query":
            continue
        assert variable["datasource"] == DATASOURCE
        match = LABEL_VALUES.match(substitute(variable_query(variable), chosen))
        assert match, variable_query(variable)
        params = {"match[]": match["selector"]} if match["selector"] else {}
        found = stack.prometheus.api(f"label/{match['label']}/values", **params)
        assert found, f"${variable['name']}: no values"
        listed[variable["name"]] = set(found)
        current = variable.get("current", {}).get("value")
        if isinstance(current, str):
            assert current in found, f"${variable['name']} defaults to {current}, not in {found}"
    if name == "project-health.json":
        assert listed == {
            "project": set(PROJECTS),
            "repository": set(PROJECTS["kube"]),
            "window": {"7d", "30d", "90d"},
        }
    else:
        assert listed == {"job": {JOB}, "instance": {stack.instance}, "project": set(PROJECTS)}
