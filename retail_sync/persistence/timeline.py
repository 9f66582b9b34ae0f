"""The timeline: an audit of what happened to each business key, written once per fact."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, select

from retail_sync.persistence.sql import insert
from retail_sync.persistence.tables import timeline


def record(
    conn: Connection, *, subject: str, event_type: str, source: str, occurred_at: datetime,
    detail: dict | None = None, dedupe_key: str | None = None,
) -> None:
    statement = insert(conn, timeline).values(
        subject=subject, event_type=event_type, source=source, occurred_at=occurred_at,
        detail=detail or {}, dedupe_key=dedupe_key,
    )
    conn.execute(statement.on_conflict_do_nothing(index_elements=["dedupe_key"]))


def for_subject(conn: Connection, subject: str) -> list[dict]:
    rows = conn.execute(select(timeline).where(timeline.c.subject == subject).order_by(timeline.c.id))
    return [dict(row._mapping) for row in rows]
