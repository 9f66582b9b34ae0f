"""The ERP mapper: sale order, partner and invoice values out; products, documents and Odoo's errors in.

The money checks apply the ERP's rule as docs/sandbox-erp.md states it, written here independently: floats read
through their repr, `round2(price_unit × qty × (1 − discount/100))` half-up per line."""
from __future__ import annotations

from dataclasses import replace
from decimal import ROUND_HALF_UP, Decimal

import pytest

from retail_sync.connectors.erp import mapper
from retail_sync.connectors.ports import InvoiceLine
from retail_sync.domain.orders import Address, Customer, Order, OrderLine
from retail_sync.errors import PermanentError, RecordGone, TransientError

SERVICES = {"SHIPPING": 901, "FEE": 902}


def erp_line_subtotal(price_unit: float, quantity: float, discount: float) -> Decimal:
    value = Decimal(repr(price_unit)) * Decimal(repr(float(quantity))) * (1 - Decimal(repr(discount)) / 100)
    return value.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def line(sku: str, quantity: int, unit_price: str, total: str, *, tax: str = "0") -> OrderLine:
    price = Decimal(unit_price)
    return OrderLine(sku=sku, quantity=quantity, unit_price=price, subtotal=price * quantity,
                     total=Decimal(total), tax=Decimal(tax))


def an_order(ref: str = "WC-1042", *, email: str = "jane@example.com", lines: tuple[OrderLine, ...] = (),
             shipping_total: str = "4.90", shipping_tax: str = "0.93", fee_total: str = "0", fee_tax: str = "0",
             total: str = "0", billing: Address | None = None) -> Order:
    shipping = Address(first_name="Jane", last_name="Doe", address_1="Hauptstr. 1", address_2="2. OG",
                       city="Berlin", postcode="10115", country="DE", phone="+49 30 1234")
    return Order(ref=ref, channel=ref.split("-")[0], number=ref.split("-", 1)[1], status="processing",
                 currency="EUR", customer=Customer(email=email, first_name="Jane", last_name="Doe"),
                 billing=billing if billing is not None else shipping, shipping=shipping, lines=lines,
                 shipping_total=Decimal(shipping_total), shipping_tax=Decimal(shipping_tax),
                 fee_total=Decimal(fee_total), fee_tax=Decimal(fee_tax), total=Decimal(total), paid=True)


def coupon_order(ref: str = "WC-1042", email: str = "jane@example.com") -> Order:
    """Two lines of the shared catalog with FIVEOFF (5.00 off the cart, 2.78 + 2.22) and 4.90 shipping:
    22.22 + 17.77 + 4.90 + taxes (4.22 at 19 %, 1.24 at 7 %, 0.93 on shipping) = 51.28."""
    lines = (line("MUG-01", 2, "12.50", "22.22", tax="4.22"), line("BOOK-01", 1, "19.99", "17.77", tax="1.24"))
    return an_order(ref, email=email, lines=lines, total="51.28")


# --- the money rule --------------------------------------------------------------------------------------------

FIVEOFF_OVER_THREE_LINES = (  # 5.00 off a 544.84 cart, spread by subtotal: 0.23 + 2.29 + 2.48
    line("MUG-01", 2, "12.50", "24.77"),
    line("LAMP-01", 1, "249.99", "247.70"),
    line("CHAIR-01", 3, "89.95", "267.37"),
)


def test_a_fixed_cart_coupon_over_three_lines_reproduces_every_line_total_to_the_cent():
    for item in FIVEOFF_OVER_THREE_LINES:
        values = mapper.sale_line_values(item, product_id=1)
        assert erp_line_subtotal(values["price_unit"], values["product_uom_qty"], values["discount"]) == item.total


def test_a_discount_rounded_to_two_places_would_move_a_cent():
    # why the discount travels unrounded: 2.29 off 249.99 is 0.91603...%, and 0.92 % gives 247.69
    lamp = FIVEOFF_OVER_THREE_LINES[1]
    exact = mapper.sale_line_values(lamp, product_id=1)["discount"]
    assert erp_line_subtotal(249.99, 1, round(exact, 2)) == Decimal("247.69") != lamp.total


@pytest.mark.parametrize("unit_price, quantity, total", [
    ("19.99", 3, "53.97"), ("0.10", 7, "0.63"), ("1234.56", 5, "6000.01"), ("9.90", 1, "0.00"), ("3.33", 2, "6.66"),
])
def test_the_discount_lands_on_the_line_total(unit_price, quantity, total):
    item = line("SKU", quantity, unit_price, total)
    values = mapper.sale_line_values(item, product_id=7)
    assert erp_line_subtotal(values["price_unit"], quantity, values["discount"]) == item.total
    assert values["discount"] >= 0


def test_a_unit_price_that_does_not_multiply_to_the_subtotal_still_lands_on_the_total():
    # three for 10.00: the channel's unit price 3.33 × 3 is 9.99, so the ERP's base is 9.99, not the subtotal
    item = OrderLine(sku="SKU", quantity=3, unit_price=Decimal("3.33"), subtotal=Decimal("10.00"),
                     total=Decimal("10.00"))
    values = mapper.sale_line_values(item, product_id=7)
    assert erp_line_subtotal(values["price_unit"], 3, values["discount"]) == Decimal("10.00")


def test_no_discount_is_zero_percent():
    assert mapper.sale_line_values(line("SKU", 2, "5.00", "10.00"), product_id=7)["discount"] == 0.0
    assert mapper.discount_percent(Decimal("0"), Decimal("0")) == 0.0


# --- sale order values -----------------------------------------------------------------------------------------

def test_sale_order_values_carry_the_business_key_and_every_line_inline():
    order = coupon_order()
    values = mapper.sale_order_values(order, partner_id=5, product_ids={"MUG-01": 11, "BOOK-01": 12},
                                      service_ids=SERVICES)
    assert (values["partner_id"], values["client_order_ref"], values["origin"]) == (5, "WC-1042", "WC-1042")
    commands = values["order_line"]
    assert [c[:2] for c in commands] == [[0, 0]] * 3
    mug, book, shipping = (c[2] for c in commands)
    assert (mug["product_id"], mug["product_uom_qty"], mug["price_unit"]) == (11, 2, 12.5)
    assert (book["product_id"], book["product_uom_qty"], book["price_unit"]) == (12, 1, 19.99)
    assert shipping == {"product_id": 901, "product_uom_qty": 1, "price_unit": 4.9, "discount": 0.0}
    untaxed = sum(erp_line_subtotal(c[2]["price_unit"], c[2]["product_uom_qty"], c[2]["discount"]) for c in commands)
    assert untaxed == Decimal("44.89")


def test_fees_get_a_line_and_untaxed_shipping_or_fees_carry_no_tax():
    order = an_order(lines=(line("MUG-01", 1, "12.50", "12.50"),), shipping_total="0", shipping_tax="0",
                     fee_total="2.50", fee_tax="0.48")
    commands = mapper.sale_order_values(order, 5, {"MUG-01": 11}, SERVICES)["order_line"]
    shipping, fee = commands[1][2], commands[2][2]
    assert (shipping["product_id"], shipping["price_unit"], shipping["tax_id"]) == (901, 0.0, [[6, 0, []]])
    assert (fee["product_id"], fee["price_unit"]) == (902, 2.5) and "tax_id" not in fee


def test_an_order_without_fees_has_no_fee_line():
    commands = mapper.sale_order_values(coupon_order(), 5, {"MUG-01": 11, "BOOK-01": 12}, SERVICES)["order_line"]
    assert [c[2]["product_id"] for c in commands] == [11, 12, 901]


def test_a_sku_without_an_erp_product_is_a_permanent_error_naming_it():
    with pytest.raises(PermanentError, match="BOOK-01"):
        mapper.sale_order_values(coupon_order(), 5, {"MUG-01": 11}, SERVICES)


# --- partner values --------------------------------------------------------------------------------------------

def test_partner_values_take_the_customer_and_the_billing_address():
    billing = Address(first_name="Jane", last_name="Doe", address_1="Rechnungsweg 5", city="Hamburg",
                      postcode="20095", country="de", phone="+49 40 555")
    values = mapper.partner_values(an_order(billing=billing), country_id=13)
    assert values == {"name": "Jane Doe", "email": "jane@example.com", "phone": "+49 40 555",
                      "street": "Rechnungsweg 5", "street2": False, "city": "Hamburg", "zip": "20095",
                      "country_id": 13}
    assert mapper.country_code(an_order(billing=billing)) == "DE"


def test_partner_values_fall_back_to_the_shipping_address_and_the_email_as_name():
    order = replace(an_order(billing=Address()), customer=Customer(email="guest@example.com"))
    values = mapper.partner_values(order, country_id=None)
    assert values["name"] == "guest@example.com"
    assert (values["street"], values["street2"], values["city"], values["zip"]) == (
        "Hauptstr. 1", "2. OG", "Berlin", "10115")
    assert (values["phone"], values["country_id"]) == ("+49 30 1234", False)


def test_the_partner_is_the_one_whose_email_matches_exactly_ignoring_case():
    # `=ilike` treats `_` as a wildcard: a_b@x.de also finds aXb@x.de, which must not be taken
    records = [{"id": 3, "email": "aXb@x.de"}, {"id": 9, "email": "A_B@X.DE"}, {"id": 7, "email": "a_b@x.de"}]
    assert mapper.pick_email(records, "a_b@x.de") == 7
    assert mapper.pick_email([{"id": 3, "email": "aXb@x.de"}, {"id": 4, "email": False}], "a_b@x.de") is None


# --- records in ------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("sale_ok, active, sellable", [(True, True, True), (False, True, False),
                                                        (True, False, False)])
def test_a_product_is_sellable_when_it_can_be_sold_and_is_active(sale_ok, active, sellable):
    product = mapper.product_from_record({"id": 4, "default_code": "MUG-01", "name": "Mug", "list_price": 12.5,
                                          "sale_ok": sale_ok, "active": active})
    assert (product.id, product.sku, product.sellable, product.name, product.list_price) == (
        4, "MUG-01", sellable, "Mug", "12.5")


def test_two_products_with_one_sku_the_sellable_one_wins():
    archived = mapper.product_from_record({"id": 1, "default_code": "X", "name": "old", "list_price": 1.0,
                                           "sale_ok": True, "active": False})
    current = mapper.product_from_record({"id": 2, "default_code": "X", "name": "new", "list_price": 1.0,
                                          "sale_ok": True, "active": True})
    assert mapper.pick_product(mapper.pick_product(None, archived), current) == current
    assert mapper.pick_product(current, archived) == current


def test_a_document_reads_its_total_as_decimal_cents():
    document = mapper.document_from_record({"id": 8, "name": "S00008", "state": "sale", "amount_total": 51.28})
    assert (document.id, document.name, document.state, document.amount_total) == (8, "S00008", "sale", "51.28")
    draft = mapper.document_from_record({"id": 9, "name": "/", "state": "draft", "amount_total": 0.1 + 0.2})
    assert draft.amount_total == "0.30"


def test_a_sale_order_reference_prefers_a_confirmed_then_a_draft_then_a_cancelled_order():
    records = [{"id": 1, "name": "S1", "state": "cancel", "amount_total": 1.0},
               {"id": 2, "name": "S2", "state": "draft", "amount_total": 1.0},
               {"id": 3, "name": "S3", "state": "sale", "amount_total": 1.0}]
    assert mapper.pick_sale_order(records).name == "S3"
    assert mapper.pick_sale_order(records[:2]).name == "S2"
    assert mapper.pick_sale_order(records[:1]).name == "S1"
    assert mapper.pick_sale_order([]) is None


# --- invoice values --------------------------------------------------------------------------------------------

SALE_LINES = [
    {"id": 31, "product_id": [11, "[MUG-01] Mug"], "name": "[MUG-01] Mug", "product_uom_qty": 2.0,
     "price_unit": 12.5, "discount": 11.12, "tax_id": [1]},
    {"id": 32, "product_id": [12, "[BOOK-01] Book"], "name": "[BOOK-01] Book", "product_uom_qty": 1.0,
     "price_unit": 19.99, "discount": 11.105552776388194, "tax_id": [2]},
    {"id": 33, "product_id": [11, "[MUG-01] Mug"], "name": "Mug, gift", "product_uom_qty": 1.0,
     "price_unit": 10.0, "discount": 0.0, "tax_id": [1]},
    {"id": 34, "product_id": [901, "[SHIPPING] Shipping"], "name": "Shipping", "product_uom_qty": 1.0,
     "price_unit": 4.9, "discount": 0.0, "tax_id": [1]},
]
SKUS = {11: "MUG-01", 12: "BOOK-01", 901: "SHIPPING"}


def test_the_invoice_bills_shipped_quantities_at_the_sale_order_prices_plus_shipping():
    shipped = [InvoiceLine("MUG-01", 3), InvoiceLine("BOOK-01", 0)]
    values = mapper.invoice_values("WC-1042", 5, SALE_LINES, SKUS, shipped)
    assert (values["move_type"], values["partner_id"], values["invoice_origin"]) == ("out_invoice", 5, "WC-1042")
    lines = [command[2] for command in values["invoice_line_ids"]]
    assert [(l["product_id"], l["quantity"], l["price_unit"], l["discount"], l["tax_ids"], l["sale_line_ids"])
            for l in lines] == [
        (11, 2, 12.5, 11.12, [[6, 0, [1]]], [[6, 0, [31]]]),
        (11, 1, 10.0, 0.0, [[6, 0, [1]]], [[6, 0, [33]]]),
        (901, 1.0, 4.9, 0.0, [[6, 0, [1]]], [[6, 0, [34]]]),
    ]


def test_a_partial_shipment_bills_only_what_shipped():
    values = mapper.invoice_values("WC-1042", 5, SALE_LINES, SKUS, [InvoiceLine("MUG-01", 1), InvoiceLine("MUG-01", 0)])
    lines = [command[2] for command in values["invoice_line_ids"]]
    assert [(l["sale_line_ids"], l["quantity"]) for l in lines] == [([[6, 0, [31]]], 1), ([[6, 0, [34]]], 1.0)]


def test_shipping_more_than_ordered_or_an_unknown_sku_is_refused():
    with pytest.raises(PermanentError, match="MUG-01 × 1"):
        mapper.invoice_values("WC-1042", 5, SALE_LINES, SKUS, [InvoiceLine("MUG-01", 4)])
    with pytest.raises(PermanentError, match="NOPE × 2"):
        mapper.invoice_values("WC-1042", 5, SALE_LINES, SKUS, [InvoiceLine("NOPE", 2)])


# --- Odoo's errors ---------------------------------------------------------------------------------------------

def odoo_error(name: str, message: str) -> dict:
    return {"code": 200, "message": "Odoo Server Error",
            "data": {"name": name, "debug": "Traceback (most recent call last):\n...", "message": message,
                     "arguments": [message], "context": {}}}


@pytest.mark.parametrize("name, expected", [
    ("odoo.exceptions.MissingError", RecordGone),
    ("odoo.exceptions.ValidationError", PermanentError),
    ("odoo.exceptions.UserError", PermanentError),
    ("odoo.exceptions.AccessError", PermanentError),
    ("odoo.exceptions.AccessDenied", PermanentError),
    ("odoo.exceptions.RedirectWarning", PermanentError),
    ("builtins.TypeError", PermanentError),
    ("builtins.ValueError", PermanentError),
    ("builtins.KeyError", PermanentError),
    ("builtins.AttributeError", PermanentError),
    ("builtins.NameError", PermanentError),
    ("psycopg2.OperationalError", TransientError),
    ("psycopg2.errors.SerializationFailure", TransientError),
    ("builtins.MemoryError", TransientError),
    ("werkzeug.exceptions.InternalServerError", TransientError),
])
def test_odoo_errors_map_onto_the_taxonomy_by_name(name, expected):
    error = mapper.error_for("sale.order.create", odoo_error(name, "Some orders are not valid."))
    assert type(error) is expected
    assert str(error) == f"erp sale.order.create: {name}: Some orders are not valid."


def test_an_error_without_data_keeps_its_message_and_counts_as_a_crash():
    error = mapper.error_for("authenticate", {"code": 200, "message": "Odoo Server Error"})
    assert isinstance(error, TransientError) and "Odoo Server Error" in str(error)


def test_a_long_message_is_cut_and_the_traceback_never_leaves():
    error = mapper.error_for("x.y", odoo_error("odoo.exceptions.UserError", "z" * 2000))
    assert len(str(error)) < 600 and "Traceback" not in str(error)


def test_access_denied_and_already_confirmed_are_recognised():
    assert mapper.is_access_denied(odoo_error("odoo.exceptions.AccessDenied", "Access Denied"))
    assert not mapper.is_access_denied(odoo_error("odoo.exceptions.AccessError", "no"))
    confirmed = mapper.error_for("sale.order.action_confirm", odoo_error(
        "odoo.exceptions.UserError", "Some orders are not in a state requiring confirmation."))
    assert mapper.is_already_confirmed(confirmed)
    assert not mapper.is_already_confirmed(mapper.error_for("sale.order.action_confirm", odoo_error(
        "odoo.exceptions.UserError", "Some orders have no lines.")))
