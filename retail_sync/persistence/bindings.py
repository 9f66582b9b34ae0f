"""Bindings: the only place an external id is linked to ours (unique per system, kind and external id)."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, select

from retail_sync.persistence.sql import insert
from retail_sync.persistence.tables import bindings


class BindingRepository:
    def __init__(self, conn: Connection):
        self._conn = conn

    def to_internal(self, system: str, kind: str, external_id: str) -> str | None:
        return self._conn.execute(
            select(bindings.c.internal_key).where(
                bindings.c.system == system, bindings.c.kind == kind, bindings.c.external_id == str(external_id)
            )
        ).scalar()

    def to_external(self, system: str, kind: str, internal_key: str) -> str | None:
        return self._conn.execute(
            select(bindings.c.external_id).where(
                bindings.c.system == system, bindings.c.kind == kind, bindings.c.internal_key == internal_key
            )
        ).scalar()

    def bind(
        self, system: str, kind: str, external_id: str, internal_key: str, now: datetime,
        written_hash: str | None = None,
    ) -> None:
        values = {"internal_key": internal_key, "synced_at": now, "last_written_hash": written_hash}
        statement = insert(self._conn, bindings).values(system=system, kind=kind, external_id=str(external_id), **values)
        self._conn.execute(
            statement.on_conflict_do_update(index_elements=["system", "kind", "external_id"], set_=values)
        )
