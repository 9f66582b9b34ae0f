"""Warehouses, their stock locations, quants, and the reservations confirmed sales orders hold on quants.

Each warehouse owns one internal location `<code>/Stock` (`lot_stock_id`) and each product has at most one quant
per location. Confirming an order reserves what its warehouse's quants still have free (the shortfall stays
unreserved, as Odoo leaves a partially available picking); cancelling releases it. Stock is counted with
`inventory_quantity` + `action_apply_inventory` (which, as in Odoo, answers nothing: `None`) or by writing
`quantity` directly.
"""
from __future__ import annotations

from typing import Any

from retail_sync.sandbox.erp.models.product import Product
from retail_sync.sandbox.erp.orm.fields import Boolean, Char, Computed, Float, Integer, Many2one, Selection
from retail_sync.sandbox.erp.orm.model import BaseModel
from retail_sync.sandbox.erp.orm.reading import qmarks

SCHEMA = """
CREATE TABLE IF NOT EXISTS stock_warehouse (
    id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT NOT NULL UNIQUE, code TEXT NOT NULL UNIQUE,
    lot_stock_id INTEGER, sequence INTEGER NOT NULL DEFAULT 10, active INTEGER NOT NULL DEFAULT 1,
    create_date TEXT, write_date TEXT
);
CREATE TABLE IF NOT EXISTS stock_location (
    id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT NOT NULL, usage TEXT NOT NULL DEFAULT 'internal',
    warehouse_id INTEGER REFERENCES stock_warehouse(id) ON DELETE CASCADE, active INTEGER NOT NULL DEFAULT 1,
    create_date TEXT, write_date TEXT
);
CREATE INDEX IF NOT EXISTS ix_stock_location_warehouse ON stock_location (warehouse_id);
CREATE TABLE IF NOT EXISTS stock_quant (
    id INTEGER PRIMARY KEY AUTOINCREMENT, product_id INTEGER NOT NULL REFERENCES product_product(id),
    location_id INTEGER NOT NULL REFERENCES stock_location(id), quantity REAL NOT NULL DEFAULT 0,
    reserved_quantity REAL NOT NULL DEFAULT 0, inventory_quantity REAL NOT NULL DEFAULT 0,
    inventory_quantity_set INTEGER NOT NULL DEFAULT 0, create_date TEXT, write_date TEXT,
    UNIQUE (product_id, location_id)
);
CREATE TABLE IF NOT EXISTS erp_reservation (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    line_id INTEGER NOT NULL REFERENCES sale_order_line(id) ON DELETE CASCADE,
    quant_id INTEGER NOT NULL REFERENCES stock_quant(id) ON DELETE CASCADE,
    quantity REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS ix_erp_reservation_line ON erp_reservation (line_id);
"""
TABLES = ("erp_reservation", "stock_quant", "stock_location", "stock_warehouse")


class Warehouse(BaseModel):
    _name = "stock.warehouse"
    _description = "Warehouse"
    _table = "stock_warehouse"
    _order = "sequence, id"
    _rec_names_search = ("name", "code")
    _unique_messages = {"name": "The name of the warehouse must be unique per company!",
                        "code": "The short name of the warehouse must be unique per company!"}
    _field_specs = {
        "name": Char("Warehouse", required=True),
        "code": Char("Short Name", required=True),
        "lot_stock_id": Many2one("stock.location", "Location Stock", computed=True),
        "sequence": Integer("Sequence", default=10),
        "active": Boolean("Active", default=True),
    }

    def _after_write(self, ids: list[int], names: set[str], created: bool) -> None:
        if created:
            for warehouse_id in ids:
                location_id = self.env.execute(
                    "INSERT INTO stock_location (name, usage, warehouse_id, create_date, write_date)"
                    " VALUES ('Stock', 'internal', ?, ?, ?)", (warehouse_id, self.env.now, self.env.now)).lastrowid
                self.env.execute("UPDATE stock_warehouse SET lot_stock_id = ? WHERE id = ?",
                                 (location_id, warehouse_id))


def _complete_name(env: Any, t: str) -> str:
    return (f"(COALESCE((SELECT w.code || '/' FROM stock_warehouse w WHERE w.id = {t}.warehouse_id), '')"
            f" || {t}.name)")


class Location(BaseModel):
    _name = "stock.location"
    _description = "Inventory Locations"
    _table = "stock_location"
    _order = "complete_name, id"
    _rec_names_search = ("complete_name",)
    _field_specs = {
        "name": Char("Location Name", required=True),
        "complete_name": Computed("char", "Full Location Name", _complete_name),
        "usage": Selection(("supplier", "view", "internal", "customer", "inventory", "transit"), "Location Type",
                           default="internal", required=True),
        "warehouse_id": Many2one("stock.warehouse", "Warehouse"),
        "active": Boolean("Active", default=True),
    }

    @classmethod
    def display_sql(cls, env: Any, alias: str) -> str:
        return _complete_name(env, alias)


class Quant(BaseModel):
    _name = "stock.quant"
    _description = "Quants"
    _table = "stock_quant"
    _actions = frozenset({"action_apply_inventory"})
    _rec_names_search = ("product_id",)
    _field_specs = {
        "product_id": Many2one("product.product", "Product", required=True),
        "location_id": Many2one("stock.location", "Location", required=True),
        "warehouse_id": Computed("many2one", "Warehouse", lambda env, t: (
            f"(SELECT l.warehouse_id FROM stock_location l WHERE l.id = {t}.location_id)"), relation="stock.warehouse"),
        "quantity": Float("Quantity"),
        "reserved_quantity": Float("Reserved Quantity", computed=True),
        "available_quantity": Computed("float", "Available Quantity",
                                       lambda env, t: f"({t}.quantity - {t}.reserved_quantity)"),
        "inventory_quantity": Float("Counted Quantity"),
        "inventory_quantity_set": Boolean("Inventory Quantity Set", computed=True, default=False),
        "inventory_diff_quantity": Computed("float", "Difference", lambda env, t: (
            f"(CASE WHEN {t}.inventory_quantity_set = 1 THEN {t}.inventory_quantity - {t}.quantity ELSE 0 END)")),
    }

    @classmethod
    def display_sql(cls, env: Any, alias: str) -> str:
        return f"(SELECT {Product.display_sql(env, 'p')} FROM product_product p WHERE p.id = {alias}.product_id)"

    def _create_one(self, vals: Any) -> int:
        # like Odoo's quant creation in inventory mode: a quant for the same product and location is updated
        if isinstance(vals, dict):
            existing = self.env.scalar("SELECT id FROM stock_quant WHERE product_id = ? AND location_id = ?",
                                       (vals.get("product_id"), vals.get("location_id")))
            if existing is not None:
                self.write([existing], {k: v for k, v in vals.items() if k not in ("product_id", "location_id")})
                return existing
        return super()._create_one(vals)

    def _after_write(self, ids: list[int], names: set[str], created: bool) -> None:
        if "inventory_quantity" in names:
            self.env.execute(f"UPDATE stock_quant SET inventory_quantity_set = 1 WHERE id IN ({qmarks(ids)})", ids)

    def action_apply_inventory(self, ids: list[int]) -> None:
        self.records(ids)
        self.env.execute(
            f"UPDATE stock_quant SET quantity = inventory_quantity, inventory_quantity = 0,"
            f" inventory_quantity_set = 0, write_date = ? WHERE id IN ({qmarks(ids)}) AND inventory_quantity_set = 1",
            [self.env.now, *ids])


MODELS = (Warehouse, Location, Quant)


def reserve(env: Any, order_ids: list[int]) -> None:
    """Reserve each line's demand on the quant of its order's warehouse, as far as the free quantity goes."""
    lines = env.rows(
        "SELECT l.id, l.product_id, l.product_uom_qty, w.lot_stock_id FROM sale_order_line l"
        " JOIN sale_order o ON o.id = l.order_id JOIN stock_warehouse w ON w.id = o.warehouse_id"
        " JOIN product_product p ON p.id = l.product_id"
        f" WHERE o.id IN ({qmarks(order_ids)}) AND p.type = 'product' ORDER BY o.id, l.sequence, l.id", order_ids)
    for line in lines:
        reserved = env.scalar("SELECT COALESCE(SUM(quantity), 0) FROM erp_reservation WHERE line_id = ?",
                              (line["id"],))
        demand = line["product_uom_qty"] - reserved
        quant = env.rows("SELECT id, quantity, reserved_quantity FROM stock_quant WHERE product_id = ?"
                         " AND location_id = ?", (line["product_id"], line["lot_stock_id"]))
        if demand <= 0 or not quant:
            continue
        take = min(demand, max(0.0, quant[0]["quantity"] - quant[0]["reserved_quantity"]))
        if take > 0:
            env.execute("INSERT INTO erp_reservation (line_id, quant_id, quantity) VALUES (?, ?, ?)",
                        (line["id"], quant[0]["id"], take))
            env.execute("UPDATE stock_quant SET reserved_quantity = reserved_quantity + ? WHERE id = ?",
                        (take, quant[0]["id"]))


def release(env: Any, order_ids: list[int]) -> None:
    """Give back every reservation the orders' lines hold."""
    held = env.rows(
        "SELECT r.quant_id, SUM(r.quantity) AS quantity FROM erp_reservation r"
        " JOIN sale_order_line l ON l.id = r.line_id"
        f" WHERE l.order_id IN ({qmarks(order_ids)}) GROUP BY r.quant_id", order_ids)
    env.conn.executemany("UPDATE stock_quant SET reserved_quantity = MAX(0, reserved_quantity - ?) WHERE id = ?",
                         [(row["quantity"], row["quant_id"]) for row in held])
    env.execute(f"DELETE FROM erp_reservation WHERE line_id IN (SELECT id FROM sale_order_line"
                f" WHERE order_id IN ({qmarks(order_ids)}))", order_ids)
