"""The Prometheus rules (deploy/prometheus): promtool accepts them and their unit tests pass, the
PrometheusRule is their generated copy, and they speak about metrics the exporter really emits.

The names and labels the rules may use come from the golden exposition
(tests/data/golden/metrics.om.txt), which tests/test_exposition.py keeps equal to what
exposition.py renders; so renaming a metric there breaks this test, not a dashboard at 3 a.m.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from collections import defaultdict
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import yaml
from cloudcoil.models.prometheus_operator import v1 as prometheus_operator

REPOSITORY = Path(__file__).resolve().parents[1]
PROMETHEUS = REPOSITORY / "deploy" / "prometheus"
RULES = PROMETHEUS / "rules.yml"
PROMETHEUS_RULE = PROMETHEUS / "prometheusrule.yaml"
UNIT_TESTS = sorted((PROMETHEUS / "tests").glob("*.yml"))
GOLDEN = REPOSITORY / "tests" / "data" / "golden" / "metrics.om.txt"
ALERTS_DOC = REPOSITORY / "docs" / "alerts.md"
DASHBOARD_FILES = REPOSITORY / "dashboards"

# A metric name of ours, not part of a recording rule's name (`level:metric:operations`).
METRIC_NAME = re.compile(r"(?<![\w:])(?:github_health|healthexporter)_\w+(?![\w:])")
SAMPLE = re.compile(r"^(?P<name>[a-zA-Z_:][\w:]*)(?:\{(?P<labels>[^}]*)\})?\s")
LABEL = re.compile(r'(\w+)="(?:[^"\\]|\\.)*"')
SEVERITIES = {"info", "warning", "critical"}
DASHBOARDS = ("/d/healthexporter-project", "/d/healthexporter-exporter")
# Labels Prometheus adds to every scraped series.
TARGET_LABELS = {"job", "instance"}


def promtool() -> str:
    path = shutil.which("promtool")
    assert path, (
        "promtool not found: install the Prometheus server tools (Debian: apt-get install "
        "prometheus; scripts/check does) so that the alerting rules can be checked"
    )
    return path


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        args, cwd=REPOSITORY, capture_output=True, text=True, timeout=120, check=False
    )


def load(path: Path) -> Any:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def rules() -> list[dict[str, Any]]:
    return [rule for group in load(RULES)["groups"] for rule in group["rules"]]


def alerts() -> list[dict[str, Any]]:
    return [rule for rule in rules() if "alert" in rule]


def exported_labels() -> dict[str, set[frozenset[str]]]:
    """Every sample name in the golden exposition, with the label-name sets it appears with."""
    exported: dict[str, set[frozenset[str]]] = defaultdict(set)
    for line in GOLDEN.read_text(encoding="utf-8").splitlines():
        if line.startswith("#") or not line:
            continue
        match = SAMPLE.match(line)
        assert match, line
        labels = frozenset(LABEL.findall(match["labels"] or ""))
        exported[match["name"]].add(labels)
    return exported


def unit_test_cases() -> list[tuple[Path, dict[str, Any]]]:
    return [(path, case) for path in UNIT_TESTS for case in load(path)["tests"]]


# ── promtool ──────────────────────────────────────────────────────────────────────────────


def test_promtool_accepts_the_rules() -> None:
    result = run(promtool(), "check", "rules", str(RULES.relative_to(REPOSITORY)))
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_rule_unit_tests_pass() -> None:
    assert len(UNIT_TESTS) >= 3, UNIT_TESTS
    paths = [str(path.relative_to(REPOSITORY)) for path in UNIT_TESTS]
    result = run(promtool(), "test", "rules", *paths)
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_alert_is_tested_firing_and_silent() -> None:
    firing, silent = set(), set()
    for _, case in unit_test_cases():
        for test in case.get("alert_rule_test", []):
            (firing if test.get("exp_alerts") else silent).add(test["alertname"])
    names = {alert["alert"] for alert in alerts()}
    assert names - firing == set(), "alerts never tested firing"
    assert names - silent == set(), "alerts never tested silent"


def test_every_recording_rule_is_tested_with_values() -> None:
    tested = {
        test["expr"].split("{")[0].strip()
        for _, case in unit_test_cases()
        for test in case.get("promql_expr_test", [])
        if test["exp_samples"]
    }
    records = {rule["record"] for rule in rules() if "record" in rule}
    assert records - tested == set()


# ── the PrometheusRule ────────────────────────────────────────────────────────────────────


def test_the_prometheus_rule_is_generated_from_rules_yml() -> None:
    result = run(sys.executable, str(PROMETHEUS / "generate.py"), "--check")
    assert result.returncode == 0, result.stderr
    assert load(PROMETHEUS_RULE)["spec"]["groups"] == load(RULES)["groups"]


def test_the_prometheus_rule_matches_its_crd() -> None:
    obj = load(PROMETHEUS_RULE)
    parsed = prometheus_operator.PrometheusRule.model_validate(obj)
    # The model drops unknown keys and coerces types: a changed round trip is an error.
    assert parsed.model_dump(by_alias=True, exclude_unset=True, mode="json") == obj


# ── the rules speak about real metrics ────────────────────────────────────────────────────


def test_every_metric_the_rules_name_is_exported() -> None:
    # The whole file, comments too: the commented variants must work when uncommented.
    named = set(METRIC_NAME.findall(RULES.read_text(encoding="utf-8")))
    assert named, "no metric names found: is the pattern right?"
    assert named - set(exported_labels()) == set()


def test_the_first_response_bucket_bound_is_spelt_as_exported() -> None:
    # `le` is matched as a string: 86400 or 8.64e+04 would select nothing.
    assert 'le="86400.0"' in GOLDEN.read_text(encoding="utf-8")
    assert 'le="86400.0"' in RULES.read_text(encoding="utf-8")


def test_the_unit_tests_feed_series_as_the_exporter_emits_them() -> None:
    exported = exported_labels()
    for path, case in unit_test_cases():
        for series in case["input_series"]:
            match = SAMPLE.match(series["series"] + " ")
            assert match, series
            name = match["name"]
            if name == "up":
                continue
            labels = frozenset(LABEL.findall(match["labels"] or "")) - TARGET_LABELS
            assert labels in exported.get(name, set()), f"{path.name}: {series['series']}"


# ── every alert is actionable ─────────────────────────────────────────────────────────────


def test_every_alert_has_severity_summary_description_and_links() -> None:
    for alert in alerts():
        assert alert["labels"]["severity"] in SEVERITIES, alert["alert"]
        annotations = alert["annotations"]
        assert set(annotations) == {"summary", "description", "dashboard_url", "runbook_url"}
        assert annotations["dashboard_url"].startswith(DASHBOARDS), alert["alert"]
        assert annotations["runbook_url"] == f"docs/alerts.md#{alert['alert'].lower()}"


def test_alerts_about_a_repository_name_it() -> None:
    per_repository = {
        test["alertname"]
        for _, case in unit_test_cases()
        for test in case.get("alert_rule_test", [])
        for expected in test.get("exp_alerts") or []
        if "repository" in expected["exp_labels"]
    }
    assert per_repository
    for alert in alerts():
        if alert["alert"] in per_repository:
            annotations = alert["annotations"]
            assert "{{ $labels.repository }}" in annotations["description"], alert["alert"]
            url = annotations["dashboard_url"]
            assert (
                "var-repository={{ $labels.repository }}" in url
                if url.startswith("/d/healthexporter-project")
                else "var-project={{ $labels.project }}" in url  # the exporter dashboard's
            ), alert["alert"]


def test_dashboard_links_set_variables_the_dashboards_have() -> None:
    # The dashboards are built elsewhere (dashboards/*.json); check the links once they exist.
    variables = {}
    for path in DASHBOARD_FILES.glob("*.json"):
        dashboard = json.loads(path.read_text(encoding="utf-8"))
        variables[dashboard["uid"]] = {v["name"] for v in dashboard["templating"]["list"]}
    if not variables:
        pytest.skip("dashboards/ has no JSON yet")
    for alert in alerts():
        url = urlsplit(alert["annotations"]["dashboard_url"])
        uid = url.path.removeprefix("/d/")
        assert uid in variables, f"{alert['alert']}: no dashboard with uid {uid}"
        names = {key.removeprefix("var-") for key in parse_qs(url.query)}
        assert names <= variables[uid], alert["alert"]


@pytest.mark.parametrize("name", [alert["alert"] for alert in alerts()])
def test_every_alert_has_a_runbook(name: str) -> None:
    headings = re.findall(r"^#+ (\S+)\s*$", ALERTS_DOC.read_text(encoding="utf-8"), re.MULTILINE)
    assert name in headings, f"docs/alerts.md has no heading for {name}"
