"""Helpers for flow tests: seed the catalog and stock through the real repositories, read an order back, and a
trap dispatcher's messages run through the flows in the order they were sent (a worker without Celery)."""
from __future__ import annotations

from datetime import datetime
from typing import Callable, Mapping

from retail_sync import task_names
from retail_sync.flows import cancellation, capture, catalog, fulfilment, inbox, saga, store_updates
from retail_sync.persistence import fulfilment_store, orders, product_bindings
from retail_sync.persistence.fulfilment_store import OnHandFact
from retail_sync.persistence.orders import OrderRow
from tests.flows.fakes import MODIFIED_AT, FakeErp

FLOWS: dict[str, Callable] = {
    task_names.PROCESS_INBOX: inbox.process_deliveries,
    task_names.CAPTURE_STORE_ORDERS: capture.capture_store_orders,
    task_names.START_ORDER: capture.start_order,
    task_names.RESERVE_STOCK: saga.reserve_stock,
    task_names.POST_TO_ERP: saga.post_to_erp,
    task_names.RELEASE_TO_WMS: saga.release_to_wms,
    task_names.VOID_ERP_ORDER: saga.void_erp_order,
    task_names.HOLD_IN_STORE: store_updates.hold_in_store,
    task_names.RESUME_IN_STORE: store_updates.resume_in_store,
    task_names.LOOKUP_SKUS: catalog.lookup_skus,
    task_names.COMPENSATE_CANCEL: cancellation.compensate_cancel,
    task_names.CONFIRM_SHIPMENT: fulfilment.confirm_shipment,
}


def seed_catalog(services, erp: FakeErp, *skus: str, sellable: bool = True) -> None:
    """Products known to the ERP and bound in product_bindings, as a catalog sync leaves them."""
    rows = []
    for sku in skus:
        product = erp.add_product(sku, sellable=sellable)
        rows.append({"sku": sku, "erp_product_id": str(product.id), "erp_sellable": sellable, "name": sku})
    with services.uow() as uow:
        product_bindings.bind_erp_products(uow.conn, rows, services.clock())
        uow.commit()


def seed_stock(services, levels: Mapping[tuple[str, str], int], at: datetime = MODIFIED_AT) -> None:
    """On-hand units per (sku, site), as the WMS counted them at `at` (a later count replaces an earlier one)."""
    facts = [OnHandFact(sku=sku, site=site, on_hand=units, at=at) for (sku, site), units in levels.items()]
    with services.uow() as uow:
        fulfilment_store.apply_on_hand(uow.conn, facts, services.clock())
        uow.commit()


def order_row(services, ref: str) -> OrderRow:
    with services.uow() as uow:
        return orders.get(uow.conn, ref)


def stock(services, sku: str, site: str) -> tuple[int, int] | None:
    """(on_hand, reserved)."""
    with services.uow() as uow:
        return fulfilment_store.on_hand_of(uow.conn, sku, site)


def drain(services, dispatcher, *, skip: tuple[str, ...] = (), limit: int = 200) -> list:
    """Run every message the dispatcher trapped (and those sent meanwhile) through its flow, oldest first. A
    chord runs its header in order, then its body. Messages for task names in `skip` are left out. Returns
    what ran, as (task name, args, result)."""
    ran = []
    while dispatcher.sent and len(ran) < limit:
        message = dispatcher.sent.pop(0)
        steps = [*message[1], message[2]] if message[0] == "chord" else [message]
        for name, args in steps:
            if name not in skip:
                ran.append((name, args, FLOWS[name](services, *args)))
    return ran
