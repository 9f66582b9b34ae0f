"""Contract tests for the shopper checkout `POST /_sandbox/checkout`: a paid order as a real checkout leaves it
(processing, stock reduced, `order.created` + `order.updated`), or 409 `out_of_stock` naming the SKU when
managed stock is short and backorders are off; nothing half-done either way."""
from __future__ import annotations

import re
from typing import Iterator

import pytest

from tests.contract.woo_shop import Shop, open_shop

BILLING = {"first_name": "Ada", "last_name": "Lovelace", "address_1": "1 Analytical Way", "city": "Berlin",
           "postcode": "10115", "country": "DE", "email": "ada@example.com", "phone": "+49 30 1234"}


@pytest.fixture
def shop(sandbox_options) -> Iterator[Shop]:
    with open_shop(sandbox_options) as opened:
        yield opened


def test_checkout_places_a_paid_order_like_a_shopper(shop):
    customer = shop.api.post("customers", {"email": "ADA@example.com", "first_name": "Ada"}).json()
    response = shop.checkout(lines=[{"sku": "MUG", "quantity": 2}, {"sku": "TEE-S", "quantity": 1}], billing=BILLING,
                             payment_method="bacs", coupon_lines=[{"code": "SAVE10"}],
                             shipping_lines=[{"method_id": "flat_rate", "method_title": "Flat rate", "total": "4.90"}])
    assert response.status_code == 201, response.text
    order = response.json()
    assert (order["created_via"], order["status"], order["customer_id"]) == ("checkout", "processing", customer["id"])
    assert (order["payment_method"], order["payment_method_title"]) == ("bacs", "Direct bank transfer")
    assert order["date_paid"] is not None and order["needs_payment"] is False
    assert order["shipping"]["address_1"] == BILLING["address_1"]  # ships to the billing address by default
    assert order["customer_ip_address"] == "127.0.0.1" and re.fullmatch(r"[0-9a-f]{32}", order["cart_hash"])
    # MUG 39.80 − 3.98 = 35.82 (tax 6.81), TEE-S 15.00 − 1.50 = 13.50 (tax 2.565 → 2.57), shipping 4.90 (0.93)
    assert (order["discount_total"], order["cart_tax"], order["shipping_tax"], order["total"]) == (
        "5.48", "9.38", "0.93", "64.53")
    assert shop.get(order["id"])["total"] == "64.53"
    assert (shop.stock("MUG"), shop.stock("TEE-S")) == (8, 2)
    assert shop.notes(order["id"]) == [
        "Stock levels reduced: Mug (MUG) 10&rarr;8, Tee - S (TEE-S) 3&rarr;2",
        "Order status changed from Pending payment to Processing."]
    assert shop.topics(order["id"]) == ["order.created", "order.updated"]
    assert shop.ledger_creates("order", "checkout") == ["created"]


def test_a_guest_checkout_keeps_its_own_shipping_address(shop):
    shipping = {"first_name": "Charles", "last_name": "Babbage", "address_1": "2 Difference St", "city": "London",
                "country": "GB"}
    response = shop.checkout(lines=[{"sku": "POSTER", "quantity": 1000}], billing=BILLING, shipping=shipping,
                             payment_method="cod")
    assert response.status_code == 201, response.text  # unmanaged stock is never short
    order = response.json()
    assert (order["customer_id"], order["shipping"]["city"], order["payment_method_title"]) == (
        0, "London", "Cash on delivery")


def test_short_managed_stock_is_409_naming_the_sku_and_changes_nothing(shop):
    carts = [
        ([{"sku": "PIN", "quantity": 1}, {"sku": "MUG", "quantity": 11}], "MUG", 11, 10),
        ([{"sku": "BOOK", "quantity": 3}, {"sku": "BOOK", "quantity": 3}], "BOOK", 6, 5),  # lines add up
        ([{"sku": "TEE-M", "quantity": 3}], "TEE-M", 3, 2),
    ]
    for lines, sku, requested, available in carts:
        response = shop.checkout(lines=lines, billing=BILLING, payment_method="bacs")
        assert response.status_code == 409, response.text
        body = response.json()
        assert (body["code"], body["sku"], body["requested"], body["available"]) == (
            "out_of_stock", sku, requested, available)
        assert sku in body["message"]
    assert shop.state()["orders"] == 0
    assert (shop.stock("PIN"), shop.stock("MUG"), shop.stock("BOOK")) == (100, 10, 5)
    assert shop.ledger_creates("order", "checkout") == ["rejected"] * 3


def test_the_last_units_go_to_the_first_shopper(shop):
    first = shop.checkout(lines=[{"sku": "BOOK", "quantity": 3}], billing=BILLING, payment_method="bacs")
    second = shop.checkout(lines=[{"sku": "BOOK", "quantity": 3}], billing=BILLING, payment_method="bacs")
    assert (first.status_code, second.status_code) == (201, 409)
    assert second.json()["available"] == 2 and shop.stock("BOOK") == 2


def test_backorders_allow_selling_beyond_stock(shop):
    mug = shop.product("MUG")
    assert shop.api.put(f"products/{mug['id']}", {"backorders": "notify"}).status_code == 200
    response = shop.checkout(lines=[{"sku": "MUG", "quantity": 12}], billing=BILLING, payment_method="bacs")
    assert response.status_code == 201, response.text
    assert shop.stock("MUG") == -2


def test_bad_carts_are_400(shop):
    cases = [
        ({"lines": [{"sku": "NOPE", "quantity": 1}]}, "unknown_sku"),
        ({"lines": [{"sku": "TEE", "quantity": 1}]}, "not_purchasable"),  # the variable parent itself
        ({"lines": [{"sku": "MUG", "quantity": 0}]}, "invalid_request"),
        ({"lines": []}, "invalid_request"),
        ({"lines": [{"sku": "MUG", "quantity": 1}], "payment_method": "paypal"}, "invalid_payment_method"),
        ({"lines": [{"sku": "MUG", "quantity": 1}], "coupon_lines": [{"code": "bogus"}]}, "invalid_coupon"),
    ]
    for body, code in cases:
        response = shop.checkout(billing=BILLING, **body)
        assert (response.status_code, response.json()["code"]) == (400, code), body
    assert shop.state()["orders"] == 0 and shop.stock("MUG") == 10
