"""The WooCommerce sandbox delivering to the engine's real receiver (uvicorn web process, real SQL and Redis): the
engine accepts its creation ping and its signed PHP-encoded deliveries, stores each change once, and refuses a
webhook signed with another secret — which the store then counts as a failed delivery."""
from __future__ import annotations

import json
import time

import pytest
import requests
from woocommerce import API

from retail_sync.sandbox import runner
from retail_sync.sandbox.common.base import SandboxOptions
from retail_sync.sandbox.woocommerce.app import WooSandbox
from tests.integration.conftest import inbox_rows
from tests.support.processes import free_port, wait_until

NAME = "Mug / Tasse é 😀"


@pytest.fixture
def store(tmp_path):
    options = SandboxOptions(data_dir=tmp_path / "woo-sandbox", woo_port=free_port())
    started = runner.start(options, [(WooSandbox(options), options.woo_port, False)])
    base = started[0].url
    seeded = requests.post(f"{base}/_sandbox/seed", json={
        "sites": ["WH-EAST"], "products": [{"sku": "MUG-1", "name": "Mug", "price": 9.5, "stock": {"WH-EAST": 4}}]},
        timeout=5)
    assert seeded.status_code == 200, seeded.text
    requests.post(f"{base}/_sandbox/webhooks/behaviour", json={"delay_ms": 50, "duplicate_rate": 1},
                  timeout=5).raise_for_status()
    yield base, API(url=base, consumer_key=options.woo_consumer_key, consumer_secret=options.woo_consumer_secret,
                    version="wc/v3", timeout=10)
    runner.stop(started)


def deliveries(base: str) -> dict:
    return requests.get(f"{base}/_sandbox/webhooks/deliveries", timeout=5).json()


def after_attempts(base: str, count: int) -> dict:
    """The delivery report once `count` deliveries (pings aside) were attempted."""
    def settled():
        report = deliveries(base)
        return report if len([d for d in report["deliveries"] if d["kind"] == "delivery"]) >= count else None
    return wait_until(settled, 15, message=f"{count} deliveries")


def test_engine_receiver_accepts_the_ping_and_stores_each_delivery_once(web, engine, settings, store):
    base, wcapi = store
    hook = wcapi.post("webhooks", {"topic": "product.updated", "delivery_url": f"{web}/webhooks/woocommerce",
                                   "secret": settings.woo_webhook_secret.get_secret_value()})
    assert hook.status_code == 201, hook.text
    report = deliveries(base)
    [ping] = report["deliveries"]
    assert (ping["kind"], ping["status_code"]) == ("ping", 200)
    assert report["webhooks"][0]["pending_delivery"] is False
    assert inbox_rows(engine) == []  # the unsigned ping is answered, not stored

    [product] = wcapi.get("products", params={"sku": "MUG-1"}).json()
    assert wcapi.put(f"products/{product['id']}", {"name": NAME}).status_code == 200
    # duplicate_rate 1: the store sends the same bytes twice; the engine answers 200 to both, stores one
    report = after_attempts(base, 2)
    assert [(d["status_code"], d["success"], d["duplicate"]) for d in report["deliveries"][1:]] == \
        [(200, True, False), (200, True, True)]
    [row] = inbox_rows(engine)
    assert (row.topic, row.resource_id) == ("product.updated", str(product["id"]))
    assert "\\u00e9 \\ud83d\\ude00" in row.body and "\\/" in row.body  # the raw PHP-encoded bytes were kept
    payload = json.loads(row.body)
    assert payload["name"] == NAME and row.version == payload["date_modified_gmt"]


def test_a_webhook_with_another_secret_is_refused_and_counted_as_failed(web, engine, store):
    base, wcapi = store
    hook = wcapi.post("webhooks", {"topic": "product.updated", "delivery_url": f"{web}/webhooks/woocommerce",
                                   "secret": "not-the-engine-secret"}).json()
    [product] = wcapi.get("products", params={"sku": "MUG-1"}).json()
    assert wcapi.put(f"products/{product['id']}", {"name": "Mug 2"}).status_code == 200
    report = after_attempts(base, 2)
    assert [d["status_code"] for d in report["deliveries"] if d["kind"] == "delivery"] == [401, 401]
    assert report["webhooks"][0]["id"] == hook["id"] and report["webhooks"][0]["failure_count"] == 2
    time.sleep(0.2)
    assert inbox_rows(engine) == []
