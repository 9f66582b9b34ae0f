"""Every call to another system goes through `call()`: one guard before it (the shared rate limit, the Retry-After
pause and the circuit breaker, `connectors/resilience.py`) and one translation after it, from transport failures
and HTTP statuses into our error taxonomy. Adapters never let a `requests` exception or a 5xx escape as anything else.

- timeout, refused or reset connection, a body cut off, 408, 5xx → TransientError, and a failure for the breaker
- 429 → TransientError(retry_after=…) and a pause of that system for every worker; it is not a failure for the
  breaker (the remote is alive and asking us to slow down, which the pause already does)
- 503 with Retry-After → both: a failure for the breaker and a pause
- anything else comes back to the client, which reads a 2xx body through `json_body` and turns a 4xx into our
  taxonomy itself, from the remote's own error body (`error_json`): each system words its errors differently. A
  4xx is the remote answering, so it counts as a success for the breaker.

`timeouts` gives each system's (connect, read) timeouts, for its client and for the guard's trial-call lease.
"""
from __future__ import annotations

import email.utils
import time
from datetime import timezone
from typing import Any, Callable, Mapping, Protocol

import requests

from config.settings import Settings
from retail_sync.errors import TransientError

BODY_EXCERPT = 300  # enough of a remote error body to explain it, never a whole page
THROTTLE_PAUSE_S = 1.0  # a 429 without Retry-After (a WAF, a proxy) still pauses everyone briefly
MAX_PAUSE_S = 3600.0  # a Retry-After beyond this is a broken header, not a plan: it must not stall a system for days


class CallGuard(Protocol):
    """Shared by all workers (Redis-backed in production): decides whether a call may go now."""

    def before_call(self, system: str) -> None:
        """Return when the call may go (waiting briefly at most); raise TransientError(retry_after) otherwise."""
        ...

    def record(self, system: str, *, ok: bool, retry_after: float | None = None) -> None:
        """The outcome of a call: failures feed the breaker; a Retry-After pauses the system for everyone."""
        ...


class NoGuard:
    """No shared limits (unit tests of mappers and clients)."""

    def before_call(self, system: str) -> None:
        return None

    def record(self, system: str, *, ok: bool, retry_after: float | None = None) -> None:
        return None


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or an HTTP date), or None when absent/invalid."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return min(float(value), MAX_PAUSE_S)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    current = now if now is not None else time.time()
    return min(max(0.0, when.timestamp() - current), MAX_PAUSE_S)


def call(system: str, operation: str, send: Callable[[], requests.Response], guard: CallGuard) -> requests.Response:
    """Send one request under the guard and classify the outcome (see the module docstring)."""
    guard.before_call(system)
    try:
        response = send()
    except requests.Timeout as exc:
        guard.record(system, ok=False)
        raise TransientError(f"{system} {operation}: timed out ({type(exc).__name__})") from exc
    except (requests.ConnectionError, requests.exceptions.ChunkedEncodingError) as exc:
        guard.record(system, ok=False)
        raise TransientError(f"{system} {operation}: connection failed ({type(exc).__name__})") from exc
    status = response.status_code
    if status == 429:
        retry_after = parse_retry_after(response.headers.get("Retry-After")) or THROTTLE_PAUSE_S
        guard.record(system, ok=True, retry_after=retry_after)
        raise TransientError(f"{system} {operation}: HTTP 429 {excerpt(response)}", retry_after=retry_after)
    if status >= 500 or status == 408:
        retry_after = parse_retry_after(response.headers.get("Retry-After")) if status == 503 else None
        guard.record(system, ok=False, retry_after=retry_after)
        raise TransientError(f"{system} {operation}: HTTP {status} {excerpt(response)}", retry_after=retry_after)
    guard.record(system, ok=True)
    return response


def json_body(response: requests.Response, system: str, operation: str) -> Any:
    """The JSON of a 2xx answer. A 2xx that is not JSON is a proxy's or a maintenance page standing in for the
    remote, so it is transient, never a crash in the mapper."""
    try:
        return response.json()
    except ValueError as exc:
        content_type = response.headers.get("Content-Type", "no content type")
        raise TransientError(f"{system} {operation}: HTTP {response.status_code} without JSON ({content_type}): "
                             f"{excerpt(response)}") from exc


def error_json(response: requests.Response) -> Mapping[str, Any] | None:
    """The body as a JSON object, else None (an error page from a proxy, a JSON list, no body at all)."""
    try:
        body = response.json()
    except ValueError:
        return None
    return body if isinstance(body, Mapping) else None


def excerpt(response: requests.Response) -> str:
    text = response.text or ""
    return text[:BODY_EXCERPT] + ("…" if len(text) > BODY_EXCERPT else "")


def timeouts(settings: Settings, system: str) -> tuple[float, float]:
    """(connect, read) seconds for a call to `system`, named as the clients' SYSTEM constants name it."""
    read = {"woocommerce": settings.woo_timeout_s, "erp": settings.erp_timeout_s, "wms": settings.wms_timeout_s}
    return settings.connect_timeout_s, read[system]
