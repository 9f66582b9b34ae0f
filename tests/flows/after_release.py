"""Helpers for the flow tests after release: an order taken through the real capture and saga flows to the WMS,
and WMS events delivered the way the receiver stores them (parsed by the real parser, through the inbox)."""
from __future__ import annotations

import itertools
import json
from datetime import datetime, timedelta
from typing import Sequence

from sqlalchemy import select

from retail_sync.connectors.wms.webhooks import parse_event
from retail_sync.flows import capture
from retail_sync.flows.inbox import process_deliveries
from retail_sync.persistence import fulfilment_store, inbox, timeline
from retail_sync.persistence.tables import order_allocations
from tests.flows.fakes import MODIFIED_AT, make_order
from tests.flows.support import drain, order_row

_event_ids = itertools.count(1)


def release(services, store, dispatcher, number: int = 1, lines=(("SKU-A", 2, "10.00"),), **changes) -> str:
    """A store order placed, captured and run through the saga (reserve, post, release) by the real flows."""
    order = store.put_order(make_order(number, lines, **changes))
    assert capture.ingest(services, order) == "validated"
    drain(services, dispatcher)
    assert order_row(services, order.ref).status == "released"
    return order.ref


def stamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def at(minutes: float) -> datetime:
    """A WMS time, minutes after the orders were placed."""
    return MODIFIED_AT + timedelta(minutes=minutes)


def event(event_type: str, data: dict, *, when: datetime, event_id: str | None = None):
    """A WMS event as the receiver accepts it: a Delivery parsed from the signed body."""
    event_id = event_id or f"msg_{next(_event_ids):032d}"
    body = json.dumps({"id": event_id, "type": event_type, "timestamp": stamp(when), "data": data})
    return parse_event({"webhook-id": event_id}, body.encode("utf-8"))


def deliver(services, *deliveries) -> list[str]:
    """Store the deliveries in the inbox (a repeat of one event id is stored once) and process what is new; the
    outcome of each new one, in order."""
    now = services.clock()
    with services.uow() as uow:
        ids = inbox.insert_new(uow.conn, list(deliveries), now, now + timedelta(seconds=60))
        uow.commit()
    outcomes = []
    for inbox_id in ids.values():
        [(outcome, _)] = process_deliveries(services, [inbox_id]).items()
        outcomes.append(outcome)
    return outcomes


def fulfilment_event(step: str, external_ref: str, *, when: datetime, **data):
    return event(f"fulfillment.{step}",
                 {"fulfillment_order_id": data.pop("wms_id", None), "external_ref": external_ref,
                  "status": step, f"{step}_at": stamp(when), **data}, when=when)


def shipped(external_ref: str, shipment_id: str, lines: Sequence[tuple[str, int]], *, complete: bool,
            when: datetime, carrier: str = "DHL", tracking: str | None = None, event_id: str | None = None):
    return event("fulfillment.shipped", {
        "fulfillment_order_id": None, "external_ref": external_ref, "site": "?",
        "status": "shipped" if complete else "partially_shipped", "shipment_id": shipment_id, "carrier": carrier,
        "tracking_number": tracking or f"TRK-{shipment_id}", "shipped_at": stamp(when),
        "lines": [{"sku": sku, "quantity": quantity} for sku, quantity in lines], "complete": complete,
    }, when=when, event_id=event_id)


def adjusted(sku: str, site: str, on_hand: int, *, when: datetime, reason: str = "count"):
    return event("inventory.adjusted", {"sku": sku, "site": site, "on_hand": on_hand, "delta": 0,
                                        "reason": reason, "reference": None}, when=when)


def fulfilment(services, external_ref: str) -> fulfilment_store.FulfilmentRow:
    with services.uow() as uow:
        return fulfilment_store.get_fulfilment(uow.conn, external_ref)


def allocations(services, ref: str) -> list[tuple[str, str, int, int, str]]:
    """(site, sku, quantity, shipped_quantity, status) of each allocation."""
    with services.uow() as uow:
        rows = uow.conn.execute(
            select(order_allocations.c.site, order_allocations.c.sku, order_allocations.c.quantity,
                   order_allocations.c.shipped_quantity, order_allocations.c.status)
            .where(order_allocations.c.order_ref == ref).order_by(order_allocations.c.site, order_allocations.c.sku))
        return [tuple(row) for row in rows]


def events(services, ref: str) -> list[str]:
    with services.uow() as uow:
        return [e["event_type"] for e in timeline.for_subject(uow.conn, f"order:{ref}")]
