"""The governed order API served by a real uvicorn (in a thread of the test, so the app gets this test's services)
over the real database, with the flows running for real on in-memory fakes of the three systems."""
from __future__ import annotations

import dataclasses
import json
import logging
import threading
from decimal import Decimal

import pytest
import requests
import uvicorn
from sqlalchemy import update

from config.settings import parse_api_keys
from retail_sync import task_names
from retail_sync.domain.orders import Order
from retail_sync.domain.skus import normalise_sku
from retail_sync.entrypoints.api import API_MAX_BODY_BYTES
from retail_sync.entrypoints.api_models import LineIn
from retail_sync.entrypoints.web import create_app
from retail_sync.flows import capture, catalog, saga
from retail_sync.persistence.db import create_db_engine
from retail_sync.persistence.tables import orders
from tests.support.processes import free_port, wait_until

API_KEYS = "pos:pos-key-0123456789:write,viewer:view-key-0123456789:read,ops:ops-key-0123456789:admin"
WRITE = {"Authorization": "Bearer pos-key-0123456789"}
READ = {"Authorization": "Bearer view-key-0123456789"}
ADMIN = {"Authorization": "Bearer ops-key-0123456789"}


def order_body(number: str = "9001") -> dict:
    # lines 19.80 + (14.50 − 1.50) = 32.80; shipping 4.90; tax 3.76 + 2.47 + 0.93 = 7.16; total 44.86
    return {
        "channel": "POS", "number": number, "currency": "EUR",
        "customer": {"email": "ada@example.com", "first_name": "Ada", "last_name": "Lovelace"},
        "shipping_address": {"first_name": "Ada", "last_name": "Lovelace", "address_1": "Hauptstr. 1",
                             "city": "Berlin", "postcode": "10115", "country": "DE"},
        "lines": [{"sku": "MUG-BLUE", "quantity": 2, "unit_price": "9.90", "tax": "3.76"},
                  {"sku": "PLATE-10", "quantity": 1, "unit_price": "14.50", "discount": "1.50", "tax": "2.47"}],
        "shipping_total": "4.90", "shipping_tax": "0.93", "total": "44.86", "paid": True,
    }


@pytest.fixture
def api_services(services):
    return dataclasses.replace(services, settings=services.settings.model_copy(
        update={"api_keys": parse_api_keys(API_KEYS)}))


class Served(requests.Session):
    """The app on a real uvicorn (its lifespan, middleware and access log included); requests take paths."""

    def __init__(self, app):
        super().__init__()
        self.base = f"http://127.0.0.1:{free_port()}"
        port = int(self.base.rsplit(":", 1)[1])
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None,
                                                    lifespan="on"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> "Served":
        self.thread.start()
        wait_until(lambda: self.server.started or not self.thread.is_alive(), 10, interval=0.01,
                   message="uvicorn started")
        assert self.server.started, "uvicorn did not start"
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()  # drop the keep-alive connection first, so the server has nothing to wait for
        self.server.should_exit = True
        self.thread.join(10)

    def request(self, method, path, *args, **kwargs):
        kwargs.setdefault("timeout", 10)
        return super().request(method, self.base + path, *args, **kwargs)


@pytest.fixture
def client(api_services):
    with Served(create_app(api_services)) as served:
        yield served


def post_order(client, body, headers=WRITE):
    return client.post("/api/v1/orders", data=json.dumps(body, default=str),
                       headers={"content-type": "application/json", **headers})


def stored(engine, ref: str):
    with engine.connect() as conn:
        return conn.execute(orders.select().where(orders.c.ref == ref)).first()


def assert_problem(response, status: int) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["status"] == status and body["title"] and body["detail"]
    return body


# --- accepting an order ---------------------------------------------------------------------------------------

def test_a_new_order_is_accepted_with_202_and_location_and_enters_the_saga(client, engine, dispatcher):
    body = order_body()
    body["shipping_total"] = Decimal("4.9")  # a JSON number: read as Decimal, never through a float
    response = client.post("/api/v1/orders", data=json.dumps(body, default=float),
                           headers={"content-type": "application/json", **WRITE})
    assert response.status_code == 202, response.text
    assert response.headers["location"] == "/api/v1/orders/POS-9001"
    assert response.json() == {"ref": "POS-9001", "status": "received"}
    assert dispatcher.sent == [(task_names.START_ORDER, ["POS-9001"])]

    row = stored(engine, "POS-9001")
    order = Order.from_json(row.body)
    assert (row.status, row.channel, row.number, row.store_id) == ("received", "POS", "9001", None)
    assert (order.total, order.shipping_total, order.total_tax, order.discount_total) == (
        Decimal("44.86"), Decimal("4.90"), Decimal("7.16"), Decimal("1.50"))
    assert [(line.sku, line.quantity, line.subtotal, line.total) for line in order.lines] == [
        ("MUG-BLUE", 2, Decimal("19.80"), Decimal("19.80")), ("PLATE-10", 1, Decimal("14.50"), Decimal("13.00"))]
    assert order.status == "processing" and order.paid and order.extra == {"submitted_by": "pos"}


def test_the_same_order_again_is_200_with_its_state_and_a_changed_one_is_409(client, engine, dispatcher):
    assert post_order(client, order_body()).status_code == 202
    # the same order, written differently: other key order, amounts as numbers, extra spaces
    same = dict(reversed(list(order_body().items())))
    same["total"] = Decimal("44.860")
    same["lines"][0]["unit_price"] = Decimal("9.9")
    again = client.post("/api/v1/orders", data=json.dumps(same, default=float, indent=2),
                        headers={"content-type": "application/json", **WRITE})
    assert again.status_code == 200, again.text
    assert again.headers["location"] == "/api/v1/orders/POS-9001"
    assert (again.json()["ref"], again.json()["status"]) == ("POS-9001", "received")

    changed = order_body()
    changed["lines"][0]["quantity"] = 3
    changed["lines"][0]["tax"] = "5.64"
    changed["total"] = "56.64"
    conflict = assert_problem(post_order(client, changed), 409)
    assert conflict["ref"] == "POS-9001" and "POS-9001" in conflict["detail"]
    assert dispatcher.sent == [(task_names.START_ORDER, ["POS-9001"])]  # started once
    assert Order.from_json(stored(engine, "POS-9001").body).lines[0].quantity == 2


def _with(change):
    body = order_body()
    change(body)
    return body


@pytest.mark.parametrize("change, field", [
    (lambda b: b["lines"][1].update(quantity=0), "lines[1].quantity"),
    (lambda b: b["lines"][1].update(quantity="1"), "lines[1].quantity"),  # strict: no strings for integers
    (lambda b: b["lines"][1].update(quantity=Decimal("1.0")), "lines[1].quantity"),
    (lambda b: b["lines"][0].update(unit_price="9.90001"), "lines[0].unit_price"),
    (lambda b: b["lines"][0].update(unit_price="-9.90"), "lines[0].unit_price"),
    (lambda b: b["lines"][0].update(unit_price=True), "lines[0].unit_price"),
    (lambda b: b["lines"][1].update(discount="99.00"), "lines[1].discount"),
    (lambda b: b["lines"][0].update(warehouse="WH-EAST"), "lines[0].warehouse"),  # unknown fields refused
    (lambda b: b.update(status="completed"), "status"),  # no mass assignment of what the engine decides
    (lambda b: b.update(channel="WC"), "channel"),  # store orders come from the store
    (lambda b: b.update(channel="pos"), "channel"),
    (lambda b: b.update(number="90 01"), "number"),
    (lambda b: b.update(currency="USD"), "currency"),  # well-formed but not supported here
    (lambda b: b.update(total="44.85"), "total"),
    (lambda b: b.update(tax_total="7.00"), "tax_total"),
    (lambda b: b.update(discount_total="2.00"), "discount_total"),
    (lambda b: b.update(paid="true"), "paid"),
    (lambda b: b.update(lines=[]), "lines"),
    (lambda b: b.update(lines=b["lines"] * 251), "lines"),
    (lambda b: b["customer"].pop("email"), "customer.email"),
    (lambda b: b["shipping_address"].update(country="Germany"), "shipping_address.country"),
    (lambda b: b.pop("paid"), "paid"),
])
def test_invalid_orders_are_422_problems_naming_the_field(client, engine, dispatcher, change, field):
    response = client.post("/api/v1/orders", data=json.dumps(_with(change), default=str),
                           headers={"content-type": "application/json", **WRITE})
    problem = assert_problem(response, 422)
    assert field in [error["field"] for error in problem["errors"]], problem
    assert all(error["reason"] for error in problem["errors"])
    assert stored(engine, "POS-9001") is None and dispatcher.sent == []


def test_every_error_of_a_body_is_reported_at_once(client):
    body = order_body()
    body["lines"][1]["quantity"] = -1
    body["customer"]["email"] = "not an address"
    body["admin"] = True
    problem = assert_problem(post_order(client, body), 422)
    assert {"lines[1].quantity", "customer.email", "admin"} <= {error["field"] for error in problem["errors"]}
    assert "not an address" not in json.dumps(problem)  # reasons name the rule, never echo the input


@pytest.mark.parametrize("content, content_type, status, field", [
    (b'{"channel": "POS",', "application/json", 422, "body"),
    (b"", "application/json", 422, "body"),
    (b"[1, 2]", "application/json", 422, "body"),
    (b"\xff\xfe", "application/json", 422, "body"),
    (b"channel=POS", "application/x-www-form-urlencoded", 415, None),
])
def test_unreadable_bodies_are_problems(client, content, content_type, status, field):
    response = client.post("/api/v1/orders", data=content, headers={"content-type": content_type, **WRITE})
    problem = assert_problem(response, status)
    if field:
        assert [error["field"] for error in problem["errors"]] == [field]


def test_an_oversized_body_is_413(client, engine):
    body = order_body()
    body["customer_note"] = "x" * (600 * 1024)
    assert_problem(post_order(client, body), 413)
    assert stored(engine, "POS-9001") is None


def test_the_413_names_the_request_limit(client):
    body = order_body()
    body["customer_note"] = "x" * (600 * 1024)
    problem = assert_problem(post_order(client, body), 413)
    assert problem["detail"] == f"request bodies are limited to {API_MAX_BODY_BYTES} bytes"


def test_an_api_sku_is_normalised_as_every_channels_are():
    line = LineIn.model_validate({"sku": " Cafe\u0301-MUG ", "quantity": 1, "unit_price": "1.00"})
    assert line.sku == normalise_sku("Cafe\u0301-MUG") == "Caf\u00e9-MUG"


# --- authentication and roles ---------------------------------------------------------------------------------

@pytest.mark.parametrize("headers, status, challenge", [
    ({}, 401, True),
    ({"Authorization": "Bearer not-a-key"}, 401, True),
    ({"Authorization": "Basic cG9zOnBvcy1rZXk="}, 401, True),
    ({"Authorization": "Bearer"}, 401, True),
    (READ, 403, False),  # read < write
])
def test_writes_need_a_write_key(client, engine, dispatcher, headers, status, challenge):
    problem = assert_problem(post_order(client, order_body(), headers=headers), status)
    assert problem["status"] == status
    if challenge:
        assert post_order(client, order_body(), headers=headers).headers["www-authenticate"].startswith("Bearer")
    assert stored(engine, "POS-9001") is None and dispatcher.sent == []


def test_admin_may_write_and_read_may_read(client):
    assert post_order(client, order_body(), headers=ADMIN).status_code == 202
    assert client.get("/api/v1/orders/POS-9001", headers=READ).status_code == 200
    assert_problem(client.get("/api/v1/orders/POS-9001"), 401)


@pytest.mark.parametrize("query", ["api_key=view-key-0123456789", "token=view-key-0123456789",
                                   "x=1&Access_Token=view-key-0123456789"])
def test_a_key_in_the_query_string_is_refused(client, query):
    response = client.get(f"/api/v1/orders/POS-9001?{query}", headers=READ)
    problem = assert_problem(response, 400)
    assert "view-key-0123456789" not in response.text and "Authorization" in problem["detail"]


# --- reading an order -----------------------------------------------------------------------------------------

def test_unknown_orders_and_paths_are_404_problems(client):
    problem = assert_problem(client.get("/api/v1/orders/POS-404", headers=READ), 404)
    assert problem["ref"] == "POS-404"
    assert_problem(client.get("/api/v1/nothing-here", headers=READ), 404)
    assert_problem(client.delete("/api/v1/orders/POS-404", headers=ADMIN), 405)


def test_the_state_and_timeline_follow_the_saga(client, api_services, erp, wms, dispatcher):
    # given a catalog the engine knows and stock at one site
    for sku in ("MUG-BLUE", "PLATE-10"):
        erp.add_product(sku)
        wms.set_stock(sku, "WH-EAST", 10)
    catalog.sync_catalog(api_services)
    assert post_order(client, order_body()).status_code == 202
    # when the saga runs (the steps the workers would run, in the order the chord may run them)
    capture.start_order(api_services, "POS-9001")
    saga.post_to_erp(api_services, "POS-9001")
    saga.reserve_stock(api_services, "POS-9001")
    saga.release_to_wms(api_services, "POS-9001")
    # then the API shows each step, the ERP order, the fulfilment and the timeline
    state = client.get("/api/v1/orders/POS-9001", headers=READ).json()
    assert state["status"] == "released" and state["hold_reason"] is None
    steps = state["steps"]
    assert steps["validation"]["state"] == "passed" and steps["validation"]["at"]
    assert steps["erp_order"]["state"] == "posted" and steps["erp_order"]["name"]
    assert steps["reservation"]["state"] == "reserved"
    assert {(a["site"], a["sku"], a["quantity"]) for a in steps["reservation"]["allocations"]} == {
        ("WH-EAST", "MUG-BLUE", 2), ("WH-EAST", "PLATE-10", 1)}
    assert steps["release"]["state"] == "released" and steps["release"]["at"]
    [fulfilment] = state["fulfilments"]
    assert (fulfilment["external_ref"], fulfilment["site"], fulfilment["status"]) == ("POS-9001", "WH-EAST", "released")
    assert fulfilment["wms_id"]
    timeline = state["timeline"]
    assert [entry["step"] for entry in timeline][:2] == ["order.accepted", "order.validated"]
    assert all(entry["system"] and entry["at"] for entry in timeline)
    assert {"order.accepted"} <= {entry["step"] for entry in timeline if entry["system"] == "api"}
    assert "ada@example.com" not in json.dumps(state)  # no customer data in the state


# --- cancelling -----------------------------------------------------------------------------------------------

def test_cancellation_outcomes(client, engine, dispatcher):
    assert_problem(client.post("/api/v1/orders/POS-404/cancel", headers=WRITE), 404)
    assert post_order(client, order_body()).status_code == 202
    assert_problem(client.post("/api/v1/orders/POS-9001/cancel", headers=READ), 403)
    unknown_field = client.post("/api/v1/orders/POS-9001/cancel", json={"reason": "x", "refund": True}, headers=WRITE)
    assert "refund" in [error["field"] for error in assert_problem(unknown_field, 422)["errors"]]

    first = client.post("/api/v1/orders/POS-9001/cancel", json={"reason": "customer changed their mind"},
                        headers=WRITE)
    assert first.status_code == 202 and first.json() == {"ref": "POS-9001", "outcome": "cancelling"}
    assert (task_names.COMPENSATE_CANCEL, ["POS-9001"]) in dispatcher.sent
    again = client.post("/api/v1/orders/POS-9001/cancel", headers=WRITE)  # no body: the reason is optional
    assert again.status_code == 202 and again.json()["outcome"] == "already"
    state = client.get("/api/v1/orders/POS-9001", headers=READ).json()
    [requested] = [entry for entry in state["timeline"] if entry["step"] == "cancel.requested"]
    assert (requested["system"], requested["detail"]["actor"]) == ("api", "pos")  # the key's name, for the audit
    assert requested["detail"]["reason"] == "customer changed their mind"

    assert post_order(client, order_body("9002")).status_code == 202
    with engine.begin() as conn:
        conn.execute(update(orders).where(orders.c.ref == "POS-9002").values(status="shipped"))
    too_late = assert_problem(client.post("/api/v1/orders/POS-9002/cancel", headers=WRITE), 409)
    assert too_late["ref"] == "POS-9002"


# --- infrastructure -------------------------------------------------------------------------------------------

def test_a_database_that_is_away_is_a_503(api_services, tmp_path):
    away = create_db_engine(f"sqlite:///{tmp_path / 'missing-dir' / 'db.sqlite'}")
    broken = dataclasses.replace(api_services, engine=away)
    with Served(create_app(broken)) as client:
        response = client.get("/api/v1/orders/POS-9001", headers=READ)
        assert_problem(response, 503)
        assert response.headers["retry-after"] == "5"
        assert_problem(post_order(client, order_body()), 503)


def test_an_unexpected_error_is_a_500_problem_that_reveals_nothing(api_services):
    # settings no validation would let through: a programming error, not an outage
    broken = dataclasses.replace(api_services, settings=api_services.settings.model_copy(
        update={"supported_currencies": None}))
    with Served(create_app(broken)) as client:
        problem = assert_problem(post_order(client, order_body()), 500)
    assert problem["detail"] == "an unexpected error occurred; it has been logged"


def test_openapi_documents_the_api_and_its_bearer_scheme(client):
    spec = client.get("/openapi.json").json()
    submit = spec["paths"]["/api/v1/orders"]["post"]
    schema = submit["requestBody"]["content"]["application/json"]["schema"]
    assert {"channel", "number", "lines", "total", "paid"} <= set(schema["required"])
    assert "quantity" in schema["properties"]["lines"]["items"]["properties"]
    assert "$ref" not in json.dumps(schema)
    assert any(scheme["scheme"] == "bearer" for scheme in spec["components"]["securitySchemes"].values())
    assert "/api/v1/orders/{ref}/cancel" in spec["paths"]
    assert client.get("/docs").status_code == 200


def test_a_key_in_the_query_string_never_reaches_the_access_log(client, caplog):
    caplog.set_level(logging.INFO, logger="uvicorn.access")
    # when a client puts its key in the URL
    response = client.get("/api/v1/orders/POS-1?api_key=view-key-0123456789&x=1")
    assert response.status_code == 400
    # then the access line shows the request, and nothing logged anywhere holds the key
    wait_until(lambda: any(r.name == "uvicorn.access" for r in caplog.records), 5, message="the access log line")
    [access] = [r.getMessage() for r in caplog.records if r.name == "uvicorn.access"]
    assert "/api/v1/orders/POS-1?api_key=%5Bredacted%5D&x=1" in access and "400" in access
    assert not [r for r in caplog.records if "view-key-0123456789" in r.getMessage()]
