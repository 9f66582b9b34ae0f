"""Contract tests for refunds (reference/woocommerce.md §2.10, §6.8–§6.10): `api_refund` defaulting to true and
failing without a refund-capable gateway, the 500s with an integer `data`, restock only for lines sent with a
quantity (and `api_restock`), full refunds, refunds by status, the refund object and its negative amounts."""
from __future__ import annotations

from typing import Any, Iterator

import pytest

from tests.contract.woo_shop import Shop, open_shop

REFUND_KEYS = ["id", "date_created", "date_created_gmt", "amount", "reason", "refunded_by", "refunded_payment",
               "meta_data", "line_items", "shipping_lines", "tax_lines", "fee_lines", "_links"]
NO_GATEWAY_REFUND = "The payment gateway for this order does not support automatic refunds."


@pytest.fixture
def shop(sandbox_options) -> Iterator[Shop]:
    with open_shop(sandbox_options) as opened:
        yield opened


@pytest.fixture
def paid(shop) -> dict[str, Any]:
    """MUG 2 × 19.90 (tax 7.56) + BOOK 12.50 (tax 0.88) = 60.74, paid by bank transfer: stock MUG 8, BOOK 4."""
    order = shop.create(line_items=[{"sku": "MUG", "quantity": 2}, {"sku": "BOOK"}], payment_method="bacs",
                        payment_method_title="Direct bank transfer", set_paid=True)
    assert (order["status"], order["total"], shop.stock("MUG"), shop.stock("BOOK")) == ("processing", "60.74", 8, 4)
    return order


def refund(shop: Shop, order_id: int, **body: Any) -> Any:
    return shop.api.post(f"orders/{order_id}/refunds", body)


def test_api_refund_defaults_to_true_and_fails_without_a_refund_capable_gateway(shop, paid):
    for body in ({"amount": "10.00"}, {"amount": "10.00", "api_refund": "false"}):  # not a boolean: still true
        response = refund(shop, paid["id"], **body)
        assert response.status_code == 500
        assert response.json() == {"code": "woocommerce_rest_cannot_create_order_refund",
                                   "message": NO_GATEWAY_REFUND, "data": 500}
    assert shop.api.get(f"orders/{paid['id']}/refunds").json() == []
    assert shop.get(paid["id"])["refunds"] == []
    assert shop.ledger_creates("order_refund", str(paid["id"])) == ["rejected", "rejected"]
    no_gateway = shop.create(line_items=[{"sku": "PIN"}], set_paid=True)
    assert refund(shop, no_gateway["id"], amount="1.00").json()["message"] == (
        "The payment gateway for this order does not exist.")


def test_refund_errors_are_500_with_an_integer_data(shop, paid):
    missing = refund(shop, 999, amount="1.00", api_refund=False)
    assert (missing.status_code, missing.json()) == (
        500, {"code": "woocommerce_rest_invalid_order_id", "message": "Invalid order ID.", "data": 404})
    negative = refund(shop, paid["id"], amount="-1.00", api_refund=False)
    assert (negative.status_code, negative.json()) == (
        500, {"code": "woocommerce_rest_invalid_order_refund", "message": "Refund amount must be greater than zero.",
              "data": 400})
    assert refund(shop, paid["id"], amount="50.00", api_refund=False).status_code == 201
    too_much = refund(shop, paid["id"], amount="10.75", api_refund=False)  # 10.74 is left
    assert (too_much.status_code, too_much.json()) == (
        500, {"code": "woocommerce_rest_cannot_create_order_refund", "message": "Invalid refund amount.",
              "data": 500})


def test_an_amount_only_refund_restocks_nothing_and_keeps_the_status(shop, paid):
    response = refund(shop, paid["id"], amount="10.00", reason="Damaged box", api_refund=False)
    assert response.status_code == 201
    body = response.json()
    assert list(body) == REFUND_KEYS
    assert response.headers["Location"] == f"{shop.url}/wp-json/wc/v3/orders/{paid['id']}/refunds/{body['id']}"
    assert (body["amount"], body["reason"], body["refunded_by"], body["refunded_payment"]) == (
        "10.00", "Damaged box", 1, False)
    assert body["line_items"] == [] and body["_links"]["up"] == [
        {"href": f"{shop.url}/wp-json/wc/v3/orders/{paid['id']}"}]
    order = shop.get(paid["id"])
    assert order["refunds"] == [{"id": body["id"], "reason": "Damaged box", "total": "-10.00"}]
    assert (order["status"], order["total"], shop.stock("MUG"), shop.stock("BOOK")) == ("processing", "60.74", 8, 4)
    assert shop.topics(paid["id"])[-1] == "order.updated"
    assert shop.ledger_creates("order_refund", str(paid["id"])) == ["created"]


def test_lines_sent_with_a_quantity_are_restocked_and_the_amount_follows_the_lines(shop, paid):
    mug_item = paid["line_items"][0]
    response = refund(shop, paid["id"], api_refund=False, line_items=[
        {"id": mug_item["id"], "quantity": 1, "refund_total": "19.90",
         "refund_tax": [{"id": 1, "refund_total": "3.78"}]}])
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["amount"] == "23.68"  # 19.90 + 3.78, computed from the line
    (item,) = body["line_items"]
    assert (item["quantity"], item["subtotal"], item["total"], item["total_tax"]) == (-1, "-19.90", "-19.90", "-3.78")
    assert item["taxes"] == [{"id": 1, "total": "-3.78", "subtotal": "-3.78"}]
    assert {"key": "_refunded_item_id", "value": str(mug_item["id"])}.items() <= item["meta_data"][-1].items()
    assert [(t["rate_id"], t["tax_total"]) for t in body["tax_lines"]] == [(1, "-3.78")]
    mug = shop.product("MUG")
    assert mug["stock_quantity"] == 9
    assert shop.notes(paid["id"])[-1] == f"Item #{mug['id']} stock increased from 8 to 9."
    meta = {m["key"]: m["value"] for m in shop.get(paid["id"])["line_items"][0]["meta_data"]}
    assert (meta["_reduced_stock"], meta["_restock_refunded_items"]) == ("1", "1")
    shop.update(paid["id"], status="cancelled")  # gives back only what is still reduced
    assert (shop.stock("MUG"), shop.stock("BOOK")) == (10, 5)


def test_no_restock_without_a_quantity_or_with_api_restock_false(shop, paid):
    mug_item, book_item = paid["line_items"]
    assert refund(shop, paid["id"], api_refund=False,
                  line_items=[{"id": mug_item["id"], "refund_total": "19.90"}]).status_code == 201
    assert refund(shop, paid["id"], api_refund=False, api_restock=False,
                  line_items=[{"id": book_item["id"], "quantity": 1, "refund_total": "12.50"}]).status_code == 201
    assert (shop.stock("MUG"), shop.stock("BOOK")) == (8, 4)


def test_a_full_refund_sets_the_order_refunded(shop, paid):
    response = refund(shop, paid["id"], amount="60.74", api_refund=False)
    assert response.status_code == 201
    order = shop.get(paid["id"])
    assert order["status"] == "refunded" and len(order["refunds"]) == 1
    assert shop.notes(paid["id"])[-1] == "Order status changed from Processing to Refunded."
    assert (shop.stock("MUG"), shop.stock("BOOK")) == (8, 4)


def test_setting_status_refunded_refunds_the_remainder_without_restock(shop, paid):
    refund(shop, paid["id"], amount="0.74", api_refund=False)
    order = shop.update(paid["id"], status="refunded")
    assert [(r["reason"], r["total"]) for r in order["refunds"]] == [("Order fully refunded.", "-60.00"),
                                                                     ("", "-0.74")]
    assert shop.notes(paid["id"])[-2:] == [
        "Order status set to refunded. To return funds to the customer you will need to issue a refund through "
        "your payment gateway.", "Order status changed from Processing to Refunded."]
    assert (shop.stock("MUG"), shop.stock("BOOK")) == (8, 4)


def test_refunds_can_be_listed_read_and_deleted(shop, paid):
    first = refund(shop, paid["id"], amount="1.00", api_refund=False).json()
    second = refund(shop, paid["id"], amount="2.00", api_refund=False).json()
    listed = shop.api.get(f"orders/{paid['id']}/refunds")
    assert [r["id"] for r in listed.json()] == [second["id"], first["id"]] and listed.headers["X-WP-Total"] == "2"
    assert shop.api.get(f"orders/{paid['id']}/refunds/{first['id']}").json()["amount"] == "1.00"
    assert shop.api.get(f"orders/{first['id']}").status_code == 404  # a refund is not an order
    other = shop.create(line_items=[{"sku": "PIN"}])
    wrong_order = shop.api.get(f"orders/{other['id']}/refunds/{first['id']}")
    assert (wrong_order.status_code, wrong_order.json()["code"], wrong_order.json()["data"]) == (
        500, "woocommerce_rest_invalid_order_refund_id", 404)
    unknown = shop.api.get(f"orders/{paid['id']}/refunds/999")
    assert (unknown.status_code, unknown.json()["code"]) == (404, "woocommerce_rest_shop_order_refund_invalid_id")
    not_forced = shop.api.delete(f"orders/{paid['id']}/refunds/{first['id']}", params={"force": "false"})
    assert not_forced.status_code == 501
    fired_before = len(shop.topics(paid["id"]))
    deleted = shop.api.delete(f"orders/{paid['id']}/refunds/{first['id']}")
    assert deleted.status_code == 200 and deleted.json()["id"] == first["id"]
    assert [r["id"] for r in shop.get(paid["id"])["refunds"]] == [second["id"]]
    assert shop.topics(paid["id"])[fired_before:] == ["order.updated"]
    assert shop.state()["refunds"] == 1
