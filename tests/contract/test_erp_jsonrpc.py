"""The ERP sandbox over Odoo's JSON-RPC: the envelope, `common` authentication, and the generic ORM calls
(`search`, `search_read`, `search_count`, `read`) with every domain operator, `fields`, `limit`, `offset`, `order`.
Driven by a plain JSON-RPC client (tests/support/odoo_rpc.py)."""
from __future__ import annotations

import re

import pytest
import requests

from tests.support.odoo_rpc import OdooJsonRpc, OdooRpcError, erp, rpc  # noqa: F401 - fixtures

DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$")


@pytest.fixture
def people(rpc) -> dict[str, int]:
    """Partners with and without the fields the domain tests look at."""
    de = rpc.execute("res.country", "search", [("code", "=", "DE")])[0]
    return {
        "jane": rpc.execute("res.partner", "create", {"name": "Jane Doe", "email": "jane@example.com", "city": "Köln",
                                                      "country_id": de, "ref": "C-1"}),
        "john": rpc.execute("res.partner", "create", {"name": "John Roe", "email": "JOHN@Example.org", "city": "Berlin",
                                                      "ref": "C-2"}),
        "acme": rpc.execute("res.partner", "create", {"name": "Acme GmbH", "is_company": True}),
    }


def names(rpc: OdooJsonRpc, domain: list, model: str = "res.partner", **kwargs) -> list[str]:
    field = "default_code" if model == "product.product" else "name"
    return sorted(r[field] for r in rpc.execute(model, "search_read", domain, fields=[field], **kwargs))


# common ---------------------------------------------------------------------------------------------------------
def test_version_is_odoo_17(rpc):
    assert rpc.call("common", "version") == {"server_version": "17.0", "server_serie": "17.0", "protocol_version": 1,
                                             "server_version_info": [17, 0, 0, "final", 0, ""]}


def test_login_and_authenticate_answer_the_uid_or_false(rpc):
    assert rpc.call("common", "login", "retail", "admin", "admin") == 2
    assert rpc.call("common", "authenticate", "retail", "admin", "admin", {}) == 2
    assert rpc.call("common", "login", "retail", "admin", "wrong") is False
    assert rpc.call("common", "authenticate", "retail", "nobody", "admin", {}) is False


def test_a_database_that_does_not_exist_fails_as_postgresql_refuses_it(rpc):
    with pytest.raises(OdooRpcError) as caught:
        rpc.call("common", "login", "nope", "admin", "admin")
    assert caught.value.name == "psycopg2.OperationalError"
    assert 'database "nope" does not exist' in caught.value.message
    rpc.db = "nope"
    with pytest.raises(OdooRpcError) as caught:
        rpc.execute("res.partner", "search", [])
    assert caught.value.name == "psycopg2.OperationalError"


# envelope -------------------------------------------------------------------------------------------------------
def test_the_answer_echoes_the_request_id(erp):
    body = {"jsonrpc": "2.0", "method": "call", "id": "req-7",
            "params": {"service": "common", "method": "version", "args": []}}
    answer = requests.post(f"{erp}/jsonrpc", json=body, timeout=5)
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("application/json")
    assert answer.json()["id"] == "req-7" and answer.json()["jsonrpc"] == "2.0"
    assert answer.json()["result"]["server_version"] == "17.0"


def test_malformed_requests_are_refused_like_odoo(erp):
    url = f"{erp}/jsonrpc"
    assert (requests.post(url, data=b"{nope", headers={"Content-Type": "application/json"}, timeout=5).text
            == "Invalid JSON data")
    assert requests.post(url, json=[1, 2], timeout=5).status_code == 400
    wrong_type = requests.post(url, data=b"{}", headers={"Content-Type": "text/plain"}, timeout=5)
    assert wrong_type.status_code == 400 and "Content-Type" in wrong_type.text
    no_args = requests.post(url, json={"jsonrpc": "2.0", "method": "call", "id": 1,
                                       "params": {"service": "common", "method": "version"}}, timeout=5).json()
    assert no_args["error"]["data"]["name"] == "builtins.TypeError"
    assert no_args["error"]["data"]["message"] == "RPC.jsonrpc() missing 1 required positional argument: 'args'"


def test_unknown_services_and_methods_fail_as_in_odoo(rpc):
    cases = [(("db", "list"), "builtins.KeyError", "'db'"),
             (("common", "nope"), "builtins.Exception", "Method not found: nope"),
             (("object", "exec", "retail", 2, "admin"), "builtins.NameError", "Method not available exec")]
    for args, name, message in cases:
        with pytest.raises(OdooRpcError) as caught:
            rpc.call(*args)
        assert (caught.value.name, caught.value.message) == (name, message)


# reading --------------------------------------------------------------------------------------------------------
def test_read_shapes_values_like_odoo(rpc, people):
    [jane] = rpc.execute("res.partner", "read", [people["jane"]], ["name", "country_id", "phone", "is_company",
                                                                     "child_ids", "write_date"])
    assert set(jane) == {"id", "name", "country_id", "phone", "is_company", "child_ids", "write_date"}
    assert jane["country_id"][1] == "Germany" and isinstance(jane["country_id"][0], int)
    assert (jane["phone"], jane["is_company"], jane["child_ids"]) == (False, False, [])
    assert DATETIME.match(jane["write_date"])
    [bare] = rpc.execute("res.partner", "read", [people["acme"]], ["country_id"])
    assert bare == {"id": people["acme"], "country_id": False}


def test_read_keeps_the_order_asked_and_skips_ids_that_do_not_exist(rpc, people):
    rows = rpc.execute("res.partner", "read", [people["john"], 99999, people["jane"]], ["name"])
    assert [r["name"] for r in rows] == ["John Roe", "Jane Doe"]


def test_read_without_fields_returns_every_field(rpc):
    [mug] = rpc.execute("product.product", "search_read", [("default_code", "=", "MUG-01")])
    assert {"id", "name", "default_code", "list_price", "qty_available", "virtual_available", "taxes_id",
            "write_date", "create_date", "display_name", "active"} <= set(mug)
    assert mug["display_name"] == "[MUG-01] Mug" and mug["list_price"] == 12.5


def test_an_unknown_field_is_a_value_error(rpc, people):
    with pytest.raises(OdooRpcError) as caught:
        rpc.execute("res.partner", "read", [people["jane"]], ["nope"])
    assert (caught.value.name, caught.value.message) == ("builtins.ValueError",
                                                         "Invalid field 'nope' on model 'res.partner'")


# domains --------------------------------------------------------------------------------------------------------
def test_equality_and_inequality_including_false(rpc, people):
    assert names(rpc, [("email", "=", "jane@example.com")]) == ["Jane Doe"]
    assert names(rpc, [("email", "!=", "jane@example.com")]) == ["Acme GmbH", "John Roe"]  # NULL matches !=
    assert names(rpc, [("email", "=", False)]) == ["Acme GmbH"]
    assert names(rpc, [("email", "!=", False)]) == ["Jane Doe", "John Roe"]
    assert names(rpc, [("is_company", "=", True)]) == ["Acme GmbH"]
    assert names(rpc, [("is_company", "!=", True)]) == ["Jane Doe", "John Roe"]


def test_in_and_not_in(rpc, people):
    assert names(rpc, [("ref", "in", ["C-1", "C-2"])]) == ["Jane Doe", "John Roe"]
    assert names(rpc, [("ref", "not in", ["C-1"])]) == ["Acme GmbH", "John Roe"]
    assert names(rpc, [("ref", "in", ["C-1", False])]) == ["Acme GmbH", "Jane Doe"]
    assert names(rpc, [("ref", "not in", ["C-1", False])]) == ["John Roe"]
    assert names(rpc, [("ref", "in", [])]) == []
    assert names(rpc, [("id", "in", [people["acme"]])]) == ["Acme GmbH"]


def test_comparisons(rpc):
    product = "product.product"
    assert names(rpc, [("list_price", ">", 19.99)], product) == ["TEE-M", "TEE-S"]
    assert names(rpc, [("list_price", ">=", 19.99)], product) == ["BOOK-01", "TEE-M", "TEE-S"]
    assert names(rpc, [("list_price", "<", 19.99)], product) == ["MUG-01"]
    assert names(rpc, [("list_price", "<=", 19.99)], product) == ["BOOK-01", "MUG-01"]
    assert names(rpc, [("qty_available", ">", 5)], product) == ["MUG-01"]


def test_like_ilike_and_their_exact_forms(rpc, people):
    assert names(rpc, [("email", "like", "example")]) == ["Jane Doe"]  # like is case-sensitive
    assert names(rpc, [("email", "ilike", "EXAMPLE")]) == ["Jane Doe", "John Roe"]
    assert names(rpc, [("email", "not ilike", "example.org")]) == ["Acme GmbH", "Jane Doe"]
    assert names(rpc, [("email", "not like", "Example")]) == ["Acme GmbH", "Jane Doe"]
    assert names(rpc, [("name", "=like", "J%")]) == ["Jane Doe", "John Roe"]
    assert names(rpc, [("name", "=ilike", "jane doe")]) == ["Jane Doe"]
    assert names(rpc, [("city", "ilike", "köln")]) == ["Jane Doe"]


def test_prefix_operators_and_implicit_and(rpc, people):
    assert names(rpc, ["|", ("ref", "=", "C-1"), ("is_company", "=", True)]) == ["Acme GmbH", "Jane Doe"]
    assert names(rpc, ["&", ("email", "ilike", "example"), ("city", "=", "Berlin")]) == ["John Roe"]
    assert names(rpc, [("email", "ilike", "example"), ("city", "=", "Berlin")]) == ["John Roe"]
    assert names(rpc, ["!", ("city", "=", "Berlin")]) == ["Acme GmbH", "Jane Doe"]  # `!` keeps NULL, as Odoo
    assert names(rpc, ["|", "!", ("ref", "=", "C-1"), ("ref", "=", "C-1")]) == ["Acme GmbH", "Jane Doe", "John Roe"]
    assert names(rpc, [("email", "ilike", "example"), "|", ("city", "=", "Köln"), ("ref", "=", "C-2")]) == [
        "Jane Doe", "John Roe"]


def test_relations_by_path_and_by_name(rpc, people):
    assert names(rpc, [("country_id.code", "=", "DE")]) == ["Jane Doe"]
    assert names(rpc, [("country_id", "ilike", "germ")]) == ["Jane Doe"]
    assert names(rpc, [("country_id", "=", False)]) == ["Acme GmbH", "John Roe"]
    order = rpc.execute("sale.order", "create", {"partner_id": people["jane"], "order_line": [
        (0, 0, {"product_id": rpc.execute("product.product", "search", [("default_code", "=", "MUG-01")])[0]})]})
    assert rpc.execute("sale.order", "search", [("partner_id.email", "=", "jane@example.com")]) == [order]
    assert rpc.execute("sale.order", "search", [("order_line.product_id.default_code", "=", "MUG-01")]) == [order]
    assert rpc.execute("sale.order", "search", [("order_line.product_id.default_code", "=", "TEE-S")]) == []


def test_archived_records_are_left_out_unless_asked_for(rpc, people):
    rpc.execute("res.partner", "write", [people["acme"]], {"active": False})
    assert names(rpc, []) == ["Jane Doe", "John Roe"]
    assert names(rpc, [("active", "=", False)]) == ["Acme GmbH"]
    assert names(rpc, [], context={"active_test": False}) == ["Acme GmbH", "Jane Doe", "John Roe"]


def test_datetimes_compare_with_dates_and_datetimes(rpc, people):
    [jane] = rpc.execute("res.partner", "read", [people["jane"]], ["create_date"])
    day = jane["create_date"][:10]
    assert len(names(rpc, [("create_date", ">=", day)])) == 3
    assert len(names(rpc, [("create_date", "<=", day)])) == 3  # a bare date ends at 23:59:59
    assert names(rpc, [("create_date", ">", jane["create_date"][:10] + " 23:59:59")]) == []
    assert len(names(rpc, [("write_date", ">=", jane["create_date"])])) == 3


def test_invalid_domains_and_orders_are_value_errors(rpc):
    for domain, message in [([("nope", "=", 1)], "Invalid field res.partner.nope in leaf ('nope', '=', 1)"),
                            ([("name", "~", "x")], "Invalid leaf ['name', '~', 'x']"),
                            (["|", ("name", "=", "x")], "an operator lacks its operands")]:
        with pytest.raises(OdooRpcError) as caught:
            rpc.execute("res.partner", "search", domain)
        assert caught.value.name == "builtins.ValueError" and message in caught.value.message
    with pytest.raises(OdooRpcError) as caught:
        rpc.execute("res.partner", "search", [], order="name; DROP TABLE res_partner")
    assert caught.value.name == "builtins.ValueError" and caught.value.message.startswith('Invalid "order" specified')


# pagination and order --------------------------------------------------------------------------------------------
def test_limit_offset_order_and_count(rpc):
    skus = [r["default_code"] for r in rpc.execute("product.product", "search_read", [], fields=["default_code"],
                                                   order="default_code desc")]
    assert skus == ["TEE-S", "TEE-M", "MUG-01", "BOOK-01"]
    page = rpc.execute("product.product", "search_read", [], fields=["default_code"], order="default_code desc",
                       limit=2, offset=1)
    assert [r["default_code"] for r in page] == ["TEE-M", "MUG-01"]
    assert rpc.execute("product.product", "search", [], limit=1, order="list_price desc, default_code") == \
        rpc.execute("product.product", "search", [("default_code", "=", "TEE-M")])
    assert rpc.execute("product.product", "search_count", [("list_price", ">", 15)]) == 3
    assert rpc.execute("product.product", "search_count", [], limit=2) == 2


def test_polling_by_write_date_orders_by_it_then_by_id(rpc):
    ids = rpc.execute("product.product", "search", [], order="id")
    before = rpc.execute("product.product", "read", [ids[0]], ["write_date"])[0]["write_date"]
    rpc.execute("product.product", "write", [ids[-1]], {"list_price": 13.0})
    rows = rpc.execute("product.product", "search_read", [("write_date", ">=", before)], fields=["write_date"],
                       order="write_date desc, id")
    expected = sorted(rows, key=lambda r: r["id"])
    expected.sort(key=lambda r: r["write_date"], reverse=True)
    assert [r["id"] for r in rows] == [r["id"] for r in expected] and len(rows) == 4
    assert rows[0]["write_date"] >= before


def test_fields_get_describes_the_served_fields(rpc):
    described = rpc.execute("sale.order", "fields_get", ["partner_id", "state", "amount_total"],
                            attributes=["type", "relation", "selection", "readonly"])
    assert described == {
        "partner_id": {"type": "many2one", "relation": "res.partner", "readonly": False},
        "state": {"type": "selection", "selection": [["draft", "draft"], ["sent", "sent"], ["sale", "sale"],
                                                     ["cancel", "cancel"]], "readonly": True},
        "amount_total": {"type": "monetary", "readonly": True},
    }
