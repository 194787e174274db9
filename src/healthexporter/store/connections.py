"""One SQLite file's connections, one per thread, and the transactions run on them.

Durability: the database runs in WAL mode with ``synchronous=NORMAL``. A process killed at any
moment loses nothing committed (the WAL is written before COMMIT returns); a power loss may
lose the last few transactions but never corrupts the file. Losing the last pages is harmless
here, because each page is committed together with the stream state that says how far the sync
got: after a power loss the sync simply resumes from an older cursor.

Threads: several sync workers and the web server's reader share one store. Each thread gets
its own connection (``threading.local``), so readers see a consistent snapshot without waiting
for writers (WAL lets readers and one writer run at once). Writes are serialized by one lock in
the process and ``BEGIN IMMEDIATE`` between processes (a ``healthexporter sync`` run beside the
server), with a busy timeout for the latter. Every ``save_*`` is exactly one transaction. An
in-memory store (``":memory:"``, for tests) is one connection, and every call takes the lock.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from healthexporter.errors import StoreError
from healthexporter.store.schema import migrate

BUSY_TIMEOUT_MS = 30_000  # another process holding the write lock (e.g. a long reconcile page)


class Connections:
    """The connections to the store at ``path`` (``":memory:"``: one in-memory database),
    which is created if needed and migrated when this opens it."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.memory = self.path == ":memory:"
        self._write_lock = threading.Lock()
        self._registry_lock = threading.Lock()
        self._local = threading.local()
        self._connections: list[tuple[threading.Thread, sqlite3.Connection]] = []
        self._closed = False
        if not self.memory:
            _check_parent(Path(self.path))
        connection = self._connect()
        try:
            if not self.memory:
                # Persistent in the file; needs the directory to be writable (for the -wal file).
                connection.execute("PRAGMA journal_mode=WAL").fetchone()
            migrate(connection, self.path)
        except sqlite3.Error as exc:
            connection.close()
            raise StoreError(f"cannot open store {self.path}: {exc}") from exc
        except StoreError:
            connection.close()
            raise
        self._local.connection = connection
        self._connections.append((threading.current_thread(), connection))

    def _connect(self) -> sqlite3.Connection:
        try:
            # isolation_level=None: no implicit transactions; every transaction is explicit.
            # check_same_thread=False: close() may close another thread's connection.
            connection = sqlite3.connect(
                self.path,
                timeout=BUSY_TIMEOUT_MS / 1000,
                isolation_level=None,
                check_same_thread=False,
            )
        except sqlite3.Error as exc:
            raise StoreError(f"cannot open store {self.path}: {exc}") from exc
        try:
            connection.execute("PRAGMA foreign_keys=ON")
            connection.execute("PRAGMA synchronous=NORMAL")
            connection.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        except sqlite3.Error as exc:
            connection.close()
            raise StoreError(f"cannot open store {self.path}: {exc}") from exc
        return connection

    def connection(self) -> sqlite3.Connection:
        """This thread's connection (the only one for an in-memory store)."""
        if self._closed:
            raise StoreError(f"store {self.path} is closed")
        if self.memory:
            return self._connections[0][1]
        connection: sqlite3.Connection | None = getattr(self._local, "connection", None)
        if connection is not None:
            return connection
        connection = self._connect()
        with self._registry_lock:
            # Close the connections of threads that have ended (e.g. a thread per HTTP request).
            alive = []
            for thread, other in self._connections:
                if thread.is_alive():
                    alive.append((thread, other))
                else:
                    other.close()
            alive.append((threading.current_thread(), connection))
            self._connections = alive
        self._local.connection = connection
        return connection

    @contextmanager
    def writing(self, what: str) -> Iterator[sqlite3.Connection]:
        """One write transaction: all of it is committed, or none of it (the error, e.g. a full
        disk, is raised as ``StoreError``)."""
        with self._write_lock:
            connection = self.connection()
            try:
                connection.execute("BEGIN IMMEDIATE")
            except sqlite3.Error as exc:
                raise StoreError(f"cannot write {what} to store {self.path}: {exc}") from exc
            try:
                yield connection
                connection.execute("COMMIT")
            except BaseException as exc:
                if connection.in_transaction:
                    connection.execute("ROLLBACK")
                if isinstance(exc, sqlite3.Error):
                    raise StoreError(f"cannot write {what} to store {self.path}: {exc}") from exc
                raise

    @contextmanager
    def reading(self) -> Iterator[sqlite3.Connection]:
        """One read transaction, so that several queries see the same snapshot; inside
        ``reading()``, that one's."""
        if getattr(self._local, "reading", False):
            yield self.connection()
            return
        lock = self._write_lock if self.memory else _NO_LOCK
        with lock:
            connection = self.connection()
            try:
                connection.execute("BEGIN")
                self._local.reading = True
                try:
                    yield connection
                finally:
                    self._local.reading = False
                    if connection.in_transaction:
                        connection.execute("COMMIT")
            except sqlite3.Error as exc:
                raise StoreError(f"cannot read store {self.path}: {exc}") from exc

    def close(self) -> None:
        """Close every thread's connection. Idempotent."""
        with self._write_lock, self._registry_lock:
            if self._closed:
                return
            self._closed = True
            for _, connection in self._connections:
                connection.close()
            self._connections = []


class _NoLock:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None


_NO_LOCK = _NoLock()


def _check_parent(path: Path) -> None:
    parent = path.parent
    if not parent.exists():
        raise StoreError(f"cannot open store {path}: directory {parent} does not exist")
    if not parent.is_dir():
        raise StoreError(f"cannot open store {path}: {parent} is not a directory")
    if path.is_dir():
        raise StoreError(f"cannot open store {path}: it is a directory")
