"""Store order nudges: the durable trace of "the store says this order changed", left by each webhook in the
delivery's transaction. Capture removes a nudge once it has read a version at least as new; the saga sweeper
re-drives a nudge nobody captured in time (the publish after commit was lost, Redis was flushed)."""
from __future__ import annotations

from datetime import datetime
from typing import Sequence

from sqlalchemy import Connection, case, delete, or_, select, update

from retail_sync.persistence.sql import insert
from retail_sync.persistence.tables import store_order_nudges as nudges


def nudge(conn: Connection, store_id: str, version: str | None, now: datetime, redrive_after: datetime) -> None:
    """Record (or refresh) the nudge for one store order, keeping the newest version announced. An existing
    nudge keeps its re-drive time: a stream of updates must not postpone the safety net forever."""
    statement = insert(conn, nudges).values(store_id=store_id, version=version, requested_at=now,
                                            redrive_after=redrive_after)
    newer = or_(nudges.c.version.is_(None), statement.excluded.version > nudges.c.version)
    conn.execute(statement.on_conflict_do_update(
        index_elements=["store_id"],
        set_={"version": case((newer, statement.excluded.version), else_=nudges.c.version),
              "requested_at": statement.excluded.requested_at},
    ))


def settle(conn: Connection, store_id: str, captured_version: str | None) -> None:
    """Capture read `captured_version` (None: the store no longer has the order): drop the nudge unless it
    announced something newer, which stays for the next capture."""
    statement = delete(nudges).where(nudges.c.store_id == store_id)
    if captured_version is not None:
        statement = statement.where(or_(nudges.c.version.is_(None), nudges.c.version <= captured_version))
    conn.execute(statement)


def due(conn: Connection, now: datetime, limit: int) -> list[str]:
    statement = (
        select(nudges.c.store_id)
        .where(nudges.c.redrive_after <= now)
        .order_by(nudges.c.redrive_after, nudges.c.store_id)
        .limit(limit)
    )
    return list(conn.execute(statement).scalars())


def postpone(conn: Connection, store_ids: Sequence[str], until: datetime) -> None:
    if store_ids:
        conn.execute(update(nudges).where(nudges.c.store_id.in_(list(store_ids))).values(redrive_after=until))

