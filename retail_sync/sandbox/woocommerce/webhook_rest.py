"""The `wc/v3/webhooks` REST resource and the webhook control routes of the store sandbox.

It follows `WC_REST_Webhooks_V1/V2_Controller` (reference §1.7), odd corners included: a created webhook is always
`active` (the controller ignores `status` on create), GET or PUT of an unknown id answers 400 "ID is invalid.",
DELETE needs `force=true` (else 501), `secret` is never shown, `date_modified` stays null until the first save, and
the creation ping is sent before the 201 goes out. A topic that only passes the controller's case-insensitive check
(`Order.Created`) is stored empty by `set_topic`, so such a webhook never fires; a batch item's status that only
passes that way (`ACTIVE`) is coerced to `disabled` by `set_status`.

Control: `GET|POST /_sandbox/webhooks/behaviour` (delivery knobs, see `delivery.Behaviour`) and
`GET /_sandbox/webhooks/deliveries` (webhooks with their internal counters, pending actions, every attempt).
"""
from __future__ import annotations

import secrets
import string
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from fastapi import FastAPI, Query, Request
from fastapi.responses import Response

from retail_sync.sandbox.woocommerce import webhook_filters
from retail_sync.sandbox.woocommerce.clock import WC_FORMAT, now_gmt, parse_gmt
from retail_sync.sandbox.woocommerce.delivery import Behaviour, delivery_report
from retail_sync.sandbox.woocommerce.query_params import php_list
from retail_sync.sandbox.woocommerce.rest_batch import BATCH_LIMIT, as_int
from retail_sync.sandbox.woocommerce.rest import (REST_PREFIX, WooError, invalid_params, no_route, page_params,
                                                  paged, query_params, request_params, rest_url, wc_response)

if TYPE_CHECKING:
    from retail_sync.sandbox.woocommerce.app import WooSandbox

STATUSES = ("active", "paused", "disabled")
RESOURCES = ("coupon", "customer", "order", "product")
EVENTS = ("created", "updated", "deleted", "restored")
# WC_Webhook::get_topic_hooks() as of WooCommerce 8.2 (the version the sandbox announces in its User-Agent)
TOPIC_HOOKS = {
    "coupon.created": ["woocommerce_process_shop_coupon_meta", "woocommerce_new_coupon"],
    "coupon.updated": ["woocommerce_process_shop_coupon_meta", "woocommerce_update_coupon"],
    "coupon.deleted": ["wp_trash_post"],
    "coupon.restored": ["untrashed_post"],
    "customer.created": ["user_register", "woocommerce_created_customer", "woocommerce_new_customer"],
    "customer.updated": ["profile_update", "woocommerce_update_customer"],
    "customer.deleted": ["delete_user"],
    "order.created": ["woocommerce_new_order"],
    "order.updated": ["woocommerce_update_order", "woocommerce_order_refunded"],
    "order.deleted": ["wp_trash_post", "woocommerce_trash_order"],
    "order.restored": ["untrashed_post", "woocommerce_untrash_order"],
    "product.created": ["woocommerce_process_product_meta", "woocommerce_new_product",
                        "woocommerce_new_product_variation"],
    "product.updated": ["woocommerce_process_product_meta", "woocommerce_update_product",
                        "woocommerce_update_product_variation"],
    "product.deleted": ["wp_trash_post"],
    "product.restored": ["untrashed_post"],
}
INVALID_CUSTOM_TOPICS = ("action.woocommerce_login_credentials",
                         "action.woocommerce_product_csv_importer_check_import_file_path",
                         "action.woocommerce_webhook_should_deliver")
PASSWORD_CHARS = string.ascii_letters + string.digits + "!@#$%^&*()" + "-_ []{}<>~`+=,.;:/?|"


# ---- validation and representation ----------------------------------------------------------------------------
def is_valid_topic(topic: str) -> bool:
    """`wc_is_webhook_valid_topic()` (case-sensitive)."""
    if topic in INVALID_CUSTOM_TOPICS:
        return False
    if topic.startswith(("action.woocommerce_", "action.wc_")):
        return True
    parts = topic.split(".")
    return len(parts) >= 2 and parts[0] in RESOURCES and parts[1] in EVENTS


def is_valid_url(url: str) -> bool:
    """`wc_is_valid_url()`: http(s) and a URL PHP's FILTER_VALIDATE_URL accepts."""
    if not url.startswith(("http://", "https://")) or any(ch.isspace() for ch in url):
        return False
    try:
        return bool(urlsplit(url).hostname)
    except ValueError:
        return False


def topic_hooks(topic: str) -> list[str]:
    resource, _, event = topic.partition(".")
    return [event] if resource == "action" else TOPIC_HOOKS.get(topic, [])


def render_webhook(store: "WooSandbox", row: Any) -> dict[str, Any]:
    """The v3 (= v2) webhook object; `secret` is write-only."""
    topic = row["topic"]
    resource, _, event = topic.partition(".")
    created, created_gmt = store.clock.pair(parse_gmt(row["date_created_gmt"]))
    modified, modified_gmt = store.clock.pair(parse_gmt(row["date_modified_gmt"]))
    base = rest_url(store.home_url, "/wc/v3/webhooks")
    return {
        "id": row["id"], "name": row["name"], "status": row["status"], "topic": topic, "resource": resource,
        "event": event, "hooks": topic_hooks(topic), "delivery_url": row["delivery_url"],
        "date_created": created, "date_created_gmt": created_gmt,
        "date_modified": modified, "date_modified_gmt": modified_gmt,
        "_links": {"self": [{"href": f"{base}/{row['id']}"}], "collection": [{"href": base}]},
    }


def _one_of(name: str, value: Any, allowed: tuple[str, ...]) -> str:
    """WordPress's enum validation (`rest_not_in_enum`, "x is not one of a, b, and c.")."""
    if value not in allowed:
        raise invalid_params({name: ("rest_not_in_enum", f"{name} is not one of {php_list(allowed)}.")})
    return value


def _boolean(name: str, value: Any) -> bool:
    """`rest_is_boolean` + `rest_sanitize_boolean` (strings case-insensitively; requests sends `True`)."""
    if isinstance(value, str):
        value = value.lower()
    if value in (True, 1, "1", "true"):
        return True
    if value in (False, 0, "0", "false", ""):
        return False
    raise invalid_params({name: ("rest_invalid_type", f"{name} is not of type boolean.")})


def _id_list(params: dict[str, Any], name: str) -> list[int]:
    """`wp_parse_id_list`: `include=1,2` or `include[]=1&include[]=2`."""
    raw = params.get(name) or []
    chunks = raw if isinstance(raw, list) else [raw]
    ids = []
    for chunk in chunks:
        for piece in str(chunk).replace(" ", ",").split(","):
            if not piece.strip():
                continue
            try:
                ids.append(abs(int(piece)))
            except ValueError:
                raise invalid_params({name: ("rest_invalid_type", f"{name}[0] is not of type integer.")}) from None
    return ids


def _webhook_row(store: "WooSandbox", webhook_id: int) -> Any:
    return store.db.one("SELECT * FROM webhooks WHERE id = ?", (webhook_id,))


def _path_id(raw: str) -> int:
    if not raw.isdigit():  # the route is `webhooks/(?P<id>[\d]+)`
        raise no_route()
    return int(raw)


# ---- operations (shared by the single routes and /batch) ---------------------------------------------------------
def _create(store: "WooSandbox", params: dict[str, Any], *, route_args: bool) -> Any:
    """`create_item()`. `route_args`: the route's own argument checks run first (not for batch items)."""
    key = f"{params.get('topic', '')}|{params.get('delivery_url', '')}"
    try:
        if route_args:
            missing = [name for name in ("topic", "delivery_url") if name not in params]
            if missing:
                raise WooError(400, "rest_missing_callback_param",
                               f"Missing parameter(s): {', '.join(missing)}", params=missing)
            if "status" in params:
                _one_of("status", params["status"], STATUSES)
        if params.get("id"):
            raise WooError(400, "woocommerce_rest_shop_webhook_exists", "Cannot create existing shop_webhook.")
        topic = str(params.get("topic") or "").strip()
        if not topic or not is_valid_topic(topic.lower()):
            raise WooError(400, "woocommerce_rest_shop_webhook_invalid_topic",
                           "Webhook topic is required and must be valid.")
        delivery_url = str(params.get("delivery_url") or "").strip()
        if not delivery_url or not is_valid_url(delivery_url):
            raise WooError(400, "woocommerce_rest_shop_webhook_invalid_delivery_url",
                           "Webhook delivery URL must be a valid URL starting with http:// or https://.")
    except WooError:
        store.ledger.record_create("webhook", key, "rejected")
        raise
    now = store.clock.now_utc()
    name = params.get("name") or f"Webhook created on {now.strftime('%b %d, %Y @ %I:%M %p')}"
    secret = params.get("secret") or "".join(secrets.choice(PASSWORD_CHARS) for _ in range(50))
    with store.db.tx() as conn:
        webhook_id = conn.execute(
            "INSERT INTO webhooks (name, status, topic, delivery_url, secret, date_created_gmt)"
            " VALUES (?, 'active', ?, ?, ?, ?)",
            (str(name), topic if is_valid_topic(topic) else "", delivery_url, str(secret),
             now.strftime(WC_FORMAT))).lastrowid
    store.ledger.record_create("webhook", key, "created", webhook_id)
    return _webhook_row(store, webhook_id)


def _update(store: "WooSandbox", webhook_id: int, params: dict[str, Any], *, route_args: bool) -> tuple[Any, bool]:
    """`update_item()` + `save()`: the saved row, and whether the save pings (active and new URL or pending)."""
    if route_args and params.get("status") not in (None, ""):
        _one_of("status", params["status"], STATUSES)
    row = _webhook_row(store, webhook_id)
    if row is None:
        raise WooError(400, "woocommerce_rest_shop_webhook_invalid_id", "ID is invalid.")
    changes: dict[str, Any] = {}
    topic = str(params.get("topic") or "").strip()
    if topic:
        if not is_valid_topic(topic.lower()):
            raise WooError(400, "woocommerce_rest_shop_webhook_invalid_topic", "Webhook topic must be valid.")
        changes["topic"] = topic if is_valid_topic(topic) else ""
    delivery_url = str(params.get("delivery_url") or "").strip()
    if delivery_url:
        if not is_valid_url(delivery_url):
            raise WooError(400, "woocommerce_rest_shop_webhook_invalid_delivery_url",
                           "Webhook delivery URL must be a valid URL starting with http:// or https://.")
        changes["delivery_url"] = delivery_url
    if params.get("secret"):
        changes["secret"] = str(params["secret"])
    if params.get("status"):
        status = str(params["status"])
        if status.lower() not in STATUSES:
            raise WooError(400, "woocommerce_rest_shop_webhook_invalid_status", "Webhook status must be valid.")
        # set_status() coerces what it does not know (e.g. "ACTIVE" from a batch item) to disabled; failure_count
        # is left alone, so re-enabling a disabled webhook does not reset it
        changes["status"] = status if status in STATUSES else "disabled"
    if params.get("name"):
        changes["name"] = str(params["name"])
    assignments = "".join(f"{column} = ?, " for column in changes)
    with store.db.tx() as conn:
        conn.execute(f"UPDATE webhooks SET {assignments}date_modified_gmt = ? WHERE id = ?",  # noqa: S608
                     (*changes.values(), now_gmt(), webhook_id))
    saved = _webhook_row(store, webhook_id)
    url_changed = saved["delivery_url"] != row["delivery_url"]
    return saved, saved["status"] == "active" and (url_changed or bool(saved["pending_delivery"]))


def _delete(store: "WooSandbox", webhook_id: int, force: bool) -> dict[str, Any]:
    if not force:
        raise WooError(501, "woocommerce_rest_trash_not_supported", "Webhooks do not support trashing.")
    row = _webhook_row(store, webhook_id)
    if row is None:
        raise WooError(404, "woocommerce_rest_shop_webhook_invalid_id", "Invalid ID.")
    body = render_webhook(store, row)
    with store.db.tx() as conn:
        conn.execute("DELETE FROM webhook_actions WHERE webhook_id = ?", (webhook_id,))
        conn.execute("DELETE FROM webhooks WHERE id = ?", (webhook_id,))
    return body


# ---- routes ---------------------------------------------------------------------------------------------------
def register(app: FastAPI, store: "WooSandbox") -> None:
    runner = store.webhooks.runner
    collection = f"{REST_PREFIX}/webhooks"

    async def create_and_ping(params: dict[str, Any], route_args: bool) -> dict[str, Any]:
        row = _create(store, params, route_args=route_args)
        body = render_webhook(store, row)  # prepared before the ping, as create_item() does
        await runner.ping(row)
        return body

    async def update_and_ping(webhook_id: int, params: dict[str, Any], route_args: bool) -> dict[str, Any]:
        row, pings = _update(store, webhook_id, params, route_args=route_args)
        if pings:
            await runner.ping(row)
            row = _webhook_row(store, webhook_id)
        return render_webhook(store, row)

    @app.get(collection)
    async def list_webhooks(request: Request) -> Response:
        page, per_page, offset = page_params(request)
        q = query_params(request)
        status = _one_of("status", q.get("status", "all"), ("all", *STATUSES))
        order = _one_of("order", q.get("order", "desc"), ("asc", "desc")).upper()
        orderby = {"date": "date_created_gmt", "id": "id", "title": "name"}[
            _one_of("orderby", q.get("orderby", "date"), ("date", "id", "title"))]
        where, args = ["1=1"], []
        if status != "all":
            where.append("status = ?")
            args.append(status)
        if q.get("search"):
            where.append("name LIKE ? ESCAPE '\\'")
            args.append("%" + q["search"].replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%")
        for name, operator in (("include", "IN"), ("exclude", "NOT IN")):
            ids = _id_list(q, name)
            if ids:
                where.append(f"id {operator} ({','.join('?' * len(ids))})")
                args.extend(ids)
        created, created_args = webhook_filters.created_between(q)  # after/before: inclusive, GMT
        if created:
            where.append(created)
            args.extend(created_args)
        clause = " AND ".join(where)
        total = store.db.scalar(f"SELECT COUNT(*) FROM webhooks WHERE {clause}", args)  # noqa: S608
        rows = store.db.all(
            f"SELECT * FROM webhooks WHERE {clause} ORDER BY {orderby} {order}, id {order}"  # noqa: S608
            " LIMIT ? OFFSET ?", (*args, per_page, offset if offset is not None else (page - 1) * per_page))
        return paged(request, [render_webhook(store, row) for row in rows], total, page, per_page)

    @app.post(collection)
    async def create_webhook(request: Request) -> Response:
        body = await create_and_ping(await request_params(request), route_args=True)
        return wc_response(body, 201, {"Location": rest_url(store.home_url, f"/wc/v3/webhooks/{body['id']}")})

    @app.api_route(f"{collection}/batch", methods=["POST", "PUT", "PATCH"])
    async def batch_webhooks(request: Request) -> Response:
        params = await request_params(request)
        items = {verb: params.get(verb) or [] for verb in ("create", "update", "delete")}
        if sum(len(value) for value in items.values()) > BATCH_LIMIT:
            raise WooError(413, "woocommerce_rest_request_entity_too_large",
                           f"Unable to accept more than {BATCH_LIMIT} items for this request.")
        result: dict[str, list[Any]] = {"create": [], "update": [], "delete": []}
        for item in items["create"]:
            try:
                result["create"].append(await create_and_ping(dict(item), route_args=False))
            except WooError as error:
                result["create"].append({"id": 0, "error": error.body()})
        for item in items["update"]:
            try:
                result["update"].append(await update_and_ping(as_int(item.get("id")), dict(item),
                                                              route_args=False))
            except WooError as error:
                result["update"].append({"id": item.get("id"), "error": error.body()})
        for raw_id in items["delete"]:
            webhook_id = as_int(raw_id)
            if webhook_id == 0:  # skipped, as batch_items() does
                continue
            try:
                result["delete"].append(_delete(store, webhook_id, force=True))
            except WooError as error:
                result["delete"].append({"id": webhook_id, "error": error.body()})
        return wc_response({verb: entries for verb, entries in result.items() if entries})

    @app.get(f"{collection}/{{raw_id}}")
    async def get_webhook(raw_id: str) -> Response:
        webhook_id = _path_id(raw_id)
        if webhook_id == 0:
            raise WooError(404, "woocommerce_rest_shop_webhook_invalid_id", "Invalid ID.")
        row = _webhook_row(store, webhook_id)
        if row is None:  # prepare_item_for_response's error, passed through by rest_ensure_response
            raise WooError(400, "woocommerce_rest_shop_webhook_invalid_id", "ID is invalid.")
        return wc_response(render_webhook(store, row))

    @app.api_route(f"{collection}/{{raw_id}}", methods=["POST", "PUT", "PATCH"])
    async def update_webhook(raw_id: str, request: Request) -> Response:
        return wc_response(await update_and_ping(_path_id(raw_id), await request_params(request), route_args=True))

    @app.delete(f"{collection}/{{raw_id}}")
    async def delete_webhook(raw_id: str, request: Request) -> Response:
        webhook_id = _path_id(raw_id)
        params = await request_params(request)
        return wc_response(_delete(store, webhook_id, _boolean("force", params.get("force", False))))

    # ---- control ----------------------------------------------------------------------------------------------
    @app.get("/_sandbox/webhooks/behaviour")
    async def get_behaviour() -> dict[str, Any]:
        return runner.behaviour.model_dump()

    @app.post("/_sandbox/webhooks/behaviour")
    async def set_behaviour(behaviour: Behaviour) -> dict[str, Any]:
        runner.configure(behaviour)
        return behaviour.model_dump()

    @app.get("/_sandbox/webhooks/deliveries")
    async def deliveries(since: int = Query(0, ge=0), limit: int = Query(10_000, ge=1, le=100_000),
                         webhook_id: int | None = Query(None)) -> dict[str, Any]:
        return delivery_report(store, since, limit, webhook_id)
