"""The saga after validation: reserve and post (in either order, twice, concurrently), release once, the void
compensation, and the sweeper resuming every stage a lost message could leave behind."""
from __future__ import annotations

from datetime import timedelta

import pytest

from retail_sync import task_names
from retail_sync.connectors.ports import FulfilmentLine, FulfilmentRequest
from retail_sync.errors import PermanentError, TransientError
from retail_sync.flows import capture, saga
from retail_sync.flows.cancellation import request_cancel
from retail_sync.persistence import orders
from retail_sync.persistence.exception_store import list_open
from tests.flows.fakes import make_order
from tests.flows.support import drain, order_row, seed_catalog, seed_stock, stock

STEP = 300  # saga_step_timeout_s's default
CHORD = ("chord", [(task_names.RESERVE_STOCK, ["WC-1"]), (task_names.POST_TO_ERP, ["WC-1"])],
         (task_names.RELEASE_TO_WMS, ["WC-1"]))


@pytest.fixture
def validated(services, store, erp, dispatcher):
    """WC-1 (2 × SKU-A) validated with its chord sent; 10 SKU-A on hand at WH-EAST."""
    seed_catalog(services, erp, "SKU-A", "SKU-B")
    seed_stock(services, {("SKU-A", "WH-EAST"): 10})
    store.put_order(make_order(1))
    assert capture.capture_store_orders(services, [1]) == {"validated": 1}
    assert dispatcher.sent == [CHORD]
    dispatcher.sent.clear()
    return "WC-1"


def configure(services, **settings) -> None:
    services.settings = services.settings.model_copy(update=settings)


def open_exceptions(services) -> list[dict]:
    with services.uow() as uow:
        return list_open(uow.conn)


# --- the happy path -----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("header", [
    (saga.reserve_stock, saga.post_to_erp), (saga.post_to_erp, saga.reserve_stock)], ids=["reserve", "post"])
def test_either_step_first_then_one_release(services, erp, wms, validated, header):
    # the chord body may fire early: it does nothing until both steps are done
    assert saga.release_to_wms(services, validated)["outcome"] == "skipped"
    for step in header:
        step(services, validated)
    assert saga.release_to_wms(services, validated) == {"outcome": "released", "ref": "WC-1", "fulfilments": ["WC-1"]}
    # exactly one ERP order and one WMS order, units held, the order released
    [sale_order] = erp.sale_orders_for("WC-1")
    assert sale_order.state == "sale" and sale_order.amount_total == str(make_order(1).total)
    assert list(wms.fulfilments) == ["WC-1"]
    assert wms.requests["WC-1"].lines == (FulfilmentLine("SKU-A", 2),) and wms.requests["WC-1"].site == "WH-EAST"
    assert wms.requests["WC-1"].ship_to["postcode"] == "50667"
    assert stock(services, "SKU-A", "WH-EAST") == (10, 2)
    row = order_row(services, validated)
    assert (row.status, row.erp_state, row.reservation_state, row.release_state) == (
        "released", "posted", "reserved", "released")
    assert row.erp_order_name == sale_order.name and row.saga_deadline is None


def test_every_step_run_twice_changes_nothing_more(services, erp, wms, validated):
    for _ in range(2):
        saga.reserve_stock(services, validated)
        saga.post_to_erp(services, validated)
        saga.release_to_wms(services, validated)  # a double chord callback
    assert len(erp.sale_orders_for("WC-1")) == 1
    assert len(wms.called("create_fulfilment")) == 1
    assert stock(services, "SKU-A", "WH-EAST") == (10, 2)


# --- routing -------------------------------------------------------------------------------------------------------

def test_the_first_site_in_priority_that_can_ship_everything_takes_it(services, store, erp, dispatcher, wms):
    configure(services, site_priority=("WH-WEST", "WH-EAST"))
    seed_catalog(services, erp, "SKU-A")
    seed_stock(services, {("SKU-A", "WH-EAST"): 10, ("SKU-A", "WH-WEST"): 2})
    store.put_order(make_order(1))
    capture.capture_store_orders(services, [1])
    drain(services, dispatcher)
    assert wms.requests["WC-1"].site == "WH-WEST"
    assert (stock(services, "SKU-A", "WH-WEST"), stock(services, "SKU-A", "WH-EAST")) == ((2, 2), (10, 0))


def test_an_order_no_site_holds_whole_is_split_per_site(services, store, erp, dispatcher, wms):
    # given SKU-A only in the east and SKU-B only in the west
    configure(services, site_priority=("WH-EAST", "WH-WEST"))
    seed_catalog(services, erp, "SKU-A", "SKU-B")
    seed_stock(services, {("SKU-A", "WH-EAST"): 3, ("SKU-B", "WH-WEST"): 3})
    store.put_order(make_order(1, [("SKU-A", 2, "10.00"), ("SKU-B", 1, "4.00")]))
    # when the saga runs
    capture.capture_store_orders(services, [1])
    drain(services, dispatcher)
    # then one fulfilment per site, each with the site suffix
    assert sorted(wms.fulfilments) == ["WC-1/WH-EAST", "WC-1/WH-WEST"]
    assert wms.requests["WC-1/WH-EAST"].lines == (FulfilmentLine("SKU-A", 2),)
    assert wms.requests["WC-1/WH-WEST"].lines == (FulfilmentLine("SKU-B", 1),)
    assert order_row(services, "WC-1").status == "released"
    with services.uow() as uow:
        assert [(a.site, a.sku, a.quantity, a.status) for a in orders.allocations(uow.conn, "WC-1")] == [
            ("WH-EAST", "SKU-A", 2, "held"), ("WH-WEST", "SKU-B", 1, "held")]


def test_no_split_when_disabled_holds_the_order(services, store, erp, dispatcher, wms):
    configure(services, allow_split_shipments=False)
    seed_catalog(services, erp, "SKU-A", "SKU-B")
    seed_stock(services, {("SKU-A", "WH-EAST"): 3, ("SKU-B", "WH-WEST"): 3})
    store.put_order(make_order(1, [("SKU-A", 2, "10.00"), ("SKU-B", 1, "4.00")]))
    capture.capture_store_orders(services, [1])
    dispatcher.sent.clear()
    assert saga.reserve_stock(services, "WC-1")["outcome"] == "failed"
    row = order_row(services, "WC-1")
    assert (row.status, row.reservation_state) == ("on_hold", "failed")
    assert row.hold_reason == "no single site can ship the whole order and split shipments are disabled"
    assert [e["kind"] for e in open_exceptions(services)] == ["order.reservation_failed"]
    assert dispatcher.sent == [(task_names.HOLD_IN_STORE, ["WC-1"])]  # nothing posted: nothing to void
    assert (stock(services, "SKU-A", "WH-EAST"), stock(services, "SKU-B", "WH-WEST")) == ((3, 0), (3, 0))
    assert saga.post_to_erp(services, "WC-1")["outcome"] == "skipped" and erp.sale_orders == {}
    assert wms.calls == []


def test_safety_stock_is_never_promised(services, store, erp, dispatcher):
    configure(services, safety_stock_default=9)
    seed_catalog(services, erp, "SKU-A")
    seed_stock(services, {("SKU-A", "WH-EAST"): 10})
    store.put_order(make_order(1))
    capture.capture_store_orders(services, [1])
    assert saga.reserve_stock(services, "WC-1")["reason"] == (
        "insufficient stock for SKU-A (need 2, 1 available across WH-EAST)")


# --- the ERP posting ----------------------------------------------------------------------------------------------

def test_a_dropped_response_is_found_on_retry_and_never_duplicated(services, erp, validated):
    # given the ERP creates the order but the answer is lost on the way back
    erp.faults.fail("create_sale_order", TransientError("connection reset by peer"), after_effect=True)
    with pytest.raises(TransientError):
        saga.post_to_erp(services, validated)
    assert order_row(services, validated).erp_state == "none"
    # when the task retries at once (the failed attempt gave its lease back)
    assert saga.post_to_erp(services, validated)["outcome"] == "posted"
    # then the lookup by reference adopted the first one
    assert len(erp.sale_orders_for("WC-1")) == 1
    assert [name for name, _ in erp.calls].count("create_sale_order") == 1
    with services.uow() as uow:
        assert orders.effect(uow.conn, "erp.sale_order:WC-1").state == "done"


def test_a_second_copy_waits_while_an_attempt_holds_the_lease(services, erp, clock, validated):
    # given another worker claimed the posting a moment ago and is still talking to the ERP
    with services.uow() as uow:
        orders.claim_effect(uow.conn, "erp.sale_order:WC-1", clock(), lease_until=clock() + timedelta(seconds=STEP))
        uow.commit()
    # then this copy does not even look
    with pytest.raises(TransientError) as raised:
        saga.post_to_erp(services, validated)
    assert raised.value.retry_after == STEP and erp.calls == []
    # once the lease ran out (that worker died), the next attempt looks up and creates
    clock.advance(STEP)
    assert saga.post_to_erp(services, validated)["outcome"] == "posted"
    assert len(erp.sale_orders_for("WC-1")) == 1


def test_a_draft_left_in_the_erp_is_confirmed_not_duplicated(services, erp, validated):
    draft = erp.add_sale_order("WC-1", state="draft", amount_total="29.63")
    assert saga.post_to_erp(services, validated)["sale_order"] == draft.name
    assert [so.state for so in erp.sale_orders_for("WC-1")] == ["sale"]


def test_a_cancelled_sale_order_we_never_posted_is_for_a_person(services, erp, validated):
    erp.add_sale_order("WC-1", state="cancel")
    with pytest.raises(PermanentError, match="never posted it"):
        saga.post_to_erp(services, validated)
    assert len(erp.sale_orders_for("WC-1")) == 1


def test_a_posting_that_lands_after_a_cancellation_is_voided(services, erp, dispatcher, validated):
    # the order is cancelled while its sale order is being created
    erp.faults.meanwhile("create_sale_order", lambda: request_cancel(services, validated, "changed mind", "api"))
    assert saga.post_to_erp(services, validated)["outcome"] == "posted"
    assert (task_names.VOID_ERP_ORDER, ["WC-1"]) in dispatcher.sent
    assert saga.void_erp_order(services, validated)["outcome"] == "voided"
    assert [so.state for so in erp.sale_orders_for("WC-1")] == ["cancel"]
    assert order_row(services, validated).release_state == "none"


# --- reservation failure after posting: the named compensation ----------------------------------------------------

def test_a_reservation_failure_after_posting_voids_the_erp_order(services, store, erp, wms, dispatcher, clock):
    # given a posted order whose stock is gone by the time it is reserved
    seed_catalog(services, erp, "SKU-A")
    seed_stock(services, {("SKU-A", "WH-EAST"): 1})
    store.put_order(make_order(1))
    capture.capture_store_orders(services, [1])
    dispatcher.sent.clear()
    saga.post_to_erp(services, "WC-1")
    # when the reservation fails
    assert saga.reserve_stock(services, "WC-1")["outcome"] == "failed"
    # then the void is dispatched, and the order held in the store
    assert sorted(dispatcher.sent) == [(task_names.HOLD_IN_STORE, ["WC-1"]), (task_names.VOID_ERP_ORDER, ["WC-1"])]
    drain(services, dispatcher)
    assert [so.state for so in erp.sale_orders_for("WC-1")] == ["cancel"]
    row = order_row(services, "WC-1")
    assert (row.status, row.erp_state) == ("on_hold", "cancelled")
    assert "insufficient stock for SKU-A (need 2, 1 available" in store.notes[1][0][0]
    assert saga.release_to_wms(services, "WC-1")["outcome"] == "skipped" and wms.calls == []
    # and once stock arrived, the replay of its exception runs the whole saga again with a fresh ERP order
    seed_stock(services, {("SKU-A", "WH-EAST"): 5}, at=clock())
    assert capture.start_order(services, "WC-1") == {"outcome": "validated", "ref": "WC-1"}
    drain(services, dispatcher)
    assert [so.state for so in erp.sale_orders_for("WC-1")] == ["cancel", "sale"]
    assert order_row(services, "WC-1").status == "released" and open_exceptions(services) == []


def test_a_held_order_is_not_restarted_before_its_void_finished(services, store, erp, dispatcher):
    seed_catalog(services, erp, "SKU-A")
    store.put_order(make_order(1))
    capture.capture_store_orders(services, [1])
    saga.post_to_erp(services, "WC-1")
    saga.reserve_stock(services, "WC-1")  # no stock at all
    with pytest.raises(TransientError, match="voided"):
        capture.start_order(services, "WC-1")


# --- release ------------------------------------------------------------------------------------------------------

def test_a_different_order_under_our_reference_in_the_wms_is_a_conflict_for_a_person(services, wms, validated):
    wms.create_fulfilment(FulfilmentRequest("WC-1", "WH-EAST", (FulfilmentLine("SKU-Z", 9),)))
    saga.reserve_stock(services, validated)
    saga.post_to_erp(services, validated)
    assert saga.release_to_wms(services, validated)["outcome"] == "conflict"
    [exc] = open_exceptions(services)
    assert (exc["kind"], exc["task_name"], exc["task_args"]) == (
        "order.release_conflict", task_names.RELEASE_TO_WMS, ["WC-1"])
    row = order_row(services, validated)
    assert (row.status, row.release_state, row.saga_deadline) == ("validated", "releasable", None)


# --- the sweeper ----------------------------------------------------------------------------------------------------

def test_nothing_is_resumed_before_its_deadline(services, dispatcher, clock, validated):
    clock.advance(STEP - 1)
    assert saga.sweep_sagas(services) == {}
    assert dispatcher.sent == []


def test_a_lost_chord_is_sent_again_and_the_deadline_pushed(services, dispatcher, clock, erp, wms, validated):
    clock.advance(STEP)
    assert saga.sweep_sagas(services) == {task_names.RESERVE_STOCK: 1, task_names.POST_TO_ERP: 1}
    assert dispatcher.sent == [CHORD]
    assert order_row(services, validated).saga_deadline == clock() + timedelta(seconds=STEP)
    drain(services, dispatcher)
    assert order_row(services, validated).status == "released"


def test_only_the_missing_step_is_sent_again(services, dispatcher, clock, validated):
    saga.reserve_stock(services, validated)
    clock.advance(STEP)
    saga.sweep_sagas(services)
    assert dispatcher.sent == [("chord", [(task_names.POST_TO_ERP, ["WC-1"])], (task_names.RELEASE_TO_WMS, ["WC-1"]))]


def test_a_lost_chord_body_is_released_by_the_sweeper(services, dispatcher, clock, wms, validated):
    saga.reserve_stock(services, validated)
    saga.post_to_erp(services, validated)
    clock.advance(STEP)
    assert saga.sweep_sagas(services) == {task_names.RELEASE_TO_WMS: 1}
    drain(services, dispatcher)
    assert order_row(services, validated).status == "released" and len(wms.fulfilments) == 1
    clock.advance(STEP)
    assert saga.sweep_sagas(services) == {}


def test_a_lost_hold_and_a_lost_void_are_sent_again(services, store, erp, dispatcher, clock):
    seed_catalog(services, erp, "SKU-A")
    store.put_order(make_order(1))
    capture.capture_store_orders(services, [1])
    saga.post_to_erp(services, "WC-1")
    saga.reserve_stock(services, "WC-1")
    dispatcher.sent.clear()  # HOLD_IN_STORE and VOID_ERP_ORDER lost with Redis
    clock.advance(STEP)
    assert saga.sweep_sagas(services) == {task_names.VOID_ERP_ORDER: 1, task_names.HOLD_IN_STORE: 1}
    drain(services, dispatcher)
    assert store.orders[1].status == "on-hold" and erp.sale_orders_for("WC-1")[0].state == "cancel"
    # with both done, the held order leaves the sweeper's list
    clock.advance(STEP)
    assert saga.sweep_sagas(services) == {}
    assert order_row(services, "WC-1").saga_deadline is None


def test_a_lost_compensation_is_sent_again(services, dispatcher, clock, validated):
    request_cancel(services, validated, "customer asked", "api")
    dispatcher.sent.clear()
    clock.advance(STEP)
    assert saga.sweep_sagas(services) == {task_names.COMPENSATE_CANCEL: 1}
    assert dispatcher.sent == [(task_names.COMPENSATE_CANCEL, ["WC-1"])]


def test_losing_every_message_at_every_stage_still_releases_exactly_once(services, store, erp, wms, dispatcher,
                                                                         clock):
    # Redis flushed after each step: only the sweeper and SQL carry the order forward
    seed_catalog(services, erp, "SKU-A")
    seed_stock(services, {("SKU-A", "WH-EAST"): 10})
    store.put_order(make_order(1))
    capture.capture_store_orders(services, [1])
    for _ in range(6):
        dispatcher.sent.clear()
        clock.advance(STEP)
        saga.sweep_sagas(services)
        message = dispatcher.sent.pop(0) if dispatcher.sent else None
        if message is None:
            break
        steps = [*message[1], message[2]] if message[0] == "chord" else [message]
        name, args = steps[0]  # only the first step of what was sent ever runs
        {task_names.RESERVE_STOCK: saga.reserve_stock, task_names.POST_TO_ERP: saga.post_to_erp,
         task_names.RELEASE_TO_WMS: saga.release_to_wms}[name](services, *args)
    assert order_row(services, "WC-1").status == "released"
    assert len(erp.sale_orders_for("WC-1")) == 1 and len(wms.called("create_fulfilment")) == 1
