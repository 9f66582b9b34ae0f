"""WMS events as the engine receives them: Standard Webhooks signatures checked by an independent verifier,
payloads per type, partial shipments, stock and return events, retries with a stable id, per-subject order, the
durable outbox and automatic progression."""
from __future__ import annotations

import time

import pytest

from retail_sync.sandbox import runner
from retail_sync.sandbox.wms.app import WmsSandbox
from tests.contract.wms_support import (  # noqa: F401 - fixtures
    CATALOG, SECRET, SignatureError, Wms, receiver, verify, wms, wms_options,
)
from tests.support.processes import free_port, wait_until


def subject_types(payloads, order_id):
    return [p["type"] for p in payloads if p["data"].get("fulfillment_order_id") == order_id]


def test_events_are_signed_the_standard_webhooks_way(wms, receiver):
    order = wms.create_order("WC-7001", [("SKU-A", 1)])
    wms.ok(wms.control("POST", f"/fulfillment-orders/{order['id']}/acknowledge"))
    receiver.wait_count(1, "fulfillment.acknowledged")
    delivery = receiver.deliveries[0]
    payload = verify(SECRET, delivery.headers, delivery.body)
    assert set(payload) == {"id", "type", "timestamp", "data"}
    assert payload["id"] == delivery.headers["webhook-id"] and payload["id"].startswith("msg_")
    assert payload["type"] == "fulfillment.acknowledged" and payload["timestamp"].endswith("Z")
    assert payload["data"] | {"acknowledged_at": None} == {
        "fulfillment_order_id": order["id"], "external_ref": "WC-7001", "site": "WH-EAST",
        "status": "acknowledged", "acknowledged_at": None}
    assert delivery.headers["content-type"] == "application/json"
    assert abs(int(delivery.headers["webhook-timestamp"]) - time.time()) < 60
    # The verifier is not a rubber stamp: another key, a changed byte or a stale timestamp all fail.
    other_key = "whsec_" + "QUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFB"
    with pytest.raises(SignatureError):
        verify(other_key, delivery.headers, delivery.body)
    with pytest.raises(SignatureError):
        verify(SECRET, delivery.headers, delivery.body.replace(b"WC-7001", b"WC-7002"))
    with pytest.raises(SignatureError):
        verify(SECRET, delivery.headers, delivery.body, now=time.time() + 3600)


def test_partial_shipments_each_emit_their_own_event_and_adjust_stock(wms, receiver):
    order = wms.create_order("WC-7002", [("SKU-A", 3), ("SKU-B", 1)])
    first = wms.ok(wms.control("POST", f"/fulfillment-orders/{order['id']}/ship", json={
        "lines": [{"sku": "SKU-A", "quantity": 2}], "carrier": "UPS", "tracking_number": "1Z999AA10123456784"}))
    assert first["order"]["status"] == "partially_shipped"
    assert first["shipment"]["lines"] == [{"sku": "SKU-A", "quantity": 2}]
    second = wms.ok(wms.control("POST", f"/fulfillment-orders/{order['id']}/ship"))
    assert second["order"]["status"] == "shipped" and second["order"]["shipped_at"]
    assert second["shipment"]["lines"] == [{"sku": "SKU-A", "quantity": 1}, {"sku": "SKU-B", "quantity": 1}]

    shipped = receiver.wait_count(2, "fulfillment.shipped")
    for delivery in receiver.deliveries:
        verify(SECRET, delivery.headers, delivery.body)
    one, two = (p["data"] for p in shipped)
    assert one["shipment_id"] != two["shipment_id"]
    assert one | {"shipped_at": None} == {
        "fulfillment_order_id": order["id"], "external_ref": "WC-7002", "site": "WH-EAST",
        "status": "partially_shipped", "shipment_id": first["shipment"]["id"], "carrier": "UPS",
        "tracking_number": "1Z999AA10123456784", "shipped_at": None, "lines": [{"sku": "SKU-A", "quantity": 2}],
        "complete": False}
    assert (two["status"], two["complete"], two["shipment_id"]) == ("shipped", True, second["shipment"]["id"])
    assert two["carrier"] == "DHL" and two["tracking_number"] == second["shipment"]["tracking_number"]
    # one subject, delivered in the order it happened
    assert subject_types(receiver.accepted(), order["id"]) == [
        "fulfillment.acknowledged", "fulfillment.picked", "fulfillment.shipped", "fulfillment.shipped"]
    picked = receiver.accepted("fulfillment.picked")[0]["data"]
    assert picked["lines"] == [{"sku": "SKU-A", "quantity": 3}, {"sku": "SKU-B", "quantity": 1}]

    adjusted = [p["data"] for p in receiver.wait_count(3, "inventory.adjusted")]
    assert all(a["site"] == "WH-EAST" and a["reason"] == "shipment" for a in adjusted)
    # in order per (sku, site); different stock levels are independent subjects
    assert [(a["on_hand"], a["delta"], a["reference"]) for a in adjusted if a["sku"] == "SKU-A"] == [
        (8, -2, one["shipment_id"]), (7, -1, two["shipment_id"])]
    assert [(a["on_hand"], a["delta"], a["reference"]) for a in adjusted if a["sku"] == "SKU-B"] == [
        (2, -1, two["shipment_id"])]
    assert (wms.on_hand("SKU-A", "WH-EAST")["on_hand"], wms.on_hand("SKU-A", "WH-EAST")["allocated"]) == (7, 0)
    assert [s["id"] for s in wms.ok(wms.api("GET", f"/fulfillment-orders/{order['id']}"))["shipments"]] == [
        one["shipment_id"], two["shipment_id"]]


def test_shipping_checks_lines_and_physical_stock(wms):
    order = wms.create_order("WC-7003", [("SKU-B", 5)])
    too_many = wms.control("POST", f"/fulfillment-orders/{order['id']}/ship")
    assert too_many.status_code == 409 and too_many.json()["error"]["code"] == "insufficient_stock"
    assert wms.ok(wms.api("GET", f"/fulfillment-orders/{order['id']}"))["status"] == "released"  # all rolled back
    over = wms.control("POST", f"/fulfillment-orders/{order['id']}/ship", json={"lines": [{"sku": "SKU-B",
                                                                                         "quantity": 6}]})
    assert over.status_code == 422 and over.json()["error"]["field"] == "lines[0].quantity"
    stranger = wms.control("POST", f"/fulfillment-orders/{order['id']}/ship", json={"lines": [{"sku": "SKU-A",
                                                                                             "quantity": 1}]})
    assert stranger.status_code == 422 and stranger.json()["error"]["code"] == "unknown_line"
    wms.ok(wms.control("POST", f"/fulfillment-orders/{order['id']}/ship", json={"lines": [{"sku": "SKU-B",
                                                                                          "quantity": 3}]}))
    wms.ok(wms.control("POST", "/inventory", json={"sku": "SKU-B", "site": "WH-EAST", "on_hand": 2}))
    done = wms.ok(wms.control("POST", f"/fulfillment-orders/{order['id']}/ship"))
    assert done["order"]["status"] == "shipped"
    again = wms.control("POST", f"/fulfillment-orders/{order['id']}/ship")
    assert again.status_code == 409 and again.json()["error"]["code"] == "nothing_to_ship"


def test_stock_count_sets_on_hand_and_emits_the_absolute_level(wms, receiver):
    counted = wms.ok(wms.control("POST", "/inventory", json={"sku": "SKU-A", "site": "WH-WEST", "on_hand": 12}))
    assert (counted["on_hand"], counted["allocated"]) == (12, 0)
    wms.ok(wms.control("POST", "/inventory", json={"sku": "NEW-1", "site": "WH-NORTH", "on_hand": 4,
                                                   "reason": "receipt"}))
    events = sorted((p["data"] for p in receiver.wait_count(2, "inventory.adjusted")), key=lambda e: e["sku"],
                    reverse=True)
    assert events == [
        {"sku": "SKU-A", "site": "WH-WEST", "on_hand": 12, "delta": 7, "reason": "count", "reference": None},
        {"sku": "NEW-1", "site": "WH-NORTH", "on_hand": 4, "delta": 4, "reason": "receipt", "reference": None},
    ]
    assert wms.on_hand("NEW-1", "WH-NORTH")["on_hand"] == 4  # a new SKU at a new site can now be ordered
    assert wms.create_order("WC-7004", [("NEW-1", 1)], site="WH-NORTH")["status"] == "released"
    bad = wms.control("POST", "/inventory", json={"sku": "SKU-A", "site": "WH-WEST", "on_hand": -1})
    assert bad.status_code == 400 and bad.json()["error"]["field"] == "on_hand"


def test_return_received_carries_grades_and_restocks_resellable_lines(wms, receiver):
    wms.ok(wms.api("POST", "/return-authorizations", json={
        "rma_ref": "RMA-7", "order_ref": "WC-7002", "site": "WH-EAST",
        "lines": [{"sku": "SKU-A", "quantity": 3}, {"sku": "SKU-B", "quantity": 1}]}), 201)
    partial = wms.ok(wms.control("POST", "/returns/RMA-7/receive", json={"lines": [
        {"sku": "SKU-A", "quantity": 1, "grade": "A"}, {"sku": "SKU-A", "quantity": 1, "grade": "B"},
        {"sku": "SKU-A", "quantity": 1, "grade": "damaged"}]}))
    assert partial["status"] == "partially_received"
    assert partial["lines"][0] == {"sku": "SKU-A", "quantity": 3, "received_quantity": 3}
    rest = wms.ok(wms.control("POST", "/returns/RMA-7/receive", json={"lines": [
        {"sku": "SKU-B", "quantity": 1, "grade": "damaged"}]}))
    assert rest["status"] == "received" and len(rest["receipts"]) == 2

    received = [p["data"] for p in receiver.wait_count(2, "return.received")]
    assert received[0] | {"received_at": None} == {
        "return_authorization_id": rest["id"], "rma_ref": "RMA-7", "order_ref": "WC-7002", "site": "WH-EAST",
        "status": "partially_received", "received_at": None, "lines": [
            {"sku": "SKU-A", "quantity": 1, "grade": "A"}, {"sku": "SKU-A", "quantity": 1, "grade": "B"},
            {"sku": "SKU-A", "quantity": 1, "grade": "damaged"}]}
    assert received[1]["lines"] == [{"sku": "SKU-B", "quantity": 1, "grade": "damaged"}]
    adjusted = [p["data"] for p in receiver.wait_count(1, "inventory.adjusted")]
    assert adjusted == [{"sku": "SKU-A", "site": "WH-EAST", "on_hand": 12, "delta": 2, "reason": "return",
                         "reference": "RMA-7"}]  # grade A and B restocked; damaged not
    assert wms.on_hand("SKU-B", "WH-EAST")["on_hand"] == 3

    for body, status, code in (
            ({"lines": [{"sku": "SKU-A", "quantity": 1, "grade": "A"}]}, 409, "already_received"),
            ({"lines": [{"sku": "SKU-A", "quantity": 1, "grade": "C"}]}, 400, "invalid_field")):
        response = wms.control("POST", "/returns/RMA-7/receive", json=body)
        assert response.status_code == status and response.json()["error"]["code"] == code
    assert wms.control("POST", "/returns/RMA-404/receive", json={"lines": [
        {"sku": "SKU-A", "quantity": 1, "grade": "A"}]}).status_code == 404


def test_failed_deliveries_are_retried_with_backoff_a_stable_id_and_fresh_signatures(wms, receiver):
    wms.set_behaviour(retry_base_ms=600, max_attempts=5)
    receiver.fail_first = 2
    wms.ok(wms.control("POST", "/inventory", json={"sku": "SKU-A", "site": "WH-EAST", "on_hand": 9}))
    receiver.wait_count(1, "inventory.adjusted")
    attempts = receiver.deliveries
    assert [d.answered for d in attempts] == [500, 500, 200]
    assert len({d.headers["webhook-id"] for d in attempts}) == 1 and len({d.body for d in attempts}) == 1
    for delivery in attempts:
        verify(SECRET, delivery.headers, delivery.body)  # each attempt is signed for its own timestamp
    stamps = [int(d.headers["webhook-timestamp"]) for d in attempts]
    assert stamps == sorted(stamps) and stamps[2] > stamps[0]  # 1.8 s of backoff apart: a later second
    assert attempts[2].headers["webhook-signature"] != attempts[0].headers["webhook-signature"]
    first_gap, second_gap = attempts[1].at - attempts[0].at, attempts[2].at - attempts[1].at
    assert first_gap >= 0.5 and second_gap > first_gap  # 600 ms, then 1,200 ms: exponential

    event = wms.events(type="inventory.adjusted")[0]
    assert (event["state"], event["attempts"]) == ("delivered", 3)
    assert [d["status"] for d in event["deliveries"]] == [500, 500, 200]
    assert event["id"] == attempts[0].headers["webhook-id"]


def test_a_given_up_event_frees_its_subject_and_subjects_do_not_block_each_other(wms, receiver):
    wms.set_behaviour(retry_base_ms=20, max_attempts=2)
    receiver.fail_when = lambda p: p["data"].get("on_hand") == 1  # this one event never gets through
    for level in (1, 2):
        wms.ok(wms.control("POST", "/inventory", json={"sku": "SKU-A", "site": "WH-EAST", "on_hand": level}))
    wms.ok(wms.control("POST", "/inventory", json={"sku": "SKU-B", "site": "WH-EAST", "on_hand": 7}))
    accepted = receiver.wait_count(2, "inventory.adjusted")
    assert sorted(p["data"]["on_hand"] for p in accepted) == [2, 7]
    tries_of_first = [d.answered for d in receiver.deliveries if d.payload["data"]["on_hand"] == 1]
    assert tries_of_first == [500, 500]
    arrival = [d.payload["data"]["on_hand"] for d in receiver.deliveries if d.payload["data"]["sku"] == "SKU-A"]
    assert arrival == [1, 1, 2]  # the level 2 waited until level 1 was given up
    states = {e["payload"]["data"]["on_hand"]: e["state"] for e in wms.events()}
    assert states == {1: "failed", 2: "delivered", 7: "delivered"}
    assert wms.control("GET", "/state").json()["events_failed"] == 1


def test_an_unreachable_engine_is_retried_then_given_up(serve, sandbox_options):
    dead = f"http://127.0.0.1:{free_port()}"
    client = Wms(serve(WmsSandbox, wms_options(sandbox_options, dead)))
    client.ok(client.control("POST", "/seed", json=CATALOG))
    client.set_behaviour(retry_base_ms=10, max_attempts=3, timeout_s=2)
    client.ok(client.control("POST", "/inventory", json={"sku": "SKU-A", "site": "WH-EAST", "on_hand": 1}))
    event = wait_until(lambda: (found := client.events()[0])["state"] != "pending" and found, 10, 0.02,
                       "the event to leave pending")
    assert (event["state"], event["attempts"]) == ("failed", 3)
    assert all(d["status"] is None and "ConnectionError" in d["error"] for d in event["deliveries"])


def test_the_outbox_survives_a_restart(sandbox_options, receiver):
    options = wms_options(sandbox_options, receiver.url)
    receiver.fail_first = 1  # the engine is down for the first attempt; the retry is due a second later
    first = runner.start(options, [(WmsSandbox(options), free_port(), False)])
    try:
        client = Wms(first[0].url)
        client.ok(client.control("POST", "/seed", json=CATALOG))
        client.ok(client.control("POST", "/inventory", json={"sku": "SKU-A", "site": "WH-EAST", "on_hand": 3}))
        receiver.wait_for(lambda r: r.deliveries, what="a first attempt")
        # the WMS has recorded the failed attempt and scheduled the retry
        wait_until(lambda: client.events()[0]["attempts"] >= 1, 10, 0.02, "the failed attempt on record")
    finally:
        runner.stop(first)
    second = runner.start(options, [(WmsSandbox(options), free_port(), False)])
    try:
        delivered = receiver.wait_count(1, "inventory.adjusted")[0]
        assert delivered["id"] == receiver.deliveries[0].headers["webhook-id"]
        assert delivered["data"]["on_hand"] == 3
        event = Wms(second[0].url).events()[0]
        assert (event["state"], event["attempts"]) == ("delivered", 2)
        assert [d["status"] for d in event["deliveries"]] == [500, 200]
    finally:
        runner.stop(second)


def test_auto_progression_acknowledges_picks_and_ships_by_itself(wms, receiver):
    settings = wms.ok(wms.control("POST", "/auto", json={"ack_after_s": 0, "pick_after_s": 0.05,
                                                         "ship_after_s": 0.05}))
    assert settings == {"ack_after_s": 0, "pick_after_s": 0.05, "ship_after_s": 0.05}
    order = wms.create_order("WC-7100", [("SKU-A", 2)])
    receiver.wait_count(1, "fulfillment.shipped")
    shipped = wms.ok(wms.api("GET", f"/fulfillment-orders/{order['id']}"))
    assert shipped["status"] == "shipped" and len(shipped["shipments"]) == 1
    assert subject_types(receiver.accepted(), order["id"]) == [
        "fulfillment.acknowledged", "fulfillment.picked", "fulfillment.shipped"]
    assert receiver.wait_count(1, "inventory.adjusted")[0]["data"]["on_hand"] == 8

    wms.ok(wms.control("POST", "/auto", json={"ack_after_s": None, "pick_after_s": 0, "ship_after_s": None}))
    waiting = wms.create_order("WC-7101", [("SKU-A", 1)])
    by_hand = wms.create_order("WC-7102", [("SKU-A", 1)])
    wms.ok(wms.control("POST", f"/fulfillment-orders/{by_hand['id']}/acknowledge"))
    receiver.wait_for(lambda r: [p for p in r.accepted("fulfillment.picked")
                                 if p["data"]["fulfillment_order_id"] == by_hand["id"]], what="the pick")
    assert wms.ok(wms.api("GET", f"/fulfillment-orders/{waiting['id']}"))["status"] == "released"  # ack is off
    assert wms.ok(wms.api("GET", f"/fulfillment-orders/{by_hand['id']}"))["status"] == "picked"  # ship is off
    assert wms.ok(wms.control("POST", "/auto", json={})) == {"ack_after_s": None, "pick_after_s": None,
                                                             "ship_after_s": None}
