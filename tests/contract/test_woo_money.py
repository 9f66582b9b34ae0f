"""Contract tests for the store's money (the rule shared with the ERP sandbox): prices without tax, the standard
19 % and reduced 7 % rates, ROUND_HALF_UP per line, coupons spread over lines, shipping taxed at the standard
rate — every amount checked to the cent. The expected figures are worked out by hand in the comments."""
from __future__ import annotations

from typing import Any, Iterator

import pytest

from tests.contract.woo_shop import Shop, open_shop


@pytest.fixture
def shop(sandbox_options) -> Iterator[Shop]:
    with open_shop(sandbox_options) as opened:
        yield opened


def amounts(order: dict[str, Any]) -> dict[str, str]:
    keys = ("discount_total", "discount_tax", "shipping_total", "shipping_tax", "cart_tax", "total_tax", "total")
    return {key: order[key] for key in keys}


def lines(order: dict[str, Any]) -> list[tuple[str, str, str, str, str]]:
    return [(item["sku"], item["subtotal"], item["total"], item["subtotal_tax"], item["total_tax"])
            for item in order["line_items"]]


def test_two_tax_classes_and_shipping_tax(shop):
    order = shop.create(line_items=[{"sku": "MUG", "quantity": 2}, {"sku": "BOOK", "quantity": 3}],
                        shipping_lines=[{"method_id": "flat_rate", "method_title": "Flat rate", "total": "4.90"}])
    # MUG 2 × 19.90 = 39.80, 19 % = 7.562 → 7.56; BOOK 3 × 12.50 = 37.50, 7 % = 2.625 → 2.63 (half up)
    assert lines(order) == [("MUG", "39.80", "39.80", "7.56", "7.56"), ("BOOK", "37.50", "37.50", "2.63", "2.63")]
    assert [item["taxes"] for item in order["line_items"]] == [[{"id": 1, "total": "7.56", "subtotal": "7.56"}],
                                                               [{"id": 2, "total": "2.63", "subtotal": "2.63"}]]
    # shipping 4.90 × 19 % = 0.931 → 0.93
    (shipping,) = order["shipping_lines"]
    assert (shipping["total"], shipping["total_tax"], shipping["taxes"]) == (
        "4.90", "0.93", [{"id": 1, "total": "0.93", "subtotal": ""}])
    assert amounts(order) == {"discount_total": "0.00", "discount_tax": "0.00", "shipping_total": "4.90",
                              "shipping_tax": "0.93", "cart_tax": "10.19", "total_tax": "11.12", "total": "93.32"}
    assert [(t["rate_code"], t["rate_id"], t["label"], t["tax_total"], t["shipping_tax_total"], t["rate_percent"])
            for t in order["tax_lines"]] == [("STANDARD-1", 1, "Standard", "7.56", "0.93", 19.0),
                                             ("REDUCED RATE-1", 2, "Reduced rate", "2.63", "0.00", 7.0)]


def test_a_percent_coupon_takes_a_rounded_share_of_each_line(shop):
    order = shop.create(line_items=[{"sku": "MUG", "quantity": 3}, {"sku": "BOOK"}, {"sku": "PIN"}],
                        coupon_lines=[{"code": "SAVE10"}])
    # MUG 59.70 − 5.97 = 53.73, tax 10.2087 → 10.21; BOOK 12.50 − 1.25 = 11.25, tax 0.7875 → 0.79;
    # PIN 0.99 − 0.099 → 0.10 = 0.89, tax 0.1691 → 0.17
    assert lines(order) == [("MUG", "59.70", "53.73", "11.34", "10.21"), ("BOOK", "12.50", "11.25", "0.88", "0.79"),
                            ("PIN", "0.99", "0.89", "0.19", "0.17")]
    # discount tax per line: 1.1343 → 1.13, 0.0875 → 0.09, 0.019 → 0.02
    assert amounts(order) == {"discount_total": "7.32", "discount_tax": "1.24", "shipping_total": "0.00",
                              "shipping_tax": "0.00", "cart_tax": "11.17", "total_tax": "11.17", "total": "77.04"}
    (coupon,) = order["coupon_lines"]
    assert (coupon["code"], coupon["discount"], coupon["discount_tax"]) == ("save10", "7.32", "1.24")
    assert (coupon["discount_type"], coupon["nominal_amount"]) == ("percent", 10.0)


def test_a_fixed_cart_coupon_puts_the_remainder_cent_on_the_last_line(shop):
    order = shop.create(line_items=[{"sku": "CARD"}, {"sku": "CARD"}, {"sku": "CARD"}],
                        coupon_lines=[{"code": "fiveoff"}])
    # 5.00 over three 10.00 lines: 1.67 + 1.67 + 1.67 = 5.01, so the last line gives back a cent: 1.66
    assert [item["total"] for item in order["line_items"]] == ["8.33", "8.33", "8.34"]
    # 8.33 × 19 % = 1.5827 → 1.58; 8.34 × 19 % = 1.5846 → 1.58; discount tax 0.32 + 0.32 + 0.32 (0.3154)
    assert [item["total_tax"] for item in order["line_items"]] == ["1.58", "1.58", "1.58"]
    assert amounts(order) == {"discount_total": "5.00", "discount_tax": "0.96", "shipping_total": "0.00",
                              "shipping_tax": "0.00", "cart_tax": "4.74", "total_tax": "4.74", "total": "29.74"}
    assert (order["coupon_lines"][0]["discount"], order["coupon_lines"][0]["discount_tax"]) == ("5", "0.96")


def test_a_fixed_cart_coupon_never_takes_more_than_the_subtotal(shop):
    order = shop.create(line_items=[{"sku": "PIN"}], coupon_lines=[{"code": "FIVEOFF"}])
    assert lines(order) == [("PIN", "0.99", "0.00", "0.19", "0.00")]
    assert (order["discount_total"], order["total"]) == ("0.99", "0.00")


def test_shipping_is_taxed_per_line_at_the_standard_rate_rounding_half_up(shop):
    order = shop.create(line_items=[{"sku": "PIN"}], shipping_lines=[
        {"method_id": "flat_rate", "total": "4.90"}, {"method_id": "local_pickup", "total": "2.50"}])
    # 4.90 → 0.931 → 0.93; 2.50 → 0.475 → 0.48 (half up, not half even); PIN 0.1881 → 0.19
    assert [line["total_tax"] for line in order["shipping_lines"]] == ["0.93", "0.48"]
    assert amounts(order) == {"discount_total": "0.00", "discount_tax": "0.00", "shipping_total": "7.40",
                              "shipping_tax": "1.41", "cart_tax": "0.19", "total_tax": "1.60", "total": "9.99"}


def test_fee_lines_are_taxed_by_their_class_into_the_cart_tax(shop):
    order = shop.create(line_items=[{"sku": "CARD"}], fee_lines=[{"name": "Gift wrap", "total": "2.00"}])
    (fee,) = order["fee_lines"]
    assert (fee["name"], fee["total"], fee["total_tax"]) == ("Gift wrap", "2.00", "0.38")
    assert (order["cart_tax"], order["total"]) == ("2.28", "14.28")  # 10.00 + 2.00 + 1.90 + 0.38
    missing_name = shop.api.post("orders", {"fee_lines": [{"total": "1.00"}]})
    assert missing_name.json()["code"] == "woocommerce_rest_invalid_fee_item"


def test_coupon_lines_replace_the_coupons_of_an_order(shop):
    order = shop.create(line_items=[{"sku": "CARD", "quantity": 2}], coupon_lines=[{"code": "save10"}])
    assert order["total"] == "21.42"  # 20.00 − 2.00 = 18.00 + 3.42
    removed = shop.update(order["id"], coupon_lines=[])
    assert (removed["coupon_lines"], removed["discount_total"], removed["total"]) == ([], "0.00", "23.80")
    replaced = shop.update(order["id"], coupon_lines=[{"code": "fiveoff"}])
    assert (replaced["discount_total"], replaced["total"]) == ("5.00", "17.85")  # 15.00 + 2.85
    readonly = shop.api.put(f"orders/{order['id']}",
                            {"coupon_lines": [{"id": replaced["coupon_lines"][0]["id"], "code": "save10"}]})
    assert (readonly.status_code, readonly.json()["code"]) == (400, "woocommerce_rest_coupon_item_id_readonly")
    unknown = shop.api.put(f"orders/{order['id']}", {"coupon_lines": [{"code": "bogus"}]})
    assert unknown.json() == {"code": "woocommerce_rest_invalid_coupon", "message": 'Coupon "bogus" does not exist!',
                              "data": {"status": 400}}
    assert shop.get(order["id"])["total"] == "17.85"


def test_the_seeded_tax_rates_and_coupons_are_listed(shop):
    taxes = shop.api.get("taxes")
    assert taxes.headers["X-WP-Total"] == "2"
    assert [(t["id"], t["name"], t["rate"], t["class"], t["shipping"]) for t in taxes.json()] == [
        (1, "Standard", "19.0000", "standard", True), (2, "Reduced rate", "7.0000", "reduced-rate", True)]
    assert [t["id"] for t in shop.api.get("taxes", params={"class": "reduced-rate"}).json()] == [2]
    coupons = {c["code"]: (c["discount_type"], c["amount"]) for c in shop.api.get("coupons").json()}
    assert coupons == {"save10": ("percent", "10.00"), "fiveoff": ("fixed_cart", "5.00")}
    assert shop.api.get("coupons/1").json()["code"] == "save10"
