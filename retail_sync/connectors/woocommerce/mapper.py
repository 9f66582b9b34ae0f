"""Store JSON → our types. Pure: no I/O, no settings, no guessing.

Money arrives as 2-decimal strings and becomes Decimal from the string (never through float; `line_items[].price`
is a float and is ignored for that reason). Store dates come as `date_*_gmt` without an offset: they are UTC.
A line whose product has no SKU (or was deleted) keeps sku "": validation holds the order, nothing guesses one.
"""
from __future__ import annotations

from datetime import datetime, timezone
from decimal import Decimal
from typing import Any, Mapping

from retail_sync.connectors.ports import StoreProduct, StoreWebhook, StoreWrite
from retail_sync.domain.orders import STORE_CHANNEL, Address, Customer, Order, OrderLine, order_ref
from retail_sync.domain.skus import normalise_sku

ADDRESS_FIELDS = ("first_name", "last_name", "company", "address_1", "address_2", "city", "state", "postcode",
                  "country", "phone")
ZERO = Decimal("0")


def money(raw: Any) -> Decimal:
    """A store amount ("12.50", "", None) as Decimal; an empty amount is zero, as WooCommerce prints it."""
    if raw is None or raw == "":
        return ZERO
    return Decimal(str(raw))


def gmt(raw: str | None) -> datetime | None:
    """A `date_*_gmt` field (no offset, UTC by definition) as an aware datetime."""
    if not raw:
        return None
    return datetime.fromisoformat(raw).replace(tzinfo=timezone.utc)


def order_from_store(raw: Mapping[str, Any]) -> Order:
    billing_raw = raw.get("billing") or {}
    billing = _address(billing_raw)
    shipping_raw = raw.get("shipping") or {}
    # An order with no shipping address of its own ships to the billing address, as the store itself does.
    shipping = _address(shipping_raw) if any(_text(shipping_raw, f) for f in ADDRESS_FIELDS) else billing
    tax_rates = {line.get("rate_id"): line.get("rate_percent") for line in raw.get("tax_lines") or []}
    fees = raw.get("fee_lines") or []
    return Order(
        ref=order_ref(STORE_CHANNEL, raw["number"]),
        channel=STORE_CHANNEL,
        number=str(raw["number"]),
        status=raw["status"],
        currency=raw["currency"],
        customer=Customer(email=_text(billing_raw, "email"), first_name=billing.first_name,
                          last_name=billing.last_name, phone=billing.phone),
        billing=billing,
        shipping=shipping,
        lines=tuple(_line(item, tax_rates) for item in raw.get("line_items") or []),
        shipping_total=money(raw.get("shipping_total")),
        shipping_tax=money(raw.get("shipping_tax")),
        fee_total=sum((money(fee.get("total")) for fee in fees), ZERO),
        fee_tax=sum((money(fee.get("total_tax")) for fee in fees), ZERO),
        discount_total=money(raw.get("discount_total")),
        total_tax=money(raw.get("total_tax")),
        total=money(raw.get("total")),
        paid=bool(raw.get("date_paid_gmt")),
        store_id=int(raw["id"]),
        modified_at=gmt(raw.get("date_modified_gmt")),
        customer_note=raw.get("customer_note") or "",
        extra={"payment_method": raw.get("payment_method") or "", "created_via": raw.get("created_via") or ""},
    )


def write_from_store(raw: Mapping[str, Any]) -> StoreWrite:
    """What an order write left behind (the PUT's answer): its status and newest modification stamp."""
    return StoreWrite(store_id=int(raw["id"]), status=raw["status"], modified_at=gmt(raw.get("date_modified_gmt")))


def product_from_store(raw: Mapping[str, Any], parent_id: int | None = None) -> StoreProduct:
    """A product, or a variation (`parent_id` given, or read from a `sku=` search that returned a variation).

    `manage_stock` is true only when the item holds its own stock: a variation showing "parent" takes its stock
    from the parent, and a stock quantity written to it would be ignored by the store.
    """
    parent = parent_id if parent_id is not None else (raw.get("parent_id") if raw.get("type") == "variation" else None)
    return StoreProduct(
        sku=normalise_sku(raw.get("sku")),
        product_id=int(parent) if parent else int(raw["id"]),
        variation_id=int(raw["id"]) if parent else None,
        stock_quantity=raw.get("stock_quantity"),
        manage_stock=raw.get("manage_stock") is True,
        status=raw.get("status") or "",
    )


def webhook_from_store(raw: Mapping[str, Any]) -> StoreWebhook:
    return StoreWebhook(id=int(raw["id"]), topic=raw.get("topic") or "", delivery_url=raw.get("delivery_url") or "",
                        status=raw.get("status") or "")


def _line(item: Mapping[str, Any], tax_rates: Mapping[Any, Any]) -> OrderLine:
    quantity = int(item.get("quantity") or 0)
    subtotal = money(item.get("subtotal"))
    return OrderLine(
        sku=normalise_sku(item.get("sku")),
        quantity=quantity,
        unit_price=subtotal / quantity if quantity else subtotal,
        subtotal=subtotal,
        total=money(item.get("total")),
        tax=money(item.get("total_tax")),
        tax_rate=_line_tax_rate(item, tax_rates),
        name=item.get("name") or "",
        store_line_id=item.get("id"),
        store_product_id=item.get("product_id") or None,
        store_variation_id=item.get("variation_id") or None,
    )


def _line_tax_rate(item: Mapping[str, Any], tax_rates: Mapping[Any, Any]) -> Decimal | None:
    """The line's tax rate in percent when the store names exactly one rate that taxed it, else None."""
    charged = [tax for tax in item.get("taxes") or [] if money(tax.get("total")) != ZERO]
    if len(charged) != 1:
        return None
    percent = tax_rates.get(charged[0].get("id"))
    return None if percent is None else Decimal(str(percent))


def _address(raw: Mapping[str, Any]) -> Address:
    return Address(**{name: _text(raw, name) for name in ADDRESS_FIELDS})


def _text(raw: Mapping[str, Any], name: str) -> str:
    return str(raw.get(name) or "").strip()
