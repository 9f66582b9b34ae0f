"""WordPress REST plumbing: the error shape and its odd statuses, pagination headers, JSON responses, and how
WordPress reads request parameters.

WordPress takes the HTTP status from `data.status` only when `data` is an object; an error whose `data` is a bare
integer (the refund controller does this) is answered with 500 (reference §2.2). `WooError` models exactly that.
"""
from __future__ import annotations

import json
import math
from typing import Any, Callable
from urllib.parse import unquote_plus, urlencode

from fastapi import Request
from fastapi.responses import Response

REST_PREFIX = "/wp-json/wc/v3"
MAX_PER_PAGE = 100


class WooError(Exception):
    def __init__(self, status: int, code: str, message: str, data: Any = None, **data_extra: Any) -> None:
        super().__init__(message)
        self.code, self.message = code, message
        if data is None:
            data = {"status": status, **data_extra}
        self.data = data
        self.status = data.get("status", 500) if isinstance(data, dict) else 500

    def body(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.message, "data": self.data}


def invalid_param(name: str, reason: str) -> WooError:
    return WooError(400, "rest_invalid_param", f"Invalid parameter(s): {name}", params={name: reason})


def invalid_params(problems: dict[str, tuple[str, str]]) -> WooError:
    """Several invalid parameters at once, as `WP_REST_Request::has_valid_params()` reports them:
    `problems` maps a parameter to (error code, reason), e.g. ("rest_invalid_type", "x is not of type string.")."""
    names = list(problems)
    return WooError(400, "rest_invalid_param", f"Invalid parameter(s): {', '.join(names)}",
                    params={name: reason for name, (_, reason) in problems.items()},
                    details={name: {"code": code, "message": reason, "data": {"param": name}}
                             for name, (code, reason) in problems.items()})


def no_route() -> WooError:
    return WooError(404, "rest_no_route", "No route was found matching the URL and request method.")


def php_json(payload: Any) -> bytes:
    """JSON bytes as `wp_json_encode` writes them with the REST server's default flags: compact, `\\/` for `/`
    and `\\uXXXX` for anything outside ASCII (only `?_pretty` would change that)."""
    text = json.dumps(payload, separators=(",", ":"), ensure_ascii=True)
    return text.replace("/", "\\/").encode("ascii")


def wc_response(payload: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(php_json(payload), status_code=status, headers=headers,
                    media_type="application/json; charset=UTF-8")


def only_fields(payload: Any, raw_fields: str) -> Any:
    """`rest_filter_response_fields()`: keep the keys named in `_fields` (comma list, `a.b` for nested keys) of an
    object, or of every object in a list. Unknown names are ignored, as WordPress does."""
    wanted = [field.strip() for field in raw_fields.split(",") if field.strip()]
    if not wanted:
        return payload

    def pick(item: Any) -> Any:
        if not isinstance(item, dict):
            return item
        kept: dict[str, Any] = {}
        for name in wanted:
            source, target, parts = item, kept, name.split(".")
            for depth, part in enumerate(parts):
                if not isinstance(source, dict) or part not in source:
                    break
                if depth == len(parts) - 1:
                    target[part] = source[part]
                else:
                    source = source[part]
                    target = target.setdefault(part, {})
        return kept

    return [pick(item) for item in payload] if isinstance(payload, list) else pick(payload)


def error_response(error: WooError, headers: dict[str, str] | None = None) -> Response:
    return wc_response(error.body(), error.status, headers)


def rest_url(home_url: str, route: str) -> str:
    """`rest_url()` with pretty permalinks: the store's home URL + `wp-json` + the route (`/wc/v3/...`)."""
    return f"{home_url}wp-json{route}"


def checks_args(check: Callable[[Request], Any]) -> Callable[[Callable], Callable]:
    """Mark a route handler with `check(request)` (plain or async; raises the 400), the validation of the
    arguments its route declares. WordPress runs it before the permission callback, so an anonymous caller with
    a bad `per_page` gets 400 `rest_invalid_param`, not the 401 (`auth.AuthGate` runs it for anonymous calls; the
    handler validates again for authenticated ones). `check` must have no side effects."""
    def mark(handler: Callable) -> Callable:
        handler.check_args = check  # type: ignore[attr-defined]
        return handler
    return mark


# ---- request parameters -------------------------------------------------------------------------------------
def parse_php_query(query: str) -> dict[str, Any]:
    """A query string (or form body) the way PHP's `parse_str` fills `$_GET`/`$_POST`: `+` and `%XX` decoded,
    a repeated plain key keeps its last value, `a[]=1&a[]=2` makes a list and `a[k]=v` a dict. (The `woocommerce`
    client sends every query parameter twice over http, which only works because the last one wins.)"""
    result: dict[str, Any] = {}
    for pair in query.split("&"):
        if not pair:
            continue
        raw_key, _, raw_value = pair.partition("=")
        key, value = unquote_plus(raw_key), unquote_plus(raw_value)
        base, bracket, rest = key.partition("[")
        base = base.replace(".", "_").replace(" ", "_")  # PHP mangles these in top-level names
        if not base:
            continue
        if not bracket or "]" not in rest:
            result[base] = value
            continue
        container = result.get(base)
        sub = rest[:rest.index("]")]
        if sub == "":
            if not isinstance(container, list):
                container = result[base] = []
            container.append(value)
        else:
            if not isinstance(container, dict):
                container = result[base] = {}
            container[sub] = value
    return result


def query_params(request: Request) -> dict[str, Any]:
    return parse_php_query(request.scope.get("query_string", b"").decode("latin-1"))


async def request_params(request: Request) -> dict[str, Any]:
    """`$request->get_params()`: JSON body over form body over query string (`WP_REST_Request` order)."""
    params = query_params(request)
    body = await request.body()
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if body and content_type == "application/x-www-form-urlencoded":
        params.update(parse_php_query(body.decode("utf-8", "replace")))
    elif body and content_type == "application/json":
        try:
            decoded = json.loads(body)
        except ValueError as exc:
            raise WooError(400, "rest_invalid_json", "Invalid JSON body passed.", json_error_code=4,
                           json_error_message=f"Syntax error ({exc.msg})") from None
        if isinstance(decoded, dict):
            params.update(decoded)
    return params


# ---- pagination ---------------------------------------------------------------------------------------------
def page_params(request: Request) -> tuple[int, int, int | None]:
    """(page, per_page, offset) with WordPress's validation: per_page 1–100, page ≥ 1, offset an integer."""
    q = request.query_params
    page = _int_param(q, "page", 1)
    per_page = _int_param(q, "per_page", 10)
    offset = _int_param(q, "offset", None)
    if page < 1:
        raise _out_of_bounds("page", "page must be greater than or equal to 1")
    if not 1 <= per_page <= MAX_PER_PAGE:
        raise _out_of_bounds("per_page", f"per_page must be between 1 (inclusive) and {MAX_PER_PAGE} (inclusive)")
    return page, per_page, offset


def _out_of_bounds(name: str, reason: str) -> WooError:
    return invalid_params({name: ("rest_out_of_bounds", reason)})


def _int_param(q: Any, name: str, default: int | None) -> Any:
    raw = q.get(name)
    if raw is None:
        return default
    try:
        return int(raw)
    except ValueError:
        raise invalid_params({name: ("rest_invalid_type", f"{name} is not of type integer.")}) from None


def paged(request: Request, items: list[Any], total: int, page: int, per_page: int) -> Response:
    """`200` with the page and `X-WP-Total`, `X-WP-TotalPages`, `Link` (prev/next only, as WC's CRUD controller)."""
    pages = math.ceil(total / per_page) if total else 0
    headers = {"X-WP-Total": str(total), "X-WP-TotalPages": str(pages)}
    links = []
    base = str(request.url).split("?")[0]
    params = [(k, v) for k, v in request.query_params.multi_items() if k != "page"]
    if page > 1:
        prev_page = min(page - 1, pages)
        links.append(f'<{base}?{urlencode(params + [("page", prev_page)])}>; rel="prev"')
    if page < pages:
        links.append(f'<{base}?{urlencode(params + [("page", page + 1)])}>; rel="next"')
    if links:
        headers["Link"] = ", ".join(links)
    return wc_response(items, 200, headers)
