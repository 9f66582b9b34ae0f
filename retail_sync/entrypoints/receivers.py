"""Webhook receivers: verify on the raw bytes, persist, then answer. Never 500 on bad input.

Order of checks: size (413, before reading it all) → WooCommerce's unsigned creation ping (200) → signature
(401; for the WMS also a timestamp outside the replay window) → body readable as the sender's JSON (400) →
durable commit through the shared intake (200, or 503 when the database is away). Both sources go through the
same intake, which publishes every new inbox row whatever its source.
"""
from __future__ import annotations

import logging

from fastapi import APIRouter, Request
from starlette.responses import JSONResponse, Response

from retail_sync.connectors.wms import webhooks as wms
from retail_sync.connectors.woocommerce import webhooks as woo
from retail_sync.domain.deliveries import Delivery
from retail_sync.entrypoints.intake import StoreUnavailable
from retail_sync.entrypoints.problems import ApiProblem, problem

logger = logging.getLogger(__name__)

router = APIRouter()


async def read_limited_body(request: Request, limit: int, what: str) -> bytes:
    """The body, or a 413 problem as soon as it passes `limit` bytes (declared or streamed), before it is all
    read; `what` names the bodies in the detail ("webhook", "request")."""
    declared = request.headers.get("content-length")
    if declared is not None and (not declared.isdigit() or int(declared) > limit):
        raise _too_large(limit, what)
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise _too_large(limit, what)
        chunks.append(chunk)
    return b"".join(chunks)


def _too_large(limit: int, what: str) -> ApiProblem:
    return ApiProblem(413, "Payload Too Large", f"{what} bodies are limited to {limit} bytes")


@router.post("/webhooks/woocommerce", include_in_schema=True, summary="WooCommerce webhook receiver")
async def receive_woocommerce(request: Request) -> Response:
    services = request.app.state.services
    body = await read_limited_body(request, services.settings.webhook_max_body_bytes, "webhook")

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

    return await _store(request, delivery)


@router.post("/webhooks/wms", include_in_schema=True, summary="WMS event receiver (Standard Webhooks)")
async def receive_wms(request: Request) -> Response:
    services = request.app.state.services
    body = await read_limited_body(request, services.settings.webhook_max_body_bytes, "webhook")

    try:
        key = wms.signing_key(services.settings.wms_webhook_secret.get_secret_value())
    except ValueError as exc:
        logger.error("WMS events cannot be verified: %s", exc)  # the reason names the shape, never the secret
        return problem(500, "Receiver Misconfigured", "WMS_WEBHOOK_SECRET is not a Standard Webhooks secret")
    try:
        wms.verify(request.headers, body, key, now=services.clock().timestamp())
    except wms.SignatureRejected as exc:
        return problem(401, "Invalid Signature", str(exc))

    try:
        delivery = wms.parse_event(request.headers, body)
    except wms.MalformedEvent as exc:
        return problem(400, "Malformed Delivery", str(exc))
    return await _store(request, delivery)


async def _store(request: Request, delivery: Delivery) -> Response:
    try:
        accepted = await request.app.state.intake.accept(delivery)
    except StoreUnavailable:
        return problem(503, "Store Unavailable", "the delivery could not be stored; send it again",
                       headers={"Retry-After": "5"})
    return JSONResponse({"accepted": True, "duplicate": accepted.duplicate})
