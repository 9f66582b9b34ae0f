"""Webhooks of the WooCommerce sandbox, the REST resource: create (and its ping), list, get, update, delete,
batch and the list filters, driven with the real `woocommerce` client and checked by the capture receiver of
tests/contract/woo_hooks_support.py."""
from __future__ import annotations

import base64
import re
import time
from typing import Any

import pytest
import requests

from retail_sync.sandbox.woocommerce import hookshot
from tests.contract.woo_hooks_support import (  # noqa: F401 - fixtures
    SECRET,
    USER_AGENT,
    create_webhook,
    product_id,
    receiver,
    report,
    signature,
    touch,
    wcapi,
    webhook_state,
    woo,
)


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
