"""SQLite state for one sandbox: one file under the data dir, so a restarted sandbox keeps what it held.

The stdlib `sqlite3` module is enough here (no ORM): every handler runs on the sandbox's own event loop, one at a
time, so a request's reads and writes are atomic without row locks, and WAL with `synchronous=NORMAL` keeps a
commit in the tens of microseconds, which is what lets the sandboxes stay out of the benchmarks' way.
"""
from __future__ import annotations

import contextlib
import json
import sqlite3
import threading
from pathlib import Path
from typing import Any, Iterable, Iterator


class SandboxDB:
    def __init__(self, path: Path | str, schema: str) -> None:
        self.path = Path(path) if str(path) != ":memory:" else path
        if isinstance(self.path, Path):
            self.path.parent.mkdir(parents=True, exist_ok=True)
        self.conn = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False)
        self.conn.row_factory = sqlite3.Row
        self.conn.execute("PRAGMA journal_mode=WAL")
        self.conn.execute("PRAGMA synchronous=NORMAL")
        self.conn.execute("PRAGMA foreign_keys=ON")
        self._lock = threading.RLock()  # the control thread (CLI seed in tests) may share the connection
        self._depth = 0
        self.conn.executescript(schema)

    @contextlib.contextmanager
    def tx(self) -> Iterator[sqlite3.Connection]:
        """One transaction; nested calls join the outer one."""
        with self._lock:
            if self._depth:
                self._depth += 1
                try:
                    yield self.conn
                finally:
                    self._depth -= 1
                return
            self.conn.execute("BEGIN IMMEDIATE")
            self._depth = 1
            try:
                yield self.conn
            except BaseException:
                self.conn.execute("ROLLBACK")
                raise
            else:
                self.conn.execute("COMMIT")
            finally:
                self._depth = 0

    def one(self, sql: str, params: Iterable[Any] = ()) -> sqlite3.Row | None:
        with self._lock:
            return self.conn.execute(sql, tuple(params)).fetchone()

    def all(self, sql: str, params: Iterable[Any] = ()) -> list[sqlite3.Row]:
        with self._lock:
            return self.conn.execute(sql, tuple(params)).fetchall()

    def scalar(self, sql: str, params: Iterable[Any] = ()) -> Any:
        row = self.one(sql, params)
        return None if row is None else row[0]

    def execute(self, sql: str, params: Iterable[Any] = ()) -> sqlite3.Cursor:
        with self._lock:
            return self.conn.execute(sql, tuple(params))

    def clear(self, tables: Iterable[str]) -> None:
        with self.tx() as conn:
            for table in tables:
                conn.execute(f"DELETE FROM {table}")  # noqa: S608 - table names are our own constants
            conn.execute("DELETE FROM sqlite_sequence") if self._has_sequence() else None

    def _has_sequence(self) -> bool:
        return self.conn.execute("SELECT 1 FROM sqlite_master WHERE name='sqlite_sequence'").fetchone() is not None

    def close(self) -> None:
        with self._lock:
            self.conn.close()


def dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), default=str)


def loads(text: str | None) -> Any:
    return None if text is None else json.loads(text)
