"""The WooCommerce sandbox's customers through the real `woocommerce` client over OAuth."""
from __future__ import annotations

from typing import Callable, Iterator

import pytest
import requests
import woocommerce

from retail_sync.sandbox import runner
from retail_sync.sandbox.woocommerce.app import WooSandbox
from tests.contract.woo_shop import hooks_since

EMAIL_EXISTS = ('An account is already registered with your email address. '
                '<a href="#" class="showlogin">Please log in.</a>')


@pytest.fixture
def store(sandbox_options) -> Iterator[str]:
    """A running store; its base URL."""
    sandbox = WooSandbox(sandbox_options)
    running = runner.start(sandbox_options, [(sandbox, sandbox_options.woo_port, False)])
    try:
        yield running[0].url
    finally:
        runner.stop(running)


@pytest.fixture
def fired(store) -> Callable[[], list[tuple[str, int]]]:
    """fired() → the (topic, resource id) hooks the store fired so far, in order (from `GET /_sandbox/hooks`)."""
    return lambda: hooks_since(store)[0]


@pytest.fixture
def client(store) -> woocommerce.API:
    return woocommerce.API(url=store, consumer_key="ck_dev", consumer_secret="cs_dev", timeout=10)


def error(response: requests.Response) -> tuple[int, str, str]:
    body = response.json()
    return response.status_code, body["code"], body["message"]


def test_create_read_update_and_their_shape(client, store, fired):
    created = client.post("customers", {"email": "Ada@Example.com", "first_name": "Ada", "last_name": "Lovelace",
                                        "billing": {"city": "London", "email": "ada@example.com", "unknown": "x"}})
    assert created.status_code == 201, created.text
    customer = created.json()
    assert created.headers["Location"].endswith(f"/wp-json/wc/v3/customers/{customer['id']}")
    assert (customer["username"], customer["role"], customer["is_paying_customer"]) == ("ada", "customer", False)
    assert customer["billing"]["city"] == "London" and "unknown" not in customer["billing"]
    assert list(customer["shipping"]) == ["first_name", "last_name", "company", "address_1", "address_2", "city",
                                          "postcode", "country", "state", "phone"]
    updated = client.put(f"customers/{customer['id']}", {"shipping": {"city": "Paris"}, "last_name": "King"})
    assert updated.status_code == 200, updated.text
    fetched = client.get(f"customers/{customer['id']}").json()
    assert (fetched["last_name"], fetched["shipping"]["city"], fetched["billing"]["city"]) == ("King", "Paris", "London")
    assert requests.get(f"{store}/_sandbox/state", timeout=5).json()["customers"] == 1
    assert fired() == [("customer.created", customer["id"]), ("customer.updated", customer["id"])]
    ledger = requests.get(f"{store}/_sandbox/ledger", timeout=5).json()["creates"]
    assert [c["outcome"] for c in ledger["customer:ada@example.com"]] == ["created"]


def test_hook_log_lists_hooks_nobody_listens_to_and_reset_clears_it(client, store):
    assert requests.get(f"{store}/_sandbox/state", timeout=5).json()["webhooks"] == 0
    customer = client.post("customers", {"email": "dora@example.com"}).json()
    log = requests.get(f"{store}/_sandbox/hooks", timeout=5).json()
    assert [(hook["topic"], hook["resource_id"]) for hook in log["hooks"]] == [("customer.created", customer["id"])]
    assert log["next_since"] == log["hooks"][-1]["seq"] and log["hooks"][0]["at"] > 0
    later = requests.get(f"{store}/_sandbox/hooks", params={"since": log["next_since"]}, timeout=5).json()
    assert later == {"hooks": [], "next_since": log["next_since"]}
    assert requests.post(f"{store}/_sandbox/reset", timeout=5).status_code == 200
    assert requests.get(f"{store}/_sandbox/hooks", timeout=5).json() == {"hooks": [], "next_since": 0}


def test_email_conflicts_and_unknown_ids(client):
    first = client.post("customers", {"email": "bob@example.com"}).json()
    second = client.post("customers", {"email": "carol@example.com"}).json()
    assert error(client.post("customers", {"email": "BOB@example.com"})) == (
        400, "registration-error-email-exists", EMAIL_EXISTS)
    assert error(client.put(f"customers/{second['id']}", {"email": "bob@example.com"})) == (
        400, "woocommerce_rest_customer_invalid_email", "Email address is invalid.")
    assert client.put(f"customers/{first['id']}", {"email": "bob@example.com"}).status_code == 200  # own email
    assert error(client.get("customers/999999")) == (404, "woocommerce_rest_invalid_id", "Invalid resource ID.")
    assert error(client.put("customers/999999", {"first_name": "x"})) == (
        400, "woocommerce_rest_invalid_id", "Invalid resource ID.")
    assert error(client.post("customers", {"email": "not-an-email"}))[:2] == (400, "rest_invalid_param")
    assert error(client.post("customers", {"first_name": "No email"})) == (
        400, "rest_missing_callback_param", "Missing parameter(s): email")


def test_list_filters_and_paging(client):
    for name in ("zoe", "adam", "mia"):
        assert client.post("customers", {"email": f"{name}@example.com", "first_name": name.title()}).ok
    page = client.get("customers", params={"per_page": 2})
    assert [c["first_name"] for c in page.json()] == ["Adam", "Mia"]  # by name, ascending
    assert (page.headers["X-WP-Total"], page.headers["X-WP-TotalPages"]) == ("3", "2")
    assert [c["email"] for c in client.get("customers", params={"email": "MIA@example.com"}).json()] == [
        "mia@example.com"]
    assert [c["email"] for c in client.get("customers", params={"search": "zo"}).json()] == ["zoe@example.com"]
    assert error(client.get("customers", params={"per_page": 101}))[:2] == (400, "rest_invalid_param")


# ---- delete and batch ----------------------------------------------------------------------------------------
def test_delete_needs_force_answers_the_customer_and_fires_customer_deleted(client, store, fired):
    customer = client.post("customers", {"email": "gone@example.com", "first_name": "Gone"}).json()
    order = client.post("orders", {"customer_id": customer["id"]})
    assert order.status_code == 201, order.text
    assert error(client.delete(f"customers/{customer['id']}")) == (
        501, "woocommerce_rest_trash_not_supported", "Customers do not support trashing.")
    assert error(client.delete("customers/999999")) == (  # 501 comes first, before the id is looked up
        501, "woocommerce_rest_trash_not_supported", "Customers do not support trashing.")
    assert error(client.delete("customers/999999", params={"force": True})) == (
        400, "woocommerce_rest_invalid_id", "Invalid resource id.")
    assert error(client.delete(f"customers/{customer['id']}", params={"force": True, "reassign": customer["id"]})) == (
        400, "woocommerce_rest_customer_invalid_reassign", "Invalid resource id for reassignment.")
    assert client.get(f"customers/{customer['id']}").status_code == 200  # refusals changed nothing
    deleted = client.delete(f"customers/{customer['id']}", params={"force": True})
    assert deleted.status_code == 200, deleted.text
    assert (deleted.json()["id"], deleted.json()["first_name"]) == (customer["id"], "Gone")
    assert error(client.get(f"customers/{customer['id']}")) == (404, "woocommerce_rest_invalid_id",
                                                                 "Invalid resource ID.")
    assert client.get(f"orders/{order.json()['id']}").json()["customer_id"] == 0  # now a guest order
    assert [hook for hook in fired() if hook[0].startswith("customer.")] == [
        ("customer.created", customer["id"]), ("customer.deleted", customer["id"])]
    assert requests.get(f"{store}/_sandbox/state", timeout=5).json()["customers"] == 0


def test_batch_creates_updates_deletes_with_per_item_errors(client, store, fired):
    kept = client.post("customers", {"email": "kept@example.com"}).json()
    doomed = client.post("customers", {"email": "doomed@example.com"}).json()
    response = client.post("customers/batch", {
        "create": [{"email": "new@example.com", "first_name": "New"}, {"email": "KEPT@example.com"},
                   {"first_name": "No email"}],
        "update": [{"id": kept["id"], "last_name": "Kept"}, {"id": 999999, "last_name": "x"}],
        "delete": [doomed["id"], 999999],
    })
    assert response.status_code == 200, response.text
    body = response.json()
    created, duplicate, no_email = body["create"]
    assert (created["email"], created["first_name"]) == ("new@example.com", "New")
    assert duplicate == {"id": 0, "error": {"code": "registration-error-email-exists", "message": EMAIL_EXISTS,
                                            "data": {"status": 400}}}
    assert (no_email["id"], no_email["error"]["code"], no_email["error"]["message"]) == (
        0, "registration-error-invalid-email", "Please provide a valid email address.")
    assert body["update"][0]["last_name"] == "Kept"
    assert body["update"][1] == {"id": 999999, "error": {"code": "woocommerce_rest_invalid_id",
                                                         "message": "Invalid resource ID.", "data": {"status": 400}}}
    assert body["delete"][0]["id"] == doomed["id"]
    assert body["delete"][1] == {"id": 999999, "error": {"code": "woocommerce_rest_invalid_id",
                                                         "message": "Invalid resource id.", "data": {"status": 400}}}
    assert sorted(c["email"] for c in client.get("customers").json()) == ["kept@example.com", "new@example.com"]
    assert fired()[2:] == [("customer.created", created["id"]), ("customer.updated", kept["id"]),
                           ("customer.deleted", doomed["id"])]
    ledger = requests.get(f"{store}/_sandbox/ledger", timeout=5).json()["creates"]
    assert [c["outcome"] for c in ledger["customer:kept@example.com"]] == ["created", "rejected"]


def test_batch_takes_at_most_100_items_and_put_works_too(client):
    too_many = client.post("customers/batch", {"create": [{"email": f"c{i}@example.com"} for i in range(60)],
                                               "delete": list(range(1, 42))})
    assert error(too_many) == (413, "woocommerce_rest_request_entity_too_large",
                               "Unable to accept more than 100 items for this request.")
    assert client.get("customers").json() == []
    put = client.put("customers/batch", {"create": [{"email": "put@example.com"}]})
    assert put.status_code == 200 and put.json()["create"][0]["email"] == "put@example.com"
