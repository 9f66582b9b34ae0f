"""The store mapper: WooCommerce order, product and webhook JSON → our types, money to the cent from strings.

The order below is the store's answer for 3 × MUG (19.90), 1 × TEE-S (a variation, 12.50, reduced rate), the
SAVE10 coupon, flat-rate shipping 4.90 and a 2.00 gift-wrap fee, worked out by hand:
  MUG   59.70 − 5.97 = 53.73, tax 19 % 10.2087 → 10.21
  TEE-S 12.50 − 1.25 = 11.25, tax 7 % 0.7875 → 0.79
  shipping 4.90, tax 0.931 → 0.93; fee 2.00, tax 0.38
  total tax 10.21 + 0.79 + 0.93 + 0.38 = 12.31; total 53.73 + 11.25 + 4.90 + 2.00 + 12.31 = 84.19
"""
from __future__ import annotations

import copy
from datetime import datetime, timezone
from decimal import Decimal

import pytest

from retail_sync.domain.skus import normalise_sku
from retail_sync.connectors.woocommerce.mapper import (
    order_from_store,
    product_from_store,
    webhook_from_store,
    write_from_store,
)
from retail_sync.domain.orders import Address

BILLING = {"first_name": "Ada", "last_name": "Lovelace", "company": "", "address_1": "Unter den Linden 1",
           "address_2": "", "city": "Berlin", "state": "", "postcode": "10117", "country": "DE",
           "email": " ada@example.com ", "phone": "+49 30 1234"}
EMPTY_SHIPPING = {"first_name": "", "last_name": "", "company": "", "address_1": "", "address_2": "", "city": "",
                  "state": "", "postcode": "", "country": "", "phone": ""}

STORE_ORDER = {
    "id": 42, "parent_id": 0, "number": "1042", "status": "processing", "currency": "EUR",
    "created_via": "checkout", "payment_method": "bacs", "customer_note": "Leave it at the door",
    "date_created": "2026-11-27T12:00:00", "date_created_gmt": "2026-11-27T11:00:00",
    "date_modified": "2026-11-27T12:00:05", "date_modified_gmt": "2026-11-27T11:00:05",
    "date_paid": "2026-11-27T12:00:01", "date_paid_gmt": "2026-11-27T11:00:01",
    "discount_total": "7.22", "discount_tax": "1.22", "shipping_total": "4.90", "shipping_tax": "0.93",
    "cart_tax": "11.38", "total_tax": "12.31", "total": "84.19",
    "billing": BILLING, "shipping": EMPTY_SHIPPING,
    "line_items": [
        {"id": 7, "name": "Mug", "product_id": 1, "variation_id": 0, "quantity": 3, "tax_class": "",
         "subtotal": "59.70", "subtotal_tax": "11.34", "total": "53.73", "total_tax": "10.21",
         "taxes": [{"id": 1, "total": "10.21", "subtotal": "11.34"}], "sku": "MUG", "price": 17.909999999999997},
        {"id": 8, "name": "Tee - S", "product_id": 6, "variation_id": 7, "quantity": 1, "tax_class": "reduced-rate",
         "subtotal": "12.50", "subtotal_tax": "0.88", "total": "11.25", "total_tax": "0.79",
         "taxes": [{"id": 2, "total": "0.79", "subtotal": "0.88"}], "sku": " Tee-S ", "price": 11.25},
    ],
    "tax_lines": [{"id": 11, "rate_code": "STANDARD-1", "rate_id": 1, "rate_percent": 19.0},
                  {"id": 12, "rate_code": "REDUCED RATE-1", "rate_id": 2, "rate_percent": 7.0}],
    "shipping_lines": [{"id": 9, "method_id": "flat_rate", "total": "4.90", "total_tax": "0.93"}],
    "fee_lines": [{"id": 10, "name": "Gift wrap", "total": "2.00", "total_tax": "0.38"}],
    "coupon_lines": [{"id": 13, "code": "save10", "discount": "7.22", "discount_tax": "1.22"}],
}


def store_order(**changes) -> dict:
    raw = copy.deepcopy(STORE_ORDER)
    raw.update(changes)
    return raw


def test_identity_status_customer_and_extras():
    order = order_from_store(store_order())
    assert (order.ref, order.channel, order.number, order.store_id) == ("WC-1042", "WC", "1042", 42)
    assert (order.status, order.currency, order.paid) == ("processing", "EUR", True)
    assert (order.customer.email, order.customer.name, order.customer.phone) == (
        "ada@example.com", "Ada Lovelace", "+49 30 1234")
    assert order.customer_note == "Leave it at the door"
    assert order.extra == {"payment_method": "bacs", "created_via": "checkout"}


def test_money_is_decimal_from_the_strings_to_the_cent_and_reconciles():
    order = order_from_store(store_order())
    mug, tee = order.lines
    assert (mug.quantity, mug.unit_price, mug.subtotal, mug.total, mug.tax, mug.tax_rate) == (
        3, Decimal("19.90"), Decimal("59.70"), Decimal("53.73"), Decimal("10.21"), Decimal("19"))
    assert (tee.unit_price, tee.subtotal, tee.total, tee.tax, tee.tax_rate, tee.discount) == (
        Decimal("12.50"), Decimal("12.50"), Decimal("11.25"), Decimal("0.79"), Decimal("7"), Decimal("1.25"))
    assert (order.shipping_total, order.shipping_tax, order.fee_total, order.fee_tax) == (
        Decimal("4.90"), Decimal("0.93"), Decimal("2.00"), Decimal("0.38"))
    assert (order.discount_total, order.total_tax, order.total) == (Decimal("7.22"), Decimal("12.31"),
                                                                     Decimal("84.19"))
    lines_total = sum(line.total for line in order.lines)
    assert lines_total + order.shipping_total + order.fee_total + order.total_tax == order.total
    assert sum(line.subtotal for line in order.lines) - order.discount_total == lines_total
    assert sum(line.tax for line in order.lines) + order.shipping_tax + order.fee_tax == order.total_tax
    for amount in (order.total, order.total_tax, mug.unit_price, mug.total):
        assert isinstance(amount, Decimal)


def test_a_fixed_cart_coupon_and_several_fees_sum_exactly():
    # FIVEOFF over three 10.00 cards: 8.33 + 8.33 + 8.34; a negative fee (a discount the shop keys in) counts too
    cards = [{"id": n, "name": "Card", "product_id": 3, "variation_id": 0, "quantity": 1, "subtotal": "10.00",
              "total": total, "total_tax": "1.58", "taxes": [{"id": 1, "total": "1.58"}], "sku": "CARD"}
             for n, total in ((1, "8.33"), (2, "8.33"), (3, "8.34"))]
    fees = [{"name": "Gift wrap", "total": "2.00", "total_tax": "0.38"},
            {"name": "Loyalty", "total": "-1.00", "total_tax": "-0.19"}]
    order = order_from_store(store_order(line_items=cards, fee_lines=fees, discount_total="5.00",
                                         shipping_total="0.00", shipping_tax="0.00", total_tax="4.93",
                                         total="30.93"))
    assert [line.total for line in order.lines] == [Decimal("8.33"), Decimal("8.33"), Decimal("8.34")]
    assert (order.fee_total, order.fee_tax) == (Decimal("1.00"), Decimal("0.19"))
    assert sum(line.total for line in order.lines) + order.fee_total + order.total_tax == order.total


def test_unit_price_is_the_exact_share_of_the_subtotal_not_the_float_price():
    item = {**STORE_ORDER["line_items"][0], "quantity": 3, "subtotal": "10.00", "price": 3.3333333333333335}
    (line,) = order_from_store(store_order(line_items=[item])).lines
    assert (line.unit_price * line.quantity).quantize(Decimal("0.01")) == line.subtotal


def test_with_no_shipping_address_of_its_own_the_order_ships_to_billing():
    order = order_from_store(store_order())
    assert order.shipping == order.billing
    assert (order.shipping.address_1, order.shipping.city, order.shipping.postcode) == (
        "Unter den Linden 1", "Berlin", "10117")


def test_a_shipping_address_of_its_own_is_kept_as_given_never_merged_with_billing():
    shipping = {**EMPTY_SHIPPING, "first_name": "Grace", "last_name": "Hopper", "address_1": "1 Navy Way",
                "city": "Arlington"}
    order = order_from_store(store_order(shipping=shipping))
    assert order.shipping == Address(first_name="Grace", last_name="Hopper", address_1="1 Navy Way", city="Arlington")
    assert order.billing.city == "Berlin"


def test_missing_shipping_and_billing_blocks_give_empty_addresses():
    order = order_from_store(store_order(billing=[], shipping=None))
    assert order.billing == order.shipping == Address()
    assert order.customer.email == ""


@pytest.mark.parametrize("sku", [None, "", "   "])
def test_a_line_without_sku_keeps_an_empty_sku(sku):
    item = {**STORE_ORDER["line_items"][0], "sku": sku}
    (line,) = order_from_store(store_order(line_items=[item])).lines
    assert line.sku == ""


def test_skus_are_trimmed_and_nfc_normalised_with_their_case_kept():
    decomposed = "Cafe\u0301-Mug"
    item = {**STORE_ORDER["line_items"][0], "sku": f"  {decomposed}\t"}
    (line,) = order_from_store(store_order(line_items=[item])).lines
    assert line.sku == "Caf\u00e9-Mug"
    assert order_from_store(store_order()).lines[1].sku == "Tee-S"
    assert normalise_sku("abc") != normalise_sku("ABC")


def test_line_store_ids_and_names():
    mug, tee = order_from_store(store_order()).lines
    assert (mug.store_line_id, mug.store_product_id, mug.store_variation_id, mug.name) == (7, 1, None, "Mug")
    assert (tee.store_line_id, tee.store_product_id, tee.store_variation_id, tee.name) == (8, 6, 7, "Tee - S")


def test_a_line_taxed_by_two_rates_or_none_names_no_single_rate():
    item = {**STORE_ORDER["line_items"][0], "taxes": [{"id": 1, "total": "5.00"}, {"id": 2, "total": "1.00"}]}
    untaxed = {**STORE_ORDER["line_items"][0], "taxes": [], "total_tax": "0.00"}
    lines = order_from_store(store_order(line_items=[item, untaxed])).lines
    assert [line.tax_rate for line in lines] == [None, None]


def test_dates_are_aware_utc_from_the_gmt_fields():
    order = order_from_store(store_order())
    assert order.modified_at == datetime(2026, 11, 27, 11, 0, 5, tzinfo=timezone.utc)
    unpaid = order_from_store(store_order(status="pending", date_paid=None, date_paid_gmt=None))
    assert unpaid.paid is False


def test_the_canonical_order_survives_its_json_round_trip():
    order = order_from_store(store_order())
    assert type(order).from_json(order.to_json()) == order


def test_a_write_answer_carries_the_new_modification_stamp():
    write = write_from_store(store_order(status="on-hold", date_modified_gmt="2026-11-27T11:07:00"))
    assert (write.store_id, write.status, write.modified_at) == (
        42, "on-hold", datetime(2026, 11, 27, 11, 7, tzinfo=timezone.utc))


# ---- products and webhooks ----------------------------------------------------------------------------------------
def test_a_simple_product():
    product = product_from_store({"id": 1, "type": "simple", "sku": " MUG ", "status": "publish",
                                  "manage_stock": True, "stock_quantity": 8, "parent_id": 0})
    assert (product.sku, product.product_id, product.variation_id, product.stock_quantity, product.manage_stock,
            product.status) == ("MUG", 1, None, 8, True, "publish")


def test_a_variation_listed_under_its_parent():
    product = product_from_store({"id": 7, "sku": "TEE-S", "status": "publish", "manage_stock": True,
                                  "stock_quantity": 3}, parent_id=6)
    assert (product.product_id, product.variation_id) == (6, 7)


def test_a_variation_found_by_sku_search_names_its_parent():
    product = product_from_store({"id": 8, "type": "variation", "parent_id": 6, "sku": "TEE-M",
                                  "manage_stock": True, "stock_quantity": 2, "status": "publish"})
    assert (product.product_id, product.variation_id) == (6, 8)


def test_a_variation_whose_stock_the_parent_holds_does_not_manage_its_own():
    product = product_from_store({"id": 9, "sku": "TEE-L", "manage_stock": "parent", "stock_quantity": 5,
                                  "status": "publish"}, parent_id=6)
    assert product.manage_stock is False


def test_a_webhook():
    hook = webhook_from_store({"id": 3, "name": "x", "status": "disabled", "topic": "order.updated",
                               "delivery_url": "https://engine.example/webhooks/woocommerce"})
    assert (hook.id, hook.topic, hook.status, hook.delivery_url) == (
        3, "order.updated", "disabled", "https://engine.example/webhooks/woocommerce")
