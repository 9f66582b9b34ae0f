"""The order-to-fulfilment saga end to end: real sandboxes over HTTP, the web app, a critical and a default/bulk
Celery worker and beat as real processes. Duplicate effects are counted from the sandboxes' own ledgers."""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

import pytest
import requests
from sqlalchemy import select
from woocommerce import API

from retail_sync.persistence.tables import exceptions, shipments, stock_levels
from tests.support.odoo_rpc import OdooJsonRpc
from tests.support.processes import wait_until
from tests.support.stack import Stack, catalog, store_ref

pytestmark = pytest.mark.timeout(600)

ADMIN = {"Authorization": "Bearer dev-admin-key"}
WMS_AUTH = {"Authorization": "Bearer dev-wms-key"}

CATALOG = catalog({
    "E2E-MUG": {"WH-EAST": 2000, "WH-WEST": 2000},
    "E2E-BOOK": {"WH-EAST": 1000, "WH-WEST": 1000},
    "E2E-SPLIT": {"WH-EAST": 1, "WH-WEST": 1},
    "E2E-SHIP": {"WH-EAST": 50, "WH-WEST": 0},
    "E2E-PICK": {"WH-EAST": 50, "WH-WEST": 0},
})
STORE_ONLY = catalog({"E2E-GHOST": {"WH-EAST": 5}})  # sold by the store, unknown to the ERP and the WMS


@pytest.fixture(scope="module")
def stack(stack_factory) -> Stack:
    stack = stack_factory().start(CATALOG)
    stack.seed(STORE_ONLY, systems=("woocommerce",))
    stack.sync_catalog()
    return stack


@pytest.fixture(scope="module")
def store(stack) -> API:
    return API(url=stack.woo, consumer_key="ck_dev", consumer_secret="cs_dev", version="wc/v3", timeout=15)


def sale_orders(stack: Stack, ref: str) -> list[dict]:
    return OdooJsonRpc(stack.erp).execute("sale.order", "search_read", [["client_order_ref", "=", ref]],
                                          fields=["name", "state", "amount_total"])


def fulfilments(stack: Stack, external_ref: str) -> list[dict]:
    response = requests.get(stack.wms + "/api/v1/fulfillment-orders", params={"external_ref": external_ref},
                            headers=WMS_AUTH, timeout=10)
    return response.json()["data"]


def created(attempts: list[dict]) -> int:
    return sum(1 for attempt in attempts if attempt["outcome"] == "created")


def test_a_paid_store_order_is_posted_reserved_and_released_once(stack, store):
    order = stack.checkout([("E2E-MUG", 2), ("E2E-BOOK", 1)], coupon_lines=[{"code": "SAVE10"}])
    ref = store_ref(order)

    stack.wait_for_status([ref], {"released"})

    [erp_order] = sale_orders(stack, ref)
    assert erp_order["state"] == "sale"
    assert Decimal(str(erp_order["amount_total"])).quantize(Decimal("0.01")) == Decimal(order["total"])
    [released] = fulfilments(stack, ref)
    assert {(line["sku"], line["quantity"]) for line in released["lines"]} == {("E2E-MUG", 2), ("E2E-BOOK", 1)}
    view = requests.get(f"{stack.web}/api/v1/orders/{ref}", headers=ADMIN, timeout=10).json()
    assert view["status"] == "released"
    steps = {entry["step"] for entry in view["timeline"]}
    assert len(steps) >= 4, steps  # captured, posted, reserved, released at least


def test_200_orders_with_duplicated_and_reordered_deliveries_make_one_erp_and_one_wms_order_each(stack):
    stack.control("woocommerce", "/_sandbox/webhooks/behaviour",
                  {"duplicate_rate": 0.1, "reorder": True, "seed": 7, "delay_ms": 50})
    try:
        with ThreadPoolExecutor(8) as pool:
            orders = list(pool.map(lambda i: stack.checkout([("E2E-MUG", 1 + i % 3), ("E2E-BOOK", 1)]), range(200)))
        refs = [store_ref(order) for order in orders]

        stack.wait_for_status(refs, {"released"}, timeout=240)
    finally:
        stack.control("woocommerce", "/_sandbox/webhooks/behaviour", {})

    erp_creates = stack.creates("erp", "sale.order")
    wms_creates = stack.creates("wms", "fulfillment_order")
    assert {ref: created(erp_creates.get(ref, [])) for ref in refs} == {ref: 1 for ref in refs}
    assert {ref: created(wms_creates.get(ref, [])) for ref in refs} == {ref: 1 for ref in refs}
    sent = requests.get(stack.woo + "/_sandbox/webhooks/deliveries", params={"limit": 100000},
                        timeout=30).json()["deliveries"]
    # the store really delivered to the engine, duplicates included, rather than the engine polling
    assert any(d["duplicate"] and d["success"] for d in sent)


def test_an_unknown_sku_puts_the_order_on_hold_with_a_note_and_an_exception(stack, store):
    order = stack.checkout([("E2E-GHOST", 1)])
    ref = store_ref(order)

    row = stack.wait_for_status([ref], {"on_hold"})[ref]

    assert "E2E-GHOST" in row["hold_reason"]
    wait_until(lambda: store.get(f"orders/{order['id']}").json()["status"] == "on-hold", 30, message="store on-hold")
    notes = store.get(f"orders/{order['id']}/notes").json()
    assert any("E2E-GHOST" in note["note"] for note in notes)
    with stack.engine.connect() as conn:
        kinds = [r.kind for r in conn.execute(select(exceptions).where(exceptions.c.subject == ref))]
    assert kinds and all(kind.startswith("order.") for kind in kinds)
    assert ref not in stack.creates("wms", "fulfillment_order")
    assert sale_orders(stack, ref) == []


def test_an_order_no_single_site_can_ship_is_split_across_two_sites(stack):
    order = stack.checkout([("E2E-SPLIT", 2)])
    ref = store_ref(order)

    stack.wait_for_status([ref], {"released"})

    assert [f["site"] for f in fulfilments(stack, f"{ref}/WH-EAST")] == ["WH-EAST"]
    assert [f["site"] for f in fulfilments(stack, f"{ref}/WH-WEST")] == ["WH-WEST"]
    assert fulfilments(stack, ref) == []


def test_partial_then_full_shipment_completes_the_order_and_invoices_once(stack, store):
    order = stack.checkout([("E2E-SHIP", 3)])
    ref = store_ref(order)
    stack.wait_for_status([ref], {"released"})
    [fo] = fulfilments(stack, ref)

    stack.control("wms", f"/_sandbox/fulfillment-orders/{fo['id']}/ship",
                  {"lines": [{"sku": "E2E-SHIP", "quantity": 1}], "carrier": "UPS", "tracking_number": "1Z-PARTIAL"})
    stack.wait_for_status([ref], {"partially_shipped"})
    wait_until(lambda: any("1Z-PARTIAL" in n["note"] for n in store.get(f"orders/{order['id']}/notes").json()),
               30, message="tracking note for the partial shipment")
    assert store.get(f"orders/{order['id']}").json()["status"] == "processing"

    stack.control("wms", f"/_sandbox/fulfillment-orders/{fo['id']}/ship", {"carrier": "DHL", "tracking_number": "DHL-REST"})
    stack.wait_for_status([ref], {"completed"})

    assert store.get(f"orders/{order['id']}").json()["status"] == "completed"
    assert created(stack.ledger("erp")["creates"].get(f"account.move:{ref}", [])) == 1
    with stack.engine.connect() as conn:
        assert len(conn.execute(select(shipments.c.shipment_id).where(shipments.c.order_ref == ref)).all()) == 2
        level = conn.execute(select(stock_levels).where(stock_levels.c.sku == "E2E-SHIP",
                                                        stock_levels.c.site == "WH-EAST")).one()
    assert (level.on_hand, level.reserved) == (47, 0)


def test_cancelling_in_the_store_before_pick_compensates_in_reverse(stack, store):
    order = stack.checkout([("E2E-PICK", 2)])
    ref = store_ref(order)
    stack.wait_for_status([ref], {"released"})

    assert store.put(f"orders/{order['id']}", {"status": "cancelled"}).status_code == 200
    stack.wait_for_status([ref], {"cancelled"})

    assert [f["status"] for f in fulfilments(stack, ref)] == ["cancelled"]
    assert [o["state"] for o in sale_orders(stack, ref)] == ["cancel"]
    with stack.engine.connect() as conn:
        level = conn.execute(select(stock_levels).where(stock_levels.c.sku == "E2E-PICK",
                                                        stock_levels.c.site == "WH-EAST")).one()
    assert level.reserved == 0


def test_cancelling_after_pick_raises_an_exception_and_keeps_the_goods_moving(stack, store):
    order = stack.checkout([("E2E-PICK", 1)])
    ref = store_ref(order)
    stack.wait_for_status([ref], {"released"})
    [fo] = fulfilments(stack, ref)
    stack.control("wms", f"/_sandbox/fulfillment-orders/{fo['id']}/pick")

    assert store.put(f"orders/{order['id']}", {"status": "cancelled"}).status_code == 200

    def cancel_after_pick():
        with stack.engine.connect() as conn:
            return conn.execute(select(exceptions).where(exceptions.c.subject == ref,
                                                         exceptions.c.kind == "order.cancel_after_pick")).first()

    wait_until(cancel_after_pick, 60, message="a cancel-after-pick exception")
    assert [f["status"] for f in fulfilments(stack, ref)] == ["picked"]
    assert [o["state"] for o in sale_orders(stack, ref)] == ["sale"]
