"""The WooCommerce receiver over real HTTP (uvicorn), real SQL and real Redis."""
from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from tests.integration.conftest import inbox_rows
from tests.support.woo import headers, order, php_json


def post(base, body, hdrs):
    return requests.post(base + "/webhooks/woocommerce", data=body, headers=hdrs, timeout=10)


def test_signed_delivery_is_stored_and_answered_200(web, engine):
    body = php_json(order(101, note="a/b ü"))
    response = post(web, body, headers(body))
    assert response.status_code == 200 and response.json() == {"accepted": True, "duplicate": False}
    [row] = inbox_rows(engine)
    assert (row.topic, row.resource_id, row.version) == ("order.updated", "101", "2026-11-27T10:00:00")
    assert row.body.encode() == body  # the raw body, byte for byte


def test_creation_ping_gets_exactly_200_and_stores_nothing(web, engine):
    response = requests.post(web + "/webhooks/woocommerce", data={"webhook_id": "12"},
                             headers={"User-Agent": "WooCommerce/9.9.0 Hookshot (WordPress/6.8)"}, timeout=10)
    assert response.status_code == 200
    assert inbox_rows(engine) == []


@pytest.mark.parametrize("case", ["missing", "wrong", "other-secret", "reserialised"])
def test_bad_signatures_get_401_and_leave_no_row(web, engine, case):
    body = php_json(order(102))
    hdrs = headers(body)
    if case == "missing":
        del hdrs["X-WC-Webhook-Signature"]
    elif case == "wrong":
        hdrs["X-WC-Webhook-Signature"] = hdrs["X-WC-Webhook-Signature"][::-1]
    elif case == "other-secret":
        hdrs = headers(body, secret="not-the-secret")
    else:
        body = json.dumps(json.loads(body)).encode()  # same JSON, different bytes, original signature
    response = post(web, body, hdrs)
    assert response.status_code == 401
    assert response.headers["content-type"] == "application/problem+json"
    assert inbox_rows(engine) == []


def test_oversized_body_gets_413_declared_or_streamed(web, engine):
    big = b"{" + b" " * (1024 * 1024 + 10) + b"}"
    assert post(web, big, headers(big)).status_code == 413

    def chunks():  # no Content-Length: chunked transfer, refused once past the limit
        for _ in range(64):
            yield b" " * 65536

    hdrs = headers(b"")
    response = requests.post(web + "/webhooks/woocommerce", data=chunks(), headers=hdrs, timeout=10)
    assert response.status_code == 413
    assert inbox_rows(engine) == []


def test_the_413_names_the_webhook_limit(web):
    big = b"{" + b" " * (1024 * 1024 + 10) + b"}"
    response = post(web, big, headers(big))
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["detail"] == "webhook bodies are limited to 1048576 bytes"  # WEBHOOK_MAX_BODY_BYTES


@pytest.mark.parametrize("body, detail", [(b"\xff\xfe{\"id\":1}", "not UTF-8"), (b"{\"id\":", "not JSON"),
                                          (b"[]", "not a JSON object")])
def test_signed_but_unreadable_bodies_get_400(web, engine, body, detail):
    response = post(web, body, headers(body))
    assert response.status_code == 400 and detail in response.json()["detail"]
    assert inbox_rows(engine) == []


def test_sequential_and_concurrent_duplicates_are_stored_once(web, engine):
    body = php_json(order(103))
    hdrs = headers(body)
    assert post(web, body, hdrs).json()["duplicate"] is False
    assert post(web, body, hdrs).json()["duplicate"] is True
    # five concurrent copies of another order, as WooCommerce sends them within one second
    body2 = php_json(order(104))
    with ThreadPoolExecutor(5) as pool:
        responses = list(pool.map(lambda _: post(web, body2, headers(body2, topic="order.created")), range(5)))
    assert [r.status_code for r in responses] == [200] * 5
    assert sorted(r.json()["duplicate"] for r in responses) == [False, True, True, True, True]
    assert sorted(row.resource_id for row in inbox_rows(engine)) == ["103", "104"]


def test_health_and_readiness(web):
    assert requests.get(web + "/healthz", timeout=5).json() == {"status": "ok"}
    ready = requests.get(web + "/readyz", timeout=5)
    assert ready.status_code == 200 and ready.json()["database"] == "ok"
