"""Connecting the engine to a store: the webhooks it needs, registered idempotently (`retail-sync setup woocommerce`).

The store starts with no webhooks; this registers one per topic at `{public_url}/webhooks/woocommerce`, signed with
WOO_WEBHOOK_SECRET. Running it again creates nothing new: it re-activates a webhook the store disabled (WooCommerce
disables one after repeated failed deliveries) and re-sends the secret (the store never shows it, so a rotated
WOO_WEBHOOK_SECRET takes effect by running it again). Webhooks pointing at other URLs are left alone.
"""
from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from retail_sync.connectors.ports import StoreWebhook

if TYPE_CHECKING:
    from retail_sync.bootstrap import Services

# Orders feed capture and cancellation; products feed the catalog bindings. The deleted / restored topics
# matter because trashing is how a store takes an order or a product away, and restoring brings it back.
STORE_WEBHOOK_TOPICS = (
    "order.created",
    "order.updated",
    "order.deleted",
    "order.restored",
    "product.created",
    "product.updated",
    "product.deleted",
    "product.restored",
)
WEBHOOK_PATH = "/webhooks/woocommerce"


def store_delivery_url(public_url: str) -> str:
    """`{public_url}/webhooks/woocommerce`; ValueError naming the problem when the URL cannot be one the store
    delivers to (not http(s), no host, or with credentials, a query or a fragment that would be mangled)."""
    parts = urlsplit(public_url.strip())
    if parts.scheme not in ("http", "https"):
        raise ValueError(f"the public URL must start with http:// or https://, got {public_url!r}")
    if not parts.hostname:
        raise ValueError(f"the public URL has no host: {public_url!r}")
    if parts.username or parts.password:
        raise ValueError("the public URL must not carry credentials")
    if parts.query or parts.fragment:
        raise ValueError("the public URL must not have a query string or a fragment")
    try:
        parts.port  # noqa: B018 — urlsplit checks the port only when it is read
    except ValueError:
        raise ValueError(f"the public URL has an invalid port: {public_url!r}") from None
    return f"{parts.scheme}://{parts.netloc}{parts.path.rstrip('/')}{WEBHOOK_PATH}"


def register_store_webhooks(services: "Services", public_url: str) -> list[StoreWebhook]:
    """One active webhook per STORE_WEBHOOK_TOPICS topic pointing at the engine; returns them as the store has them."""
    delivery_url = store_delivery_url(public_url)
    secret = services.settings.woo_webhook_secret.get_secret_value()
    return services.store.ensure_webhooks(STORE_WEBHOOK_TOPICS, delivery_url, secret)
