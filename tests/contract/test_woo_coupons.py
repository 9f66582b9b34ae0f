"""Coupons of the WooCommerce sandbox: the v3 REST resource (shape, writes, trash semantics, the odd errors) and
`coupon.*` webhooks, driven with the real `woocommerce` client; deliveries are checked by the capture receiver of
tests/contract/woo_hooks_support.py, signatures recomputed here."""
from __future__ import annotations

import json
import time

import requests

from tests.contract.woo_hooks_support import (  # noqa: F401 - fixtures
    create_webhook,
    product_id,
    receiver,
    signature,
    wcapi,
    woo,
)

COUPON_KEYS = {
    "id", "code", "amount", "status", "date_created", "date_created_gmt", "date_modified", "date_modified_gmt",
    "discount_type", "description", "date_expires", "date_expires_gmt", "usage_count", "individual_use",
    "product_ids", "excluded_product_ids", "usage_limit", "usage_limit_per_user", "limit_usage_to_x_items",
    "free_shipping", "product_categories", "excluded_product_categories", "exclude_sale_items", "minimum_amount",
    "maximum_amount", "email_restrictions", "used_by", "meta_data", "_links",
}


def create_coupon(wcapi, **body):
    response = wcapi.post("coupons", body)
    assert response.status_code == 201, response.text
    return response


def test_the_seeded_coupons_have_the_full_v3_shape(woo, wcapi):
    coupon = wcapi.get("coupons/1").json()
    assert set(coupon) == COUPON_KEYS
    assert (coupon["code"], coupon["amount"], coupon["discount_type"], coupon["status"]) == \
        ("save10", "10.00", "percent", "publish")
    assert (coupon["usage_limit"], coupon["limit_usage_to_x_items"], coupon["date_expires"]) == (None, None, None)
    assert (coupon["minimum_amount"], coupon["maximum_amount"], coupon["meta_data"]) == ("0.00", "0.00", [])
    assert coupon["date_modified_gmt"] == coupon["date_created_gmt"] == "2026-01-01T00:00:00"
    assert coupon["_links"]["self"] == [{"href": f"{woo}/wp-json/wc/v3/coupons/1"}]
    assert [c["code"] for c in wcapi.get("coupons", params={"code": "FIVEOFF"}).json()] == ["fiveoff"]


def test_create_get_update_and_use_in_an_order(woo, wcapi):
    response = create_coupon(wcapi, code="  Summer Five ", discount_type="percent", amount="5", usage_limit=3,
                             date_expires="2026-12-31T23:59:59", free_shipping=True,
                             product_ids=[product_id(wcapi, "P-1")], meta_data=[{"key": "channel", "value": "erp"}])
    created = response.json()
    assert response.headers["Location"] == f"{woo}/wp-json/wc/v3/coupons/{created['id']}"
    assert set(created) == COUPON_KEYS
    assert (created["code"], created["amount"], created["usage_limit"], created["free_shipping"]) == \
        ("summer five", "5.00", 3, True)
    # a date without an offset is site-local (Europe/Berlin, UTC+1 in winter)
    assert (created["date_expires"], created["date_expires_gmt"]) == ("2026-12-31T23:59:59", "2026-12-31T22:59:59")
    assert [(m["key"], m["value"]) for m in created["meta_data"]] == [("channel", "erp")]
    assert created["date_modified_gmt"] == created["date_created_gmt"]
    assert wcapi.get(f"coupons/{created['id']}").json() == created

    updated = wcapi.put(f"coupons/{created['id']}", {"amount": "7.5", "usage_limit": 0})
    assert updated.status_code == 200
    assert (updated.json()["amount"], updated.json()["usage_limit"]) == ("7.50", None)  # 0 reads back as null

    order = wcapi.post("orders", {"line_items": [{"product_id": product_id(wcapi, "P-2"), "quantity": 2}],
                                  "coupon_lines": [{"code": "SUMMER FIVE"}]}).json()
    assert (order["coupon_lines"][0]["code"], order["discount_total"]) == ("summer five", "0.75")  # 7.5 % of 10


def test_write_errors(wcapi):
    cases = [
        (wcapi.post("coupons", {"amount": "5"}), 400, "rest_missing_callback_param"),
        (wcapi.post("coupons", {"code": ""}), 400, "woocommerce_rest_empty_coupon_code"),
        (wcapi.post("coupons", {"code": "Save10"}), 400, "woocommerce_rest_coupon_code_already_exists"),
        (wcapi.post("coupons", {"code": "x", "discount_type": "bogus"}), 400, "rest_invalid_param"),
        (wcapi.post("coupons", {"code": "x", "id": 5}), 400, "woocommerce_rest_shop_coupon_exists"),
        (wcapi.put("coupons/1", {"amount": "150"}), 400, "coupon_invalid_amount"),  # percent above 100
        (wcapi.put("coupons/2", {"code": "save10"}), 400, "woocommerce_rest_coupon_code_already_exists"),
        (wcapi.get("coupons/999"), 404, "woocommerce_rest_shop_coupon_invalid_id"),
        (wcapi.put("coupons/999", {"amount": "1"}), 400, "woocommerce_rest_shop_coupon_invalid_id"),
        (wcapi.delete("coupons/999"), 404, "woocommerce_rest_shop_coupon_invalid_id"),
    ]
    assert [(r.status_code, r.json()["code"]) for r, *_ in cases] == [(status, code) for _, status, code in cases]
    # the amount is checked against the type the coupon had before the request (schema order: amount first)
    assert wcapi.put("coupons/2", {"amount": "150", "discount_type": "percent"}).status_code == 200
    assert [c["code"] for c in wcapi.get("coupons").json()] == ["fiveoff", "save10"]


def test_trash_then_410_and_force_delete(wcapi):
    trashed = wcapi.delete("coupons/2")
    assert trashed.status_code == 200 and trashed.json()["status"] == "publish"  # as it was before
    assert wcapi.get("coupons/2").json()["status"] == "trash"
    again = wcapi.delete("coupons/2")
    assert (again.status_code, again.json()["message"]) == (410, "The shop_coupon has already been deleted.")
    assert [c["code"] for c in wcapi.get("coupons").json()] == ["save10"]
    order = wcapi.post("orders", {"coupon_lines": [{"code": "fiveoff"}]})  # only published coupons apply
    assert (order.status_code, order.json()["message"]) == (400, 'Coupon "fiveoff" does not exist!')
    reused = create_coupon(wcapi, code="FIVEOFF", amount="2").json()  # a trashed coupon's code is free again
    assert reused["code"] == "fiveoff" and reused["id"] != 2

    assert wcapi.delete(f"coupons/{reused['id']}", params={"force": True}).status_code == 200
    assert wcapi.get(f"coupons/{reused['id']}").status_code == 404


def test_coupon_webhooks_carry_the_rest_representation(woo, wcapi, receiver):
    hooks = {topic: create_webhook(wcapi, receiver.url, f"coupon.{topic}")["id"]
             for topic in ("created", "updated", "deleted")}
    coupon = create_coupon(wcapi, code="hooked", amount="3").json()
    [created] = receiver.wait_deliveries(1)
    assert created.header("X-WC-Webhook-ID") == str(hooks["created"])
    assert (created.header("X-WC-Webhook-Resource"), created.header("X-WC-Webhook-Event")) == ("coupon", "created")
    assert created.header("X-WC-Webhook-Signature") == signature(created.body)
    assert b"\\/wp-json\\/wc\\/v3\\/coupons\\/" in created.body  # _links included, slashes escaped
    assert json.loads(created.body) == wcapi.get(f"coupons/{coupon['id']}").json()

    wcapi.put(f"coupons/{coupon['id']}", {"description": "three off"})
    updated = receiver.wait_deliveries(2)[1]
    assert updated.header("X-WC-Webhook-Topic") == "coupon.updated"
    assert json.loads(updated.body)["description"] == "three off"

    wcapi.delete(f"coupons/{coupon['id']}")
    deleted = receiver.wait_deliveries(3)[2]
    assert (deleted.header("X-WC-Webhook-Topic"), deleted.body) == ("coupon.deleted", b'{"id":%d}' % coupon["id"])
    wcapi.delete(f"coupons/{coupon['id']}", params={"force": True})  # a permanent delete fires nothing
    time.sleep(0.3)
    assert len(receiver.deliveries()) == 3
    fired = [(h["topic"], h["resource_id"]) for h in requests.get(f"{woo}/_sandbox/hooks", timeout=5).json()["hooks"]
             if h["topic"].startswith("coupon.")]
    assert fired == [(f"coupon.{event}", coupon["id"]) for event in ("created", "updated", "deleted")]
