"""The exception store: our dead-letter queue. One open row per fingerprint; a repeat bumps `occurrences`."""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import Connection, func, select, text

from retail_sync.persistence.sql import insert
from retail_sync.persistence.tables import exceptions


@dataclass(frozen=True)
class DeadLetter:
    kind: str  # "task.failed", "task.poison", "inbox.rejected", ...
    error_type: str
    error_message: str
    subject: str | None = None
    task_name: str | None = None
    task_args: list = field(default_factory=list)
    queue: str | None = None
    payload_ref: str | None = None  # e.g. "webhook_inbox:42": where the payload lives, never the payload
    traceback: str | None = None
    attempts: int = 0

    @property
    def fingerprint(self) -> str:
        identity = json.dumps([self.kind, self.task_name, self.task_args, self.payload_ref], sort_keys=True, default=str)
        return hashlib.sha256(identity.encode("utf-8")).hexdigest()


def open_exception(conn: Connection, letter: DeadLetter, now: datetime) -> int:
    """Record a dead letter, or refresh the open one with the same fingerprint. Returns the row id."""
    details = {
        "error_type": letter.error_type[:200],
        "error_message": letter.error_message[:4000],
        "traceback": (letter.traceback or "")[-8000:] or None,
        "attempts": letter.attempts,
        "updated_at": now,
    }
    statement = insert(conn, exceptions).values(
        kind=letter.kind,
        status="open",
        fingerprint=letter.fingerprint,
        subject=letter.subject,
        task_name=letter.task_name,
        task_args=letter.task_args,
        queue=letter.queue,
        payload_ref=letter.payload_ref,
        occurrences=1,
        created_at=now,
        **details,
    )
    # The conflict target is the partial unique index on open rows, so concurrent copies cannot race.
    statement = statement.on_conflict_do_update(
        index_elements=["fingerprint"],
        index_where=text("status = 'open'"),
        set_={"occurrences": exceptions.c.occurrences + 1, **details},
    ).returning(exceptions.c.id)
    return conn.execute(statement).scalar_one()


def list_open(conn: Connection, limit: int = 100) -> list[dict]:
    rows = conn.execute(
        select(exceptions).where(exceptions.c.status == "open").order_by(exceptions.c.id.desc()).limit(limit)
    )
    return [dict(row._mapping) for row in rows]


def count_open(conn: Connection) -> int:
    return conn.execute(select(func.count()).select_from(exceptions).where(exceptions.c.status == "open")).scalar_one()
