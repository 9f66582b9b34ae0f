"""The warehouse side of an order: fulfilments (written pending before the WMS is called, then moved forward by
its events), shipments, and the on-hand facts the WMS reports.

Orders, effects and reservations live in `persistence.orders`, the product bindings in `persistence.product_bindings`. Every write here is idempotent and never lets an older fact overwrite a newer one.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Iterable, Mapping, Sequence

from sqlalchemy import Connection, case, func, or_, select, update

from retail_sync.persistence import orders
from retail_sync.persistence.sql import insert
from retail_sync.persistence.tables import (
    fulfilments,
    order_allocations,
    shipments,
    stock_levels,
)

# A fulfilment only moves forward; `cancelled` is terminal and outside the order.
FULFILMENT_PROGRESS = ("pending", "released", "acknowledged", "picked", "partially_shipped", "shipped")
FULFILMENT_TIMESTAMP = {"acknowledged": "acknowledged_at", "picked": "picked_at", "shipped": "shipped_at"}


@dataclass(frozen=True)
class FulfilmentRow:
    external_ref: str
    order_ref: str
    site: str
    wms_id: str | None
    status: str
    lines: list
    created_at: datetime


@dataclass(frozen=True)
class Shipment:
    shipment_id: str
    order_ref: str
    external_ref: str
    carrier: str | None
    tracking_number: str | None
    lines: list  # [{"sku", "quantity"}]
    shipped_at: datetime
    store_noted_at: datetime | None = None


@dataclass(frozen=True)
class OnHandFact:
    sku: str
    site: str
    on_hand: int
    at: datetime  # when the WMS observed it


# --- fulfilments ----------------------------------------------------------------------------------------------

def _fulfilment(row) -> FulfilmentRow:
    return FulfilmentRow(row.external_ref, row.order_ref, row.site, row.wms_id, row.status, row.lines, row.created_at)


def get_fulfilment(conn: Connection, external_ref: str, *, for_update: bool = False) -> FulfilmentRow | None:
    statement = select(fulfilments).where(fulfilments.c.external_ref == external_ref)
    row = conn.execute(statement.with_for_update() if for_update else statement).first()
    return _fulfilment(row) if row else None


def fulfilments_of(conn: Connection, order_ref: str) -> list[FulfilmentRow]:
    rows = conn.execute(
        select(fulfilments).where(fulfilments.c.order_ref == order_ref).order_by(fulfilments.c.external_ref)
    )
    return [_fulfilment(row) for row in rows]


def advance_fulfilment(
    conn: Connection, external_ref: str, status: str, at: datetime, now: datetime, *, wms_id: str | None = None,
) -> bool:
    """Move a fulfilment forward to `status` (never back, never out of `cancelled`) and fill the step's timestamp
    if it is still empty. True when anything changed."""
    current = get_fulfilment(conn, external_ref, for_update=True)
    if current is None or current.status == "cancelled":
        return False
    values: dict = {}
    if FULFILMENT_PROGRESS.index(status) > FULFILMENT_PROGRESS.index(current.status):
        values["status"] = status
    if wms_id and current.wms_id is None:
        values["wms_id"] = wms_id
    stamp = FULFILMENT_TIMESTAMP.get(status)
    if stamp:
        filled = conn.execute(
            update(fulfilments)
            .where(fulfilments.c.external_ref == external_ref, fulfilments.c[stamp].is_(None))
            .values({stamp: at, "updated_at": now})
        ).rowcount
    else:
        filled = 0
    if values:
        conn.execute(
            update(fulfilments).where(fulfilments.c.external_ref == external_ref).values(**values, updated_at=now)
        )
    return bool(values) or bool(filled)


def add_pending_fulfilments(conn: Connection, ref: str, planned: Sequence[tuple[str, str, Mapping[str, int]]],
                            now: datetime) -> None:
    """Record the fulfilments about to be requested, as (external_ref, site, {sku: quantity}), pending; once: a
    repeated release finds them there."""
    rows = [
        {"external_ref": external_ref, "order_ref": ref, "site": site, "status": "pending",
         "lines": [{"sku": sku, "quantity": quantity} for sku, quantity in sorted(lines.items())],
         "created_at": now, "updated_at": now}
        for external_ref, site, lines in planned
    ]
    if rows:
        conn.execute(insert(conn, fulfilments).on_conflict_do_nothing(index_elements=["external_ref"]), rows)


def record_fulfilment_released(conn: Connection, external_ref: str, wms_id: str, now: datetime) -> None:
    """The WMS accepted it. A WMS event may have moved the row on already: its status is kept then."""
    conn.execute(
        update(fulfilments)
        .where(fulfilments.c.external_ref == external_ref)
        .values(
            wms_id=func.coalesce(fulfilments.c.wms_id, wms_id),
            status=case((fulfilments.c.status == "pending", "released"), else_=fulfilments.c.status),
            released_at=func.coalesce(fulfilments.c.released_at, now),
            updated_at=now,
        )
    )


def unreleased_fulfilments(conn: Connection, ref: str) -> list[str]:
    """External refs of the order's fulfilments the WMS has not accepted yet."""
    statement = select(fulfilments.c.external_ref).where(
        fulfilments.c.order_ref == ref, fulfilments.c.status == "pending")
    return list(conn.execute(statement.order_by(fulfilments.c.external_ref)).scalars())


def mark_fulfilment_cancelled(conn: Connection, external_ref: str, now: datetime, *, wms_id: str | None = None) -> None:
    values: dict = {"status": "cancelled", "cancelled_at": now, "updated_at": now}
    if wms_id:
        values["wms_id"] = wms_id
    conn.execute(
        update(fulfilments)
        .where(fulfilments.c.external_ref == external_ref, fulfilments.c.status != "cancelled")
        .values(**values)
    )


def all_shipped(conn: Connection, order_ref: str) -> bool:
    """Every fulfilment of the order that was not cancelled has shipped (and there is at least one)."""
    statuses = [f.status for f in fulfilments_of(conn, order_ref) if f.status != "cancelled"]
    return bool(statuses) and all(status == "shipped" for status in statuses)


# --- shipments -------------------------------------------------------------------------------------------------

def insert_shipment(conn: Connection, shipment: Shipment, now: datetime) -> bool:
    """Record a shipment once (its WMS id is the key). False when it was already recorded."""
    statement = (
        insert(conn, shipments)
        .values(
            shipment_id=shipment.shipment_id, order_ref=shipment.order_ref, external_ref=shipment.external_ref,
            carrier=shipment.carrier, tracking_number=shipment.tracking_number, lines=shipment.lines,
            shipped_at=shipment.shipped_at, recorded_at=now,
        )
        .on_conflict_do_nothing(index_elements=["shipment_id"])
        .returning(shipments.c.shipment_id)  # rowcount is not reliable for INSERT … ON CONFLICT on every driver
    )
    return conn.execute(statement).first() is not None


def _shipment(row) -> Shipment:
    return Shipment(
        row.shipment_id, row.order_ref, row.external_ref, row.carrier, row.tracking_number, row.lines,
        row.shipped_at, row.store_noted_at,
    )


def get_shipment(conn: Connection, shipment_id: str) -> Shipment | None:
    row = conn.execute(select(shipments).where(shipments.c.shipment_id == shipment_id)).first()
    return _shipment(row) if row else None


def shipments_of(conn: Connection, order_ref: str) -> list[Shipment]:
    statement = select(shipments).where(shipments.c.order_ref == order_ref)
    rows = conn.execute(statement.order_by(shipments.c.shipped_at, shipments.c.shipment_id))
    return [_shipment(row) for row in rows]


def shipped_quantities(conn: Connection, order_ref: str) -> dict[str, int]:
    """Units shipped per SKU over every shipment of the order."""
    totals: dict[str, int] = {}
    for shipment in shipments_of(conn, order_ref):
        for line in shipment.lines:
            totals[line["sku"]] = totals.get(line["sku"], 0) + int(line["quantity"])
    return totals


def mark_store_noted(conn: Connection, shipment_id: str, now: datetime) -> None:
    conn.execute(
        update(shipments)
        .where(shipments.c.shipment_id == shipment_id, shipments.c.store_noted_at.is_(None))
        .values(store_noted_at=now)
    )


# --- allocations and stock after a shipment ----------------------------------------------------------------------

def ship_from_allocations(conn: Connection, order_ref: str, site: str, lines: Sequence[Mapping], now: datetime) -> None:
    """Consume the shipped units of held allocations: shipped_quantity grows (consumed once all shipped) and the
    site's `reserved` shrinks by what the allocation still held, never below zero. Rows are taken in (sku)
    order, as the reservation takes them, so the two never wait on each other in a cycle."""
    for line in sorted(lines, key=lambda line: line["sku"]):
        sku, quantity = line["sku"], int(line["quantity"])
        allocation = conn.execute(
            select(order_allocations)
            .where(order_allocations.c.order_ref == order_ref, order_allocations.c.site == site,
                   order_allocations.c.sku == sku)
            .with_for_update()
        ).first()
        if allocation is None:
            continue
        held = allocation.quantity - allocation.shipped_quantity if allocation.status == "held" else 0
        taken = max(0, min(quantity, held))
        shipped = allocation.shipped_quantity + quantity
        status = "consumed" if allocation.status == "held" and shipped >= allocation.quantity else allocation.status
        conn.execute(
            update(order_allocations)
            .where(order_allocations.c.id == allocation.id)
            .values(shipped_quantity=shipped, status=status, updated_at=now)
        )
        if taken:
            orders.lower_reserved(conn, sku, site, taken, now)


def lower_on_hand_for_shipment(conn: Connection, site: str, lines: Sequence[Mapping], shipped_at: datetime,
                               now: datetime) -> None:
    """Units that left lower on-hand at once, so available-to-sell never counts them. Skipped where a newer WMS
    count was already applied: that absolute figure already includes this shipment."""
    for line in sorted(lines, key=lambda line: line["sku"]):
        quantity = int(line["quantity"])
        conn.execute(
            update(stock_levels)
            .where(
                stock_levels.c.sku == line["sku"], stock_levels.c.site == site,
                or_(stock_levels.c.on_hand_at.is_(None), stock_levels.c.on_hand_at < shipped_at),
            )
            .values(
                on_hand=case((stock_levels.c.on_hand >= quantity, stock_levels.c.on_hand - quantity), else_=0),
                on_hand_at=shipped_at, updated_at=now,
            )
        )


# --- on-hand facts ---------------------------------------------------------------------------------------------

def apply_on_hand(conn: Connection, facts: Iterable[OnHandFact], now: datetime) -> int:
    """Upsert absolute on-hand levels, each only over an older one (or none). Returns how many were applied.

    One multi-row INSERT … ON CONFLICT DO UPDATE … WHERE: a fact older than the stored one updates nothing. The
    caller gives each (sku, site) once per call (PostgreSQL refuses to update one row twice in a statement).
    """
    rows = [
        {"sku": f.sku, "site": f.site, "on_hand": f.on_hand, "reserved": 0, "on_hand_at": f.at, "updated_at": now}
        for f in facts
    ]
    if not rows:
        return 0
    statement = insert(conn, stock_levels)
    statement = statement.on_conflict_do_update(
        index_elements=["sku", "site"],
        set_={"on_hand": statement.excluded.on_hand, "on_hand_at": statement.excluded.on_hand_at,
              "updated_at": statement.excluded.updated_at},
        where=or_(stock_levels.c.on_hand_at.is_(None), stock_levels.c.on_hand_at < statement.excluded.on_hand_at),
    ).returning(stock_levels.c.sku)
    return len(conn.execute(statement, rows).all())


def on_hand_of(conn: Connection, sku: str, site: str) -> tuple[int, int] | None:
    """(on_hand, reserved) of one SKU at one site, or None when unknown."""
    row = conn.execute(
        select(stock_levels.c.on_hand, stock_levels.c.reserved)
        .where(stock_levels.c.sku == sku, stock_levels.c.site == site)
    ).first()
    return (row.on_hand, row.reserved) if row else None
