"""The shopper checkout `POST /_sandbox/checkout`: what a customer's "Place order" does on a real store.

`{"lines": [{"sku", "quantity"}], "billing": {...}, "payment_method": "bacs", "shipping": {...}?,
"shipping_lines": [...]?, "coupon_lines": [{"code"}]?, "customer_note": ""?}`

- 400 `{"code": "unknown_sku" | "not_purchasable" | "invalid_payment_method" | "invalid_request" | ...}`;
- 409 `{"code": "out_of_stock", "sku", "requested", "available"}` when a product's managed stock is short and
  backorders are off (or its unmanaged stock status is `outofstock`);
- otherwise 201 with the paid order: `created_via: checkout`, processing, `date_paid`, stock reduced, and the
  `order.created` + `order.updated` webhooks a real checkout fires. The customer is the one whose email the
  billing email is, else a guest (0); the shipping address defaults to the billing address.

One request is one transaction, and the sandbox's loop runs one handler at a time, so the stock check and the
reduction cannot interleave with another checkout (unlike a real store, which can oversell under load).
"""
from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from typing import TYPE_CHECKING, Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from retail_sync.sandbox.common.catalog import normalise_sku
from retail_sync.sandbox.common.db import loads
from retail_sync.sandbox.woocommerce import catalog, customers, order_lifecycle, order_render, order_store, order_write
from retail_sync.sandbox.woocommerce.refunds import GATEWAYS
from retail_sync.sandbox.woocommerce.rest import WooError

if TYPE_CHECKING:
    from retail_sync.sandbox.woocommerce.app import WooSandbox

SCHEMA = ""
TABLES: tuple[str, ...] = ()
SHOPPER_AGENT = "Mozilla/5.0 (retail-sync sandbox shopper)"


class CheckoutLine(BaseModel):
    model_config = ConfigDict(extra="ignore")
    sku: str = Field(min_length=1)
    quantity: int = Field(ge=1)


class CheckoutRequest(BaseModel):
    model_config = ConfigDict(extra="ignore")
    lines: list[CheckoutLine] = Field(min_length=1)
    billing: dict[str, Any] = Field(default_factory=dict)
    payment_method: str = "bacs"
    shipping: dict[str, Any] | None = None
    shipping_lines: list[dict[str, Any]] = Field(default_factory=list)
    coupon_lines: list[dict[str, Any]] = Field(default_factory=list)
    customer_note: str = ""


class CheckoutRefused(Exception):
    def __init__(self, status: int, code: str, message: str, **detail: Any) -> None:
        super().__init__(message)
        self.status, self.body = status, {"code": code, "message": message, **detail}


def install(store: "WooSandbox") -> None:
    """Nothing to seed: the checkout sells the catalog."""


def counts(store: "WooSandbox") -> dict[str, int]:
    return {}


def register(app: FastAPI, store: "WooSandbox") -> None:
    @app.post("/_sandbox/checkout")
    async def checkout(request: Request) -> JSONResponse:
        try:
            order = place_order(store, _parse(await request.body()), request)
        except CheckoutRefused as refused:
            store.ledger.record_create("order", "checkout", "rejected", None, code=refused.body["code"])
            return JSONResponse(refused.body, refused.status)
        store.ledger.record_create("order", "checkout", "created", order.id)
        for topic in ("order.created", "order.updated"):
            store.fire(topic, order.id)
        return JSONResponse(order_render.render_one(store, order), 201)


def place_order(store: "WooSandbox", cart: CheckoutRequest, request: Request) -> order_store.Order:
    """Check the cart, then create and pay the order — one transaction."""
    products = [_product(store, line) for line in cart.lines]
    if cart.payment_method not in GATEWAYS:
        raise CheckoutRefused(400, "invalid_payment_method",
                              f"Unknown payment method {cart.payment_method!r}; use one of {sorted(GATEWAYS)}.")
    body = {
        "line_items": [_line_item(product, line.quantity) for product, line in zip(products, cart.lines)],
        "billing": cart.billing, "shipping": cart.shipping if cart.shipping is not None else cart.billing,
        "shipping_lines": cart.shipping_lines, "coupon_lines": cart.coupon_lines,
        "payment_method": cart.payment_method, "payment_method_title": GATEWAYS[cart.payment_method],
        "customer_id": _customer_id(store, str(cart.billing.get("email") or "")), "customer_note": cart.customer_note,
    }
    extra = {"customer_ip_address": request.client.host if request.client else "",
             "customer_user_agent": request.headers.get("user-agent", SHOPPER_AGENT), "cart_hash": _cart_hash(cart)}
    with store.db.tx():
        _check_stock(store, products, cart.lines)
        try:
            order, _ = order_write.create_order(store, body, created_via="checkout", doc_extra=extra)
        except WooError as error:
            raise CheckoutRefused(400, error.code.removeprefix("woocommerce_rest_"), error.message) from None
        order_lifecycle.payment_complete(store, order)
        order_store.save(store, order)
    return order


def _parse(raw: bytes) -> CheckoutRequest:
    try:
        return CheckoutRequest.model_validate_json(raw or b"{}")
    except ValidationError as error:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in error.errors())
        raise CheckoutRefused(400, "invalid_request", problems) from None


def _product(store: "WooSandbox", line: CheckoutLine) -> Any:
    row = catalog.find_by_sku(store, normalise_sku(line.sku))
    if row is None:
        raise CheckoutRefused(400, "unknown_sku", f"No product has SKU {line.sku!r}.", sku=line.sku)
    if row["type"] == "variable" or row["status"] != "publish":
        raise CheckoutRefused(400, "not_purchasable", f"{line.sku!r} cannot be bought as such.", sku=line.sku)
    return row


def _check_stock(store: "WooSandbox", products: list[Any], lines: list[CheckoutLine]) -> None:
    """Short managed stock with backorders off, or an unmanaged `outofstock`, refuses the whole cart."""
    wanted: dict[int, int] = defaultdict(int)
    holders: dict[int, tuple[Any, str]] = {}
    for product, line in zip(products, lines):
        holder = catalog.stock_holder(store, product)
        wanted[holder["id"]] += line.quantity
        holders[holder["id"]] = (holder, line.sku)
    for holder_id, quantity in wanted.items():
        holder, sku = holders[holder_id]
        # read from the row, not a rendered product: the holder manages its own stock, or nothing manages it
        # (a "parent" variation's holder is its parent), so its own data is what `stock_view` would show
        data = loads(holder["data"])
        if catalog.manages_stock(holder):
            available = holder["stock_quantity"] or 0
            short = data.get("backorders", "no") == "no" and available < quantity
        else:
            available = 0
            short = data.get("stock_status", "instock") == "outofstock"
        if short:
            raise CheckoutRefused(409, "out_of_stock",
                                  f"Not enough stock for {sku}: {quantity} requested, {max(available, 0)} available.",
                                  sku=sku, requested=quantity, available=max(available, 0))


def _line_item(product: Any, quantity: int) -> dict[str, Any]:
    key = "variation_id" if product["type"] == "variation" else "product_id"
    return {key: product["id"], "quantity": quantity}


def _customer_id(store: "WooSandbox", email: str) -> int:
    return (customers.email_owner(store, email) or 0) if email else 0


def _cart_hash(cart: CheckoutRequest) -> str:
    contents = json.dumps([[line.sku, line.quantity] for line in cart.lines], separators=(",", ":"))
    return hashlib.md5(contents.encode(), usedforsecurity=False).hexdigest()
