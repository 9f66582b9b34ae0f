"""`GET /products` and `GET /products/{id}/variations`: the collection parameters of the v3 products controller
turned into one SQL query (plus one count), with WordPress's validation messages.

`sku` is a comma-separated exact match that also finds variations (and, as on a real store, the whole string is
tried as one SKU too); `status` defaults to `any`, which leaves out the trash; `orderby=date|modified` gets `ID`
as tiebreaker (`WC_REST_CRUD_Controller::prepare_objects_query`), and so do the other orders here, for stable pages.
The catalog filters (`stock_status`, `tax_class`, `on_sale`, `featured`, `min_price`/`max_price`, `category`/
`tag`/`shipping_class`) are SQL too; see `product_filters`.
"""
from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from fastapi import Request

from retail_sync.sandbox.woocommerce import product_filters
from retail_sync.sandbox.woocommerce.product_writes import PRODUCT_TYPES, STOCK_STATUSES
from retail_sync.sandbox.woocommerce.clock import WC_FORMAT
from retail_sync.sandbox.woocommerce.query_params import php_list
from retail_sync.sandbox.woocommerce.rest import invalid_params, page_params, query_params

if TYPE_CHECKING:
    from retail_sync.sandbox.woocommerce.app import WooSandbox

STATUSES = ["any", "future", "trash", "draft", "pending", "private", "publish"]
ORDERBY = ["date", "id", "include", "title", "slug", "modified", "price", "popularity", "rating"]
_ORDER_COLUMNS = {
    "date": "date_created_gmt", "modified": "date_modified_gmt", "id": None,
    "title": "json_extract(data, '$.name')", "slug": "json_extract(data, '$.slug')",
    "price": "CAST(json_extract(data, '$.price') AS REAL)",
    "popularity": "CAST(COALESCE(json_extract(data, '$.total_sales'), 0) AS INTEGER)", "rating": None,
}


def list_rows(store: "WooSandbox", request: Request, variations_of: int | None = None) -> tuple[list[Any], int, int,
                                                                                                   int]:
    """(rows, total, page, per_page) for a collection request."""
    q = query_params(request)
    page, per_page, offset = page_params(request)
    _check_args(q, variations_of is None)
    where, args = _filters(store, q, variations_of)
    order = _order_by(q)
    sql_where = " AND ".join(where) or "1"
    total = store.db.scalar(f"SELECT COUNT(*) FROM products WHERE {sql_where}", args)
    start = offset if offset is not None else (page - 1) * per_page
    rows = store.db.all(f"SELECT * FROM products WHERE {sql_where} ORDER BY {order} LIMIT ? OFFSET ?",
                        [*args, per_page, max(start, 0)])
    return rows, total, page, per_page


def check_list_args(store: "WooSandbox", request: Request, variations_of: int | None = None) -> None:
    """The route's argument checks alone (`rest.checks_args`): everything `list_rows` would refuse, no query run."""
    q = query_params(request)
    page_params(request)
    _check_args(q, variations_of is None)
    _filters(store, q, variations_of)  # the dates


def _check_args(q: dict[str, Any], products: bool) -> None:
    checks = {"status": STATUSES, "orderby": ORDERBY, "order": ["asc", "desc"], "stock_status": STOCK_STATUSES,
              "tax_class": product_filters.TAX_CLASSES}
    if products:
        checks["type"] = PRODUCT_TYPES
    problems = {}
    for name, allowed in checks.items():
        if name in q and q[name] not in allowed:
            problems[name] = ("rest_not_in_enum", f"{name} is not one of {php_list(allowed)}.")
    for name in ("featured", "on_sale") if products else ("on_sale",):
        if name in q and not product_filters.is_boolean(q[name]):
            problems[name] = ("rest_invalid_type", f"{name} is not of type boolean.")
    if problems:
        raise invalid_params(problems)


def _filters(store: "WooSandbox", q: dict[str, Any], variations_of: int | None) -> tuple[list[str], list[Any]]:
    where: list[str] = []
    args: list[Any] = []
    sku = q.get("sku")
    if variations_of is not None:
        where.append("parent_id = ? AND type = 'variation'")
        args.append(variations_of)
    elif not sku:
        where.append("type != 'variation'")  # only `sku` widens the query to variations
    status = q.get("status", "any")
    if status == "any":
        where.append("status NOT IN ('trash', 'auto-draft')")
    else:
        where.append("status = ?")
        args.append(status)
    if q.get("type") and variations_of is None:
        where.append("type = ?")
        args.append(q["type"])
    if sku:
        skus = str(sku).split(",")
        if len(skus) > 1:
            skus.append(str(sku))
        where.append(f"sku IN ({','.join('?' * len(skus))})")
        args.extend(skus)
    for name, clause in (("include", "id IN"), ("exclude", "id NOT IN"), ("parent", "parent_id IN"),
                         ("parent_exclude", "parent_id NOT IN")):
        ids = _id_list(q.get(name))
        if ids:
            where.append(f"{clause} ({','.join('?' * len(ids))})")
            args.extend(ids)
    for term in str(q.get("search") or "").split():
        where.append("(json_extract(data, '$.name') LIKE ? OR json_extract(data, '$.description') LIKE ?"
                     " OR json_extract(data, '$.short_description') LIKE ?)")
        args.extend([f"%{term}%"] * 3)
    catalog_where, catalog_args = product_filters.where(q, variations_of is None)
    where.extend(catalog_where)
    args.extend(catalog_args)
    gmt = str(q.get("dates_are_gmt", "")).lower() in ("1", "true")
    for name, column, op in (("after", "date_created_gmt", ">"), ("before", "date_created_gmt", "<"),
                             ("modified_after", "date_modified_gmt", ">"),
                             ("modified_before", "date_modified_gmt", "<")):
        if q.get(name):
            where.append(f"{column} {op} ?")
            args.append(_date(store, name, str(q[name]), gmt))
    return where, args


def _date(store: "WooSandbox", name: str, raw: str, gmt: bool) -> str:
    try:
        moment = store.clock.parse_filter(raw, gmt)
    except ValueError:
        raise invalid_params({name: ("rest_invalid_date", "Invalid date.")}) from None
    return moment.strftime(WC_FORMAT)


def _order_by(q: dict[str, Any]) -> str:
    direction = "ASC" if q.get("order", "desc") == "asc" else "DESC"
    orderby = q.get("orderby", "date")
    if orderby == "include":
        ids = _id_list(q.get("include"))
        if ids:
            cases = " ".join(f"WHEN {i} THEN {n}" for n, i in enumerate(ids))
            return f"CASE id {cases} END, id"
        orderby = "date"
    column = _ORDER_COLUMNS.get(orderby)
    return f"{column} {direction}, id {direction}" if column else f"id {direction}"


def _id_list(raw: Any) -> list[int]:
    """`wp_parse_id_list()`: a list or a comma/space separated string of ids, made absolute and unique."""
    if raw in (None, ""):
        return []
    parts = raw if isinstance(raw, list) else re.split(r"[\s,]+", str(raw))
    out: list[int] = []
    for part in parts:
        try:
            value = abs(int(str(part).strip() or 0))
        except ValueError:
            value = 0
        if value not in out:
            out.append(value)
    return out
