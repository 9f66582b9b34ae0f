"""The wire side of webhook delivery, as WooCommerce 8.2 on WordPress 6.4 sends it (reference §1.1, §1.5, §1.6).

- the signature: `base64(HMAC-SHA256(body, wp_specialchars_decode(secret, ENT_QUOTES)))` over the exact body bytes;
- the Delivery-ID: `wp_hash(webhook_id . time())`, i.e. HMAC-MD5 with the site's salt: 32 hex characters that repeat
  for deliveries of one webhook within the same second;
- the request: HTTP/1.0 POST, one timeout, nothing but the documented headers; a delivery follows no redirect
  (`redirection => 0`), the creation ping follows up to 5 as `wp_safe_remote_post` does by default;
- `wp_http_validate_url`, which `wp_safe_remote_*` applies when the store refuses unsafe URLs: a refused URL is never
  requested and comes back as a transport error, exactly like a connection failure.

Everything here blocks (DNS, sockets), so callers run it through `in_daemon_thread`, off the store's event loop.
"""
from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import http.client
import re
import socket
import ssl
import threading
import time
from dataclasses import dataclass
from typing import Any, Callable
from urllib.parse import urljoin, urlsplit

USER_AGENT = "WooCommerce/8.2.2 Hookshot (WordPress/6.4.1)"
PING_TIMEOUT_S = 5.0  # wp_safe_remote_post's default `timeout` (the ping passes none)
PING_REDIRECTS = 5  # wp_safe_remote_post's default `redirection` (the ping passes none)
# Requests' Response::is_redirect(): 304, 305 and 306 are not redirects
_REDIRECT_STATUSES = frozenset((300, 301, 302, 303, 307, *range(308, 400)))
SAFE_PORTS = (80, 443, 8080)  # WordPress `http_allowed_safe_ports`

# wp_specialchars_decode($text, ENT_QUOTES): zero-padded numeric entities are normalised first, then strtr()
# replaces exactly these (case-sensitive) entities. Hex forms other than &#x27; &#x22; &#x26; stay as they are.
_ENTITY_PADDING = (
    (re.compile(r"&#0*39;"), "&#039;"), (re.compile(r"&#x0*27;", re.I), "&#x27;"),
    (re.compile(r"&#0*34;"), "&#034;"), (re.compile(r"&#x0*22;", re.I), "&#x22;"),
    (re.compile(r"&#0*60;"), "&#060;"), (re.compile(r"&#0*62;"), "&#062;"),
    (re.compile(r"&#0*38;"), "&#038;"), (re.compile(r"&#x0*26;", re.I), "&#x26;"),
)
_ENTITIES = {"&#039;": "'", "&#x27;": "'", "&quot;": '"', "&#034;": '"', "&#x22;": '"', "&lt;": "<", "&#060;": "<",
             "&gt;": ">", "&#062;": ">", "&amp;": "&", "&#038;": "&", "&#x26;": "&"}
_ENTITY = re.compile("|".join(re.escape(e) for e in sorted(_ENTITIES, key=len, reverse=True)))
_DOTTED_QUAD = re.compile(r"^(([1-9]?\d|1\d\d|25[0-5]|2[0-4]\d)\.){3}([1-9]?\d|1\d\d|25[0-5]|2[0-4]\d)$")


def wp_specialchars_decode(text: str) -> str:
    if "&" not in text:
        return text
    for pattern, replacement in _ENTITY_PADDING:
        text = pattern.sub(replacement, text)
    return _ENTITY.sub(lambda match: _ENTITIES[match.group(0)], text)


def signature(body: bytes, secret: str) -> str:
    key = wp_specialchars_decode(secret).encode("utf-8")
    return base64.b64encode(hmac.new(key, body, hashlib.sha256).digest()).decode("ascii")


def delivery_id(site_salt: bytes, webhook_id: int, unix_seconds: int) -> str:
    return hmac.new(site_salt, f"{webhook_id}{unix_seconds}".encode(), hashlib.md5).hexdigest()


def delivery_headers(*, source: str, topic: str, body: bytes, secret: str, webhook_id: int,
                     site_salt: bytes) -> dict[str, str]:
    """The headers of `WC_Webhook::deliver()`, in its order; the Delivery-ID is taken now (per second)."""
    resource, _, event = topic.partition(".")
    return {
        "User-Agent": USER_AGENT,
        "Content-Type": "application/json",
        "X-WC-Webhook-Source": source,
        "X-WC-Webhook-Topic": topic,
        "X-WC-Webhook-Resource": resource,
        "X-WC-Webhook-Event": event,
        "X-WC-Webhook-Signature": signature(body, secret),
        "X-WC-Webhook-ID": str(webhook_id),
        "X-WC-Webhook-Delivery-ID": delivery_id(site_salt, webhook_id, int(time.time())),
    }


def ping_request(webhook_id: int) -> tuple[bytes, dict[str, str]]:
    """`deliver_ping()`: a string body, so the transport sends it form-encoded; no X-WC-* header, no signature."""
    return f"webhook_id={webhook_id}".encode(), {"User-Agent": USER_AGENT,
                                                 "Content-Type": "application/x-www-form-urlencoded"}


def is_safe_url(url: str, home_url: str) -> bool:
    """WordPress `wp_http_validate_url()` with its default filters (blocking: it may resolve the host)."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return False
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        return False
    if parts.username is not None or parts.password is not None:
        return False
    if any(ch in parts.hostname for ch in ":#?[]"):  # IPv6 literals included, as PHP's parse_url keeps brackets
        return False
    home = urlsplit(home_url)
    same_host = (home.hostname or "").lower() == parts.hostname.lower()
    host = parts.hostname.strip(".")
    if not same_host:
        if _DOTTED_QUAD.match(host):
            address = host
        else:
            try:
                address = socket.gethostbyname(host)
            except OSError:
                return False
        if _is_local(address):
            return False
    if port is None or port in SAFE_PORTS:
        return True
    return same_host and home.port == port


def _is_local(address: str) -> bool:
    first, second = (int(part) for part in address.split(".")[:2])
    return first in (127, 10, 0) or (first == 172 and 16 <= second <= 31) or (first == 192 and second == 168)


@dataclass(frozen=True)
class Outcome:
    """What a request came back with: an HTTP status, or a transport error (WP_Error) and no status."""

    status: int | None
    error: str | None
    duration_ms: float


class _Http10Connection(http.client.HTTPConnection):
    _http_vsn = 10
    _http_vsn_str = "HTTP/1.0"


class _Https10Connection(http.client.HTTPSConnection):
    _http_vsn = 10
    _http_vsn_str = "HTTP/1.0"


def post(url: str, body: bytes, headers: dict[str, str], *, timeout: float, safe_only: bool,
         home_url: str, redirects: int = 0) -> Outcome:
    """A POST as `wp_safe_remote_request` makes it. Blocking.

    `redirects` = WordPress's `redirection`: with 0 (deliveries) a 3xx is the answer; otherwise the Requests
    library follows a redirect answer that has a `Location` (a relative one resolved against the URL asked), up
    to `redirects` times, then fails with "Too many redirects". A 302 or 303 is followed with GET (WordPress's
    `browser_redirect_compatibility`, Requests' 303 rule) that still carries the body, as cURL sends POSTFIELDS
    with any method; 301, 307 and 308 repeat the POST. With `safe_only` every hop must pass `is_safe_url`
    (WordPress's `validate_redirects` hook), else the request fails before that hop is sent.
    """
    started = time.monotonic()
    method, followed = "POST", 0
    while True:
        if safe_only and not is_safe_url(url, home_url):
            return Outcome(None, "http_request_failed: A valid URL was not provided.", _ms(started))
        try:
            status, location = _send(method, url, body, headers, timeout)
        except (OSError, http.client.HTTPException, ValueError) as exc:
            return Outcome(None, f"http_request_failed: {type(exc).__name__}: {exc}", _ms(started))
        if redirects <= 0 or status not in _REDIRECT_STATUSES:
            return Outcome(status, None, _ms(started))
        if followed >= redirects:  # checked before the Location, as Requests does
            return Outcome(None, "http_request_failed: Too many redirects", _ms(started))
        if location is None:
            return Outcome(status, None, _ms(started))
        if status in (302, 303):
            method = "GET"
        url, followed = urljoin(url, location), followed + 1


def _send(method: str, url: str, body: bytes, headers: dict[str, str], timeout: float) -> tuple[int, str | None]:
    """One HTTP/1.0 request → (status, Location header or None). Raises on transport errors."""
    parts = urlsplit(url)
    connection: http.client.HTTPConnection
    if parts.scheme.lower() == "https":
        connection = _Https10Connection(parts.hostname, parts.port, timeout=timeout,
                                        context=ssl.create_default_context())
    else:
        connection = _Http10Connection(parts.hostname, parts.port, timeout=timeout)
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    try:
        # http.client writes no Host line for HTTP/1.0 requests; WordPress's transport always sends one
        connection.putrequest(method, target, skip_host=True, skip_accept_encoding=True)
        connection.putheader("Host", parts.netloc.rpartition("@")[2])
        for name, value in headers.items():
            connection.putheader(name, value)
        connection.putheader("Content-Length", str(len(body)))
        connection.endheaders(body)
        response = connection.getresponse()
        response.read()
        return response.status, response.getheader("Location")
    finally:
        connection.close()


def _ms(started: float) -> float:
    return round((time.monotonic() - started) * 1000, 3)


async def in_daemon_thread(function: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Run blocking network I/O on a daemon thread and await its result.

    Not the loop's default executor: a delivery may hang for its whole 60 s timeout, and that executor is joined when
    the server shuts down; a daemon thread lets the sandbox stop at once (the abandoned request just ends later).
    """
    loop = asyncio.get_running_loop()
    future: asyncio.Future[Any] = loop.create_future()

    def settle(result: Any, error: BaseException | None) -> None:
        if future.done():
            return
        if error is not None:
            future.set_exception(error)
        else:
            future.set_result(result)

    def work() -> None:
        result, error = None, None
        try:
            result = function(*args, **kwargs)
        except BaseException as exc:  # noqa: BLE001 - handed to the awaiting coroutine
            error = exc
        try:
            loop.call_soon_threadsafe(settle, result, error)
        except RuntimeError:
            pass  # the loop closed while the request ran: nobody is waiting for it any more

    threading.Thread(target=work, name="woo-hookshot", daemon=True).start()
    return await future
