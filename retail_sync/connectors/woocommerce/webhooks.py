"""WooCommerce webhook signatures and delivery parsing, byte for byte as WooCommerce does it.

WooCommerce signs `base64(HMAC-SHA256(body, wp_specialchars_decode(secret, ENT_QUOTES)))` over the exact body
bytes it sends (PHP `json_encode`: `\\/` and `\\uXXXX` escapes, no spaces), so verification runs on the raw bytes
before anything parses them. The creation ping is an unsigned form post `webhook_id=N` with no X-WC-* headers.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import re
from typing import Iterable, Mapping

# MalformedDelivery is also caught under this module's name (`woo.MalformedDelivery`) by the receiver.
from retail_sync.domain.deliveries import Delivery, MalformedDelivery, read_json_object

SIGNATURE_HEADER = "x-wc-webhook-signature"
TOPIC_HEADER = "x-wc-webhook-topic"
PING_BODY = re.compile(rb"webhook_id=\d{1,20}")

# wp_specialchars_decode($secret, ENT_QUOTES), as WordPress writes it: zero-padded numeric entities are first
# normalised (`&#0038;` → `&#038;`; the hex ones case-insensitively), then strtr() replaces exactly this table,
# case-sensitively. Anything else (`&AMP;`, `&#x3c;`) stays as written, so it must stay here too.
_WP_ENTITY_PADDING = (
    (re.compile(r"&#0*39;"), "&#039;"), (re.compile(r"&#x0*27;", re.I), "&#x27;"),
    (re.compile(r"&#0*34;"), "&#034;"), (re.compile(r"&#x0*22;", re.I), "&#x22;"),
    (re.compile(r"&#0*60;"), "&#060;"), (re.compile(r"&#0*62;"), "&#062;"),
    (re.compile(r"&#0*38;"), "&#038;"), (re.compile(r"&#x0*26;", re.I), "&#x26;"),
)
_WP_ENTITIES = {
    "&#039;": "'", "&#x27;": "'", "&quot;": '"', "&#034;": '"', "&#x22;": '"',
    "&lt;": "<", "&#060;": "<", "&gt;": ">", "&#062;": ">", "&amp;": "&", "&#038;": "&", "&#x26;": "&",
}
_WP_ENTITY_PATTERN = re.compile("|".join(re.escape(e) for e in sorted(_WP_ENTITIES, key=len, reverse=True)))


def wp_decode_secret(secret: bytes) -> bytes:
    text = secret.decode("utf-8")
    if "&" not in text:
        return secret
    for pattern, replacement in _WP_ENTITY_PADDING:
        text = pattern.sub(replacement, text)
    return _WP_ENTITY_PATTERN.sub(lambda m: _WP_ENTITIES[m.group(0)], text).encode("utf-8")


def sign(body: bytes, secret: bytes) -> str:
    digest = hmac.new(wp_decode_secret(secret), body, hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


def verify_signature(body: bytes, signature: str | None, secrets: Iterable[bytes]) -> bool:
    """True when `signature` matches the body under any of the secrets (current first, then previous)."""
    if not signature:
        return False
    presented = signature.strip().encode("ascii", "replace")
    matched = False
    for secret in secrets:
        # Compare against every secret (no early exit) so timing does not reveal which one matched.
        matched |= hmac.compare_digest(presented, sign(body, secret).encode("ascii"))
    return matched


def is_ping(headers: Mapping[str, str], body: bytes) -> bool:
    """WooCommerce's creation ping: no X-WC-* header at all and a `webhook_id=N` form body."""
    if any(name.lower().startswith("x-wc-") for name in headers):
        return False
    return PING_BODY.fullmatch(body.strip()) is not None


def parse_delivery(headers: Mapping[str, str], body: bytes) -> Delivery:
    """A verified delivery as the inbox keeps it; MalformedDelivery (the domain's, re-exported here for the
    receiver) when the topic header is missing or the body is not a JSON object."""
    topic = (headers.get(TOPIC_HEADER) or "").strip()
    if not topic:
        raise MalformedDelivery("missing or invalid X-WC-Webhook-Topic header")
    text, payload = read_json_object(body)
    resource_id = payload.get("id")
    version = payload.get("date_modified_gmt")
    return Delivery(
        source="woocommerce",
        topic=topic,
        resource=topic.split(".", 1)[0],
        resource_id=str(resource_id) if isinstance(resource_id, (int, str)) and str(resource_id) else None,
        version=version if isinstance(version, str) and version else None,
        body=text,
    )
