"""Counts how often a task message came back after its worker died, so a poison message cannot loop."""
from __future__ import annotations

from datetime import datetime

from retail_sync.persistence.sql import insert
from retail_sync.persistence.tables import task_redeliveries
from sqlalchemy import Connection


def count_redelivery(conn: Connection, task_id: str, task_name: str, now: datetime) -> int:
    statement = (
        insert(conn, task_redeliveries)
        .values(task_id=task_id, task_name=task_name, count=1, last_seen_at=now)
        .on_conflict_do_update(
            index_elements=["task_id"], set_={"count": task_redeliveries.c.count + 1, "last_seen_at": now}
        )
        .returning(task_redeliveries.c.count)
    )
    return conn.execute(statement).scalar_one()
