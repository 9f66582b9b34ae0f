"""HTTP to the store: the `woocommerce` package (OAuth 1.0a over http, Basic over https) under our call guard,
with explicit (connect, read) timeouts instead of the package's 5 s default, and WooCommerce's error bodies
(`{"code", "message", "data": {"status"}}`) read into our taxonomy.

- a 4xx → PermanentError with the store's code and message; 404 and 410 (unless the route itself is unknown)
  and every `*_invalid_id` code (WooCommerce answers a PUT of an unknown id with 400) → RecordGone
- a 2xx that is not JSON (a proxy's or a maintenance page), or a collection that is not a list → TransientError
- everything else (timeouts, 5xx, 429) is `http.call`'s business
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Mapping

import requests
import woocommerce

from retail_sync.connectors.http import CallGuard, call, error_json, excerpt, json_body
from retail_sync.errors import PermanentError, RecordGone, TransientError

SYSTEM = "woocommerce"
API_VERSION = "wc/v3"
NO_ROUTE = "rest_no_route"  # a 404 about the URL itself (wrong store URL, REST disabled), not about a record


@dataclass(frozen=True)
class StoreAnswer:
    body: Any
    headers: Mapping[str, str]

    @property
    def total_pages(self) -> int:
        return int(self.headers.get("X-WP-TotalPages") or 1)


class WooClient:
    def __init__(self, url: str, consumer_key: str, consumer_secret: str, *, connect_timeout_s: float,
                 read_timeout_s: float, guard: CallGuard):
        self._api = woocommerce.API(url=url, consumer_key=consumer_key, consumer_secret=consumer_secret,
                                    version=API_VERSION, timeout=(connect_timeout_s, read_timeout_s))
        self._guard = guard

    def get(self, endpoint: str, params: Mapping[str, Any] | None = None) -> StoreAnswer:
        return self._send("GET", endpoint, lambda: self._api.get(endpoint, params=dict(params or {})))

    def get_list(self, endpoint: str, params: Mapping[str, Any] | None = None) -> StoreAnswer:
        """A collection. JSON of another shape is something standing in for the store, like a non-JSON page."""
        answer = self.get(endpoint, params)
        if not isinstance(answer.body, list):
            raise TransientError(f"{SYSTEM} GET {endpoint}: a list was expected, got {type(answer.body).__name__}")
        return answer

    def post(self, endpoint: str, data: Mapping[str, Any]) -> StoreAnswer:
        return self._send("POST", endpoint, lambda: self._api.post(endpoint, dict(data)))

    def put(self, endpoint: str, data: Mapping[str, Any]) -> StoreAnswer:
        return self._send("PUT", endpoint, lambda: self._api.put(endpoint, dict(data)))

    def delete(self, endpoint: str, params: Mapping[str, Any] | None = None) -> StoreAnswer:
        return self._send("DELETE", endpoint, lambda: self._api.delete(endpoint, params=dict(params or {})))

    def _send(self, method: str, endpoint: str, send: Callable[[], requests.Response]) -> StoreAnswer:
        operation = f"{method} {endpoint}"
        response = call(SYSTEM, operation, send, self._guard)
        if not 200 <= response.status_code < 300:
            raise store_error(response, operation)
        return StoreAnswer(json_body(response, SYSTEM, operation), response.headers)


def store_error(response: requests.Response, operation: str) -> PermanentError:
    """The error a 4xx (or an unfollowed 3xx) answer stands for, named by WooCommerce's own code and message."""
    code, message = _error_fields(response)
    text = f"{SYSTEM} {operation}: HTTP {response.status_code} {code}: {message}" if code \
        else f"{SYSTEM} {operation}: HTTP {response.status_code} {excerpt(response)}"
    gone = response.status_code in (404, 410) and code != NO_ROUTE
    if gone or code.endswith("_invalid_id"):
        return RecordGone(text)
    return PermanentError(text)


def _error_fields(response: requests.Response) -> tuple[str, str]:
    """WooCommerce's `code` and `message`, or empty ones when the body is not its error object."""
    body = error_json(response) or {}
    return str(body.get("code") or ""), str(body.get("message") or "")
