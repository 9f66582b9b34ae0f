"""The ERP sandbox's business models over JSON-RPC: contacts, products and stock, sales orders (reservations,
cancelling, amounts), invoices and credit notes, the seed, the create ledger, and a restart keeping state."""
from __future__ import annotations

import datetime as dt
from dataclasses import replace
from decimal import ROUND_HALF_UP, Decimal

import pytest
import requests

from retail_sync.sandbox import runner
from retail_sync.sandbox.erp.app import ErpSandbox
from tests.support.odoo_rpc import CATALOG, OdooJsonRpc, OdooRpcError, erp, rpc, seeded  # noqa: F401 - fixtures
from tests.support.processes import free_port


def product(rpc: OdooJsonRpc, sku: str) -> int:
    return rpc.execute("product.product", "search", [("default_code", "=", sku)])[0]


def warehouse(rpc: OdooJsonRpc, code: str) -> int:
    return rpc.execute("stock.warehouse", "search", [("code", "=", code)])[0]


def quant(rpc: OdooJsonRpc, sku: str, code: str) -> dict:
    [row] = rpc.execute("stock.quant", "search_read", [("product_id.default_code", "=", sku),
                                                       ("warehouse_id", "=", warehouse(rpc, code))],
                        fields=["quantity", "reserved_quantity", "available_quantity"])
    return row


def stock(rpc: OdooJsonRpc, sku: str, **context) -> dict:
    [row] = rpc.execute("product.product", "read", [product(rpc, sku)],
                        ["qty_available", "virtual_available", "free_qty", "outgoing_qty"], context=context)
    return row


def customer(rpc: OdooJsonRpc, email: str = "jane@example.com") -> int:
    return rpc.execute("res.partner", "create", {"name": "Jane Doe", "email": email})


def order(rpc: OdooJsonRpc, ref: str, lines: list[tuple[str, float]], **values) -> int:
    return rpc.execute("sale.order", "create", {
        "partner_id": customer(rpc, f"{ref}@example.com"), "client_order_ref": ref,
        "order_line": [(0, 0, {"product_id": product(rpc, sku), "product_uom_qty": qty}) for sku, qty in lines],
        **values})


def cents(value: str) -> float:
    return float(Decimal(value).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))


# contacts -------------------------------------------------------------------------------------------------------
def test_partner_create_write_read(rpc):
    partner = rpc.execute("res.partner", "create", {"name": "Jane Doe", "email": "jane@example.com", "zip": "50667",
                                                    "street": "Domkloster 4", "city": "Köln", "phone": "+49 221 1"})
    rpc.execute("res.partner", "write", [partner], {"city": "Cologne", "ref": "WC-CUST-7"})
    [row] = rpc.execute("res.partner", "read", [partner], ["name", "email", "city", "zip", "ref", "country_code"])
    assert row == {"id": partner, "name": "Jane Doe", "email": "jane@example.com", "city": "Cologne", "zip": "50667",
                   "ref": "WC-CUST-7", "country_code": False}
    many = rpc.execute("res.partner", "create", [{"name": "A"}, {"name": "B", "email": "b@example.com"}])
    assert len(many) == 2 and all(isinstance(i, int) for i in many)


# products and stock ---------------------------------------------------------------------------------------------
def test_seeded_products_carry_price_taxes_and_stock_per_warehouse(rpc):
    rows = rpc.execute("product.product", "search_read", [], fields=["default_code", "list_price", "taxes_id",
                                                                     "qty_available", "type"], order="default_code")
    assert [(r["default_code"], r["list_price"], r["taxes_id"], r["qty_available"]) for r in rows] == [
        ("BOOK-01", 19.99, [2], 3.0), ("MUG-01", 12.5, [1], 14.0), ("TEE-M", 25.0, [1], 5.0), ("TEE-S", 25.0, [1], 3.0)]
    assert stock(rpc, "MUG-01", warehouse=warehouse(rpc, "WH-WEST"))["qty_available"] == 4.0
    assert stock(rpc, "MUG-01", warehouse="WH-EAST")["qty_available"] == 10.0
    [west] = rpc.execute("stock.warehouse", "read", [warehouse(rpc, "WH-WEST")], ["name", "code", "lot_stock_id"])
    assert (west["name"], west["code"], west["lot_stock_id"][1]) == ("WH-WEST", "WH-WEST", "WH-WEST/Stock")
    assert rpc.execute("account.tax", "search_read", [], fields=["name", "amount", "type_tax_use"]) == [
        {"id": 1, "name": "19%", "amount": 19.0, "type_tax_use": "sale"},
        {"id": 2, "name": "7%", "amount": 7.0, "type_tax_use": "sale"}]


def test_reseeding_updates_instead_of_duplicating(erp, rpc):
    changed = {**CATALOG, "products": [{**CATALOG["products"][0], "price": "13.00", "stock": {"WH-EAST": 7}}]}
    assert requests.post(f"{erp}/_sandbox/seed", json=changed, timeout=10).json()["products"] == 1
    state = requests.get(f"{erp}/_sandbox/state", timeout=5).json()
    assert (state["product.product"], state["stock.warehouse"], state["stock.quant"]) == (4, 2, 6)
    assert stock(rpc, "MUG-01")["qty_available"] == 7.0  # WH-WEST left out of the catalog: set to 0
    assert rpc.execute("product.product", "read", [product(rpc, "MUG-01")], ["list_price"])[0]["list_price"] == 13.0


def test_product_create_defaults_and_unique_sku(rpc):
    new = rpc.execute("product.product", "create", {"name": "Cap", "default_code": "CAP-01"})
    [row] = rpc.execute("product.product", "read", [new], ["list_price", "taxes_id", "qty_available", "active"])
    assert row == {"id": new, "list_price": 1.0, "taxes_id": [1], "qty_available": 0.0, "active": True}
    rpc.execute("product.product", "write", [new], {"taxes_id": [(6, 0, [2])], "list_price": 4.5})
    assert rpc.execute("product.product", "read", [new], ["taxes_id"])[0]["taxes_id"] == [2]
    with pytest.raises(OdooRpcError) as caught:
        rpc.execute("product.product", "create", {"name": "Cap again", "default_code": "CAP-01"})
    assert caught.value.name == "odoo.exceptions.ValidationError"
    assert caught.value.message.startswith("The operation cannot be completed: ")


def test_counting_stock_through_inventory_quantity(rpc):
    [row] = rpc.execute("stock.quant", "search_read", [("product_id", "=", product(rpc, "TEE-M"))], fields=["id"])
    rpc.execute("stock.quant", "write", [row["id"]], {"inventory_quantity": 9})
    [counted] = rpc.execute("stock.quant", "read", [row["id"]], ["inventory_diff_quantity"])
    assert counted["inventory_diff_quantity"] == 4
    assert rpc.execute("stock.quant", "action_apply_inventory", [row["id"]]) is None  # Odoo answers nothing
    assert stock(rpc, "TEE-M")["qty_available"] == 9.0
    east = rpc.execute("stock.warehouse", "read", [warehouse(rpc, "WH-EAST")], ["lot_stock_id"])[0]["lot_stock_id"][0]
    created = rpc.execute("stock.quant", "create", {"product_id": product(rpc, "TEE-M"), "location_id": east,
                                                    "inventory_quantity": 2})
    rpc.execute("stock.quant", "action_apply_inventory", [created])
    assert stock(rpc, "TEE-M")["qty_available"] == 11.0
    rpc.execute("stock.quant", "write", [created], {"quantity": 1})  # a plain write, as an admin may
    assert stock(rpc, "TEE-M")["qty_available"] == 10.0


def test_a_new_warehouse_gets_its_stock_location(rpc):
    new = rpc.execute("stock.warehouse", "create", {"name": "North", "code": "WH-N"})
    [row] = rpc.execute("stock.warehouse", "read", [new], ["lot_stock_id"])
    assert row["lot_stock_id"][1] == "WH-N/Stock"
    [location] = rpc.execute("stock.location", "read", [row["lot_stock_id"][0]], ["usage", "warehouse_id"])
    assert (location["usage"], location["warehouse_id"][0]) == ("internal", new)


# sales orders ---------------------------------------------------------------------------------------------------
def test_order_amounts_follow_the_money_rule_to_the_cent(rpc):
    sale = rpc.execute("sale.order", "create", {"partner_id": customer(rpc), "client_order_ref": "WC-1", "order_line": [
        (0, 0, {"product_id": product(rpc, "MUG-01"), "product_uom_qty": 3, "price_unit": 12.5, "discount": 10}),
        (0, 0, {"product_id": product(rpc, "BOOK-01"), "product_uom_qty": 1}),
        (0, 0, {"product_id": product(rpc, "TEE-S"), "product_uom_qty": 1, "price_unit": 9.95, "discount": 3,
                "tax_id": [(6, 0, [1, 2])]}),
    ]})
    lines = rpc.execute("sale.order.line", "search_read", [("order_id", "=", sale)],
                        fields=["price_unit", "tax_id", "price_subtotal", "price_tax", "price_total", "name"])
    # 12.50 x 3 x 0.9 = 33.75, 19 % = 6.4125; 19.99 x 1 = 19.99, 7 % = 1.3993; 9.95 x 0.97 = 9.6515, 26 % of 9.65
    assert [(l["price_subtotal"], l["price_tax"], l["price_total"]) for l in lines] == [
        (33.75, cents("6.4125"), 40.16), (19.99, cents("1.3993"), 21.39), (9.65, cents("2.509"), 12.16)]
    assert (lines[1]["price_unit"], lines[1]["tax_id"], lines[1]["name"]) == (19.99, [2], "[BOOK-01] Book")
    [totals] = rpc.execute("sale.order", "read", [sale], ["name", "state", "amount_untaxed", "amount_tax",
                                                          "amount_total", "warehouse_id"])
    assert totals["name"].startswith("S") and len(totals["name"]) == 6 and totals["state"] == "draft"
    assert (totals["amount_untaxed"], totals["amount_tax"], totals["amount_total"]) == (63.39, 10.32, 73.71)
    assert totals["warehouse_id"][1] == "WH-EAST"


def test_confirm_reserves_and_cancel_releases(rpc):
    sale = order(rpc, "WC-2", [("MUG-01", 4), ("BOOK-01", 5)])  # only 3 books in WH-EAST
    assert rpc.execute("sale.order", "action_confirm", [sale]) is True
    assert rpc.execute("sale.order", "read", [sale], ["state"])[0]["state"] == "sale"
    assert quant(rpc, "MUG-01", "WH-EAST") == {**quant(rpc, "MUG-01", "WH-EAST"), "quantity": 10.0,
                                              "reserved_quantity": 4.0, "available_quantity": 6.0}
    assert quant(rpc, "BOOK-01", "WH-EAST")["reserved_quantity"] == 3.0  # the shortfall stays unreserved
    assert quant(rpc, "MUG-01", "WH-WEST")["reserved_quantity"] == 0.0
    assert stock(rpc, "MUG-01") == {**stock(rpc, "MUG-01"), "qty_available": 14.0, "free_qty": 10.0,
                                    "outgoing_qty": 4.0, "virtual_available": 10.0}
    assert stock(rpc, "BOOK-01")["virtual_available"] == -2.0  # the forecast counts the whole demand
    assert stock(rpc, "MUG-01", warehouse="WH-WEST")["virtual_available"] == 4.0

    with pytest.raises(OdooRpcError) as caught:
        rpc.execute("sale.order", "action_confirm", [sale])
    assert (caught.value.name, caught.value.message) == ("odoo.exceptions.UserError",
                                                         "Some orders are not in a state requiring confirmation.")

    wizard = rpc.execute("sale.order", "action_cancel", [sale])  # Odoo 17 answers with its cancel wizard
    assert (wizard["type"], wizard["res_model"]) == ("ir.actions.act_window", "sale.order.cancel")
    assert rpc.execute("sale.order", "read", [sale], ["state"])[0]["state"] == "sale"
    assert rpc.execute("sale.order", "action_cancel", [sale], context={"disable_cancel_warning": True}) is True
    assert rpc.execute("sale.order", "read", [sale], ["state"])[0]["state"] == "cancel"
    assert quant(rpc, "MUG-01", "WH-EAST")["reserved_quantity"] == 0.0
    assert quant(rpc, "BOOK-01", "WH-EAST")["reserved_quantity"] == 0.0
    assert stock(rpc, "MUG-01")["virtual_available"] == 14.0


def test_orders_reserve_in_their_own_warehouse_and_compete_for_stock(rpc):
    west = order(rpc, "WC-3", [("MUG-01", 3)], warehouse_id=warehouse(rpc, "WH-WEST"))
    other = order(rpc, "WC-4", [("MUG-01", 3)], warehouse_id=warehouse(rpc, "WH-WEST"))
    rpc.execute("sale.order", "action_confirm", [west, other])
    assert quant(rpc, "MUG-01", "WH-WEST")["reserved_quantity"] == 4.0  # 3 + the 1 left
    assert quant(rpc, "MUG-01", "WH-EAST")["reserved_quantity"] == 0.0
    rpc.execute("sale.order", "action_cancel", [west], context={"disable_cancel_warning": True})
    assert quant(rpc, "MUG-01", "WH-WEST")["reserved_quantity"] == 1.0


def test_changing_a_confirmed_order_moves_its_reservation(rpc):
    sale = order(rpc, "WC-5", [("MUG-01", 2)])
    rpc.execute("sale.order", "action_confirm", [sale])
    [line] = rpc.execute("sale.order", "read", [sale], ["order_line"])[0]["order_line"]
    rpc.execute("sale.order", "write", [sale], {"order_line": [(1, line, {"product_uom_qty": 5})]})
    assert quant(rpc, "MUG-01", "WH-EAST")["reserved_quantity"] == 5.0
    assert rpc.execute("sale.order", "read", [sale], ["amount_untaxed"])[0]["amount_untaxed"] == 62.5


def test_draft_orders_can_be_deleted_confirmed_ones_cannot(rpc):
    draft, confirmed = order(rpc, "WC-6", [("MUG-01", 1)]), order(rpc, "WC-7", [("MUG-01", 1)])
    rpc.execute("sale.order", "action_confirm", [confirmed])
    with pytest.raises(OdooRpcError) as caught:
        rpc.execute("sale.order", "unlink", [confirmed])
    assert caught.value.message == ("You can not delete a sent quotation or a confirmed sales order. "
                                    "You must first cancel it.")
    assert rpc.execute("sale.order", "unlink", [draft]) is True
    assert rpc.execute("sale.order", "search", [("id", "=", draft)]) == []
    assert rpc.execute("sale.order.line", "search_count", [("order_id", "=", draft)]) == 0


def test_odoo_does_not_deduplicate_creates_but_the_ledger_shows_it(erp, rpc):
    partner = customer(rpc)
    values = {"partner_id": partner, "client_order_ref": "WC-1042",
              "order_line": [(0, 0, {"product_id": product(rpc, "MUG-01")})]}
    first, second = rpc.execute("sale.order", "create", values), rpc.execute("sale.order", "create", values)
    assert first != second
    assert rpc.execute("sale.order", "search_count", [("client_order_ref", "=", "WC-1042")]) == 2
    creates = requests.get(f"{erp}/_sandbox/ledger", timeout=5).json()["creates"]
    assert [(c["outcome"], c["ref"]) for c in creates["sale.order:WC-1042"]] == [("created", str(first)),
                                                                                  ("created", str(second))]
    assert [c["outcome"] for c in creates["res.partner:jane@example.com"]] == ["created"]


# invoices -------------------------------------------------------------------------------------------------------
def test_invoice_and_credit_note_are_numbered_when_posted(erp, rpc):
    partner = customer(rpc)
    lines = [(0, 0, {"product_id": product(rpc, "MUG-01"), "quantity": 2, "price_unit": 12.5, "discount": 10}),
             (0, 0, {"product_id": product(rpc, "BOOK-01"), "quantity": 1})]
    invoice = rpc.execute("account.move", "create", {"move_type": "out_invoice", "partner_id": partner, "ref": "WC-1",
                                                     "invoice_origin": "S00001", "invoice_line_ids": lines})
    [draft] = rpc.execute("account.move", "read", [invoice], ["name", "state", "display_name", "amount_total"])
    assert (draft["name"], draft["state"], draft["display_name"]) == ("/", "draft", f"Draft Invoice (* {invoice})")
    assert rpc.execute("account.move", "action_post", [invoice]) is False  # Odoo's action_post returns False
    year = dt.datetime.now(dt.timezone.utc).year
    [posted] = rpc.execute("account.move", "read", [invoice], ["name", "state", "amount_untaxed", "amount_tax",
                                                               "amount_total", "amount_residual", "invoice_date"])
    # 22.50 + 19 % (4.275 -> 4.28); 19.99 + 7 % (1.3993 -> 1.40)
    assert posted == {"id": invoice, "name": f"INV/{year}/00001", "state": "posted", "amount_untaxed": 42.49,
                      "amount_tax": 5.68, "amount_total": 48.17, "amount_residual": 48.17,
                      "invoice_date": posted["invoice_date"]}
    assert [l["price_total"] for l in rpc.execute("account.move.line", "search_read", [("move_id", "=", invoice)],
                                                   fields=["price_total"])] == [26.78, 21.39]

    refund = rpc.execute("account.move", "create", {"move_type": "out_refund", "partner_id": partner,
                                                    "reversed_entry_id": invoice, "ref": "WC-1-R1",
                                                    "invoice_line_ids": [lines[1]]})
    rpc.execute("account.move", "action_post", [refund])
    [credit] = rpc.execute("account.move", "read", [refund], ["name", "reversed_entry_id", "amount_total"])
    assert credit == {"id": refund, "name": f"RINV/{year}/00001", "reversed_entry_id": [invoice, f"INV/{year}/00001"],
                      "amount_total": 21.39}
    assert rpc.execute("account.move", "read", [invoice], ["reversal_move_id"])[0]["reversal_move_id"] == [refund]
    creates = requests.get(f"{erp}/_sandbox/ledger", timeout=5).json()["creates"]
    assert set(creates) >= {"account.move:WC-1", "account.move:WC-1-R1"}


def test_posting_rules(rpc):
    empty = rpc.execute("account.move", "create", {"move_type": "out_invoice", "partner_id": customer(rpc)})
    with pytest.raises(OdooRpcError) as caught:
        rpc.execute("account.move", "action_post", [empty])
    assert caught.value.message == "You need to add a line before posting."
    nobody = rpc.execute("account.move", "create", {"move_type": "out_invoice", "invoice_line_ids": [
        (0, 0, {"product_id": product(rpc, "MUG-01")})]})
    with pytest.raises(OdooRpcError) as caught:
        rpc.execute("account.move", "action_post", [nobody])
    assert caught.value.message == ("The field 'Customer' is required, please complete it to validate the "
                                    "Customer Invoice.")
    rpc.execute("account.move", "write", [nobody], {"partner_id": customer(rpc, "b@example.com")})
    rpc.execute("account.move", "action_post", [nobody])
    with pytest.raises(OdooRpcError) as caught:
        rpc.execute("account.move", "action_post", [nobody])
    assert caught.value.name == "odoo.exceptions.UserError" and caught.value.message.endswith("must be in draft.")
    with pytest.raises(OdooRpcError) as caught:
        rpc.execute("account.move", "write", [nobody], {"invoice_line_ids": [(0, 0, {"product_id": 1})]})
    assert caught.value.name == "odoo.exceptions.UserError"
    with pytest.raises(OdooRpcError) as caught:
        rpc.execute("account.move", "unlink", [nobody])
    assert caught.value.message == "You cannot delete an entry which has been posted once."


# persistence ----------------------------------------------------------------------------------------------------
def test_a_restarted_sandbox_keeps_its_records(sandbox_options):
    options = replace(sandbox_options, erp_port=free_port())
    first = runner.start(options, [(ErpSandbox(options), options.erp_port, False)])
    try:
        rpc = seeded(first[0].url)
        sale = order(rpc, "WC-9", [("MUG-01", 2)])
        rpc.execute("sale.order", "action_confirm", [sale])
    finally:
        runner.stop(first)
    again = runner.start(options, [(ErpSandbox(options), options.erp_port, False)])
    try:
        rpc = OdooJsonRpc(again[0].url)
        [row] = rpc.execute("sale.order", "search_read", [("client_order_ref", "=", "WC-9")], fields=["state"])
        assert row["state"] == "sale"
        assert quant(rpc, "MUG-01", "WH-EAST")["reserved_quantity"] == 2.0
        assert rpc.execute("sale.order", "create", {"partner_id": customer(rpc, "x@example.com")}) == sale + 1
    finally:
        runner.stop(again)
