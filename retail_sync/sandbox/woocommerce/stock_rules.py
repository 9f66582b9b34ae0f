"""Stock moved by orders, as `wc-stock-functions.php` moves it (reference §3, §6.9).

- reduce once per order (order flag + `_reduced_stock` meta on each line) on payment complete and on entering
  processing / completed / on-hold;
- restore what was reduced on entering cancelled or pending — never on failed or refunded;
- a line updated over REST on an order that reduced stock has its stock adjusted by the difference;
- a refund restocks only the lines it names with a quantity (`wc_restock_refunded_items`).

Every move is one SQL increment through `catalog.adjust_stock` (which fires `product.updated`); stock may go
negative, as it does on a real store.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from retail_sync.sandbox.woocommerce import catalog, notes, order_store

if TYPE_CHECKING:
    from retail_sync.sandbox.woocommerce.app import WooSandbox
    from retail_sync.sandbox.woocommerce.order_store import Order

REDUCING_STATUSES = ("processing", "completed", "on-hold")
RESTORING_STATUSES = ("cancelled", "pending")
REDUCED = "_reduced_stock"
RESTOCKED = "_restock_refunded_items"


def line_product(store: "WooSandbox", item: dict[str, Any]) -> Any:
    """The product a line sells (the variation when there is one), or None when it no longer exists."""
    product_id = item.get("variation_id") or item.get("product_id")
    return catalog.product_row(store, product_id) if product_id else None


def formatted_name(row: Any) -> str:
    """`WC_Product::get_formatted_name()`: "Name (SKU)", or "Name (#id)" without a SKU."""
    return f"{catalog.product_name(row)} ({row['sku'] or '#' + str(row['id'])})"


def reduce_levels(store: "WooSandbox", order: "Order") -> None:
    """`wc_maybe_reduce_stock_levels`: once per order, only lines not reduced yet, only managed stock."""
    if order.doc["stock_reduced"]:
        return
    changes = []
    for item in order.line_items:
        row = line_product(store, item)
        if row is None or _reduced(item):
            continue
        moved = catalog.adjust_stock(store, row["id"], -item["quantity"])
        if moved is None:
            continue
        order_store.update_meta(store, item["meta_data"], REDUCED, str(item["quantity"]), sequence="item_meta")
        changes.append(f"{formatted_name(row)} {moved[0]}&rarr;{moved[1]}")
    if changes:
        notes.add_note(store, order.id, "Stock levels reduced: " + ", ".join(changes))
    order.doc["stock_reduced"] = True


def restore_levels(store: "WooSandbox", order: "Order") -> None:
    """`wc_maybe_increase_stock_levels`: give back what each line reduced, if the order reduced stock."""
    if not order.doc["stock_reduced"]:
        return
    changes = []
    for item in order.line_items:
        reduced = _reduced(item)
        row = line_product(store, item)
        if not reduced or row is None:
            continue
        moved = catalog.adjust_stock(store, row["id"], reduced)
        if moved is None:
            continue
        order_store.delete_meta(item["meta_data"], REDUCED)
        changes.append(f"{formatted_name(row)} {moved[0]}&rarr;{moved[1]}")
    if changes:
        notes.add_note(store, order.id, "Stock levels increased: " + ", ".join(changes))
    order.doc["stock_reduced"] = False


def adjust_line(store: "WooSandbox", order: "Order", item: dict[str, Any]) -> None:
    """`wc_maybe_adjust_line_item_product_stock` after a REST line update: only a line that reduced stock moves,
    by (quantity − restocked by refunds − already reduced)."""
    already = _reduced(item)
    row = line_product(store, item)
    if not already or row is None:
        return
    restocked = int(order_store.meta_value(item["meta_data"], RESTOCKED) or 0)
    quantity = item["quantity"]
    diff = -already if quantity == 0 else quantity - restocked - already
    if diff == 0 or catalog.adjust_stock(store, row["id"], -diff) is None:
        return
    order_store.update_meta(store, item["meta_data"], REDUCED, str(quantity - restocked), sequence="item_meta")
    if quantity > 0:
        order.doc["stock_reduced"] = True


def restock_refunded(store: "WooSandbox", order: "Order", quantities: dict[int, int]) -> None:
    """`wc_restock_refunded_items`: lines named with a quantity that had reduced stock go back on the shelf."""
    for item in order.line_items:
        quantity = quantities.get(item["id"])
        reduced = _reduced(item)
        row = line_product(store, item)
        if not quantity or not reduced or row is None:
            continue
        moved = catalog.adjust_stock(store, row["id"], quantity)
        if moved is None:
            continue
        restocked = int(order_store.meta_value(item["meta_data"], RESTOCKED) or 0)
        order_store.update_meta(store, item["meta_data"], REDUCED, str(reduced - quantity), sequence="item_meta")
        order_store.update_meta(store, item["meta_data"], RESTOCKED, str(restocked + quantity),
                                sequence="item_meta")
        notes.add_note(store, order.id, f"Item #{row['id']} stock increased from {moved[0]} to {moved[1]}.")


def _reduced(item: dict[str, Any]) -> int:
    return int(order_store.meta_value(item["meta_data"], REDUCED) or 0)
