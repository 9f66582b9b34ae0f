"""Fulfilment orders: creation idempotent by `external_ref`, and the warehouse's progress through them.

released → acknowledged → picked → (partially_shipped →) shipped, or cancelled while not yet picked.
A step asked for ahead of its turn takes the earlier steps first (shipping a released order acknowledges and picks
it), so the engine always sees the full sequence of events. Releasing allocates the lines' quantities at the site;
shipping lowers both on-hand and allocated, and refuses (409) what the site does not physically hold.
"""
from __future__ import annotations

import hashlib
import json
import time
from typing import TYPE_CHECKING, Any, Literal

from fastapi import FastAPI, Query, Request
from pydantic import BaseModel, ConfigDict, Field, field_validator

from retail_sync.sandbox.common.db import dumps, loads
from retail_sync.sandbox.wms import inventory
from retail_sync.sandbox.wms.api import (
    API_PREFIX, DEFAULT_LIMIT, MAX_LIMIT, Line, WmsError, iso, json_response, parse_body, prefixed_id, reference,
)
from retail_sync.sandbox.wms.records import Documents, children

if TYPE_CHECKING:
    import sqlite3

    from retail_sync.sandbox.wms.app import WmsSandbox

SCHEMA = """
CREATE TABLE IF NOT EXISTS wms_fulfillment_orders (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    external_ref TEXT NOT NULL UNIQUE,
    site TEXT NOT NULL,
    status TEXT NOT NULL,
    ship_to TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL,
    acknowledged_at REAL,
    picked_at REAL,
    shipped_at REAL,
    cancelled_at REAL
);
CREATE INDEX IF NOT EXISTS ix_wms_fo_status ON wms_fulfillment_orders (status, id);
CREATE INDEX IF NOT EXISTS ix_wms_fo_site ON wms_fulfillment_orders (site, id);
CREATE INDEX IF NOT EXISTS ix_wms_fo_progress ON wms_fulfillment_orders (status, updated_at);
CREATE TABLE IF NOT EXISTS wms_fulfillment_lines (
    order_id INTEGER NOT NULL REFERENCES wms_fulfillment_orders (id) ON DELETE CASCADE,
    line_no INTEGER NOT NULL,
    sku TEXT NOT NULL,
    quantity INTEGER NOT NULL,
    shipped_quantity INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (order_id, line_no)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS wms_shipments (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    order_id INTEGER NOT NULL REFERENCES wms_fulfillment_orders (id) ON DELETE CASCADE,
    carrier TEXT NOT NULL,
    tracking_number TEXT NOT NULL,
    lines TEXT NOT NULL,
    shipped_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS ix_wms_shipments_order ON wms_shipments (order_id, id);
"""
TABLES = ("wms_shipments", "wms_fulfillment_lines", "wms_fulfillment_orders")

Status = Literal["released", "acknowledged", "picked", "partially_shipped", "shipped", "cancelled"]
CANCELLABLE = ("released", "acknowledged")
ORDER_PREFIX, SHIPMENT_PREFIX = "FO", "SHP"
ORDERS = Documents("wms_fulfillment_orders", "wms_fulfillment_lines", "order_id", "fulfillment_order", ORDER_PREFIX,
                   "external_ref")
DEFAULT_CARRIER = "DHL"


class FulfillmentOrderRequest(BaseModel):
    """Body of `POST /api/v1/fulfillment-orders`."""

    model_config = ConfigDict(extra="forbid")
    external_ref: str = Field(min_length=1, max_length=100)
    site: str = Field(min_length=1, max_length=50)
    lines: list[Line] = Field(min_length=1, max_length=500)
    ship_to: dict[str, Any]

    @field_validator("external_ref")
    @classmethod
    def _ref(cls, value: str) -> str:
        return reference(value, "external_ref")

    def fingerprint(self) -> str:
        """What makes two requests "the same order": site, lines in order, and the address."""
        canonical = json.dumps({"site": self.site, "lines": [[line.sku, line.quantity] for line in self.lines],
                                "ship_to": self.ship_to}, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode()).hexdigest()


class ShipRequest(BaseModel):
    """Body of `POST /_sandbox/fulfillment-orders/{id}/ship`; no `lines` ships everything still open."""

    model_config = ConfigDict(extra="forbid")
    lines: list[Line] | None = Field(None, min_length=1, max_length=500)
    carrier: str | None = Field(None, min_length=1, max_length=50)
    tracking_number: str | None = Field(None, min_length=1, max_length=100)


# create -------------------------------------------------------------------------------------------------------
def create(wms: "WmsSandbox", body: FulfillmentOrderRequest) -> tuple[int, dict[str, Any]]:
    """(201, new order) or (200, the order already released under this external_ref)."""
    def insert(conn: "sqlite3.Connection", fingerprint: str, now: float) -> int:
        order_id = conn.execute(
            "INSERT INTO wms_fulfillment_orders (external_ref, site, status, ship_to, fingerprint, created_at,"
            " updated_at) VALUES (?, ?, 'released', ?, ?, ?, ?)",
            (body.external_ref, body.site, dumps(body.ship_to), fingerprint, now, now)).lastrowid
        for line in body.lines:
            inventory.allocate(conn, line.sku, body.site, line.quantity)
        return order_id

    return ORDERS.create_once(wms, body, insert, render, done="released", differs="site, lines or ship_to")


# reading ------------------------------------------------------------------------------------------------------
def render(conn: "sqlite3.Connection", row: "sqlite3.Row") -> dict[str, Any]:
    return render_many(conn, [row])[0]


def render_many(conn: "sqlite3.Connection", rows: list["sqlite3.Row"]) -> list[dict[str, Any]]:
    """Orders with their lines and shipments: three queries for a whole page, not three per order."""
    ids = [row["id"] for row in rows]
    lines = ORDERS.lines_of(conn, ids, lambda line: {
        "sku": line["sku"], "quantity": line["quantity"], "shipped_quantity": line["shipped_quantity"]})
    shipments = children(conn, "wms_shipments", "order_id", ids, "id", render_shipment)
    return [{
        "id": prefixed_id(ORDER_PREFIX, row["id"]),
        "external_ref": row["external_ref"],
        "site": row["site"],
        "status": row["status"],
        "lines": lines.get(row["id"], []),
        "ship_to": loads(row["ship_to"]),
        "shipments": shipments.get(row["id"], []),
        "created_at": iso(row["created_at"]),
        "updated_at": iso(row["updated_at"]),
        "acknowledged_at": iso(row["acknowledged_at"]),
        "picked_at": iso(row["picked_at"]),
        "shipped_at": iso(row["shipped_at"]),
        "cancelled_at": iso(row["cancelled_at"]),
    } for row in rows]


def render_shipment(row: "sqlite3.Row") -> dict[str, Any]:
    return {"id": prefixed_id(SHIPMENT_PREFIX, row["id"]), "carrier": row["carrier"],
            "tracking_number": row["tracking_number"], "lines": loads(row["lines"]),
            "shipped_at": iso(row["shipped_at"])}


# progress -----------------------------------------------------------------------------------------------------
def _event_data(row: "sqlite3.Row", status: str, **extra: Any) -> dict[str, Any]:
    return {"fulfillment_order_id": prefixed_id(ORDER_PREFIX, row["id"]), "external_ref": row["external_ref"],
            "site": row["site"], "status": status, **extra}


def _subject(row: "sqlite3.Row") -> str:
    return f"fulfillment-order:{row['id']}"


def _refuse_cancelled(row: "sqlite3.Row", action: str) -> None:
    if row["status"] == "cancelled":
        raise WmsError(409, "order_cancelled",
                       f"{prefixed_id(ORDER_PREFIX, row['id'])} is cancelled and cannot be {action}")


def acknowledge(wms: "WmsSandbox", conn: "sqlite3.Connection", row: "sqlite3.Row") -> "sqlite3.Row":
    """released → acknowledged; later statuses are left as they are."""
    _refuse_cancelled(row, "acknowledged")
    if row["status"] != "released":
        return row
    now = time.time()
    conn.execute("UPDATE wms_fulfillment_orders SET status = 'acknowledged', acknowledged_at = ?, updated_at = ?"
                 " WHERE id = ?", (now, now, row["id"]))
    wms.events.emit(conn, "fulfillment.acknowledged", _subject(row),
                    _event_data(row, "acknowledged", acknowledged_at=iso(now)))
    return ORDERS.load(conn, row["id"])


def pick(wms: "WmsSandbox", conn: "sqlite3.Connection", row: "sqlite3.Row") -> "sqlite3.Row":
    """(released →) acknowledged → picked: the whole order is picked at once."""
    row = acknowledge(wms, conn, row)
    if row["status"] != "acknowledged":
        return row
    now = time.time()
    conn.execute("UPDATE wms_fulfillment_orders SET status = 'picked', picked_at = ?, updated_at = ? WHERE id = ?",
                 (now, now, row["id"]))
    picked = [{"sku": line["sku"], "quantity": line["quantity"]} for line in conn.execute(
        "SELECT sku, quantity FROM wms_fulfillment_lines WHERE order_id = ? ORDER BY line_no", (row["id"],))]
    wms.events.emit(conn, "fulfillment.picked", _subject(row), _event_data(row, "picked", picked_at=iso(now),
                                                                           lines=picked))
    return ORDERS.load(conn, row["id"])


def ship(wms: "WmsSandbox", conn: "sqlite3.Connection", row: "sqlite3.Row",
         request: ShipRequest) -> dict[str, Any]:
    """One shipment of some or all open quantities; returns it. Picks first when the order is not yet picked."""
    _refuse_cancelled(row, "shipped")
    if row["status"] == "shipped":
        raise WmsError(409, "nothing_to_ship", f"{prefixed_id(ORDER_PREFIX, row['id'])} is already fully shipped")
    row = pick(wms, conn, row)
    open_lines = {line["sku"]: line["quantity"] - line["shipped_quantity"] for line in conn.execute(
        "SELECT sku, quantity, shipped_quantity FROM wms_fulfillment_lines WHERE order_id = ?", (row["id"],))}
    shipped = _shipped_lines(request.lines, open_lines)
    site = row["site"]
    for index, line in enumerate(shipped):
        held = inventory.on_hand(conn, line["sku"], site)
        if held < line["quantity"]:
            raise WmsError(409, "insufficient_stock",
                           f"{site} holds {held} of {line['sku']!r}, cannot ship {line['quantity']}",
                           field=f"lines[{index}].quantity")
    now = time.time()
    carrier = request.carrier or DEFAULT_CARRIER
    shipment_no = conn.execute(
        "INSERT INTO wms_shipments (order_id, carrier, tracking_number, lines, shipped_at) VALUES (?, ?, ?, ?, ?)",
        (row["id"], carrier, request.tracking_number or "", dumps(shipped), now)).lastrowid
    if not request.tracking_number:  # the carrier's number, made up from the shipment's own
        conn.execute("UPDATE wms_shipments SET tracking_number = ? WHERE id = ?",
                     (f"SBX{shipment_no:010d}", shipment_no))
    shipment = render_shipment(conn.execute("SELECT * FROM wms_shipments WHERE id = ?", (shipment_no,)).fetchone())
    conn.executemany("UPDATE wms_fulfillment_lines SET shipped_quantity = shipped_quantity + ?"
                     " WHERE order_id = ? AND sku = ?",
                     [(line["quantity"], row["id"], line["sku"]) for line in shipped])
    for line in shipped:
        open_lines[line["sku"]] -= line["quantity"]
    complete = not any(open_lines.values())
    status = "shipped" if complete else "partially_shipped"
    conn.execute("UPDATE wms_fulfillment_orders SET status = ?, shipped_at = ?, updated_at = ? WHERE id = ?",
                 (status, now if complete else None, now, row["id"]))
    wms.events.emit(conn, "fulfillment.shipped", _subject(row), _event_data(
        row, status, shipment_id=shipment["id"], carrier=carrier, tracking_number=shipment["tracking_number"],
        shipped_at=shipment["shipped_at"], lines=shipped, complete=complete))
    for line in shipped:
        inventory.move(wms, conn, line["sku"], site, -line["quantity"], "shipment", shipment["id"],
                       release_allocation=line["quantity"])
    return shipment


def _shipped_lines(requested: list[Line] | None, open_lines: dict[str, int]) -> list[dict[str, Any]]:
    if requested is None:
        return [{"sku": sku, "quantity": qty} for sku, qty in open_lines.items() if qty > 0]
    seen: set[str] = set()
    for index, line in enumerate(requested):
        if line.sku not in open_lines:
            raise WmsError(422, "unknown_line", f"SKU {line.sku!r} is not on this order", field=f"lines[{index}].sku")
        if line.sku in seen:
            raise WmsError(422, "duplicate_sku", f"SKU {line.sku!r} appears on more than one line",
                           field=f"lines[{index}].sku")
        seen.add(line.sku)
        if line.quantity > open_lines[line.sku]:
            raise WmsError(422, "over_shipment", f"only {open_lines[line.sku]} of {line.sku!r} remain to ship",
                           field=f"lines[{index}].quantity")
    return [{"sku": line.sku, "quantity": line.quantity} for line in requested]


def cancel(conn: "sqlite3.Connection", row: "sqlite3.Row") -> "sqlite3.Row":
    """Cancel before picking (idempotent); releases the allocation. Once picked the goods are in motion: 409."""
    if row["status"] == "cancelled":
        return row
    if row["status"] not in CANCELLABLE:
        raise WmsError(409, "not_cancellable",
                       f"{prefixed_id(ORDER_PREFIX, row['id'])} is {row['status']}: too late to cancel",
                       order_status=row["status"])
    now = time.time()
    conn.execute("UPDATE wms_fulfillment_orders SET status = 'cancelled', cancelled_at = ?, updated_at = ?"
                 " WHERE id = ?", (now, now, row["id"]))
    for line in conn.execute("SELECT sku, quantity FROM wms_fulfillment_lines WHERE order_id = ?", (row["id"],)):
        inventory.allocate(conn, line["sku"], row["site"], -line["quantity"])
    return ORDERS.load(conn, row["id"])


def counts(wms: "WmsSandbox") -> dict[str, Any]:
    by_status = {row[0]: row[1] for row in wms.db.all(
        "SELECT status, COUNT(*) FROM wms_fulfillment_orders GROUP BY status")}
    return {"fulfillment_orders": sum(by_status.values()), "fulfillment_orders_by_status": by_status,
            "shipments": wms.db.scalar("SELECT COUNT(*) FROM wms_shipments")}


# routes -------------------------------------------------------------------------------------------------------
def register(app: FastAPI, wms: "WmsSandbox") -> None:
    base = f"{API_PREFIX}/fulfillment-orders"
    ORDERS.add_routes(app, wms, base, FulfillmentOrderRequest, create, render)

    @app.get(base)
    async def orders(external_ref: str | None = None, status: Status | None = None, site: str | None = None,
                     cursor: str | None = None, limit: int = Query(DEFAULT_LIMIT, ge=1, le=MAX_LIMIT)) -> Any:
        ref = None if external_ref is None else external_ref.strip()
        return json_response(ORDERS.list_page(wms, {"external_ref": ref, "status": status, "site": site}, cursor,
                                              limit, render_many))

    @app.post(base + "/{order_id}/cancel")
    async def cancel_order(order_id: str) -> Any:
        with wms.db.tx() as conn:
            return render(conn, cancel(conn, ORDERS.load_public(conn, order_id)))

    control = "/_sandbox/fulfillment-orders/{order_id}"

    @app.post(control + "/acknowledge")
    async def acknowledge_order(order_id: str) -> Any:
        with wms.db.tx() as conn:
            return render(conn, acknowledge(wms, conn, ORDERS.load_public(conn, order_id)))

    @app.post(control + "/pick")
    async def pick_order(order_id: str) -> Any:
        with wms.db.tx() as conn:
            return render(conn, pick(wms, conn, ORDERS.load_public(conn, order_id)))

    @app.post(control + "/ship")
    async def ship_order(order_id: str, request: Request) -> Any:
        body = await parse_body(request, ShipRequest, optional=True)
        with wms.db.tx() as conn:
            row = ORDERS.load_public(conn, order_id)
            shipment = ship(wms, conn, row, body)
            return {"shipment": shipment, "order": render(conn, ORDERS.load(conn, row["id"]))}
