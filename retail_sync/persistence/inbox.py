"""The webhook inbox: every accepted delivery, stored once by business identity, processed once."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Sequence

from sqlalchemy import Connection, func, select, update

from retail_sync.domain.deliveries import Delivery
from retail_sync.persistence.sql import insert
from retail_sync.persistence.tables import webhook_inbox as inbox


@dataclass(frozen=True)
class InboxRow:
    id: int
    source: str
    topic: str
    resource: str
    resource_id: str | None
    version: str | None
    body: str
    attempts: int


def insert_new(conn: Connection, deliveries: Sequence[Delivery], now: datetime, redrive_after: datetime) -> dict[str, int]:
    """Insert deliveries, skipping any whose business identity is already stored. Returns {dedupe_key: new id}.

    One multi-row INSERT … ON CONFLICT DO NOTHING RETURNING: the unique constraint, not a read-then-write,
    decides between concurrent copies, on PostgreSQL and SQLite alike.
    """
    if not deliveries:
        return {}
    if conn.dialect.name == "postgresql":
        return _insert_new_postgresql(conn, deliveries, now, redrive_after)
    rows = [
        {
            "source": d.source, "topic": d.topic, "resource": d.resource, "resource_id": d.resource_id,
            "version": d.version, "dedupe_key": d.dedupe_key, "body": d.body, "received_at": now,
            "status": "pending", "attempts": 0, "redrive_after": redrive_after,
        }
        for d in deliveries
    ]
    # executemany with RETURNING: one cached statement, sent as multi-row VALUES batches (insertmanyvalues).
    statement = (
        insert(conn, inbox)
        .on_conflict_do_nothing(index_elements=["source", "dedupe_key"])
        .returning(inbox.c.id, inbox.c.dedupe_key)
    )
    return {key: row_id for row_id, key in conn.execute(statement, rows)}


# The intake's hot path on PostgreSQL: one statement text whatever the batch size (so psycopg and the server
# reuse its plan), with the batch passed as one array per column, in binary format (the text format would
# escape every quote of every JSON body).
_PG_INSERT_NEW = """
INSERT INTO webhook_inbox (source, topic, resource, resource_id, version, dedupe_key, body,
                           received_at, status, attempts, redrive_after)
SELECT u.source, u.topic, u.resource, u.resource_id, u.version, u.dedupe_key, u.body,
       %(now)s, 'pending', 0, %(redrive_after)s
FROM unnest(%(source)b::varchar[], %(topic)b::varchar[], %(resource)b::varchar[], %(resource_id)b::varchar[],
            %(version)b::varchar[], %(dedupe_key)b::varchar[], %(body)b::text[])
     AS u(source, topic, resource, resource_id, version, dedupe_key, body)
ON CONFLICT (source, dedupe_key) DO NOTHING
RETURNING id, dedupe_key
"""


def _insert_new_postgresql(conn: Connection, deliveries: Sequence[Delivery], now: datetime,
                           redrive_after: datetime) -> dict[str, int]:
    params = {
        "now": now, "redrive_after": redrive_after,
        "source": [d.source for d in deliveries], "topic": [d.topic for d in deliveries],
        "resource": [d.resource for d in deliveries], "resource_id": [d.resource_id for d in deliveries],
        "version": [d.version for d in deliveries], "dedupe_key": [d.dedupe_key for d in deliveries],
        "body": [d.body for d in deliveries],
    }
    return {key: row_id for row_id, key in conn.exec_driver_sql(_PG_INSERT_NEW, params)}


def claim(conn: Connection, inbox_id: int, now: datetime) -> InboxRow | None:
    """Mark a pending row done inside the caller's transaction and return it, or None if it is not pending.

    The row lock taken by this UPDATE holds a concurrent copy of the same task until we commit; it then finds
    the row done and skips. If our transaction rolls back, the row is pending again.
    """
    statement = (
        update(inbox)
        .where(inbox.c.id == inbox_id, inbox.c.status == "pending")
        .values(status="done", processed_at=now)
        .returning(
            inbox.c.id, inbox.c.source, inbox.c.topic, inbox.c.resource, inbox.c.resource_id,
            inbox.c.version, inbox.c.body, inbox.c.attempts,
        )
    )
    row = conn.execute(statement).first()
    return InboxRow(*row) if row else None


def set_outcome(conn: Connection, inbox_id: int, outcome: str) -> None:
    conn.execute(update(inbox).where(inbox.c.id == inbox_id).values(outcome=outcome))


def record_failure(conn: Connection, inbox_id: int, error: str, *, failed: bool, now: datetime) -> None:
    values: dict = {"attempts": inbox.c.attempts + 1, "last_error": error[:2000]}
    if failed:
        values.update(status="failed", processed_at=now, outcome="failed")
    conn.execute(update(inbox).where(inbox.c.id == inbox_id, inbox.c.status == "pending").values(**values))


def due_for_redrive(conn: Connection, now: datetime, limit: int) -> list[tuple[int, int]]:
    """Pending rows whose re-drive time has passed, oldest first, as (id, attempts)."""
    statement = (
        select(inbox.c.id, inbox.c.attempts)
        .where(inbox.c.status == "pending", inbox.c.redrive_after <= now)
        .order_by(inbox.c.redrive_after, inbox.c.id)
        .limit(limit)
    )
    return [(row.id, row.attempts) for row in conn.execute(statement)]


def push_redrive(conn: Connection, ids: Sequence[int], until: datetime) -> None:
    if ids:
        conn.execute(update(inbox).where(inbox.c.id.in_(ids), inbox.c.status == "pending").values(redrive_after=until))


def count_by_status(conn: Connection) -> dict[str, int]:
    rows = conn.execute(select(inbox.c.status, func.count()).group_by(inbox.c.status))
    return {status: count for status, count in rows}
