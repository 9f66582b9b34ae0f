"""Return authorizations: created idempotent by `rma_ref`, then received at the dock with a grade per line.

Grades `A` and `B` are resellable and go back on hand at the authorization's site (`inventory.adjusted`, reason
`return`); `damaged` goods are received but not stocked. A return may arrive in several parcels: each receipt is
its own `return.received` event, and receipts beyond the authorized quantity are refused.
"""
from __future__ import annotations

import hashlib
import json
import time
from typing import TYPE_CHECKING, Any, Literal

from fastapi import FastAPI, Query, Request
from pydantic import BaseModel, ConfigDict, Field, StrictInt, ValidationInfo, field_validator

from retail_sync.sandbox.common.catalog import normalise_sku
from retail_sync.sandbox.common.db import dumps, loads
from retail_sync.sandbox.wms import inventory
from retail_sync.sandbox.wms.api import (
    API_PREFIX, DEFAULT_LIMIT, MAX_LIMIT, Line, WmsError, iso, json_response, not_found, parse_body, prefixed_id,
    reference,
)
from retail_sync.sandbox.wms.records import Documents, children

if TYPE_CHECKING:
    import sqlite3

    from retail_sync.sandbox.wms.app import WmsSandbox

SCHEMA = """
CREATE TABLE IF NOT EXISTS wms_returns (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    rma_ref TEXT NOT NULL UNIQUE,
    order_ref TEXT NOT NULL,
    site TEXT NOT NULL,
    status TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS ix_wms_returns_order_ref ON wms_returns (order_ref, id);
CREATE INDEX IF NOT EXISTS ix_wms_returns_status ON wms_returns (status, id);
CREATE TABLE IF NOT EXISTS wms_return_lines (
    return_id INTEGER NOT NULL REFERENCES wms_returns (id) ON DELETE CASCADE,
    line_no INTEGER NOT NULL,
    sku TEXT NOT NULL,
    quantity INTEGER NOT NULL,
    received_quantity INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (return_id, line_no)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS wms_return_receipts (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    return_id INTEGER NOT NULL REFERENCES wms_returns (id) ON DELETE CASCADE,
    lines TEXT NOT NULL,
    received_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS ix_wms_return_receipts_return ON wms_return_receipts (return_id, id);
"""
TABLES = ("wms_return_receipts", "wms_return_lines", "wms_returns")

KIND = "return_authorization"
PREFIX = "RA"
RETURNS = Documents("wms_returns", "wms_return_lines", "return_id", KIND, PREFIX, "rma_ref")
RESELLABLE = ("A", "B")
Status = Literal["authorized", "partially_received", "received"]


class ReturnRequest(BaseModel):
    """Body of `POST /api/v1/return-authorizations`."""

    model_config = ConfigDict(extra="forbid")
    rma_ref: str = Field(min_length=1, max_length=100)
    order_ref: str = Field(min_length=1, max_length=100)
    site: str = Field(min_length=1, max_length=50)
    lines: list[Line] = Field(min_length=1, max_length=500)

    @field_validator("rma_ref", "order_ref")
    @classmethod
    def _ref(cls, value: str, info: ValidationInfo) -> str:
        return reference(value, info.field_name or "reference")

    def fingerprint(self) -> str:
        canonical = json.dumps({"order_ref": self.order_ref, "site": self.site,
                                "lines": [[line.sku, line.quantity] for line in self.lines]}, separators=(",", ":"))
        return hashlib.sha256(canonical.encode()).hexdigest()


class ReceivedLine(BaseModel):
    model_config = ConfigDict(extra="forbid")
    sku: str = Field(min_length=1, max_length=100)
    quantity: StrictInt = Field(ge=1, le=1_000_000)
    grade: Literal["A", "B", "damaged"]

    @field_validator("sku")
    @classmethod
    def _sku(cls, value: str) -> str:
        return normalise_sku(value)


class ReceiveRequest(BaseModel):
    """Body of `POST /_sandbox/returns/{rma_ref}/receive`; one SKU may appear once per grade."""

    model_config = ConfigDict(extra="forbid")
    lines: list[ReceivedLine] = Field(min_length=1, max_length=500)


def create(wms: "WmsSandbox", body: ReturnRequest) -> tuple[int, dict[str, Any]]:
    """(201, new authorization) or (200, the one already made under this rma_ref)."""
    def insert(conn: "sqlite3.Connection", fingerprint: str, now: float) -> int:
        return conn.execute(
            "INSERT INTO wms_returns (rma_ref, order_ref, site, status, fingerprint, created_at, updated_at)"
            " VALUES (?, ?, ?, 'authorized', ?, ?, ?)",
            (body.rma_ref, body.order_ref, body.site, fingerprint, now, now)).lastrowid

    return RETURNS.create_once(wms, body, insert, render, done="authorized", differs="order_ref, site or lines")


def receive(wms: "WmsSandbox", rma_ref: str, body: ReceiveRequest) -> dict[str, Any]:
    with wms.db.tx() as conn:
        row = conn.execute("SELECT * FROM wms_returns WHERE rma_ref = ?", (rma_ref,)).fetchone()
        if row is None:
            raise not_found(KIND, rma_ref)
        if row["status"] == "received":
            raise WmsError(409, "already_received", f"return {rma_ref!r} was received in full")
        open_qty = {line["sku"]: line["quantity"] - line["received_quantity"] for line in conn.execute(
            "SELECT sku, quantity, received_quantity FROM wms_return_lines WHERE return_id = ?", (row["id"],))}
        _check_receipt(body.lines, open_qty)
        now = time.time()
        lines = [{"sku": line.sku, "quantity": line.quantity, "grade": line.grade} for line in body.lines]
        conn.execute("INSERT INTO wms_return_receipts (return_id, lines, received_at) VALUES (?, ?, ?)",
                     (row["id"], dumps(lines), now))
        conn.executemany("UPDATE wms_return_lines SET received_quantity = received_quantity + ?"
                         " WHERE return_id = ? AND sku = ?",
                         [(line.quantity, row["id"], line.sku) for line in body.lines])
        for line in body.lines:
            open_qty[line.sku] -= line.quantity
        status = "partially_received" if any(open_qty.values()) else "received"
        conn.execute("UPDATE wms_returns SET status = ?, updated_at = ? WHERE id = ?", (status, now, row["id"]))
        wms.events.emit(conn, "return.received", f"return:{rma_ref}", {
            "return_authorization_id": prefixed_id(PREFIX, row["id"]), "rma_ref": rma_ref,
            "order_ref": row["order_ref"], "site": row["site"], "status": status, "received_at": iso(now),
            "lines": lines})
        restock: dict[str, int] = {}
        for line in body.lines:
            if line.grade in RESELLABLE:
                restock[line.sku] = restock.get(line.sku, 0) + line.quantity
        for sku, quantity in restock.items():
            inventory.move(wms, conn, sku, row["site"], quantity, "return", rma_ref)
        return render(conn, RETURNS.load(conn, row["id"]))


def _check_receipt(lines: list[ReceivedLine], open_qty: dict[str, int]) -> None:
    seen: set[tuple[str, str]] = set()
    receiving: dict[str, int] = {}
    for index, line in enumerate(lines):
        if line.sku not in open_qty:
            raise WmsError(422, "unknown_line", f"SKU {line.sku!r} is not on this return authorization",
                           field=f"lines[{index}].sku")
        if (line.sku, line.grade) in seen:
            raise WmsError(422, "duplicate_line", f"SKU {line.sku!r} with grade {line.grade} appears twice",
                           field=f"lines[{index}]")
        seen.add((line.sku, line.grade))
        receiving[line.sku] = receiving.get(line.sku, 0) + line.quantity
        if receiving[line.sku] > open_qty[line.sku]:
            raise WmsError(422, "over_receipt", f"only {open_qty[line.sku]} of {line.sku!r} remain to receive",
                           field=f"lines[{index}].quantity")


def render(conn: "sqlite3.Connection", row: "sqlite3.Row") -> dict[str, Any]:
    return render_many(conn, [row])[0]


def render_many(conn: "sqlite3.Connection", rows: list["sqlite3.Row"]) -> list[dict[str, Any]]:
    ids = [row["id"] for row in rows]
    lines = RETURNS.lines_of(conn, ids, lambda line: {
        "sku": line["sku"], "quantity": line["quantity"], "received_quantity": line["received_quantity"]})
    receipts = children(conn, "wms_return_receipts", "return_id", ids, "id", lambda receipt: {
        "received_at": iso(receipt["received_at"]), "lines": loads(receipt["lines"])})
    return [{
        "id": prefixed_id(PREFIX, row["id"]), "rma_ref": row["rma_ref"], "order_ref": row["order_ref"],
        "site": row["site"], "status": row["status"], "lines": lines.get(row["id"], []),
        "receipts": receipts.get(row["id"], []), "created_at": iso(row["created_at"]),
        "updated_at": iso(row["updated_at"]),
    } for row in rows]


def counts(wms: "WmsSandbox") -> dict[str, int]:
    return {"return_authorizations": wms.db.scalar("SELECT COUNT(*) FROM wms_returns")}


def register(app: FastAPI, wms: "WmsSandbox") -> None:
    base = f"{API_PREFIX}/return-authorizations"
    RETURNS.add_routes(app, wms, base, ReturnRequest, create, render)

    @app.get(base)
    async def returns(rma_ref: str | None = None, order_ref: str | None = None, status: Status | None = None,
                      cursor: str | None = None, limit: int = Query(DEFAULT_LIMIT, ge=1, le=MAX_LIMIT)) -> Any:
        return json_response(RETURNS.list_page(wms, {"rma_ref": rma_ref, "order_ref": order_ref, "status": status},
                                               cursor, limit, render_many))

    @app.post("/_sandbox/returns/{rma_ref}/receive")
    async def receive_return(rma_ref: str, request: Request) -> Any:
        return receive(wms, rma_ref, await parse_body(request, ReceiveRequest))
