"""A webhook delivery as the inbox keeps it, and the rule that decides when two deliveries are the same."""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import cached_property


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

    @cached_property  # read several times per delivery on the intake's hot path
    def dedupe_key(self) -> str:
        return dedupe_key(self.topic, self.resource, self.resource_id, self.version, self.body, self.event_id)


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
