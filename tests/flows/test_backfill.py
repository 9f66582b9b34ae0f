"""The order backfill: what no webhook brought is polled by modification time, with an overlap that costs nothing."""
from __future__ import annotations

from datetime import timedelta

import pytest

from retail_sync import task_names
from retail_sync.flows.backfill import CURSOR, backfill_orders
from retail_sync.persistence import cursors
from tests.flows.fakes import make_order
from tests.flows.support import order_row, seed_catalog, seed_stock


@pytest.fixture
def catalog(services, erp):
    seed_catalog(services, erp, "SKU-A")
    seed_stock(services, {("SKU-A", "WH-EAST"): 100})


def cursor(services) -> str | None:
    with services.uow() as uow:
        return cursors.read(uow.conn, CURSOR)


def chords(dispatcher) -> list[str]:
    return [message[2][1][0] for message in dispatcher.sent if message[0] == "chord"]


def test_the_first_run_looks_back_one_day_and_remembers_the_newest_order(services, store, dispatcher, clock, catalog):
    # given
    now = clock()
    store.put_order(make_order(1, modified_at=now - timedelta(days=2)))
    store.put_order(make_order(2, modified_at=now - timedelta(hours=3)))
    store.put_order(make_order(3, modified_at=now - timedelta(minutes=5)))
    # when
    assert backfill_orders(services) == {"validated": 2}
    # then
    assert store.called("orders_modified_since") == [(now - timedelta(days=1),)]
    assert chords(dispatcher) == ["WC-2", "WC-3"]
    assert order_row(services, "WC-1") is None
    assert cursor(services) == (now - timedelta(minutes=5)).isoformat()


def test_the_overlap_reads_again_but_never_captures_twice(services, store, dispatcher, clock, catalog):
    # given a first run
    first = clock()
    store.put_order(make_order(3, modified_at=first - timedelta(minutes=5)))
    backfill_orders(services)
    dispatcher.sent.clear()
    # when, ten minutes later, one more order came in (its webhook was lost)
    clock.advance(600)
    store.put_order(make_order(4, modified_at=clock() - timedelta(minutes=1)))
    outcomes = backfill_orders(services)
    # then the run started ten minutes before the cursor, re-read the known order, captured only the new one
    assert store.called("orders_modified_since")[-1] == (first - timedelta(minutes=15),)
    assert outcomes == {"unchanged": 1, "validated": 1}
    assert chords(dispatcher) == ["WC-4"]
    assert cursor(services) == (clock() - timedelta(minutes=1)).isoformat()


def test_a_cancellation_no_webhook_brought_is_found(services, store, dispatcher, clock, catalog):
    store.put_order(make_order(3, modified_at=clock() - timedelta(minutes=5)))
    backfill_orders(services)
    dispatcher.sent.clear()
    # when the shopper's order is cancelled in the store and the webhook never arrives
    store.change_order(3, status="cancelled")
    assert backfill_orders(services) == {"cancel_cancelling": 1}
    assert dispatcher.sent == [(task_names.COMPENSATE_CANCEL, ["WC-3"])]


def test_nothing_modified_leaves_the_cursor_where_it_was(services, store, dispatcher):
    assert backfill_orders(services) == {}
    assert cursor(services) is None and dispatcher.sent == []
