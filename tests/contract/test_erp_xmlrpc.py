"""The ERP sandbox over XML-RPC, driven by the stdlib `xmlrpc.client.ServerProxy` as Odoo's documentation does:
`/xmlrpc/2/common` and `/xmlrpc/2/object` with integer fault codes, the legacy `/xmlrpc/<service>` with string ones."""
from __future__ import annotations

import datetime as dt
import xmlrpc.client

import pytest
import requests

from retail_sync.sandbox.erp.app import ErpSandbox
from tests.support.odoo_rpc import seeded

DB, UID, PASSWORD = "retail", 2, "admin"


@pytest.fixture
def erp(serve, sandbox_options) -> str:
    url = serve(ErpSandbox, sandbox_options)
    seeded(url)
    return url


@pytest.fixture
def common(erp) -> xmlrpc.client.ServerProxy:
    return xmlrpc.client.ServerProxy(f"{erp}/xmlrpc/2/common")


@pytest.fixture
def models(erp) -> xmlrpc.client.ServerProxy:
    return xmlrpc.client.ServerProxy(f"{erp}/xmlrpc/2/object")


def fault(call) -> xmlrpc.client.Fault:
    with pytest.raises(xmlrpc.client.Fault) as caught:
        call()
    return caught.value


def test_common_service(common):
    assert common.version()["server_version"] == "17.0"
    assert common.login(DB, "admin", PASSWORD) == UID
    assert common.authenticate(DB, "admin", PASSWORD, {}) == UID
    assert common.authenticate(DB, "admin", "wrong", {}) is False


def test_orm_calls_round_trip(models):
    partner = models.execute_kw(DB, UID, PASSWORD, "res.partner", "create", [{"name": "Zoë", "email": "z@example.com"}])
    assert models.execute_kw(DB, UID, PASSWORD, "res.partner", "write", [[partner], {"city": "Köln"}]) is True
    mug = models.execute_kw(DB, UID, PASSWORD, "product.product", "search", [[("default_code", "=", "MUG-01")]])
    sale = models.execute_kw(DB, UID, PASSWORD, "sale.order", "create", [{
        "partner_id": partner, "client_order_ref": "WC-77",
        "order_line": [(0, 0, {"product_id": mug[0], "product_uom_qty": 2, "discount": 50.0})]}])
    assert models.execute_kw(DB, UID, PASSWORD, "sale.order", "action_confirm", [[sale]]) is True
    [row] = models.execute_kw(DB, UID, PASSWORD, "sale.order", "search_read", [[("client_order_ref", "=", "WC-77")]],
                              {"fields": ["partner_id", "state", "amount_total", "order_line"]})
    assert row["partner_id"] == [partner, "Zoë"] and row["state"] == "sale"
    assert row["amount_total"] == 14.88  # 12.50 x 2 x 0.5 = 12.50, + 19 % = 2.375 -> 2.38
    [partner_row] = models.execute_kw(DB, UID, PASSWORD, "res.partner", "read", [[partner]], {"fields": ["city"]})
    assert partner_row == {"id": partner, "city": "Köln"}


def test_the_old_execute_call_and_datetime_arguments(models):
    ids = models.execute(DB, UID, PASSWORD, "product.product", "search", [("list_price", ">", 20)])
    assert len(ids) == 2
    since = dt.datetime(2000, 1, 1)
    assert len(models.execute_kw(DB, UID, PASSWORD, "product.product", "search", [[("write_date", ">", since)]])) == 4


def test_faults_carry_odoo_codes(models):
    denied = fault(lambda: models.execute_kw(DB, UID, "wrong", "res.partner", "search", [[]]))
    assert (denied.faultCode, denied.faultString) == (3, "Access Denied")
    missing_model = fault(lambda: models.execute_kw(DB, UID, PASSWORD, "sale.nope", "search", [[]]))
    assert (missing_model.faultCode, missing_model.faultString) == (2, "Object sale.nope doesn't exist")
    private = fault(lambda: models.execute_kw(DB, UID, PASSWORD, "sale.order", "_confirm", [[1]]))
    assert (private.faultCode, private.faultString) == (4, "Private methods (such as _confirm) cannot be called "
                                                           "remotely.")
    gone = fault(lambda: models.execute_kw(DB, UID, PASSWORD, "sale.order", "action_confirm", [[4242]]))
    assert (gone.faultCode, gone.faultString) == (2, "Record does not exist or has been deleted.\n"
                                                     "(Record: sale.order(4242,), User: 2)")
    invalid = fault(lambda: models.execute_kw(DB, UID, PASSWORD, "res.partner", "create", [{"email": "x@example.com"}]))
    assert (invalid.faultCode, invalid.faultString) == (2, "Contacts require a name")
    crash = fault(lambda: models.execute_kw(DB, UID, PASSWORD, "sale.order", "frobnicate", [[1]]))
    assert crash.faultCode == 1 and crash.faultString.startswith("Traceback (most recent call last):")
    assert crash.faultString.rstrip().endswith("AttributeError: type object 'sale.order' has no attribute 'frobnicate'")


def test_a_method_answering_none_cannot_be_marshalled(models):
    """As with a real Odoo: XML-RPC without allow_none cannot carry a None result."""
    [quant] = models.execute_kw(DB, UID, PASSWORD, "stock.quant", "search", [[]], {"limit": 1})
    failure = fault(lambda: models.execute_kw(DB, UID, PASSWORD, "stock.quant", "action_apply_inventory", [[quant]]))
    assert failure.faultCode == 1 and "cannot marshal None" in failure.faultString


def test_legacy_endpoint_answers_string_fault_codes(erp):
    legacy = xmlrpc.client.ServerProxy(f"{erp}/xmlrpc/object")
    denied = fault(lambda: legacy.execute_kw(DB, UID, "wrong", "res.partner", "search", [[]]))
    assert (denied.faultCode, denied.faultString) == ("AccessDenied", "Access Denied")
    gone = fault(lambda: legacy.execute_kw(DB, UID, PASSWORD, "res.partner", "write", [[4242], {"name": "x"}]))
    assert gone.faultCode.startswith("warning -- MissingError\n\nOne of the documents you are trying to access")
    assert xmlrpc.client.ServerProxy(f"{erp}/xmlrpc/common").version()["server_serie"] == "17.0"


def test_the_fault_gate_sees_model_and_method_of_xmlrpc_calls(erp, models):
    requests.post(f"{erp}/_sandbox/faults", json={"error_rate": 1.0, "error_status": 503,
                                                   "match": {"model": "sale.order"}}, timeout=5)
    with pytest.raises(xmlrpc.client.ProtocolError) as caught:
        models.execute_kw(DB, UID, PASSWORD, "sale.order", "search", [[]])
    assert caught.value.errcode == 503
    assert models.execute_kw(DB, UID, PASSWORD, "res.partner", "search_count", [[]]) == 0
    details = [c["detail"] for c in requests.get(f"{erp}/_sandbox/ledger", timeout=5).json()["calls"]]
    assert details[-2:] == ["sale.order.search", "res.partner.search_count"]
