"""The WMS receiver over real HTTP (uvicorn), real SQL and real Redis: Standard Webhooks verification, the replay
window, deduplication by event id, and the WMS sandbox delivering its own signed events to it."""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time

import pytest
import redis
import requests

from retail_sync import task_names
from retail_sync.sandbox import runner
from retail_sync.sandbox.common.base import SandboxOptions
from retail_sync.sandbox.wms.app import WmsSandbox
from tests.conftest import REDIS_TEST_URL
from tests.integration.conftest import inbox_rows
from tests.support.processes import free_port, start_web, wait_until

SECRET = "whsec_" + base64.b64encode(b"integration-wms-secret-0123456789").decode()
KEY = base64.b64decode(SECRET.removeprefix("whsec_"))


@pytest.fixture
def web(process_env, home, engine):
    proc, base = start_web({**process_env, "WMS_WEBHOOK_SECRET": SECRET}, home)
    yield base
    proc.stop()


def shipped_event(event_id: str, shipment_id: str = "SHP-000001") -> bytes:
    return json.dumps({"id": event_id, "type": "fulfillment.shipped", "timestamp": "2026-11-27T10:00:00.123Z",
                       "data": {"fulfillment_order_id": "FO-000001", "external_ref": "WC-1042", "site": "WH-EAST",
                                "status": "shipped", "shipment_id": shipment_id, "carrier": "DHL",
                                "tracking_number": "SBX0000000001", "shipped_at": "2026-11-27T10:00:00.123Z",
                                "lines": [{"sku": "MUG-BLUE", "quantity": 2}], "complete": True}},
                      separators=(",", ":")).encode()


def signed(body: bytes, event_id: str, *, at: int | None = None, key: bytes = KEY) -> dict:
    """Headers as the WMS sends them, signed per docs/wms-api.md (independently of the engine's code)."""
    stamp = int(time.time()) if at is None else at
    signature = base64.b64encode(hmac.new(key, f"{event_id}.{stamp}.".encode() + body, hashlib.sha256).digest())
    return {"content-type": "application/json", "webhook-id": event_id, "webhook-timestamp": str(stamp),
            "webhook-signature": "v1," + signature.decode()}


def post(base: str, body: bytes, headers: dict) -> requests.Response:
    return requests.post(base + "/webhooks/wms", data=body, headers=headers, timeout=10)


def published_inbox_ids() -> list[int]:
    """The inbox ids of every PROCESS_INBOX message waiting on the critical queue (no worker runs here)."""
    ids = []
    for raw in redis.Redis.from_url(REDIS_TEST_URL).lrange("critical", 0, -1):
        message = json.loads(raw)
        if message["headers"]["task"] == task_names.PROCESS_INBOX:
            args, _kwargs, _embed = json.loads(base64.b64decode(message["body"]))
            ids.extend(args[0])
    return ids


def test_a_signed_event_is_stored_once_by_event_id_and_published_like_any_delivery(web, engine):
    body = shipped_event("msg_a1")
    first = post(web, body, signed(body, "msg_a1"))
    assert first.status_code == 200 and first.json() == {"accepted": True, "duplicate": False}
    # the WMS retries the same event (same id and bytes, a fresh timestamp and signature): one row
    retry = post(web, body, signed(body, "msg_a1", at=int(time.time()) + 2))
    assert retry.status_code == 200 and retry.json()["duplicate"] is True
    [row] = inbox_rows(engine)
    assert (row.source, row.topic, row.resource, row.resource_id) == ("wms", "fulfillment.shipped", "fulfillment",
                                                                      "WC-1042")
    assert (row.version, row.dedupe_key, row.status) == ("2026-11-27T10:00:00.123Z", "event:msg_a1", "pending")
    assert row.body.encode() == body
    # the intake hands WMS rows to the workers exactly as it does the store's
    assert wait_until(lambda: published_inbox_ids() == [row.id], 10, message="PROCESS_INBOX published")


def test_a_second_shipment_in_the_same_second_is_a_different_event(web, engine):
    for event_id, shipment in (("msg_b1", "SHP-000001"), ("msg_b2", "SHP-000002")):
        body = shipped_event(event_id, shipment)
        assert post(web, body, signed(body, event_id)).json()["duplicate"] is False
    assert sorted(row.dedupe_key for row in inbox_rows(engine)) == ["event:msg_b1", "event:msg_b2"]


@pytest.mark.parametrize("case, detail", [
    ("other-secret", "no v1 signature"),
    ("tampered-body", "no v1 signature"),
    ("replayed", "replay"),
    ("from-the-future", "replay"),
    ("unsigned", "missing webhook-signature"),
])
def test_forged_replayed_and_unsigned_events_get_401_and_leave_no_row(web, engine, case, detail):
    body = shipped_event("msg_c1")
    headers = signed(body, "msg_c1")
    if case == "other-secret":
        headers = signed(body, "msg_c1", key=b"not the engine's key")
    elif case == "tampered-body":
        body = body.replace(b'"quantity":2', b'"quantity":20')
    elif case == "replayed":  # a genuine event captured ten minutes ago
        headers = signed(body, "msg_c1", at=int(time.time()) - 600)
    elif case == "from-the-future":
        headers = signed(body, "msg_c1", at=int(time.time()) + 600)
    else:
        del headers["webhook-signature"]
    response = post(web, body, headers)
    assert response.status_code == 401
    assert response.headers["content-type"] == "application/problem+json"
    assert detail in response.json()["detail"]
    assert inbox_rows(engine) == []


@pytest.mark.parametrize("body, detail", [
    (b"{\"id\":", "not JSON"),
    (json.dumps({"id": "msg_other", "type": "fulfillment.shipped", "timestamp": "2026-11-27T10:00:00Z",
                 "data": {}}).encode(), "differs from webhook-id"),
    (json.dumps({"id": "msg_d1", "type": "fulfillment.shipped", "timestamp": "2026-11-27T10:00:00Z"}).encode(),
     "data must be"),
])
def test_signed_but_malformed_events_get_400(web, engine, body, detail):
    response = post(web, body, signed(body, "msg_d1"))
    assert response.status_code == 400 and detail in response.json()["detail"]
    assert inbox_rows(engine) == []


def test_oversized_events_get_413_before_verification(web, engine):
    body = b"{" + b" " * (1024 * 1024 + 10) + b"}"
    assert post(web, body, signed(body, "msg_e1")).status_code == 413
    assert inbox_rows(engine) == []


@pytest.fixture
def warehouse(tmp_path, web):
    options = SandboxOptions(data_dir=tmp_path / "wms-sandbox", wms_port=free_port(), engine_url=web,
                             wms_webhook_secret=SECRET)
    started = runner.start(options, [(WmsSandbox(options), options.wms_port, False)])
    base = started[0].url
    requests.post(f"{base}/_sandbox/seed", timeout=10, json={
        "sites": ["WH-EAST"], "products": [{"sku": "MUG-BLUE", "name": "Mug", "price": "9.90",
                                            "stock": {"WH-EAST": 10}}]}).raise_for_status()
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {options.wms_api_key}"
    yield base, session
    runner.stop(started)


def test_the_wms_sandbox_delivers_its_signed_events_and_each_is_stored_once(warehouse, engine):
    base, api = warehouse
    created = api.post(f"{base}/api/v1/fulfillment-orders", timeout=10, json={
        "external_ref": "WC-7", "site": "WH-EAST", "lines": [{"sku": "MUG-BLUE", "quantity": 3}],
        "ship_to": {"name": "Ada"}})
    assert created.status_code == 201, created.text
    order_id = created.json()["id"]
    requests.post(f"{base}/_sandbox/fulfillment-orders/{order_id}/ship", timeout=10,
                  json={"lines": [{"sku": "MUG-BLUE", "quantity": 1}]}).raise_for_status()
    requests.post(f"{base}/_sandbox/fulfillment-orders/{order_id}/ship", timeout=10).raise_for_status()

    def all_delivered():
        events = requests.get(f"{base}/_sandbox/events", timeout=5).json()["events"]
        return events if events and all(e["state"] == "delivered" for e in events) else None

    events = wait_until(all_delivered, 20, message="every WMS event delivered")
    # acknowledged, picked, two shipments and an inventory.adjusted per shipment — each answered 200 once
    assert [e["type"] for e in events].count("fulfillment.shipped") == 2
    assert all([d["status"] for d in e["deliveries"]] == [200] for e in events)
    rows = inbox_rows(engine)
    assert sorted(row.dedupe_key for row in rows) == sorted(f"event:{e['id']}" for e in events)
    by_topic = {(row.topic, row.resource_id) for row in rows}
    assert ("fulfillment.picked", "WC-7") in by_topic and ("inventory.adjusted", "MUG-BLUE@WH-EAST") in by_topic
