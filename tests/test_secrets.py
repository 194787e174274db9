"""The token never leaks: not in logs (text or JSON, every level), /metrics, /, reports, error
messages or tracebacks; and a token file can be rotated while the exporter runs."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx

from healthexporter.simulator.generate import generate

from .conftest import free_port, simulator
from .test_serve import ready, synced

CANARY = "ghp_CANARYcanary0123456789abcdefCANARY42"
NOW = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)


def _config(directory: Path, url: str, *, fmt: str, token: str) -> Path:
    path = directory / f"config-{fmt}.yaml"
    path.write_text(
        f"github: {{api_url: '{url}', {token}, max_retries: 2, max_wait: 1s}}\n"
        "projects: {acme: {repositories: [acme/widgets, acme/missing]}}\n"
        f"storage: {{path: store-{fmt}.db}}\n"
        "sync: {poll_interval: 1m, jitter: 1s}\n"
        f"logging: {{level: debug, format: {fmt}}}\n",
        encoding="utf-8",
    )
    return path


def _run(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "healthexporter", *args],
        capture_output=True, text=True, env=env, timeout=120, check=False,
    )  # fmt: skip


def test_canary_token_appears_nowhere(tmp_path: Path) -> None:
    env = {**os.environ, "HE_CANARY": CANARY}
    dataset = generate("small", now=NOW)
    # faults on the way make every error path log: 5xx, resets, malformed bodies, a 401
    faults = (
        "502 api=graphql at=2; reset api=rest at=3; malformed api=graphql at=4; 401 api=rest at=5"
    )
    with simulator(dataset, faults=faults) as server:
        for fmt in ("text", "json"):
            config = _config(tmp_path, server.url, fmt=fmt, token="token_env: HE_CANARY")
            outputs = [_run(["sync", "--config.file", str(config)], env)]
            outputs.append(_run(["sync", "--config.file", str(config), "--output", "json"], env))
            outputs.append(_run(["report", "--config.file", str(config), "--format", "json"], env))
            outputs.append(_run(["explain", "--config.file", str(config), "acme/widgets#1"], env))
            port = free_port()
            process = subprocess.Popen(
                [sys.executable, "-m", "healthexporter", "serve", "--config.file", str(config),
                 "--web.listen-address", f"127.0.0.1:{port}"],
                env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            )  # fmt: skip
            try:
                deadline = time.monotonic() + 30
                while time.monotonic() < deadline and not (ready(port) and synced(port)):
                    time.sleep(0.2)
                pages = [
                    httpx.get(f"http://127.0.0.1:{port}{p}", timeout=5).text
                    for p in ("/metrics", "/", "/-/ready")
                ]
            finally:
                process.terminate()
                out, err = process.communicate(timeout=30)
            texts = [*pages, out, err, *(o.stdout + o.stderr for o in outputs)]
            assert any("DEBUG" in t or '"level": "debug"' in t for t in texts), (
                "debug logging was on"
            )
            assert any("acme/missing" in t and "not_found" in t for t in texts)
            for text in texts:
                assert CANARY not in text
                assert CANARY[4:20] not in text  # nor a recognisable piece of it
        # the simulator saw the token, so the test really used it
        assert server.stats()["requests"]["total"] > 0


def test_revoked_token_error_and_trace_do_not_show_it(tmp_path: Path) -> None:
    env = {**os.environ, "HE_CANARY": CANARY}
    with simulator(generate("small", now=NOW), revoked_tokens={CANARY}) as server:
        config = _config(tmp_path, server.url, fmt="text", token="token_env: HE_CANARY")
        result = _run(["sync", "--config.file", str(config)], env)
        assert result.returncode == 1
        assert "401" in result.stdout and "HE_CANARY" in result.stdout
        assert CANARY not in result.stdout + result.stderr


def test_token_file_rotation_while_serving(tmp_path: Path) -> None:
    old, new = "ghp_old_token_value_0001", "ghp_new_token_value_0002"
    token_file = tmp_path / "token"
    token_file.write_text(old + "\n", encoding="utf-8")
    with simulator(generate("small", now=NOW), tokens={old, new}) as server:
        config = tmp_path / "config.yaml"
        config.write_text(
            f"github: {{api_url: '{server.url}', token_file: {token_file}}}\n"
            "projects: {acme: {repositories: [acme/widgets]}}\n"
            "storage: {path: store.db}\nlogging: {level: warning}\n",
            encoding="utf-8",
        )
        assert _run(["sync", "--config.file", str(config)], dict(os.environ)).returncode == 0
        server.revoke_token(old)
        token_file.write_text(new + "\n", encoding="utf-8")  # rotated by a secret manager
        result = _run(["sync", "--config.file", str(config)], dict(os.environ))
        assert result.returncode == 0, result.stdout + result.stderr
        assert old not in result.stdout + result.stderr and new not in result.stdout + result.stderr
