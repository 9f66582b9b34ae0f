"""Sync cursors (watermarks) for the polling safety nets: read, and advance only forward."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, select

from retail_sync.persistence.sql import insert
from retail_sync.persistence.tables import sync_cursors


def read(conn: Connection, name: str) -> str | None:
    return conn.execute(select(sync_cursors.c.value).where(sync_cursors.c.name == name)).scalar()


def write(conn: Connection, name: str, value: str, now: datetime) -> None:
    statement = insert(conn, sync_cursors).values(name=name, value=value, updated_at=now)
    conn.execute(statement.on_conflict_do_update(index_elements=["name"], set_={"value": value, "updated_at": now}))
