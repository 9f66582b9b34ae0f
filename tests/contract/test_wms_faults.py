"""Each fault knob once against the WMS, answered in the WMS's own error shape, with `match` narrowing faults by
resource (`model`) and HTTP method, and the ledger counting create attempts per business key."""
from __future__ import annotations

import time

import pytest
import requests

from tests.contract.wms_support import receiver, wms  # noqa: F401 - fixtures


def faults(wms, **settings):
    wms.ok(wms.control("POST", "/faults", json=settings))


def test_rate_limit_answers_429_with_retry_after_in_the_house_shape(wms):
    faults(wms, rate_limit_per_s=2, match={"model": "inventory"})
    answers = [wms.api("GET", "/inventory", params={"sku": "SKU-A"}) for _ in range(6)]
    limited = [r for r in answers if r.status_code == 429]
    assert limited and all(r.status_code in (200, 429) for r in answers)
    assert all(int(r.headers["Retry-After"]) >= 1 for r in limited)
    assert limited[0].json()["error"]["code"] == "rate_limited"
    assert wms.api("GET", "/fulfillment-orders").status_code == 200  # another resource is not limited
    calls = wms.ok(wms.control("GET", "/ledger"))["calls"]
    assert {c["detail"] for c in calls if c["status"] == 429} == {"inventory.GET"}
    assert all(c["retry_after"] >= 1 for c in calls if c["fault"] == "rate_limited")


def test_error_rate_with_match_fails_only_the_selected_calls(wms):
    faults(wms, error_rate=1.0, error_status=503, match={"model": "fulfillment-orders", "method": "POST"})
    response = wms.api("POST", "/fulfillment-orders", json={
        "external_ref": "WC-8001", "site": "WH-EAST", "lines": [{"sku": "SKU-A", "quantity": 1}], "ship_to": {}})
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "service_unavailable"
    assert wms.api("GET", "/fulfillment-orders").status_code == 200
    assert wms.api("GET", "/inventory").status_code == 200
    faults(wms)
    assert wms.ok(wms.api("GET", "/fulfillment-orders", params={"external_ref": "WC-8001"}))["data"] == []
    assert "fulfillment_order:WC-8001" not in wms.ledger_creates()  # refused before the WMS saw it


def test_down_resets_api_connections_but_not_control(wms):
    faults(wms, down=True)
    with pytest.raises(requests.ConnectionError):
        wms.api("GET", "/inventory")
    assert wms.control("GET", "/state").status_code == 200
    faults(wms)
    assert wms.api("GET", "/inventory").status_code == 200


def test_commit_then_drop_on_create_keeps_the_order_and_a_retry_gets_it(wms):
    faults(wms, commit_then_drop_rate=1.0, match={"model": "fulfillment-orders", "method": "POST"})
    with pytest.raises(requests.ConnectionError):
        wms.create_order("WC-8002", [("SKU-A", 2)])
    faults(wms)
    stored = wms.ok(wms.api("GET", "/fulfillment-orders", params={"external_ref": "WC-8002"}))["data"]
    assert len(stored) == 1 and stored[0]["status"] == "released"
    retried = wms.create_order("WC-8002", [("SKU-A", 2)], expect=200)
    assert retried["id"] == stored[0]["id"]
    assert [a["outcome"] for a in wms.ledger_creates()["fulfillment_order:WC-8002"]] == ["created", "existing"]
    assert wms.on_hand("SKU-A", "WH-EAST")["allocated"] == 2  # allocated once
    calls = [c for c in wms.ok(wms.control("GET", "/ledger"))["calls"] if c["method"] == "POST"]
    assert [(c["fault"], c["status"]) for c in calls] == [("commit_then_drop", 201), (None, 200)]


def test_latency_delays_and_hang_drops_without_applying(wms):
    faults(wms, latency_ms=300, match={"model": "inventory"})
    started = time.monotonic()
    assert wms.api("GET", "/inventory").status_code == 200
    assert time.monotonic() - started >= 0.3
    faults(wms, hang_ms=1500, match={"model": "return-authorizations", "method": "POST"})
    with pytest.raises(requests.exceptions.ReadTimeout):
        wms.api("POST", "/return-authorizations", timeout=0.5, json={
            "rma_ref": "RMA-8", "order_ref": "WC-1", "site": "WH-EAST", "lines": [{"sku": "SKU-A", "quantity": 1}]})
    faults(wms)
    time.sleep(1.2)  # the hung request ends by dropping, without reaching the WMS
    assert wms.ok(wms.api("GET", "/return-authorizations", params={"rma_ref": "RMA-8"}))["data"] == []
