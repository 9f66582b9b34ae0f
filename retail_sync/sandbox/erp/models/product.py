"""Products (`product.product`): `default_code` is the SKU, stock figures are computed from quants and orders.

`qty_available` is the quantity on hand in internal locations, `free_qty` what is not reserved,
`outgoing_qty` the demand of confirmed sales orders and `virtual_available` the forecast
(`qty_available + incoming_qty - outgoing_qty`), as Odoo computes them. Like Odoo, the context keys
`warehouse` (id, name or code, or a list of them) and `location` narrow all of these to some stock.
Stock moves do not touch a product's `write_date`, exactly as in Odoo.
"""
from __future__ import annotations

from typing import Any

from retail_sync.sandbox.erp.orm.fields import Boolean, Char, Computed, Float, Many2many, Selection
from retail_sync.sandbox.erp.orm.model import BaseModel

SCHEMA = """
CREATE TABLE IF NOT EXISTS product_product (
    id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT NOT NULL, default_code TEXT, barcode TEXT,
    list_price REAL NOT NULL DEFAULT 1, standard_price REAL NOT NULL DEFAULT 0, type TEXT NOT NULL DEFAULT 'product',
    sale_ok INTEGER NOT NULL DEFAULT 1, active INTEGER NOT NULL DEFAULT 1, create_date TEXT, write_date TEXT
);
CREATE UNIQUE INDEX IF NOT EXISTS ux_product_default_code ON product_product (default_code);
CREATE INDEX IF NOT EXISTS ix_product_write_date ON product_product (write_date);
CREATE TABLE IF NOT EXISTS product_taxes_rel (
    prod_id INTEGER NOT NULL REFERENCES product_product(id) ON DELETE CASCADE,
    tax_id INTEGER NOT NULL REFERENCES account_tax(id) ON DELETE CASCADE,
    PRIMARY KEY (prod_id, tax_id)
);
"""
TABLES = ("product_taxes_rel", "product_product")
DEFAULT_SALE_TAX = 1  # the company's default sales tax (19 %), given to new products as Odoo does


def _default_taxes(env: Any) -> list:
    present = env.scalar("SELECT 1 FROM account_tax WHERE id = ?", (DEFAULT_SALE_TAX,))
    return [(6, 0, [DEFAULT_SALE_TAX] if present else [])]


WAREHOUSES_NAMED = "SELECT id FROM stock_warehouse WHERE name = ? OR code = ?"
LOCATIONS_NAMED = ("SELECT l.id FROM stock_location l LEFT JOIN stock_warehouse w ON w.id = l.warehouse_id"
                   " WHERE COALESCE(w.code || '/', '') || l.name = ? OR l.name = ?")


def _ids(env: Any, value: Any, named_sql: str) -> str:
    """Comma-separated ids for a context value: an id, a name, or a list of them (0 when nothing matches)."""
    values = value if isinstance(value, (list, tuple)) else [value]
    ids = [int(v) for v in values if isinstance(v, int) and not isinstance(v, bool)]
    for name in (v for v in values if isinstance(v, str)):
        ids += [row[0] for row in env.rows(named_sql, (name, name))]
    return ", ".join(map(str, ids or [0]))


def _location_scope(env: Any, location_alias: str) -> str:
    """SQL condition on a stock_location row for the context's `warehouse` / `location` narrowing."""
    location = env.context.get("location")
    if location:
        return f" AND {location_alias}.id IN ({_ids(env, location, LOCATIONS_NAMED)})"
    warehouse = env.context.get("warehouse") or env.context.get("warehouse_id")
    if warehouse:
        return f" AND {location_alias}.warehouse_id IN ({_ids(env, warehouse, WAREHOUSES_NAMED)})"
    return ""


def _on_hand(env: Any, t: str, column: str = "q.quantity") -> str:
    return (f"(SELECT COALESCE(SUM({column}), 0) FROM stock_quant q JOIN stock_location l ON l.id = q.location_id"
            f" WHERE q.product_id = {t}.id AND l.usage = 'internal'{_location_scope(env, 'l')})")


def _outgoing(env: Any, t: str) -> str:
    scope = _location_scope(env, "l")
    warehouses = (f" AND o.warehouse_id IN (SELECT l.warehouse_id FROM stock_location l WHERE 1=1{scope})"
                  if scope else "")
    return (f"(SELECT COALESCE(SUM(s.product_uom_qty), 0) FROM sale_order_line s JOIN sale_order o ON o.id = s.order_id"
            f" WHERE s.product_id = {t}.id AND o.state = 'sale'{warehouses})")


class Product(BaseModel):
    _name = "product.product"
    _description = "Product Variant"
    _table = "product_product"
    _order = "default_code, name, id"
    _rec_names_search = ("name", "default_code", "barcode")
    # Odoo itself lets two products share a default_code; the sandbox keeps SKUs unique, as the engine assumes
    _unique_messages = {"default_code": "Internal Reference (SKU) must be unique per product!"}
    _field_specs = {
        "name": Char("Name", required=True),
        "default_code": Char("Internal Reference"),
        "barcode": Char("Barcode"),
        "list_price": Float("Sales Price", default=1.0),
        "lst_price": Computed("float", "Sales Price", lambda env, t: f"{t}.list_price"),
        "standard_price": Float("Cost", default=0.0),
        "type": Selection(("consu", "service", "product"), "Product Type", default="product", required=True),
        "sale_ok": Boolean("Can be Sold", default=True),
        "active": Boolean("Active", default=True),
        "taxes_id": Many2many("account.tax", ("product_taxes_rel", "prod_id", "tax_id"), "Customer Taxes",
                              default=_default_taxes),
        "qty_available": Computed("float", "Quantity On Hand", _on_hand),
        "free_qty": Computed("float", "Free To Use Quantity",
                             lambda env, t: _on_hand(env, t, "q.quantity - q.reserved_quantity")),
        "incoming_qty": Computed("float", "Incoming", lambda env, t: "0.0"),
        "outgoing_qty": Computed("float", "Outgoing", _outgoing),
        "virtual_available": Computed("float", "Forecasted Quantity",
                                      lambda env, t: f"({_on_hand(env, t)} - {_outgoing(env, t)})"),
    }

    def _clean_values(self, vals: dict[str, Any]) -> dict[str, Any]:
        # an empty SKU is no SKU (stored NULL), so the unique index only ever compares real codes
        return {**vals, "default_code": False} if vals.get("default_code") == "" else vals

    @classmethod
    def display_sql(cls, env: Any, alias: str) -> str:
        return (f"(CASE WHEN COALESCE({alias}.default_code, '') != '' THEN '[' || {alias}.default_code || '] '"
                f" || {alias}.name ELSE {alias}.name END)")


MODELS = (Product,)
