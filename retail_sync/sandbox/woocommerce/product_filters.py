"""The catalog filters of `GET /products` (and of `/products/{id}/variations`, which has all but the taxonomy ones)
as SQL conditions, matching what the rows render as (`product_views`), not a stored copy that could drift.

- `stock_status`: the real store filters its `_stock_status` meta, which it keeps in sync on every save; here the
  status is derived in SQL exactly as `product_views.stock_view` derives it (managed: quantity > 0, else
  backorders; a `manage_stock: "parent"` variation: its parent's; an unmanaged variable product: its published
  children). Only variations and variable products pay for a subquery; the sku index narrows a `sku=` query first.
- `tax_class`: the `_tax_class` meta, `standard` meaning "" (enum: standard + the store's classes).
- `on_sale`: `wc_get_product_ids_on_sale()`: published rows with a sale price below the regular price, plus the
  parents of such variations; `false` is the complement.
- `featured`: the `featured` visibility term (variations never have it).
- `min_price`/`max_price`: `wc_get_min_max_price_meta_query()`: `_price BETWEEN min AND max` (floatval, an empty
  price counts as 0; PHP's `empty()` means "0" alone does not switch the filter on); a variable product matches
  when one of its published children's prices does.
- `category`/`tag`/`shipping_class`: term ids. Every product is in "Uncategorized" (15) and nothing else exists,
  so category 15 keeps all products (not variations, which have no terms) and any other id matches nothing.
"""
from __future__ import annotations

import re
from typing import Any

from retail_sync.sandbox.woocommerce.product_views import UNCATEGORIZED

TAX_CLASSES = ["standard", "reduced-rate", "zero-rate"]  # WooCommerce's default classes
_NO_MAX = float(2 ** 63 - 1)  # PHP_INT_MAX


def _managed(t: str) -> str:
    return (f"(CASE WHEN COALESCE({t}.stock_quantity, 0) > 0 THEN 'instock'"
            f" WHEN COALESCE(json_extract({t}.data, '$.backorders'), 'no') != 'no' THEN 'onbackorder'"
            f" ELSE 'outofstock' END)")


def _own(t: str) -> str:
    return f"COALESCE(json_extract({t}.data, '$.stock_status'), 'instock')"


def _published_child(condition: str) -> str:
    return ("EXISTS (SELECT 1 FROM products c WHERE c.parent_id = products.id AND c.type = 'variation'"
            f" AND c.status = 'publish' AND {condition})")


_CHILD_STATUS = f"(CASE WHEN c.manage_stock = '1' THEN {_managed('c')} ELSE {_own('c')} END)"
STOCK_STATUS_SQL = (
    f"(CASE WHEN products.manage_stock = '1' THEN {_managed('products')}"
    f" WHEN products.type = 'variation' THEN COALESCE((SELECT {_managed('p')} FROM products p"
    f" WHERE p.id = products.parent_id AND p.manage_stock = '1'), {_own('products')})"
    f" WHEN products.type = 'variable' THEN (CASE"
    f" WHEN {_published_child(_CHILD_STATUS + ' = ' + repr('instock'))} THEN 'instock'"
    f" WHEN {_published_child(_CHILD_STATUS + ' = ' + repr('onbackorder'))} THEN 'onbackorder'"
    f" ELSE 'outofstock' END)"
    f" ELSE {_own('products')} END)")


def _on_sale(t: str) -> str:
    sale, regular = (f"COALESCE(json_extract({t}.data, '$.{k}'), '')" for k in ("sale_price", "regular_price"))
    return f"({sale} != '' AND {regular} != '' AND CAST({sale} AS REAL) < CAST({regular} AS REAL))"


ON_SALE_SQL = (f"((products.status = 'publish' AND {_on_sale('products')})"
               f" OR {_published_child(_on_sale('c'))})")


def _price_between(t: str) -> str:
    return f"CAST(COALESCE(json_extract({t}.data, '$.price'), '') AS REAL) BETWEEN ? AND ?"


PRICE_SQL = (f"((products.type != 'variable' AND {_price_between('products')})"
             f" OR (products.type = 'variable' AND {_published_child(_price_between('c'))}))")


def where(q: dict[str, Any], products: bool) -> tuple[list[str], list[Any]]:
    """(conditions, arguments) for the catalog filters present in `q` (already validated)."""
    conditions: list[str] = []
    args: list[Any] = []
    if q.get("stock_status"):
        conditions.append(f"{STOCK_STATUS_SQL} = ?")
        args.append(q["stock_status"])
    if q.get("tax_class"):
        conditions.append("COALESCE(json_extract(data, '$.tax_class'), '') = ?")
        args.append("" if q["tax_class"] == "standard" else q["tax_class"])
    if _php_nonempty(q.get("min_price")) or _php_nonempty(q.get("max_price")):
        conditions.append(PRICE_SQL)
        low = _floatval(q["min_price"]) if "min_price" in q else 0.0
        high = _floatval(q["max_price"]) if "max_price" in q else _NO_MAX
        args.extend([low, high] * 2)
    if "on_sale" in q:
        conditions.append(ON_SALE_SQL if to_bool(q["on_sale"]) else f"NOT {ON_SALE_SQL}")
    if products:
        if "featured" in q:
            conditions.append("COALESCE(json_extract(data, '$.featured'), 0) = ?")
            args.append(1 if to_bool(q["featured"]) else 0)
        for name in ("category", "tag", "shipping_class"):
            ids = _id_list(q.get(name))
            if ids:  # a tax query on term ids: only category 15 has members, and only products are in it
                conditions.append("type != 'variation'" if name == "category" and UNCATEGORIZED["id"] in ids
                                  else "0")
    return conditions, args


def is_boolean(value: Any) -> bool:
    """`rest_is_boolean()`."""
    if isinstance(value, bool):
        return True
    return str(value).lower() in ("true", "false", "1", "0")


def to_bool(value: Any) -> bool:
    return value is True or str(value).lower() in ("true", "1")


def _php_nonempty(value: Any) -> bool:
    return value not in (None, "", "0")


def _floatval(value: Any) -> float:
    """PHP's `floatval()`: the leading number, 0 when there is none."""
    match = re.match(r"\s*[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?", str(value))
    return float(match.group(0)) if match else 0.0


def _id_list(raw: Any) -> list[int]:
    """`wp_parse_id_list()`."""
    if raw in (None, ""):
        return []
    parts = raw if isinstance(raw, list) else re.split(r"[\s,]+", str(raw))
    return sorted({abs(int(m.group(0))) if (m := re.match(r"\s*[+-]?\d+", str(p))) else 0 for p in parts if str(p)})
