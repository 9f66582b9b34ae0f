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
    version: str | None  # the resource's own modification stamp (WooCommerce date_modified_gmt)
    body: str  # the raw, verified body, decoded as UTF-8

    @cached_property  # read several times per delivery on the intake's hot path
    def dedupe_key(self) -> str:
        return dedupe_key(self.topic, self.resource, self.resource_id, self.version, self.body)


def dedupe_key(topic: str, resource: str, resource_id: str | None, version: str | None, body: str) -> str:
    """Business identity of a delivery: the same resource at the same version is the same news.

    WooCommerce repeats deliveries (several hooks per save, order.created and order.updated with identical
    bodies) and its delivery id is `hash(webhook id + unix second)`, so it is never used. Where the body has no
    version (`*.deleted` carries only `{"id": N}`), the topic and a hash of the body stand in.
    """
    if resource_id is not None and version:
        return f"{resource}:{resource_id}:{version}"
    digest = hashlib.sha256(f"{topic}\n{body}".encode("utf-8")).hexdigest()
    return f"{topic}:sha256:{digest}"
