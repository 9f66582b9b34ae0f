"""Orders of the store sandbox: `/orders` (list, get, create, update, delete, batch) and, through the modules
it assembles, order notes, refunds, the store's tax rates and its coupons.

List filters as the v3 controller reads them (reference §2.3, §2.4): `status` (array or CSV, default `any` =
everything but trash), `customer`, `product`, `after`/`before`/`modified_after`/`modified_before` (exclusive,
compared with the site-local dates unless `dates_are_gmt=true`; a `Z` or offset in the value is ignored),
`search`, `include`, `exclude`, `parent`, `parent_exclude`, `orderby` (date, id, include, title, slug, modified;
ID breaks ties), `order`, `page`/`per_page`/`offset`, with `X-WP-Total`, `X-WP-TotalPages` and `Link`.

Webhook topics fire after each commit: `order.created` (never for draft statuses) and `order.updated` on create,
`order.updated` on every update and refund, `order.deleted` when trashed (a forced delete fires nothing),
`order.restored` when an update takes an order out of the trash.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable

from fastapi import FastAPI, Request

from retail_sync.sandbox.woocommerce import (
    coupons,
    money,
    notes,
    order_lifecycle,
    order_render,
    order_store,
    order_write,
    refunds,
)
from retail_sync.sandbox.woocommerce.clock import WC_FORMAT
from retail_sync.sandbox.woocommerce.order_store import ORDER, REFUND
from retail_sync.sandbox.woocommerce.query_params import (
    bool_value,
    date_value,
    enum_list,
    enum_value,
    id_list,
    int_value,
)
from retail_sync.sandbox.woocommerce.rest_batch import BATCH_LIMIT
from retail_sync.sandbox.woocommerce.rest import (
    REST_PREFIX,
    WooError,
    checks_args,
    page_params,
    paged,
    query_params,
    request_params,
    wc_response,
)

if TYPE_CHECKING:
    from retail_sync.sandbox.woocommerce.app import WooSandbox

SCHEMA = order_store.SCHEMA + notes.SCHEMA + money.SCHEMA + coupons.SCHEMA
TABLES = (*order_store.TABLES, *notes.TABLES, *money.TABLES, *coupons.TABLES)

LIST_STATUSES = ("any", "trash", *order_lifecycle.WRITABLE_STATUSES)
HIDDEN_FROM_ANY = ("trash", "auto-draft")
ORDERBY = ("date", "id", "include", "title", "slug", "modified")


def install(store: "WooSandbox") -> None:
    money.install(store)
    coupons.install(store)


def counts(store: "WooSandbox") -> dict[str, Any]:
    by_status = {row["status"]: row["n"] for row in store.db.all(
        "SELECT status, COUNT(*) AS n FROM orders WHERE type = ? GROUP BY status ORDER BY status", (ORDER,))}
    return {
        "orders": sum(by_status.values()),
        "orders_by_status": by_status,
        "refunds": store.db.scalar("SELECT COUNT(*) FROM orders WHERE type = ?", (REFUND,)),
        **notes.counts(store),
        **coupons.counts(store),
    }


def render_order(store: "WooSandbox", order_id: int) -> dict[str, Any] | None:
    """The order's REST representation (webhook payloads), or None when it is gone or is a refund."""
    order = order_store.load(store, order_id)
    return None if order is None else order_render.render_one(store, order)


def register(app: FastAPI, store: "WooSandbox") -> None:
    notes.register(app, store)
    refunds.register(app, store)
    money.register(app, store)
    coupons.register(app, store)

    @app.get(REST_PREFIX + "/orders")
    @checks_args(lambda request: (page_params(request), _list_query(store, request)))
    async def list_orders(request: Request):  # type: ignore[no-untyped-def]
        page, per_page, offset = page_params(request)
        where, params, order_by = _list_query(store, request)
        total = store.db.scalar(f"SELECT COUNT(*) FROM orders WHERE {where}", params)  # noqa: S608
        start = offset if offset is not None else (page - 1) * per_page
        rows = store.db.all(f"SELECT * FROM orders WHERE {where} ORDER BY {order_by} LIMIT ? OFFSET ?",  # noqa: S608
                            [*params, per_page, start])
        items = order_render.render_orders(store, [order_store.from_row(row) for row in rows])
        return paged(request, items, total, page, per_page)

    @app.post(REST_PREFIX + "/orders")
    async def create_order(request: Request):  # type: ignore[no-untyped-def]
        order = _create(store, await request_params(request))
        location = f"{store.home_url}wp-json/wc/v3/orders/{order.id}"
        return wc_response(order_render.render_one(store, order), 201, {"Location": location})

    @app.api_route(REST_PREFIX + "/orders/batch", methods=["POST", "PUT", "PATCH"])
    async def batch(request: Request):  # type: ignore[no-untyped-def]
        return wc_response(_batch(store, await request_params(request)))

    @app.get(REST_PREFIX + "/orders/{order_id:int}")
    async def get_order(order_id: int):  # type: ignore[no-untyped-def]
        order = order_store.load(store, order_id)
        if order is None:
            raise WooError(404, "woocommerce_rest_shop_order_invalid_id", "Invalid ID.")
        return wc_response(order_render.render_one(store, order))

    @app.api_route(REST_PREFIX + "/orders/{order_id:int}", methods=["PUT", "PATCH", "POST"])
    async def update_order(order_id: int, request: Request):  # type: ignore[no-untyped-def]
        order = _update(store, order_id, await request_params(request))
        return wc_response(order_render.render_one(store, order))

    @app.delete(REST_PREFIX + "/orders/{order_id:int}")
    async def delete_order(order_id: int, request: Request):  # type: ignore[no-untyped-def]
        force = bool_value((await request_params(request)).get("force"), "force", default=False)
        return wc_response(_delete(store, order_id, force))


# ---- writes --------------------------------------------------------------------------------------------------------
def _create(store: "WooSandbox", body: dict[str, Any]) -> order_store.Order:
    try:
        if body.get("id"):
            raise WooError(400, "woocommerce_rest_shop_order_exists", "Cannot create existing shop_order.")
        with store.db.tx():
            order, topics = order_write.create_order(store, body)
    except WooError as error:
        store.ledger.record_create("order", "rest-api", "rejected", None, code=error.code)
        raise
    store.ledger.record_create("order", "rest-api", "created", order.id)
    _fire(store, order.id, topics)
    return order


def _update(store: "WooSandbox", order_id: int, body: dict[str, Any]) -> order_store.Order:
    with store.db.tx():
        order, topics = order_write.update_order(store, order_id, body)
    _fire(store, order.id, topics)
    return order


def _delete(store: "WooSandbox", order_id: int, force: bool) -> dict[str, Any]:
    """Trash (fires `order.deleted`; trashing twice is 410) or, with force, delete for good (fires nothing).
    The answer is the order as it was before."""
    order = order_store.load(store, order_id)
    if order is None:
        raise WooError(404, "woocommerce_rest_shop_order_invalid_id", "Invalid ID.")
    before = order_render.render_one(store, order)
    if force:
        with store.db.tx():
            order_store.delete(store, order_id)
            notes.delete_for_order(store, order_id)
        return before
    if order.status == "trash":
        raise WooError(410, "woocommerce_rest_already_trashed", "The shop_order has already been deleted.")
    with store.db.tx():
        order.status = "trash"
        order.date_modified_gmt = order_store.now_gmt(store)
        order_store.save(store, order)
    _fire(store, order_id, ["order.deleted"])
    return before


def _batch(store: "WooSandbox", body: dict[str, Any]) -> dict[str, Any]:
    """`POST /orders/batch`: up to 100 items in all, each on its own (errors inside the 200), deletes forced."""
    groups = {key: body.get(key) if isinstance(body.get(key), list) else [] for key in ("create", "update", "delete")}
    if sum(len(items) for items in groups.values()) > BATCH_LIMIT:
        raise WooError(413, "woocommerce_rest_request_entity_too_large",
                       f"Unable to accept more than {BATCH_LIMIT} items for this request.")
    answer: dict[str, Any] = {}
    for item in groups["create"]:
        body = item if isinstance(item, dict) else {}
        answer.setdefault("create", []).append(_batch_item(
            0, lambda body=body: order_render.render_one(store, _create(store, body))))
    for item in groups["update"]:
        body = item if isinstance(item, dict) else {}
        answer.setdefault("update", []).append(_batch_item(
            body.get("id", 0), lambda body=body: order_render.render_one(
                store, _update(store, _item_id(body.get("id")), body))))
    for item in groups["delete"]:
        answer.setdefault("delete", []).append(_batch_item(
            item, lambda item=item: _delete(store, _item_id(item), force=True)))
    return answer


def _batch_item(item_id: Any, action: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    try:
        return action()
    except WooError as error:
        return {"id": item_id, "error": error.body()}


def _item_id(raw: Any) -> int:
    """An id as PHP's absint() reads it (anything unreadable is 0, which no order has)."""
    try:
        return abs(int(raw))
    except (TypeError, ValueError):
        return 0


def _fire(store: "WooSandbox", order_id: int, topics: list[str]) -> None:
    for topic in topics:
        store.fire(topic, order_id)


# ---- list query ----------------------------------------------------------------------------------------------------
def _list_query(store: "WooSandbox", request: Request) -> tuple[str, list[Any], str]:
    """(WHERE, params, ORDER BY) for `GET /orders`, validating every parameter as WordPress does."""
    q = query_params(request)
    statuses = enum_list(q.get("status"), "status", LIST_STATUSES, ["any"])
    direction = enum_value(q.get("order"), "order", ("asc", "desc"), "desc").upper()
    orderby = enum_value(q.get("orderby"), "orderby", ORDERBY, "date")
    dates_are_gmt = bool_value(q.get("dates_are_gmt"), "dates_are_gmt", default=False)
    ids = {name: id_list(q.get(name), name) for name in ("include", "exclude", "parent", "parent_exclude")}
    where, params = ["type = ?"], [ORDER]
    if "any" in statuses:
        where.append(f"status NOT IN ({','.join('?' * len(HIDDEN_FROM_ANY))})")
        params += HIDDEN_FROM_ANY
    else:
        where.append(f"status IN ({','.join('?' * len(statuses))})")
        params += statuses
    customer = int_value(q.get("customer"), "customer")
    if customer is not None:
        where.append("customer_id = ?")
        params.append(abs(customer))
    product = int_value(q.get("product"), "product")
    if product:
        where.append("id IN (SELECT order_id FROM order_products WHERE product_id = ?)")
        params.append(abs(product))
    for name, column, operator in (("after", "date_created_gmt", ">"), ("before", "date_created_gmt", "<"),
                                   ("modified_after", "date_modified_gmt", ">"),
                                   ("modified_before", "date_modified_gmt", "<")):
        raw = date_value(q.get(name), name)
        if raw is not None:
            where.append(f"{column} {operator} ?")
            params.append(store.clock.parse_filter(raw, dates_are_gmt).strftime(WC_FORMAT))
    search = q.get("search")
    if isinstance(search, str) and search.strip():
        where.append("search_text LIKE ?")
        params.append(f"%{search.strip().lower()}%")
    for name, column, operator in (("include", "id", "IN"), ("exclude", "id", "NOT IN"),
                                   ("parent", "parent_id", "IN"), ("parent_exclude", "parent_id", "NOT IN")):
        if ids[name]:
            where.append(f"{column} {operator} ({','.join('?' * len(ids[name]))})")
            params += ids[name]
    return " AND ".join(where), params, _order_by(orderby, direction, ids["include"])


def _order_by(orderby: str, direction: str, include: list[int]) -> str:
    if orderby == "include" and include:  # `post__in` order: the list's own order, whatever `order` says
        cases = " ".join(f"WHEN {order_id} THEN {position}" for position, order_id in enumerate(include))
        return f"CASE id {cases} END"
    if orderby == "modified":
        return f"date_modified_gmt {direction}, id {direction}"
    if orderby in ("id", "title", "slug"):  # orders have no title or slug of their own: they sort like ids
        return f"id {direction}"
    return f"date_created_gmt {direction}, id {direction}"
