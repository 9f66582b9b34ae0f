"""`WC_REST_Controller::batch_items()`, shared by the products, variations and customers batch routes.

`{"create": [...], "update": [{"id": N, ...}], "delete": [ids]}`: at most 100 items over the three (else 413,
nothing applied); creates, then updates, then deletes (always forced); each item runs on its own, so one item's
failure becomes `{"id": N|0, "error": {code, message, data}}` in the 200 and the others still apply. Items skip
the route's argument validation, as the controller calls its handlers directly.
"""
from __future__ import annotations

from typing import Any, Callable

from retail_sync.sandbox.woocommerce.rest import WooError

BATCH_LIMIT = 100
KINDS = ("create", "update", "delete")

# one handler per kind: create/update get the item (a dict), delete gets the id (a positive int)
Handlers = dict[str, Callable[[Any], Any]]


def batch_items(body: dict[str, Any], handlers: Handlers) -> Any:
    """The batch response (`[]` when nothing was asked, as PHP's empty array encodes)."""
    items = {kind: body[kind] for kind in KINDS if body.get(kind)}
    if sum(len(v) if isinstance(v, (list, dict)) else 1 for v in items.values()) > BATCH_LIMIT:
        raise WooError(413, "woocommerce_rest_request_entity_too_large",
                       f"Unable to accept more than {BATCH_LIMIT} items for this request.")
    response: dict[str, list[Any]] = {}
    for kind, entries in items.items():
        for entry in entries if isinstance(entries, list) else list(entries.values()):
            if kind == "delete":
                entry_id = as_int(entry)
                if entry_id == 0:
                    continue  # `absint()` of it is 0: the controller skips it without a word
                outcome = _one(handlers[kind], entry_id, entry_id)
            elif isinstance(entry, dict):
                outcome = _one(handlers[kind], entry, 0 if kind == "create" else entry.get("id"))
            else:
                continue
            response.setdefault(kind, []).append(outcome)
    return response or []


def _one(handler: Callable[[Any], Any], item: Any, item_id: Any) -> Any:
    try:
        return handler(item)
    except WooError as error:
        return {"id": item_id, "error": error.body()}


def as_int(value: Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0
