"""The WMS's REST conventions: bearer authentication, its error shape, strict body parsing, opaque cursors and
timestamps. Every resource module uses these, so the whole API answers alike (docs/wms-api.md)."""
from __future__ import annotations

import base64
import binascii
import datetime as dt
import hmac
import json
from typing import Any, Awaitable, Callable, TypeVar

from fastapi import Request
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field, StrictInt, ValidationError, field_validator

from retail_sync.sandbox.common.catalog import required_sku

API_PREFIX = "/api/v1"
DEFAULT_LIMIT = 100
MAX_LIMIT = 1000

Model = TypeVar("Model", bound=BaseModel)


class WmsError(Exception):
    """An answer other than success: `{"error": {"code", "message", ...details}}` with `status`."""

    def __init__(self, status: int, code: str, message: str, **details: Any) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.details = status, code, message, details

    def body(self) -> dict[str, Any]:
        return {"error": {"code": self.code, "message": self.message, **self.details}}


def json_response(payload: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    body = json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    return Response(body, status_code=status, headers=headers, media_type="application/json")


def error_response(error: WmsError, headers: dict[str, str] | None = None) -> Response:
    return json_response(error.body(), error.status, headers)


def not_found(kind: str, key: str) -> WmsError:
    return WmsError(404, f"{kind}_not_found", f"No {kind.replace('_', ' ')} {key!r}")


class BearerAuth:
    """Pure ASGI middleware: `/api/v1/*` needs `Authorization: Bearer <WMS_API_KEY>`; `/_sandbox/*` needs nothing.

    Checked before routing, so an unauthenticated caller learns nothing about which paths exist.
    """

    def __init__(self, app: Callable[..., Awaitable[None]], api_key: str) -> None:
        self.app = app
        self.key = api_key.encode()

    async def __call__(self, scope: dict, receive: Callable, send: Callable) -> None:
        path = scope.get("path", "")
        if scope["type"] == "http" and (path == API_PREFIX or path.startswith(API_PREFIX + "/")):
            given = dict(scope["headers"]).get(b"authorization")
            scheme, _, token = (given or b"").partition(b" ")
            if scheme.lower() != b"bearer" or not hmac.compare_digest(token.strip(), self.key):
                message = "Missing bearer token" if given is None else "Invalid bearer token"
                response = error_response(WmsError(401, "unauthorized", message),
                                          {"WWW-Authenticate": 'Bearer realm="wms"'})
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


async def parse_body(request: Request, model: type[Model], *, optional: bool = False) -> Model:
    """The request's JSON object validated by `model`; 400 naming the offending field otherwise."""
    raw = await request.body()
    if not raw.strip():
        if optional:
            return model()
        raise WmsError(400, "invalid_body", "Request body must be a JSON object")
    try:
        data = json.loads(raw)
    except ValueError as exc:
        raise WmsError(400, "invalid_json", f"Request body is not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise WmsError(400, "invalid_body", "Request body must be a JSON object")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise validation_error(exc.errors()) from None


def validation_error(errors: list[Any]) -> WmsError:
    """400 for the first invalid field, named as a path (`lines[1].quantity`); query errors name the parameter."""
    first = errors[0]
    loc = [part for part in first.get("loc", ()) if part not in ("body", "query", "path")]
    field = field_path(loc) or "body"
    return WmsError(400, "invalid_field", f"{field}: {first.get('msg', 'invalid')}", field=field)


def field_path(loc: list[Any]) -> str:
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def encode_cursor(key: list[Any]) -> str:
    """Opaque to clients: the last key of a page, base64url-encoded."""
    raw = json.dumps(key, separators=(",", ":"), ensure_ascii=False).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str | None, types: tuple[type, ...]) -> list[Any] | None:
    if not cursor:
        return None
    try:
        key = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (ValueError, binascii.Error):
        key = None
    if not (isinstance(key, list) and len(key) == len(types)
            and all(type(value) is kind for value, kind in zip(key, types))):
        raise WmsError(400, "invalid_cursor", "cursor is not one this API issued", field="cursor")
    return key


def equal_filters(filters: dict[str, Any]) -> tuple[list[str], list[Any]]:
    """`column = ?` conditions and their parameters for the filters that were given (not None)."""
    given = {column: value for column, value in filters.items() if value is not None}
    return [f"{column} = ?" for column in given], list(given.values())


def page(items: list[dict[str, Any]], limit: int, last_key: Callable[[dict[str, Any]], list[Any]]) -> dict[str, Any]:
    """`items` holds up to `limit + 1` rows: the extra one only says that another page exists."""
    more = len(items) > limit
    items = items[:limit]
    return {"data": items, "next_cursor": encode_cursor(last_key(items[-1])) if more else None}


def iso(timestamp: float | None) -> str | None:
    """UTC, millisecond precision, `Z` suffix: `2024-05-01T09:30:00.123Z`."""
    if timestamp is None:
        return None
    moment = dt.datetime.fromtimestamp(timestamp, dt.timezone.utc)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def prefixed_id(prefix: str, number: int) -> str:
    return f"{prefix}-{number:06d}"


def parse_prefixed_id(prefix: str, text: str) -> int | None:
    head, _, digits = text.partition("-")
    if head != prefix or not digits.isdigit() or not digits.isascii():
        return None
    return int(digits)


class Line(BaseModel):
    """A `{"sku", "quantity"}` pair, as fulfilment orders, shipments and return authorizations carry them."""

    model_config = ConfigDict(extra="forbid")
    sku: str = Field(min_length=1, max_length=100)
    quantity: StrictInt = Field(ge=1, le=1_000_000)

    @field_validator("sku")
    @classmethod
    def _sku(cls, value: str) -> str:
        return required_sku(value)


def reference(value: str, name: str) -> str:
    """A business reference (external_ref, rma_ref): trimmed, not blank."""
    value = value.strip()
    if not value:
        raise ValueError(f"{name} must not be blank")
    return value
