"""Inbox processing and sweeping against the real state store, with a fake dispatcher and a fake clock."""
from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from retail_sync import task_names
from retail_sync.connectors.woocommerce.webhooks import parse_delivery
from retail_sync.flows import inbox as flow
from retail_sync.persistence import inbox, timeline
from retail_sync.persistence.exception_store import list_open
from retail_sync.persistence.tables import webhook_inbox
from tests.support.woo import order, php_json


def store(services, *deliveries):
    now = services.clock()
    with services.uow() as uow:
        ids = inbox.insert_new(uow.conn, list(deliveries), now, now + timedelta(seconds=60))
        uow.commit()
    return ids


def delivery(topic="order.updated", payload=None):
    return parse_delivery({"x-wc-webhook-topic": topic}, php_json(payload if payload is not None else order(1)))


def row(services, inbox_id):
    with services.uow() as uow:
        return uow.conn.execute(select(webhook_inbox).where(webhook_inbox.c.id == inbox_id)).one()


def test_duplicates_are_stored_once(services):
    first = store(services, delivery("order.created"))
    again = store(services, delivery("order.updated"))
    assert len(first) == 1 and again == {}


def test_a_delivery_is_processed_once_even_when_run_twice(services):
    # given
    [inbox_id] = store(services, delivery()).values()
    # when
    assert flow.process_deliveries(services, [inbox_id]) == {"nudged": 1}
    assert flow.process_deliveries(services, [inbox_id]) == {"skipped": 1}
    # then
    with services.uow() as uow:
        events = timeline.for_subject(uow.conn, "order:WC-1")
    # once: the delivery recorded, then the batch's capture (the fake store does not hold order 1)
    assert [e["event_type"] for e in events] == ["webhook.received", "store.order_missing"]
    assert row(services, inbox_id).status == "done"


def test_unknown_topic_is_recorded_and_acknowledged(services):
    [inbox_id] = store(services, delivery("coupon.updated", {"id": 4})).values()
    assert flow.process_deliveries(services, [inbox_id]) == {"ignored": 1}
    assert row(services, inbox_id).outcome == "ignored"
    with services.uow() as uow:
        assert timeline.for_subject(uow.conn, "webhook:woocommerce")[0]["detail"]["topic"] == "coupon.updated"


def test_a_delivery_that_can_never_succeed_fails_alone_into_the_exception_store(services):
    # given an error object instead of an order (what WooCommerce sends when the owner lost access)
    bad = delivery("order.updated", {"code": "woocommerce_rest_cannot_view", "message": "no", "data": {"status": 401}})
    good = delivery("order.updated", order(2))
    ids = store(services, bad, good)
    # when
    outcomes = flow.process_deliveries(services, sorted(ids.values()))
    # then
    assert outcomes == {"failed": 1, "nudged": 1}
    assert row(services, ids[bad.dedupe_key]).status == "failed"
    with services.uow() as uow:
        [exc] = list_open(uow.conn)
    assert exc["kind"] == "inbox.rejected" and exc["payload_ref"] == f"webhook_inbox:{ids[bad.dedupe_key]}"
    assert exc["task_name"] == task_names.PROCESS_INBOX


def test_sweeper_redrives_only_what_waited_past_the_interval(services, dispatcher, clock):
    [inbox_id] = store(services, delivery()).values()
    assert flow.sweep_inbox(services) == {"redriven": 0, "exhausted": 0}
    clock.advance(61)
    assert flow.sweep_inbox(services) == {"redriven": 1, "exhausted": 0}
    assert dispatcher.sent == [(task_names.PROCESS_INBOX, [[inbox_id]])]
    # not again until another interval has passed
    assert flow.sweep_inbox(services)["redriven"] == 0
    clock.advance(61)
    assert flow.sweep_inbox(services)["redriven"] == 1


def test_sweeper_gives_up_after_max_attempts_into_the_exception_store(services, clock):
    [inbox_id] = store(services, delivery()).values()
    with services.uow() as uow:
        for _ in range(services.settings.inbox_max_attempts):
            inbox.record_failure(uow.conn, inbox_id, "OperationalError: db away", failed=False, now=clock())
        uow.commit()
    clock.advance(61)
    assert flow.sweep_inbox(services) == {"redriven": 0, "exhausted": 1}
    assert row(services, inbox_id).status == "failed"
    with services.uow() as uow:
        assert list_open(uow.conn)[0]["kind"] == "inbox.exhausted"


def test_a_transient_failure_counts_an_attempt_and_propagates(services, monkeypatch):
    from retail_sync.errors import TransientError

    [inbox_id] = store(services, delivery()).values()

    def flaky(services, uow, row, now):
        raise TransientError("downstream busy")

    monkeypatch.setitem(flow.HANDLERS, ("woocommerce", "order"), flaky)  # stands in for the capture handler
    with pytest.raises(TransientError):
        flow.process_deliveries(services, [inbox_id])
    stored = row(services, inbox_id)
    assert (stored.status, stored.attempts) == ("pending", 1)
    assert "downstream busy" in stored.last_error
