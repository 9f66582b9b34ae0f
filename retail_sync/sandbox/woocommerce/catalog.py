"""The store's catalog: the products, variations and customers tables, their REST routes and the seed.

The routes live in `products` and `customers`; the row lookups and stock arithmetic other modules use (orders,
refunds, checkout) live in `product_store` and are re-exported here, with the representations, so callers keep
one import: `catalog.find_by_sku`, `catalog.adjust_stock`, `catalog.render_product`, ...
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from fastapi import FastAPI

from retail_sync.sandbox.common.catalog import Catalog, CatalogItem
from retail_sync.sandbox.common.db import dumps
from retail_sync.sandbox.woocommerce import customers, products
from retail_sync.sandbox.woocommerce.customers import render_customer
from retail_sync.sandbox.woocommerce.clock import now_gmt
from retail_sync.sandbox.woocommerce.product_store import (adjust_stock, find_by_sku, manages_stock,
                                                           product_name, product_price, product_row,
                                                           product_tax_class, stock_holder)
from retail_sync.sandbox.woocommerce.product_views import render_product, render_product_any, render_variation
from retail_sync.sandbox.woocommerce.wp_schema import sanitize_title

if TYPE_CHECKING:
    from retail_sync.sandbox.woocommerce.app import WooSandbox

__all__ = ["SCHEMA", "TABLES", "install", "counts", "register", "seed", "product_row", "find_by_sku", "stock_holder",
           "manages_stock", "adjust_stock", "product_name", "product_price", "product_tax_class", "render_product",
           "render_product_any", "render_variation", "render_customer"]

SCHEMA = """
CREATE TABLE IF NOT EXISTS products (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    parent_id INTEGER NOT NULL DEFAULT 0,
    type TEXT NOT NULL,                     -- simple | grouped | external | variable | variation
    sku TEXT NOT NULL DEFAULT '',           -- '' when none; unique only among rows outside the trash
    status TEXT NOT NULL DEFAULT 'publish',
    manage_stock TEXT NOT NULL DEFAULT '0', -- '1' or '0' (a variation shows "parent" when only its parent manages)
    stock_quantity INTEGER,
    date_created_gmt TEXT NOT NULL,
    date_modified_gmt TEXT NOT NULL,
    data TEXT NOT NULL                      -- the rest of the product (name, prices, tax_class, meta_data, ...)
);
CREATE INDEX IF NOT EXISTS ix_products_sku ON products (sku);
CREATE INDEX IF NOT EXISTS ix_products_parent ON products (parent_id, type);
CREATE INDEX IF NOT EXISTS ix_products_created ON products (date_created_gmt, id);
CREATE INDEX IF NOT EXISTS ix_products_modified ON products (date_modified_gmt, id);
CREATE TABLE IF NOT EXISTS customers (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    email TEXT NOT NULL UNIQUE COLLATE NOCASE,
    username TEXT NOT NULL UNIQUE,
    display_name TEXT NOT NULL DEFAULT '',
    date_created_gmt TEXT NOT NULL,
    date_modified_gmt TEXT NOT NULL,
    data TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS meta_ids (id INTEGER PRIMARY KEY AUTOINCREMENT);  -- WordPress's global meta_id
"""
TABLES = ("products", "customers", "meta_ids")


def install(store: "WooSandbox") -> None:
    """Fixed data a fresh store has (none for the catalog)."""


def counts(store: "WooSandbox") -> dict[str, int]:
    return {
        "products": store.db.scalar("SELECT COUNT(*) FROM products WHERE type != 'variation'"),
        "variations": store.db.scalar("SELECT COUNT(*) FROM products WHERE type = 'variation'"),
        "customers": store.db.scalar("SELECT COUNT(*) FROM customers"),
    }


def register(app: FastAPI, store: "WooSandbox") -> None:
    """REST routes for products, variations, customers and their batch endpoints."""
    products.register(app, store)
    customers.register(app, store)


# ---- seeding ----------------------------------------------------------------------------------------------------
def seed(store: "WooSandbox", catalog: Catalog) -> dict[str, int]:
    """Upsert by SKU: simple products, or variable products with variations; managed stock = total over sites."""
    now = now_gmt()
    created = updated = 0
    with store.db.tx() as conn:
        for product in catalog.products:
            kind = "variable" if product.variations else "simple"
            parent_id, was_new = _upsert(conn, product, kind, 0, now,
                                         stock=None if product.variations else product.total_stock)
            created, updated = created + was_new, updated + (not was_new)
            for variation in product.variations:
                _, was_new = _upsert(conn, variation, "variation", parent_id, now, stock=variation.total_stock)
                created, updated = created + was_new, updated + (not was_new)
    return {"created": created, "updated": updated}


def _upsert(conn: Any, item: CatalogItem, kind: str, parent_id: int, now: str, stock: int | None) -> tuple[int, bool]:
    price = "" if kind == "variable" else f"{item.price:.2f}"
    data = {"name": item.name, "slug": sanitize_title(item.name), "price": price, "regular_price": price,
            "sale_price": "", "tax_class": item.tax_class, "tax_status": "taxable", "backorders": "no",
            "stock_status": "instock", "meta_data": []}
    manage = "1" if (item.manage_stock and stock is not None) else "0"
    quantity = stock if manage == "1" else None
    row = conn.execute("SELECT id FROM products WHERE sku = ? AND status != 'trash'", (item.sku,)).fetchone()
    if row is None:
        cursor = conn.execute(
            "INSERT INTO products (parent_id, type, sku, manage_stock, stock_quantity, date_created_gmt,"
            " date_modified_gmt, data) VALUES (?,?,?,?,?,?,?,?)",
            (parent_id, kind, item.sku, manage, quantity, now, now, dumps(data)))
        return cursor.lastrowid, True
    conn.execute("UPDATE products SET parent_id=?, type=?, manage_stock=?, stock_quantity=?, date_modified_gmt=?,"
                 " data=? WHERE id=?", (parent_id, kind, manage, quantity, now, dumps(data), row[0]))
    return row[0], False
