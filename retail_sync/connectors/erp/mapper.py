"""Pure translation between canonical terms and Odoo's records (no I/O): sale order, partner and invoice values
out; products, documents and JSON-RPC errors in.

Money goes out as floats because Odoo's external API carries floats; the ERP reads them back through their
shortest repr (19.99 is 19.99), and each line's discount is sent at full precision so that Odoo's per-line
`round2(price_unit × qty × (1 − discount/100))` lands on the store's line total to the cent
(docs/sandbox-erp.md, "The money rule").
"""
from __future__ import annotations

from decimal import Decimal
from typing import Any, Mapping, Sequence

from retail_sync.connectors.ports import ErpDocument, ErpProduct, InvoiceLine
from retail_sync.domain.orders import CENT, Address, Order, OrderLine
from retail_sync.errors import PermanentError, RecordGone, SyncError, TransientError

SHIPPING_CODE = "SHIPPING"
FEE_CODE = "FEE"
SERVICE_PRODUCT_NAMES = {SHIPPING_CODE: "Shipping", FEE_CODE: "Fees"}  # default_code → name

PRODUCT_FIELDS = ["default_code", "name", "list_price", "sale_ok", "active"]
DOCUMENT_FIELDS = ["name", "state", "amount_total"]
SALE_LINE_FIELDS = ["product_id", "name", "product_uom_qty", "price_unit", "discount", "tax_id"]
PARTNER_ADDRESS_FIELDS = (("street", "address_1"), ("street2", "address_2"), ("city", "city"), ("zip", "postcode"))

HUNDRED = Decimal(100)
MESSAGE_EXCERPT = 500  # Odoo's messages are short; its `debug` traceback never leaves the adapter

RECORD_GONE_ERRORS = frozenset({"odoo.exceptions.MissingError"})
ODOO_EXCEPTIONS = "odoo.exceptions."  # Odoo's own refusals (UserError, AccessError, ...): deliberate, so permanent
# Bad arguments from our side, which a retry repeats as they are; any other builtin looks like a server crash.
PERMANENT_ERRORS = frozenset({
    "builtins.TypeError", "builtins.ValueError", "builtins.KeyError", "builtins.AttributeError",
    "builtins.NameError",
})
ACCESS_DENIED = "odoo.exceptions.AccessDenied"
ALREADY_CONFIRMED = "not in a state requiring confirmation"


# --- out: values for create -----------------------------------------------------------------------------------

def erp_decimal(value: float | int | None) -> Decimal:
    """A float Odoo sent, read as the decimal it was written as (its shortest repr), as the ERP itself reads it."""
    return Decimal(repr(float(value or 0)))


def discount_percent(base: Decimal, total: Decimal) -> float:
    """The discount (%) that turns `base` into `total`, unrounded: any rounding here would move cents."""
    if base == 0:
        return 0.0
    return float((base - total) / base * HUNDRED)


def line_discount(line: OrderLine) -> float:
    """The discount on the base the ERP will compute (price_unit as it travels × qty). That base is the store's
    subtotal whenever unit_price × quantity is the subtotal, which is (subtotal − total) / subtotal × 100."""
    base = erp_decimal(float(line.unit_price)) * line.quantity
    return discount_percent(base, line.total)


def sale_line_values(line: OrderLine, product_id: int) -> dict[str, Any]:
    return {"product_id": product_id, "product_uom_qty": line.quantity,
            "price_unit": float(line.unit_price), "discount": line_discount(line)}


def service_line_values(product_id: int, amount: Decimal, tax: Decimal) -> dict[str, Any]:
    """A shipping or fee line. Untaxed in the store → no taxes here either (else the product's sales tax)."""
    values: dict[str, Any] = {"product_id": product_id, "product_uom_qty": 1, "price_unit": float(amount),
                              "discount": 0.0}
    if tax == 0:
        values["tax_id"] = [[6, 0, []]]
    return values


def sale_order_values(order: Order, partner_id: int, product_ids: Mapping[str, int],
                      service_ids: Mapping[str, int]) -> dict[str, Any]:
    """`sale.order` create values with every line inline (one call), carrying the business key."""
    missing = [sku for sku in order.skus if sku not in product_ids]
    if missing:
        raise PermanentError(f"erp sale.order.create {order.ref}: no ERP product for SKU(s) {', '.join(missing)}")
    lines = [sale_line_values(line, product_ids[line.sku]) for line in order.lines]
    lines.append(service_line_values(service_ids[SHIPPING_CODE], order.shipping_total, order.shipping_tax))
    if order.fee_total != 0:
        lines.append(service_line_values(service_ids[FEE_CODE], order.fee_total, order.fee_tax))
    return {"partner_id": partner_id, "client_order_ref": order.ref, "origin": order.ref,
            "order_line": [[0, 0, values] for values in lines]}


def invoice_address(order: Order) -> Address:
    """The billing address, or the shipping one when the channel sent no billing address (API orders)."""
    return order.billing if order.billing.address_1 or order.billing.city else order.shipping


def country_code(order: Order) -> str:
    return invoice_address(order).country.strip().upper()


def partner_values(order: Order, country_id: int | None) -> dict[str, Any]:
    """`res.partner` create values for the order's customer, with its invoicing address."""
    address = invoice_address(order)
    values: dict[str, Any] = {"name": order.customer.name, "email": order.customer.email,
                              "phone": order.customer.phone or address.phone or False}
    for erp_field, address_field in PARTNER_ADDRESS_FIELDS:
        values[erp_field] = getattr(address, address_field) or False
    values["country_id"] = country_id or False
    return values


def service_product_values(code: str) -> dict[str, Any]:
    return {"name": SERVICE_PRODUCT_NAMES[code], "default_code": code, "type": "service", "sale_ok": True}


def invoice_values(origin: str, partner_id: int, sale_lines: Sequence[Mapping[str, Any]],
                   skus_by_product: Mapping[int, str], shipped: Sequence[InvoiceLine]) -> dict[str, Any]:
    """An `out_invoice` for the shipped quantities, each priced, discounted and taxed as on its sale order line
    (a SKU on several lines fills them in order), plus the sale order's shipping and fee lines whole."""
    wanted: dict[str, int] = {}
    for item in shipped:
        if item.quantity > 0:
            wanted[item.sku] = wanted.get(item.sku, 0) + item.quantity
    lines = []
    for sale_line in sale_lines:
        sku = skus_by_product.get(_many2one_id(sale_line["product_id"]), "")
        if sku in SERVICE_PRODUCT_NAMES:
            lines.append(_invoice_line(sale_line, sale_line["product_uom_qty"]))
        elif wanted.get(sku):
            quantity = min(wanted[sku], int(sale_line["product_uom_qty"]))
            wanted[sku] -= quantity
            if quantity:
                lines.append(_invoice_line(sale_line, quantity))
    left = {sku: quantity for sku, quantity in wanted.items() if quantity}
    if left:
        detail = ", ".join(f"{sku} × {quantity}" for sku, quantity in sorted(left.items()))
        raise PermanentError(f"erp account.move.create {origin}: shipped beyond the sale order: {detail}")
    return {"move_type": "out_invoice", "partner_id": partner_id, "invoice_origin": origin,
            "invoice_line_ids": [[0, 0, values] for values in lines]}


def _invoice_line(sale_line: Mapping[str, Any], quantity: float) -> dict[str, Any]:
    # sale_line_ids links the invoice line to its order line, so a real Odoo counts it as invoiced
    return {"product_id": _many2one_id(sale_line["product_id"]), "name": sale_line["name"], "quantity": quantity,
            "price_unit": sale_line["price_unit"], "discount": sale_line["discount"],
            "tax_ids": [[6, 0, list(sale_line["tax_id"])]], "sale_line_ids": [[6, 0, [sale_line["id"]]]]}


# --- in: records and errors --------------------------------------------------------------------------------------

def _many2one_id(value: Any) -> int | None:
    """Odoo reads a many2one as `[id, "display name"]`, or `false` when empty."""
    return value[0] if isinstance(value, (list, tuple)) and value else None


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""  # Odoo reads an empty char as `false`


def product_from_record(record: Mapping[str, Any]) -> ErpProduct:
    return ErpProduct(id=record["id"], sku=_text(record["default_code"]),
                      sellable=bool(record["sale_ok"]) and bool(record["active"]), name=_text(record["name"]),
                      list_price=str(erp_decimal(record["list_price"])))


def document_from_record(record: Mapping[str, Any]) -> ErpDocument:
    return ErpDocument(id=record["id"], name=_text(record["name"]), state=_text(record["state"]),
                       amount_total=str(erp_decimal(record["amount_total"]).quantize(CENT)))


def pick_product(current: ErpProduct | None, candidate: ErpProduct) -> ErpProduct:
    """Odoo allows two products with one SKU: a sellable one wins, else the first seen (lowest id)."""
    if current is None or (candidate.sellable and not current.sellable):
        return candidate
    return current


SALE_ORDER_PREFERENCE = {"sale": 0, "sent": 1, "draft": 1, "cancel": 2}


def pick_sale_order(records: Sequence[Mapping[str, Any]]) -> ErpDocument | None:
    """Of the sale orders carrying one reference: a confirmed one, else a quotation, else a cancelled one
    (the oldest of each kind)."""
    ranked = sorted(records, key=lambda r: (SALE_ORDER_PREFERENCE.get(r["state"], 1), r["id"]))
    return document_from_record(ranked[0]) if ranked else None


def pick_email(records: Sequence[Mapping[str, Any]], email: str) -> int | None:
    """The oldest partner whose email is `email` ignoring case (`=ilike` also treats `_` and `%` as wildcards)."""
    wanted = email.strip().casefold()
    exact = [r["id"] for r in records if _text(r.get("email")).strip().casefold() == wanted]
    return min(exact) if exact else None


def error_for(operation: str, error: Mapping[str, Any]) -> SyncError:
    """Our taxonomy for Odoo's JSON-RPC `error` member, by `data.name`: a missing record is RecordGone; Odoo's
    own refusals (business rules, access) and bad arguments are permanent; the database away (psycopg2) and
    anything else, which looks like a server crash, is transient."""
    data = error.get("data") or {}
    name = _text(data.get("name"))
    message = _text(data.get("message")) or _text(error.get("message")) or "no message"
    if len(message) > MESSAGE_EXCERPT:
        message = message[:MESSAGE_EXCERPT] + "…"
    text = f"erp {operation}: {name or 'error'}: {message}"
    if name in RECORD_GONE_ERRORS:
        return RecordGone(text)
    if name in PERMANENT_ERRORS or name.startswith(ODOO_EXCEPTIONS):
        return PermanentError(text)
    return TransientError(text)


def is_access_denied(error: Mapping[str, Any]) -> bool:
    return _text((error.get("data") or {}).get("name")) == ACCESS_DENIED


def is_already_confirmed(exc: PermanentError) -> bool:
    """Odoo's refusal to confirm an order that is not a quotation (already confirmed, or cancelled)."""
    return ALREADY_CONFIRMED in str(exc)
