"""Order status transitions and payment, as `WC_Order::set_status()` / `status_transition()` /
`payment_complete()` run them (reference §2.6, §3).

There are no transition rules (any status to any status). Entering a status runs its hooks first — stock
reduced or restored, the automatic refund of `refunded` — and then the system note "Order status changed from X
to Y." is written. `date_paid` is set on entering processing or completed, `date_completed` on completed.

The WooCommerce action hooks of a transition fire here, so `action.<hook>` webhooks can listen to them (their
payload is `{"action": hook, "arg": order id}`): `woocommerce_order_status_{to}`, then
`woocommerce_order_status_{from}_to_{to}` and `woocommerce_order_status_changed`, and
`woocommerce_payment_complete` after a completed payment. They go into the hook log with the transaction, so a
write that fails fires none of them.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from retail_sync.sandbox.woocommerce import notes, order_store, stock_rules
from retail_sync.sandbox.woocommerce.money import to_decimal

if TYPE_CHECKING:
    from retail_sync.sandbox.woocommerce.app import WooSandbox
    from retail_sync.sandbox.woocommerce.order_store import Order

STATUS_LABELS = {
    "pending": "Pending payment", "processing": "Processing", "on-hold": "On hold", "completed": "Completed",
    "cancelled": "Cancelled", "refunded": "Refunded", "failed": "Failed", "checkout-draft": "Draft",
}
# the statuses a REST write may set (the schema's enum: `auto-draft` + the registered order statuses)
WRITABLE_STATUSES = ("auto-draft", *STATUS_LABELS)
DRAFT_STATUSES = ("auto-draft", "checkout-draft")  # never announced by `order.created`
PAYABLE_STATUSES = ("pending", "failed")  # needs_payment()
PAYMENT_COMPLETE_FROM = ("on-hold", "pending", "failed", "cancelled")
EDITABLE_STATUSES = ("pending", "on-hold", "auto-draft", "checkout-draft")
PAID_STATUSES = ("processing", "completed")


def label(status: str) -> str:
    """`wc_get_order_status_name()`: the label, or the slug itself for a status it does not know."""
    return STATUS_LABELS.get(status, status)


def set_status(store: "WooSandbox", order: "Order", new_status: str) -> None:
    old_status = order.status
    if new_status == old_status:
        return
    order.status = new_status
    now = order_store.now_gmt(store)
    if new_status in PAID_STATUSES and not order.doc["date_paid_gmt"]:
        order.doc["date_paid_gmt"] = now
    if new_status == "completed" and not order.doc["date_completed_gmt"]:
        order.doc["date_completed_gmt"] = now
    if new_status in stock_rules.REDUCING_STATUSES:
        stock_rules.reduce_levels(store, order)
    elif new_status in stock_rules.RESTORING_STATUSES:
        stock_rules.restore_levels(store, order)
    elif new_status == "refunded":
        # imported here because refunds builds on this module (a full refund sets the status to refunded)
        from retail_sync.sandbox.woocommerce import refunds

        refunds.refund_remainder(store, order)
    notes.add_note(store, order.id, f"Order status changed from {label(old_status)} to {label(new_status)}.")
    # `status_transition()`: the sandbox's orders always have a previous status, so all three hooks fire
    for hook in (f"woocommerce_order_status_{new_status}", f"woocommerce_order_status_{old_status}_to_{new_status}",
                 "woocommerce_order_status_changed"):
        store.fire(f"action.{hook}", order.id)


def needs_payment(order: "Order") -> bool:
    return order.status in PAYABLE_STATUSES and to_decimal(order.total) > 0


def needs_processing(store: "WooSandbox", order: "Order") -> bool:
    """True when a line sells a product that still exists (every product here is physical)."""
    return any(stock_rules.line_product(store, item) is not None for item in order.line_items)


def payment_complete(store: "WooSandbox", order: "Order", transaction_id: str = "") -> None:
    """`WC_Order::payment_complete()`: only from on-hold/pending/failed/cancelled; processing (or completed when
    nothing needs processing), `date_paid`, stock reduced."""
    if order.status not in PAYMENT_COMPLETE_FROM:
        return
    if transaction_id:
        order.doc["transaction_id"] = transaction_id
    if not order.doc["date_paid_gmt"]:
        order.doc["date_paid_gmt"] = order_store.now_gmt(store)
    set_status(store, order, "processing" if needs_processing(store, order) else "completed")
    stock_rules.reduce_levels(store, order)
    store.fire("action.woocommerce_payment_complete", order.id)
