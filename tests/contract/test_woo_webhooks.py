"""Webhooks of the WooCommerce sandbox, driven with the real `woocommerce` client and checked by a real HTTP
receiver that records raw bytes and headers. Every expectation is computed here, independently of the sandbox
(signatures with `hmac`, the decoded secret written out by hand, PHP escapes as literal bytes)."""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import threading
import time
from collections import deque
from dataclasses import dataclass, replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable

import pytest
import requests
from woocommerce import API

from retail_sync.sandbox import runner
from retail_sync.sandbox.woocommerce import hookshot
from retail_sync.sandbox.woocommerce.app import WooSandbox
from tests.support.processes import free_port

# what the store holds (as an admin form would save it) and what WordPress signs with after
# wp_specialchars_decode(…, ENT_QUOTES)
SECRET = "s3cr&amp;t &lt;wh&gt; it&#039;s/&quot;ok&quot; ünï"
DECODED_SECRET = "s3cr&t <wh> it's/\"ok\" ünï"
NAME = "Tee / Crew é 😀"
NAME_PHP = b'"name":"Tee \\/ Crew \\u00e9 \\ud83d\\ude00"'
USER_AGENT = "WooCommerce/8.2.2 Hookshot (WordPress/6.4.1)"
DELIVERY_HEADERS = {"host", "content-length", "user-agent", "content-type", "x-wc-webhook-source",
                    "x-wc-webhook-topic", "x-wc-webhook-resource", "x-wc-webhook-event", "x-wc-webhook-signature",
                    "x-wc-webhook-id", "x-wc-webhook-delivery-id"}
SKUS = [f"P-{n}" for n in range(8)]


# ---- a capture receiver -----------------------------------------------------------------------------------
@dataclass
class Captured:
    version: str
    method: str
    path: str
    headers: list[tuple[str, str]]
    body: bytes
    at: float

    def header(self, name: str) -> str | None:
        return next((value for key, value in self.headers if key.lower() == name.lower()), None)

    @property
    def is_delivery(self) -> bool:
        return self.header("X-WC-Webhook-Topic") is not None


class Receiver:
    """A tiny threaded HTTP server: records each request (POST or GET), answers `statuses` in turn (then `status`),
    optionally after `delay_s`; a 3xx answer carries `Location: <location>`."""

    def __init__(self) -> None:
        self.requests: list[Captured] = []
        self.statuses: deque[int] = deque()
        self.status = 200
        self.delay_s = 0.0
        self.location = "/moved"
        self.in_progress = 0
        self._changed = threading.Condition()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                with receiver._changed:
                    receiver.in_progress += 1
                    receiver._changed.notify_all()
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                captured = Captured(self.request_version, self.command, self.path, list(self.headers.items()), body,
                                    time.time())
                time.sleep(receiver.delay_s)
                with receiver._changed:
                    status = receiver.statuses.popleft() if receiver.statuses else receiver.status
                    receiver.requests.append(captured)
                    receiver.in_progress -= 1
                    receiver._changed.notify_all()
                self.send_response(status)
                if 300 <= status < 400:
                    self.send_header("Location", receiver.location)
                self.send_header("Content-Length", "0")
                self.end_headers()

            do_GET = do_POST  # noqa: N815 - a ping redirected by a 302/303 comes back as a GET

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}/hooks/woo"
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    def deliveries(self) -> list[Captured]:
        with self._changed:
            return [r for r in self.requests if r.is_delivery]

    def pings(self) -> list[Captured]:
        with self._changed:
            return [r for r in self.requests if not r.is_delivery]

    def wait(self, predicate: Callable[["Receiver"], bool], timeout: float = 10) -> None:
        deadline = time.monotonic() + timeout
        with self._changed:
            while not predicate(self):
                remaining = deadline - time.monotonic()
                assert remaining > 0, f"receiver never saw what the test waited for: {self.requests}"
                self._changed.wait(remaining)

    def wait_deliveries(self, count: int, timeout: float = 10) -> list[Captured]:
        self.wait(lambda r: len([x for x in r.requests if x.is_delivery]) >= count, timeout)
        return self.deliveries()

    def wait_started(self, timeout: float = 10) -> None:
        self.wait(lambda r: r.in_progress > 0, timeout)


@pytest.fixture
def receiver():
    capture = Receiver()
    yield capture
    capture.server.shutdown()
    capture.server.server_close()


# ---- the store --------------------------------------------------------------------------------------------
def seed_catalog(base: str) -> None:
    products = [{"sku": "TEE-1", "name": NAME, "price": 19.9, "stock": {"WH-EAST": 10}}]
    products += [{"sku": sku, "name": f"Product {sku}", "price": 5, "stock": {"WH-EAST": 3}} for sku in SKUS]
    response = requests.post(f"{base}/_sandbox/seed", json={"sites": ["WH-EAST"], "products": products}, timeout=5)
    assert response.status_code == 200, response.text


@pytest.fixture
def woo(serve, sandbox_options) -> str:
    base = serve(WooSandbox, sandbox_options, port=sandbox_options.woo_port)
    seed_catalog(base)
    behaviour(base, delay_ms=50)
    return base


def client(base: str, options) -> API:
    return API(url=base, consumer_key=options.woo_consumer_key, consumer_secret=options.woo_consumer_secret,
               version="wc/v3", timeout=10)


@pytest.fixture
def wcapi(woo, sandbox_options) -> API:
    return client(woo, sandbox_options)


def behaviour(base: str, **knobs: Any) -> dict[str, Any]:
    response = requests.post(f"{base}/_sandbox/webhooks/behaviour", json=knobs, timeout=5)
    assert response.status_code == 200, response.text
    return response.json()


def report(base: str) -> dict[str, Any]:
    return requests.get(f"{base}/_sandbox/webhooks/deliveries", timeout=5).json()


def webhook_state(base: str, webhook_id: int) -> dict[str, Any]:
    return next(w for w in report(base)["webhooks"] if w["id"] == webhook_id)


def wait_report(base: str, predicate: Callable[[dict[str, Any]], bool], timeout: float = 10) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        current = report(base)
        if predicate(current):
            return current
        assert time.monotonic() < deadline, f"timed out; last report: {current}"
        time.sleep(0.02)


def attempts(current: dict[str, Any]) -> list[dict[str, Any]]:
    return [d for d in current["deliveries"] if d["kind"] == "delivery"]


def product_id(wcapi: API, sku: str) -> int:
    [product] = wcapi.get("products", params={"sku": sku}).json()
    return product["id"]


def touch(wcapi: API, product: int, **changes: Any) -> dict[str, Any]:
    response = wcapi.put(f"products/{product}", changes or {"name": f"renamed {time.time()}"})
    assert response.status_code == 200, response.text
    return response.json()


def create_webhook(wcapi: API, url: str, topic: str = "product.updated", **fields: Any) -> dict[str, Any]:
    response = wcapi.post("webhooks", {"topic": topic, "delivery_url": url, "secret": SECRET, **fields})
    assert response.status_code == 201, response.text
    return response.json()


def signature(body: bytes, secret: str = DECODED_SECRET) -> str:
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


# ---- REST resource ------------------------------------------------------------------------------------------
def test_create_answers_201_with_location_and_shape_then_pings_unsigned(woo, wcapi, receiver):
    response = wcapi.post("webhooks", {"name": "ERP sync", "topic": "order.updated",
                                       "delivery_url": receiver.url, "secret": SECRET, "status": "paused"})
    assert response.status_code == 201
    hook = response.json()
    assert response.headers["Location"] == f"{woo}/wp-json/wc/v3/webhooks/{hook['id']}"
    assert set(hook) == {"id", "name", "status", "topic", "resource", "event", "hooks", "delivery_url",
                         "date_created", "date_created_gmt", "date_modified", "date_modified_gmt", "_links"}
    assert (hook["name"], hook["topic"], hook["resource"], hook["event"]) == \
        ("ERP sync", "order.updated", "order", "updated")
    assert hook["status"] == "active"  # create_item ignores the requested status
    assert hook["hooks"] == ["woocommerce_update_order", "woocommerce_order_refunded"]
    assert hook["date_modified"] is None and re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d", hook["date_created"])
    assert hook["_links"]["self"] == [{"href": f"{woo}/wp-json/wc/v3/webhooks/{hook['id']}"}]

    [ping] = receiver.pings()  # sent before the 201 went out
    assert ping.body == f"webhook_id={hook['id']}".encode()
    assert ping.header("User-Agent") == USER_AGENT
    assert ping.header("Content-Type").startswith("application/x-www-form-urlencoded")
    assert not [name for name, _ in ping.headers if name.lower().startswith("x-wc-")]
    state = webhook_state(woo, hook["id"])
    assert state["pending_delivery"] is False and state["api_version"] == "wp_api_v3"
    shown = wcapi.get(f"webhooks/{hook['id']}").json()
    assert "secret" not in shown and shown["date_modified"] is not None  # the 200 ping saved the webhook
    creates = requests.get(f"{woo}/_sandbox/ledger", timeout=5).json()["creates"]
    assert [(c["outcome"], c["ref"]) for c in creates[f"webhook:order.updated|{receiver.url}"]] == \
        [("created", str(hook["id"]))]


def test_default_name_and_secret(woo, wcapi, receiver):
    hook = wcapi.post("webhooks", {"topic": "product.updated", "delivery_url": receiver.url}).json()
    assert re.fullmatch(r"Webhook created on [A-Z][a-z]{2} \d\d, \d{4} @ \d\d:\d\d [AP]M", hook["name"])
    product = product_id(wcapi, "TEE-1")
    touch(wcapi, product)
    [delivery] = receiver.wait_deliveries(1)
    # the generated secret is never shown, but the delivery is signed with one (not with an empty key)
    assert len(base64.b64decode(delivery.header("X-WC-Webhook-Signature"))) == 32
    assert delivery.header("X-WC-Webhook-Signature") != signature(delivery.body, "")


@pytest.mark.parametrize("body, status, code", [
    ({"delivery_url": "http://example.com/x"}, 400, "rest_missing_callback_param"),
    ({"topic": "order.shipped", "delivery_url": "http://example.com/x"}, 400,
     "woocommerce_rest_shop_webhook_invalid_topic"),
    ({"topic": "", "delivery_url": "http://example.com/x"}, 400, "woocommerce_rest_shop_webhook_invalid_topic"),
    ({"topic": "order.created", "delivery_url": "ftp://example.com/x"}, 400,
     "woocommerce_rest_shop_webhook_invalid_delivery_url"),
    ({"topic": "order.created", "delivery_url": "http://example.com/x", "id": 4}, 400,
     "woocommerce_rest_shop_webhook_exists"),
    ({"topic": "order.created", "delivery_url": "http://example.com/x", "status": "on"}, 400,
     "rest_invalid_param"),
])
def test_create_rejections(woo, wcapi, body, status, code):
    response = wcapi.post("webhooks", body)
    assert (response.status_code, response.json()["code"]) == (status, code)
    assert wcapi.get("webhooks").json() == []
    creates = requests.get(f"{woo}/_sandbox/ledger", timeout=5).json()["creates"]
    assert [c["outcome"] for attempts_ in creates.values() for c in attempts_] == ["rejected"]


def test_list_get_update_delete(woo, wcapi, receiver):
    ids = [create_webhook(wcapi, receiver.url, topic)["id"] for topic in
           ("order.created", "order.updated", "product.updated")]
    listed = wcapi.get("webhooks", params={"per_page": 2, "orderby": "id", "order": "asc"})
    assert [h["id"] for h in listed.json()] == ids[:2]
    assert (listed.headers["X-WP-Total"], listed.headers["X-WP-TotalPages"]) == ("3", "2")
    assert 'rel="next"' in listed.headers["Link"]

    paused = wcapi.put(f"webhooks/{ids[0]}", {"status": "paused", "name": "later"})
    assert paused.status_code == 200 and paused.json()["status"] == "paused" and paused.json()["name"] == "later"
    assert [h["id"] for h in wcapi.get("webhooks", params={"status": "paused"}).json()] == [ids[0]]
    assert wcapi.get("webhooks", params={"status": "sleeping"}).json()["code"] == "rest_invalid_param"
    invalid = wcapi.put(f"webhooks/{ids[0]}", {"status": "sleeping"})
    assert (invalid.status_code, invalid.json()["code"]) == (400, "rest_invalid_param")

    unknown = wcapi.get("webhooks/9999")
    assert (unknown.status_code, unknown.json()["code"]) == (400, "woocommerce_rest_shop_webhook_invalid_id")
    assert wcapi.put("webhooks/9999", {"status": "paused"}).status_code == 400

    trash = wcapi.delete(f"webhooks/{ids[1]}")
    assert (trash.status_code, trash.json()["code"]) == (501, "woocommerce_rest_trash_not_supported")
    deleted = wcapi.delete(f"webhooks/{ids[1]}", params={"force": True})
    assert deleted.status_code == 200 and deleted.json()["id"] == ids[1]
    assert wcapi.get(f"webhooks/{ids[1]}").status_code == 400
    assert wcapi.delete(f"webhooks/{ids[1]}", params={"force": True}).status_code == 404
    state = requests.get(f"{woo}/_sandbox/state", timeout=5).json()
    assert (state["webhooks"], state["webhooks_active"], state["webhooks_paused"]) == (2, 1, 1)


def test_batch_creates_updates_deletes_with_per_item_errors(wcapi, receiver):
    first = create_webhook(wcapi, receiver.url, "order.created")
    response = wcapi.post("webhooks/batch", {
        "create": [{"topic": "order.updated", "delivery_url": receiver.url}, {"topic": "nope"}],
        "update": [{"id": first["id"], "status": "ACTIVE"}, {"id": 9999, "status": "paused"}],
        "delete": [first["id"] + 1000],
    })
    assert response.status_code == 200
    result = response.json()
    assert result["create"][0]["topic"] == "order.updated"
    assert result["create"][1] == {"id": 0, "error": {"code": "woocommerce_rest_shop_webhook_invalid_topic",
                                                      "message": "Webhook topic is required and must be valid.",
                                                      "data": {"status": 400}}}
    assert result["update"][0]["status"] == "disabled"  # set_status() coerces what it does not know
    assert result["update"][1]["error"]["code"] == "woocommerce_rest_shop_webhook_invalid_id"
    assert result["delete"][0]["error"]["data"] == {"status": 404}
    too_many = wcapi.post("webhooks/batch", {"delete": list(range(1, 102))})
    assert (too_many.status_code, too_many.json()["code"]) == (413, "woocommerce_rest_request_entity_too_large")


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


# ---- GET /webhooks date filters -----------------------------------------------------------------------------------
def test_list_after_before_are_inclusive_on_the_gmt_creation_date(wcapi, receiver):
    hooks = []
    for number in range(3):
        if number:
            time.sleep(1.05)  # creation dates have whole seconds
        hooks.append(create_webhook(wcapi, receiver.url, "order.updated", name=f"hook {number}"))
    ids = [hook["id"] for hook in hooks]
    middle = hooks[1]["date_created_gmt"]
    assert hooks[1]["date_created"] != middle  # the site is not on UTC, so local and GMT differ

    def listed(**params: Any) -> list[int]:
        response = wcapi.get("webhooks", params={"orderby": "id", "order": "asc", **params})
        assert response.status_code == 200, response.text
        return [hook["id"] for hook in response.json()]

    assert listed(after=middle) == ids[1:]  # BETWEEN: the bound itself is included
    assert listed(before=middle) == ids[:2]
    assert listed(after=middle, before=middle) == [ids[1]]
    assert listed(after=middle + "+05:00") == ids[1:]  # the offset is ignored: the wall time is taken as GMT
    assert listed(after=middle.replace("T", " ") + ".9Z") == ids[1:]  # space, fraction and Z read the same way
    assert listed(after="2999-01-01T00:00:00") == []  # `before` defaults to now
    for bad in ("yesterday", "2026-01-01"):
        response = wcapi.get("webhooks", params={"after": bad})
        assert (response.status_code, response.json()["code"]) == (400, "rest_invalid_param")


# ---- the creation ping follows redirects, deliveries do not ------------------------------------------------------------
def test_ping_follows_redirects_like_wp_safe_remote_post(woo, wcapi, receiver):
    receiver.statuses.extend([301, 307, 302, 200])
    hook = create_webhook(wcapi, receiver.url)
    # 301 and 307 repeat the POST, 302 turns it into a GET (still carrying the body, as cURL does)
    assert [(r.method, r.path) for r in receiver.pings()] == [
        ("POST", "/hooks/woo"), ("POST", "/moved"), ("POST", "/moved"), ("GET", "/moved")]
    assert {r.body for r in receiver.pings()} == {f"webhook_id={hook['id']}".encode()}
    [ping] = [d for d in report(woo)["deliveries"] if d["kind"] == "ping"]
    assert (ping["status_code"], ping["success"]) == (200, True)  # the final answer is what counts
    assert webhook_state(woo, hook["id"])["pending_delivery"] is False

    receiver.status = 302  # deliveries still take the 302 as the answer (a success), following nothing
    touch(wcapi, product_id(wcapi, "TEE-1"))
    [delivery] = receiver.wait_deliveries(1)
    time.sleep(0.3)
    assert (delivery.method, delivery.path) == ("POST", "/hooks/woo") and len(receiver.requests) == 5


def test_ping_gives_up_after_five_redirects(woo, wcapi, receiver):
    receiver.status = 301
    hook = create_webhook(wcapi, receiver.url)
    assert len(receiver.pings()) == 6  # the first request and five redirects followed
    [ping] = [d for d in report(woo)["deliveries"] if d["kind"] == "ping"]
    assert ping["status_code"] is None and "Too many redirects" in ping["error"]
    assert webhook_state(woo, hook["id"])["pending_delivery"] is True


def test_ping_redirects_are_checked_against_the_safe_url_rules(receiver):
    body, headers = hookshot.ping_request(7)
    home = f"http://127.0.0.1:{receiver.port}/"  # the receiver is the store's own host and port, so it is safe
    receiver.statuses.extend([302, 200])
    followed = hookshot.post(receiver.url, body, headers, timeout=5, safe_only=True, home_url=home,
                             redirects=hookshot.PING_REDIRECTS)
    assert (followed.status, [r.path for r in receiver.requests]) == (200, ["/hooks/woo", "/moved"])

    receiver.location = f"http://127.0.0.2:{receiver.port}/elsewhere"  # loopback, not the store: unsafe
    receiver.statuses.extend([302])
    refused = hookshot.post(receiver.url, body, headers, timeout=5, safe_only=True, home_url=home,
                            redirects=hookshot.PING_REDIRECTS)
    assert refused.status is None and "valid URL" in refused.error
    assert [r.path for r in receiver.requests] == ["/hooks/woo", "/moved", "/hooks/woo"]  # the hop never went out


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
