"""The real store adapter (`build_store`: WooClient over OAuth + mapper) against the real store sandbox.

What the adapter sends is read back from the sandbox's call ledger (`/_sandbox/ledger`), what it changed from the
store's own REST answers, so nothing here checks our code against itself.
"""
from __future__ import annotations

import json
import uuid
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Iterator
from urllib.parse import parse_qs

import pytest
import redis
import requests

from config.settings import Settings
from retail_sync.connectors.http import CallGuard, NoGuard
from retail_sync.connectors.resilience import KEY_PREFIX, RedisGuard, SystemLimits
from retail_sync.connectors.woocommerce.adapter import WooCommerceStore, build_store
from retail_sync.connectors.woocommerce.webhooks import verify_signature
from retail_sync.domain.orders import Order
from retail_sync.errors import RecordGone, TransientError
from retail_sync.sandbox.woocommerce.app import WooSandbox
from tests.conftest import REDIS_TEST_URL
from tests.contract.woo_shop import CATALOG, Shop
from tests.support.processes import wait_until
from tests.support.scripted_http import ScriptedServer

BILLING = {"first_name": "Ada", "last_name": "Lovelace", "address_1": "1 Analytical Way", "city": "Berlin",
           "postcode": "10115", "country": "DE", "email": "ada@example.com", "phone": "+49 30 1234"}
HOOK_URL = "http://127.0.0.1:9/webhooks/woocommerce"  # nothing listens: deliveries are not this test's business
TOPICS = ["order.created", "order.updated", "order.deleted"]


@pytest.fixture
def shop(serve, sandbox_options) -> Shop:
    url = serve(WooSandbox, sandbox_options, port=sandbox_options.woo_port)
    response = requests.post(f"{url}/_sandbox/seed", json=CATALOG, timeout=15)
    assert response.status_code == 200, response.text
    return Shop(url, sandbox_options)


def store_for(shop: Shop, guard: CallGuard | None = None) -> WooCommerceStore:
    settings = Settings(_env_file=None, woo_url=shop.url, woo_consumer_key=shop.keys[0],
                        woo_consumer_secret=shop.keys[1])
    return build_store(settings, guard or NoGuard())


@pytest.fixture
def store(shop) -> WooCommerceStore:
    return store_for(shop)


def ledger_mark(shop: Shop) -> int:
    return requests.get(f"{shop.url}/_sandbox/ledger", timeout=5).json()["next_since"]


def calls_since(shop: Shop, mark: int) -> list[tuple[str, str, dict[str, str], int | None]]:
    """(method, path below wc/v3, query, status) of every REST call after `mark`. The `woocommerce` client sends
    each parameter twice over OAuth (signed into the URL, then appended again by requests), with the same value."""
    calls = requests.get(f"{shop.url}/_sandbox/ledger", params={"since": mark}, timeout=5).json()["calls"]
    return [(c["method"], c["path"].removeprefix("/wp-json/wc/v3/"),
             {key: values[0] for key, values in parse_qs(c["query"]).items()}, c["status"]) for c in calls]


def assert_reconciles(order: Order) -> None:
    lines_total = sum(line.total for line in order.lines)
    assert lines_total + order.shipping_total + order.fee_total + order.total_tax == order.total
    assert sum(line.subtotal for line in order.lines) - order.discount_total == lines_total
    assert sum(line.tax for line in order.lines) + order.shipping_tax + order.fee_tax == order.total_tax


# ---- orders ----------------------------------------------------------------------------------------------------------
def test_a_checked_out_order_is_read_back_mapped_and_its_totals_reconcile(shop, store):
    placed = shop.checkout(lines=[{"sku": "MUG", "quantity": 2}, {"sku": "BOOK", "quantity": 1},
                                  {"sku": "TEE-S", "quantity": 1}], billing=BILLING, payment_method="bacs",
                           coupon_lines=[{"code": "SAVE10"}],
                           shipping_lines=[{"method_id": "flat_rate", "method_title": "Flat rate", "total": "4.90"}])
    assert placed.status_code == 201, placed.text
    raw = placed.json()
    mark = ledger_mark(shop)
    (order,) = store.fetch_orders([raw["id"], raw["id"], 9999])
    assert [(method, path, query.get("include")) for method, path, query, _ in calls_since(shop, mark)] == [
        ("GET", "orders", f"{raw['id']},9999")]
    assert (order.ref, order.store_id, order.status, order.currency, order.paid) == (
        f"WC-{raw['number']}", raw["id"], "processing", "EUR", True)
    assert order.total == Decimal(raw["total"]) and order.discount_total == Decimal(raw["discount_total"])
    assert_reconciles(order)
    assert [(line.sku, line.quantity, line.store_variation_id is not None) for line in order.lines] == [
        ("MUG", 2, False), ("BOOK", 1, False), ("TEE-S", 1, True)]
    assert [line.tax_rate for line in order.lines] == [Decimal("19"), Decimal("7"), Decimal("19")]
    assert order.modified_at == datetime.fromisoformat(raw["date_modified_gmt"]).replace(tzinfo=timezone.utc)
    assert (order.customer.email, order.shipping.city, order.extra["created_via"]) == (
        "ada@example.com", "Berlin", "checkout")


def test_an_order_with_fees_and_a_fixed_cart_coupon_reconciles_and_ships_to_billing(shop, store):
    created = shop.create(line_items=[{"sku": "CARD", "quantity": 1}, {"sku": "CARD", "quantity": 2},
                                      {"sku": "BOOK", "quantity": 1}],
                          fee_lines=[{"name": "Gift wrap", "total": "2.00"}, {"name": "Express", "total": "3.35"}],
                          coupon_lines=[{"code": "FIVEOFF"}], billing=BILLING, set_paid=True,
                          shipping_lines=[{"method_id": "flat_rate", "total": "4.90"}])
    (order,) = store.fetch_orders([created["id"]])
    assert order.fee_total == Decimal("5.35") and order.discount_total == Decimal("5.00")
    assert order.total == Decimal(created["total"])
    assert_reconciles(order)
    assert created["shipping"]["address_1"] == ""  # the store kept no shipping address of its own
    assert order.shipping == order.billing and order.shipping.address_1 == BILLING["address_1"]


def test_fetch_orders_asks_for_at_most_a_hundred_ids_per_call(shop, store):
    first = shop.create(line_items=[{"sku": "PIN"}], billing=BILLING)
    last = shop.create(line_items=[{"sku": "PIN"}], billing=BILLING, status="cancelled")
    mark = ledger_mark(shop)
    orders = store.fetch_orders([first["id"], *range(1000, 1149), last["id"]])
    assert sorted(order.store_id for order in orders) == [first["id"], last["id"]]
    assert {order.status for order in orders} == {"pending", "cancelled"}  # status=any: every status comes back
    sent = calls_since(shop, mark)
    assert [len(query["include"].split(",")) for _, _, query, _ in sent] == [100, 51]


def test_backfill_reads_orders_modified_at_or_after_a_moment_oldest_first_page_by_page(shop, store):
    older = shop.create(line_items=[{"sku": "PIN"}], billing=BILLING)
    older_at = datetime.fromisoformat(older["date_modified_gmt"]).replace(tzinfo=timezone.utc)
    # the store's dates are whole seconds: the next order must be at least a second newer
    wait_until(lambda: datetime.now(timezone.utc) >= older_at + timedelta(seconds=1.05), timeout=5, interval=0.05)
    newer = shop.create(line_items=[{"sku": "CARD"}], billing=BILLING)
    newer_at = datetime.fromisoformat(newer["date_modified_gmt"]).replace(tzinfo=timezone.utc)
    assert [order.store_id for order in store.orders_modified_since(newer_at)] == [newer["id"]]

    mark = ledger_mark(shop)
    both = list(store.orders_modified_since(older_at, page_size=1))
    assert [order.store_id for order in both] == [older["id"], newer["id"]]
    assert [order.modified_at for order in both] == [older_at, newer_at]
    pages = calls_since(shop, mark)
    assert [query["page"] for _, _, query, _ in pages] == ["1", "2"]
    assert (pages[0][2]["dates_are_gmt"], pages[0][2]["orderby"], pages[0][2]["order"]) == ("true", "modified", "asc")


def test_set_status_adds_the_note_first_and_returns_the_version_its_echo_will_carry(shop, store):
    created = shop.create(line_items=[{"sku": "MUG"}], billing=BILLING, set_paid=True)
    mark = ledger_mark(shop)
    write = store.set_order_status(created["id"], "on-hold", note="On hold: SKU MUG is not sellable in the ERP")
    assert [(method, path) for method, path, _, _ in calls_since(shop, mark)] == [
        ("POST", f"orders/{created['id']}/notes"), ("PUT", f"orders/{created['id']}")]
    (after,) = store.fetch_orders([created["id"]])
    assert (write.store_id, write.status) == (created["id"], "on-hold")
    assert write.modified_at == after.modified_at and after.status == "on-hold"
    assert "On hold: SKU MUG is not sellable in the ERP" in shop.notes(created["id"])
    customer_notes = shop.api.get(f"orders/{created['id']}/notes", params={"type": "customer"}).json()
    assert customer_notes == []  # private unless asked


def test_adding_a_note_changes_neither_the_orders_version_nor_fires_a_webhook(shop, store):
    created = shop.create(line_items=[{"sku": "MUG"}], billing=BILLING, set_paid=True)
    topics_before = shop.topics(created["id"])
    store.add_order_note(created["id"], "Picked up by the warehouse")
    (after,) = store.fetch_orders([created["id"]])
    assert after.modified_at == datetime.fromisoformat(created["date_modified_gmt"]).replace(tzinfo=timezone.utc)
    assert shop.topics(created["id"]) == topics_before


def test_a_customer_note_is_sent_once_even_when_the_call_is_repeated(shop, store):
    created = shop.create(line_items=[{"sku": "MUG"}], billing=BILLING, set_paid=True)
    for _ in range(2):
        store.set_order_status(created["id"], "completed", note="Shipped with DHL, tracking 00340434",
                               customer_note=True)
    notes = shop.api.get(f"orders/{created['id']}/notes", params={"type": "customer"}).json()
    assert [note["note"] for note in notes] == ["Shipped with DHL, tracking 00340434"]


def test_a_write_to_an_unknown_order_is_record_gone(store):
    with pytest.raises(RecordGone, match="woocommerce_rest_shop_order_invalid_id"):
        store.set_order_status(987654, "on-hold")


# ---- products ----------------------------------------------------------------------------------------------------
def test_iter_products_lists_products_and_variations_that_have_a_sku(shop, store):
    products = {product.sku: product for product in store.iter_products(page_size=2)}
    assert set(products) == {"MUG", "BOOK", "CARD", "PIN", "POSTER", "TEE", "TEE-S", "TEE-M"}
    tee, tee_s, tee_m = products["TEE"], products["TEE-S"], products["TEE-M"]
    assert tee.variation_id is None and tee_s.product_id == tee_m.product_id == tee.product_id
    assert tee_s.variation_id != tee_m.variation_id
    assert (tee_s.stock_quantity, tee_s.manage_stock) == (shop.stock("TEE-S"), True)
    assert (products["POSTER"].manage_stock, products["POSTER"].stock_quantity) == (False, None)


def test_find_products_asks_for_many_skus_in_one_call_and_finds_variations(shop, store):
    mark = ledger_mark(shop)
    found = store.find_products(["MUG", " TEE-M ", "TEE-S", "NOPE", "mug"])
    assert set(found) == {"MUG", "TEE-M", "TEE-S"}  # case is kept: "mug" is another SKU
    assert found["TEE-M"].variation_id is not None and found["TEE-M"].product_id == found["TEE-S"].product_id
    (sent,) = calls_since(shop, mark)
    assert sent[2]["sku"] == "MUG,TEE-M,TEE-S,NOPE,mug"


# ---- webhooks ----------------------------------------------------------------------------------------------------
def test_ensure_webhooks_twice_leaves_the_same_set(shop, store):
    first = store.ensure_webhooks(TOPICS, HOOK_URL, "secret-1")
    assert [(hook.topic, hook.delivery_url, hook.status) for hook in first] == [
        (topic, HOOK_URL, "active") for topic in TOPICS]
    mark = ledger_mark(shop)
    second = store.ensure_webhooks(TOPICS, HOOK_URL, "secret-2")
    assert [hook.id for hook in second] == [hook.id for hook in first]
    assert not [call for call in calls_since(shop, mark) if call[0] == "POST"]  # nothing created
    assert len(shop.api.get("webhooks").json()) == len(TOPICS)


def test_ensure_webhooks_reactivates_a_disabled_one_of_ours(shop, store):
    (created,) = store.ensure_webhooks(["order.updated"], HOOK_URL, "s3cret")
    shop.api.put(f"webhooks/{created.id}", {"status": "disabled"})
    (kept,) = store.ensure_webhooks(["order.updated"], HOOK_URL, "s3cret")
    assert (kept.id, kept.status) == (created.id, "active")
    assert shop.api.get(f"webhooks/{created.id}").json()["status"] == "active"


def test_ensure_webhooks_keeps_one_of_ours_per_topic_and_leaves_others_alone(shop, store):
    (disabled,) = store.ensure_webhooks(["order.updated"], HOOK_URL, "s3cret")
    shop.api.put(f"webhooks/{disabled.id}", {"status": "disabled"})
    duplicate = shop.api.post("webhooks", {"topic": "order.updated", "delivery_url": HOOK_URL}).json()
    foreign = shop.api.post("webhooks", {"topic": "order.updated", "delivery_url": "http://127.0.0.1:9/other"}).json()
    (kept,) = store.ensure_webhooks(["order.updated"], HOOK_URL, "s3cret")
    # the active one stays (a re-enabled webhook keeps its failure count); each extra one would deliver again
    assert (kept.id, kept.status) == (duplicate["id"], "active")
    remaining = {hook["id"]: hook["status"] for hook in shop.api.get("webhooks").json()}
    assert remaining == {duplicate["id"]: "active", foreign["id"]: "active"}


def test_ensure_webhooks_rotates_the_secret_deliveries_are_signed_with(shop, store):
    with ScriptedServer() as receiver:
        delivery_url = f"{receiver.url}/webhooks/woocommerce"
        store.ensure_webhooks(["order.updated"], delivery_url, "old-secret")
        store.ensure_webhooks(["order.updated"], delivery_url, "new-secret")
        created = shop.create(line_items=[{"sku": "PIN"}], billing=BILLING)
        delivered = wait_until(lambda: [r for r in receiver.received if "x-wc-webhook-signature" in _lower(r.headers)],
                               timeout=10, interval=0.05, message="a signed delivery")
    body, signature = delivered[0].body, _lower(delivered[0].headers)["x-wc-webhook-signature"]
    assert json.loads(body)["id"] == created["id"]
    assert verify_signature(body, signature, [b"new-secret"])
    assert not verify_signature(body, signature, [b"old-secret"])


def _lower(headers: dict[str, str]) -> dict[str, str]:
    return {name.lower(): value for name, value in headers.items()}


# ---- a 429 storm ---------------------------------------------------------------------------------------------------
@pytest.fixture
def redis_guard() -> Iterator[RedisGuard]:
    client = redis.Redis.from_url(REDIS_TEST_URL)
    prefix = f"{KEY_PREFIX}:test-{uuid.uuid4().hex}"
    yield RedisGuard(client, {"woocommerce": SystemLimits(rate_per_s=1000, call_timeout_s=15)}, fail_max=5,
                     reset_s=30, prefix=prefix)
    for key in client.scan_iter(match=f"{prefix}:*"):
        client.delete(key)
    client.close()


def test_a_429_storm_is_transient_with_retry_after_and_pauses_every_worker(shop, redis_guard):
    created = shop.create(line_items=[{"sku": "PIN"}], billing=BILLING)
    faults = requests.post(f"{shop.url}/_sandbox/faults", json={"rate_limit_per_s": 0.5}, timeout=5)
    assert faults.status_code == 200, faults.text
    worker_a, worker_b = store_for(shop, redis_guard), store_for(shop, redis_guard)
    mark = ledger_mark(shop)
    with pytest.raises(TransientError) as caught:
        for _ in range(3):
            worker_a.fetch_orders([created["id"]])
    assert caught.value.retry_after == 2 and "HTTP 429" in str(caught.value)
    with pytest.raises(TransientError, match="Retry-After") as paused:
        worker_b.fetch_orders([created["id"]])
    assert 0 < paused.value.retry_after <= 2
    statuses = [status for _, _, _, status in calls_since(shop, mark)]
    assert statuses == [200, 429]  # worker B's call never reached the store
