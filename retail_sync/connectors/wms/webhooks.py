"""The WMS's event webhooks: Standard Webhooks signature verification, and a verified event as a Delivery.

Signed content is `{webhook-id}.{webhook-timestamp}.{raw body bytes}`, HMAC-SHA256 under the base64-decoded part
of `whsec_…`, sent as a space-separated list of `v1,<base64>` in `webhook-signature` (docs/wms-api.md, Events).
Verification runs on the raw bytes before anything parses them.

Why by hand and not the `standardwebhooks` package (1.1): it raises ValueError / binascii.Error on a malformed
`webhook-signature` entry and UnicodeDecodeError on a non-UTF-8 body instead of a verification failure, tells a
replay from a forgery only by message text, and reads its own clock; the whole check is a dozen lines.
"""
from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from functools import lru_cache
from typing import Mapping

from retail_sync.domain.deliveries import Delivery, MalformedDelivery, fits_inbox, read_json_object
from retail_sync.domain.wms_events import wms_event_from_json

SECRET_PREFIX = "whsec_"
ID_HEADER = "webhook-id"
TIMESTAMP_HEADER = "webhook-timestamp"
SIGNATURE_HEADER = "webhook-signature"
TOLERANCE_S = 300  # a webhook-timestamp further than this from our clock is a replay (or a badly skewed clock)

# The receiver answers both with 400; the name it has always caught stays.
MalformedEvent = MalformedDelivery


class SignatureRejected(ValueError):
    """The request is not a genuine, fresh WMS event; the message says why (answered 401)."""


# Decoded once per secret rather than on every event. lru_cache keeps no exception, so a malformed secret is
# refused (and logged by the receiver) on every event, never remembered as a key.
@lru_cache(maxsize=4)
def signing_key(secret: str) -> bytes:
    """The HMAC key of a `whsec_<base64>` secret; ValueError when the secret has another shape."""
    if not secret.startswith(SECRET_PREFIX):
        raise ValueError("the WMS webhook secret must start with whsec_")
    try:
        key = base64.b64decode(secret[len(SECRET_PREFIX):], validate=True)
    except binascii.Error:
        raise ValueError("the WMS webhook secret is not base64 after whsec_") from None
    if not key:
        raise ValueError("the WMS webhook secret is empty")
    return key


def sign(key: bytes, event_id: str, timestamp: int, body: bytes) -> str:
    """One `v1,<signature>` entry, as the WMS sends it."""
    digest = hmac.new(key, f"{event_id}.{timestamp}.".encode() + body, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode("ascii")


def verify(headers: Mapping[str, str], body: bytes, key: bytes, now: float) -> None:
    """Return when the body is signed with `key` and was sent within TOLERANCE_S of `now` (unix seconds);
    raise SignatureRejected otherwise."""
    event_id, stamp, signatures = (headers.get(name) for name in (ID_HEADER, TIMESTAMP_HEADER, SIGNATURE_HEADER))
    missing = [name for name, value in ((ID_HEADER, event_id), (TIMESTAMP_HEADER, stamp),
                                        (SIGNATURE_HEADER, signatures)) if not value]
    if missing:
        raise SignatureRejected(f"missing {', '.join(missing)}")
    if not stamp.isascii() or not stamp.isdigit() or len(stamp) > 12:
        raise SignatureRejected("webhook-timestamp is not unix seconds")
    expected = sign(key, event_id, int(stamp), body).encode("ascii")
    matched = False
    for entry in signatures.split():
        # Headers arrive decoded as latin-1, so this encoding never fails; compare every entry (no early exit).
        matched |= hmac.compare_digest(entry.encode("latin-1"), expected)
    if not matched:
        raise SignatureRejected("no v1 signature in webhook-signature matches the body")
    skew = int(stamp) - now
    if abs(skew) > TOLERANCE_S:
        direction = "old" if skew < 0 else "far in the future"
        raise SignatureRejected(f"webhook-timestamp is {abs(skew):.0f} s {direction} (more than {TOLERANCE_S} s "
                                "from our clock): refused as a replay")


def parse_event(headers: Mapping[str, str], body: bytes) -> Delivery:
    """A verified event `{"id", "type", "timestamp", "data"}` as a Delivery deduplicated by its id."""
    text, raw = read_json_object(body)
    try:
        event = wms_event_from_json(raw)
    except ValueError as exc:
        raise MalformedDelivery(str(exc)) from None
    if event.id != headers.get(ID_HEADER):
        raise MalformedDelivery("the body's id differs from webhook-id")
    return Delivery(
        source="wms",
        topic=event.type,
        resource=event.resource,
        resource_id=_subject(event.resource, event.data),
        version=raw["timestamp"],  # as the WMS wrote it
        body=text,
        event_id=event.id,
    )


def _subject(resource: str, data: dict) -> str | None:
    """What the event is about: a fulfilment order's external_ref, a stock level's `<sku>@<site>`, a return's
    rma_ref. None when the event does not say (its handler then rejects it into the exception store) or when the
    subject is longer than the inbox keeps: the handlers read the subject from the body, so an event is not
    refused for that."""
    if resource == "fulfillment":
        subject = data.get("external_ref")
    elif resource == "inventory":
        sku, site = data.get("sku"), data.get("site")
        subject = f"{sku}@{site}" if isinstance(sku, str) and isinstance(site, str) else None
    elif resource == "return":
        subject = data.get("rma_ref")
    else:
        subject = None
    return subject if isinstance(subject, str) and subject and fits_inbox("resource_id", subject) else None
