"""The REST representations of orders and refunds (reference §2.5, §2.10): key order as WooCommerce emits it,
dates without offset plus `*_gmt`, money as 2-decimal strings, `line_items[].price` a float, `number` a string,
refund totals negative, `_links`. Amounts are stored already formatted (see `order_store`), so they pass through.

`render_orders` renders a page with three queries in all (the orders, their products, their refunds);
`render_refunds` a page of refunds with one for their products.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from retail_sync.sandbox.woocommerce import catalog, order_lifecycle, order_store
from retail_sync.sandbox.woocommerce.clock import parse_gmt
from retail_sync.sandbox.woocommerce.order_store import Order

if TYPE_CHECKING:
    from retail_sync.sandbox.woocommerce.app import WooSandbox


class Products:
    """The current SKU and names of the products a set of orders sells, fetched once."""

    def __init__(self, store: "WooSandbox", orders: list[Order]) -> None:
        ids = {item.get(key) for order in orders for item in order.line_items
               for key in ("product_id", "variation_id")}
        ids.discard(0)
        ids.discard(None)
        self.rows: dict[int, Any] = {}
        if ids:
            marks = ",".join("?" * len(ids))
            for row in store.db.all(f"SELECT id, sku, type, parent_id, data FROM products"  # noqa: S608
                                    f" WHERE id IN ({marks})", sorted(ids)):
                self.rows[row["id"]] = row

    def line_product(self, item: dict[str, Any]) -> Any:
        return self.rows.get(item.get("variation_id") or item.get("product_id"))

    def name(self, product_id: int) -> str | None:
        row = self.rows.get(product_id)
        return None if row is None else catalog.product_name(row)


def render_orders(store: "WooSandbox", orders: list[Order]) -> list[dict[str, Any]]:
    products = Products(store, orders)
    refunds = order_store.refunds_of(store, [order.id for order in orders])
    return [render_order(store, order, products, refunds[order.id]) for order in orders]


def render_one(store: "WooSandbox", order: Order) -> dict[str, Any]:
    return render_orders(store, [order])[0]


def render_order(store: "WooSandbox", order: Order, products: Products, refunds: list[Order]) -> dict[str, Any]:
    doc, totals = order.doc, order.doc["totals"]
    created, created_gmt = _dates(store, order.date_created_gmt)
    modified, modified_gmt = _dates(store, order.date_modified_gmt)
    paid, paid_gmt = _dates(store, doc["date_paid_gmt"])
    completed, completed_gmt = _dates(store, doc["date_completed_gmt"])
    base = f"{store.home_url}wp-json/wc/v3"
    links: dict[str, Any] = {"self": [{"href": f"{base}/orders/{order.id}"}],
                             "collection": [{"href": f"{base}/orders"}]}
    if order.customer_id:
        links["customer"] = [{"href": f"{base}/customers/{order.customer_id}"}]
    if order.parent_id:
        links["up"] = [{"href": f"{base}/orders/{order.parent_id}"}]
    return {
        "id": order.id, "parent_id": order.parent_id, "number": str(order.id), "order_key": doc["order_key"],
        "created_via": order.created_via, "version": doc["version"], "status": order.status,
        "currency": doc["currency"], "date_created": created, "date_created_gmt": created_gmt,
        "date_modified": modified, "date_modified_gmt": modified_gmt,
        "discount_total": totals["discount_total"], "discount_tax": totals["discount_tax"],
        "shipping_total": totals["shipping_total"], "shipping_tax": totals["shipping_tax"],
        "cart_tax": totals["cart_tax"], "total": totals["total"], "total_tax": totals["total_tax"],
        "prices_include_tax": doc["prices_include_tax"], "customer_id": order.customer_id,
        "customer_ip_address": doc["customer_ip_address"], "customer_user_agent": doc["customer_user_agent"],
        "customer_note": doc["customer_note"], "billing": dict(doc["billing"]), "shipping": dict(doc["shipping"]),
        "payment_method": doc["payment_method"], "payment_method_title": doc["payment_method_title"],
        "transaction_id": doc["transaction_id"], "date_paid": paid, "date_paid_gmt": paid_gmt,
        "date_completed": completed, "date_completed_gmt": completed_gmt, "cart_hash": doc["cart_hash"],
        "meta_data": [_meta(meta) for meta in doc["meta_data"]],
        "line_items": [_line_item(item, products) for item in doc["line_items"]],
        "tax_lines": [_tax_line(line) for line in doc["tax_lines"]],
        "shipping_lines": [_shipping_line(line) for line in doc["shipping_lines"]],
        "fee_lines": [_fee_line(line) for line in doc["fee_lines"]],
        "coupon_lines": [_coupon_line(line) for line in doc["coupon_lines"]],
        "refunds": [{"id": refund.id, "reason": refund.doc["reason"] or "", "total": "-" + refund.doc["amount"]}
                    for refund in refunds],
        "payment_url": f"{store.home_url}checkout/order-pay/{order.id}/?pay_for_order=true&key={doc['order_key']}",
        "is_editable": order.status in order_lifecycle.EDITABLE_STATUSES,
        "needs_payment": order_lifecycle.needs_payment(order),
        "needs_processing": any(products.line_product(item) is not None for item in doc["line_items"]),
        "_links": links,
    }


def render_refunds(store: "WooSandbox", refunds: list[Order]) -> list[dict[str, Any]]:
    products = Products(store, refunds)
    return [render_refund(store, refund, products) for refund in refunds]


def render_refund(store: "WooSandbox", refund: Order, products: Products | None = None) -> dict[str, Any]:
    """One refund; `products` when rendering a page of them (`render_refunds`), fetched here otherwise."""
    doc = refund.doc
    created, created_gmt = _dates(store, refund.date_created_gmt)
    products = products if products is not None else Products(store, [refund])
    base = f"{store.home_url}wp-json/wc/v3/orders/{refund.parent_id}"
    return {
        "id": refund.id, "date_created": created, "date_created_gmt": created_gmt, "amount": doc["amount"],
        "reason": doc["reason"] or "", "refunded_by": doc["refunded_by"],
        "refunded_payment": doc["refunded_payment"], "meta_data": [_meta(meta) for meta in doc["meta_data"]],
        "line_items": [_line_item(item, products) for item in doc["line_items"]],
        "shipping_lines": [_shipping_line(line) for line in doc["shipping_lines"]],
        "tax_lines": [_tax_line(line) for line in doc["tax_lines"]],
        "fee_lines": [_fee_line(line) for line in doc["fee_lines"]],
        "_links": {"self": [{"href": f"{base}/refunds/{refund.id}"}], "collection": [{"href": f"{base}/refunds"}],
                   "up": [{"href": base}]},
    }


def _line_item(item: dict[str, Any], products: Products) -> dict[str, Any]:
    product = products.line_product(item)
    quantity = item["quantity"]
    is_variation = product is not None and product["type"] == "variation"
    return {
        "id": item["id"], "name": item["name"], "product_id": item["product_id"],
        "variation_id": item["variation_id"], "quantity": quantity, "tax_class": item["tax_class"],
        "subtotal": item["subtotal"], "subtotal_tax": item["subtotal_tax"], "total": item["total"],
        "total_tax": item["total_tax"], "taxes": item["taxes"],
        "meta_data": [_item_meta(meta) for meta in item["meta_data"]],
        "sku": None if product is None else (product["sku"] or ""),
        # PHP: get_total() / get_quantity() — a float such as 19.900000000000002
        "price": float(item["total"]) / quantity if quantity else 0,
        "image": {"id": "" if product is not None else 0, "src": ""},
        "parent_name": products.name(product["parent_id"]) if is_variation else None,
    }


def _shipping_line(line: dict[str, Any]) -> dict[str, Any]:
    return {"id": line["id"], "method_title": line["method_title"], "method_id": line["method_id"],
            "instance_id": line["instance_id"], "total": line["total"], "total_tax": line["total_tax"],
            "taxes": line["taxes"],
            "meta_data": [_item_meta(meta) for meta in line["meta_data"]]}


def _fee_line(line: dict[str, Any]) -> dict[str, Any]:
    return {"id": line["id"], "name": line["name"], "tax_class": line["tax_class"],
            "tax_status": line["tax_status"], "amount": line["amount"], "total": line["total"],
            "total_tax": line["total_tax"], "taxes": line["taxes"],
            "meta_data": [_item_meta(meta) for meta in line["meta_data"]]}


def _coupon_line(line: dict[str, Any]) -> dict[str, Any]:
    return {"id": line["id"], "code": line["code"], "discount": line["discount"],
            "discount_tax": line["discount_tax"], "meta_data": [_item_meta(meta) for meta in line["meta_data"]],
            "discount_type": line["discount_type"], "nominal_amount": line["nominal_amount"],
            "free_shipping": line["free_shipping"]}


def _tax_line(line: dict[str, Any]) -> dict[str, Any]:
    return {"id": line["id"], "rate_code": line["rate_code"], "rate_id": line["rate_id"], "label": line["label"],
            "compound": line["compound"], "tax_total": line["tax_total"],
            "shipping_tax_total": line["shipping_tax_total"], "rate_percent": line["rate_percent"],
            "meta_data": [_item_meta(meta) for meta in line["meta_data"]]}


def _meta(meta: dict[str, Any]) -> dict[str, Any]:
    return {"id": meta["id"], "key": meta["key"], "value": meta["value"]}


def _item_meta(meta: dict[str, Any]) -> dict[str, Any]:
    return {"id": meta["id"], "key": meta["key"], "value": meta["value"], "display_key": meta["key"],
            "display_value": meta["value"]}


def _dates(store: "WooSandbox", gmt: str | None) -> tuple[str | None, str | None]:
    return store.clock.pair(parse_gmt(gmt))
