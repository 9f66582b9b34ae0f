"""Authentication and key permissions as a real store applies them (reference §2.1, §7; `WC_REST_Authentication`).

* Only `/wp-json/wc/...` (and `wc-...`) requests are authenticated. Over plain http only OAuth 1.0a one-legged
  counts; HTTP Basic and `consumer_key`/`consumer_secret` query keys count only when the store is https (`--tls`,
  or `--assume-https` behind TLS termination) and are otherwise ignored, so such a request runs anonymous.
* An anonymous request reaches the route's permission check and gets the controller's 401 ("Sorry, you cannot
  list resources."), except on a CRUD item that does not exist, where WooCommerce lets it through to its 404,
  and except when the route's own argument checks fail first (400 `rest_invalid_param`, see `_deny_anonymous`).
* `/?rest_route=/wc/v3/...` is dispatched like `/wp-json/wc/v3/...` but never authenticated (WooCommerce 8.x only
  looks for `wp-json/wc/` in the request URI), so even valid keys get the anonymous 401.
* A failed Basic secret sets "Consumer secret is invalid." and the store then still tries OAuth, which replaces
  its auth method: that is why a real store never sends the `WWW-Authenticate` header it has code for.

Used nonces live in SQLite, keyed by (key, timestamp) as WooCommerce stores them, so a restart still refuses them.
"""
from __future__ import annotations

import base64
import inspect
import json
import re
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Awaitable, Callable, Literal
from urllib.parse import urlencode

from fastapi import FastAPI, Request
from pydantic import BaseModel, ConfigDict, Field
from starlette.routing import Match

from retail_sync.sandbox.woocommerce import oauth
from retail_sync.sandbox.woocommerce.rest import (
    WooError, error_response, no_route, only_fields, parse_php_query, php_json,
)

if TYPE_CHECKING:
    from retail_sync.sandbox.woocommerce.app import WooSandbox

SCHEMA = """
CREATE TABLE IF NOT EXISTS api_keys (
    key_id INTEGER PRIMARY KEY AUTOINCREMENT,
    consumer_key TEXT NOT NULL UNIQUE,
    consumer_secret TEXT NOT NULL,
    permissions TEXT NOT NULL                -- read | write | read_write
);
CREATE TABLE IF NOT EXISTS api_nonces (
    key_id INTEGER NOT NULL,
    timestamp TEXT NOT NULL,                 -- the array key WooCommerce uses: one nonce per (key, timestamp)
    stamp REAL NOT NULL,
    nonce TEXT NOT NULL,
    PRIMARY KEY (key_id, timestamp)
);
CREATE INDEX IF NOT EXISTS ix_api_nonces_nonce ON api_nonces (key_id, nonce);
"""
TABLES = ("api_keys", "api_nonces")

WP_JSON = "/wp-json/"
NONCE_WINDOW_S = 15 * 60
READ_METHODS, WRITE_METHODS = {"GET", "HEAD"}, {"POST", "PUT", "PATCH", "DELETE"}
AUTH_ERROR = "woocommerce_rest_authentication_error"


@dataclass(frozen=True)
class ApiKey:
    key_id: int
    consumer_key: str
    consumer_secret: str
    permissions: str


class ApiKeyIn(BaseModel):
    """Body of `POST /_sandbox/api-keys` (what WooCommerce → Settings → Advanced → REST API creates)."""

    model_config = ConfigDict(extra="forbid")
    consumer_key: str = Field(min_length=1)
    consumer_secret: str = Field(min_length=1)
    permissions: Literal["read", "write", "read_write"] = "read_write"


def install(store: "WooSandbox") -> None:
    """The configured key (`WOO_CONSUMER_KEY`/`WOO_CONSUMER_SECRET`) always exists with read_write."""
    save_key(store, store.options.woo_consumer_key, store.options.woo_consumer_secret, "read_write")


def counts(store: "WooSandbox") -> dict[str, int]:
    return {}


def register(app: FastAPI, store: "WooSandbox") -> None:
    @app.post("/_sandbox/api-keys")
    async def add_api_key(body: ApiKeyIn) -> dict[str, Any]:
        key = save_key(store, body.consumer_key, body.consumer_secret, body.permissions)
        return {"key_id": key.key_id, "consumer_key": key.consumer_key, "permissions": key.permissions}


def save_key(store: "WooSandbox", consumer_key: str, consumer_secret: str, permissions: str) -> ApiKey:
    """Add a key, or replace the secret and permissions of an existing one."""
    with store.db.tx() as conn:
        key_id = conn.execute(
            "INSERT INTO api_keys (consumer_key, consumer_secret, permissions) VALUES (?,?,?)"
            " ON CONFLICT (consumer_key) DO UPDATE SET consumer_secret = excluded.consumer_secret,"
            " permissions = excluded.permissions RETURNING key_id", (consumer_key, consumer_secret, permissions)
        ).fetchall()[0][0]
    return ApiKey(key_id, consumer_key, consumer_secret, permissions)


# ---- the gate every request passes ------------------------------------------------------------------------
class AuthGate:
    """Authenticate REST requests, apply key permissions and `_fields`, answer anonymous ones.

    A plain ASGI middleware rather than `@app.middleware("http")`: Starlette's BaseHTTPMiddleware costs a task and a
    memory stream per request, which was a measurable share of the store's per-call time in the benchmark.
    """

    def __init__(self, app: Callable[..., Awaitable[None]], store: "WooSandbox") -> None:
        self.app, self.store = app, store

    async def __call__(self, scope: dict, receive: Callable, send: Callable) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        body = await _read_body(receive)
        request = Request(scope, _replay(body))
        try:
            authenticated = await _authorize(self.store, request)
        except WooError as error:
            await error_response(error)(scope, receive, send)
            return
        fields = request.query_params.get("_fields") if authenticated else None
        await self.app(scope, _replay(body), _FieldsFilter(send, fields) if fields is not None else send)


async def _authorize(store: "WooSandbox", request: Request) -> bool:
    """True when a key authenticated the request; raises what WooCommerce answers when it must not run."""
    path = request.url.path
    if path.startswith(WP_JSON):
        route = path[len(WP_JSON):]
        key = await _authenticate(store, request) if route.startswith(("wc/", "wc-")) else None
        if key is not None:
            _check_permissions(key, request.method)
            request.state.permission = key.permissions
            return True
    elif path in ("/", "/index.php") and "rest_route" in request.query_params:
        _dispatch_rest_route(request)
    else:
        return False
    await _deny_anonymous(store, request)
    request.state.permission = None
    return False


class _FieldsFilter:
    """Apply `_fields` to a successful answer (the REST server does this for every route, after the controller)."""

    def __init__(self, send: Callable, raw_fields: str) -> None:
        self.send, self.raw_fields = send, raw_fields
        self.start: dict | None = None
        self.chunks: list[bytes] = []

    async def __call__(self, message: dict) -> None:
        if message["type"] == "http.response.start":
            if 200 <= message["status"] < 300:
                self.start = message
                return
        elif self.start is not None and message["type"] == "http.response.body":
            self.chunks.append(message.get("body", b""))
            if message.get("more_body"):
                return
            filtered = php_json(only_fields(json.loads(b"".join(self.chunks)), self.raw_fields))
            headers = [(k, v) for k, v in self.start["headers"] if k.lower() != b"content-length"]
            await self.send({**self.start, "headers": headers + [(b"content-length", str(len(filtered)).encode())]})
            await self.send({"type": "http.response.body", "body": filtered})
            return
        await self.send(message)


async def _read_body(receive: Callable) -> bytes:
    chunks = []
    while True:
        message = await receive()
        chunks.append(message.get("body", b""))
        if message["type"] != "http.request" or not message.get("more_body"):
            return b"".join(chunks)


def _replay(body: bytes) -> Callable[[], Awaitable[dict]]:
    sent = False

    async def receive() -> dict:
        nonlocal sent
        if sent:
            return {"type": "http.disconnect"}
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return receive


def _dispatch_rest_route(request: Request) -> None:
    """`/?rest_route=/wc/v3/products&x=1` is served as `/wp-json/wc/v3/products?x=1`, unauthenticated."""
    params = parse_php_query(request.scope.get("query_string", b"").decode("latin-1"))
    route = str(params.pop("rest_route"))
    path = "/wp-json" + (route if route.startswith("/") else "/" + route)
    request.scope["path"] = path
    request.scope["raw_path"] = path.encode()
    request.scope["query_string"] = urlencode([(k, v) for k, v in params.items() if isinstance(v, str)]).encode()


async def _deny_anonymous(store: "WooSandbox", request: Request) -> None:
    """Raise what the matched route's permission callback answers an anonymous caller, or `rest_no_route`.

    `WP_REST_Server::dispatch()` checks the route's declared arguments (`has_valid_params()`) before the
    permission callback, so a route whose handler is marked with `rest.checks_args` answers a bad argument with
    its 400 even to an anonymous caller."""
    for route in request.app.router.routes:
        match, child = route.matches(request.scope)
        if match is Match.FULL:
            template, params = getattr(route, "path", ""), child.get("path_params", {})
            break
    else:
        raise no_route()
    check = getattr(getattr(route, "endpoint", None), "check_args", None)
    if check is not None and inspect.isawaitable(outcome := check(request)):
        await outcome
    method = request.method
    if template.endswith("/batch"):
        raise _denied("woocommerce_rest_cannot_batch", "Sorry, you are not allowed to batch manipulate this resource.")
    if not template.endswith("}"):
        if method in READ_METHODS:
            raise _denied("woocommerce_rest_cannot_view", "Sorry, you cannot list resources.")
        raise _denied("woocommerce_rest_cannot_create", "Sorry, you are not allowed to create resources.")
    if _missing_crud_object(store, template, params):
        return  # WC's CRUD permission check only guards objects that exist; the handler answers "Invalid ID."
    if method in READ_METHODS:
        raise _denied("woocommerce_rest_cannot_view", "Sorry, you cannot view this resource.")
    if method == "DELETE":
        raise _denied("woocommerce_rest_cannot_delete", "Sorry, you are not allowed to delete this resource.")
    raise _denied("woocommerce_rest_cannot_edit", "Sorry, you are not allowed to edit this resource.")


def _missing_crud_object(store: "WooSandbox", template: str, params: dict[str, Any]) -> bool:
    """True for an unknown id on a route of a CRUD controller (products, variations, orders)."""
    shape = re.sub(r"\{\w+(:\w+)?\}", "{}", template)
    try:
        object_id = int(list(params.values())[-1])
    except (IndexError, TypeError, ValueError):
        return False
    if shape.endswith(("/products/{}", "/variations/{}")):
        return store.db.one("SELECT 1 FROM products WHERE id = ?", (object_id,)) is None
    if shape.endswith("/orders/{}"):
        return store.render("order", object_id) is None
    return False


def _denied(code: str, message: str) -> WooError:
    return WooError(401, code, message)


def _check_permissions(key: ApiKey, method: str) -> None:
    """`check_permissions()`: read keys may GET/HEAD, write keys may change, OPTIONS is always allowed."""
    if method in READ_METHODS:
        if key.permissions not in ("read", "read_write"):
            raise WooError(401, AUTH_ERROR, "The API key provided does not have read permissions.")
    elif method in WRITE_METHODS:
        if key.permissions not in ("write", "read_write"):
            raise WooError(401, AUTH_ERROR, "The API key provided does not have write permissions.")
    elif method != "OPTIONS":
        raise WooError(401, AUTH_ERROR, "Unknown request method.")


# ---- authentication -----------------------------------------------------------------------------------------
async def _authenticate(store: "WooSandbox", request: Request) -> ApiKey | None:
    """`authenticate()`: Basic/query keys when https, then OAuth; the last error set wins, even over a success."""
    error: WooError | None = None
    key: ApiKey | None = None
    query = parse_php_query(request.scope.get("query_string", b"").decode("latin-1"))
    if _is_ssl(store):
        key, error = _basic(store, request, query)
    if key is None:
        try:
            key = await _oauth(store, request, query)
        except oauth.OAuthFailure as failure:
            error = WooError(401, failure.code, failure.message)
    if error is not None:
        raise error
    return key


def _is_ssl(store: "WooSandbox") -> bool:
    return bool(store.options.tls or store.options.assume_https)


def _basic(store: "WooSandbox", request: Request, query: dict[str, Any]) -> tuple[ApiKey | None, WooError | None]:
    consumer_key, consumer_secret = query.get("consumer_key"), query.get("consumer_secret")
    if oauth.php_empty(consumer_key) or oauth.php_empty(consumer_secret):
        consumer_key, consumer_secret = _basic_header(request.headers.get("authorization", ""))
    if oauth.php_empty(consumer_key) or oauth.php_empty(consumer_secret):
        return None, None
    key = _key(store, str(consumer_key).strip())
    if key is None:
        return None, None  # an unknown key sets no error: the request simply runs anonymous
    if key.consumer_secret != consumer_secret:
        return None, WooError(401, AUTH_ERROR, "Consumer secret is invalid.")
    return key, None


def _basic_header(header: str) -> tuple[str | None, str | None]:
    scheme, _, token = header.strip().partition(" ")
    if scheme.lower() != "basic":
        return None, None
    try:
        user, _, password = base64.b64decode(token.strip(), validate=True).decode("utf-8").partition(":")
    except ValueError:
        return None, None
    return user, password


async def _oauth(store: "WooSandbox", request: Request, query: dict[str, Any]) -> ApiKey | None:
    form: dict[str, Any] = {}
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if request.method == "POST" and content_type == "application/x-www-form-urlencoded":
        form = parse_php_query((await request.body()).decode("utf-8", "replace"))  # PHP's $_POST
    params = oauth.collect(query, form, request.headers.get("authorization", ""))
    if params is None:
        return None
    key = _key(store, str(params["oauth_consumer_key"]).strip())
    if key is None:
        raise oauth.OAuthFailure("Consumer key is invalid.")
    oauth.verify_signature(params, key.consumer_secret, request.method, _signed_url(store, request))
    _check_timestamp_and_nonce(store, key, str(params["oauth_timestamp"]), str(params["oauth_nonce"]))
    return key


def _signed_url(store: "WooSandbox", request: Request) -> str:
    """The URL as the client addressed it: the store's scheme, the Host header, the raw (still encoded) path."""
    scheme = "https" if _is_ssl(store) else "http"
    host = request.headers.get("host") or f"{store.options.host}:{store.options.woo_port}"
    raw_path = request.scope.get("raw_path") or request.url.path.encode()
    return f"{scheme}://{host}{raw_path.decode('latin-1').split('?')[0]}"


def _check_timestamp_and_nonce(store: "WooSandbox", key: ApiKey, timestamp: str, nonce: str) -> None:
    now = time.time()
    try:
        stamp = float(timestamp)
    except ValueError:
        raise oauth.OAuthFailure("Invalid timestamp.") from None
    if not now - NONCE_WINDOW_S <= stamp <= now + NONCE_WINDOW_S:
        raise oauth.OAuthFailure("Invalid timestamp.")
    with store.db.tx() as conn:
        if conn.execute("SELECT 1 FROM api_nonces WHERE key_id = ? AND nonce = ?", (key.key_id, nonce)).fetchone():
            raise oauth.OAuthFailure("Invalid nonce - nonce has already been used.")
        # keyed by timestamp like `$used_nonces[$timestamp] = $nonce`: a second nonce in the same second replaces it
        conn.execute("INSERT OR REPLACE INTO api_nonces (key_id, timestamp, stamp, nonce) VALUES (?,?,?,?)",
                     (key.key_id, timestamp, stamp, nonce))
        conn.execute("DELETE FROM api_nonces WHERE key_id = ? AND stamp < ?", (key.key_id, now - NONCE_WINDOW_S))


def _key(store: "WooSandbox", consumer_key: str) -> ApiKey | None:
    row = store.db.one("SELECT key_id, consumer_key, consumer_secret, permissions FROM api_keys"
                       " WHERE consumer_key = ?", (consumer_key,))
    return None if row is None else ApiKey(row["key_id"], row["consumer_key"], row["consumer_secret"],
                                           row["permissions"])
