"""Cancellation: the decision in SQL and the compensation in reverse order (WMS, reservation, ERP, then the store
when the request came from elsewhere), against the fakes of the three systems and the real state store."""
from __future__ import annotations

import pytest

from retail_sync import task_names
from retail_sync.errors import TransientError
from retail_sync.flows import capture, saga
from retail_sync.flows.cancellation import compensate_cancel, request_cancel
from retail_sync.persistence import orders
from retail_sync.persistence.exception_store import list_open
from tests.flows.after_release import allocations, at, deliver, events, fulfilment, release, shipped
from tests.flows.fakes import FakeErp, make_order
from tests.flows.support import drain, order_row, seed_catalog, seed_stock, stock


@pytest.fixture
def catalog(services, erp):
    seed_catalog(services, erp, "SKU-A")
    seed_stock(services, {("SKU-A", "WH-EAST"): 10})


def test_cancel_before_pick_undoes_every_step_and_tells_the_store(services, store, erp, wms, dispatcher, catalog):
    # given a released order
    ref = release(services, store, dispatcher)
    assert stock(services, "SKU-A", "WH-EAST") == (10, 2)
    # when someone cancels it through the API
    assert request_cancel(services, ref, "customer changed their mind", actor="support-desk") == "cancelling"
    assert order_row(services, ref).status == "cancelling"
    assert dispatcher.sent == [(task_names.COMPENSATE_CANCEL, [ref])]
    drain(services, dispatcher)
    # then the WMS order is cancelled, the units are free again, the ERP order is cancelled, the store shows it
    assert wms.fulfilments[ref].status == "cancelled" and fulfilment(services, ref).status == "cancelled"
    assert stock(services, "SKU-A", "WH-EAST") == (10, 0)
    assert allocations(services, ref) == [("WH-EAST", "SKU-A", 2, 0, "released")]
    assert [so.state for so in erp.sale_orders_for(ref)] == ["cancel"]
    assert store.orders[1].status == "cancelled"
    assert store.notes[1] == [("retail-sync cancelled this order (support-desk): customer changed their mind", False)]
    row = order_row(services, ref)
    assert (row.status, row.erp_state, row.reservation_state, row.saga_deadline) == (
        "cancelled", "cancelled", "released", None)
    assert row.cancelled_at == services.clock()
    # in reverse order of the forward steps
    assert [e for e in events(services, ref) if e.startswith(("wms.fulfilment", "erp.sale", "store.", "order.can"))] \
        == ["wms.fulfilment_cancelled", "erp.sale_order_cancelled", "store.status_set", "order.cancelled"]
    # and the store's order.updated for our own `cancelled` does not re-enter capture
    assert capture.ingest(services, store.orders[1]) == "echo"


def test_a_cancellation_made_in_the_store_is_not_written_back_to_it(services, store, erp, wms, dispatcher, catalog):
    ref = release(services, store, dispatcher)
    store.change_order(1, status="cancelled")
    assert capture.ingest(services, store.orders[1]) == "cancel_cancelling"
    drain(services, dispatcher)
    assert order_row(services, ref).status == "cancelled"
    assert wms.fulfilments[ref].status == "cancelled" and [so.state for so in erp.sale_orders_for(ref)] == ["cancel"]
    assert store.called("set_order_status") == [] and 1 not in store.notes
    # the store's next delivery about it changes nothing
    assert capture.ingest(services, store.orders[1]) == "unchanged"


def test_cancel_after_pick_holds_the_order_for_a_person_and_gives_nothing_back(services, store, erp, wms, dispatcher,
                                                                              catalog):
    # given the warehouse already picked the goods
    ref = release(services, store, dispatcher)
    wms.set_status(ref, "picked")
    # when
    assert request_cancel(services, ref, "too slow", actor="support-desk") == "cancelling"
    [(_, _, result)] = drain(services, dispatcher)
    # then
    assert result["outcome"] == "on_hold"
    row = order_row(services, ref)
    assert row.status == "on_hold" and "already on its way" in row.hold_reason
    with services.uow() as uow:
        [exc] = list_open(uow.conn)
    assert (exc["kind"], exc["subject"], exc["task_name"], exc["task_args"]) == (
        "order.cancel_after_pick", ref, task_names.REQUEST_CANCEL, [ref, "too slow"])
    assert stock(services, "SKU-A", "WH-EAST") == (10, 2)  # goods in motion keep their units
    assert [so.state for so in erp.sale_orders_for(ref)] == ["sale"]
    assert store.orders[1].status == "processing" and erp.called("cancel_sale_order") == []
    # the sweeper leaves the held order alone (the exception is its record now)
    assert saga.sweep_sagas(services) == {}


class ErpWhereACancelArrivesMidPost(FakeErp):
    """An ERP whose sale order creation is slow enough for a cancellation to arrive while it runs."""

    during_create = staticmethod(lambda: None)

    def create_sale_order(self, order, product_ids):
        self.during_create()
        return super().create_sale_order(order, product_ids)


@pytest.fixture
def erp():
    # For every test here: a plain FakeErp until a test sets `during_create`.
    return ErpWhereACancelArrivesMidPost()


def test_a_cancellation_waits_for_an_erp_posting_in_flight(services, store, erp, dispatcher, catalog):
    # given a validated order whose ERP posting is under way when the cancellation arrives
    order = store.put_order(make_order(1))
    assert capture.ingest(services, order) == "validated"
    seen = {}

    def cancel_meanwhile():
        seen["decision"] = request_cancel(services, order.ref, "changed mind", actor="support-desk")
        with pytest.raises(TransientError):
            compensate_cancel(services, order.ref)  # the posting holds its claim: wait, don't look up yet
        seen["cancel_calls"] = len(erp.called("cancel_sale_order"))

    erp.during_create = cancel_meanwhile
    # when the posting finishes and everything queued meanwhile runs (the chord, the compensation, the void)
    saga.post_to_erp(services, order.ref)
    drain(services, dispatcher)
    # then exactly one ERP order was made, and it ends cancelled; nothing was reserved or released
    assert seen == {"decision": "cancelling", "cancel_calls": 0}
    assert [so.state for so in erp.sale_orders_for(order.ref)] == ["cancel"]
    row = order_row(services, order.ref)
    assert (row.status, row.erp_state, row.reservation_state) == ("cancelled", "cancelled", "none")
    assert stock(services, "SKU-A", "WH-EAST") == (10, 0)


def test_a_release_in_flight_is_found_by_its_reference_and_cancelled(services, store, wms, dispatcher, catalog):
    # given the WMS created the fulfilment but its answer was lost (we never stored its id)
    order = store.put_order(make_order(1))
    capture.ingest(services, order)
    wms.faults.fail("create_fulfilment", TransientError("read timeout"), after_effect=True)
    with pytest.raises(TransientError):
        drain(services, dispatcher)
    assert fulfilment(services, order.ref).wms_id is None and wms.fulfilments[order.ref].status == "released"
    # when
    request_cancel(services, order.ref, "changed mind", actor="support-desk")
    assert compensate_cancel(services, order.ref)["outcome"] == "cancelled"
    # then
    assert wms.called("find_fulfilment") == [(order.ref,)]
    assert wms.fulfilments[order.ref].status == "cancelled"
    assert fulfilment(services, order.ref).wms_id == wms.fulfilments[order.ref].id


def test_a_cancellation_waits_for_a_release_under_way_then_cancels_what_it_created(services, store, wms, dispatcher,
                                                                                 catalog):
    # given a release is creating the fulfilment in the WMS when the shopper cancels
    order = store.put_order(make_order(1))
    capture.ingest(services, order)
    attempts = []

    def cancel_meanwhile():
        request_cancel(services, order.ref, "changed mind", actor="support-desk")
        with pytest.raises(TransientError) as waited:
            compensate_cancel(services, order.ref)
        attempts.append(waited.value.retry_after)

    wms.faults.meanwhile("create_fulfilment", cancel_meanwhile)
    drain(services, dispatcher)
    # then the compensation waited for the release instead of missing the fulfilment it was creating
    assert attempts and attempts[0] > 0
    # and once the release ended, the compensation (its message, drained above) cancelled what it created
    assert order_row(services, order.ref).status == "cancelled"
    assert wms.fulfilments[order.ref].status == "cancelled"


def test_a_release_that_failed_is_not_waited_for_and_never_lands_afterwards(services, store, wms, dispatcher, catalog):
    # given the release wrote its fulfilment row, but the WMS never got the request (the call failed to connect)
    order = store.put_order(make_order(1))
    capture.ingest(services, order)
    wms.faults.fail("create_fulfilment", TransientError("connect timeout"))
    with pytest.raises(TransientError):
        drain(services, dispatcher)
    request_cancel(services, order.ref, "changed mind", actor="support-desk")
    # when the compensation runs: the failed attempt gave its lease back, so nothing is in flight
    assert compensate_cancel(services, order.ref)["outcome"] == "cancelled"
    # then nothing was in the WMS to cancel, and the release's retry does nothing for a cancelled order
    assert fulfilment(services, order.ref).status == "cancelled" and order.ref not in wms.fulfilments
    assert wms.called("cancel_fulfilment") == []
    assert saga.release_to_wms(services, order.ref)["outcome"] == "skipped"


def test_a_compensation_interrupted_midway_resumes_without_repeating_itself(services, store, erp, wms, dispatcher,
                                                                           catalog):
    ref = release(services, store, dispatcher)
    request_cancel(services, ref, "changed mind", actor="support-desk")
    erp.faults.fail("cancel_sale_order", TransientError("ERP busy"))
    with pytest.raises(TransientError):
        compensate_cancel(services, ref)
    assert order_row(services, ref).status == "cancelling"
    # the retry
    assert compensate_cancel(services, ref)["outcome"] == "cancelled"
    assert compensate_cancel(services, ref) == {"outcome": "skipped", "ref": ref, "status": "cancelled"}
    assert len(wms.called("cancel_fulfilment")) == 1
    assert stock(services, "SKU-A", "WH-EAST") == (10, 0)
    assert [so.state for so in erp.sale_orders_for(ref)] == ["cancel"]
    assert len(store.called("set_order_status")) == 1


def test_a_lost_compensation_is_resumed_by_the_saga_sweeper(services, store, wms, dispatcher, catalog, clock):
    ref = release(services, store, dispatcher)
    request_cancel(services, ref, "changed mind", actor="support-desk")
    dispatcher.sent.clear()  # Redis lost the message
    clock.advance(services.settings.saga_step_timeout_s + 1)
    saga.sweep_sagas(services)
    assert dispatcher.sent == [(task_names.COMPENSATE_CANCEL, [ref])]
    drain(services, dispatcher)
    assert order_row(services, ref).status == "cancelled"


def insert(services, number: int, status: str) -> str:
    order = make_order(number)
    with services.uow() as uow:
        orders.insert_order(uow.conn, order, status=status, body_hash="h", now=services.clock())
        uow.commit()
    return order.ref


@pytest.mark.parametrize("status, decision", [
    ("cancelling", "already"), ("cancelled", "already"),
    ("partially_shipped", "too_late"), ("shipped", "too_late"), ("completed", "too_late"),
])
def test_a_cancellation_that_cannot_proceed_changes_nothing(services, dispatcher, status, decision):
    ref = insert(services, 1, status)
    assert request_cancel(services, ref, "changed mind", actor="support-desk") == decision
    assert order_row(services, ref).status == status and dispatcher.sent == []


def test_cancelling_an_unknown_order(services, dispatcher):
    assert request_cancel(services, "POS-404", "changed mind", actor="support-desk") == "unknown"
    assert dispatcher.sent == []


def test_an_order_shipped_in_part_refuses_the_cancellation(services, store, dispatcher, catalog):
    ref = release(services, store, dispatcher)
    deliver(services, shipped(ref, "SHP-1", [("SKU-A", 1)], complete=False, when=at(3)))
    assert request_cancel(services, ref, "changed mind", actor="support-desk") == "too_late"
    assert order_row(services, ref).status == "partially_shipped"
    assert events(services, ref)[-1] == "cancel.refused"


def test_an_order_that_never_left_the_engine_is_cancelled_without_calling_anyone(services, store, erp, wms,
                                                                                dispatcher):
    store.put_order(make_order(5, status="pending"))
    ref = insert(services, 5, "waiting")
    assert request_cancel(services, ref, "changed mind", actor="support-desk") == "cancelling"
    drain(services, dispatcher)
    assert order_row(services, ref).status == "cancelled"
    assert erp.calls == [] and wms.calls == []
    assert store.called("set_order_status") == [(5, "cancelled", store.notes[5][0][0], False)]
