"""Backfill progress: a bar on a terminal, log lines elsewhere."""

from __future__ import annotations

import io
import logging

import pytest

from healthexporter.progress import Progress


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_terminal_gets_a_redrawn_line_with_eta() -> None:
    screen = Terminal()
    progress = Progress(screen)
    progress.update("o/r pull_requests", 100, 1000, 2)
    progress.update("o/r pull_requests", 200, 1000, 4)
    progress.finish("o/r pull_requests")
    text = screen.getvalue()
    assert "\r\x1b[2Ko/r pull_requests: 200/1000 items, 4 points, ETA " in text
    assert text.endswith("\r\x1b[2K")


def test_elsewhere_log_lines_at_most_every_interval(caplog: pytest.LogCaptureFixture) -> None:
    progress = Progress(io.StringIO(), interval=3600)
    with caplog.at_level(logging.INFO, logger="healthexporter.sync"):
        for done in range(100, 1000, 100):
            progress.update("o/r issues", done, 1000, done // 50)
    assert [r.getMessage().split(",")[0] for r in caplog.records] == ["o/r issues: 100/1000 items"]
