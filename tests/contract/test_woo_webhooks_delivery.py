"""Webhooks of the WooCommerce sandbox, the deliveries: bytes, headers and signatures, payloads, success and
failure (no retries, disabling), coalescing, the safe-URL policy, the behaviour knobs, a restart and action.*
topics, checked by the capture receiver of tests/contract/woo_hooks_support.py with signatures recomputed there."""
from __future__ import annotations

import json
import re
import time
from dataclasses import replace

import requests
from woocommerce import API

from retail_sync.sandbox import runner
from retail_sync.sandbox.woocommerce.app import WooSandbox
from tests.contract.woo_hooks_support import (  # noqa: F401 - fixtures
    DELIVERY_HEADERS,
    NAME,
    NAME_PHP,
    SECRET,
    SKUS,
    USER_AGENT,
    attempts,
    behaviour,
    client,
    create_webhook,
    product_id,
    receiver,
    report,
    seed_catalog,
    signature,
    touch,
    wait_report,
    wcapi,
    webhook_state,
    woo,
)
from tests.support.processes import free_port


# ---- delivery bytes and headers ------------------------------------------------------------------------------
def test_delivery_bytes_signature_and_headers(woo, wcapi, receiver):
    hook = create_webhook(wcapi, receiver.url)
    product = product_id(wcapi, "TEE-1")
    touch(wcapi, product, name=NAME)
    [delivery] = receiver.wait_deliveries(1)

    assert delivery.version == "HTTP/1.0"
    assert {name.lower() for name, _ in delivery.headers} == DELIVERY_HEADERS
    assert delivery.header("User-Agent") == USER_AGENT
    assert delivery.header("Content-Type") == "application/json"
    assert delivery.header("X-WC-Webhook-Source") == f"{woo}/"
    assert (delivery.header("X-WC-Webhook-Topic"), delivery.header("X-WC-Webhook-Resource"),
            delivery.header("X-WC-Webhook-Event")) == ("product.updated", "product", "updated")
    assert delivery.header("X-WC-Webhook-ID") == str(hook["id"])
    assert re.fullmatch(r"[0-9a-f]{32}", delivery.header("X-WC-Webhook-Delivery-ID"))
    assert delivery.header("X-WC-Webhook-Signature") == signature(delivery.body)
    assert delivery.header("X-WC-Webhook-Signature") != signature(delivery.body, SECRET)  # decoded, not raw

    body = delivery.body
    assert NAME_PHP in body and b": " not in body and b", " not in body and body.isascii()
    assert b"\\/wp-json\\/wc\\/v3\\/products\\/" in body  # _links included, slashes escaped
    payload = json.loads(body)
    assert payload["id"] == product and payload["name"] == NAME
    assert payload == wcapi.get(f"products/{product}").json()  # the REST representation


def test_delivery_id_repeats_within_one_second_and_changes_after(woo, wcapi, receiver):
    create_webhook(wcapi, receiver.url)
    behaviour(woo, delay_ms=50, duplicate_rate=1)
    product = product_id(wcapi, "TEE-1")
    time.sleep(1.02 - time.time() % 1)  # start early in a second, so the pair is sent within it
    touch(wcapi, product)
    first, second = receiver.wait_deliveries(2)
    assert first.body == second.body and first.header("X-WC-Webhook-Signature") == \
        second.header("X-WC-Webhook-Signature")
    assert first.header("X-WC-Webhook-Delivery-ID") == second.header("X-WC-Webhook-Delivery-ID")
    time.sleep(1.1)
    touch(wcapi, product)
    third = receiver.wait_deliveries(3)[2]
    assert re.fullmatch(r"[0-9a-f]{32}", third.header("X-WC-Webhook-Delivery-ID"))
    assert third.header("X-WC-Webhook-Delivery-ID") != first.header("X-WC-Webhook-Delivery-ID")
    flags = [(d["duplicate"], d["delivery_id"]) for d in attempts(report(woo))][:2]
    assert flags == [(False, first.header("X-WC-Webhook-Delivery-ID")),
                     (True, first.header("X-WC-Webhook-Delivery-ID"))]


def test_payload_is_built_at_send_time_and_quick_changes_coalesce(woo, wcapi, receiver):
    create_webhook(wcapi, receiver.url)
    behaviour(woo, delay_ms=800)
    product = product_id(wcapi, "TEE-1")
    for name in ("first", "second", "third"):
        touch(wcapi, product, name=name)
    assert [(p["webhook_id"], p["resource_id"]) for p in report(woo)["pending"]] == [(1, product)]
    [delivery] = receiver.wait_deliveries(1)
    assert json.loads(delivery.body)["name"] == "third"
    time.sleep(1.0)  # nothing else was queued
    assert len(receiver.deliveries()) == 1 and report(woo)["pending"] == []


def test_empty_objects_arrive_as_arrays(woo, wcapi, receiver):
    create_webhook(wcapi, receiver.url)
    product = product_id(wcapi, "TEE-1")
    shown = touch(wcapi, product, meta_data=[{"key": "dims", "value": {}}])
    assert [m["value"] for m in shown["meta_data"] if m["key"] == "dims"] == [{}]
    [delivery] = receiver.wait_deliveries(1)
    assert b'"key":"dims","value":[]' in delivery.body and b"{}" not in delivery.body


def test_deleted_topic_sends_only_the_id(woo, wcapi, receiver):
    create_webhook(wcapi, receiver.url, "product.deleted")
    product = product_id(wcapi, "P-1")
    assert wcapi.delete(f"products/{product}").status_code == 200  # to the trash: wp_trash_post
    [delivery] = receiver.wait_deliveries(1)
    assert delivery.body == b'{"id":%d}' % product
    assert delivery.header("X-WC-Webhook-Signature") == signature(delivery.body)


def test_variation_changes_arrive_as_product_topics_with_the_variation_id(woo, wcapi, receiver):
    requests.post(f"{woo}/_sandbox/seed", json={"sites": ["WH-EAST"], "products": [
        {"sku": "SHIRT", "name": "Shirt", "price": 25, "stock": {"WH-EAST": 0}, "variations": [
            {"sku": "SHIRT-S", "name": "Shirt S", "price": 25, "stock": {"WH-EAST": 4}}]}]}, timeout=5)
    create_webhook(wcapi, receiver.url)
    parent, variation = product_id(wcapi, "SHIRT"), product_id(wcapi, "SHIRT-S")
    response = wcapi.put(f"products/{parent}/variations/{variation}", {"regular_price": "27.00"})
    assert response.status_code == 200, response.text
    bodies = {payload["id"]: payload for payload in (json.loads(d.body) for d in receiver.wait_deliveries(2))}
    assert set(bodies) == {parent, variation}
    assert (bodies[variation]["type"], bodies[variation]["parent_id"]) == ("variation", parent)
    assert bodies[variation]["regular_price"] == "27.00"


def test_order_webhooks_ignore_draft_orders_but_checkout_drafts_leak_into_updated(woo, wcapi, receiver):
    create_webhook(wcapi, receiver.url, "order.updated")
    draft = wcapi.post("orders", {"status": "auto-draft"})
    checkout_draft = wcapi.post("orders", {"status": "checkout-draft"})
    pending = wcapi.post("orders", {"status": "pending"})
    assert [r.status_code for r in (draft, checkout_draft, pending)] == [201, 201, 201]
    receiver.wait_deliveries(2)
    time.sleep(0.3)
    delivered = sorted(json.loads(d.body)["id"] for d in receiver.deliveries())
    assert delivered == sorted([checkout_draft.json()["id"], pending.json()["id"]])


def test_a_resource_gone_before_sending_is_delivered_as_the_rest_error(woo, wcapi, receiver):
    create_webhook(wcapi, receiver.url)
    behaviour(woo, delay_ms=400)
    product = product_id(wcapi, "P-2")
    touch(wcapi, product)
    assert wcapi.delete(f"products/{product}", params={"force": True}).status_code == 200
    [delivery] = receiver.wait_deliveries(1)
    assert delivery.body == (b'{"code":"woocommerce_rest_product_invalid_id","message":"Invalid ID.",'
                             b'"data":{"status":404}}')
    assert delivery.header("X-WC-Webhook-Signature") == signature(delivery.body)


# ---- outcomes: success range, no retries, disabling -------------------------------------------------------------
def test_success_is_200_to_302_and_nothing_is_retried(woo, wcapi, receiver):
    hook = create_webhook(wcapi, receiver.url)
    product = product_id(wcapi, "TEE-1")
    expected = []
    for count, (status, failures) in enumerate([(500, 1), (302, 0), (303, 1), (200, 0), (404, 1), (201, 0)], 1):
        receiver.status = status
        touch(wcapi, product)
        receiver.wait_deliveries(count)
        current = wait_report(woo, lambda r: len(attempts(r)) == count)
        expected.append((status, status < 303))
        assert [(a["status_code"], a["success"]) for a in attempts(current)] == expected
        assert webhook_state(woo, hook["id"])["failure_count"] == failures
    time.sleep(0.3)
    assert len(receiver.deliveries()) == 6  # one request per change: no retries, redirects not followed
    assert all(r.path == "/hooks/woo" for r in receiver.requests)


def test_seventh_consecutive_failure_disables_and_reenabling_keeps_the_count(woo, wcapi, receiver):
    hook = create_webhook(wcapi, receiver.url)
    receiver.status = 500
    product = product_id(wcapi, "TEE-1")
    for count in range(1, 8):
        touch(wcapi, product)
        receiver.wait_deliveries(count)
        wait_report(woo, lambda r: len(attempts(r)) == count)
        state = webhook_state(woo, hook["id"])
        assert (state["status"], state["failure_count"]) == (("active", count) if count < 7 else ("disabled", 6))
    assert wcapi.get(f"webhooks/{hook['id']}").json()["status"] == "disabled"
    touch(wcapi, product)  # a disabled webhook queues nothing
    assert report(woo)["pending"] == []

    assert wcapi.put(f"webhooks/{hook['id']}", {"status": "active"}).json()["status"] == "active"
    assert webhook_state(woo, hook["id"])["failure_count"] == 6
    touch(wcapi, product)
    receiver.wait_deliveries(8)
    state = wait_report(woo, lambda r: len(attempts(r)) == 8)
    assert webhook_state(woo, hook["id"])["status"] == "disabled"  # one more failure was enough
    assert len(attempts(state)) == 8


def test_ping_repeats_on_saves_while_it_never_got_exactly_200(woo, wcapi, receiver):
    receiver.status = 201  # a success for deliveries, not for the ping
    hook = create_webhook(wcapi, receiver.url)
    assert webhook_state(woo, hook["id"])["pending_delivery"] is True
    touch(wcapi, product_id(wcapi, "TEE-1"))
    receiver.wait(lambda r: len(r.requests) == 3)
    assert [r.is_delivery for r in receiver.requests] == [False, True, False]  # the delivery's save pinged
    receiver.status = 200
    wcapi.put(f"webhooks/{hook['id']}", {"name": "renamed"})  # a save of an active, pending webhook pings
    receiver.wait(lambda r: len(r.requests) == 4)
    assert webhook_state(woo, hook["id"])["pending_delivery"] is False


def test_timeout_and_refused_connection_count_as_failures(woo, wcapi, receiver):
    slow = create_webhook(wcapi, receiver.url)["id"]
    closed = create_webhook(wcapi, f"http://127.0.0.1:{free_port()}/nobody-listens")["id"]
    behaviour(woo, delay_ms=20, timeout_s=0.3)
    receiver.delay_s = 1.0
    touch(wcapi, product_id(wcapi, "TEE-1"))
    by_hook = {a["webhook_id"]: a for a in attempts(wait_report(woo, lambda r: len(attempts(r)) == 2))}
    assert by_hook[slow]["status_code"] is None and "timed out" in by_hook[slow]["error"]
    assert by_hook[closed]["status_code"] is None and "Connection" in by_hook[closed]["error"]
    assert not by_hook[slow]["success"] and not by_hook[closed]["success"]
    assert [webhook_state(woo, hook)["failure_count"] for hook in (slow, closed)] == [1, 1]


def test_slow_receiver_does_not_stall_the_api(woo, wcapi, receiver):
    create_webhook(wcapi, receiver.url)
    receiver.delay_s = 2.0
    touch(wcapi, product_id(wcapi, "TEE-1"))
    receiver.wait_started()
    assert wcapi.get("webhooks").status_code == 200
    assert receiver.in_progress == 1 and receiver.deliveries() == []  # answered while the delivery hangs


# ---- URL policy ---------------------------------------------------------------------------------------------------
def test_wp_safe_urls_refuses_loopback_and_other_ports_silently(serve, sandbox_options, receiver):
    options = replace(sandbox_options, wp_safe_urls=True)
    base = serve(WooSandbox, options, port=options.woo_port)
    seed_catalog(base)
    behaviour(base, delay_ms=20)
    wcapi = client(base, options)
    by_name = create_webhook(wcapi, f"http://localhost:{receiver.port}/hooks")  # resolves to 127.0.0.1
    by_port = create_webhook(wcapi, f"http://127.0.0.1:{receiver.port}/hooks")  # the store's host, unsafe port
    touch(wcapi, product_id(wcapi, "TEE-1"))
    current = wait_report(base, lambda r: len(attempts(r)) == 2)
    assert receiver.requests == []
    for hook in (by_name, by_port):
        assert webhook_state(base, hook["id"])["failure_count"] == 1
    assert {(d["kind"], d["status_code"], d["success"]) for d in current["deliveries"]} == \
        {("ping", None, False), ("delivery", None, False)}
    assert all("valid URL" in d["error"] for d in current["deliveries"])


# ---- behaviour knobs ---------------------------------------------------------------------------------------------
def test_delay_knob_delays(woo, wcapi, receiver):
    create_webhook(wcapi, receiver.url)
    behaviour(woo, delay_ms=1500)
    changed = time.time()
    touch(wcapi, product_id(wcapi, "TEE-1"))
    [delivery] = receiver.wait_deliveries(1)
    assert delivery.at - changed >= 1.2


def test_drop_knob_records_a_sent_delivery_that_never_arrives(woo, wcapi, receiver):
    hook = create_webhook(wcapi, receiver.url)
    receiver.status = 500
    behaviour(woo, delay_ms=20, drop_rate=1)
    touch(wcapi, product_id(wcapi, "TEE-1"))
    [attempt] = attempts(wait_report(woo, lambda r: len(attempts(r)) == 1))
    assert (attempt["dropped"], attempt["success"], attempt["status_code"]) == (True, True, None)
    assert receiver.deliveries() == [] and webhook_state(woo, hook["id"])["failure_count"] == 0


def change_all(wcapi: API) -> list[int]:
    ids = [product_id(wcapi, sku) for sku in SKUS]
    for product in ids:
        touch(wcapi, product)
    return ids


def test_reorder_knob_shuffles_close_deliveries(woo, wcapi, receiver):
    create_webhook(wcapi, receiver.url)
    behaviour(woo, delay_ms=150, concurrency=1)
    ids = change_all(wcapi)
    in_order = [json.loads(d.body)["id"] for d in receiver.wait_deliveries(len(ids))]
    assert in_order == ids  # one at a time, first changed first delivered

    behaviour(woo, delay_ms=300, concurrency=1, reorder=True, seed=3)
    change_all(wcapi)
    shuffled = [json.loads(d.body)["id"] for d in receiver.wait_deliveries(2 * len(ids))[len(ids):]]
    assert sorted(shuffled) == ids and shuffled != ids


def test_seed_makes_the_duplicate_draws_repeatable(woo, wcapi, receiver):
    create_webhook(wcapi, receiver.url)

    def duplicated_ids() -> list[int]:
        start = len(attempts(report(woo)))
        behaviour(woo, delay_ms=100, concurrency=1, duplicate_rate=0.5, seed=11)
        ids = change_all(wcapi)
        wait_report(woo, lambda r: sum(not a["duplicate"] for a in attempts(r)[start:]) == len(ids))
        time.sleep(0.3)  # let the last duplicate, if there is one, be recorded
        return [a["resource_id"] for a in attempts(report(woo))[start:] if a["duplicate"]]

    first, second = duplicated_ids(), duplicated_ids()
    assert first == second and 0 < len(first) < len(SKUS)


# ---- durability ----------------------------------------------------------------------------------------------------
def test_a_pending_delivery_survives_a_restart(sandbox_options, receiver):
    started = runner.start(sandbox_options, [(WooSandbox(sandbox_options), sandbox_options.woo_port, False)])
    base = started[0].url
    try:
        seed_catalog(base)
        wcapi = client(base, sandbox_options)
        create_webhook(wcapi, receiver.url)
        behaviour(base, delay_ms=1500)
        product = product_id(wcapi, "TEE-1")
        touch(wcapi, product, name="before the restart")
        assert len(report(base)["pending"]) == 1
    finally:
        runner.stop(started)
    assert receiver.deliveries() == []

    restarted = runner.start(sandbox_options, [(WooSandbox(sandbox_options), sandbox_options.woo_port, False)])
    try:
        [delivery] = receiver.wait_deliveries(1)
        assert json.loads(delivery.body)["name"] == "before the restart"
        assert delivery.header("X-WC-Webhook-Signature") == signature(delivery.body)
        assert report(restarted[0].url)["pending"] == []
    finally:
        runner.stop(restarted)


# ---- action.* topics -----------------------------------------------------------------------------------------------------
def test_order_status_action_hooks_deliver_the_hook_name_and_order_id(woo, wcapi, receiver):
    changed = create_webhook(wcapi, receiver.url, "action.woocommerce_order_status_changed")
    assert changed["hooks"] == ["woocommerce_order_status_changed"] and changed["resource"] == "action"
    never = create_webhook(wcapi, receiver.url, "action.woocommerce_low_stock")  # accepted, never fired here
    order = wcapi.post("orders", {"status": "pending", "line_items": [{"product_id": product_id(wcapi, "P-3")}]})
    assert order.status_code == 201, order.text
    order_id = order.json()["id"]
    time.sleep(0.3)
    assert receiver.deliveries() == []  # created as pending: no transition, no hook
    assert wcapi.put(f"orders/{order_id}", {"status": "on-hold"}).status_code == 200

    [delivery] = receiver.wait_deliveries(1)
    assert delivery.body == b'{"action":"woocommerce_order_status_changed","arg":%d}' % order_id
    assert (delivery.header("X-WC-Webhook-Topic"), delivery.header("X-WC-Webhook-Resource"),
            delivery.header("X-WC-Webhook-Event"), delivery.header("X-WC-Webhook-ID")) == (
        "action.woocommerce_order_status_changed", "action", "woocommerce_order_status_changed", str(changed["id"]))
    assert delivery.header("X-WC-Webhook-Signature") == signature(delivery.body)
    hooks = requests.get(f"{woo}/_sandbox/hooks", timeout=5).json()["hooks"]
    assert [h["topic"] for h in hooks if h["topic"].startswith("action.")] == [
        "action.woocommerce_order_status_on-hold", "action.woocommerce_order_status_pending_to_on-hold",
        "action.woocommerce_order_status_changed"]
    time.sleep(0.3)
    assert [a["webhook_id"] for a in attempts(report(woo))] == [changed["id"]]  # the unfired topic sent nothing
    assert never["id"] not in {p["webhook_id"] for p in report(woo)["pending"]}
