"""Capture: store webhooks as nudges, re-reading the store, versions, echoes, validation holds and the order API."""
from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest
from sqlalchemy import select

from retail_sync import task_names
from retail_sync.errors import TransientError
from retail_sync.connectors.woocommerce.webhooks import parse_delivery
from retail_sync.flows import capture, saga, store_updates
from retail_sync.flows.inbox import process_deliveries, process_delivery
from retail_sync.flows.store_updates import hold_in_store
from retail_sync.persistence import inbox, timeline
from retail_sync.persistence.exception_store import list_open
from retail_sync.persistence.tables import store_order_nudges
from tests.flows.fakes import MODIFIED_AT, make_order
from tests.flows.support import drain, order_row, seed_catalog, seed_stock
from tests.support.woo import order as woo_order, php_json

STEP = 300  # saga_step_timeout_s's default


@pytest.fixture
def catalog(services, erp):
    seed_catalog(services, erp, "SKU-A", "SKU-B")
    seed_stock(services, {("SKU-A", "WH-EAST"): 10, ("SKU-B", "WH-EAST"): 10})


def accept(services, store_id: int, modified: str, topic: str = "order.updated") -> int:
    """A store webhook accepted by the receiver: its inbox id."""
    delivery = parse_delivery({"x-wc-webhook-topic": topic}, php_json(woo_order(store_id, modified)))
    now = services.clock()
    with services.uow() as uow:
        [inbox_id] = inbox.insert_new(uow.conn, [delivery], now, now + timedelta(seconds=60)).values()
        uow.commit()
    return inbox_id


def deliver(services, store_id: int, modified: str, topic: str = "order.updated") -> str:
    """A store webhook processed by its handler alone (no batch follow-up): the handler's outcome."""
    outcome, _ = process_delivery(services, accept(services, store_id, modified, topic))
    return outcome


def nudges(services) -> dict:
    with services.uow() as uow:
        return dict(uow.conn.execute(select(store_order_nudges.c.store_id, store_order_nudges.c.version)).all())


def open_exceptions(services) -> list[dict]:
    with services.uow() as uow:
        return list_open(uow.conn)


def events(services, ref: str) -> list[str]:
    with services.uow() as uow:
        return [e["event_type"] for e in timeline.for_subject(uow.conn, f"order:{ref}")]


# --- webhooks are nudges ------------------------------------------------------------------------------------------

def test_a_webhook_leaves_a_nudge(services, dispatcher):
    assert deliver(services, 7, "2026-11-27T10:00:00") == "nudged"
    assert nudges(services) == {"7": "2026-11-27T10:00:00"}
    assert dispatcher.sent == []  # the batch's follow-up captures; the nudge is the record until then
    assert events(services, "WC-7") == ["webhook.received"]


def test_a_batch_of_webhooks_is_captured_with_one_store_read(services, store, dispatcher, catalog):
    for store_id in (1, 2, 3):
        store.put_order(make_order(store_id))
    ids = [accept(services, store_id, "2026-11-27T10:00:00") for store_id in (1, 2, 3)]

    assert process_deliveries(services, ids) == {"nudged": 3}

    assert store.called("fetch_orders") == [((1, 2, 3),)]
    assert nudges(services) == {}
    assert {order_row(services, f"WC-{n}").status for n in (1, 2, 3)} == {"validated"}
    assert [message[0] for message in dispatcher.sent] == ["chord"] * 3


def test_a_failed_batch_capture_is_handed_to_a_task_and_the_nudges_stay(services, store, dispatcher, catalog):
    store.put_order(make_order(1))
    store.faults.fail("fetch_orders", TransientError("store timed out"))

    assert process_deliveries(services, [accept(services, 1, "2026-11-27T10:00:00")]) == {"nudged": 1}

    assert dispatcher.sent == [(task_names.CAPTURE_STORE_ORDERS, [[1]])]
    assert nudges(services) == {"1": "2026-11-27T10:00:00"}


def test_nudges_for_one_order_coalesce_and_keep_the_newest_version(services, store, catalog):
    # given three deliveries for one order, the newest arriving second
    deliver(services, 1, "2026-11-27T10:00:00")
    deliver(services, 1, "2026-11-27T10:00:05")
    deliver(services, 1, "2026-11-27T10:00:02")
    assert nudges(services) == {"1": "2026-11-27T10:00:05"}
    # when the store already has a newer version than any delivery announced, one capture settles them all
    store.put_order(make_order(1, modified_at=MODIFIED_AT.replace(hour=10, second=9)))
    assert capture.capture_store_orders(services, [1, 1, 1]) == {"validated": 1}
    assert store.called("fetch_orders") == [((1,),)]
    assert nudges(services) == {}


def test_a_nudge_newer_than_what_the_store_returned_stays_for_the_next_capture(services, store, catalog):
    store.put_order(make_order(1, modified_at=MODIFIED_AT.replace(hour=10)))
    deliver(services, 1, "2026-11-27T10:00:30")  # the store's answer lags behind the webhook
    capture.capture_store_orders(services, [1])
    assert nudges(services) == {"1": "2026-11-27T10:00:30"}


def test_an_order_the_store_no_longer_has_drops_its_nudge(services, dispatcher):
    deliver(services, 404, "2026-11-27T10:00:00", topic="order.deleted")
    assert capture.capture_store_orders(services, [404]) == {"missing": 1}
    assert nudges(services) == {}
    assert events(services, "WC-404") == ["webhook.received", "store.order_missing"]


def test_the_sweeper_redrives_a_nudge_whose_capture_was_lost(services, dispatcher, clock):
    deliver(services, 3, "2026-11-27T10:00:00")
    dispatcher.sent.clear()  # the publish after commit never reached Redis
    assert saga.sweep_sagas(services) == {}
    clock.advance(STEP + 1)
    assert saga.sweep_sagas(services) == {"nudges": 1}
    assert dispatcher.sent == [(task_names.CAPTURE_STORE_ORDERS, [[3]])]
    assert saga.sweep_sagas(services) == {}  # pushed forward, not sent again at once


# --- versions and echoes ------------------------------------------------------------------------------------------

def test_an_older_or_equal_version_never_overwrites_a_newer_one(services, catalog):
    newer = make_order(1, modified_at=MODIFIED_AT + timedelta(minutes=5))
    older = replace(make_order(1, [("SKU-B", 1, "3.00")]), status="pending")
    assert capture.ingest(services, newer) == "validated"
    assert capture.ingest(services, older) == "stale"
    assert capture.ingest(services, newer) == "unchanged"
    row = order_row(services, "WC-1")
    assert (row.status, row.source_version, row.order.skus) == ("validated", "2026-11-27T11:05:00", ("SKU-A",))


def test_a_status_change_within_the_same_second_is_not_lost(services, store, dispatcher, catalog):
    # given an order captured as processing, then cancelled within the same second (date_modified_gmt counts
    # whole seconds, so both reads carry one version)
    store.put_order(make_order(1))
    capture.capture_store_orders(services, [1])
    dispatcher.sent.clear()
    store.put_order(make_order(1, status="cancelled"))
    # when it is captured, the cancellation counts, and the store is read once more to settle which came last
    assert capture.capture_store_orders(services, [1]) == {"cancel_cancelling": 1}
    assert dispatcher.sent == [(task_names.COMPENSATE_CANCEL, ["WC-1"]), (task_names.CAPTURE_STORE_ORDERS, [[1]])]
    assert capture.capture_store_orders(services, [1]) == {"unchanged": 1}


def test_an_order_waits_until_the_store_says_processing(services, store, dispatcher, catalog):
    store.put_order(make_order(1, status="pending"))
    assert capture.capture_store_orders(services, [1]) == {"waiting": 1}
    assert dispatcher.sent == []
    store.change_order(1, status="processing")
    assert capture.capture_store_orders(services, [1]) == {"validated": 1}
    assert order_row(services, "WC-1").status == "validated"


def test_on_hold_is_captured_only_when_the_setting_says_so(services, store, catalog):
    store.put_order(make_order(1, status="on-hold"))
    assert capture.capture_store_orders(services, [1]) == {"waiting": 1}
    services.settings = services.settings.model_copy(update={"capture_on_hold": True})
    store.change_order(1, customer_note="paid by bank transfer")
    assert capture.capture_store_orders(services, [1]) == {"validated": 1}


def test_our_own_hold_comes_back_as_an_echo_and_does_not_re_enter(services, store, dispatcher, erp):
    # given an order held for an unknown SKU, and the store put on-hold by the engine
    store.put_order(make_order(1, [("SKU-X", 1, "5.00")]))
    capture.capture_store_orders(services, [1])
    drain(services, dispatcher)  # lookup (finds nothing), START_ORDER → hold, HOLD_IN_STORE
    assert store.orders[1].status == "on-hold"
    # when the store's webhook for that write comes back
    assert capture.capture_store_orders(services, [1]) == {"echo": 1}
    # then it is only recorded: nothing else is asked of anyone
    assert dispatcher.sent == []
    row = order_row(services, "WC-1")
    assert row.status == "on_hold" and row.source_version == row.store_written_version
    assert len(store.called("set_order_status")) == 1


def test_a_held_order_set_back_to_processing_in_the_store_is_validated_again(services, store, dispatcher, erp):
    store.put_order(make_order(1, paid=False))
    capture.capture_store_orders(services, [1])
    drain(services, dispatcher)
    assert order_row(services, "WC-1").status == "on_hold"
    [held] = open_exceptions(services)
    assert held["kind"] == "order.validation_failed" and held["subject"] == "WC-1"
    # when someone fixes the order in the store and sets it back to processing
    seed_catalog(services, erp, "SKU-A")
    seed_stock(services, {("SKU-A", "WH-EAST"): 5})
    store.change_order(1, status="processing", paid=True)
    assert capture.capture_store_orders(services, [1]) == {"validated": 1}
    # then the saga runs and the exception is resolved
    drain(services, dispatcher)
    assert order_row(services, "WC-1").status == "released"
    assert open_exceptions(services) == []


def test_a_replayed_hold_that_now_passes_sets_the_store_back_to_processing_once(services, store, dispatcher, erp):
    # given an order held for an unknown SKU, the store showing our hold
    store.put_order(make_order(1, [("SKU-A", 1, "10.00")]))
    capture.capture_store_orders(services, [1])
    drain(services, dispatcher)
    assert capture.capture_store_orders(services, [1]) == {"echo": 1}
    assert store.orders[1].status == "on-hold"
    # when the product is bound after all and a person replays the exception
    seed_catalog(services, erp, "SKU-A")
    seed_stock(services, {("SKU-A", "WH-EAST"): 5})
    assert capture.start_order(services, "WC-1")["outcome"] == "validated"
    ran = [name for name, _, _ in drain(services, dispatcher)]
    # then the saga runs and the store shows the order moving again, with a note saying why
    assert task_names.RESUME_IN_STORE in ran and order_row(services, "WC-1").status == "released"
    assert store.orders[1].status == "processing"
    assert store.notes[1][-1][0].startswith("retail-sync released its hold")
    assert capture.capture_store_orders(services, [1]) == {"echo": 1}
    assert store_updates.resume_in_store(services, "WC-1")["outcome"] == "already"


# --- validation holds ---------------------------------------------------------------------------------------------

def test_an_unknown_sku_is_looked_up_once_then_held_with_a_note(services, store, dispatcher, erp, wms):
    # given an order for a SKU nobody knows
    store.put_order(make_order(1, [("SKU-X", 2, "5.00")]))
    # when it is captured
    assert capture.capture_store_orders(services, [1]) == {"lookup": 1}
    assert dispatcher.sent == [(task_names.LOOKUP_SKUS, ["WC-1"])]
    assert order_row(services, "WC-1").status == "received"
    # then the lookup finds nothing, START_ORDER holds the order and the store shows why
    ran = [name for name, _, _ in drain(services, dispatcher)]
    assert ran == [task_names.LOOKUP_SKUS, task_names.START_ORDER, task_names.HOLD_IN_STORE]
    row = order_row(services, "WC-1")
    assert row.status == "on_hold" and row.hold_reason == "SKU SKU-X is unknown to the ERP"
    [exc] = open_exceptions(services)
    assert (exc["kind"], exc["subject"], exc["task_name"], exc["task_args"]) == (
        "order.unknown_sku", "WC-1", task_names.START_ORDER, ["WC-1"])
    assert store.notes[1] == [("retail-sync put this order on hold: SKU SKU-X is unknown to the ERP", False)]
    # and nothing reached the ERP or the WMS
    assert erp.sale_orders == {} and wms.fulfilments == {}
    # a replay asks the lookup no more
    assert capture.start_order(services, "WC-1") == {"outcome": "held", "ref": "WC-1"}
    assert [name for name, _ in dispatcher.sent] == [task_names.HOLD_IN_STORE]


def test_a_lookup_that_finds_the_sku_lets_the_order_through(services, store, dispatcher, erp, catalog):
    erp.add_product("SKU-NEW")
    seed_stock(services, {("SKU-NEW", "WH-EAST"): 3})
    store.put_order(make_order(1, [("SKU-NEW", 1, "5.00")]))
    assert capture.capture_store_orders(services, [1]) == {"lookup": 1}
    drain(services, dispatcher)
    assert order_row(services, "WC-1").status == "released"
    assert len(erp.sale_orders_for("WC-1")) == 1


@pytest.mark.parametrize("broken, reason", [
    (dict(paid=False), "order is not paid"),
    (dict(currency="USD"), "currency USD is not supported (EUR)"),
    (dict(total=make_order(1).total + 1), "≠ total"),
])
def test_an_invalid_order_is_held_and_nothing_leaves_the_engine(services, store, dispatcher, erp, wms, catalog,
                                                                 broken, reason):
    store.put_order(make_order(1, **broken))
    assert capture.capture_store_orders(services, [1]) == {"held": 1}
    assert dispatcher.sent == [(task_names.HOLD_IN_STORE, ["WC-1"])]
    row = order_row(services, "WC-1")
    assert row.status == "on_hold" and reason in row.hold_reason
    assert [e["kind"] for e in open_exceptions(services)] == ["order.validation_failed"]
    drain(services, dispatcher)
    assert store.orders[1].status == "on-hold" and reason in store.notes[1][0][0]
    assert erp.calls == []
    assert wms.calls == []


def test_hold_in_store_writes_once_and_a_failed_write_is_retried(services, store, dispatcher):
    store.put_order(make_order(1, paid=False))
    capture.capture_store_orders(services, [1])
    store.faults.fail("set_order_status", TransientError("store answered 503"))
    with pytest.raises(TransientError):
        hold_in_store(services, "WC-1")
    assert hold_in_store(services, "WC-1") == {"outcome": "held", "ref": "WC-1"}
    assert hold_in_store(services, "WC-1") == {"outcome": "already", "ref": "WC-1"}
    assert len(store.notes[1]) == 1 and store.orders[1].status == "on-hold"


def test_a_second_copy_of_hold_in_store_waits_for_the_first(services, store, dispatcher):
    store.put_order(make_order(1, paid=False))
    capture.capture_store_orders(services, [1])
    store.faults.meanwhile("set_order_status", lambda: pytest.raises(TransientError, hold_in_store, services, "WC-1"))
    assert hold_in_store(services, "WC-1")["outcome"] == "held"
    assert len(store.called("set_order_status")) == 1


# --- cancellation seen by capture ---------------------------------------------------------------------------------

def test_a_cancelled_order_we_never_saw_is_stored_cancelled(services, store, dispatcher):
    store.put_order(make_order(1, status="cancelled"))
    assert capture.capture_store_orders(services, [1]) == {"cancelled": 1}
    assert order_row(services, "WC-1").status == "cancelled" and dispatcher.sent == []


def test_a_cancellation_in_the_store_asks_for_compensation(services, store, dispatcher, catalog):
    store.put_order(make_order(1))
    capture.capture_store_orders(services, [1])
    dispatcher.sent.clear()
    store.change_order(1, status="cancelled")
    assert capture.capture_store_orders(services, [1]) == {"cancel_cancelling": 1}
    assert dispatcher.sent == [(task_names.COMPENSATE_CANCEL, ["WC-1"])]
    row = order_row(services, "WC-1")
    assert row.status == "cancelling" and row.source_status == "cancelled"
    assert capture.capture_store_orders(services, [1]) == {"unchanged": 1}


# --- the governed order API ---------------------------------------------------------------------------------------

def test_an_api_order_is_created_once_then_same_or_conflict(services, dispatcher, catalog):
    order = make_order("9001", channel="POS")
    assert capture.accept_api_order(services, order, "hash-1") == capture.AcceptResult("POS-9001", "created")
    assert dispatcher.sent == [(task_names.START_ORDER, ["POS-9001"])]
    assert order_row(services, "POS-9001").status == "received"
    assert capture.accept_api_order(services, order, "hash-1").outcome == "same"
    assert capture.accept_api_order(services, replace(order, total=order.total + 1), "hash-2").outcome == "conflict"
    assert len(dispatcher.sent) == 1
    # START_ORDER validates it and starts the saga; channel orders have no store to hold or echo
    drain(services, dispatcher)
    assert order_row(services, "POS-9001").status == "released"


def test_an_api_order_whose_start_was_lost_is_started_by_the_sweeper(services, dispatcher, clock, catalog):
    capture.accept_api_order(services, make_order("9002", channel="POS"), "h")
    dispatcher.sent.clear()
    clock.advance(STEP + 1)
    assert saga.sweep_sagas(services) == {task_names.START_ORDER: 1}
    assert dispatcher.sent == [(task_names.START_ORDER, ["POS-9002"])]
