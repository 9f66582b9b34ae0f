"""Product bindings: which SKU is which product in the ERP and in the store (SKU ↔ ERP product id ↔ store
product or variation id), filled by the catalog sync and the on-demand lookup, read by validation and posting."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Mapping, Sequence

from sqlalchemy import Connection, or_, select

from retail_sync.persistence.sql import insert
from retail_sync.persistence.tables import product_bindings

SKU_MAX_LENGTH = product_bindings.c.sku.type.length


@dataclass(frozen=True)
class ProductBinding:
    sku: str
    erp_product_id: str | None
    erp_sellable: bool | None
    store_product_id: str | None
    store_variation_id: str | None


def bindings_for(conn: Connection, skus: Sequence[str]) -> dict[str, ProductBinding]:
    if not skus:
        return {}
    rows = conn.execute(select(product_bindings).where(product_bindings.c.sku.in_(list(skus))))
    return {
        row.sku: ProductBinding(row.sku, row.erp_product_id, row.erp_sellable, row.store_product_id,
                                row.store_variation_id)
        for row in rows
    }


def bind_erp_products(conn: Connection, products: Sequence[Mapping], now: datetime) -> int:
    """Upsert `{"sku", "erp_product_id", "erp_sellable", "name"}` rows; a row whose ERP side did not change is
    left alone. Returns how many rows were written."""
    return _upsert_bindings(conn, products, ("erp_product_id", "erp_sellable", "name"), now)


def bind_store_products(conn: Connection, products: Sequence[Mapping], now: datetime) -> int:
    """Upsert `{"sku", "store_product_id", "store_variation_id"}` rows; unchanged ones are left alone."""
    return _upsert_bindings(conn, products, ("store_product_id", "store_variation_id"), now)


def _upsert_bindings(conn: Connection, rows: Sequence[Mapping], columns: tuple[str, ...], now: datetime) -> int:
    if not rows:
        return 0
    values = [{"sku": row["sku"], **{c: row[c] for c in columns}, "synced_at": now} for row in rows]
    statement = insert(conn, product_bindings)
    changed = or_(*(product_bindings.c[c].is_distinct_from(statement.excluded[c]) for c in columns))
    statement = statement.on_conflict_do_update(
        index_elements=["sku"],
        set_={**{c: statement.excluded[c] for c in columns}, "synced_at": statement.excluded.synced_at},
        where=changed,
    ).returning(product_bindings.c.sku)
    return len(conn.execute(statement, values).all())

