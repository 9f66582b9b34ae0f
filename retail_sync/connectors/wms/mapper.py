"""Pure translation between canonical terms and the WMS contract (docs/wms-api.md): a fulfilment request out;
fulfilment orders, stock rows and error bodies in. Timestamps come back aware, in UTC."""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Any, Mapping

from retail_sync.connectors.ports import FulfilmentRequest, WmsFulfilment, WmsStock
from retail_sync.errors import Conflict, NotCancellable, PermanentError, RecordGone, SyncError

# 409 codes that mean "another record already holds this idempotency key" (a changed release or RMA)
CONFLICT_CODES = frozenset({"external_ref_conflict", "rma_ref_conflict"})
NOT_CANCELLABLE = "not_cancellable"
ERROR_DETAILS = ("field", "id", "order_status")  # what the contract adds to an error where it helps


def fulfilment_body(request: FulfilmentRequest) -> dict[str, Any]:
    """The create body. The same request always gives the same body, so a retry is recognised as the same
    release (a different one under the same external_ref is a 409)."""
    return {"external_ref": request.external_ref, "site": request.site,
            "lines": [{"sku": line.sku, "quantity": line.quantity} for line in request.lines],
            "ship_to": dict(request.ship_to)}


def fulfilment_from_json(data: Mapping[str, Any]) -> WmsFulfilment:
    return WmsFulfilment(id=data["id"], external_ref=data["external_ref"], site=data["site"], status=data["status"])


def stock_from_json(data: Mapping[str, Any]) -> WmsStock:
    return WmsStock(sku=data["sku"], site=data["site"], on_hand=int(data["on_hand"]),
                    allocated=int(data["allocated"]), updated_at=parse_timestamp(data.get("updated_at")))


def parse_timestamp(value: str | None) -> datetime | None:
    """`2024-05-01T09:30:00.123Z` (or any ISO 8601 with an offset) → an aware UTC datetime; a naive one is UTC."""
    if not value:
        return None
    moment = datetime.fromisoformat(value)  # reads a trailing Z since Python 3.11
    if moment.tzinfo is None:
        return moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc)


def error_for(operation: str, status: int, body: Mapping[str, Any] | None, fallback: str = "") -> SyncError:
    """Our taxonomy for a 4xx answer `{"error": {"code", "message", ...}}`: a conflicting idempotency key →
    Conflict, a cancel after pick → NotCancellable, 404 → RecordGone, any other → PermanentError. `fallback`
    stands in for a message the body does not give (an excerpt of a proxy's page, say)."""
    error = body.get("error") if body is not None else None
    if not isinstance(error, Mapping):
        error = {}
    code, message = str(error.get("code") or "error"), str(error.get("message") or fallback or "no message")
    detail = {key: error[key] for key in ERROR_DETAILS if key in error}
    text = f"wms {operation}: HTTP {status} {code}: {message}"
    if detail:
        text += " (" + ", ".join(f"{key}={value}" for key, value in detail.items()) + ")"
    if status == 409 and code in CONFLICT_CODES:
        return Conflict(text)
    if status == 409 and code == NOT_CANCELLABLE:
        return NotCancellable(text)
    if status == 404:
        return RecordGone(text)
    return PermanentError(text)
