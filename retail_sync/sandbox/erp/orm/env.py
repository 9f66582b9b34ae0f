"""One RPC call's environment: the user, the context, the transaction's timestamp and the model registry.

Like Odoo's `NOW() AT TIME ZONE 'UTC'`, every `create_date`/`write_date` written by one call is the same instant.
Create attempts are collected here and written to the sandbox ledger once the call's outcome is known.
"""
from __future__ import annotations

import datetime as dt
import sqlite3
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from retail_sync.sandbox.erp.orm.model import Model


@dataclass
class CreateAttempt:
    kind: str
    key: str
    record_id: int | None = None  # set once the row is inserted


@dataclass
class Env:
    conn: sqlite3.Connection
    registry: dict[str, type["Model"]]
    uid: int
    context: dict[str, Any] = field(default_factory=dict)
    now: str = field(default_factory=lambda: dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S"))
    creates: list[CreateAttempt] = field(default_factory=list)

    def __getitem__(self, model_name: str) -> "Model":
        return self.registry[model_name](self)

    def get(self, model_name: str) -> "Model | None":
        cls = self.registry.get(model_name)
        return None if cls is None else cls(self)

    @property
    def today(self) -> str:
        return self.now[:10]

    def execute(self, sql: str, params: tuple | list | dict = ()) -> sqlite3.Cursor:
        return self.conn.execute(sql, params if isinstance(params, dict) else tuple(params))

    def rows(self, sql: str, params: tuple | list = ()) -> list[sqlite3.Row]:
        return self.conn.execute(sql, tuple(params)).fetchall()

    def scalar(self, sql: str, params: tuple | list = ()) -> Any:
        row = self.conn.execute(sql, tuple(params)).fetchone()
        return None if row is None else row[0]

    def next_sequence(self, code: str) -> int:
        """The next number of a named sequence (`sale.order`, `INV/2026`...), gap-free inside a committed call."""
        return self.scalar(
            "INSERT INTO erp_sequence (code, number) VALUES (?, 1)"
            " ON CONFLICT(code) DO UPDATE SET number = number + 1 RETURNING number", (code,))
