"""Loading the shared catalog: products (list price, taxes by tax class), one warehouse per site, quants per site.

Upserts by `default_code` and warehouse `code`, so seeding again updates instead of duplicating; stock is set
to the catalog's (a site the catalog leaves out is set to 0 where a quant exists). Bulk statements keep
100,000 SKUs to a few seconds.
"""
from __future__ import annotations

from typing import Any

from retail_sync.sandbox.common.catalog import Catalog
from retail_sync.sandbox.erp.orm.env import Env

TAX_BY_CLASS = {"": 1, "reduced-rate": 2}


def seed(env: Env, catalog: Catalog) -> dict[str, Any]:
    conn, now = env.conn, env.now
    locations = {site: _stock_location(env, site) for site in catalog.sites}
    items = catalog.skus()
    conn.executemany(
        "INSERT INTO product_product (name, default_code, list_price, type, create_date, write_date)"
        " VALUES (?, ?, ?, 'product', ?, ?)"
        " ON CONFLICT(default_code)"
        " DO UPDATE SET name = excluded.name, list_price = excluded.list_price, active = 1,"
        " write_date = excluded.write_date",
        [(item.name, item.sku, float(item.price), now, now) for item in items])
    ids = dict(conn.execute("SELECT default_code, id FROM product_product WHERE default_code IS NOT NULL").fetchall())
    product_ids = [(ids[item.sku],) for item in items]
    conn.executemany("DELETE FROM product_taxes_rel WHERE prod_id = ?", product_ids)
    conn.executemany("INSERT INTO product_taxes_rel (prod_id, tax_id) VALUES (?, ?)",
                     [(ids[item.sku], TAX_BY_CLASS.get(item.tax_class, 1)) for item in items])
    stocked, emptied = [], []
    for item in items:
        for site, location_id in locations.items():
            if site in item.stock:
                stocked.append((ids[item.sku], location_id, float(item.stock[site]), now, now))
            else:
                emptied.append((now, ids[item.sku], location_id))
    conn.executemany(
        "INSERT INTO stock_quant (product_id, location_id, quantity, create_date, write_date) VALUES (?, ?, ?, ?, ?)"
        " ON CONFLICT(product_id, location_id) DO UPDATE SET quantity = excluded.quantity,"
        " write_date = excluded.write_date", stocked)
    conn.executemany("UPDATE stock_quant SET quantity = 0, write_date = ? WHERE product_id = ? AND location_id = ?",
                     emptied)
    return {"products": len(items), "warehouses": len(locations), "quants": len(stocked)}


def _stock_location(env: Env, site: str) -> int:
    """The stock location of the warehouse coded `site`, creating the warehouse when missing."""
    found = env.scalar("SELECT lot_stock_id FROM stock_warehouse WHERE code = ?", (site,))
    if found is not None:
        return found
    warehouse_id = env["stock.warehouse"].create({"name": site, "code": site})
    return env.scalar("SELECT lot_stock_id FROM stock_warehouse WHERE id = ?", (warehouse_id,))
