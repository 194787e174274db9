"""The command line as a user meets it: exit codes, messages, no tracebacks."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from healthexporter.cli import main
from healthexporter.simulator.generate import generate

from .conftest import simulator
from .test_config import expectations, matches

CONFIGS = Path(__file__).parent / "data" / "configs"
BAD = sorted((CONFIGS / "bad").glob("*.yaml"))


@pytest.mark.parametrize("path", BAD, ids=[p.stem for p in BAD])
def test_check_config_rejects_each_broken_configuration(
    path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["check-config", "--config.file", str(path)]) == 2
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    expected = expectations(path)
    assert expected, "every bad config says what it expects"
    assert len(lines) == len(expected)
    for line, wanted in zip(lines, expected, strict=True):
        assert line.startswith("healthexporter: ")
        assert matches(wanted, line.removeprefix("healthexporter: "))
    assert "Traceback" not in captured.err


GOOD = sorted(
    p for p in (CONFIGS / "good").glob("*.yaml") if p.name != "web.yaml"
)  # web.yaml: not ours


@pytest.mark.parametrize("path", GOOD, ids=lambda p: p.stem)
def test_check_config_accepts_good_configurations(
    path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["check-config", "--config.file", str(path)]) == 0
    assert ": ok" in capsys.readouterr().out


def test_bad_config_from_the_real_command_exits_2_without_traceback() -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "healthexporter",
            "check-config",
            "--config.file",
            str(CONFIGS / "bad" / "many-problems.yaml"),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == len(
        expectations(CONFIGS / "bad" / "many-problems.yaml")
    )


def test_missing_config_file(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert main(["check-config", "--config.file", str(tmp_path / "nope.yaml")]) == 2
    assert "nope.yaml" in capsys.readouterr().err


def _config(tmp_path: Path, url: str, repositories: str) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(
        f"github: {{api_url: '{url}', token_env: HE_TEST_TOKEN}}\n"
        f"projects: {{p: {{repositories: {repositories}}}}}\n"
        "storage: {path: store.db}\nlogging: {level: error}\n",
        encoding="utf-8",
    )
    return path


def test_sync_prints_a_summary_per_repository(tmp_path: Path) -> None:
    with simulator(generate("small")) as server:
        config = _config(tmp_path, server.url, "[acme/widgets, acme/gone]")
        env = {**os.environ, "HE_TEST_TOKEN": "t"}
        command = [sys.executable, "-m", "healthexporter", "sync", "--config.file", str(config)]
        text = subprocess.run(
            command, capture_output=True, text=True, env=env, timeout=120, check=False
        )
        assert text.returncode == 1  # one repository failed
        assert "acme/widgets" in text.stdout and "acme/gone" in text.stdout
        assert "not_found" in text.stdout
        as_json = subprocess.run(
            [*command, "--output", "json"],
            capture_output=True,
            text=True,
            env=env,
            timeout=120,
            check=False,
        )
        summary = json.loads(as_json.stdout)
        by_name = {r["repository"]: r for r in summary["repositories"]}
        assert (
            by_name["acme/widgets"]["ok"] and by_name["acme/widgets"]["points"] == 0
        )  # nothing changed
        assert by_name["acme/gone"]["error_reason"] == "not_found"


def test_revoked_token_gives_one_clear_error(tmp_path: Path) -> None:
    with simulator(generate("small"), revoked_tokens={"revoked"}) as server:
        config = _config(tmp_path, server.url, "[acme/widgets]")
        env = {**os.environ, "HE_TEST_TOKEN": "revoked"}
        result = subprocess.run(
            [sys.executable, "-m", "healthexporter", "sync", "--config.file", str(config)],
            capture_output=True, text=True, env=env, timeout=120, check=False,
        )  # fmt: skip
        assert result.returncode == 1
        assert "unauthorized" in result.stdout
        assert "401" in result.stdout and "HE_TEST_TOKEN" in result.stdout
        assert "revoked" not in result.stdout + result.stderr  # the token itself never shows
        assert "Traceback" not in result.stderr
