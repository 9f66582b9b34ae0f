"""Refunds (reference §2.10): `POST/GET /orders/{id}/refunds`, `GET/DELETE /orders/{id}/refunds/{rid}`.

As `wc_create_refund()` and the v3 refunds controller do it:
- `api_refund` and `api_restock` default to true (any non-boolean counts as true). No payment gateway of this
  store can refund (bacs, cheque and cod cannot), so an `api_refund` refund is rolled back and answered 500
  `woocommerce_rest_cannot_create_order_refund` — ERP/manual refunds must send `api_refund: false`.
- The refund controller passes its error data as a bare integer, so all its errors are HTTP 500 (missing order:
  data 404; negative amount: data 400; more than the remaining amount: "Invalid refund amount.", data 500).
- `amount` may be left out when every line carries a numeric `refund_total` (its `refund_tax` is added).
- Only lines sent with a `quantity` are restocked, only with `api_restock`, only when they had reduced stock.
- A full refund sets the order `refunded`; every refund fires `order.updated` for its order.
"""
from __future__ import annotations

import copy
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from fastapi import FastAPI, Request

from retail_sync.sandbox.woocommerce import notes, order_lifecycle, order_store, stock_rules
from retail_sync.sandbox.woocommerce.money import ZERO, money, plain, to_decimal
from retail_sync.sandbox.woocommerce.order_render import render_refund, render_refunds
from retail_sync.sandbox.woocommerce.order_store import REFUND, Order
from retail_sync.sandbox.woocommerce.query_params import bool_value, enum_value
from retail_sync.sandbox.woocommerce.rest import (
    REST_PREFIX,
    WooError,
    checks_args,
    page_params,
    paged,
    query_params,
    request_params,
    wc_response,
)

if TYPE_CHECKING:
    from retail_sync.sandbox.woocommerce.app import WooSandbox

CANNOT_CREATE = "woocommerce_rest_cannot_create_order_refund"
API_USER_ID = 1  # the user the API keys belong to (`refunded_by`)
# the payment gateways of this store; none of them supports automatic refunds
GATEWAYS = {"bacs": "Direct bank transfer", "cheque": "Check payments", "cod": "Cash on delivery"}


def create_refund(store: "WooSandbox", order: Order, amount: Decimal, reason: str | None,
                  lines: dict[int, dict[str, Any]], refund_payment: bool, restock: bool) -> Order:
    """`wc_create_refund()`: the refund row, the gateway call, restock, `refunded` when nothing is left."""
    remaining = Decimal(order.total) - order_store.refunded_total(store, order.id)
    if amount < 0 or amount > remaining:
        raise WooError(500, CANNOT_CREATE, "Invalid refund amount.", data=500)
    if refund_payment:
        raise WooError(500, CANNOT_CREATE, _gateway_refusal(order), data=500)
    now = order_store.now_gmt(store)
    refund = Order(id=0, type=REFUND, parent_id=order.id, status="completed", customer_id=0, created_via="",
                   date_created_gmt=now, date_modified_gmt=now,
                   doc={"amount": money(amount), "reason": reason, "refunded_by": API_USER_ID,
                        "refunded_payment": False, "currency": order.doc["currency"], "meta_data": [],
                        "line_items": [], "shipping_lines": [], "fee_lines": [], "tax_lines": []})
    _add_refunded_items(store, order, refund, lines)
    order_store.insert(store, refund)
    if restock:
        stock_rules.restock_refunded(store, order, {item_id: line["qty"] for item_id, line in lines.items()
                                                    if line.get("qty")})
    if remaining - amount <= 0:
        order_lifecycle.set_status(store, order, "refunded")
    order.date_modified_gmt = now
    order_store.save(store, order)
    return refund


def refund_remainder(store: "WooSandbox", order: Order) -> None:
    """`wc_order_fully_refunded()`: an order set to `refunded` by status gets a refund for what is left (no
    gateway call, no restock)."""
    left = Decimal(order.total) - order_store.refunded_total(store, order.id)
    if left <= 0:
        return
    create_refund(store, order, left, "Order fully refunded.", {}, refund_payment=False, restock=False)
    notes.add_note(store, order.id, "Order status set to refunded. To return funds to the customer you will need"
                                    " to issue a refund through your payment gateway.")


def _gateway_refusal(order: Order) -> str:
    if order.doc["payment_method"] not in GATEWAYS:
        return "The payment gateway for this order does not exist."
    return "The payment gateway for this order does not support automatic refunds."


def _add_refunded_items(store: "WooSandbox", order: Order, refund: Order, lines: dict[int, dict[str, Any]]) -> None:
    """Negative copies of the order items named in the request (line items, fees, shipping)."""
    per_rate: dict[int, list[Decimal]] = {}
    for kind in ("line_items", "fee_lines", "shipping_lines"):
        for item in order.doc[kind]:
            line = lines.get(item["id"])
            if line is None:
                continue
            quantity = line.get("qty") or 0
            refund_total = to_decimal(line.get("refund_total"))
            taxes = {int(rate_id): to_decimal(value) for rate_id, value in (line.get("refund_tax") or {}).items()
                     if to_decimal(value) != 0}
            if not quantity and not refund_total and not taxes:
                continue
            copied = copy.deepcopy(item)
            copied["id"] = order_store.next_id(store, "item")
            copied["meta_data"] = [{**meta, "id": order_store.next_id(store, "item_meta")}
                                   for meta in item["meta_data"]]
            copied["meta_data"].append({"id": order_store.next_id(store, "item_meta"), "key": "_refunded_item_id",
                                        "value": str(item["id"])})
            copied["total"] = money(-abs(refund_total))
            tax_total = -sum((abs(value) for value in taxes.values()), ZERO)
            copied["total_tax"] = money(tax_total)
            copied["taxes"] = [{"id": rate_id, "total": plain(-abs(value)),
                                "subtotal": plain(-abs(value))} for rate_id, value in taxes.items()]
            if kind == "line_items":
                copied["subtotal"], copied["subtotal_tax"] = copied["total"], copied["total_tax"]
                copied["quantity"] = -quantity
            slot = 1 if kind == "shipping_lines" else 0
            for rate_id, value in taxes.items():
                per_rate.setdefault(rate_id, [ZERO, ZERO])[slot] -= abs(value)
            refund.doc[kind].append(copied)
    labels = {line["rate_id"]: line for line in order.doc["tax_lines"]}
    for rate_id in sorted(per_rate):
        known = labels.get(rate_id, {})
        refund.doc["tax_lines"].append({
            "id": order_store.next_id(store, "item"), "rate_code": known.get("rate_code", ""), "rate_id": rate_id,
            "label": known.get("label", ""), "compound": known.get("compound", False),
            "tax_total": money(per_rate[rate_id][0]), "shipping_tax_total": money(per_rate[rate_id][1]),
            "rate_percent": known.get("rate_percent", 0.0), "meta_data": []})


# ---- REST ----------------------------------------------------------------------------------------------------------
def register(app: FastAPI, store: "WooSandbox") -> None:
    @app.post(REST_PREFIX + "/orders/{order_id:int}/refunds")
    async def create(order_id: int, request: Request):  # type: ignore[no-untyped-def]
        body = await request_params(request)
        try:
            with store.db.tx():
                refund = _create_from_request(store, order_id, body)
        except WooError as error:
            store.ledger.record_create("order_refund", str(order_id), "rejected", None, code=error.code)
            raise
        store.ledger.record_create("order_refund", str(order_id), "created", refund.id, amount=refund.doc["amount"])
        store.fire("order.updated", order_id)
        location = f"{store.home_url}wp-json/wc/v3/orders/{order_id}/refunds/{refund.id}"
        return wc_response(render_refund(store, refund), 201, {"Location": location})

    @app.get(REST_PREFIX + "/orders/{order_id:int}/refunds")
    @checks_args(lambda request: (page_params(request), enum_value(query_params(request).get("order"), "order",
                                                                      ("asc", "desc"), "desc")))
    async def list_refunds(order_id: int, request: Request):  # type: ignore[no-untyped-def]
        page, per_page, offset = page_params(request)
        direction = enum_value(query_params(request).get("order"), "order", ("asc", "desc"), "desc").upper()
        total = store.db.scalar("SELECT COUNT(*) FROM orders WHERE type = ? AND parent_id = ?", (REFUND, order_id))
        rows = store.db.all(
            f"SELECT * FROM orders WHERE type = ? AND parent_id = ?"  # noqa: S608 - direction is ASC or DESC
            f" ORDER BY date_created_gmt {direction}, id {direction} LIMIT ? OFFSET ?",
            (REFUND, order_id, per_page, offset if offset is not None else (page - 1) * per_page))
        items = render_refunds(store, [order_store.from_row(row) for row in rows])
        return paged(request, items, total, page, per_page)

    @app.get(REST_PREFIX + "/orders/{order_id:int}/refunds/{refund_id:int}")
    async def get_refund(order_id: int, refund_id: int):  # type: ignore[no-untyped-def]
        return wc_response(render_refund(store, _find(store, order_id, refund_id)))

    @app.delete(REST_PREFIX + "/orders/{order_id:int}/refunds/{refund_id:int}")
    async def delete_refund(order_id: int, refund_id: int, request: Request):  # type: ignore[no-untyped-def]
        params = await request_params(request)
        if not bool_value(params.get("force"), "force", default=True):
            raise WooError(501, "woocommerce_rest_trash_not_supported",
                           "The shop_order_refund does not support trashing.")
        refund = _find(store, order_id, refund_id)
        response = render_refund(store, refund)
        with store.db.tx():
            order_store.delete(store, refund.id)
        store.fire("order.updated", order_id)
        return wc_response(response)


def _create_from_request(store: "WooSandbox", order_id: int, body: dict[str, Any]) -> Order:
    """`RestApiParameterUtil::adjust_create_refund_request_parameters` + the controller's checks."""
    lines = _lines_by_item(body.get("line_items"))
    raw_amount = body.get("amount")
    if raw_amount is None:
        raw_amount = _amount_from_lines(lines)
    order = order_store.load(store, order_id)
    if order is None:
        raise WooError(500, "woocommerce_rest_invalid_order_id", "Invalid order ID.", data=404)
    amount = _parse_amount(raw_amount)
    if amount is not None and amount < 0:
        raise WooError(500, "woocommerce_rest_invalid_order_refund", "Refund amount must be greater than zero.",
                       data=400)
    if amount is None:  # a non-numeric amount compares as "more than what is left"
        raise WooError(500, CANNOT_CREATE, "Invalid refund amount.", data=500)
    refund = create_refund(
        store, order, amount, str(body["reason"]) if body.get("reason") else None, lines,
        refund_payment=body["api_refund"] if isinstance(body.get("api_refund"), bool) else True,
        restock=body["api_restock"] if isinstance(body.get("api_restock"), bool) else True)
    metas = [meta for meta in body.get("meta_data") or [] if isinstance(meta, dict) and meta.get("key") is not None]
    for meta in metas:
        order_store.update_meta(store, refund.doc["meta_data"], str(meta["key"]), meta.get("value"), meta.get("id"))
    if metas:  # create_refund() has inserted the refund already
        order_store.save(store, refund)
    return refund


def _lines_by_item(raw: Any) -> dict[int, dict[str, Any]]:
    """Sequential `[{id, quantity, refund_total, refund_tax: [{id, refund_total}]}]` → `{item id: {qty, ...}}`."""
    if isinstance(raw, dict):
        entries = [{"id": key, **value} for key, value in raw.items() if isinstance(value, dict)]
    else:
        entries = [entry for entry in raw or [] if isinstance(entry, dict) and "id" in entry]
    lines = {}
    for entry in entries:
        item_id = _whole(entry["id"])
        if item_id is None:
            continue
        taxes = entry.get("refund_tax") or []
        if isinstance(taxes, list):
            taxes = {tax["id"]: tax.get("refund_total") for tax in taxes if isinstance(tax, dict) and "id" in tax}
        lines[item_id] = {"qty": _whole(entry.get("qty", entry.get("quantity"))),
                          "refund_total": entry.get("refund_total"), "refund_tax": taxes}
    return lines


def _amount_from_lines(lines: dict[int, dict[str, Any]]) -> Decimal | None:
    """The sum of every line's refund_total and refund_tax, or None unless all of them are numeric."""
    if not lines:
        return None
    amount = ZERO
    for line in lines.values():
        values = [_numeric(line.get("refund_total")), *(_numeric(v) for v in (line.get("refund_tax") or {}).values())]
        if any(value is None for value in values):
            return None
        amount += sum(values, ZERO)  # type: ignore[arg-type]
    return amount


def _parse_amount(raw: Any) -> Decimal | None:
    """The requested amount: absent counts as 0 (as in `wc_create_refund`), non-numeric is None."""
    return ZERO if raw is None else _numeric(raw)


def _numeric(raw: Any) -> Decimal | None:
    """PHP `is_numeric`: a number or a numeric string, else None."""
    if raw is None or isinstance(raw, bool):
        return None
    try:
        value = Decimal(str(raw).strip())
    except ArithmeticError:
        return None
    return value if value.is_finite() else None


def _whole(raw: Any) -> int | None:
    value = _numeric(raw)
    return None if value is None else int(value)


def _find(store: "WooSandbox", order_id: int, refund_id: int) -> Order:
    refund = order_store.load(store, refund_id, kind=None)
    if refund is None:
        raise WooError(404, "woocommerce_rest_shop_order_refund_invalid_id", "Invalid ID.")
    if not order_store.exists(store, order_id):
        raise WooError(500, "woocommerce_rest_invalid_order_id", "Invalid order ID.", data=404)
    if refund.type != REFUND or refund.parent_id != order_id:
        raise WooError(500, "woocommerce_rest_invalid_order_refund_id", "Invalid order refund ID.", data=404)
    return refund
