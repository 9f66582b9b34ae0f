"""Customers of the store sandbox: `GET/POST /customers`, `GET/PUT/DELETE /customers/{id}`, `/customers/batch`
(the v3 customers controller) and their REST representation.

As on a real store: `POST` with an email that is already registered fails with `registration-error-email-exists`
(the message is WooCommerce's, link markup included); `PUT` to someone else's email is refused with
`woocommerce_rest_customer_invalid_email`; an unknown id is 404 on GET and 400 on PUT; emails compare
case-insensitively (MySQL collation); the list is ordered by name ascending unless asked otherwise.
"""
from __future__ import annotations

import hashlib
import re
from typing import TYPE_CHECKING, Any, Callable

from fastapi import FastAPI, Request
from fastapi.responses import Response

from retail_sync.sandbox.common.db import dumps, loads
from retail_sync.sandbox.woocommerce.clock import now_gmt, parse_gmt
from retail_sync.sandbox.woocommerce.query_params import bool_value, int_value, php_list
from retail_sync.sandbox.woocommerce.rest import (REST_PREFIX, WooError, checks_args, invalid_params, page_params,
                                                  paged, query_params, request_params, rest_url, wc_response)
from retail_sync.sandbox.woocommerce.rest_batch import as_int, batch_items
from retail_sync.sandbox.woocommerce.wp_schema import clean, validate

if TYPE_CHECKING:
    from retail_sync.sandbox.woocommerce.app import WooSandbox

BILLING_FIELDS = ("first_name", "last_name", "company", "address_1", "address_2", "city", "postcode", "country",
                  "state", "email", "phone")
SHIPPING_FIELDS = ("first_name", "last_name", "company", "address_1", "address_2", "city", "postcode", "country",
                   "state", "phone")
CUSTOMER_SCHEMA: dict[str, Any] = {"email": "string", "first_name": "string", "last_name": "string",
                                   "username": "string", "password": "string", "billing": "object",
                                   "shipping": "object", "meta_data": "array"}
EMAIL_EXISTS = ('An account is already registered with your email address. '
                '<a href="#" class="showlogin">Please log in.</a>')
EDITABLE = ["POST", "PUT", "PATCH"]
ORDERBY = {"id": "id", "include": "id", "name": "display_name", "registered_date": "date_created_gmt"}
_EMAIL = re.compile(r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+$")


def register(app: FastAPI, store: "WooSandbox") -> None:
    base = f"{REST_PREFIX}/customers"

    @app.get(base)
    @checks_args(lambda request: (page_params(request), _list_args(query_params(request))))
    async def list_customers(request: Request) -> Response:
        rows, total, page, per_page = _list(store, request)
        return paged(request, [_render(store, row) for row in rows], total, page, per_page)

    @app.post(base)
    @checks_args(lambda request: _checked_request(request, creating=True))
    async def create_customer(request: Request) -> Response:
        params = await request_params(request)
        customer_id = _create_one(store, params, lambda: _valid(params, creating=True))
        return wc_response(render_customer(store, customer_id), 201,
                           {"Location": rest_url(store.home_url, f"/wc/v3/customers/{customer_id}")})

    @app.api_route(base + "/batch", methods=EDITABLE)
    async def batch_customers(request: Request) -> Response:
        # items skip the route's argument checks (`batch_items()` calls the handlers directly): a missing or bad
        # email is what `wc_create_new_customer()` says about it; other values still need their schema types here
        return wc_response(batch_items(await request_params(request), {
            "create": lambda item: render_customer(store, _create_one(
                store, item, lambda: validate(item, CUSTOMER_SCHEMA))),
            "update": lambda item: _update_one(store, as_int(item.get("id")), _valid(item, creating=False)),
            "delete": lambda customer_id: _delete(store, customer_id, force=True, reassign=None),
        }))

    @app.get(base + "/{customer_id:int}")
    async def get_customer(customer_id: int) -> Response:
        body = render_customer(store, customer_id)
        if body is None:
            raise WooError(404, "woocommerce_rest_invalid_id", "Invalid resource ID.")
        return wc_response(body)

    @app.api_route(base + "/{customer_id:int}", methods=EDITABLE)
    @checks_args(lambda request: _checked_request(request, creating=False))
    async def update_customer(customer_id: int, request: Request) -> Response:
        return wc_response(_update_one(store, customer_id, _valid(await request_params(request), creating=False)))

    @app.delete(base + "/{customer_id:int}")
    @checks_args(lambda request: _delete_args(query_params(request)))
    async def delete_customer(customer_id: int, request: Request) -> Response:
        force, reassign = _delete_args(query_params(request))
        return wc_response(_delete(store, customer_id, force, reassign))


def _create_one(store: "WooSandbox", params: dict[str, Any], check: Callable[[], dict[str, Any]]) -> int:
    """Create after `check()` (which returns the sanitised params); record the attempt in the ledger under the
    email, fire `customer.created`."""
    key = str(params.get("email", "")).strip().lower()
    try:
        customer_id = _create(store, check())
    except WooError:
        store.ledger.record_create("customer", key, "rejected")
        raise
    store.ledger.record_create("customer", key, "created", customer_id)
    store.fire("customer.created", customer_id)
    return customer_id


def _update_one(store: "WooSandbox", customer_id: int, params: dict[str, Any]) -> dict[str, Any] | None:
    _update(store, customer_id, params)
    store.fire("customer.updated", customer_id)
    return render_customer(store, customer_id)


async def _checked_request(request: Request, creating: bool) -> None:
    _valid(await request_params(request), creating)


def _delete_args(q: dict[str, Any]) -> tuple[bool, int | None]:
    """The DELETE route's `force` (boolean, default false) and `reassign` (integer) arguments."""
    force = bool_value(q.get("force"), "force", default=False)
    reassign = int_value(q.get("reassign"), "reassign")
    return force, None if reassign is None else abs(reassign)


def _delete(store: "WooSandbox", customer_id: int, force: bool, reassign: int | None) -> dict[str, Any]:
    """`WC_REST_Customers_V1_Controller::delete_item()` as WooCommerce 8.2 has it: no trash (501 before even
    looking the id up), an unknown id is 400 with "id" in lower case (unlike GET/PUT), the response is the customer
    as it was. `delete_user` fires `customer.deleted`; `wc_reset_order_customer_id_on_deleted_user` then turns the
    customer's orders into guest orders with one UPDATE (HPOS also bumps their modified date; no order webhook)."""
    if not force:
        raise WooError(501, "woocommerce_rest_trash_not_supported", "Customers do not support trashing.")
    body = render_customer(store, customer_id)
    if body is None:
        raise WooError(400, "woocommerce_rest_invalid_id", "Invalid resource id.")
    if reassign and (reassign == customer_id or not store.db.one("SELECT 1 FROM customers WHERE id = ?", (reassign,))):
        raise WooError(400, "woocommerce_rest_customer_invalid_reassign", "Invalid resource id for reassignment.")
    with store.db.tx() as conn:
        conn.execute("DELETE FROM customers WHERE id = ?", (customer_id,))
        conn.execute("UPDATE orders SET customer_id = 0, date_modified_gmt = ? WHERE customer_id = ?",
                     (now_gmt(), customer_id))
    store.fire("customer.deleted", customer_id)  # the payload is `{"id": N}`: nothing left to render
    return body


def render_customer(store: "WooSandbox", customer_id: int) -> dict[str, Any] | None:
    row = store.db.one("SELECT * FROM customers WHERE id = ?", (customer_id,))
    return None if row is None else _render(store, row)


def _render(store: "WooSandbox", row: Any) -> dict[str, Any]:
    data = loads(row["data"])
    created, created_gmt = store.clock.pair(parse_gmt(row["date_created_gmt"]))
    modified, modified_gmt = store.clock.pair(parse_gmt(row["date_modified_gmt"]))
    email_hash = hashlib.md5(row["email"].strip().lower().encode()).hexdigest()  # noqa: S324 - gravatar's scheme
    return {
        "id": row["id"], "date_created": created, "date_created_gmt": created_gmt,
        "date_modified": modified, "date_modified_gmt": modified_gmt, "email": row["email"],
        "first_name": data.get("first_name", ""), "last_name": data.get("last_name", ""), "role": "customer",
        "username": row["username"],
        "billing": {name: data.get("billing", {}).get(name, "") for name in BILLING_FIELDS},
        "shipping": {name: data.get("shipping", {}).get(name, "") for name in SHIPPING_FIELDS},
        "is_paying_customer": bool(data.get("is_paying_customer", False)),
        "avatar_url": f"https://secure.gravatar.com/avatar/{email_hash}?s=96&d=mm&r=g",
        "meta_data": data.get("meta_data", []),
        "_links": {"self": [{"href": rest_url(store.home_url, f"/wc/v3/customers/{row['id']}")}],
                   "collection": [{"href": rest_url(store.home_url, "/wc/v3/customers")}]},
    }


def _valid(params: dict[str, Any], creating: bool) -> dict[str, Any]:
    if creating and "email" not in params:
        raise WooError(400, "rest_missing_callback_param", "Missing parameter(s): email", params=["email"])
    params = validate(params, CUSTOMER_SCHEMA)
    if params.get("email") is not None and not _EMAIL.match(params["email"]):
        raise invalid_params({"email": ("rest_invalid_email", "Invalid email address.")})
    return params


def _create(store: "WooSandbox", params: dict[str, Any]) -> int:
    if params.get("id"):
        raise WooError(400, "woocommerce_rest_customer_exists", "Cannot create existing resource.")
    email = str(params.get("email") or "").strip()
    if not _EMAIL.match(email):  # only a batch item gets here without the route's email checks
        raise WooError(400, "registration-error-invalid-email", "Please provide a valid email address.")
    if email_owner(store, email) is not None:
        raise WooError(400, "registration-error-email-exists", EMAIL_EXISTS)
    username = clean(params.get("username") or "")
    if username and store.db.one("SELECT 1 FROM customers WHERE username = ?", (username,)):
        raise WooError(400, "registration-error-username-exists",
                       "An account is already registered with that username. Please choose another.")
    now = now_gmt()
    data = _apply({}, params)
    with store.db.tx() as conn:
        customer_id = conn.execute(
            "INSERT INTO customers (email, username, display_name, date_created_gmt, date_modified_gmt, data)"
            " VALUES (?,?,?,?,?,?)",
            (email, username or _new_username(conn, email), _display_name(data, username or email), now, now,
             dumps(data))).lastrowid
    return customer_id


def _update(store: "WooSandbox", customer_id: int, params: dict[str, Any]) -> None:
    row = store.db.one("SELECT * FROM customers WHERE id = ?", (customer_id,))
    if row is None:
        raise WooError(400, "woocommerce_rest_invalid_id", "Invalid resource ID.")
    email = params.get("email")
    if email and email_owner(store, email) not in (None, customer_id):
        raise WooError(400, "woocommerce_rest_customer_invalid_email", "Email address is invalid.")
    if params.get("username") and params["username"] != row["username"]:
        raise WooError(400, "woocommerce_rest_customer_invalid_argument", "Username isn't editable.")
    data = _apply(loads(row["data"]), params)
    with store.db.tx() as conn:
        conn.execute("UPDATE customers SET email = ?, display_name = ?, date_modified_gmt = ?, data = ? WHERE id = ?",
                     (email.strip() if email else row["email"], _display_name(data, row["username"]),
                      now_gmt(), dumps(data), customer_id))


def _apply(data: dict[str, Any], params: dict[str, Any]) -> dict[str, Any]:
    """`update_customer_meta_fields()`: names, and the known billing/shipping fields that were sent."""
    data = dict(data)
    for name in ("first_name", "last_name"):
        if params.get(name) is not None:
            data[name] = clean(params[name])
    for group, fields in (("billing", BILLING_FIELDS), ("shipping", SHIPPING_FIELDS)):
        if isinstance(params.get(group), dict):
            address = dict(data.get(group, {}))
            address.update({k: str(v) for k, v in params[group].items() if k in fields and v is not None})
            data[group] = address
    return data


def _display_name(data: dict[str, Any], fallback: str) -> str:
    name = f"{data.get('first_name', '')} {data.get('last_name', '')}".strip()
    return name or fallback


def email_owner(store: "WooSandbox", email: str) -> int | None:
    row = store.db.one("SELECT id FROM customers WHERE email = ? COLLATE NOCASE", (email.strip(),))
    return None if row is None else row["id"]


def _new_username(conn: Any, email: str) -> str:
    """`wc_create_new_customer_username()`: the email's local part, made unique with a number."""
    base = re.sub(r"[^a-z0-9_.@-]", "", email.split("@")[0].lower()) or "customer"
    candidate, n = base, 1
    while conn.execute("SELECT 1 FROM customers WHERE username = ?", (candidate,)).fetchone():
        n += 1
        candidate = f"{base}{n}"
    return candidate


def _list_args(q: dict[str, Any]) -> None:
    problems = {}
    if q.get("orderby", "name") not in ORDERBY:
        problems["orderby"] = ("rest_not_in_enum", f"orderby is not one of {php_list(list(ORDERBY))}.")
    if q.get("order", "asc") not in ("asc", "desc"):
        problems["order"] = ("rest_not_in_enum", "order is not one of asc and desc.")
    if problems:
        raise invalid_params(problems)


def _list(store: "WooSandbox", request: Request) -> tuple[list[Any], int, int, int]:
    q = query_params(request)
    page, per_page, offset = page_params(request)
    _list_args(q)
    where, args = ["1"], []
    if q.get("email"):
        where.append("email = ? COLLATE NOCASE")
        args.append(str(q["email"]))
    elif q.get("search"):
        term = f"%{q['search']}%"
        where.append("(email LIKE ? OR username LIKE ? OR display_name LIKE ?)")
        args.extend([term, term, term])
    for name, clause in (("include", "id IN"), ("exclude", "id NOT IN")):
        ids = [int(i) for i in re.split(r"[\s,]+", ",".join(q[name]) if isinstance(q.get(name), list)
                                        else str(q.get(name) or "")) if i.strip().isdigit()]
        if ids:
            where.append(f"{clause} ({','.join('?' * len(ids))})")
            args.extend(ids)
    sql_where = " AND ".join(where)
    direction = "DESC" if q.get("order") == "desc" else "ASC"
    total = store.db.scalar(f"SELECT COUNT(*) FROM customers WHERE {sql_where}", args)
    start = offset if offset else (page - 1) * per_page
    rows = store.db.all(f"SELECT * FROM customers WHERE {sql_where} ORDER BY {ORDERBY[q.get('orderby', 'name')]}"
                        f" {direction}, id {direction} LIMIT ? OFFSET ?", [*args, per_page, max(start, 0)])
    return rows, total, page, per_page
