"""Creating and updating an order from a REST body, as `WC_REST_Orders_Controller::save_object()` does
(reference §2.6).

- `PUT` is partial: items without `id` are added, with `id` updated (an unknown id is 400
  `woocommerce_rest_invalid_item_id`), `quantity: 0` or a null reference removes one; a product is referenced by
  `sku` (wins) or `product_id`/`variation_id`. A line is priced from its product only when it is added — an
  update keeps the amounts unless `subtotal`/`total` are sent — and an updated line on an order that reduced
  stock moves stock by the difference.
- `meta_data` is upserted by id, else by key.
- Totals are recalculated when addresses or items were sent; `coupon_lines` replaces the order's coupons.
- `status` is applied last (with its hooks and note); `set_paid: true` completes payment only when creating or
  when the order needs payment.

Everything that can be refused is checked before anything moves, so a refused write changes nothing.
The caller holds the transaction and fires the returned webhook topics after the commit.
"""
from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Any

from retail_sync.sandbox.woocommerce import catalog, money, order_lifecycle, order_store, order_totals, stock_rules
from retail_sync.sandbox.woocommerce.order_store import ORDER, Order
from retail_sync.sandbox.woocommerce.query_params import bad, bool_value, int_value, php_list
from retail_sync.sandbox.woocommerce.rest import WooError

if TYPE_CHECKING:
    from retail_sync.sandbox.woocommerce.app import WooSandbox

ITEM_LISTS = ("line_items", "shipping_lines", "fee_lines")
RECALCULATE_ON = ("billing", "shipping", "line_items", "shipping_lines", "fee_lines", "coupon_lines")
SCALARS = ("currency", "customer_note", "payment_method", "payment_method_title", "transaction_id")
NULL_REFERENCES = ("product_id", "method_id", "method_title", "name", "code")
# shipping and fee lines: (a new line's fields after its id, in WooCommerce's order; the string fields a body sets)
CHARGE_LINES = {
    "shipping_lines": ({"method_title": "", "method_id": "", "instance_id": "", "total": "0.00", "total_tax": "0.00",
                        "taxes": [], "meta_data": []}, ("method_id", "method_title", "instance_id")),
    "fee_lines": ({"name": "", "tax_class": "", "tax_status": "taxable", "amount": "", "total": "0.00",
                   "total_tax": "0.00", "taxes": [], "meta_data": []}, ("name", "tax_class", "tax_status")),
}


def create_order(store: "WooSandbox", body: dict[str, Any], created_via: str = "rest-api",
                 doc_extra: dict[str, Any] | None = None) -> tuple[Order, list[str]]:
    """A new order (created, totals, status, payment) → (order, webhook topics to fire after commit)."""
    validate_body(body)
    now = order_store.now_gmt(store)
    order = Order(id=0, type=ORDER, parent_id=0, status="pending", customer_id=0, created_via=created_via,
                  date_created_gmt=now, date_modified_gmt=now, doc=order_store.new_order_doc(created_via))
    order.doc.update(doc_extra or {})
    coupons = _prevalidate(store, order, body)
    order_store.insert(store, order)
    _apply(store, order, body)
    order_totals.recalculate(store, order, coupons)
    status = body.get("status")
    if status:
        order_lifecycle.set_status(store, order, status)
    if body.get("set_paid") is True:
        order_lifecycle.payment_complete(store, order, body.get("transaction_id") or "")
    order_store.save(store, order)
    topics = [] if order.status in order_lifecycle.DRAFT_STATUSES else ["order.created"]
    return order, [*topics, "order.updated"]


def update_order(store: "WooSandbox", order_id: int, body: dict[str, Any]) -> tuple[Order, list[str]]:
    """Apply a partial update → (order, webhook topics to fire after commit). Unknown id: 400, as WooCommerce."""
    order = order_store.load(store, order_id)
    if order is None:
        raise WooError(400, "woocommerce_rest_shop_order_invalid_id", "Invalid ID.")
    validate_body(body)
    coupons = _prevalidate(store, order, body)
    was_trashed = order.status == "trash"
    _apply(store, order, body)
    if any(body.get(key) is not None for key in RECALCULATE_ON):
        order_totals.recalculate(store, order, coupons)
    status = body.get("status")
    if status:
        order_lifecycle.set_status(store, order, status)
    order.date_modified_gmt = order_store.now_gmt(store)
    order_store.save(store, order)
    if body.get("set_paid") is True and order_lifecycle.needs_payment(order):
        order_lifecycle.payment_complete(store, order, body.get("transaction_id") or "")
        order_store.save(store, order)
    restored = was_trashed and order.status != "trash"
    return order, ["order.restored", "order.updated"] if restored else ["order.updated"]


# ---- checks --------------------------------------------------------------------------------------------------------
def validate_body(body: dict[str, Any]) -> None:
    """What WordPress checks against the schema before the controller runs (400 `rest_invalid_param`)."""
    status = body.get("status")
    if status is not None and status not in order_lifecycle.WRITABLE_STATUSES:
        allowed = php_list(order_lifecycle.WRITABLE_STATUSES)
        raise bad("status", "rest_not_in_enum", f"status is not one of {allowed}.")
    for name in ("customer_id", "parent_id"):
        int_value(body.get(name), name)
    bool_value(body.get("set_paid"), "set_paid", default=False)
    for name in ("billing", "shipping"):
        if body.get(name) is not None and not isinstance(body[name], dict):
            raise bad(name, "rest_invalid_type", f"{name} is not of type object.")
    for name in (*ITEM_LISTS, "coupon_lines", "meta_data"):
        value = body.get(name)
        if value is not None and not isinstance(value, list):
            raise bad(name, "rest_invalid_type", f"{name} is not of type array.")
    for index, item in enumerate(body.get("line_items") or []):
        if isinstance(item, dict) and item.get("quantity") is not None:
            int_value(item["quantity"], f"line_items[{index}][quantity]")


def _prevalidate(store: "WooSandbox", order: Order, body: dict[str, Any]) -> list[Any] | None:
    """The controller's own refusals, in its order (items, customer, coupons); returns the coupons to apply."""
    for key in ITEM_LISTS:
        known = {item["id"] for item in order.doc[key]}
        for posted in _posted_items(body, key):
            if _removes(posted):
                continue
            if posted.get("id"):
                if posted["id"] not in known:
                    raise WooError(400, "woocommerce_rest_invalid_item_id",
                                   "Order item ID provided is not associated with order.")
            elif key == "line_items" and not (posted.get("sku") or posted.get("product_id")
                                              or posted.get("variation_id")):
                raise WooError(400, "woocommerce_rest_required_product_reference", "Product ID or SKU is required.")
            elif key == "shipping_lines" and not posted.get("method_id"):
                raise WooError(400, "woocommerce_rest_invalid_shipping_item", "Shipping method ID is required.")
            elif key == "fee_lines" and not posted.get("name"):
                raise WooError(400, "woocommerce_rest_invalid_fee_item", "Fee name is required.")
    customer_id = int_value(body.get("customer_id"), "customer_id")
    if customer_id and store.db.one("SELECT 1 FROM customers WHERE id = ?", (customer_id,)) is None:
        raise WooError(400, "woocommerce_rest_invalid_customer_id", "Customer ID is invalid.")
    if body.get("coupon_lines") is None:
        return None
    coupons, codes = [], []
    for posted in body["coupon_lines"]:
        if not isinstance(posted, dict):
            continue
        if posted.get("id"):
            raise WooError(400, "woocommerce_rest_coupon_item_id_readonly", "Coupon item ID is readonly.")
        if not posted.get("code"):
            raise WooError(400, "woocommerce_rest_invalid_coupon", "Coupon code is required.")
        code = money.normalise_coupon_code(posted["code"])
        coupon = money.find_coupon(store, code)
        if coupon is None:
            raise WooError(400, "woocommerce_rest_invalid_coupon", f'Coupon "{code}" does not exist!')
        if code in codes:
            raise WooError(400, "woocommerce_rest_invalid_coupon", "Coupon code already applied!")
        codes.append(code)
        coupons.append(coupon)
    return coupons


# ---- applying ------------------------------------------------------------------------------------------------------
def _apply(store: "WooSandbox", order: Order, body: dict[str, Any]) -> None:
    doc = order.doc
    for name in SCALARS:
        if body.get(name) is not None:
            doc[name] = str(body[name])
    if body.get("customer_id") is not None:
        order.customer_id = int_value(body["customer_id"], "customer_id") or 0
    if body.get("parent_id") is not None:
        order.parent_id = int_value(body["parent_id"], "parent_id") or 0
    for kind in ("billing", "shipping"):
        for key, value in (body.get(kind) or {}).items():
            if key in doc[kind]:
                doc[kind][key] = "" if value is None else str(value)
    for meta in body.get("meta_data") or []:
        if isinstance(meta, dict) and meta.get("key") is not None:
            order_store.update_meta(store, doc["meta_data"], str(meta["key"]), meta.get("value"), meta.get("id"))
    for key in ITEM_LISTS:
        for posted in _posted_items(body, key):
            if _removes(posted):
                doc[key] = [item for item in doc[key] if item["id"] != posted.get("id")]
                continue
            existing = next((item for item in doc[key] if item["id"] == posted.get("id")), None)
            if key == "line_items":
                _set_line_item(store, order, posted, existing)
            else:
                _set_charge_line(store, order, key, posted, existing)


def _set_line_item(store: "WooSandbox", order: Order, posted: dict[str, Any], item: dict[str, Any] | None) -> None:
    creating = item is None
    if item is None:
        item = {"id": order_store.next_id(store, "item"), "name": "", "product_id": 0, "variation_id": 0,
                "quantity": 1, "tax_class": "", "subtotal": "0.00", "total": "0.00", "subtotal_tax": "0.00",
                "total_tax": "0.00", "taxes": [], "meta_data": []}
        order.line_items.append(item)
    product = _referenced_product(store, posted)
    if product is not None:
        is_variation = product["type"] == "variation"
        item["product_id"] = product["parent_id"] if is_variation else product["id"]
        item["variation_id"] = product["id"] if is_variation else 0
        item["name"] = catalog.product_name(product)
        item["tax_class"] = catalog.product_tax_class(product)
        if creating:
            quantity = int_value(posted.get("quantity"), "quantity")
            line_total = money.money(catalog.product_price(product) * (1 if quantity is None else quantity))
            item["subtotal"] = item["total"] = line_total
    if posted.get("name") is not None:
        item["name"] = str(posted["name"])
    if posted.get("quantity") is not None:
        item["quantity"] = int_value(posted["quantity"], "quantity")
    for prop in ("total", "subtotal"):
        if posted.get(prop) is not None:
            item[prop] = money.money(money.to_decimal(posted[prop]))
    if posted.get("tax_class") is not None:
        item["tax_class"] = str(posted["tax_class"])
    _set_item_meta(store, item, posted)
    if not creating:
        stock_rules.adjust_line(store, order, item)


def _set_charge_line(store: "WooSandbox", order: Order, kind: str, posted: dict[str, Any],
                     line: dict[str, Any] | None) -> None:
    """A shipping or fee line: new ones start from the blank line, then posted strings, total and meta."""
    blank, strings = CHARGE_LINES[kind]
    if line is None:
        line = {"id": order_store.next_id(store, "item"), **copy.deepcopy(blank)}
        order.doc[kind].append(line)
    for prop in strings:
        if posted.get(prop) is not None:
            line[prop] = str(posted[prop])
    if posted.get("total") is not None:
        line["total"] = money.money(money.to_decimal(posted["total"]))
    _set_item_meta(store, line, posted)


def _set_item_meta(store: "WooSandbox", item: dict[str, Any], posted: dict[str, Any]) -> None:
    for meta in posted.get("meta_data") or []:
        if isinstance(meta, dict) and meta.get("key") is not None:
            order_store.update_meta(store, item["meta_data"], str(meta["key"]), meta.get("value"), meta.get("id"),
                                    sequence="item_meta")


def _referenced_product(store: "WooSandbox", posted: dict[str, Any]) -> Any:
    """`get_product_id()`: `sku` wins, then `product_id` (without `variation_id`), then `variation_id`. An
    unknown SKU or id gives no product: the line is kept, unpriced, as WooCommerce keeps it."""
    if posted.get("sku"):
        return catalog.find_by_sku(store, str(posted["sku"]))
    product_id = posted.get("variation_id") or posted.get("product_id")
    if not product_id:
        return None
    return catalog.product_row(store, int_value(product_id, "product_id"))


def _posted_items(body: dict[str, Any], key: str) -> list[dict[str, Any]]:
    """The posted items of one list, with a numeric `id` read as an integer (PHP's absint)."""
    items = []
    for item in body.get(key) or []:
        if isinstance(item, dict):
            raw_id = item.get("id")
            numeric = isinstance(raw_id, (int, str)) and not isinstance(raw_id, bool) and str(raw_id).isdigit()
            items.append({**item, "id": int(raw_id)} if numeric else item)
    return items


def _removes(posted: dict[str, Any]) -> bool:
    """`item_is_null()` or `quantity: 0` (an unknown id is then ignored, as `remove_item()` ignores it)."""
    quantity = posted.get("quantity")
    zero = quantity == 0 and not isinstance(quantity, bool)
    return zero or any(key in posted and posted[key] is None for key in NULL_REFERENCES)

