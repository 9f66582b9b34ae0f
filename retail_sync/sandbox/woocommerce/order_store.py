"""Orders and refunds as rows: the columns the store filters and sorts on, and the rest as one JSON document.

Refunds live in the same table as orders (type `shop_order_refund`, `parent_id` = the order), as they do in
WooCommerce's HPOS table, so order and refund ids come from one sequence. Order item ids and meta ids come from
`order_counters`, one sequence per kind, as WooCommerce's item and meta tables have.

The document keeps money as 2-decimal strings (what the store saves after rounding) and per-rate taxes as plain
decimals; `order_render` turns it into the REST shape.
"""
from __future__ import annotations

import secrets
import string
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from retail_sync.sandbox.common.db import dumps, loads
from retail_sync.sandbox.woocommerce.clock import WC_FORMAT

if TYPE_CHECKING:
    from retail_sync.sandbox.woocommerce.app import WooSandbox

ORDER = "shop_order"
REFUND = "shop_order_refund"
WC_VERSION = "8.2.2"

SCHEMA = """
CREATE TABLE IF NOT EXISTS orders (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    type TEXT NOT NULL,                     -- shop_order | shop_order_refund
    parent_id INTEGER NOT NULL DEFAULT 0,
    status TEXT NOT NULL,
    customer_id INTEGER NOT NULL DEFAULT 0,
    created_via TEXT NOT NULL DEFAULT '',
    date_created_gmt TEXT NOT NULL,
    date_modified_gmt TEXT NOT NULL,
    search_text TEXT NOT NULL DEFAULT '',
    data TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS ix_orders_created ON orders (type, date_created_gmt, id);
CREATE INDEX IF NOT EXISTS ix_orders_modified ON orders (type, date_modified_gmt, id);
CREATE INDEX IF NOT EXISTS ix_orders_status ON orders (type, status);
CREATE INDEX IF NOT EXISTS ix_orders_parent ON orders (parent_id);
CREATE INDEX IF NOT EXISTS ix_orders_customer ON orders (customer_id);
CREATE TABLE IF NOT EXISTS order_products (
    product_id INTEGER NOT NULL,
    order_id INTEGER NOT NULL,
    PRIMARY KEY (product_id, order_id)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS order_counters (
    name TEXT PRIMARY KEY,
    value INTEGER NOT NULL
);
"""
TABLES = ("orders", "order_products", "order_counters")

BILLING_FIELDS = ("first_name", "last_name", "company", "address_1", "address_2", "city", "state", "postcode",
                  "country", "email", "phone")
SHIPPING_FIELDS = ("first_name", "last_name", "company", "address_1", "address_2", "city", "state", "postcode",
                   "country", "phone")
ZERO_TOTALS = {"discount_total": "0.00", "discount_tax": "0.00", "shipping_total": "0.00", "shipping_tax": "0.00",
               "cart_tax": "0.00", "total": "0.00", "total_tax": "0.00"}


@dataclass
class Order:
    """One order (or refund) loaded for reading or for one write."""

    id: int
    type: str
    parent_id: int
    status: str
    customer_id: int
    created_via: str
    date_created_gmt: str
    date_modified_gmt: str
    doc: dict[str, Any] = field(default_factory=dict)

    @property
    def line_items(self) -> list[dict[str, Any]]:
        return self.doc["line_items"]

    @property
    def total(self) -> str:
        return self.doc["totals"]["total"]


def now_gmt(store: "WooSandbox") -> str:
    return store.clock.now_utc().strftime(WC_FORMAT)


def new_order_key() -> str:
    """`wc_order_` + 13 letters/digits, as `wc_generate_order_key()` makes it."""
    alphabet = string.ascii_letters + string.digits
    return "wc_order_" + "".join(secrets.choice(alphabet) for _ in range(13))


def new_order_doc(created_via: str) -> dict[str, Any]:
    return {
        "order_key": new_order_key(), "created_via": created_via, "version": WC_VERSION, "currency": "EUR",
        "prices_include_tax": False, "customer_ip_address": "", "customer_user_agent": "", "customer_note": "",
        "billing": {key: "" for key in BILLING_FIELDS}, "shipping": {key: "" for key in SHIPPING_FIELDS},
        "payment_method": "", "payment_method_title": "", "transaction_id": "", "date_paid_gmt": None,
        "date_completed_gmt": None, "cart_hash": "", "meta_data": [], "line_items": [], "tax_lines": [],
        "shipping_lines": [], "fee_lines": [], "coupon_lines": [], "totals": dict(ZERO_TOTALS),
        "stock_reduced": False,
    }


# ---- rows ----------------------------------------------------------------------------------------------------------
def from_row(row: Any) -> Order:
    return Order(id=row["id"], type=row["type"], parent_id=row["parent_id"], status=row["status"],
                 customer_id=row["customer_id"], created_via=row["created_via"],
                 date_created_gmt=row["date_created_gmt"], date_modified_gmt=row["date_modified_gmt"],
                 doc=loads(row["data"]))


def load(store: "WooSandbox", order_id: int, kind: str | None = ORDER) -> Order | None:
    """The order (or, with kind=None, the order or refund) with this id."""
    row = store.db.one("SELECT * FROM orders WHERE id = ?", (order_id,))
    if row is None or (kind is not None and row["type"] != kind):
        return None
    return from_row(row)


def exists(store: "WooSandbox", order_id: int) -> bool:
    """Whether an order (not a refund) has this id, without loading it."""
    return store.db.one("SELECT 1 FROM orders WHERE id = ? AND type = ?", (order_id, ORDER)) is not None


def refunds_of(store: "WooSandbox", order_ids: list[int]) -> dict[int, list[Order]]:
    """Refunds per order, newest first (as `WC_Order::get_refunds()` lists them)."""
    found: dict[int, list[Order]] = {order_id: [] for order_id in order_ids}
    if not order_ids:
        return found
    marks = ",".join("?" * len(order_ids))
    rows = store.db.all(f"SELECT * FROM orders WHERE type = '{REFUND}' AND parent_id IN ({marks})"  # noqa: S608
                        " ORDER BY date_created_gmt DESC, id DESC", order_ids)
    for row in rows:
        found[row["parent_id"]].append(from_row(row))
    return found


def refunded_total(store: "WooSandbox", order_id: int) -> Decimal:
    """The amounts refunded so far on an order."""
    total = Decimal("0")
    for row in store.db.all(f"SELECT data FROM orders WHERE type = '{REFUND}' AND parent_id = ?",  # noqa: S608
                            (order_id,)):
        total += Decimal(loads(row["data"])["amount"])
    return total


def insert(store: "WooSandbox", order: Order) -> int:
    cursor = store.db.execute(
        "INSERT INTO orders (type, parent_id, status, customer_id, created_via, date_created_gmt, date_modified_gmt,"
        " search_text, data) VALUES (?,?,?,?,?,?,?,?,?)",
        (order.type, order.parent_id, order.status, order.customer_id, order.created_via, order.date_created_gmt,
         order.date_modified_gmt, _search_text(order), dumps(order.doc)))
    order.id = cursor.lastrowid
    _index_products(store, order)
    return order.id


def save(store: "WooSandbox", order: Order) -> None:
    store.db.execute(
        "UPDATE orders SET parent_id=?, status=?, customer_id=?, date_modified_gmt=?, search_text=?, data=?"
        " WHERE id=?",
        (order.parent_id, order.status, order.customer_id, order.date_modified_gmt, _search_text(order),
         dumps(order.doc), order.id))
    _index_products(store, order)


def delete(store: "WooSandbox", order_id: int) -> None:
    """Remove an order for good, with its refunds and product index (notes are removed by `notes`)."""
    store.db.execute("DELETE FROM order_products WHERE order_id = ?", (order_id,))
    store.db.execute("DELETE FROM orders WHERE id = ? OR (type = ? AND parent_id = ?)", (order_id, REFUND, order_id))


def next_id(store: "WooSandbox", sequence: str) -> int:
    """The next id of an order item (`item`) or meta row (`order_meta`, `item_meta`)."""
    return store.db.one(
        "INSERT INTO order_counters (name, value) VALUES (?, 1)"
        " ON CONFLICT(name) DO UPDATE SET value = value + 1 RETURNING value", (sequence,))[0]


def _index_products(store: "WooSandbox", order: Order) -> None:
    """`GET /orders?product=` matches the line items' `_product_id` (the parent for a variation)."""
    if order.type != ORDER:
        return
    store.db.execute("DELETE FROM order_products WHERE order_id = ?", (order.id,))
    product_ids = {item["product_id"] for item in order.line_items if item.get("product_id")}
    store.db.conn.executemany("INSERT OR IGNORE INTO order_products (product_id, order_id) VALUES (?, ?)",
                              [(product_id, order.id) for product_id in product_ids])


def _search_text(order: Order) -> str:
    if order.type != ORDER:
        return ""
    doc = order.doc
    parts = [str(order.id), doc["order_key"], *doc["billing"].values(), *doc["shipping"].values(),
             *(item["name"] for item in doc["line_items"])]
    return " ".join(str(part) for part in parts if part).lower()


# ---- meta data (WC_Data::update_meta_data semantics) ---------------------------------------------------------------
def meta_value(metas: list[dict[str, Any]], key: str) -> Any:
    for meta in metas:
        if meta["key"] == key:
            return meta["value"]
    return None


def update_meta(store: "WooSandbox", metas: list[dict[str, Any]], key: str, value: Any, meta_id: Any = None,
                sequence: str = "order_meta") -> None:
    """Upsert by id, else by key (all rows with that key collapse to one); a None value deletes on save."""
    target = None
    if meta_id:
        target = next((meta for meta in metas if meta["id"] == meta_id), None)
    else:
        same_key = [meta for meta in metas if meta["key"] == key]
        if same_key:
            target = same_key[0]
            for extra in same_key[1:]:
                extra["value"] = None
    if target is None:
        metas.append({"id": next_id(store, sequence), "key": key, "value": value})
    else:
        target["key"], target["value"] = key, value
    metas[:] = [meta for meta in metas if meta["value"] is not None]


def delete_meta(metas: list[dict[str, Any]], key: str) -> None:
    metas[:] = [meta for meta in metas if meta["key"] != key]
