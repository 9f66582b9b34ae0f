"""A webhook delivery as the inbox keeps it, the rule that decides when two deliveries are the same, and the one
reading of a signed body both receivers share."""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from functools import cached_property

# The webhook_inbox columns a delivery is stored in (persistence/tables.py; the domain may not import persistence,
# so a unit test holds the two equal). A delivery that does not fit is refused here, as a 400 to its sender,
# instead of failing the insert as a 500 that the sender would retry for ever.
INBOX_COLUMN_LENGTHS = {"source": 32, "topic": 100, "resource": 50, "resource_id": 200, "version": 40,
                        "dedupe_key": 200}


class MalformedDelivery(ValueError):
    """A correctly signed delivery we cannot read or keep (answered 400); the message says why."""


@dataclass(frozen=True)
class Delivery:
    """What an external system told us, as accepted by a receiver and before anything acted on it."""

    source: str  # "woocommerce", "wms", ...
    topic: str  # "order.updated"
    resource: str  # "order"
    resource_id: str | None
    version: str | None  # the resource's own modification stamp (WooCommerce date_modified_gmt, WMS event time)
    body: str  # the raw, verified body, decoded as UTF-8
    event_id: str | None = None  # the sender's event id, when it is stable across retries (Standard Webhooks)

    def __post_init__(self) -> None:
        for column in ("source", "topic", "resource", "resource_id", "version", "dedupe_key"):
            value = getattr(self, column)
            if not fits_inbox(column, value):
                raise MalformedDelivery(f"{column} is {len(value)} characters, longer than the inbox keeps "
                                        f"({INBOX_COLUMN_LENGTHS[column]})")

    @cached_property  # read several times per delivery on the intake's hot path
    def dedupe_key(self) -> str:
        return dedupe_key(self.topic, self.resource, self.resource_id, self.version, self.body, self.event_id)


def fits_inbox(column: str, value: str | None) -> bool:
    """Whether `value` fits its webhook_inbox column (an absent value always does)."""
    return value is None or len(value) <= INBOX_COLUMN_LENGTHS[column]


def read_json_object(body: bytes) -> tuple[str, dict]:
    """A signed body as its text (kept verbatim in the inbox) and the JSON object it holds."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise MalformedDelivery(f"body is not UTF-8 (byte {exc.start})") from None
    try:
        payload = json.loads(text)
    except json.JSONDecodeError as exc:
        raise MalformedDelivery(f"body is not JSON: {exc.msg} at line {exc.lineno} column {exc.colno}") from None
    if not isinstance(payload, dict):
        raise MalformedDelivery("body is not a JSON object")
    return text, payload


def dedupe_key(topic: str, resource: str, resource_id: str | None, version: str | None, body: str,
               event_id: str | None = None) -> str:
    """Business identity of a delivery.

    A sender whose event id is the same on every retry of one event and unique across events (the WMS, per
    Standard Webhooks) is deduplicated by that id: two events about the same resource at the same time (two
    shipments in one second) are different news.

    WooCommerce has no such id: it repeats deliveries (several hooks per save, order.created and order.updated
    with identical bodies) and its delivery id is `hash(webhook id + unix second)`, so the same resource at the
    same version with the same body is the same news. The body's hash is part of the key because
    `date_modified_gmt` counts whole seconds: an order cancelled in the second it was created keeps its version,
    and that change must not be mistaken for a repeat. Where the body has no version (`*.deleted` carries only
    `{"id": N}`), the topic and a hash of the body stand in.
    """
    if event_id:
        return f"event:{event_id}"
    if resource_id is not None and version:
        return f"{resource}:{resource_id}:{version}:{_digest(body)[:16]}"
    digest = _digest(f"{topic}\n{body}")
    return f"{topic}:sha256:{digest}"


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()
