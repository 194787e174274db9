"""``serve``, ``report`` and ``explain`` end to end against the simulator."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from prometheus_client.openmetrics.parser import text_string_to_metric_families

from healthexporter.cli import main
from healthexporter.config import load_config
from healthexporter.serve import serve
from healthexporter.simulator.generate import generate

from .conftest import free_port, run_serve, simulator

NOW = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
OPENMETRICS = {"Accept": "application/openmetrics-text; version=1.0.0"}


def write_config(directory: Path, url: str, repositories: str = "[acme/widgets]") -> Path:
    path = directory / "config.yaml"
    path.write_text(
        f"github: {{api_url: '{url}', token_env: HE_SERVE_TOKEN, max_retries: 0}}\n"
        f"projects: {{acme: {{repositories: {repositories}}}}}\n"
        "storage: {path: store.db}\n"
        "sync: {poll_interval: 1m, jitter: 1s}\n"
        "logging: {level: warning}\n",
        encoding="utf-8",
    )
    return path


@pytest.fixture
def token(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("HE_SERVE_TOKEN", "serve-token")
    yield


def wait_for(predicate: object, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if callable(predicate) and predicate():
            return
        time.sleep(0.1)
    raise AssertionError("timed out")


def health_lines(text: str) -> list[str]:
    """The health series; ages (which grow with the clock) by name and labels only."""
    lines = []
    for line in text.splitlines():
        if line.startswith("github_health_"):
            lines.append(line.rsplit(" ", 1)[0] if "_oldest_seconds" in line else line)
    return sorted(lines)


def scrape(port: int) -> str:
    response = httpx.get(f"http://127.0.0.1:{port}/metrics", headers=OPENMETRICS, timeout=10)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/openmetrics-text")
    return response.text


def ready(port: int) -> bool:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/-/ready", timeout=5).status_code == 200
    except httpx.HTTPError:
        return False


def synced(port: int) -> bool:
    try:
        text = scrape(port)
    except (httpx.HTTPError, AssertionError):
        return False
    return 'healthexporter_sync_up{project="acme",repository="acme/widgets"} 1' in text and (
        "github_health_first_response_seconds_bucket" in text
    )


def test_serve_polls_serves_and_restarts_from_the_store(tmp_path: Path, token: None) -> None:
    dataset = generate("small", now=NOW)
    with simulator(dataset) as server:
        config = write_config(tmp_path, server.url)
        port = free_port()
        thread, stop = run_serve(config, port)
        try:
            wait_for(lambda: synced(port))
            first = scrape(port)
            for route, status in (("/-/healthy", 200), ("/-/ready", 200), ("/", 200)):
                assert httpx.get(f"http://127.0.0.1:{port}{route}", timeout=5).status_code == status
            assert "acme/widgets" in httpx.get(f"http://127.0.0.1:{port}/", timeout=5).text
        finally:
            stop.set()
            thread.join(timeout=30)
        families = {f.name for f in text_string_to_metric_families(first)}
        assert {"github_health_first_response_seconds", "healthexporter_sync_up"} <= families

        # Restart with GitHub unreachable for this token: every number is still there at once.
        server.revoke_token("serve-token")
        server.reset_stats()
        port = free_port()
        thread, stop = run_serve(config, port)
        try:
            wait_for(lambda: ready(port))
            again = scrape(port)
        finally:
            stop.set()
            thread.join(timeout=30)
        assert health_lines(again) == health_lines(first)


def test_report_formats_agree(
    tmp_path: Path, token: None, capsys: pytest.CaptureFixture[str]
) -> None:
    dataset = generate("small", now=NOW)
    with simulator(dataset) as server:
        config = write_config(tmp_path, server.url)
        assert main(["sync", "--config.file", str(config)]) == 0
        capsys.readouterr()
    assert main(["report", "--config.file", str(config), "--format", "json"]) == 0
    document = json.loads(capsys.readouterr().out)
    [repository] = document["repositories"]
    assert repository["repository"] == "acme/widgets"
    prs = repository["windows"]["90d"]["responsiveness"]["pull_request"]
    assert prs["first_response"]["count"] > 0
    assert main(["report", "--config.file", str(config), "--window", "90d"]) == 0
    table = capsys.readouterr().out
    assert "acme/widgets (acme) — last 90d" in table and "Bus factor" in table
    assert (
        main(["report", "--config.file", str(config), "--format", "markdown", "--window", "90d"])
        == 0
    )
    assert "| Metric | Value |" in capsys.readouterr().out
    assert main(["report", "--config.file", str(config), "--window", "5d"]) == 2


def test_explain_shows_each_decision(
    tmp_path: Path, token: None, capsys: pytest.CaptureFixture[str]
) -> None:
    dataset = generate("small", now=NOW)
    repo = dataset.repository("acme", "widgets")
    assert repo is not None
    # a pull request opened as a draft, commented on before it was ready
    draft = next(
        i for i in repo.items
        if i.kind == "pull_request" and any(e.type == "ReadyForReviewEvent" for e in i.timeline)
        and i.timeline[0].type == "IssueComment"
    )  # fmt: skip
    with simulator(dataset) as server:
        config = write_config(tmp_path, server.url)
        assert main(["sync", "--config.file", str(config)]) == 0
        capsys.readouterr()
    assert main(["explain", "--config.file", str(config), f"acme/widgets#{draft.number}"]) == 0
    text = capsys.readouterr().out
    assert "clock start" in text and "before ready for review" in text
    assert main(["explain", "--config.file", str(config), "acme/widgets#99999"]) == 1
    assert main(["explain", "--config.file", str(config), "not-a-ref"]) == 2


def test_serve_refuses_a_bad_web_config(tmp_path: Path, token: None) -> None:
    config = write_config(tmp_path, "http://127.0.0.1:9")
    bad = tmp_path / "web.yml"
    bad.write_text(
        "tls_server_config:\n  cert_file: missing.crt\n  key_file: missing.key\n", encoding="utf-8"
    )
    assert serve(load_config(config), listen_address="127.0.0.1:0", web_config_file=str(bad)) == 2


def test_environment_is_clean() -> None:
    assert "HE_SERVE_TOKEN" not in os.environ


def test_history_command(tmp_path: Path, token: None, capsys: pytest.CaptureFixture[str]) -> None:
    dataset = generate("small", now=NOW)
    with simulator(dataset) as server:
        config = write_config(tmp_path, server.url)
        assert main(["sync", "--config.file", str(config)]) == 0
    since = (NOW.date()).fromordinal(NOW.date().toordinal() - 5).isoformat()
    output = tmp_path / "history.om.txt"
    command = ["history", "--config.file", str(config), "--since", since, "--output", str(output)]
    assert main([*command, "--label", "job=healthexporter"]) == 0
    text = output.read_text(encoding="utf-8")
    assert text.endswith("# EOF\n")
    assert 'job="healthexporter"' in text and "github_health_first_response_seconds" in text
    assert main([*command[:-4], "--since", "yesterday", "--output", str(output)]) == 2
    capsys.readouterr()
