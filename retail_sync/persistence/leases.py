"""Named leases in SQL: at most one holder at a time, taken over only after the holder stops renewing.

Kept in SQL rather than Redis because Redis may lose everything at any moment; a lease that vanished with
it would let two holders run at once.
"""
from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import Connection, or_, update

from retail_sync.persistence.sql import insert
from retail_sync.persistence.tables import leases


def acquire_or_renew(conn: Connection, name: str, holder: str, now: datetime, ttl: timedelta) -> bool:
    """True if `holder` holds the lease until now + ttl (it already held it, or the last holder let it lapse)."""
    taken = conn.execute(
        update(leases)
        .where(leases.c.name == name, or_(leases.c.holder == holder, leases.c.expires_at <= now))
        .values(holder=holder, expires_at=now + ttl)
    ).rowcount
    if taken:
        return True
    created = conn.execute(
        insert(conn, leases)
        .values(name=name, holder=holder, expires_at=now + ttl)
        .on_conflict_do_nothing(index_elements=["name"])
        .returning(leases.c.name)  # rowcount is not reliable for INSERT … ON CONFLICT on every driver
    ).first()
    return created is not None


def release(conn: Connection, name: str, holder: str, now: datetime) -> None:
    conn.execute(update(leases).where(leases.c.name == name, leases.c.holder == holder).values(expires_at=now))
