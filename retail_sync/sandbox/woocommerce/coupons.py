"""Coupons of the store sandbox: the `coupons` table with the two seeded codes, the v3 coupon representation
(shared by `GET /coupons/{id}` and `coupon.*` webhook payloads) and the `wc/v3/coupons` routes.

It follows `WC_REST_Coupons_Controller` on the CRUD base: `code` is required on create, lower-cased
(`wc_format_coupon_code`) and unique among *published* coupons (`wc_get_coupon_id_by_code` looks at nothing else,
so a trashed coupon's code can be reused); writable fields are applied in schema order, so an `amount` above 100 is
checked against the discount type the coupon had *before* this request; GET or DELETE of an unknown id is 404, PUT
400; DELETE without `force=true` trashes (fires `coupon.deleted`), a second one is 410, a forced delete fires nothing.
Only published coupons apply to orders (`money.find_coupon`).

Hooks: `coupon.created` (`woocommerce_new_coupon`) after a create, `coupon.updated` (`woocommerce_update_coupon`)
after an update, `coupon.deleted` (`wp_trash_post`) when trashed — each after the commit, as the other resources do.
"""
from __future__ import annotations

import datetime as dt
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

from fastapi import FastAPI, Request
from fastapi.responses import Response

from retail_sync.sandbox.common.db import dumps, loads
from retail_sync.sandbox.woocommerce import order_store
from retail_sync.sandbox.woocommerce.clock import parse_gmt, to_gmt
from retail_sync.sandbox.woocommerce.money import SEED_COUPONS, SEED_CREATED_GMT, money, normalise_coupon_code
from retail_sync.sandbox.woocommerce.query_params import bool_value, int_value
from retail_sync.sandbox.woocommerce.rest import (REST_PREFIX, WooError, page_params, paged, query_params,
                                                  request_params, rest_url, wc_response)
from retail_sync.sandbox.woocommerce.wp_schema import clean, format_decimal, validate

if TYPE_CHECKING:
    from retail_sync.sandbox.woocommerce.app import WooSandbox

SCHEMA = """
CREATE TABLE IF NOT EXISTS coupons (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    code TEXT NOT NULL,                      -- lower case; unique among published coupons only
    discount_type TEXT NOT NULL,             -- percent | fixed_cart | fixed_product
    amount TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    date_created_gmt TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'publish',  -- a post status; 'trash' after a DELETE without force
    date_modified_gmt TEXT,
    data TEXT NOT NULL DEFAULT '{}'          -- restrictions, limits, expiry, meta_data
);
CREATE INDEX IF NOT EXISTS ix_coupons_code ON coupons (code, status);
"""
TABLES = ("coupons",)
# columns added after the first release: a store file written before them is upgraded in place
_ADDED_COLUMNS = {"status": "TEXT NOT NULL DEFAULT 'publish'", "date_modified_gmt": "TEXT",
                  "data": "TEXT NOT NULL DEFAULT '{}'"}

DISCOUNT_TYPES = ["percent", "fixed_cart", "fixed_product"]  # wc_get_coupon_types()
# the writable properties in schema order (prepare_object_for_database walks them in this order)
WRITE_SCHEMA: dict[str, Any] = {
    "code": "string", "amount": "string", "status": "string", "discount_type": DISCOUNT_TYPES,
    "description": "string", "date_expires": ["string", "null"], "date_expires_gmt": ["string", "null"],
    "individual_use": "boolean", "product_ids": "array", "excluded_product_ids": "array",
    "usage_limit": ["integer", "null"], "usage_limit_per_user": ["integer", "null"],
    "limit_usage_to_x_items": ["integer", "null"], "free_shipping": "boolean", "product_categories": "array",
    "excluded_product_categories": "array", "exclude_sale_items": "boolean", "minimum_amount": "string",
    "maximum_amount": "string", "email_restrictions": "array", "meta_data": "array",
}
DEFAULTS: dict[str, Any] = {
    "date_expires_gmt": None, "usage_count": 0, "individual_use": False, "product_ids": [],
    "excluded_product_ids": [], "usage_limit": 0, "usage_limit_per_user": 0, "limit_usage_to_x_items": None,
    "free_shipping": False, "product_categories": [], "excluded_product_categories": [],
    "exclude_sale_items": False, "minimum_amount": "", "maximum_amount": "", "email_restrictions": [],
    "used_by": [], "meta_data": [],
}
ID_LISTS = ("product_ids", "excluded_product_ids", "product_categories", "excluded_product_categories")
FLAGS = ("individual_use", "free_shipping", "exclude_sale_items")
LIMITS = ("usage_limit", "usage_limit_per_user", "limit_usage_to_x_items")


# ---- module interface -----------------------------------------------------------------------------------------
def install(store: "WooSandbox") -> None:
    """Seed SAVE10 and FIVEOFF (idempotent: a restart keeps what is there, edits included)."""
    columns = {row[1] for row in store.db.all("PRAGMA table_info(coupons)")}
    with store.db.tx() as conn:
        for name, declaration in _ADDED_COLUMNS.items():
            if name not in columns:
                conn.execute(f"ALTER TABLE coupons ADD COLUMN {name} {declaration}")
        conn.executemany(
            "INSERT OR IGNORE INTO coupons (id, code, discount_type, amount, description, date_created_gmt,"
            " date_modified_gmt) VALUES (?,?,?,?,?,?,?)",
            [(*coupon, SEED_CREATED_GMT, SEED_CREATED_GMT) for coupon in SEED_COUPONS])


def counts(store: "WooSandbox") -> dict[str, int]:
    return {"coupons": store.db.scalar("SELECT COUNT(*) FROM coupons WHERE status != 'trash'")}


# ---- representation ---------------------------------------------------------------------------------------------
def render_coupon(store: "WooSandbox", coupon_id: int) -> dict[str, Any] | None:
    """The v3 coupon (`get_formatted_item_data` + `_links`), or None when there is no such coupon."""
    row = store.db.one("SELECT * FROM coupons WHERE id = ?", (coupon_id,))
    return None if row is None else _render(store, row)


def _render(store: "WooSandbox", row: Any) -> dict[str, Any]:
    data = {**DEFAULTS, **loads(row["data"] or "{}")}
    created, created_gmt = store.clock.pair(parse_gmt(row["date_created_gmt"] or None))
    modified, modified_gmt = store.clock.pair(parse_gmt(row["date_modified_gmt"] or row["date_created_gmt"] or None))
    expires, expires_gmt = store.clock.pair(parse_gmt(data["date_expires_gmt"] or None))
    base = rest_url(store.home_url, "/wc/v3/coupons")
    return {
        "id": row["id"], "code": row["code"], "amount": _decimal2(row["amount"]), "status": row["status"],
        "date_created": created, "date_created_gmt": created_gmt, "date_modified": modified,
        "date_modified_gmt": modified_gmt, "discount_type": row["discount_type"], "description": row["description"],
        "date_expires": expires, "date_expires_gmt": expires_gmt, "usage_count": data["usage_count"],
        "individual_use": data["individual_use"], "product_ids": data["product_ids"],
        "excluded_product_ids": data["excluded_product_ids"],
        # `$data[$key] ? $data[$key] : null`: a zero limit reads back as null
        **{name: data[name] or None for name in LIMITS},
        "free_shipping": data["free_shipping"], "product_categories": data["product_categories"],
        "excluded_product_categories": data["excluded_product_categories"],
        "exclude_sale_items": data["exclude_sale_items"], "minimum_amount": _decimal2(data["minimum_amount"]),
        "maximum_amount": _decimal2(data["maximum_amount"]), "email_restrictions": data["email_restrictions"],
        "used_by": data["used_by"], "meta_data": data["meta_data"],
        "_links": {"self": [{"href": f"{base}/{row['id']}"}], "collection": [{"href": base}]},
    }


def _decimal2(value: Any) -> str:
    """`wc_format_decimal($value, 2)`: anything unreadable (the empty default included) is "0.00"."""
    try:
        return money(Decimal(str(value)))
    except (InvalidOperation, ValueError):
        return "0.00"


# ---- writes -----------------------------------------------------------------------------------------------------
def _create(store: "WooSandbox", params: dict[str, Any]) -> int:
    if params.get("id"):
        raise WooError(400, "woocommerce_rest_shop_coupon_exists", "Cannot create existing shop_coupon.")
    if not params.get("code"):
        raise WooError(400, "woocommerce_rest_empty_coupon_code", "The coupon code cannot be empty.")
    now = order_store.now_gmt(store)
    fields = {"code": "", "discount_type": "fixed_cart", "amount": "0", "description": "", "status": "publish",
              "data": {}}
    _apply(store, fields, params, coupon_id=0)
    with store.db.tx() as conn:
        return conn.execute(
            "INSERT INTO coupons (code, discount_type, amount, description, status, date_created_gmt,"
            " date_modified_gmt, data) VALUES (?,?,?,?,?,?,?,?)",
            (fields["code"], fields["discount_type"], fields["amount"], fields["description"], fields["status"],
             now, now, dumps(fields["data"]))).lastrowid


def _update(store: "WooSandbox", coupon_id: int, params: dict[str, Any]) -> None:
    row = store.db.one("SELECT * FROM coupons WHERE id = ?", (coupon_id,))
    if row is None:
        raise WooError(400, "woocommerce_rest_shop_coupon_invalid_id", "Invalid ID.")
    fields = {key: row[key] for key in ("code", "discount_type", "amount", "description", "status")}
    fields["data"] = loads(row["data"] or "{}")
    _apply(store, fields, params, coupon_id=coupon_id)
    with store.db.tx() as conn:
        conn.execute("UPDATE coupons SET code = ?, discount_type = ?, amount = ?, description = ?, status = ?,"
                     " date_modified_gmt = ?, data = ? WHERE id = ?",
                     (fields["code"], fields["discount_type"], fields["amount"], fields["description"],
                      fields["status"], order_store.now_gmt(store), dumps(fields["data"]), coupon_id))


def _apply(store: "WooSandbox", fields: dict[str, Any], params: dict[str, Any], coupon_id: int) -> None:
    """`prepare_object_for_database()`: each writable property present (and not null) through its setter."""
    data = fields["data"]
    for key in WRITE_SCHEMA:
        value = params.get(key)
        if value is None:
            continue
        if key == "code":
            code = normalise_coupon_code(value)
            taken = store.db.one("SELECT id FROM coupons WHERE code = ? AND status = 'publish' AND id != ?",
                                 (code, coupon_id))
            if taken is not None:
                raise WooError(400, "woocommerce_rest_coupon_code_already_exists", "The coupon code already exists")
            fields["code"] = code
        elif key == "amount":
            fields["amount"] = _amount(value, fields["discount_type"])
        elif key == "discount_type":
            fields["discount_type"] = value
        elif key in ("status", "description"):
            fields[key] = str(value)
        elif key == "date_expires":
            data["date_expires_gmt"] = _expiry(store, value)
        elif key in FLAGS:
            data[key] = bool_value(value, key, default=False)
        elif key in ID_LISTS:
            # array_filter(wp_parse_id_list()): absint, duplicates and zeros dropped, order kept
            ids = [abs(int_value(item, key) or 0) for item in value]
            data[key] = [item for item in dict.fromkeys(ids) if item]
        elif key in LIMITS:
            data[key] = abs(int_value(value, key) or 0)  # absint
        elif key in ("minimum_amount", "maximum_amount"):
            data[key] = format_decimal(value)
        elif key == "email_restrictions":
            data[key] = [clean(item).lower() for item in value if clean(item)]
        elif key == "meta_data" and isinstance(value, list):
            metas = data.setdefault("meta_data", [])
            for meta in value:
                if isinstance(meta, dict) and "key" in meta:
                    order_store.update_meta(store, metas, str(meta["key"]), meta.get("value"), meta.get("id"),
                                            sequence="coupon_meta")
        # date_expires_gmt has no setter on WC_Coupon, so the controller silently ignores it


def _amount(value: Any, discount_type: str) -> str:
    """`WC_Coupon::set_amount()`: not numeric is 0; negative, or above 100 for a percent coupon, is refused."""
    text = format_decimal(value)
    try:
        amount = Decimal(text)
    except InvalidOperation:
        amount, text = Decimal(0), "0"
    if amount < 0 or (discount_type == "percent" and amount > 100):
        raise WooError(400, "coupon_invalid_amount", "Invalid discount amount")
    return text


def _expiry(store: "WooSandbox", value: Any) -> str | None:
    """`set_date_expires()`: a date without an offset is site-local; an empty value clears the expiry."""
    if value in ("", None):
        return None
    try:
        moment = dt.datetime.fromisoformat(str(value).strip().replace("Z", "+00:00"))
    except ValueError:
        raise WooError(400, "rest_invalid_param", "Invalid parameter(s): date_expires",
                       params={"date_expires": "Invalid date."}) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=store.clock.zone)
    return to_gmt(moment)


def _delete(store: "WooSandbox", coupon_id: int, force: bool) -> tuple[dict[str, Any], list[str]]:
    """`delete_item()`: the answer is the coupon as it was; trashing fires `wp_trash_post` (coupon.deleted)."""
    row = store.db.one("SELECT * FROM coupons WHERE id = ?", (coupon_id,))
    if row is None:
        raise WooError(404, "woocommerce_rest_shop_coupon_invalid_id", "Invalid ID.")
    before = _render(store, row)
    if force:
        with store.db.tx() as conn:
            conn.execute("DELETE FROM coupons WHERE id = ?", (coupon_id,))
        return before, []  # `woocommerce_delete_coupon` maps to no webhook topic
    if row["status"] == "trash":
        raise WooError(410, "woocommerce_rest_already_trashed", "The shop_coupon has already been deleted.")
    data = loads(row["data"] or "{}")
    data["trash_meta_status"] = row["status"]  # `_wp_trash_meta_status`, what "Restore" would go back to
    with store.db.tx() as conn:
        conn.execute("UPDATE coupons SET status = 'trash', date_modified_gmt = ?, data = ? WHERE id = ?",
                     (order_store.now_gmt(store), dumps(data), coupon_id))
    return before, ["coupon.deleted"]


# ---- routes -----------------------------------------------------------------------------------------------------
def register(app: FastAPI, store: "WooSandbox") -> None:
    base = REST_PREFIX + "/coupons"

    @app.get(base)
    async def list_coupons(request: Request) -> Response:
        q = query_params(request)
        where, args = ["status != 'trash'"], []
        if q.get("status") not in (None, "", "any", "all"):
            where, args = ["status = ?"], [str(q["status"])]
        if q.get("code"):
            # wc_get_coupon_id_by_code(): the newest *published* coupon with that code, or none at all
            found = store.db.scalar("SELECT id FROM coupons WHERE code = ? AND status = 'publish'"
                                    " ORDER BY date_created_gmt DESC, id DESC LIMIT 1",
                                    (normalise_coupon_code(q["code"]),))
            where.append("id = ?")
            args.append(found or 0)
        page, per_page, offset = page_params(request)
        clause = " AND ".join(where)
        total = store.db.scalar(f"SELECT COUNT(*) FROM coupons WHERE {clause}", args)  # noqa: S608
        rows = store.db.all(f"SELECT * FROM coupons WHERE {clause}"  # noqa: S608 - fixed fragments
                            " ORDER BY date_created_gmt DESC, id DESC LIMIT ? OFFSET ?",
                            (*args, per_page, offset if offset is not None else (page - 1) * per_page))
        return paged(request, [_render(store, row) for row in rows], total, page, per_page)

    @app.post(base)
    async def create_coupon(request: Request) -> Response:
        params = await request_params(request)
        key = normalise_coupon_code(params.get("code", ""))
        try:
            if "code" not in params:  # the route's own `required` argument
                raise WooError(400, "rest_missing_callback_param", "Missing parameter(s): code", params=["code"])
            coupon_id = _create(store, validate(params, WRITE_SCHEMA))
        except WooError:
            store.ledger.record_create("coupon", key, "rejected")
            raise
        store.ledger.record_create("coupon", key, "created", coupon_id)
        store.fire("coupon.created", coupon_id)
        return wc_response(render_coupon(store, coupon_id), 201,
                           {"Location": rest_url(store.home_url, f"/wc/v3/coupons/{coupon_id}")})

    @app.get(base + "/{coupon_id:int}")
    async def get_coupon(coupon_id: int) -> Response:
        body = render_coupon(store, coupon_id)
        if body is None:
            raise WooError(404, "woocommerce_rest_shop_coupon_invalid_id", "Invalid ID.")
        return wc_response(body)

    @app.api_route(base + "/{coupon_id:int}", methods=["POST", "PUT", "PATCH"])
    async def update_coupon(coupon_id: int, request: Request) -> Response:
        _update(store, coupon_id, validate(await request_params(request), WRITE_SCHEMA))
        store.fire("coupon.updated", coupon_id)
        return wc_response(render_coupon(store, coupon_id))

    @app.delete(base + "/{coupon_id:int}")
    async def delete_coupon(coupon_id: int, request: Request) -> Response:
        force = bool_value((await request_params(request)).get("force"), "force", default=False)
        before, topics = _delete(store, coupon_id, force)
        for topic in topics:
            store.fire(topic, coupon_id)
        return wc_response(before)
