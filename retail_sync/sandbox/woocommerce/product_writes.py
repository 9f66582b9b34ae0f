"""How a product or variation write is applied: `prepare_object_for_database()` of the v3 products and variations
controllers, then `validate_props()` on save (reference §2.7, §6.9).

Stock rules kept on purpose: `stock_quantity` (or the undocumented relative `inventory_delta`) applies only while
`manage_stock` is on and is otherwise silently dropped; turning `manage_stock` off clears the quantity and forces
`backorders` to "no"; a variation's `manage_stock: "parent"` means "not my own"; nothing stops stock going negative.

Single `POST`/`PUT` bodies are first checked against the route's schema like WordPress does (`rest_invalid_param`,
strings must be strings: `"regular_price": 9.5` is refused); batch items skip that check and are coerced the PHP
way, as `batch_items()` calls the handlers directly.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from retail_sync.sandbox.common.db import dumps, loads
from retail_sync.sandbox.woocommerce.clock import to_gmt
from retail_sync.sandbox.woocommerce.product_store import stock_status_for
from retail_sync.sandbox.woocommerce.rest import WooError
from retail_sync.sandbox.woocommerce.wp_schema import (clean, format_decimal, sanitize_title, stock_amount,
                                                       string_to_bool)

if TYPE_CHECKING:
    from retail_sync.sandbox.woocommerce.app import WooSandbox

PRODUCT_TYPES = ["simple", "grouped", "external", "variable"]
POST_STATUSES = ["draft", "pending", "private", "publish"]
STOCK_STATUSES = ["instock", "outofstock", "onbackorder"]
BACKORDERS = ["no", "notify", "yes"]
TAX_STATUSES = ["taxable", "shipping", "none"]

# the writable part of each item schema, in schema order (WordPress reports invalid parameters in this order)
PRODUCT_SCHEMA: dict[str, Any] = {
    "name": "string", "slug": "string", "date_created": ["string", "null"], "date_created_gmt": ["string", "null"],
    "type": PRODUCT_TYPES, "status": POST_STATUSES + ["future", "auto-draft", "trash"], "featured": "boolean",
    "catalog_visibility": ["visible", "catalog", "search", "hidden"], "description": "string",
    "short_description": "string", "sku": "string", "regular_price": "string", "sale_price": "string",
    "virtual": "boolean", "downloadable": "boolean", "tax_status": TAX_STATUSES, "tax_class": "string",
    "manage_stock": "boolean", "stock_quantity": "integer", "stock_status": STOCK_STATUSES,
    "backorders": BACKORDERS, "low_stock_amount": ["integer", "null"], "sold_individually": "boolean",
    "weight": "string", "dimensions": "object", "reviews_allowed": "boolean", "parent_id": "integer",
    "purchase_note": "string", "attributes": "array", "default_attributes": "array", "menu_order": "integer",
    "meta_data": "array",
}
VARIATION_SCHEMA: dict[str, Any] = {
    "description": "string", "sku": "string", "regular_price": "string", "sale_price": "string",
    "status": POST_STATUSES, "virtual": "boolean", "downloadable": "boolean", "tax_status": TAX_STATUSES,
    "tax_class": "string", "manage_stock": "boolean", "stock_quantity": "integer", "stock_status": STOCK_STATUSES,
    "backorders": BACKORDERS, "low_stock_amount": ["integer", "null"], "weight": "string", "dimensions": "object",
    "attributes": "array", "menu_order": "integer", "meta_data": "array",
}  # `manage_stock` reads back as "parent" but is written as a boolean ("parent" only slips through a batch)


# ---- the object being written -----------------------------------------------------------------------------------
@dataclass
class Draft:
    id: int | None
    type: str
    parent_id: int = 0
    sku: str = ""
    status: str = "publish"
    manage_stock: bool = False
    stock_quantity: int | None = None
    data: dict[str, Any] = field(default_factory=dict)
    date_created_gmt: str | None = None

    @classmethod
    def of(cls, row: Any) -> "Draft":
        return cls(id=row["id"], type=row["type"], parent_id=row["parent_id"], sku=row["sku"] or "",
                   status=row["status"], manage_stock=row["manage_stock"] == "1", stock_quantity=row["stock_quantity"],
                   data=loads(row["data"]), date_created_gmt=row["date_created_gmt"])

    @property
    def backorders(self) -> str:
        return self.data.get("backorders", "no")

    def stock_status(self) -> str:
        if self.manage_stock:
            return stock_status_for(self.stock_quantity, self.backorders)
        return self.data.get("stock_status", "instock")


def apply_product(store: "WooSandbox", draft: Draft, params: dict[str, Any]) -> Draft:
    """`WC_REST_Products_Controller::prepare_object_for_database()` onto `draft` (a copy is returned)."""
    draft = replace(draft, data=dict(draft.data))
    if "type" in params:
        draft.type = params["type"] if params["type"] in PRODUCT_TYPES else "simple"
    data = draft.data
    for name in ("name", "description", "short_description", "slug", "purchase_note", "tax_class", "weight"):
        if params.get(name) is not None:
            data[name] = str(params[name])
    for name in ("featured", "virtual", "downloadable", "sold_individually", "reviews_allowed"):
        if params.get(name) is not None:
            data[name] = string_to_bool(params[name])
    for name in ("catalog_visibility", "tax_status"):
        if params.get(name) is not None:
            data[name] = params[name]
    if params.get("menu_order") is not None:
        data["menu_order"] = stock_amount(params["menu_order"])
    if isinstance(params.get("dimensions"), dict):
        data["dimensions"] = {k: str(params["dimensions"].get(k, "")) for k in ("length", "width", "height")}
    if params.get("status") is not None:
        draft.status = params["status"] if params["status"] in PRODUCT_SCHEMA["status"] else "draft"
    if params.get("sku") is not None:
        _set_sku(store, draft, params["sku"])
    if isinstance(params.get("attributes"), list):
        data["attributes"] = _product_attributes(params["attributes"])
    if isinstance(params.get("default_attributes"), list):
        data["default_attributes"] = [{"id": 0, "name": str(a.get("name", "")), "option": str(a.get("option", ""))}
                                      for a in params["default_attributes"] if isinstance(a, dict)]
    if draft.type in ("variable", "grouped"):
        data.update(regular_price="", sale_price="", price="")
    else:
        _set_prices(data, params)
    if params.get("parent_id") is not None:
        draft.parent_id = stock_amount(params["parent_id"])
    _apply_product_stock(draft, params)
    _apply_meta(store, data, params)
    _apply_date_created(store, draft, params)
    return _validate_props(draft)


def apply_variation(store: "WooSandbox", draft: Draft, params: dict[str, Any], parent: Any) -> Draft:
    """`WC_REST_Product_Variations_Controller::prepare_object_for_database()` onto `draft`."""
    draft = replace(draft, data=dict(draft.data), type="variation", parent_id=parent["id"])
    data = draft.data
    if params.get("status") is not None:
        draft.status = params["status"] if params["status"] in PRODUCT_SCHEMA["status"] else "draft"
    if params.get("sku") is not None:
        _set_sku(store, draft, params["sku"])
    for name in ("virtual", "downloadable"):
        if params.get(name) is not None:
            data[name] = string_to_bool(params[name])
    if params.get("manage_stock") is not None:
        draft.manage_stock = string_to_bool(params["manage_stock"])  # "parent" is false: stock not its own
    if params.get("stock_status") is not None:
        data["stock_status"] = params["stock_status"]
    if params.get("backorders") is not None:
        data["backorders"] = params["backorders"]
    if draft.manage_stock:
        _apply_quantity(draft, params)
    else:
        data["backorders"], draft.stock_quantity = "no", None
        data.pop("low_stock_amount", None)
    _set_prices(data, params)
    for name in ("tax_class", "description", "weight"):
        if params.get(name) is not None:
            data[name] = str(params[name])
    if params.get("tax_status") is not None:
        data["tax_status"] = params["tax_status"]
    if isinstance(params.get("dimensions"), dict):
        data["dimensions"] = {k: str(params["dimensions"].get(k, "")) for k in ("length", "width", "height")}
    if isinstance(params.get("attributes"), list):
        data["attributes"] = _variation_attributes(params["attributes"], loads(parent["data"]))
    if params.get("menu_order"):
        data["menu_order"] = stock_amount(params["menu_order"])
    _apply_meta(store, data, params)
    if draft.id is None:
        options = [a["option"] for a in data.get("attributes", [])]
        parent_name = loads(parent["data"]).get("name", "")
        data["name"] = f"{parent_name} - {', '.join(options)}" if options else parent_name
        data["slug"] = sanitize_title(data["name"])
    return _validate_props(draft)


def _apply_product_stock(draft: Draft, params: dict[str, Any]) -> None:
    data = draft.data
    stock_status = params["stock_status"] if params.get("stock_status") is not None else draft.stock_status()
    if params.get("manage_stock") is not None:
        draft.manage_stock = string_to_bool(params["manage_stock"])
    if params.get("backorders") is not None:
        data["backorders"] = params["backorders"]
    if draft.type in ("grouped", "external"):
        draft.manage_stock, draft.stock_quantity, data["backorders"] = False, None, "no"
        data["stock_status"] = stock_status if draft.type == "grouped" else "instock"
    elif draft.manage_stock:
        if draft.type != "variable":
            data["stock_status"] = stock_status
        _apply_quantity(draft, params)
    else:
        draft.stock_quantity = None
        data["stock_status"] = stock_status
        data.pop("low_stock_amount", None)


def _apply_quantity(draft: Draft, params: dict[str, Any]) -> None:
    if params.get("stock_quantity") is not None:
        draft.stock_quantity = stock_amount(params["stock_quantity"])
    elif params.get("inventory_delta") is not None:
        draft.stock_quantity = stock_amount(draft.stock_quantity) + stock_amount(params["inventory_delta"])
    if "low_stock_amount" in params:
        low = params["low_stock_amount"]
        if low is None:
            draft.data.pop("low_stock_amount", None)
        else:
            draft.data["low_stock_amount"] = stock_amount(low)


def _validate_props(draft: Draft) -> Draft:
    """`WC_Product::validate_props()`: without stock management there is no quantity and no backorders."""
    if not draft.manage_stock:
        draft.stock_quantity = None
        draft.data["backorders"] = "no"
        draft.data.pop("low_stock_amount", None)
    else:
        draft.stock_quantity = stock_amount(draft.stock_quantity)
        draft.data.pop("stock_status", None)  # derived from quantity and backorders from now on
    return draft


def _set_sku(store: "WooSandbox", draft: Draft, raw: Any) -> None:
    """`WC_Product::set_sku()`: unique among products and variations that are not in the trash."""
    sku = clean(raw)
    if sku:
        taken = store.db.one("SELECT id FROM products WHERE sku = ? AND status != 'trash' AND id != ? LIMIT 1",
                             (sku, draft.id or 0))
        if taken is not None:
            raise WooError(400, "product_invalid_sku", "Invalid or duplicated SKU.", resource_id=taken["id"])
    draft.sku = sku


def _set_prices(data: dict[str, Any], params: dict[str, Any]) -> None:
    if params.get("regular_price") is not None:
        data["regular_price"] = format_decimal(params["regular_price"])
    if params.get("sale_price") is not None:
        data["sale_price"] = format_decimal(params["sale_price"])
    regular, sale = data.get("regular_price", ""), data.get("sale_price", "")
    on_sale = sale != "" and regular != "" and Decimal(sale) < Decimal(regular)
    data["price"] = sale if on_sale else regular  # the `_price` meta the store keeps in sync on save


def _product_attributes(items: list[Any]) -> list[dict[str, Any]]:
    """Custom (local) attributes only; an `id` names a global attribute taxonomy, which this store has none of."""
    out = []
    for item in items:
        if not isinstance(item, dict) or item.get("id") or not item.get("name"):
            continue
        if "options" not in item:
            continue
        options = item["options"] if isinstance(item["options"], list) else str(item["options"]).split("|")
        out.append({"name": clean(item["name"]), "position": stock_amount(item.get("position", 0)),
                    "visible": bool(item.get("visible")), "variation": bool(item.get("variation")),
                    "options": [str(o).strip() for o in options]})
    return out


def _variation_attributes(items: list[Any], parent_data: dict[str, Any]) -> list[dict[str, Any]]:
    """Only attributes the parent declares with `variation: true` are kept, as the controller does."""
    declared = {sanitize_title(a["name"]): a["name"] for a in parent_data.get("attributes", []) if a.get("variation")}
    out = []
    for item in items:
        if not isinstance(item, dict) or item.get("id") or not item.get("name"):
            continue
        name = declared.get(sanitize_title(str(item["name"])))
        if name is not None:
            out.append({"name": name, "option": clean(item.get("option", ""))})
    return out


def _apply_meta(store: "WooSandbox", data: dict[str, Any], params: dict[str, Any]) -> None:
    """`WC_Data::update_meta_data()` for each entry: by `id` when given, else by key (one row per key survives);
    a null value deletes on save."""
    if not isinstance(params.get("meta_data"), list):
        return
    meta = [dict(m) for m in data.get("meta_data", [])]
    for entry in params["meta_data"]:
        if not isinstance(entry, dict) or "key" not in entry:
            continue
        key, value = str(entry["key"]), entry.get("value")
        target = next((m for m in meta if entry.get("id") and m["id"] == entry["id"]), None)
        if target is None:
            matches = [m for m in meta if m["key"] == key]
            for match in matches[1:]:
                match["value"] = None
            target = matches[0] if matches else None
        if target is None:
            meta.append({"id": _next_meta_id(store), "key": key, "value": value})
        else:
            target.update(key=key, value=value)
    data["meta_data"] = [m for m in meta if m["value"] is not None]


def _next_meta_id(store: "WooSandbox") -> int:
    return store.db.execute("INSERT INTO meta_ids DEFAULT VALUES").lastrowid


def _apply_date_created(store: "WooSandbox", draft: Draft, params: dict[str, Any]) -> None:
    for name, is_gmt in (("date_created", False), ("date_created_gmt", True)):
        raw = params.get(name)
        if not raw:
            continue
        try:
            wall = dt.datetime.fromisoformat(str(raw).rstrip("Z")).replace(tzinfo=None)
        except ValueError:
            continue
        zone = dt.timezone.utc if is_gmt else store.clock.zone
        draft.date_created_gmt = to_gmt(wall.replace(tzinfo=zone))


# ---- saving ------------------------------------------------------------------------------------------------
def save(store: "WooSandbox", conn: Any, draft: Draft, now: str) -> int:
    """Insert or update the row (inside the caller's transaction); a new slug is made unique like WordPress's."""
    if draft.id is None and draft.type != "variation":
        draft.data["slug"] = _unique_slug(conn, draft.data.get("slug") or sanitize_title(draft.data.get("name", "")))
    values = (draft.parent_id, draft.type, draft.sku, draft.status, "1" if draft.manage_stock else "0",
              draft.stock_quantity, now, dumps(draft.data))
    if draft.id is None:
        cursor = conn.execute("INSERT INTO products (parent_id, type, sku, status, manage_stock, stock_quantity,"
                              " date_modified_gmt, data, date_created_gmt) VALUES (?,?,?,?,?,?,?,?,?)",
                              (*values, draft.date_created_gmt or now))
        return cursor.lastrowid
    conn.execute("UPDATE products SET parent_id=?, type=?, sku=?, status=?, manage_stock=?, stock_quantity=?,"
                 " date_modified_gmt=?, data=?, date_created_gmt=? WHERE id=?",
                 (*values, draft.date_created_gmt or now, draft.id))
    return draft.id


def _unique_slug(conn: Any, slug: str) -> str:
    slug = slug or "product"
    candidate, suffix = slug, 2
    while conn.execute("SELECT 1 FROM products WHERE type != 'variation' AND json_extract(data, '$.slug') = ?",
                       (candidate,)).fetchone():
        candidate, suffix = f"{slug}-{suffix}", suffix + 1
    return candidate
