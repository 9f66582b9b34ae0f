"""After release: the warehouse's events, and the confirmation of each shipment to the customer, the ERP and the
store.

WMS events come through the inbox: `on_wms_event` runs inside the delivery's transaction and touches only SQL
(forward-only progress, shipments recorded once, reservations consumed, on-hand lowered). `confirm_shipment`,
dispatched after the commit, makes the remote effects, each claimed in SQL first and each safe to run again.
"""
from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Callable

from sqlalchemy import Connection

from retail_sync import task_names
from retail_sync.connectors.ports import InvoiceLine
from retail_sync.domain.orders import order_subject
from retail_sync.domain.skus import normalise_sku
from retail_sync.domain.wms_events import WmsEvent, parse_aware_time, parse_wms_event
from retail_sync.errors import PermanentError
from retail_sync.flows.effects import exclusive_effect
from retail_sync.flows.store_updates import write_store_status_once
from retail_sync.persistence import fulfilment_store, orders, timeline
from retail_sync.persistence.fulfilment_store import FULFILMENT_PROGRESS, OnHandFact, Shipment
from retail_sync.persistence.inbox import InboxRow
from retail_sync.persistence.unit_of_work import UnitOfWork

if TYPE_CHECKING:
    from retail_sync.bootstrap import Services

logger = logging.getLogger(__name__)

SWEEP_PAGE = 200
SHIPPABLE_ORDER_STATUSES = ("validated", "released", "partially_shipped")


def _parse_event(body: str) -> WmsEvent:
    try:
        return parse_wms_event(body)
    except ValueError as exc:
        raise PermanentError(f"malformed WMS event: {exc}") from exc


def on_wms_event(services: "Services", uow: UnitOfWork, row: InboxRow, now: datetime) -> str:
    """The inbox handler for every WMS event (`fulfillment.*`, `inventory.*`, `return.*`)."""
    event = _parse_event(row.body)
    handler = EVENT_HANDLERS.get(event.type)
    if handler is None:
        timeline.record(
            uow.conn, subject="webhook:wms", event_type="webhook.ignored", source="wms", occurred_at=now,
            detail={"topic": event.type, "inbox_id": row.id}, dedupe_key=f"wms:{event.id}",
        )
        return "ignored"
    try:
        return handler(services, uow, event, now)
    except (KeyError, TypeError, ValueError) as exc:  # a field missing or of the wrong shape: retrying cannot help
        raise PermanentError(f"malformed {event.type} event {event.id}: {exc!r}") from exc


def _progress(services: "Services", uow: UnitOfWork, event: WmsEvent, now: datetime) -> str:
    """fulfillment.acknowledged / fulfillment.picked: forward only, so a late or repeated event changes nothing."""
    data = event.data
    step = event.type.rsplit(".", 1)[1]
    fulfilment = fulfilment_store.get_fulfilment(uow.conn, data["external_ref"])
    if fulfilment is None:
        return _unknown_fulfilment(uow, event, now)
    order = _lock_order(uow, fulfilment.order_ref)
    at = parse_aware_time(data[f"{step}_at"]) if data.get(f"{step}_at") else event.occurred_at
    changed = fulfilment_store.advance_fulfilment(
        uow.conn, fulfilment.external_ref, step, at, now, wms_id=data.get("fulfillment_order_id"),
    )
    if step == "acknowledged" and order.acknowledged_at is None:
        orders.update_order(uow.conn, order.ref, now, acknowledged_at=at)
    timeline.record(
        uow.conn, subject=order_subject(fulfilment.order_ref), event_type=f"wms.{step}", source="wms",
        occurred_at=at, detail={"external_ref": fulfilment.external_ref, "applied": changed},
        dedupe_key=f"wms:{event.id}",
    )
    return "applied" if changed else "stale"


def _shipped(services: "Services", uow: UnitOfWork, event: WmsEvent, now: datetime) -> str:
    """fulfillment.shipped: one event per shipment. Recorded once; reservations consumed and on-hand lowered by
    what left; the order partially_shipped or shipped; the confirmation dispatched after the commit."""
    data = event.data
    if data["status"] not in FULFILMENT_PROGRESS:
        raise ValueError(f"unknown fulfilment status {data['status']!r}")
    fulfilment = fulfilment_store.get_fulfilment(uow.conn, data["external_ref"])
    if fulfilment is None:
        return _unknown_fulfilment(uow, event, now)
    _lock_order(uow, fulfilment.order_ref)
    lines = [{"sku": normalise_sku(line["sku"]), "quantity": int(line["quantity"])} for line in data["lines"]]
    shipment = Shipment(
        shipment_id=str(data["shipment_id"]), order_ref=fulfilment.order_ref, external_ref=fulfilment.external_ref,
        carrier=data.get("carrier"), tracking_number=data.get("tracking_number"), lines=lines,
        shipped_at=parse_aware_time(data["shipped_at"]),
    )
    if not fulfilment_store.insert_shipment(uow.conn, shipment, now):
        return "duplicate"
    fulfilment_store.advance_fulfilment(
        uow.conn, fulfilment.external_ref, data["status"], shipment.shipped_at, now,
        wms_id=data.get("fulfillment_order_id"),
    )
    fulfilment_store.ship_from_allocations(uow.conn, fulfilment.order_ref, fulfilment.site, lines, now)
    fulfilment_store.lower_on_hand_for_shipment(uow.conn, fulfilment.site, lines, shipment.shipped_at, now)
    whole = fulfilment_store.all_shipped(uow.conn, fulfilment.order_ref)
    # Forward only, never over a cancellation or a hold (the compensation's or a person's business). The
    # deadline is when the sweeper looks again should the confirmation not finish.
    progress = {"shipped_at": shipment.shipped_at} if whole else {}
    orders.set_status(
        uow.conn, fulfilment.order_ref, "shipped" if whole else "partially_shipped", now,
        only_from=SHIPPABLE_ORDER_STATUSES,
        saga_deadline=now + timedelta(seconds=services.settings.saga_step_timeout_s), **progress,
    )
    timeline.record(
        uow.conn, subject=order_subject(fulfilment.order_ref), event_type="wms.shipped", source="wms",
        occurred_at=shipment.shipped_at,
        detail={"external_ref": fulfilment.external_ref, "shipment_id": shipment.shipment_id,
                "carrier": shipment.carrier, "tracking_number": shipment.tracking_number, "lines": lines,
                "order_shipped": whole},
        dedupe_key=f"wms:{event.id}",
    )
    uow.after_commit(lambda: services.dispatcher.send(task_names.CONFIRM_SHIPMENT, [shipment.shipment_id]))
    return "recorded"


def _lock_order(uow: UnitOfWork, ref: str) -> orders.OrderRow:
    """Events about one order take turns (the order's row lock, taken before any fulfilment's, as the release
    does): the last two shipments of a split order, processed at once, must still see each other and find the
    order shipped."""
    return orders.get(uow.conn, ref, for_update=True)


def _inventory_adjusted(services: "Services", uow: UnitOfWork, event: WmsEvent, now: datetime) -> str:
    """The absolute on-hand at the event's time; an older count never overwrites a newer one."""
    data = event.data
    fact = OnHandFact(normalise_sku(data["sku"]), str(data["site"]), int(data["on_hand"]), event.occurred_at)
    return "applied" if fulfilment_store.apply_on_hand(uow.conn, [fact], now) else "stale"


def _return_received(services: "Services", uow: UnitOfWork, event: WmsEvent, now: datetime) -> str:
    data = event.data
    timeline.record(
        uow.conn, subject=order_subject(str(data["order_ref"])), event_type="wms.return_received", source="wms",
        occurred_at=event.occurred_at,
        detail={"rma_ref": data.get("rma_ref"), "status": data.get("status"), "lines": data.get("lines", [])},
        dedupe_key=f"wms:{event.id}",
    )
    return "recorded"


def _unknown_fulfilment(uow: UnitOfWork, event: WmsEvent, now: datetime) -> str:
    external_ref = str(event.data["external_ref"])
    logger.info("WMS event for an unknown fulfilment", extra={"system": "wms", "kind": "fulfillment_order",
                                                                "external_id": external_ref})
    timeline.record(
        uow.conn, subject=f"fulfilment:{external_ref}", event_type="wms.unknown_fulfilment", source="wms",
        occurred_at=now, detail={"type": event.type, "event_id": event.id}, dedupe_key=f"wms:{event.id}",
    )
    return "ignored"


EVENT_HANDLERS: dict[str, Callable[["Services", UnitOfWork, WmsEvent, datetime], str]] = {
    "fulfillment.acknowledged": _progress,
    "fulfillment.picked": _progress,
    "fulfillment.shipped": _shipped,
    "inventory.adjusted": _inventory_adjusted,
    "return.received": _return_received,
}


# --- confirming a shipment ---------------------------------------------------------------------------------------

def confirm_shipment(services: "Services", shipment_id: str) -> dict:
    """The customer's tracking note (store orders, once per shipment); once the whole order shipped, the ERP
    invoice (once), the store order `completed` and the order completed. Each step resumes where a crash left it,
    and each remote effect is claimed exclusively first: the two sites of a split order may ship in the same
    second, and two workers that both saw the order shipped must not both create its invoice."""
    with services.uow() as uow:
        shipment = fulfilment_store.get_shipment(uow.conn, shipment_id)
        order = orders.get(uow.conn, shipment.order_ref) if shipment else None
    if shipment is None or order is None:
        return {"outcome": "unknown", "shipment_id": shipment_id}
    result: dict = {"outcome": "confirmed", "ref": order.ref}
    if order.is_store_order and shipment.store_noted_at is None:
        _note_shipment(services, int(order.store_id), shipment)
        result["noted"] = True
    if order.status == "shipped":
        result["invoice"] = _post_invoice(services, order)
        if order.is_store_order:
            _complete_in_store(services, order.ref, int(order.store_id))
        _complete(services, order.ref)
        result["completed"] = True
    return result


def tracking_note(shipment: Shipment) -> str:
    items = ", ".join(f"{line['quantity']} × {line['sku']}" for line in shipment.lines)
    carrier = shipment.carrier or "the carrier"
    tracking = f", tracking number {shipment.tracking_number}" if shipment.tracking_number else ""
    return f"Shipped with {carrier}{tracking}: {items}."


def _note_shipment(services: "Services", store_id: int, shipment: Shipment) -> None:
    with exclusive_effect(services, f"store.shipment_note:{shipment.shipment_id}") as claimed:
        # A claim a crash left unfinished may mean the note went out; a repeated note beats a missing one.
        if claimed.state != "done":
            services.store.add_order_note(store_id, tracking_note(shipment), customer_note=True)
        with services.uow() as uow:
            orders.complete_effect(uow.conn, claimed.key, shipment.shipment_id, services.clock())
            fulfilment_store.mark_store_noted(uow.conn, shipment.shipment_id, services.clock())
            uow.commit()


def _post_invoice(services: "Services", order: orders.OrderRow) -> str:
    """The out_invoice for everything shipped, posted once: claimed in SQL, looked up before it is created."""
    if order.invoice_state == "posted":
        return "already"
    with exclusive_effect(services, f"erp.invoice:{order.ref}") as claimed:
        if claimed.state == "done":
            return claimed.result or "already"
        invoice = services.erp.find_invoice(order.ref)
        if invoice is None:
            if order.erp_order_id is None:
                raise PermanentError(f"{order.ref} shipped without an ERP sale order to invoice")
            with services.uow() as uow:
                shipped = fulfilment_store.shipped_quantities(uow.conn, order.ref)
            lines = [InvoiceLine(sku, quantity) for sku, quantity in sorted(shipped.items())]
            invoice = services.erp.create_invoice(order.ref, int(order.erp_order_id), lines)
        now = services.clock()
        with services.uow() as uow:
            orders.update_order(uow.conn, order.ref, now, invoice_state="posted")
            orders.complete_effect(uow.conn, claimed.key, invoice.name, now)
            timeline.record(
                uow.conn, subject=order_subject(order.ref), event_type="erp.invoice_posted", source="erp",
                occurred_at=now, detail={"invoice": invoice.name, "amount_total": invoice.amount_total},
                dedupe_key=f"invoice:{order.ref}",
            )
            uow.commit()
    return invoice.name


def _complete_in_store(services: "Services", ref: str, store_id: int) -> None:
    write_store_status_once(services, ref, store_id, f"store.complete:{ref}", "completed")


def _complete(services: "Services", ref: str) -> None:
    now = services.clock()
    with services.uow() as uow:
        completed = orders.set_status(
            uow.conn, ref, "completed", now, only_from=("shipped",), completed_at=now,
            reservation_state="consumed", saga_deadline=None,
        )
        if completed:
            timeline.record(
                uow.conn, subject=order_subject(ref), event_type="order.completed", source="engine",
                occurred_at=now, dedupe_key=f"completed:{ref}",
            )
        uow.commit()


def sweep_shipments(services: "Services") -> dict[str, int]:
    """Confirm again what a lost message left unconfirmed: orders still shipping past their deadline. An order
    with nothing left to confirm (partially shipped, every note sent) waits for its next shipment event."""
    now = services.clock()
    with services.uow() as uow:
        due = {order.ref: _unconfirmed(uow.conn, order)
               for order in orders.due_sagas(uow.conn, ("partially_shipped", "shipped"), now, SWEEP_PAGE)}
        waiting = [ref for ref, shipment_ids in due.items() if shipment_ids]
        orders.set_deadlines(uow.conn, waiting, now + timedelta(seconds=services.settings.saga_step_timeout_s))
        orders.set_deadlines(uow.conn, [ref for ref in due if ref not in waiting], None)
        shipment_ids = [shipment_id for ids in due.values() for shipment_id in ids]

        def publish() -> None:
            for shipment_id in shipment_ids:
                services.dispatcher.send(task_names.CONFIRM_SHIPMENT, [shipment_id])

        uow.after_commit(publish)
        uow.commit()
    return {"redriven": len(shipment_ids)}


def _unconfirmed(conn: Connection, order: orders.OrderRow) -> list[str]:
    """The shipments whose store note is missing (store orders), or, when the order shipped whole and is not
    completed, its last shipment (confirming any one of them completes the order)."""
    shipments = fulfilment_store.shipments_of(conn, order.ref)
    pending = [s.shipment_id for s in shipments if order.is_store_order and s.store_noted_at is None]
    if order.status == "shipped" and not pending:
        pending = [s.shipment_id for s in shipments[-1:]]
    return pending
