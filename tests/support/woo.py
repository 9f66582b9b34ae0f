"""WooCommerce-shaped deliveries, encoded and signed the way WooCommerce sends them."""
from __future__ import annotations

import json

from retail_sync.connectors.woocommerce.webhooks import sign

SECRET = "t&st <\"secret\"> it's/ok"


def php_json(payload: dict) -> bytes:
    """PHP json_encode defaults: compact, `/` escaped as `\\/`, non-ASCII as `\\uXXXX`."""
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=True).replace("/", "\\/").encode("ascii")


def order(order_id: int, modified: str = "2026-11-27T10:00:00", **extra) -> dict:
    return {"id": order_id, "status": "processing", "date_modified_gmt": modified, "currency": "EUR",
            "billing": {"first_name": "Zoë", "city": "Köln"}, "total": "19.90",
            "_links": {"self": [{"href": f"https://shop.example.com/wp-json/wc/v3/orders/{order_id}"}]}, **extra}


def headers(body: bytes, topic: str = "order.updated", secret: str = SECRET) -> dict:
    return {
        "Content-Type": "application/json",
        "User-Agent": "WooCommerce/9.9.0 Hookshot (WordPress/6.8)",
        "X-WC-Webhook-Source": "https://shop.example.com/",
        "X-WC-Webhook-Topic": topic,
        "X-WC-Webhook-Resource": topic.split(".")[0],
        "X-WC-Webhook-Event": topic.split(".")[1],
        "X-WC-Webhook-ID": "12",
        "X-WC-Webhook-Delivery-ID": "0123456789abcdef0123456789abcdef",
        "X-WC-Webhook-Signature": sign(body, secret.encode()),
    }
