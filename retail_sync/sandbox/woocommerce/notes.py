"""Order notes: the system notes the store writes (status changes, stock moves, refunds) and the REST resource
`/orders/{id}/notes` (reference §2.9). Adding a note does not save the order, so it fires no webhook."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from fastapi import FastAPI, Request

from retail_sync.sandbox.woocommerce import order_store
from retail_sync.sandbox.woocommerce.clock import parse_gmt
from retail_sync.sandbox.woocommerce.query_params import bad, bool_value, enum_value
from retail_sync.sandbox.woocommerce.rest import REST_PREFIX, WooError, query_params, request_params, wc_response

if TYPE_CHECKING:
    from retail_sync.sandbox.woocommerce.app import WooSandbox

SCHEMA = """
CREATE TABLE IF NOT EXISTS order_notes (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    order_id INTEGER NOT NULL,
    author TEXT NOT NULL,                   -- 'system' for WooCommerce's own notes
    content TEXT NOT NULL,
    customer_note INTEGER NOT NULL DEFAULT 0,
    date_created_gmt TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS ix_order_notes_order ON order_notes (order_id, date_created_gmt, id);
"""
TABLES = ("order_notes",)
NOTE_TYPES = ("any", "customer", "internal")
API_USER_NAME = "admin"  # display name of the user the API keys belong to (`added_by_user: true`)


def add_note(store: "WooSandbox", order_id: int, content: str, customer_note: bool = False,
             added_by_user: bool = False) -> int:
    """`WC_Order::add_order_note`: written at once (it is a comment, not part of the order's save)."""
    cursor = store.db.execute(
        "INSERT INTO order_notes (order_id, author, content, customer_note, date_created_gmt) VALUES (?,?,?,?,?)",
        (order_id, API_USER_NAME if added_by_user else "system", content, int(customer_note),
         order_store.now_gmt(store)))
    return cursor.lastrowid


def delete_for_order(store: "WooSandbox", order_id: int) -> None:
    store.db.execute("DELETE FROM order_notes WHERE order_id = ?", (order_id,))


def counts(store: "WooSandbox") -> dict[str, int]:
    return {"order_notes": store.db.scalar("SELECT COUNT(*) FROM order_notes")}


def render_note(store: "WooSandbox", row: Any) -> dict[str, Any]:
    local, gmt = store.clock.pair(parse_gmt(row["date_created_gmt"]))
    base = f"{store.home_url}wp-json/wc/v3/orders/{row['order_id']}"
    return {
        "id": row["id"], "author": row["author"], "date_created": local, "date_created_gmt": gmt,
        "note": row["content"], "customer_note": bool(row["customer_note"]),
        "_links": {"self": [{"href": f"{base}/notes/{row['id']}"}], "collection": [{"href": f"{base}/notes"}],
                   "up": [{"href": base}]},
    }


def register(app: FastAPI, store: "WooSandbox") -> None:
    @app.get(REST_PREFIX + "/orders/{order_id:int}/notes")
    async def list_notes(order_id: int, request: Request):  # type: ignore[no-untyped-def]
        kind = enum_value(query_params(request).get("type"), "type", NOTE_TYPES, "any")
        if not order_store.exists(store, order_id):
            raise WooError(404, "woocommerce_rest_shop_order_invalid_id", "Invalid order ID.")
        where = {"any": "", "customer": " AND customer_note = 1", "internal": " AND customer_note = 0"}[kind]
        rows = store.db.all(f"SELECT * FROM order_notes WHERE order_id = ?{where}"  # noqa: S608 - fixed fragments
                            " ORDER BY date_created_gmt DESC, id DESC", (order_id,))
        return wc_response([render_note(store, row) for row in rows])

    @app.post(REST_PREFIX + "/orders/{order_id:int}/notes")
    async def create_note(order_id: int, request: Request):  # type: ignore[no-untyped-def]
        body = await request_params(request)
        key = f"{order_id}:{body.get('note', '')}"
        try:
            note_id = _create(store, order_id, body)
        except WooError as error:
            store.ledger.record_create("order_note", key, "rejected", None, code=error.code)
            raise
        store.ledger.record_create("order_note", key, "created", note_id)
        row = store.db.one("SELECT * FROM order_notes WHERE id = ?", (note_id,))
        location = f"{store.home_url}wp-json/wc/v3/orders/{order_id}/notes/{note_id}"
        return wc_response(render_note(store, row), 201, {"Location": location})

    @app.get(REST_PREFIX + "/orders/{order_id:int}/notes/{note_id:int}")
    async def get_note(order_id: int, note_id: int):  # type: ignore[no-untyped-def]
        return wc_response(render_note(store, _find(store, order_id, note_id)))

    @app.delete(REST_PREFIX + "/orders/{order_id:int}/notes/{note_id:int}")
    async def delete_note(order_id: int, note_id: int, request: Request):  # type: ignore[no-untyped-def]
        params = await request_params(request)
        if not bool_value(params.get("force"), "force", default=False):
            raise WooError(501, "woocommerce_rest_trash_not_supported", "Webhooks do not support trashing.")
        row = _find(store, order_id, note_id)
        response = render_note(store, row)
        with store.db.tx():
            store.db.execute("DELETE FROM order_notes WHERE id = ?", (note_id,))
        return wc_response(response)


def _create(store: "WooSandbox", order_id: int, body: dict[str, Any]) -> int:
    if body.get("id"):
        raise WooError(400, "woocommerce_rest_shop_order_exists", "Cannot create existing shop_order.")
    if "note" not in body:
        raise WooError(400, "rest_missing_callback_param", "Missing parameter(s): note", params=["note"])
    if not isinstance(body["note"], str):
        raise bad("note", "rest_invalid_type", "note is not of type string.")
    customer_note = bool_value(body.get("customer_note"), "customer_note", default=False)
    added_by_user = bool_value(body.get("added_by_user"), "added_by_user", default=False)
    if not order_store.exists(store, order_id):
        raise WooError(404, "woocommerce_rest_order_invalid_id", "Invalid order ID.")
    with store.db.tx():
        return add_note(store, order_id, body["note"], customer_note, added_by_user)


def _find(store: "WooSandbox", order_id: int, note_id: int) -> Any:
    if not order_store.exists(store, order_id):
        raise WooError(404, "woocommerce_rest_order_invalid_id", "Invalid order ID.")
    row = store.db.one("SELECT * FROM order_notes WHERE id = ? AND order_id = ?", (note_id, order_id))
    if row is None:
        raise WooError(404, "woocommerce_rest_invalid_id", "Invalid resource ID.")
    return row
