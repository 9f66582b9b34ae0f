"""The call ledger: every request a sandbox saw, and every create attempt per business key.

Engine tests read it (`GET /_sandbox/ledger`) to count duplicate effects ("two create attempts for
`sale.order:WC-1042`, one `created`, one `existing`") and to check that a `Retry-After` was honoured (the time
between a 429 and the next call).
"""
from __future__ import annotations

import time
from typing import Any

from retail_sync.sandbox.common.db import SandboxDB, dumps, loads

SCHEMA = """
CREATE TABLE IF NOT EXISTS ledger_calls (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    at REAL NOT NULL,
    method TEXT NOT NULL,
    path TEXT NOT NULL,
    query TEXT NOT NULL DEFAULT '',
    detail TEXT,
    status INTEGER,
    fault TEXT,
    retry_after REAL,
    duration_ms REAL
);
CREATE TABLE IF NOT EXISTS ledger_creates (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    at REAL NOT NULL,
    kind TEXT NOT NULL,
    key TEXT NOT NULL,
    outcome TEXT NOT NULL,
    ref TEXT,
    extra TEXT
);
CREATE INDEX IF NOT EXISTS ix_ledger_creates_key ON ledger_creates (kind, key);
"""

TABLES = ("ledger_calls", "ledger_creates")


class Ledger:
    """Calls are buffered and written in batches (one transaction per `FLUSH_EVERY` calls, and before every read):
    a commit per call was a fifth of a cheap call's cost. Create attempts are written at once, in the caller's
    transaction when there is one."""

    FLUSH_EVERY = 200

    def __init__(self, db: SandboxDB) -> None:
        self.db = db
        self._calls: list[tuple[Any, ...]] = []

    def record_call(self, *, method: str, path: str, query: str, detail: str | None, status: int | None,
                    fault: str | None, retry_after: float | None, started: float) -> None:
        self._calls.append((started, method, path, query, detail, status, fault, retry_after,
                            round((time.time() - started) * 1000, 3)))
        if len(self._calls) >= self.FLUSH_EVERY:
            self.flush()

    def flush(self) -> None:
        pending, self._calls = self._calls, []
        if pending:
            with self.db.tx() as conn:
                conn.executemany(
                    "INSERT INTO ledger_calls (at, method, path, query, detail, status, fault, retry_after,"
                    " duration_ms) VALUES (?,?,?,?,?,?,?,?,?)", pending)

    def discard(self) -> None:
        """Forget buffered calls (a reset)."""
        self._calls = []

    def record_create(self, kind: str, key: str, outcome: str, ref: Any = None, **extra: Any) -> None:
        """One attempt to create `kind` identified by business `key`.

        outcome: `created` (a new record), `existing` (an idempotent hit returned the earlier one), or
        `rejected` (a validation error). Counting `created` per key is how tests find duplicate effects.
        """
        self.db.execute(
            "INSERT INTO ledger_creates (at, kind, key, outcome, ref, extra) VALUES (?,?,?,?,?,?)",
            (time.time(), kind, str(key), outcome, None if ref is None else str(ref), dumps(extra) if extra else None),
        )

    def read(self, since: int = 0, limit: int = 10_000) -> dict[str, Any]:
        self.flush()
        calls = [
            {
                "seq": row["seq"], "at": row["at"], "method": row["method"], "path": row["path"],
                "query": row["query"], "detail": row["detail"], "status": row["status"], "fault": row["fault"],
                "retry_after": row["retry_after"], "duration_ms": row["duration_ms"],
            }
            for row in self.db.all("SELECT * FROM ledger_calls WHERE seq > ? ORDER BY seq LIMIT ?", (since, limit))
        ]
        creates: dict[str, list[dict[str, Any]]] = {}
        for row in self.db.all("SELECT * FROM ledger_creates ORDER BY seq"):
            entry = {"at": row["at"], "outcome": row["outcome"], "ref": row["ref"]}
            if row["extra"]:
                entry.update(loads(row["extra"]))
            creates.setdefault(f"{row['kind']}:{row['key']}", []).append(entry)
        last = calls[-1]["seq"] if calls else since
        return {"calls": calls, "creates": creates, "next_since": last}
