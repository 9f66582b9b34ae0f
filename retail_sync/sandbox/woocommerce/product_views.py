"""REST representations of products and variations, with the keys, order and types of a WooCommerce 8.2 store.

Two shapes exist for a variation, as on a real store: `/products/{id}` (the products controller, also what a
`product.*` webhook carries for a variation id) and `/products/{parent}/variations/{id}` (the variations controller).
Lists are rendered in one go (`render_products`) so parents and children are fetched once per page, not per row.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any, Sequence
from urllib.parse import urlencode

from retail_sync.sandbox.common.db import loads
from retail_sync.sandbox.woocommerce.clock import parse_gmt
from retail_sync.sandbox.woocommerce.product_store import product_row, stock_status_for
from retail_sync.sandbox.woocommerce.rest import rest_url

if TYPE_CHECKING:
    from retail_sync.sandbox.woocommerce.app import WooSandbox

UNCATEGORIZED = {"id": 15, "name": "Uncategorized", "slug": "uncategorized"}
CURRENCY_SYMBOL = "&euro;"
NO_DIMENSIONS = {"length": "", "width": "", "height": ""}


@dataclass
class Related:
    """Parents of the variations and children of the variable products being rendered, fetched once."""

    parents: dict[int, Any] = field(default_factory=dict)
    children: dict[int, list[Any]] = field(default_factory=dict)

    @classmethod
    def load(cls, store: "WooSandbox", rows: Sequence[Any]) -> "Related":
        related = cls()
        parent_ids = sorted({r["parent_id"] for r in rows if r["type"] == "variation"})
        variable_ids = sorted({r["id"] for r in rows if r["type"] == "variable"})
        if parent_ids:
            marks = ",".join("?" * len(parent_ids))
            related.parents = {r["id"]: r for r in store.db.all(f"SELECT * FROM products WHERE id IN ({marks})",
                                                                  parent_ids)}
        if variable_ids:
            marks = ",".join("?" * len(variable_ids))
            for child in store.db.all(f"SELECT * FROM products WHERE parent_id IN ({marks}) AND type = 'variation'"
                                      " ORDER BY id", variable_ids):
                related.children.setdefault(child["parent_id"], []).append(child)
        return related


@dataclass(frozen=True)
class Stock:
    manage: bool | str
    quantity: int | None
    backorders: str
    status: str

    @property
    def backordered(self) -> bool:
        return self.status == "onbackorder" or (self.manage is not False and self.backorders != "no"
                                                 and (self.quantity or 0) < 0)


def stock_view(row: Any, data: dict[str, Any], related: Related) -> Stock:
    """What `managing_stock()`, `get_stock_quantity()`, `get_backorders()`, `get_stock_status()` show."""
    if row["type"] == "variation" and row["manage_stock"] != "1":
        parent = related.parents.get(row["parent_id"])
        if parent is not None and parent["manage_stock"] == "1":
            backorders = loads(parent["data"]).get("backorders", "no")
            return Stock("parent", parent["stock_quantity"], backorders,
                         stock_status_for(parent["stock_quantity"], backorders))
    if row["manage_stock"] == "1":
        backorders = data.get("backorders", "no")
        return Stock(True, row["stock_quantity"], backorders, stock_status_for(row["stock_quantity"], backorders))
    if row["type"] == "variable":
        return Stock(False, None, "no", _status_from_children(row, related))
    return Stock(False, None, "no", data.get("stock_status", "instock"))


def _status_from_children(row: Any, related: Related) -> str:
    """`WC_Product_Variable::validate_props()` for a parent without its own stock: from published children."""
    own = Related(parents={row["id"]: row}, children=related.children)
    statuses = {stock_view(child, loads(child["data"]), own).status
                for child in related.children.get(row["id"], []) if child["status"] == "publish"}
    if "instock" in statuses:
        return "instock"
    return "onbackorder" if "onbackorder" in statuses else "outofstock"


# ---- prices -------------------------------------------------------------------------------------------------
def _on_sale(data: dict[str, Any]) -> bool:
    sale, regular = _decimal(data.get("sale_price")), _decimal(data.get("regular_price"))
    return sale is not None and regular is not None and sale < regular


def _decimal(text: Any) -> Decimal | None:
    try:
        return Decimal(str(text)) if text not in (None, "") else None
    except InvalidOperation:
        return None


def _amount_html(price: Decimal) -> str:
    return ('<span class="woocommerce-Price-amount amount"><bdi><span class="woocommerce-Price-currencySymbol">'
            f"{CURRENCY_SYMBOL}</span>{price:.2f}</bdi></span>")


def _price_html(price: str, data: dict[str, Any], child_prices: list[Decimal] | None) -> str:
    if child_prices is not None:
        if not child_prices:
            return ""
        low, high = min(child_prices), max(child_prices)
        return _amount_html(low) if low == high else f"{_amount_html(low)} &ndash; {_amount_html(high)}"
    amount = _decimal(price)
    if amount is None:
        return ""
    if _on_sale(data):
        return (f'<del aria-hidden="true">{_amount_html(_decimal(data["regular_price"]) or amount)}</del> '
                f"<ins>{_amount_html(amount)}</ins>")
    return _amount_html(amount)


def _prices(row: Any, data: dict[str, Any], related: Related) -> tuple[str, str, str, bool, str]:
    """(price, regular_price, sale_price, on_sale, price_html); a variable product shows its cheapest child."""
    if row["type"] != "variable":
        price = data.get("price", "")
        return price, data.get("regular_price", ""), data.get("sale_price", ""), _on_sale(data), \
            _price_html(price, data, None)
    children = [loads(c["data"]) for c in related.children.get(row["id"], []) if c["status"] == "publish"]
    priced = sorted((_decimal(c.get("price")), c.get("price", "")) for c in children
                    if _decimal(c.get("price")) is not None)
    price = priced[0][1] if priced else ""
    return price, "", "", any(_on_sale(c) for c in children), \
        _price_html(price, data, [amount for amount, _ in priced])


# ---- shapes -------------------------------------------------------------------------------------------------
def render_products(store: "WooSandbox", rows: Sequence[Any], context: str = "view") -> list[dict[str, Any]]:
    related = Related.load(store, rows)
    return [_product(store, row, related, context) for row in rows]


def render_product(store: "WooSandbox", row: Any, context: str = "view") -> dict[str, Any]:
    """The products controller's object for a product or a variation."""
    return render_products(store, [row], context)[0]


def render_product_any(store: "WooSandbox", product_id: int) -> dict[str, Any] | None:
    row = product_row(store, product_id)
    return None if row is None else render_product(store, row)


def render_variations(store: "WooSandbox", rows: Sequence[Any], context: str = "view") -> list[dict[str, Any]]:
    related = Related.load(store, rows)
    return [_variation(store, row, related, context) for row in rows]


def render_variation(store: "WooSandbox", row: Any, context: str = "view") -> dict[str, Any]:
    """The variations controller's object (`/products/{parent}/variations/{id}`)."""
    return render_variations(store, [row], context)[0]


def _product(store: "WooSandbox", row: Any, related: Related, context: str) -> dict[str, Any]:
    data = loads(row["data"])
    stock = stock_view(row, data, related)
    price, regular, sale, on_sale, price_html = _prices(row, data, related)
    is_variation = row["type"] == "variation"
    links: dict[str, Any] = {"self": [{"href": _url(store, f"/products/{row['id']}")}],
                             "collection": [{"href": _url(store, "/products")}]}
    if row["parent_id"]:
        links["up"] = [{"href": _url(store, f"/products/{row['parent_id']}")}]
    return {
        "id": row["id"], "name": data.get("name", ""), "slug": data.get("slug", ""),
        "permalink": _permalink(store, row, data, related), **_dates(store, row),
        "type": row["type"], "status": row["status"], "featured": bool(data.get("featured", False)),
        "catalog_visibility": data.get("catalog_visibility", "visible"),
        "description": _content(data.get("description", ""), context),
        "short_description": _content(data.get("short_description", ""), context),
        "sku": row["sku"] or "", "price": price, "regular_price": regular, "sale_price": sale,
        "date_on_sale_from": None, "date_on_sale_from_gmt": None, "date_on_sale_to": None, "date_on_sale_to_gmt": None,
        "on_sale": on_sale, "purchasable": price != "", "total_sales": int(data.get("total_sales", 0)),
        "virtual": bool(data.get("virtual", False)), "downloadable": bool(data.get("downloadable", False)),
        "downloads": [], "download_limit": -1, "download_expiry": -1, "external_url": "", "button_text": "",
        "tax_status": data.get("tax_status", "taxable"), "tax_class": data.get("tax_class", ""),
        "manage_stock": stock.manage, "stock_quantity": stock.quantity, "backorders": stock.backorders,
        "backorders_allowed": stock.backorders != "no", "backordered": stock.backordered,
        "low_stock_amount": data.get("low_stock_amount") if stock.manage is True else None,
        "sold_individually": bool(data.get("sold_individually", False)), "weight": data.get("weight", ""),
        "dimensions": dict(data.get("dimensions", NO_DIMENSIONS)),
        "shipping_required": not data.get("virtual", False),
        "shipping_taxable": data.get("tax_status", "taxable") in ("taxable", "shipping"),
        "shipping_class": "", "shipping_class_id": 0, "reviews_allowed": not is_variation,
        "average_rating": "0.00", "rating_count": 0, "upsell_ids": [], "cross_sell_ids": [],
        "parent_id": row["parent_id"], "purchase_note": data.get("purchase_note", ""),
        "categories": [] if is_variation else [dict(UNCATEGORIZED)], "tags": [], "images": [],
        "attributes": _variation_attributes(data) if is_variation else _product_attributes(data),
        "default_attributes": data.get("default_attributes", []),
        "variations": [c["id"] for c in related.children.get(row["id"], [])] if row["type"] == "variable" else [],
        "grouped_products": [], "menu_order": int(data.get("menu_order", 0)), "price_html": price_html,
        "related_ids": [], "meta_data": data.get("meta_data", []), "stock_status": stock.status,
        "has_options": row["type"] == "variable", "post_password": "",
        "_links": links,
    }


def _variation(store: "WooSandbox", row: Any, related: Related, context: str) -> dict[str, Any]:
    data = loads(row["data"])
    stock = stock_view(row, data, related)
    price, regular, sale, on_sale, _ = _prices(row, data, related)
    base = f"/products/{row['parent_id']}/variations"
    return {
        "id": row["id"], **_dates(store, row),
        "description": _content(data.get("description", ""), context),
        "permalink": _permalink(store, row, data, related), "sku": row["sku"] or "",
        "price": price, "regular_price": regular, "sale_price": sale,
        "date_on_sale_from": None, "date_on_sale_from_gmt": None, "date_on_sale_to": None, "date_on_sale_to_gmt": None,
        "on_sale": on_sale, "status": row["status"], "purchasable": price != "",
        "virtual": bool(data.get("virtual", False)), "downloadable": bool(data.get("downloadable", False)),
        "downloads": [], "download_limit": -1, "download_expiry": -1,
        "tax_status": data.get("tax_status", "taxable"), "tax_class": data.get("tax_class", ""),
        "manage_stock": stock.manage, "stock_quantity": stock.quantity, "stock_status": stock.status,
        "backorders": stock.backorders, "backorders_allowed": stock.backorders != "no",
        "backordered": stock.backordered,
        "low_stock_amount": data.get("low_stock_amount") if stock.manage is True else None,
        "weight": data.get("weight", ""), "dimensions": dict(data.get("dimensions", NO_DIMENSIONS)),
        "shipping_class": "", "shipping_class_id": 0, "image": None,
        "attributes": _variation_attributes(data), "menu_order": int(data.get("menu_order", 0)),
        "meta_data": data.get("meta_data", []),
        "_links": {"self": [{"href": _url(store, f"{base}/{row['id']}")}],
                   "collection": [{"href": _url(store, base)}],
                   "up": [{"href": _url(store, f"/products/{row['parent_id']}")}]},
    }


def _dates(store: "WooSandbox", row: Any) -> dict[str, str | None]:
    created, created_gmt = store.clock.pair(parse_gmt(row["date_created_gmt"]))
    modified, modified_gmt = store.clock.pair(parse_gmt(row["date_modified_gmt"]))
    return {"date_created": created, "date_created_gmt": created_gmt, "date_modified": modified,
            "date_modified_gmt": modified_gmt}


def _product_attributes(data: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"id": 0, "name": a["name"], "position": int(a.get("position", 0)), "visible": bool(a.get("visible")),
             "variation": bool(a.get("variation")), "options": list(a.get("options", []))}
            for a in data.get("attributes", [])]


def _variation_attributes(data: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"id": 0, "name": a["name"], "option": a["option"]} for a in data.get("attributes", [])]


def _permalink(store: "WooSandbox", row: Any, data: dict[str, Any], related: Related) -> str:
    if row["type"] != "variation":
        return f"{store.home_url}product/{data.get('slug', '')}/"
    parent = related.parents.get(row["parent_id"])
    slug = loads(parent["data"]).get("slug", "") if parent is not None else ""
    query = urlencode([(f"attribute_{a['name'].lower()}", a["option"]) for a in data.get("attributes", [])])
    return f"{store.home_url}product/{slug}/" + (f"?{query}" if query else "")


def _content(text: str, context: str) -> str:
    """`wpautop()` in view context (one paragraph per blank-line block), raw in edit context."""
    if context == "edit" or not text:
        return text
    return "".join(f"<p>{block.strip()}</p>\n" for block in text.split("\n\n") if block.strip())


def _url(store: "WooSandbox", route: str) -> str:
    return rest_url(store.home_url, "/wc/v3" + route)
