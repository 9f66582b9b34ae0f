"""REST routes for products, variations and their batch endpoints (`/wp-json/wc/v3/products...`).

Odd statuses kept from the real controllers (reference §2.2): an unknown id is 404 on GET/DELETE but 400 on PUT;
`DELETE` without `force=true` moves to the trash (and fires `product.deleted`), a second one answers 410; a batch
takes at most 100 items in total (else 413) and reports per-item errors inside a 200, without a transaction around
the items. Each write fires its webhook topic after the commit: variations fire `product.*` with their own id, and
their parent gets a `product.updated` (WooCommerce re-syncs and saves the parent). `POST /_sandbox/products/{id}/
restore` is the admin's "Restore" link (`wp_untrash_post`, the only way to `product.restored`).
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable

from fastapi import FastAPI, Request
from fastapi.responses import Response

from retail_sync.sandbox.common.db import dumps, loads
from retail_sync.sandbox.woocommerce.product_queries import check_list_args, list_rows
from retail_sync.sandbox.woocommerce.clock import now_gmt
from retail_sync.sandbox.woocommerce.product_store import product_row
from retail_sync.sandbox.woocommerce.product_views import (render_product, render_products, render_variation,
                                                           render_variations)
from retail_sync.sandbox.woocommerce.product_writes import (PRODUCT_SCHEMA, VARIATION_SCHEMA, Draft, apply_product,
                                                            apply_variation, save)
from retail_sync.sandbox.woocommerce.rest import (REST_PREFIX, WooError, checks_args, paged, query_params,
                                                  request_params, rest_url, wc_response)
from retail_sync.sandbox.woocommerce.rest_batch import as_int, batch_items
from retail_sync.sandbox.woocommerce.wp_schema import validate

if TYPE_CHECKING:
    from retail_sync.sandbox.woocommerce.app import WooSandbox

EDITABLE = ["POST", "PUT", "PATCH"]
VARIATION_PATH_HINT = ("To manipulate product variations you should use the "
                       "/products/&lt;product_id&gt;/variations/&lt;id&gt; endpoint.")
Events = list[tuple[str, int]]


def register(app: FastAPI, store: "WooSandbox") -> None:
    base = f"{REST_PREFIX}/products"

    @app.get(base)
    @checks_args(lambda request: check_list_args(store, request))
    async def list_products(request: Request) -> Response:
        rows, total, page, per_page = list_rows(store, request)
        return paged(request, render_products(store, rows, _context(request)), total, page, per_page)

    @app.post(base)
    @checks_args(lambda request: _check_body(request, PRODUCT_SCHEMA))
    async def create_product(request: Request) -> Response:
        params = await request_params(request)
        new_id = _write(store, lambda events: _create_product(store, validate(params, PRODUCT_SCHEMA), events),
                        params)
        return _created(store, render_product(store, product_row(store, new_id), "edit"), f"/products/{new_id}")

    @app.api_route(f"{base}/batch", methods=EDITABLE)
    async def batch_products(request: Request) -> Response:
        body = await request_params(request)
        return wc_response(_batch(store, {
            "create": lambda item, ev: _product_view(store, _create_product(store, item, ev)),
            "update": lambda item, ev: _product_view(store, _update_product(store, item.get("id"), item, ev)),
            "delete": lambda item_id, ev: _delete_product(store, item_id, True, ev),
        }, body))

    @app.get(base + "/{product_id:int}")
    async def get_product(product_id: int, request: Request) -> Response:
        row = product_row(store, product_id)
        if row is None:
            raise WooError(404, "woocommerce_rest_product_invalid_id", "Invalid ID.")
        return wc_response(render_product(store, row, _context(request)))

    @app.api_route(base + "/{product_id:int}", methods=EDITABLE)
    @checks_args(lambda request: _check_body(request, PRODUCT_SCHEMA))
    async def update_product(product_id: int, request: Request) -> Response:
        params = validate(await request_params(request), PRODUCT_SCHEMA)
        _write(store, lambda events: _update_product(store, product_id, params, events))
        return wc_response(render_product(store, product_row(store, product_id), "edit"))

    @app.delete(base + "/{product_id:int}")
    async def delete_product(product_id: int, request: Request) -> Response:
        force = _truthy(query_params(request).get("force"))
        return wc_response(_write(store, lambda events: _delete_product(store, product_id, force, events)))

    @app.get(base + "/{product_id:int}/variations")
    @checks_args(lambda request: check_list_args(store, request, variations_of=0))
    async def list_variations(product_id: int, request: Request) -> Response:
        rows, total, page, per_page = list_rows(store, request, variations_of=product_id)
        return paged(request, render_variations(store, rows, _context(request)), total, page, per_page)

    @app.post(base + "/{product_id:int}/variations")
    async def create_variation(product_id: int, request: Request) -> Response:
        params = await request_params(request)
        new_id = _write(store, lambda events: _create_variation(
            store, product_id, validate(params, VARIATION_SCHEMA), events), params)
        # the controller formats its rest_base into Location without substituting the parent id: a real store
        # really answers `.../products/(?P<product_id>[\d]+)/variations/123`
        return _created(store, render_variation(store, product_row(store, new_id), "edit"),
                        f"/products/(?P<product_id>[\\d]+)/variations/{new_id}")

    @app.api_route(base + "/{product_id:int}/variations/batch", methods=EDITABLE)
    async def batch_variations(product_id: int, request: Request) -> Response:
        body = await request_params(request)
        for kind in ("create", "update"):  # `array_merge(['product_id' => $id], $item)`: the item's own wins
            if isinstance(body.get(kind), list):
                body[kind] = [{"product_id": product_id, **item} if isinstance(item, dict) else item
                              for item in body[kind]]
        return wc_response(_batch(store, {
            "create": lambda item, ev: _variation_view(store, _create_variation(store, item["product_id"], item, ev)),
            "update": lambda item, ev: _variation_view(store, _update_variation(
                store, item["product_id"], item.get("id"), item, ev, check_parent=False)),
            "delete": lambda item_id, ev: _delete_variation(store, item_id, True, ev),
        }, body))

    @app.get(base + "/{product_id:int}/variations/{variation_id:int}")
    async def get_variation(product_id: int, variation_id: int, request: Request) -> Response:
        row = product_row(store, variation_id)
        if row is None:
            raise WooError(404, "woocommerce_rest_product_variation_invalid_id", "Invalid ID.")
        return wc_response(render_variation(store, row, _context(request)))

    @app.api_route(base + "/{product_id:int}/variations/{variation_id:int}", methods=EDITABLE)
    async def update_variation(product_id: int, variation_id: int, request: Request) -> Response:
        params = validate(await request_params(request), VARIATION_SCHEMA)
        _write(store, lambda events: _update_variation(store, product_id, variation_id, params, events,
                                                       check_parent=True))
        return wc_response(render_variation(store, product_row(store, variation_id), "edit"))

    @app.delete(base + "/{product_id:int}/variations/{variation_id:int}")
    async def delete_variation(product_id: int, variation_id: int, request: Request) -> Response:
        force = _truthy(query_params(request).get("force"))
        return wc_response(_write(store, lambda events: _delete_variation(store, variation_id, force, events)))

    @app.post("/_sandbox/products/{product_id:int}/restore")
    async def restore_product(product_id: int) -> Response:
        return wc_response(_write(store, lambda events: _restore(store, product_id, events)))


# ---- plumbing -------------------------------------------------------------------------------------------------
async def _check_body(request: Request, schema: dict[str, Any]) -> None:
    validate(await request_params(request), schema)


def _write(store: "WooSandbox", operation: Callable[[Events], Any], create_params: dict[str, Any] | None = None) -> Any:
    """Run one request's writes in one transaction, then fire the webhook topics they caused. For a create,
    record the attempt in the ledger under its business key (the SKU, else the name)."""
    events: Events = []
    try:
        with store.db.tx():
            result = operation(events)
    except WooError:
        if create_params is not None:
            _record(store, create_params, "rejected", None)
        raise
    if create_params is not None:
        _record(store, create_params, "created", result)
    for topic, resource_id in events:
        store.fire(topic, resource_id)
    return result


def _record(store: "WooSandbox", params: dict[str, Any], outcome: str, ref: Any) -> None:
    key = params.get("sku") or params.get("name") or ""
    store.ledger.record_create("product", str(key), outcome, ref)


def _created(store: "WooSandbox", body: dict[str, Any], route: str) -> Response:
    return wc_response(body, 201, {"Location": rest_url(store.home_url, "/wc/v3" + route)})


def _context(request: Request) -> str:
    return "edit" if request.query_params.get("context") == "edit" else "view"


def _truthy(value: Any) -> bool:
    return str(value).lower() in ("1", "true")


def _product_view(store: "WooSandbox", product_id: int) -> dict[str, Any]:
    return render_product(store, product_row(store, product_id), "edit")


def _variation_view(store: "WooSandbox", variation_id: int) -> dict[str, Any]:
    return render_variation(store, product_row(store, variation_id), "edit")


def _batch(store: "WooSandbox", handlers: dict[str, Callable[[Any, Events], Any]], body: dict[str, Any]) -> Any:
    """`rest_batch.batch_items` with each item as its own write (transaction, webhooks); creates are recorded in
    the ledger one by one."""
    return batch_items(body, {
        kind: (lambda item, handler=handler, kind=kind: _write(
            store, lambda events: handler(item, events), item if kind == "create" else None))
        for kind, handler in handlers.items()})


# ---- products -------------------------------------------------------------------------------------------------
def _create_product(store: "WooSandbox", params: dict[str, Any], events: Events) -> int:
    if params.get("id"):
        raise WooError(400, "woocommerce_rest_product_exists", "Cannot create existing product.")
    with store.db.tx() as conn:
        draft = apply_product(store, Draft(id=None, type="simple"), params)
        new_id = save(store, conn, draft, now_gmt())
    events.append(("product.created", new_id))
    return new_id


def _update_product(store: "WooSandbox", product_id: Any, params: dict[str, Any], events: Events) -> int:
    row = product_row(store, as_int(product_id))
    if row is None:
        raise WooError(400, "woocommerce_rest_product_invalid_id", "Invalid ID.")
    if row["type"] == "variation":
        raise WooError(404, "woocommerce_rest_invalid_product_id", VARIATION_PATH_HINT)
    with store.db.tx() as conn:
        save(store, conn, apply_product(store, Draft.of(row), params), now_gmt())
    events.append(("product.updated", row["id"]))
    return row["id"]


def _delete_product(store: "WooSandbox", product_id: int, force: bool, events: Events) -> dict[str, Any]:
    row = product_row(store, product_id)
    if row is None:
        raise WooError(404, "woocommerce_rest_product_invalid_id", "Invalid ID.")
    if row["type"] == "variation":
        raise WooError(404, "woocommerce_rest_invalid_product_id", VARIATION_PATH_HINT)
    response = render_product(store, row, "edit")  # rendered before the delete, as the controller does
    with store.db.tx() as conn:
        if force:
            conn.execute("DELETE FROM products WHERE parent_id = ? AND type = 'variation'", (row["id"],))
            conn.execute("DELETE FROM products WHERE id = ?", (row["id"],))
            return response  # a permanent delete fires no webhook (only `wp_trash_post` maps to product.deleted)
        if row["status"] == "trash":
            raise WooError(410, "woocommerce_rest_already_trashed", "The product has already been deleted.")
        now = now_gmt()
        for child in store.db.all("SELECT * FROM products WHERE parent_id = ? AND type = 'variation'"
                                  " AND status != 'trash' ORDER BY id", (row["id"],)):
            _trash(conn, child, now, events)  # `WC_Post_Data::trash_post` trashes the variations too
        _trash(conn, row, now, events)
    return response


def _trash(conn: Any, row: Any, now: str, events: Events) -> None:
    data = loads(row["data"])
    data["trash_meta_status"] = row["status"]  # `_wp_trash_meta_status`, what "Restore" goes back to
    conn.execute("UPDATE products SET status = 'trash', date_modified_gmt = ?, data = ? WHERE id = ?",
                 (now, dumps(data), row["id"]))
    events.append(("product.deleted", row["id"]))


def _restore(store: "WooSandbox", product_id: int, events: Events) -> dict[str, Any]:
    row = product_row(store, product_id)
    if row is None or row["status"] != "trash":
        raise WooError(404, "woocommerce_rest_product_invalid_id", "Invalid ID.")
    now = now_gmt()
    children = store.db.all("SELECT * FROM products WHERE parent_id = ? AND type = 'variation' AND status = 'trash'"
                            " ORDER BY id", (row["id"],))
    with store.db.tx() as conn:
        for target in [row, *children]:
            data = loads(target["data"])
            status = data.pop("trash_meta_status", "draft")  # WooCommerce restores its own post types' status
            conn.execute("UPDATE products SET status = ?, date_modified_gmt = ?, data = ? WHERE id = ?",
                         (status, now, dumps(data), target["id"]))
            events.append(("product.restored", target["id"]))
    return render_product(store, product_row(store, product_id))


# ---- variations -----------------------------------------------------------------------------------------------
def _variation_parent(store: "WooSandbox", parent_id: Any) -> Any:
    parent = product_row(store, as_int(parent_id))
    if parent is None or parent["type"] == "variation":
        raise WooError(404, "woocommerce_rest_product_invalid_id", "Invalid ID.")
    return parent


def _create_variation(store: "WooSandbox", parent_id: Any, params: dict[str, Any], events: Events) -> int:
    if params.get("id"):
        raise WooError(400, "woocommerce_rest_product_variation_exists", "Cannot create existing product_variation.")
    parent = _variation_parent(store, parent_id)
    with store.db.tx() as conn:
        draft = apply_variation(store, Draft(id=None, type="variation"), params, parent)
        now = now_gmt()
        new_id = save(store, conn, draft, now)
        conn.execute("UPDATE products SET date_modified_gmt = ? WHERE id = ?", (now, parent["id"]))
    events.extend([("product.created", new_id), ("product.updated", parent["id"])])
    return new_id


def _update_variation(store: "WooSandbox", parent_id: Any, variation_id: Any, params: dict[str, Any],
                      events: Events, check_parent: bool) -> int:
    """`check_parent` is the route's permission check ("Parent product does not match current variation.", 403
    for a signed-in key); batch updates skip it, and the variation then moves to the given parent."""
    row = product_row(store, as_int(variation_id))
    if check_parent and row is not None and row["parent_id"] and row["parent_id"] != as_int(parent_id):
        raise WooError(403, "woocommerce_rest_cannot_edit", "Parent product does not match current variation.")
    if row is None:
        raise WooError(400, "woocommerce_rest_product_variation_invalid_id", "Invalid ID.")
    parent = _variation_parent(store, parent_id)
    with store.db.tx() as conn:
        now = now_gmt()
        save(store, conn, apply_variation(store, Draft.of(row), params, parent), now)
        conn.execute("UPDATE products SET date_modified_gmt = ? WHERE id = ?", (now, parent["id"]))
    events.extend([("product.updated", row["id"]), ("product.updated", parent["id"])])
    return row["id"]


def _delete_variation(store: "WooSandbox", variation_id: int, force: bool, events: Events) -> dict[str, Any]:
    row = product_row(store, variation_id)
    if row is None:
        raise WooError(404, "woocommerce_rest_product_variation_invalid_id", "Invalid ID.")
    response = render_variation(store, row, "edit")
    now = now_gmt()
    with store.db.tx() as conn:
        if force:
            conn.execute("DELETE FROM products WHERE id = ?", (row["id"],))
        elif row["status"] == "trash":
            raise WooError(410, "woocommerce_rest_already_trashed", "The product_variation has already been deleted.")
        else:
            _trash(conn, row, now, events)
        if row["parent_id"]:
            conn.execute("UPDATE products SET date_modified_gmt = ? WHERE id = ?", (now, row["parent_id"]))
    if row["parent_id"]:
        events.append(("product.updated", row["parent_id"]))
    return response
