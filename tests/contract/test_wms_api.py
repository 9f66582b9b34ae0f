"""The WMS REST contract (docs/wms-api.md) over real HTTP: authentication, fulfilment orders idempotent by
external_ref, cancellation rules, inventory with keyset pagination over 100,000 SKUs, return authorizations
idempotent by rma_ref, errors, seeding and persistence."""
from __future__ import annotations

import requests

from retail_sync.sandbox import runner
from retail_sync.sandbox.wms.app import WmsSandbox
from tests.contract.wms_support import API_KEY, CATALOG, Wms, receiver, wms, wms_options  # noqa: F401 - fixtures
from tests.support.processes import free_port


def test_api_needs_the_bearer_key_but_control_routes_do_not(wms):
    anonymous = requests.get(f"{wms.url}/api/v1/inventory", timeout=5)
    assert anonymous.status_code == 401
    assert anonymous.json()["error"]["code"] == "unauthorized"
    assert anonymous.headers["WWW-Authenticate"].startswith("Bearer")
    wrong = Wms(wms.url, api_key="not-the-key").api("GET", "/fulfillment-orders")
    assert wrong.status_code == 401 and wrong.json()["error"]["message"] == "Invalid bearer token"
    unknown_path = requests.post(f"{wms.url}/api/v1/anything", timeout=5)
    assert unknown_path.status_code == 401  # authentication comes before routing
    assert wms.control("GET", "/state").json()["skus"] == 4
    assert wms.api("GET", "/inventory").status_code == 200
    lower_case_scheme = requests.get(f"{wms.url}/api/v1/inventory", headers={"Authorization": f"bearer {API_KEY}"},
                                     timeout=5)
    assert lower_case_scheme.status_code == 200  # the scheme is case-insensitive (RFC 7235)


def test_create_is_idempotent_by_external_ref(wms):
    first = wms.create_order("WC-1001", [("SKU-A", 2), ("SKU-B", 1)])
    assert first["id"].startswith("FO-") and first["status"] == "released"
    assert first["external_ref"] == "WC-1001" and first["site"] == "WH-EAST"
    assert first["lines"] == [{"sku": "SKU-A", "quantity": 2, "shipped_quantity": 0},
                              {"sku": "SKU-B", "quantity": 1, "shipped_quantity": 0}]
    assert first["ship_to"] == {"name": "Ada Lovelace", "country": "DE"} and first["created_at"].endswith("Z")

    again = wms.create_order("WC-1001", [("SKU-A", 2), ("SKU-B", 1)], expect=200)
    assert again == first
    listed = wms.ok(wms.api("GET", "/fulfillment-orders", params={"external_ref": "WC-1001"}))
    assert [order["id"] for order in listed["data"]] == [first["id"]] and listed["next_cursor"] is None
    assert wms.ok(wms.api("GET", f"/fulfillment-orders/{first['id']}")) == first
    assert [a["outcome"] for a in wms.ledger_creates()["fulfillment_order:WC-1001"]] == ["created", "existing"]
    assert wms.control("GET", "/state").json()["fulfillment_orders"] == 1
    assert wms.on_hand("SKU-A", "WH-EAST") | {"updated_at": None} == {
        "sku": "SKU-A", "site": "WH-EAST", "on_hand": 10, "allocated": 2, "updated_at": None}


def test_same_external_ref_with_other_lines_is_a_conflict(wms):
    first = wms.create_order("WC-1002", [("SKU-A", 1)])
    response = wms.api("POST", "/fulfillment-orders", json={
        "external_ref": "WC-1002", "site": "WH-EAST", "lines": [{"sku": "SKU-A", "quantity": 5}], "ship_to": {}})
    assert response.status_code == 409
    assert response.json()["error"] | {"message": None} == {"code": "external_ref_conflict", "message": None,
                                                            "id": first["id"]}
    assert [a["outcome"] for a in wms.ledger_creates()["fulfillment_order:WC-1002"]] == ["created", "rejected"]
    assert wms.on_hand("SKU-A", "WH-EAST")["allocated"] == 1


def test_create_refuses_bad_bodies_with_the_field_and_unknown_things_with_422(wms):
    def refused(body, status, code, field=None):
        response = wms.api("POST", "/fulfillment-orders", json=body)
        assert response.status_code == status, response.text
        error = response.json()["error"]
        assert error["code"] == code and error.get("field") == field, error

    good = {"external_ref": "WC-2000", "site": "WH-EAST", "lines": [{"sku": "SKU-A", "quantity": 1}], "ship_to": {}}
    refused({**good, "lines": []}, 400, "invalid_field", "lines")
    refused({**good, "lines": [{"sku": "SKU-A", "quantity": 0}]}, 400, "invalid_field", "lines[0].quantity")
    refused({**good, "lines": [{"sku": "SKU-A", "quantity": "2"}]}, 400, "invalid_field", "lines[0].quantity")
    refused({k: v for k, v in good.items() if k != "ship_to"}, 400, "invalid_field", "ship_to")
    refused({**good, "priority": "high"}, 400, "invalid_field", "priority")
    refused({**good, "external_ref": "  "}, 400, "invalid_field", "external_ref")
    refused({**good, "site": "WH-MOON"}, 422, "unknown_site", "site")
    refused({**good, "lines": [{"sku": "SKU-A", "quantity": 1}, {"sku": "NOPE", "quantity": 1}]}, 422,
            "unknown_sku", "lines[1].sku")
    refused({**good, "lines": [{"sku": "SKU-A", "quantity": 1}, {"sku": "SKU-A", "quantity": 1}]}, 422,
            "duplicate_sku", "lines[1].sku")
    not_json = wms.api("POST", "/fulfillment-orders", data=b"{oops", headers={"content-type": "application/json"})
    assert not_json.status_code == 400 and not_json.json()["error"]["code"] == "invalid_json"
    assert wms.control("GET", "/state").json()["fulfillment_orders"] == 0
    assert {a["code"] for a in wms.ledger_creates()["fulfillment_order:WC-2000"]} == {
        "unknown_site", "unknown_sku", "duplicate_sku"}
    for path in ("/fulfillment-orders/FO-999999", "/fulfillment-orders/42", "/fulfillment-orders/FO-1/cancel"):
        method = "POST" if path.endswith("cancel") else "GET"
        response = wms.api(method, path)
        assert response.status_code == 404 and response.json()["error"]["code"] == "fulfillment_order_not_found"
    missing = wms.api("GET", "/no-such-thing")
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_found"
    wrong_method = wms.api("DELETE", "/inventory")
    assert wrong_method.status_code == 405 and wrong_method.json()["error"]["code"] == "method_not_allowed"


def test_cancel_is_idempotent_and_releases_the_allocation(wms):
    order = wms.create_order("WC-1003", [("SKU-B", 2)])
    assert wms.on_hand("SKU-B", "WH-EAST")["allocated"] == 2
    cancelled = wms.ok(wms.api("POST", f"/fulfillment-orders/{order['id']}/cancel"))
    assert cancelled["status"] == "cancelled" and cancelled["cancelled_at"]
    assert wms.ok(wms.api("POST", f"/fulfillment-orders/{order['id']}/cancel")) == cancelled
    assert wms.on_hand("SKU-B", "WH-EAST") | {"updated_at": None} == {
        "sku": "SKU-B", "site": "WH-EAST", "on_hand": 3, "allocated": 0, "updated_at": None}
    shipping = wms.control("POST", f"/fulfillment-orders/{order['id']}/ship")
    assert shipping.status_code == 409 and shipping.json()["error"]["code"] == "order_cancelled"


def test_cancel_is_refused_once_picked(wms):
    order = wms.create_order("WC-1004", [("SKU-A", 1)])
    picked = wms.ok(wms.control("POST", f"/fulfillment-orders/{order['id']}/pick"))
    assert picked["status"] == "picked" and picked["acknowledged_at"] and picked["picked_at"]
    response = wms.api("POST", f"/fulfillment-orders/{order['id']}/cancel")
    assert response.status_code == 409
    error = response.json()["error"]
    assert error["code"] == "not_cancellable" and error["order_status"] == "picked"
    wms.ok(wms.control("POST", f"/fulfillment-orders/{order['id']}/ship"))
    response = wms.api("POST", f"/fulfillment-orders/{order['id']}/cancel")
    assert response.status_code == 409 and response.json()["error"]["order_status"] == "shipped"
    assert wms.ok(wms.api("GET", f"/fulfillment-orders/{order['id']}"))["status"] == "shipped"


def test_order_list_pages_with_an_opaque_cursor_and_filters(wms):
    ids = [wms.create_order(f"WC-3{n:03d}", [("SKU-A", 1)], site="WH-WEST" if n % 2 else "WH-EAST")["id"]
           for n in range(5)]
    wms.ok(wms.control("POST", f"/fulfillment-orders/{ids[1]}/acknowledge"))
    seen, cursor = [], None
    while True:
        params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        body = wms.ok(wms.api("GET", "/fulfillment-orders", params=params))
        assert len(body["data"]) <= 2
        seen += [order["id"] for order in body["data"]]
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert seen == ids
    by_status = wms.ok(wms.api("GET", "/fulfillment-orders", params={"status": "acknowledged"}))["data"]
    assert [order["id"] for order in by_status] == [ids[1]]
    by_site = wms.ok(wms.api("GET", "/fulfillment-orders", params={"site": "WH-WEST"}))["data"]
    assert [order["id"] for order in by_site] == [ids[1], ids[3]]
    for params, field in (({"cursor": "garbage"}, "cursor"), ({"limit": 1001}, "limit"),
                          ({"limit": 0}, "limit"), ({"status": "lost"}, "status")):
        response = wms.api("GET", "/fulfillment-orders", params=params)
        assert response.status_code == 400 and response.json()["error"]["field"] == field, response.text


def test_inventory_per_site_and_filters(wms):
    rows = wms.ok(wms.api("GET", "/inventory", params={"sku": "SKU-A"}))["data"]
    assert [(r["site"], r["on_hand"], r["allocated"]) for r in rows] == [("WH-EAST", 10, 0), ("WH-WEST", 5, 0)]
    west = wms.ok(wms.api("GET", "/inventory", params={"site": "WH-WEST"}))["data"]
    assert [(r["sku"], r["on_hand"]) for r in west] == [("SKU-A", 5), ("SKU-B", 0), ("TEE-M", 6), ("TEE-S", 4)]
    for params, code in (({"site": "WH-MOON"}, "site_not_found"), ({"sku": "NOPE"}, "sku_not_found")):
        response = wms.api("GET", "/inventory", params=params)
        assert response.status_code == 404 and response.json()["error"]["code"] == code


def test_inventory_pages_through_100000_skus(wms):
    catalog = {"sites": ["WH-EAST", "WH-WEST"],
               "products": [{"sku": f"BULK-{n:06d}", "name": "Bulk item", "price": "1.00", "stock": {"WH-EAST": n % 7}}
                            for n in range(100_000)]}
    seeded = wms.ok(wms.control("POST", "/seed", json=catalog))
    assert seeded["skus"] == 100_000 and seeded["inventory_rows"] == 200_000
    skus, cursor, pages = [], None, 0
    while True:
        params = {"site": "WH-EAST", "limit": 1000, **({"cursor": cursor} if cursor else {})}
        body = wms.ok(wms.api("GET", "/inventory", params=params))
        pages += 1
        bulk = [row for row in body["data"] if row["sku"].startswith("BULK-")]
        assert all(row["on_hand"] == int(row["sku"][5:]) % 7 for row in bulk)
        skus += [row["sku"] for row in bulk]
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert len(skus) == 100_000 and len(set(skus)) == 100_000 and skus == sorted(skus)
    assert pages == 101  # 100,004 rows at WH-EAST (the bulk plus the test catalog's SKUs), 1,000 a page
    first = wms.ok(wms.api("GET", "/inventory", params={"limit": 1000}))
    second = wms.ok(wms.api("GET", "/inventory", params={"limit": 1000, "cursor": first["next_cursor"]}))
    keys = [(row["sku"], row["site"]) for row in first["data"] + second["data"]]
    assert len(set(keys)) == 2000 and keys == sorted(keys)  # unfiltered pages walk (sku, site) without overlap


def test_return_authorization_is_idempotent_by_rma_ref(wms):
    body = {"rma_ref": "RMA-1", "order_ref": "WC-1001", "site": "WH-EAST", "lines": [{"sku": "SKU-A", "quantity": 2}]}
    created = wms.ok(wms.api("POST", "/return-authorizations", json=body), 201)
    assert created["id"].startswith("RA-") and created["status"] == "authorized"
    assert created["lines"] == [{"sku": "SKU-A", "quantity": 2, "received_quantity": 0}] and created["receipts"] == []
    assert wms.ok(wms.api("POST", "/return-authorizations", json=body), 200) == created
    assert wms.ok(wms.api("GET", f"/return-authorizations/{created['id']}")) == created
    listed = wms.ok(wms.api("GET", "/return-authorizations", params={"order_ref": "WC-1001"}))["data"]
    assert [item["rma_ref"] for item in listed] == ["RMA-1"]
    conflict = wms.api("POST", "/return-authorizations", json={**body, "lines": [{"sku": "SKU-A", "quantity": 3}]})
    assert conflict.status_code == 409 and conflict.json()["error"]["id"] == created["id"]
    unknown = wms.api("POST", "/return-authorizations", json={**body, "rma_ref": "RMA-2",
                                                              "lines": [{"sku": "GHOST", "quantity": 1}]})
    assert unknown.status_code == 422 and unknown.json()["error"]["field"] == "lines[0].sku"
    assert wms.api("GET", "/return-authorizations/RA-999999").status_code == 404
    creates = wms.ledger_creates()
    assert [a["outcome"] for a in creates["return_authorization:RMA-1"]] == ["created", "existing", "rejected"]
    assert [a["outcome"] for a in creates["return_authorization:RMA-2"]] == ["rejected"]


def test_seed_upserts_on_hand_and_keeps_allocations_and_reset_empties(wms):
    wms.create_order("WC-4000", [("SKU-A", 3)])
    catalog = {**CATALOG, "products": [{"sku": "SKU-A", "name": "Mug", "price": "9.90", "stock": {"WH-EAST": 40}}]}
    assert wms.ok(wms.control("POST", "/seed", json=catalog))["inventory_rows"] == 2
    assert (wms.on_hand("SKU-A", "WH-EAST")["on_hand"], wms.on_hand("SKU-A", "WH-EAST")["allocated"]) == (40, 3)
    assert wms.on_hand("SKU-A", "WH-WEST")["on_hand"] == 0
    state = wms.control("GET", "/state").json()
    assert (state["sites"], state["skus"], state["inventory_rows"], state["fulfillment_orders"]) == (2, 4, 8, 1)
    reset = wms.ok(wms.control("POST", "/reset"))["state"]
    assert reset["skus"] == 0 and reset["fulfillment_orders"] == 0 and reset["events_pending"] == 0


def test_a_restarted_sandbox_keeps_its_orders(sandbox_options, receiver):
    options = wms_options(sandbox_options, receiver.url)
    first = runner.start(options, [(WmsSandbox(options), free_port(), False)])
    try:
        client = Wms(first[0].url)
        client.ok(client.control("POST", "/seed", json=CATALOG))
        order = client.create_order("WC-5000", [("SKU-A", 1)])
    finally:
        runner.stop(first)
    second = runner.start(options, [(WmsSandbox(options), free_port(), False)])
    try:
        client = Wms(second[0].url)
        assert client.ok(client.api("GET", f"/fulfillment-orders/{order['id']}")) == order
        assert client.create_order("WC-5000", [("SKU-A", 1)], expect=200)["id"] == order["id"]
        assert client.on_hand("SKU-A", "WH-EAST")["allocated"] == 1
    finally:
        runner.stop(second)

