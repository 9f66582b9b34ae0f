"""Failures of the ERP sandbox: every Odoo error in its exact JSON-RPC shape, and the fault knobs a cloud ERP
brings (request quota with `Retry-After`, proxy errors, commit-then-drop, downtime) narrowed with `match`."""
from __future__ import annotations

from typing import Any

import pytest
import requests

from tests.support.odoo_rpc import OdooJsonRpc, OdooRpcError, erp, rpc  # noqa: F401 - fixtures


def faults(url: str, **settings: Any) -> None:
    response = requests.post(f"{url}/_sandbox/faults", json=settings, timeout=5)
    assert response.status_code == 200, response.text


def error_of(rpc: OdooJsonRpc, *call: Any, **kwargs: Any) -> dict:
    with pytest.raises(OdooRpcError) as caught:
        rpc.execute(*call, **kwargs)
    return caught.value.error


def order_values(rpc: OdooJsonRpc, ref: str) -> dict:
    partner = rpc.execute("res.partner", "create", {"name": "Jane", "email": f"{ref}@example.com"})
    mug = rpc.execute("product.product", "search", [("default_code", "=", "MUG-01")])[0]
    return {"partner_id": partner, "client_order_ref": ref, "order_line": [(0, 0, {"product_id": mug})]}


# Odoo's error shapes --------------------------------------------------------------------------------------------
def test_access_denied_has_odoos_exact_shape(erp):
    answer = requests.post(f"{erp}/jsonrpc", timeout=5, json={
        "jsonrpc": "2.0", "method": "call", "id": 5,
        "params": {"service": "object", "method": "execute_kw",
                   "args": ["retail", 2, "wrong", "res.partner", "search", [[]], {}]}})
    assert answer.status_code == 200
    body = answer.json()
    assert set(body) == {"jsonrpc", "id", "error"} and body["id"] == 5
    error = body["error"]
    assert (error["code"], error["message"]) == (200, "Odoo Server Error")
    assert list(error["data"]) == ["name", "debug", "message", "arguments", "context"]
    assert error["data"]["name"] == "odoo.exceptions.AccessDenied"
    assert (error["data"]["message"], error["data"]["arguments"], error["data"]["context"]) == (
        "Access Denied", ["Access Denied"], {})
    assert error["data"]["debug"].startswith("Traceback (most recent call last):")


@pytest.mark.parametrize("uid", [3, "2x"])
def test_a_wrong_uid_is_refused(rpc, uid):
    rpc.uid = uid
    with pytest.raises(OdooRpcError) as caught:
        rpc.execute("res.partner", "search", [])
    assert caught.value.name == ("odoo.exceptions.AccessDenied" if uid == 3 else "builtins.ValueError")


def test_odoo_exceptions(rpc):
    private = error_of(rpc, "sale.order", "_action_confirm", [1])
    assert private["data"]["name"] == "odoo.exceptions.AccessError"
    assert private["data"]["message"] == "Private methods (such as _action_confirm) cannot be called remotely."

    missing = error_of(rpc, "sale.order", "action_confirm", [4242])
    assert missing["data"]["name"] == "odoo.exceptions.MissingError"
    assert missing["data"]["message"] == ("Record does not exist or has been deleted.\n"
                                          "(Record: sale.order(4242,), User: 2)")
    deleted = error_of(rpc, "res.partner", "write", [4242], {"name": "x"})
    assert deleted["data"]["name"] == "odoo.exceptions.MissingError"
    assert deleted["data"]["message"] == (
        "One of the documents you are trying to access has been deleted, please try again after refreshing.\n\n"
        "(Document type: res.partner, Operation: write, Records: [4242], User: 2)")

    unnamed = error_of(rpc, "res.partner", "create", {"email": "x@example.com"})
    assert (unnamed["data"]["name"], unnamed["data"]["message"]) == ("odoo.exceptions.ValidationError",
                                                                     "Contacts require a name")
    no_customer = error_of(rpc, "sale.order", "create", {"client_order_ref": "WC-1"})
    assert no_customer["data"]["name"] == "odoo.exceptions.ValidationError"
    assert no_customer["data"]["message"] == (
        "The operation cannot be completed:\n- Create/update: a mandatory field is not set.\n"
        "- Delete: another model requires the record being deleted. If possible, archive it instead.\n\n"
        "Model: Sales Order (sale.order)\nField: Customer (partner_id)\n")
    no_partner = error_of(rpc, "sale.order", "create", {"partner_id": 4242})
    assert no_partner["data"]["message"] == ("Record does not exist or has been deleted.\n"
                                             "(Record: res.partner(4242,), User: 2)")

    unknown_model = error_of(rpc, "sale.nope", "search", [])
    assert (unknown_model["data"]["name"], unknown_model["data"]["message"]) == ("odoo.exceptions.UserError",
                                                                                 "Object sale.nope doesn't exist")
    unknown_method = error_of(rpc, "sale.order", "frobnicate", [1])
    assert (unknown_method["data"]["name"], unknown_method["data"]["message"]) == (
        "builtins.AttributeError", "type object 'sale.order' has no attribute 'frobnicate'")
    wrong_call = error_of(rpc, "res.partner", "write", [1])
    assert (wrong_call["data"]["name"], wrong_call["data"]["message"]) == (
        "builtins.TypeError", "BaseModel.write() missing 1 required positional argument: 'vals'")
    in_use = error_of(rpc, "product.product", "unlink", rpc.execute("product.product", "search", []))
    assert in_use["data"]["name"] == "odoo.exceptions.ValidationError"
    assert "another model requires the record being deleted" in in_use["data"]["message"]
    assert "Model: Quants (stock.quant)" in in_use["data"]["message"]


def test_a_failed_call_changes_nothing_and_is_rejected_in_the_ledger(erp, rpc):
    values = order_values(rpc, "WC-BAD")
    values["order_line"].append((0, 0, {"name": "no product"}))
    error = error_of(rpc, "sale.order", "create", values)
    assert error["data"]["message"] == ("The operation cannot be completed: Missing required fields on accountable "
                                        "sale order line.")
    assert rpc.execute("sale.order", "search_count", []) == 0
    assert rpc.execute("sale.order.line", "search_count", []) == 0
    creates = requests.get(f"{erp}/_sandbox/ledger", timeout=5).json()["creates"]
    assert [c["outcome"] for c in creates["sale.order:WC-BAD"]] == ["rejected"]


# fault knobs ----------------------------------------------------------------------------------------------------
def test_the_request_quota_answers_429_with_retry_after_only_where_matched(erp, rpc):
    faults(erp, rate_limit_per_s=1, match={"model": "sale.order"})
    answers = [rpc.post("object", "execute_kw", "retail", 2, "admin", "sale.order", "search", [[]], {})
               for _ in range(4)]
    limited = [a for a in answers if a.status_code == 429]
    assert limited, [a.status_code for a in answers]
    assert all(int(a.headers["Retry-After"]) >= 1 for a in limited)
    assert all(a.headers["content-type"].startswith("text/html") and "429 Too Many Requests" in a.text
               for a in limited)
    for _ in range(4):  # other models are not limited
        answer = rpc.post("object", "execute_kw", "retail", 2, "admin", "res.partner", "search", [[]], {})
        assert answer.status_code == 200
    calls = requests.get(f"{erp}/_sandbox/ledger", timeout=5).json()["calls"]
    assert {c["detail"] for c in calls if c["fault"] == "rate_limited"} == {"sale.order.search"}
    assert {c["detail"] for c in calls if c["status"] == 200} >= {"res.partner.search", "sale.order.search"}


def test_injected_proxy_errors_narrowed_to_one_model_and_method(erp, rpc):
    values = order_values(rpc, "WC-503")
    faults(erp, error_rate=1.0, error_status=503, match={"model": "sale.order", "method": "create"})
    failed = rpc.post("object", "execute_kw", "retail", 2, "admin", "sale.order", "create", [values], {})
    assert failed.status_code == 503 and "503 Service Temporarily Unavailable" in failed.text
    assert rpc.execute("sale.order", "search_count", []) == 0  # nothing applied
    assert rpc.execute("res.partner", "search_count", []) == 1  # other calls pass
    faults(erp, error_rate=1.0, error_status=502, match={"method": "authenticate"})
    assert rpc.post("common", "authenticate", "retail", "admin", "admin", {}).status_code == 502
    assert rpc.call("common", "version")["server_version"] == "17.0"


def test_commit_then_drop_on_create_leaves_the_order_so_a_blind_retry_duplicates_it(erp, rpc):
    values = order_values(rpc, "WC-1042")
    faults(erp, commit_then_drop_rate=1.0, match={"model": "sale.order", "method": "create"})
    with pytest.raises(requests.ConnectionError):
        rpc.execute("sale.order", "create", values)
    faults(erp)
    assert rpc.execute("sale.order", "search_count", [("client_order_ref", "=", "WC-1042")]) == 1
    rpc.execute("sale.order", "create", values)  # the retry an engine must not make without searching first
    assert rpc.execute("sale.order", "search_count", [("client_order_ref", "=", "WC-1042")]) == 2
    ledger = requests.get(f"{erp}/_sandbox/ledger", timeout=5).json()
    assert [c["outcome"] for c in ledger["creates"]["sale.order:WC-1042"]] == ["created", "created"]
    assert [c["fault"] for c in ledger["calls"] if c["detail"] == "sale.order.create"] == ["commit_then_drop", None]


def test_down_resets_calls_but_not_control_routes(erp, rpc):
    faults(erp, down=True)
    with pytest.raises(requests.ConnectionError):
        rpc.call("common", "version")
    assert requests.get(f"{erp}/_sandbox/state", timeout=5).json()["product.product"] == 4
    faults(erp)
    assert rpc.call("common", "version")["protocol_version"] == 1


def test_reset_forgets_records_but_keeps_the_taxes(erp, rpc):
    rpc.execute("sale.order", "create", order_values(rpc, "WC-R"))
    state = requests.post(f"{erp}/_sandbox/reset", timeout=5).json()["state"]
    assert state["sale.order"] == 0 and state["product.product"] == 0 and state["account.tax"] == 2
    assert rpc.execute("res.country", "search_count", [("code", "=", "DE")]) == 1
    partner = rpc.execute("res.partner", "create", {"name": "After reset"})
    assert partner == 1  # ids start again, as on a fresh database
