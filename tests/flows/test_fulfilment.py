"""After release: WMS events through the inbox, shipments, and their confirmation to the customer, the ERP and the
store — against the fakes of the three systems and the real state store."""
from __future__ import annotations

import pytest

from retail_sync import task_names
from retail_sync.errors import TransientError
from retail_sync.flows import capture, fulfilment, saga
from retail_sync.persistence import orders, timeline
from retail_sync.persistence.exception_store import list_open
from tests.flows.after_release import (
    adjusted,
    allocations,
    at,
    deliver,
    event,
    events,
    fulfilment as fulfilment_row,
    fulfilment_event,
    release,
    shipped,
)
from tests.flows.fakes import make_order
from tests.flows.support import drain, order_row, seed_catalog, seed_stock, stock

STEP = 300  # saga_step_timeout_s's default


@pytest.fixture
def catalog(services, erp):
    seed_catalog(services, erp, "SKU-A", "SKU-B")
    seed_stock(services, {("SKU-A", "WH-EAST"): 10, ("SKU-B", "WH-EAST"): 10})


def store_status(store, store_id: int) -> str:
    return store.orders[store_id].status


def test_acknowledge_pick_and_ship_move_the_fulfilment_and_the_order_forward(services, store, dispatcher, catalog):
    # given
    ref = release(services, store, dispatcher)
    wms_id = fulfilment_row(services, ref).wms_id
    # when the warehouse works the order
    assert deliver(services, fulfilment_event("acknowledged", ref, when=at(1), wms_id=wms_id)) == ["applied"]
    assert (fulfilment_row(services, ref).status, order_row(services, ref).acknowledged_at) == ("acknowledged", at(1))
    assert deliver(services, fulfilment_event("picked", ref, when=at(2), wms_id=wms_id)) == ["applied"]
    assert fulfilment_row(services, ref).status == "picked"
    assert deliver(services, shipped(ref, "SHP-1", [("SKU-A", 2)], complete=True, when=at(3))) == ["recorded"]
    # then
    row = order_row(services, ref)
    assert (row.status, row.shipped_at) == ("shipped", at(3))
    assert fulfilment_row(services, ref).status == "shipped"
    assert allocations(services, ref) == [("WH-EAST", "SKU-A", 2, 2, "consumed")]
    assert stock(services, "SKU-A", "WH-EAST") == (8, 0)  # the units left: neither on hand nor reserved
    assert dispatcher.sent == [(task_names.CONFIRM_SHIPMENT, ["SHP-1"])]
    assert events(services, ref)[-3:] == ["wms.acknowledged", "wms.picked", "wms.shipped"]


def test_events_out_of_order_never_move_a_fulfilment_back(services, store, dispatcher, catalog):
    ref = release(services, store, dispatcher)
    # picked arrives before acknowledged: the late acknowledgement only fills in its time
    assert deliver(services, fulfilment_event("picked", ref, when=at(2))) == ["applied"]
    assert deliver(services, fulfilment_event("acknowledged", ref, when=at(1))) == ["applied"]
    assert fulfilment_row(services, ref).status == "picked"
    assert order_row(services, ref).acknowledged_at == at(1)
    # a stale acknowledgement after the shipment changes nothing
    deliver(services, shipped(ref, "SHP-1", [("SKU-A", 2)], complete=True, when=at(3)))
    before = (fulfilment_row(services, ref), order_row(services, ref))
    assert deliver(services, fulfilment_event("acknowledged", ref, when=at(0.5))) == ["stale"]
    assert deliver(services, fulfilment_event("picked", ref, when=at(2.5))) == ["stale"]
    assert (fulfilment_row(services, ref), order_row(services, ref)) == before


def test_the_same_shipment_twice_is_one_shipment_one_note_one_invoice(services, store, erp, dispatcher, catalog):
    # given
    ref = release(services, store, dispatcher)
    shipment = shipped(ref, "SHP-1", [("SKU-A", 2)], complete=True, when=at(3), tracking="1Z999")
    # when the WMS retries the event (same id), and sends the shipment again under a new event id
    assert deliver(services, shipment) == ["recorded"]
    assert deliver(services, shipment) == []  # the inbox stores one event id once
    assert deliver(services, shipped(ref, "SHP-1", [("SKU-A", 2)], complete=True, when=at(3))) == ["duplicate"]
    drain(services, dispatcher)
    fulfilment.confirm_shipment(services, "SHP-1")  # a replay, or the sweeper, runs it again
    # then
    assert allocations(services, ref) == [("WH-EAST", "SKU-A", 2, 2, "consumed")]
    assert stock(services, "SKU-A", "WH-EAST") == (8, 0)
    assert store.notes[1] == [("Shipped with DHL, tracking number 1Z999: 2 × SKU-A.", True)]
    [invoice] = erp.invoices_for(ref)
    assert [(line.sku, line.quantity) for line in invoice.lines] == [("SKU-A", 2)]
    assert [args[1] for args in store.called("set_order_status")] == ["completed"]
    row = order_row(services, ref)
    assert (row.status, row.invoice_state, row.reservation_state) == ("completed", "posted", "consumed")


def test_partial_then_full_shipment_completes_the_store_order_only_at_the_end(services, store, erp, dispatcher,
                                                                              catalog):
    # given an order of 3 × A and 1 × B from one site
    ref = release(services, store, dispatcher, lines=(("SKU-A", 3, "10.00"), ("SKU-B", 1, "5.00")))
    # when a first parcel leaves with 2 × A
    deliver(services, shipped(ref, "SHP-1", [("SKU-A", 2)], complete=False, when=at(3)))
    drain(services, dispatcher)
    # then the customer has a tracking note, and nothing else happened yet
    assert order_row(services, ref).status == "partially_shipped"
    assert fulfilment_row(services, ref).status == "partially_shipped"
    assert [note for note, _ in store.notes[1]] == ["Shipped with DHL, tracking number TRK-SHP-1: 2 × SKU-A."]
    assert store_status(store, 1) == "processing" and erp.invoices_for(ref) == []
    assert allocations(services, ref) == [("WH-EAST", "SKU-A", 3, 2, "held"), ("WH-EAST", "SKU-B", 1, 0, "held")]
    assert (stock(services, "SKU-A", "WH-EAST"), stock(services, "SKU-B", "WH-EAST")) == ((8, 1), (10, 1))
    # when the rest leaves
    deliver(services, shipped(ref, "SHP-2", [("SKU-A", 1), ("SKU-B", 1)], complete=True, when=at(4)))
    drain(services, dispatcher)
    # then one invoice with every line, the store completed once, reservations consumed, stock right
    [invoice] = erp.invoices_for(ref)
    assert [(line.sku, line.quantity) for line in invoice.lines] == [("SKU-A", 3), ("SKU-B", 1)]
    assert invoice.sale_order_id == int(order_row(services, ref).erp_order_id)
    assert store_status(store, 1) == "completed" and len(store.notes[1]) == 2
    assert allocations(services, ref) == [("WH-EAST", "SKU-A", 3, 3, "consumed"),
                                          ("WH-EAST", "SKU-B", 1, 1, "consumed")]
    assert (stock(services, "SKU-A", "WH-EAST"), stock(services, "SKU-B", "WH-EAST")) == ((7, 0), (9, 0))
    row = order_row(services, ref)
    assert (row.status, row.shipped_at, row.reservation_state, row.saga_deadline) == (
        "completed", at(4), "consumed", None)
    # and the store's order.updated for our own `completed` is recognised as our echo
    assert capture.ingest(services, store.orders[1]) == "echo"


@pytest.fixture
def two_sites(services, erp):
    seed_catalog(services, erp, "SKU-A", "SKU-B")
    seed_stock(services, {("SKU-A", "WH-EAST"): 5, ("SKU-B", "WH-WEST"): 5})


def test_a_split_order_ships_when_both_sites_shipped_and_is_invoiced_once(services, store, erp, dispatcher,
                                                                          two_sites):
    ref = release(services, store, dispatcher, lines=(("SKU-A", 1, "10.00"), ("SKU-B", 2, "5.00")))
    deliver(services, shipped(f"{ref}/WH-EAST", "SHP-E", [("SKU-A", 1)], complete=True, when=at(3)))
    assert order_row(services, ref).status == "partially_shipped"
    deliver(services, shipped(f"{ref}/WH-WEST", "SHP-W", [("SKU-B", 2)], complete=True, when=at(4)))
    assert order_row(services, ref).status == "shipped"
    # both confirmations saw the order shipped; the invoice is still made once
    assert [m for m in dispatcher.sent] == [(task_names.CONFIRM_SHIPMENT, ["SHP-E"]),
                                            (task_names.CONFIRM_SHIPMENT, ["SHP-W"])]
    drain(services, dispatcher)
    [invoice] = erp.invoices_for(ref)
    assert [(line.sku, line.quantity) for line in invoice.lines] == [("SKU-A", 1), ("SKU-B", 2)]
    assert order_row(services, ref).status == "completed"
    assert (stock(services, "SKU-A", "WH-EAST"), stock(services, "SKU-B", "WH-WEST")) == ((4, 0), (3, 0))


def test_a_confirmation_waits_while_another_worker_is_posting_the_invoice(services, store, erp, dispatcher,
                                                                          catalog, clock):
    ref = release(services, store, dispatcher)
    deliver(services, shipped(ref, "SHP-1", [("SKU-A", 2)], complete=True, when=at(3)))
    # given another worker holds the invoice's claim
    with services.uow() as uow:
        orders.claim_effect(uow.conn, f"erp.invoice:{ref}", clock(), lease_until=clock().replace(year=2027))
        uow.commit()
    # when
    with pytest.raises(TransientError):
        fulfilment.confirm_shipment(services, "SHP-1")
    # then no invoice was made behind its back and the order is not completed (the retry will finish it)
    assert erp.called("create_invoice") == [] and order_row(services, ref).status == "shipped"


def test_a_failed_invoice_call_is_retried_to_exactly_one_invoice(services, store, erp, dispatcher, catalog):
    ref = release(services, store, dispatcher)
    deliver(services, shipped(ref, "SHP-1", [("SKU-A", 2)], complete=True, when=at(3)))
    dispatcher.sent.clear()
    # given the ERP creates the invoice but the answer is lost
    erp.faults.fail("create_invoice", TransientError("connection reset"), after_effect=True)
    with pytest.raises(TransientError):
        fulfilment.confirm_shipment(services, "SHP-1")
    # when the task retries
    result = fulfilment.confirm_shipment(services, "SHP-1")
    # then the retry found the first invoice instead of making a second
    assert len(erp.invoices_for(ref)) == 1 and result["completed"] is True
    assert len(store.notes[1]) == 1


def test_a_lost_confirmation_is_sent_again_by_the_sweeper(services, store, erp, dispatcher, catalog, clock):
    ref = release(services, store, dispatcher)
    deliver(services, shipped(ref, "SHP-1", [("SKU-A", 2)], complete=True, when=at(3)))
    dispatcher.sent.clear()  # Redis lost the CONFIRM_SHIPMENT message
    assert saga.sweep_sagas(services) == {}
    clock.advance(STEP + 1)
    assert saga.sweep_sagas(services) == {"shipments": 1}
    assert dispatcher.sent == [(task_names.CONFIRM_SHIPMENT, ["SHP-1"])]
    drain(services, dispatcher)
    assert order_row(services, ref).status == "completed"
    clock.advance(STEP + 1)
    assert fulfilment.sweep_shipments(services) == {"redriven": 0}


def test_a_partial_shipment_whose_note_went_out_leaves_the_sweeper_alone(services, store, dispatcher, catalog, clock):
    ref = release(services, store, dispatcher, lines=(("SKU-A", 3, "10.00"),))
    deliver(services, shipped(ref, "SHP-1", [("SKU-A", 1)], complete=False, when=at(3)))
    drain(services, dispatcher)
    clock.advance(STEP + 1)
    assert fulfilment.sweep_shipments(services) == {"redriven": 0}
    assert order_row(services, ref).saga_deadline is None  # until the next shipment sets one again


def test_inventory_counts_apply_newest_first_and_never_count_a_shipment_twice(services, store, dispatcher,
                                                                              catalog):
    ref = release(services, store, dispatcher)  # reserves 2 × A at WH-EAST (on hand 10)
    # an unknown (sku, site) is created; a count older than what we hold is ignored
    assert deliver(services, adjusted("SKU-C", "WH-EAST", 4, when=at(1))) == ["applied"]
    assert deliver(services, adjusted("SKU-C", "WH-EAST", 9, when=at(0.5))) == ["stale"]
    assert stock(services, "SKU-C", "WH-EAST") == (4, 0)
    # the WMS reports the stock after the shipment before the shipment event arrives (different subjects)
    assert deliver(services, adjusted("SKU-A", "WH-EAST", 8, when=at(3), reason="shipment")) == ["applied"]
    deliver(services, shipped(ref, "SHP-1", [("SKU-A", 2)], complete=True, when=at(3)))
    assert stock(services, "SKU-A", "WH-EAST") == (8, 0)  # lowered once, the reservation consumed


def test_unknown_fulfilments_and_returns_are_recorded_only(services, store, dispatcher, catalog):
    ref = release(services, store, dispatcher)
    assert deliver(services, fulfilment_event("acknowledged", "POS-404", when=at(1))) == ["ignored"]
    with services.uow() as uow:
        assert [e["event_type"] for e in timeline.for_subject(uow.conn, "fulfilment:POS-404")] == [
            "wms.unknown_fulfilment"]
    returned = event("return.received", {"return_authorization_id": "RA-1", "rma_ref": "RMA-1", "order_ref": ref,
                                         "site": "WH-EAST", "status": "received", "received_at": "x",
                                         "lines": [{"sku": "SKU-A", "quantity": 1, "grade": "A"}]}, when=at(9))
    assert deliver(services, returned) == ["recorded"]
    assert events(services, ref)[-1] == "wms.return_received"
    assert dispatcher.sent == []


def test_a_malformed_event_fails_alone_into_the_exception_store(services, store, dispatcher, catalog):
    ref = release(services, store, dispatcher)
    broken = event("fulfillment.shipped", {"external_ref": ref, "status": "shipped"}, when=at(3))
    assert deliver(services, broken) == ["failed"]
    with services.uow() as uow:
        [exc] = list_open(uow.conn)
    assert exc["kind"] == "inbox.rejected"
    assert order_row(services, ref).status == "released"


def test_an_order_from_another_channel_completes_without_the_store(services, store, erp, dispatcher, catalog):
    order = make_order(9001, channel="POS")
    assert capture.accept_api_order(services, order, "hash").outcome == "created"
    drain(services, dispatcher)
    assert order_row(services, order.ref).status == "released"
    deliver(services, shipped(order.ref, "SHP-9", [("SKU-A", 2)], complete=True, when=at(3)))
    drain(services, dispatcher)
    row = order_row(services, order.ref)
    assert (row.status, row.invoice_state) == ("completed", "posted") and len(erp.invoices_for(order.ref)) == 1
    assert store.called("add_order_note") == [] and store.called("set_order_status") == []
