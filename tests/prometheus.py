"""A real Prometheus server (and promtool) on loopback, for end-to-end tests.

The exporter is written for Prometheus, so the last word on whether its output works belongs to
Prometheus itself: its scraper, its OpenMetrics parser, its exemplar storage and PromQL. The
binaries come from Debian's ``prometheus`` package, which ``scripts/check`` installs.
"""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

INSTALL_HINT = (
    "install the Prometheus server and tools (Debian: apt-get install prometheus; "
    "scripts/check does it)"
)


def binary(name: str) -> str:
    path = shutil.which(name)
    assert path, f"{name} not found: {INSTALL_HINT}"
    return path


def promtool_check_metrics(text: bytes) -> tuple[int, str]:
    """``promtool check metrics`` on classic-format text: its exit code and what it printed."""
    result = subprocess.run(
        [binary("promtool"), "check", "metrics"],
        input=text,
        capture_output=True,
        timeout=60,
        check=False,
    )
    return result.returncode, (result.stdout + result.stderr).decode("utf-8", "replace").strip()


@dataclass
class Prometheus:
    """A running Prometheus: its HTTP API, and its log for failure messages."""

    url: str
    process: subprocess.Popen[bytes]
    log_path: Path

    def log_tail(self, lines: int = 30) -> str:
        text = self.log_path.read_text(encoding="utf-8", errors="replace")
        return "\n".join(text.splitlines()[-lines:])

    def api(self, path: str, **params: str) -> Any:
        """``data`` of a successful ``/api/v1`` answer; a failed one fails the test with its error."""
        response = httpx.get(f"{self.url}/api/v1/{path}", params=params, timeout=10)
        body = response.json()
        assert body.get("status") == "success", f"{path} {params}: {body}"
        return body["data"]

    def query(self, promql: str) -> list[dict[str, Any]]:
        """An instant vector: ``[{"metric": {...}, "value": [time, "text"]}, ...]``."""
        data = self.api("query", query=promql)
        assert data["resultType"] == "vector", f"{promql}: {data}"
        return list(data["result"])

    def values(self, promql: str) -> dict[frozenset[tuple[str, str]], float]:
        """Each series' value, keyed by its label set."""
        return {
            frozenset(sample["metric"].items()): float(sample["value"][1])
            for sample in self.query(promql)
        }

    def value(self, promql: str) -> float:
        """The value of a query that must return exactly one series."""
        result = self.query(promql)
        assert len(result) == 1, f"{promql}: expected one series, got {result}"
        return float(result[0]["value"][1])

    def self_metrics(self) -> dict[str, float]:
        """Prometheus' own counters (unlabelled ones), read straight from its ``/metrics``."""
        text = httpx.get(f"{self.url}/metrics", timeout=10).text
        found: dict[str, float] = {}
        for line in text.splitlines():
            if line and not line.startswith("#") and "{" not in line:
                name, _, number = line.partition(" ")
                found[name] = float(number)
        return found


def scrape_config(targets: Mapping[str, str], interval: str = "1s") -> str:
    """A prometheus.yml scraping each job's one static target every ``interval``."""
    jobs = "".join(
        f"  - job_name: {job}\n    static_configs:\n      - targets: ['{target}']\n"
        for job, target in targets.items()
    )
    return (
        f"global:\n  scrape_interval: {interval}\n  scrape_timeout: {interval}\n"
        f"scrape_configs:\n{jobs}"
    )


def wait_until(
    predicate: Any, timeout: float, what: str, process: Prometheus | None = None
) -> None:
    """Poll ``predicate`` every 0.2 s for at most ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.process.poll() is not None:
            raise AssertionError(
                f"prometheus exited while waiting for {what}:\n{process.log_tail()}"
            )
        if predicate():
            return
        time.sleep(0.2)
    tail = f"\n{process.log_tail()}" if process is not None else ""
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}{tail}")


@contextmanager
def run_prometheus(
    directory: Path, port: int, targets: Mapping[str, str], *features: str
) -> Iterator[Prometheus]:
    """Start Prometheus on ``127.0.0.1:port`` scraping ``targets``; stop it on exit."""
    directory.mkdir(parents=True, exist_ok=True)
    config = directory / "prometheus.yml"
    config.write_text(scrape_config(targets), encoding="utf-8")
    log_path = directory / "prometheus.log"
    arguments = [
        binary("prometheus"),
        f"--config.file={config}",
        f"--storage.tsdb.path={directory / 'tsdb'}",
        f"--web.listen-address=127.0.0.1:{port}",
        *(f"--enable-feature={feature}" for feature in features),
    ]
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            arguments, cwd=directory, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
        )
    server = Prometheus(f"http://127.0.0.1:{port}", process, log_path)
    try:

        def ready() -> bool:
            try:
                return httpx.get(f"{server.url}/-/ready", timeout=2).status_code == 200
            except httpx.HTTPError:
                return False

        wait_until(ready, 30, "prometheus to be ready", server)
        yield server
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=15)
