"""Read-only views of orders for the API and the CLI: one order's state and timeline, and counts for `status`.

A read model: it reads the saga's tables directly and changes nothing (the cosmicpython `views.py` idea), so the
writers stay free to keep their own repositories. Everything returned is JSON-ready (times as ISO 8601 UTC).
No customer data leaves here: a reader of the state needs the business key, not the shopper's name or address.
"""
from __future__ import annotations

import json
from datetime import datetime

from sqlalchemy import Connection, func, select

from retail_sync.domain.orders import order_subject
from retail_sync.persistence.tables import (
    exceptions,
    fulfilments,
    order_allocations,
    orders,
    shipments,
    timeline,
)

# Orders whose saga is over: a deadline left on one of them is not work for the sweepers.
SETTLED = ("completed", "cancelled")


def describe(conn: Connection, ref: str) -> dict | None:
    """The order's state (status, each saga step's state and time, ERP order, fulfilments, shipments, hold
    reason, open exceptions) and its timeline; None when there is no such order."""
    order = conn.execute(select(orders).where(orders.c.ref == ref)).mappings().first()
    if order is None:
        return None
    body = json.loads(order["body"])
    return {
        "ref": order["ref"],
        "channel": order["channel"],
        "number": order["number"],
        "store_id": order["store_id"],
        "status": order["status"],
        "source_status": order["source_status"],
        "hold_reason": order["hold_reason"],
        "currency": body.get("currency"),
        "total": body.get("total"),
        "lines": [{"sku": line["sku"], "quantity": line["quantity"]} for line in body.get("lines", [])],
        "steps": _steps(conn, order),
        "milestones": {name: _iso(order[f"{name}_at"]) for name in
                       ("received", "acknowledged", "shipped", "completed", "cancelled")},
        "saga_deadline": _iso(order["saga_deadline"]),
        "fulfilments": _fulfilments(conn, ref),
        "shipments": _shipments(conn, ref),
        "open_exceptions": _open_exceptions(conn, ref),
        "timeline": _timeline(conn, ref),
        "updated_at": _iso(order["updated_at"]),
    }


def orders_overview(conn: Connection, now: datetime) -> dict:
    """Orders by status, and the open sagas whose deadline has passed: the sweepers' backlog (each step sets a
    deadline when it hands work on and clears it when nothing is left to wait for)."""
    by_status = dict(conn.execute(select(orders.c.status, func.count()).group_by(orders.c.status)).all())
    overdue = conn.execute(
        select(func.count()).select_from(orders)
        .where(orders.c.status.not_in(SETTLED), orders.c.saga_deadline < now)
    ).scalar_one()
    return {"orders_by_status": by_status, "sagas_past_deadline": overdue}


def _steps(conn: Connection, order) -> dict:
    if order["validated_at"] is not None:
        validation = "passed"
    else:
        validation = "failed" if order["status"] == "on_hold" else "pending"
    return {
        "validation": {"state": validation, "at": _iso(order["validated_at"])},
        "erp_order": {"state": order["erp_state"], "at": _iso(order["posted_at"]),
                      "id": order["erp_order_id"], "name": order["erp_order_name"]},
        "reservation": {"state": order["reservation_state"], "at": _iso(order["reserved_at"]),
                        "allocations": _allocations(conn, order["ref"])},
        "release": {"state": order["release_state"], "at": _iso(order["released_at"])},
        "invoice": {"state": order["invoice_state"]},
    }


def _allocations(conn: Connection, ref: str) -> list[dict]:
    rows = conn.execute(
        select(order_allocations.c.site, order_allocations.c.sku, order_allocations.c.quantity,
               order_allocations.c.shipped_quantity, order_allocations.c.status)
        .where(order_allocations.c.order_ref == ref).order_by(order_allocations.c.site, order_allocations.c.sku)
    ).mappings()
    return [dict(row) for row in rows]


def _fulfilments(conn: Connection, ref: str) -> list[dict]:
    rows = conn.execute(
        select(fulfilments).where(fulfilments.c.order_ref == ref).order_by(fulfilments.c.external_ref)
    ).mappings()
    return [
        {
            "external_ref": row["external_ref"], "site": row["site"], "wms_id": row["wms_id"],
            "status": row["status"], "lines": row["lines"],
            **{f"{name}_at": _iso(row[f"{name}_at"]) for name in
               ("released", "acknowledged", "picked", "shipped", "cancelled")},
        }
        for row in rows
    ]


def _shipments(conn: Connection, ref: str) -> list[dict]:
    rows = conn.execute(
        select(shipments).where(shipments.c.order_ref == ref).order_by(shipments.c.shipped_at, shipments.c.shipment_id)
    ).mappings()
    return [
        {
            "shipment_id": row["shipment_id"], "external_ref": row["external_ref"], "carrier": row["carrier"],
            "tracking_number": row["tracking_number"], "lines": row["lines"], "shipped_at": _iso(row["shipped_at"]),
            "store_noted_at": _iso(row["store_noted_at"]),
        }
        for row in rows
    ]


def _open_exceptions(conn: Connection, ref: str) -> list[dict]:
    rows = conn.execute(
        select(exceptions.c.id, exceptions.c.kind, exceptions.c.error_message, exceptions.c.created_at)
        .where(exceptions.c.subject == ref, exceptions.c.status == "open").order_by(exceptions.c.id)
    ).mappings()
    return [{"id": row["id"], "kind": row["kind"], "message": row["error_message"],
             "created_at": _iso(row["created_at"])} for row in rows]


def _timeline(conn: Connection, ref: str) -> list[dict]:
    """Each entry: the step, the system it concerned, when, its outcome and error (writers put `outcome` and
    `error` in the entry's detail when they have one), and the rest of the detail."""
    rows = conn.execute(
        select(timeline.c.event_type, timeline.c.source, timeline.c.occurred_at, timeline.c.detail)
        .where(timeline.c.subject == order_subject(ref)).order_by(timeline.c.id)
    ).mappings()
    entries = []
    for row in rows:
        detail = dict(row["detail"] or {})
        entries.append({
            "step": row["event_type"], "system": row["source"], "at": _iso(row["occurred_at"]),
            "outcome": detail.pop("outcome", None), "error": detail.pop("error", None), "detail": detail,
        })
    return entries


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None
