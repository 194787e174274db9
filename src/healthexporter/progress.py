"""Progress of long backfills: a one-line bar on a terminal, log lines otherwise.

Shows items stored, points used and an ETA from the ``totalCount`` GitHub reports on the first
page. Kept tiny on purpose: a dependency such as tqdm would not know about points.
"""

from __future__ import annotations

import logging
import sys
import threading
import time
from typing import TextIO

log = logging.getLogger("healthexporter.sync")


class Progress:
    def __init__(self, stream: TextIO | None = None, *, interval: float = 10.0) -> None:
        self._stream = stream if stream is not None else sys.stderr
        self._tty = bool(getattr(self._stream, "isatty", lambda: False)())
        self._interval = interval
        self._lock = threading.Lock()
        self._last_log: dict[str, float] = {}
        self._started: dict[str, float] = {}

    def update(self, label: str, done: int, total: int | None, points: int) -> None:
        now = time.monotonic()
        with self._lock:
            started = self._started.setdefault(label, now)
            eta = ""
            if total and done and done < total:
                remaining = (now - started) / done * (total - done)
                eta = f", ETA {int(remaining // 60)}m{int(remaining % 60):02d}s"
            of_total = f"/{total}" if total else ""
            text = f"{label}: {done}{of_total} items, {points} points{eta}"
            if self._tty:
                self._stream.write(f"\r\x1b[2K{text}")
                self._stream.flush()
            elif label not in self._last_log or now - self._last_log[label] >= self._interval:
                self._last_log[label] = now
                log.info(text)

    def finish(self, label: str) -> None:
        with self._lock:
            self._started.pop(label, None)
            self._last_log.pop(label, None)
            if self._tty:
                self._stream.write("\r\x1b[2K")
                self._stream.flush()


class NoProgress(Progress):
    def update(self, label: str, done: int, total: int | None, points: int) -> None:
        return None

    def finish(self, label: str) -> None:
        return None
