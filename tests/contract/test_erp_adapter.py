"""The ERP adapter (`OdooErp` over JSON-RPC) against the real ERP sandbox: sale orders created once and
confirmed, found by reference, cancelled; invoices posted; partners reused by email; faults turned into our
taxonomy. The sandbox is checked through an independent JSON-RPC client (tests/support/odoo_rpc.py) and its
ledger, never through the adapter itself."""
from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any, Iterator

import pytest
import redis
import requests

from config.settings import Settings
from retail_sync.connectors.erp.adapter import OdooErp, build_erp
from retail_sync.connectors.erp.client import OdooClient
from retail_sync.connectors.http import NoGuard
from retail_sync.connectors.ports import InvoiceLine
from retail_sync.connectors.resilience import KEY_PREFIX, RedisGuard, SystemLimits
from retail_sync.errors import PermanentError, RecordGone, TransientError
from tests.conftest import REDIS_TEST_URL
from tests.support.odoo_rpc import erp, rpc  # noqa: F401 - fixtures
from tests.support.scripted_http import Reply, ScriptedServer
from tests.unit.test_erp_mapper import coupon_order


def erp_settings(url: str, **overrides: Any) -> Settings:
    return Settings(_env_file=None, erp_url=url, **overrides)


def faults(url: str, **settings: Any) -> None:
    response = requests.post(f"{url}/_sandbox/faults", json=settings, timeout=5)
    assert response.status_code == 200, response.text


def ledger(url: str) -> dict[str, Any]:
    return requests.get(f"{url}/_sandbox/ledger", timeout=5).json()


def calls_of(url: str, detail: str, after: int = 0) -> list[dict[str, Any]]:
    """The calls the sandbox saw for `model.method` (or `authenticate`), after ledger sequence `after`."""
    return [call for call in ledger(url)["calls"] if call["detail"] == detail and call["seq"] > after]


def last_seq(url: str) -> int:
    calls = ledger(url)["calls"]
    return calls[-1]["seq"] if calls else 0


@pytest.fixture
def adapter(erp, rpc) -> OdooErp:  # noqa: F811 - the fixtures imported above
    return build_erp(erp_settings(erp), NoGuard())


@pytest.fixture
def product_ids(rpc) -> dict[str, int]:  # noqa: F811
    records = rpc.execute("product.product", "search_read", [], fields=["default_code"])
    return {record["default_code"]: record["id"] for record in records}


# --- sale orders -------------------------------------------------------------------------------------------------

def test_a_sale_order_is_created_confirmed_and_totals_the_store_order_to_the_cent(erp, rpc, adapter, product_ids):
    # given an order with a coupon spread over two lines, shipping and two tax rates
    order = coupon_order("WC-1042")

    # when
    document = adapter.create_sale_order(order, product_ids)

    # then the ERP holds one confirmed order whose total is the store's, to the cent
    assert document.state == "sale" and document.name.startswith("S")
    assert Decimal(document.amount_total) == order.total == Decimal("51.28")
    [stored] = rpc.execute("sale.order", "search_read", [("client_order_ref", "=", "WC-1042")],
                           fields=["origin", "partner_id", "order_line", "amount_untaxed", "amount_tax"])
    assert stored["id"] == document.id and stored["origin"] == "WC-1042"
    assert (Decimal(repr(stored["amount_untaxed"])), Decimal(repr(stored["amount_tax"]))) == (
        Decimal("44.89"), Decimal("6.39"))
    lines = rpc.execute("sale.order.line", "read", stored["order_line"], ["name", "price_subtotal", "price_tax"])
    assert [(line["price_subtotal"], line["price_tax"]) for line in lines] == [
        (22.22, 4.22), (17.77, 1.24), (4.9, 0.93)]
    assert lines[2]["name"] == "[SHIPPING] Shipping"
    [partner] = rpc.execute("res.partner", "read", [stored["partner_id"][0]],
                            ["name", "email", "street", "zip", "city", "country_code"])
    assert (partner["name"], partner["email"], partner["street"], partner["zip"], partner["city"],
            partner["country_code"]) == ("Jane Doe", "jane@example.com", "Hauptstr. 1", "10115", "Berlin", "DE")
    assert [c["outcome"] for c in ledger(erp)["creates"]["sale.order:WC-1042"]] == ["created"]


def test_find_sale_order_by_reference_prefers_the_live_order(adapter, product_ids):
    assert adapter.find_sale_order("WC-1042") is None
    first = adapter.create_sale_order(coupon_order("WC-1042"), product_ids)
    assert adapter.find_sale_order("WC-1042") == first
    adapter.cancel_sale_order(first.id)
    second = adapter.create_sale_order(coupon_order("WC-1042"), product_ids)  # re-ordered after a cancel
    assert adapter.find_sale_order("WC-1042") == second
    assert adapter.find_sale_order("WC-9999") is None


def test_confirming_a_found_draft_or_a_confirmed_order_answers_the_confirmed_order(rpc, adapter, product_ids):
    partner = rpc.execute("res.partner", "create", {"name": "Jane", "email": "draft@example.com"})
    draft_id = rpc.execute("sale.order", "create", {"partner_id": partner, "client_order_ref": "WC-7",
                                                    "order_line": [(0, 0, {"product_id": product_ids["MUG-01"]})]})
    assert adapter.find_sale_order("WC-7").state == "draft"
    assert adapter.confirm_sale_order(draft_id).state == "sale"
    again = adapter.confirm_sale_order(draft_id)
    assert (again.id, again.state) == (draft_id, "sale")


def test_a_cancelled_order_cannot_be_confirmed(adapter, product_ids):
    document = adapter.create_sale_order(coupon_order("WC-8"), product_ids)
    adapter.cancel_sale_order(document.id)
    with pytest.raises(PermanentError, match="not in a state requiring confirmation"):
        adapter.confirm_sale_order(document.id)


def test_cancelling_a_confirmed_order_releases_it_and_a_second_cancel_is_a_no_op(erp, rpc, adapter, product_ids):
    document = adapter.create_sale_order(coupon_order("WC-1043"), product_ids)
    mug = lambda: rpc.execute("product.product", "read", [product_ids["MUG-01"]], ["free_qty"])[0]["free_qty"]
    assert mug() == 12.0  # 2 of 14 (both sites) reserved by the confirmation

    cancelled = adapter.cancel_sale_order(document.id)
    assert (cancelled.id, cancelled.state) == (document.id, "cancel")
    assert mug() == 14.0
    assert adapter.cancel_sale_order(document.id) == cancelled
    assert len(calls_of(erp, "sale.order.action_cancel")) == 1


def test_a_sale_order_that_does_not_exist_is_gone(adapter):
    with pytest.raises(RecordGone):
        adapter.confirm_sale_order(4242)
    with pytest.raises(RecordGone):
        adapter.cancel_sale_order(4242)
    with pytest.raises(RecordGone):
        adapter.create_invoice("WC-4242", 4242, [InvoiceLine("MUG-01", 1)])


# --- customers ---------------------------------------------------------------------------------------------------

def test_one_partner_per_email_across_orders_and_processes(erp, rpc, adapter, product_ids):
    adapter.create_sale_order(coupon_order("WC-2001", email="ann@example.com"), product_ids)
    adapter.create_sale_order(coupon_order("WC-2002", email="Ann@Example.com"), product_ids)
    other_process = build_erp(erp_settings(erp), NoGuard())
    other_process.create_sale_order(coupon_order("WC-2003", email="ANN@example.com "), product_ids)
    assert len(calls_of(erp, "res.partner.search_read")) == 2  # once per process, then kept

    partners = rpc.execute("res.partner", "search_read", [("email", "=ilike", "ann@example.com")], fields=["id"])
    assert len(partners) == 1
    orders = rpc.execute("sale.order", "search_read", [("client_order_ref", "like", "WC-200")],
                         fields=["partner_id"])
    assert {order["partner_id"][0] for order in orders} == {partners[0]["id"]} and len(orders) == 3
    assert len(ledger(erp)["creates"]["res.partner:ann@example.com"]) == 1


def test_a_guest_with_a_wildcard_in_the_email_gets_their_own_partner(rpc, adapter, product_ids):
    rpc.execute("res.partner", "create", {"name": "Someone else", "email": "aXb@example.com"})
    adapter.create_sale_order(coupon_order("WC-3001", email="a_b@example.com"), product_ids)
    [order] = rpc.execute("sale.order", "search_read", [("client_order_ref", "=", "WC-3001")],
                          fields=["partner_id"])
    [partner] = rpc.execute("res.partner", "read", [order["partner_id"][0]], ["email"])
    assert partner["email"] == "a_b@example.com"


def test_shipping_and_fee_products_are_created_once(erp, rpc, adapter, product_ids):
    adapter.create_sale_order(coupon_order("WC-4001"), product_ids)
    build_erp(erp_settings(erp), NoGuard()).create_sale_order(coupon_order("WC-4002"), product_ids)
    services = rpc.execute("product.product", "search_read", [("type", "=", "service")],
                           fields=["default_code", "sale_ok"])
    assert sorted(s["default_code"] for s in services) == ["FEE", "SHIPPING"]
    assert len(calls_of(erp, "product.product.create")) == 1


def test_existing_service_products_are_used_even_archived(rpc, adapter, product_ids):
    shipping = rpc.execute("product.product", "create", {"name": "Versand", "default_code": "SHIPPING",
                                                         "type": "service", "active": False})
    document = adapter.create_sale_order(coupon_order("WC-4003"), product_ids)
    [order] = rpc.execute("sale.order", "read", [document.id], ["order_line"])
    lines = rpc.execute("sale.order.line", "read", order["order_line"], ["product_id"])
    assert lines[-1]["product_id"][0] == shipping
    assert rpc.execute("product.product", "search_count", [("default_code", "=", "SHIPPING")],
                       context={"active_test": False}) == 1


# --- invoices ----------------------------------------------------------------------------------------------------

def test_the_invoice_is_posted_with_the_shipped_lines_at_the_sale_order_prices(rpc, adapter, product_ids):
    order = coupon_order("WC-5001")
    sale_order = adapter.create_sale_order(order, product_ids)
    assert adapter.find_invoice("WC-5001") is None

    invoice = adapter.create_invoice("WC-5001", sale_order.id, [InvoiceLine("MUG-01", 2), InvoiceLine("BOOK-01", 1)])

    assert invoice.state == "posted" and invoice.name.startswith("INV/")
    assert Decimal(invoice.amount_total) == order.total
    assert adapter.find_invoice("WC-5001") == invoice
    [move] = rpc.execute("account.move", "read", [invoice.id], ["move_type", "invoice_origin", "partner_id",
                                                                "invoice_line_ids"])
    [stored_order] = rpc.execute("sale.order", "read", [sale_order.id], ["partner_id"])
    assert (move["move_type"], move["invoice_origin"]) == ("out_invoice", "WC-5001")
    assert move["partner_id"] == stored_order["partner_id"]
    assert len(move["invoice_line_ids"]) == 3


def test_a_partial_invoice_bills_only_the_shipped_quantity_plus_shipping(rpc, adapter, product_ids):
    sale_order = adapter.create_sale_order(coupon_order("WC-5002"), product_ids)
    invoice = adapter.create_invoice("WC-5002/SHP-1", sale_order.id, [InvoiceLine("MUG-01", 1)])
    # 12.50 less 11.12 % = 11.11, +19 % = 13.22; shipping 4.90 + 0.93
    assert Decimal(invoice.amount_total) == Decimal("19.05")
    lines = rpc.execute("account.move.line", "search_read", [("move_id", "=", invoice.id)],
                        fields=["quantity", "price_subtotal"])
    assert [(line["quantity"], line["price_subtotal"]) for line in lines] == [(1.0, 11.11), (1.0, 4.9)]


def test_find_invoice_ignores_other_origins_and_credit_notes(rpc, adapter, product_ids):
    sale_order = adapter.create_sale_order(coupon_order("WC-5003"), product_ids)
    partner = rpc.execute("sale.order", "read", [sale_order.id], ["partner_id"])[0]["partner_id"][0]
    rpc.execute("account.move", "create", {"move_type": "out_refund", "partner_id": partner,
                                           "invoice_origin": "WC-5003",
                                           "invoice_line_ids": [(0, 0, {"product_id": product_ids["MUG-01"]})]})
    assert adapter.find_invoice("WC-5003") is None
    invoice = adapter.create_invoice("WC-5003", sale_order.id, [InvoiceLine("BOOK-01", 1)])
    assert adapter.find_invoice("WC-5003") == invoice
    assert adapter.find_invoice("WC-50") is None


def test_a_dropped_invoice_create_is_finished_by_the_retry_never_duplicated(erp, rpc, adapter, product_ids):
    sale_order = adapter.create_sale_order(coupon_order("WC-5004"), product_ids)
    faults(erp, commit_then_drop_rate=1.0, match={"model": "account.move", "method": "create"})
    with pytest.raises(TransientError):
        adapter.create_invoice("WC-5004", sale_order.id, [InvoiceLine("MUG-01", 1)])
    faults(erp)
    assert adapter.find_invoice("WC-5004") is None  # a draft is not an invoice yet

    # the retry, with more shipped by now, posts that draft with the current lines
    invoice = adapter.create_invoice("WC-5004", sale_order.id, [InvoiceLine("MUG-01", 2), InvoiceLine("BOOK-01", 1)])

    assert invoice.state == "posted" and Decimal(invoice.amount_total) == Decimal("51.28")
    assert adapter.find_invoice("WC-5004") == invoice
    assert [c["outcome"] for c in ledger(erp)["creates"]["account.move:WC-5004"]] == ["created"]
    assert rpc.execute("account.move.line", "search_count", [("move_id", "=", invoice.id)]) == 3


def test_a_dropped_post_answer_leaves_the_invoice_found(erp, adapter, product_ids):
    sale_order = adapter.create_sale_order(coupon_order("WC-5005"), product_ids)
    faults(erp, commit_then_drop_rate=1.0, match={"model": "account.move", "method": "action_post"})
    with pytest.raises(TransientError):
        adapter.create_invoice("WC-5005", sale_order.id, [InvoiceLine("MUG-01", 2)])
    faults(erp)
    found = adapter.find_invoice("WC-5005")
    assert found is not None and found.state == "posted" and found.name.startswith("INV/")


# --- products ----------------------------------------------------------------------------------------------------

def test_find_products_in_chunks_with_archived_and_unsellable_ones(erp, rpc, adapter, product_ids):
    rpc.execute("product.product", "write", [product_ids["TEE-M"]], {"active": False})
    rpc.execute("product.product", "write", [product_ids["BOOK-01"]], {"sale_ok": False})
    wanted = ["MUG-01", "BOOK-01", "TEE-M", "TEE-S"] + [f"NOPE-{n}" for n in range(1100)]
    before = last_seq(erp)

    found = adapter.find_products(wanted)

    assert {sku: (p.id, p.sellable) for sku, p in found.items()} == {
        "MUG-01": (product_ids["MUG-01"], True), "BOOK-01": (product_ids["BOOK-01"], False),
        "TEE-M": (product_ids["TEE-M"], False), "TEE-S": (product_ids["TEE-S"], True)}
    assert (found["MUG-01"].name, found["MUG-01"].list_price) == ("Mug", "12.5")
    assert len(calls_of(erp, "product.product.search_read", after=before)) == 3  # 1104 SKUs in chunks of 500


def test_iter_products_walks_every_product_by_id_pages(erp, rpc, adapter, product_ids):
    rpc.execute("product.product", "write", [product_ids["TEE-M"]], {"active": False})
    rpc.execute("product.product", "create", {"name": "No SKU"})
    before = last_seq(erp)

    products = list(adapter.iter_products(page_size=2))

    assert sorted(p.sku for p in products) == sorted(product_ids)
    assert {p.sku for p in products if not p.sellable} == {"TEE-M"}
    assert len(calls_of(erp, "product.product.search_read", after=before)) == 3  # 2 + 2 + an empty last page


# --- faults and the taxonomy -------------------------------------------------------------------------------------

def test_commit_then_drop_on_create_is_transient_and_the_lookup_then_finds_the_order(erp, adapter, product_ids):
    # given the ERP applies the create and then drops the connection before answering
    faults(erp, commit_then_drop_rate=1.0, match={"model": "sale.order", "method": "create"})

    # when
    with pytest.raises(TransientError):
        adapter.create_sale_order(coupon_order("WC-6001"), product_ids)

    # then the flow's lookup-before-create finds the order that was made, and confirms it: still one order
    faults(erp)
    found = adapter.find_sale_order("WC-6001")
    assert found is not None and found.state == "draft"
    assert adapter.confirm_sale_order(found.id).state == "sale"
    assert [c["outcome"] for c in ledger(erp)["creates"]["sale.order:WC-6001"]] == ["created"]


def test_a_request_quota_429_is_transient_with_retry_after(erp, adapter):
    faults(erp, rate_limit_per_s=0.2, match={"model": "sale.order"})
    raised = []
    for _ in range(3):
        try:
            adapter.find_sale_order("WC-1")
        except TransientError as exc:
            raised.append(exc)
    assert raised and all(exc.retry_after is not None and exc.retry_after >= 1 for exc in raised)
    assert "HTTP 429" in str(raised[0])


def test_proxy_errors_are_transient(erp, adapter):
    faults(erp, error_rate=1.0, error_status=502, match={"model": "sale.order"})
    with pytest.raises(TransientError, match="HTTP 502"):
        adapter.find_sale_order("WC-1")


def test_a_refused_login_is_permanent_and_names_the_problem(erp, rpc):  # noqa: F811
    wrong = build_erp(erp_settings(erp, erp_password="not-the-password"), NoGuard())
    with pytest.raises(PermanentError, match="login 'admin' refused"):
        wrong.find_sale_order("WC-1")


def test_a_database_that_is_not_there_is_transient(erp, rpc):  # noqa: F811
    missing = build_erp(erp_settings(erp, erp_db="nope"), NoGuard())
    with pytest.raises(TransientError, match='psycopg2.OperationalError: .*database "nope" does not exist'):
        missing.find_products(["MUG-01"])


def test_odoo_refusals_are_permanent_and_a_method_returning_none_answers_none(erp, rpc, product_ids):  # noqa: F811
    client = OdooClient(erp, "retail", "admin", "admin", timeout=(3.0, 10.0), guard=NoGuard())
    with pytest.raises(PermanentError, match="ValidationError: Contacts require a name"):
        client.execute_kw("res.partner", "create", [{"email": "nameless@example.com"}])
    quant = client.execute_kw("stock.quant", "search", [[("product_id", "=", product_ids["MUG-01"])]],
                              {"limit": 1})
    client.execute_kw("stock.quant", "write", [quant, {"inventory_quantity": 42}])
    assert client.execute_kw("stock.quant", "action_apply_inventory", [quant]) is None  # no `result` member
    assert rpc.execute("stock.quant", "read", quant, ["quantity"])[0]["quantity"] == 42.0


# --- the shared guard in front of the adapter ----------------------------------------------------------------

@pytest.fixture
def redis_guard() -> Iterator[RedisGuard]:
    """The production guard on the test Redis database, under a key prefix of this test's own."""
    client = redis.Redis.from_url(REDIS_TEST_URL)
    prefix = f"{KEY_PREFIX}:test-{uuid.uuid4().hex}"
    yield RedisGuard(client, {"erp": SystemLimits(rate_per_s=1000, call_timeout_s=5)}, fail_max=5, reset_s=30,
                     prefix=prefix)
    for key in client.scan_iter(match=f"{prefix}:*"):
        client.delete(key)
    client.close()


def test_after_a_429_no_call_reaches_the_erp_before_retry_after(erp, rpc, redis_guard):  # noqa: F811
    adapter = build_erp(erp_settings(erp), redis_guard)
    faults(erp, rate_limit_per_s=0.2, match={"model": "sale.order"})
    with pytest.raises(TransientError, match="HTTP 429") as limited:
        for _ in range(5):
            adapter.find_sale_order("WC-1")
    seen = last_seq(erp)

    with pytest.raises(TransientError, match="paused by the remote's Retry-After") as paused:
        adapter.find_sale_order("WC-1")

    assert 0 < paused.value.retry_after <= limited.value.retry_after
    assert last_seq(erp) == seen  # the guard refused it: the ERP never saw the call


# --- what is not Odoo speaking (a scripted HTTP server in front of the client) -----------------------------------

ACCESS_DENIED = {"code": 200, "message": "Odoo Server Error",
                 "data": {"name": "odoo.exceptions.AccessDenied", "message": "Access Denied", "debug": "",
                          "arguments": ["Access Denied"], "context": {}}}


def rpc_reply(**member: Any) -> Reply:
    return Reply.json(200, {"jsonrpc": "2.0", "id": 1, **member})


@pytest.fixture
def scripted() -> Iterator[ScriptedServer]:
    with ScriptedServer() as server:
        yield server


def scripted_client(server: ScriptedServer) -> OdooClient:
    return OdooClient(server.url, "retail", "admin", "admin", timeout=(3.0, 5.0), guard=NoGuard())


def test_a_2xx_html_page_is_transient(scripted):
    scripted.queue(Reply(200, b"<html><h1>Down for maintenance</h1></html>", {"Content-Type": "text/html"}))
    with pytest.raises(TransientError, match="without JSON \\(text/html\\): <html><h1>Down for maintenance"):
        scripted_client(scripted).authenticate()


def test_a_2xx_json_answer_that_is_not_json_rpc_is_transient(scripted):
    scripted.queue(Reply.json(200, {"status": "maintenance"}))
    with pytest.raises(TransientError, match='not JSON-RPC: {"status": "maintenance"}'):
        scripted_client(scripted).authenticate()


def test_access_denied_on_an_object_call_authenticates_again_once(scripted):
    client = scripted_client(scripted)
    scripted.queue(rpc_reply(result=2), rpc_reply(error=ACCESS_DENIED), rpc_reply(result=2), rpc_reply(result=[7]))
    assert client.execute_kw("res.partner", "search", [[]]) == [7]

    scripted.queue(rpc_reply(error=ACCESS_DENIED), rpc_reply(result=2), rpc_reply(error=ACCESS_DENIED))
    with pytest.raises(PermanentError, match="AccessDenied"):  # denied again after a fresh login: for good
        client.execute_kw("res.partner", "search", [[]])
    assert scripted.requests == [("POST", "/jsonrpc")] * 7
