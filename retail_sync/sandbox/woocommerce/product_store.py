"""Product rows and stock: the lookups orders, refunds and checkout use, and the stock arithmetic they share.

A row keeps the columns the store filters and locks on (sku, parent, type, status, stock) and the rest of the
product as JSON in `data`. `manage_stock` is '1' or '0' per row; a variation that does not manage its own stock
while its variable parent does is shown as `manage_stock: "parent"` and sells from the parent's stock, exactly as
`WC_Product_Variation::get_manage_stock()` / `get_stock_managed_by_id()` work. Stock status is derived, never
stored, for managed rows (`validate_props()` recomputes it on every save).
"""
from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING, Any

from retail_sync.sandbox.common.db import loads
from retail_sync.sandbox.woocommerce.clock import now_gmt

if TYPE_CHECKING:
    from retail_sync.sandbox.woocommerce.app import WooSandbox

VISIBLE_STATUSES = ("publish", "private", "draft", "pending", "future")  # post_status 'any' leaves out trash


def product_row(store: "WooSandbox", product_id: int) -> Any:
    return store.db.one("SELECT * FROM products WHERE id = ?", (product_id,))


def find_by_sku(store: "WooSandbox", sku: str) -> Any:
    """`wc_get_product_id_by_sku()`: exact match over products and variations, trashed ones left out."""
    if not sku:
        return None
    return store.db.one("SELECT * FROM products WHERE sku = ? AND status != 'trash' ORDER BY id LIMIT 1", (sku,))


def stock_holder(store: "WooSandbox", row: Any) -> Any:
    """The row whose stock a sale moves: the row itself, or the variable parent for a `manage_stock: "parent"`
    variation."""
    if row is not None and row["type"] == "variation" and row["manage_stock"] != "1":
        parent = product_row(store, row["parent_id"])
        if manages_stock(parent):
            return parent
    return row


def manages_stock(row: Any) -> bool:
    return row is not None and row["manage_stock"] == "1"


def adjust_stock(store: "WooSandbox", product_id: int, delta: int) -> tuple[int, int] | None:
    """Add `delta` (negative to reduce) to the managed stock that sells `product_id`, as one SQL increment
    (`wc_update_product_stock()`), then save the holder as WooCommerce does.

    Returns (before, after), or None when nothing manages stock for it. Stock may go negative, as on a real store.
    Fires `product.updated` for the holder (and its variable parent, which re-syncs its stock status).
    """
    holder = stock_holder(store, product_row(store, product_id))
    if not manages_stock(holder):
        return None
    now = now_gmt()
    with store.db.tx() as conn:
        before = conn.execute("SELECT stock_quantity FROM products WHERE id = ?", (holder["id"],)).fetchone()[0] or 0
        conn.execute("UPDATE products SET stock_quantity = ?, date_modified_gmt = ? WHERE id = ?",
                     (before + delta, now, holder["id"]))
        if holder["parent_id"]:
            conn.execute("UPDATE products SET date_modified_gmt = ? WHERE id = ?", (now, holder["parent_id"]))
    store.fire("product.updated", holder["id"])
    if holder["parent_id"]:
        store.fire("product.updated", holder["parent_id"])
    return before, before + delta


def product_name(row: Any) -> str:
    return loads(row["data"]).get("name", "")


def product_price(row: Any) -> Decimal:
    return Decimal(str(loads(row["data"]).get("price") or "0"))


def product_tax_class(row: Any) -> str:
    return loads(row["data"]).get("tax_class", "")


def stock_status_for(quantity: int | None, backorders: str) -> str:
    """`WC_Product::validate_props()` for a managed product (`woocommerce_notify_no_stock_amount` = 0)."""
    if (quantity or 0) > 0:
        return "instock"
    return "onbackorder" if backorders != "no" else "outofstock"
