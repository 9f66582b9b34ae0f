"""An order's taxes and totals, recalculated as `WC_Abstract_Order::calculate_totals()` and `apply_coupon()` do,
with the rounding rule of `money`.

Line *totals* are only re-derived from the subtotals when coupons are (re)applied; otherwise a line keeps the
total it was saved with — so changing a line's `quantity` over REST without sending `subtotal`/`total` keeps its
old amounts, as on a real store.
"""
from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING, Any

from retail_sync.sandbox.woocommerce import money, order_store
from retail_sync.sandbox.woocommerce.money import ZERO, Coupon, TaxRate

if TYPE_CHECKING:
    from retail_sync.sandbox.woocommerce.app import WooSandbox
    from retail_sync.sandbox.woocommerce.order_store import Order


def recalculate(store: "WooSandbox", order: "Order", coupons: list[Coupon] | None = None) -> None:
    """Taxes per line, shipping and fee; tax lines; order totals. With `coupons`, they replace the order's
    coupons first (line totals = subtotal − the coupons' shares)."""
    rates = money.rates_by_class(store)
    doc = order.doc
    if coupons is not None:
        _apply_coupons(store, doc, coupons, rates)
    per_rate: dict[int, list[Decimal]] = {}  # rate id -> [cart tax, shipping tax]
    for item in doc["line_items"]:
        rate = rates.get(item["tax_class"])
        subtotal, total = Decimal(item["subtotal"]), Decimal(item["total"])
        _set_taxes(item, rate, total, subtotal)
        if rate is not None:
            per_rate.setdefault(rate.id, [ZERO, ZERO])[0] += Decimal(item["total_tax"])
    for fee in doc["fee_lines"]:
        rate = rates.get(fee["tax_class"]) if fee["tax_status"] == "taxable" else None
        _set_taxes(fee, rate, Decimal(fee["total"]), None)
        if rate is not None:
            per_rate.setdefault(rate.id, [ZERO, ZERO])[0] += Decimal(fee["total_tax"])
    ship_rate = money.shipping_rate(rates)
    for line in doc["shipping_lines"]:
        _set_taxes(line, ship_rate, Decimal(line["total"]), None)
        if ship_rate is not None:
            per_rate.setdefault(ship_rate.id, [ZERO, ZERO])[1] += Decimal(line["total_tax"])
    _update_tax_lines(store, doc, per_rate, {rate.id: rate for rate in rates.values()})
    _update_totals(doc, rates)


def _apply_coupons(store: "WooSandbox", doc: dict[str, Any], coupons: list[Coupon],
                   rates: dict[str, TaxRate]) -> None:
    items = doc["line_items"]
    subtotals = [Decimal(item["subtotal"]) for item in items]
    allocation = money.allocate_discounts(subtotals, coupons)
    for index, item in enumerate(items):
        taken = sum((shares[index] for shares in allocation), ZERO)
        item["total"] = money.money(subtotals[index] - taken)
    doc["coupon_lines"] = []
    for coupon, shares in zip(coupons, allocation):
        discount_tax = sum((_tax(rates.get(item["tax_class"]), share) for item, share in zip(items, shares)), ZERO)
        doc["coupon_lines"].append({
            "id": order_store.next_id(store, "item"), "code": coupon.code,
            "discount": money.plain(sum(shares, ZERO)), "discount_tax": money.plain(discount_tax),
            "discount_type": coupon.discount_type, "nominal_amount": float(coupon.amount), "free_shipping": False,
            "meta_data": [],
        })


def _set_taxes(item: dict[str, Any], rate: TaxRate | None, total: Decimal, subtotal: Decimal | None) -> None:
    """Line (with subtotal) or shipping/fee (without): `total_tax`, and `taxes` per rate as WooCommerce keeps them."""
    total_tax = _tax(rate, total)
    item["total_tax"] = money.money(total_tax)
    if subtotal is not None:
        subtotal_tax = _tax(rate, subtotal)
        item["subtotal_tax"] = money.money(subtotal_tax)
        item["taxes"] = [] if rate is None else [
            {"id": rate.id, "total": money.plain(total_tax), "subtotal": money.plain(subtotal_tax)}]
    else:
        item["taxes"] = [] if rate is None else [{"id": rate.id, "total": money.plain(total_tax), "subtotal": ""}]


def _update_tax_lines(store: "WooSandbox", doc: dict[str, Any], per_rate: dict[int, list[Decimal]],
                      rates: dict[int, TaxRate]) -> None:
    """One tax line per rate in use; an existing line keeps its id (`WC_Abstract_Order::update_taxes`)."""
    existing = {line["rate_id"]: line for line in doc["tax_lines"]}
    lines = []
    for rate_id in sorted(per_rate):
        rate = rates[rate_id]
        cart_tax, shipping_tax = per_rate[rate_id]
        line = existing.get(rate_id) or {"id": order_store.next_id(store, "item"), "meta_data": []}
        lines.append({
            "id": line["id"], "rate_code": rate.code, "rate_id": rate.id, "label": rate.name,
            "compound": rate.compound, "tax_total": money.money(cart_tax),
            "shipping_tax_total": money.money(shipping_tax), "rate_percent": float(rate.rate),
            "meta_data": line["meta_data"],
        })
    doc["tax_lines"] = lines


def _update_totals(doc: dict[str, Any], rates: dict[str, TaxRate]) -> None:
    items, fees, shipping = doc["line_items"], doc["fee_lines"], doc["shipping_lines"]
    discount_total = sum((Decimal(i["subtotal"]) - Decimal(i["total"]) for i in items), ZERO)
    discount_tax = sum((_tax(rates.get(i["tax_class"]), Decimal(i["subtotal"]) - Decimal(i["total"]))
                        for i in items), ZERO)
    cart_tax = sum((Decimal(i["total_tax"]) for i in [*items, *fees]), ZERO)
    shipping_total = sum((Decimal(line["total"]) for line in shipping), ZERO)
    shipping_tax = sum((Decimal(line["total_tax"]) for line in shipping), ZERO)
    lines_total = sum((Decimal(i["total"]) for i in [*items, *fees]), ZERO)
    total_tax = cart_tax + shipping_tax
    doc["totals"] = {
        "discount_total": money.money(discount_total), "discount_tax": money.money(discount_tax),
        "shipping_total": money.money(shipping_total), "shipping_tax": money.money(shipping_tax),
        "cart_tax": money.money(cart_tax), "total": money.money(lines_total + shipping_total + total_tax),
        "total_tax": money.money(total_tax),
    }


def _tax(rate: TaxRate | None, amount: Decimal) -> Decimal:
    return ZERO if rate is None else rate.tax(amount)
