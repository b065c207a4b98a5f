"""One writer at a time per SQLite file within a process, queued on a lock instead of SQLite's busy handler.

SQLite lets one connection write at a time; the others wait in its busy handler, which polls with sleeps growing to
100 ms. Under gunicorn's threads (issue #9: 8 clients on one worker) a finished writer leaves the file idle while
the next one still sleeps, and a step's p95 reached 800 ms. Here a writer takes a lock when its transaction starts
writing (the first INSERT, UPDATE, DELETE or DDL, where the driver opens the transaction) and gives it back when the
transaction ends, so the next writer starts at once. Reads never take it: WAL lets them run beside a writer.

The lock is per database file and per process; other processes (a second gunicorn worker, the CLI) still meet the
busy handler, as before. A wait longer than the busy timeout fails like SQLite does ("database is locked").
"""

from __future__ import annotations

import sqlite3
import threading
from typing import Any

BUSY_TIMEOUT_SECONDS = 10.0
_READS = ("SELECT", "PRAGMA", "EXPLAIN", "WITH")
_locks: dict[str, threading.Lock] = {}
_registry_lock = threading.Lock()


def _lock_for(database: str) -> threading.Lock | None:
    if database in ("", ":memory:") or database.startswith("file::memory:"):
        return None  # every connection has its own database: nothing to queue for
    with _registry_lock:
        return _locks.setdefault(database, threading.Lock())


class _Cursor(sqlite3.Cursor):
    connection: SerialWriterConnection

    def execute(self, sql: str, parameters: Any = (), /) -> _Cursor:
        self.connection.before_statement(sql)
        super().execute(sql, parameters)
        return self

    def executemany(self, sql: str, seq_of_parameters: Any, /) -> _Cursor:
        self.connection.before_statement(sql)
        super().executemany(sql, seq_of_parameters)
        return self


class SerialWriterConnection(sqlite3.Connection):
    """A sqlite3 connection (pass as `factory`) whose write transactions queue on the file's process-wide lock."""

    def __init__(self, database: str, *args: Any, **kwargs: Any) -> None:
        super().__init__(database, *args, **kwargs)
        self._write_lock = _lock_for(str(database))
        self._holding = False

    def cursor(self, factory: Any = None) -> Any:
        return super().cursor(factory or _Cursor)

    def before_statement(self, sql: str) -> None:
        if self._write_lock is None or self._holding:
            return
        if sql.lstrip()[:7].upper().startswith(_READS):
            return
        if not self._write_lock.acquire(timeout=BUSY_TIMEOUT_SECONDS):
            raise sqlite3.OperationalError("database is locked")
        self._holding = True

    def _release(self) -> None:
        if self._holding:
            self._holding = False
            assert self._write_lock is not None
            self._write_lock.release()

    def commit(self) -> None:
        try:
            super().commit()
        finally:
            self._release()

    def rollback(self) -> None:
        try:
            super().rollback()
        finally:
            self._release()

    def close(self) -> None:
        try:
            super().close()
        finally:
            self._release()
