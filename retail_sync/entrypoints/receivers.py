"""Webhook receivers: verify on the raw bytes, persist, then answer. Never 500 on bad input.

Order of checks: size (413, before reading it all) → WooCommerce's unsigned creation ping (200) → signature
(401) → body readable as UTF-8 JSON (400) → durable commit (200, or 503 when the database is away).
"""
from __future__ import annotations

import logging

from fastapi import APIRouter, Request
from starlette.responses import JSONResponse, Response

from retail_sync.connectors.woocommerce import webhooks as woo
from retail_sync.entrypoints.intake import StoreUnavailable
from retail_sync.entrypoints.problems import problem

logger = logging.getLogger(__name__)

router = APIRouter()


class BodyTooLarge(Exception):
    pass


async def read_limited_body(request: Request, limit: int) -> bytes:
    """The body, or BodyTooLarge as soon as it passes `limit` bytes (declared or streamed)."""
    declared = request.headers.get("content-length")
    if declared is not None and (not declared.isdigit() or int(declared) > limit):
        raise BodyTooLarge()
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge()
        chunks.append(chunk)
    return b"".join(chunks)


@router.post("/webhooks/woocommerce", include_in_schema=True, summary="WooCommerce webhook receiver")
async def receive_woocommerce(request: Request) -> Response:
    services = request.app.state.services
    limit = services.settings.webhook_max_body_bytes
    try:
        body = await read_limited_body(request, limit)
    except BodyTooLarge:
        return problem(413, "Payload Too Large", f"webhook bodies are limited to {limit} bytes")

    signature = request.headers.get(woo.SIGNATURE_HEADER)
    if signature is None and woo.is_ping(request.headers, body):
        return Response("ok", status_code=200, media_type="text/plain")
    if not woo.verify_signature(body, signature, services.settings.webhook_secrets()):
        detail = "missing X-WC-Webhook-Signature" if not signature else "signature does not match the body"
        return problem(401, "Invalid Signature", detail)

    try:
        delivery = woo.parse_delivery(request.headers, body)
    except woo.MalformedDelivery as exc:
        return problem(400, "Malformed Delivery", str(exc))

    try:
        accepted = await request.app.state.intake.accept(delivery)
    except StoreUnavailable:
        return problem(503, "Store Unavailable", "the delivery could not be stored; send it again",
                       headers={"Retry-After": "5"})
    return JSONResponse({"accepted": True, "duplicate": accepted.duplicate})
