"""Sales orders (`sale.order`, `sale.order.line`).

Odoo has no idempotency on create: two creates with the same `client_order_ref` make two orders, so the engine
must search first; every create is written to the ledger under its `client_order_ref` to expose duplicates.
`action_confirm` reserves stock and sets state `sale`; `action_cancel` on a confirmed order answers with
Odoo's cancel-wizard action and changes nothing unless the context carries `disable_cancel_warning`, exactly as
Odoo 17 does; with it (or on a quotation) it releases the reservations and sets state `cancel`.
"""
from __future__ import annotations

from typing import Any

from retail_sync.sandbox.erp.errors import UserError, ValidationError
from retail_sync.sandbox.erp.models.account import product_line_defaults, recompute_amounts
from retail_sync.sandbox.erp.models.stock import release, reserve
from retail_sync.sandbox.erp.orm.fields import (Char, Computed, Datetime, Float, Integer, Many2many, Many2one,
                                                Monetary, One2many, Selection, Text)
from retail_sync.sandbox.erp.orm.model import BaseModel
from retail_sync.sandbox.erp.orm.reading import qmarks

SCHEMA = """
CREATE TABLE IF NOT EXISTS sale_order (
    id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT NOT NULL, partner_id INTEGER NOT NULL REFERENCES res_partner(id),
    partner_invoice_id INTEGER REFERENCES res_partner(id), partner_shipping_id INTEGER REFERENCES res_partner(id),
    client_order_ref TEXT, origin TEXT, state TEXT NOT NULL, date_order TEXT NOT NULL,
    warehouse_id INTEGER REFERENCES stock_warehouse(id), note TEXT,
    amount_untaxed REAL NOT NULL DEFAULT 0, amount_tax REAL NOT NULL DEFAULT 0, amount_total REAL NOT NULL DEFAULT 0,
    create_date TEXT, write_date TEXT
);
CREATE INDEX IF NOT EXISTS ix_sale_order_client_ref ON sale_order (client_order_ref);
CREATE INDEX IF NOT EXISTS ix_sale_order_state ON sale_order (state);
CREATE INDEX IF NOT EXISTS ix_sale_order_write_date ON sale_order (write_date);
CREATE TABLE IF NOT EXISTS sale_order_line (
    id INTEGER PRIMARY KEY AUTOINCREMENT, order_id INTEGER NOT NULL REFERENCES sale_order(id) ON DELETE CASCADE,
    sequence INTEGER NOT NULL DEFAULT 10, product_id INTEGER REFERENCES product_product(id), name TEXT NOT NULL,
    product_uom_qty REAL NOT NULL DEFAULT 1, price_unit REAL NOT NULL DEFAULT 0, discount REAL NOT NULL DEFAULT 0,
    price_subtotal REAL NOT NULL DEFAULT 0, price_tax REAL NOT NULL DEFAULT 0, price_total REAL NOT NULL DEFAULT 0,
    create_date TEXT, write_date TEXT
);
CREATE INDEX IF NOT EXISTS ix_sale_order_line_order ON sale_order_line (order_id);
CREATE INDEX IF NOT EXISTS ix_sale_order_line_product ON sale_order_line (product_id);
CREATE TABLE IF NOT EXISTS account_tax_sale_order_line_rel (
    sale_order_line_id INTEGER NOT NULL REFERENCES sale_order_line(id) ON DELETE CASCADE,
    account_tax_id INTEGER NOT NULL REFERENCES account_tax(id) ON DELETE CASCADE,
    PRIMARY KEY (sale_order_line_id, account_tax_id)
);
"""
TABLES = ("account_tax_sale_order_line_rel", "sale_order_line", "sale_order")
STOCK_FIELDS = {"order_line", "warehouse_id", "product_id", "product_uom_qty"}
CANCEL_WIZARD_VIEW_ID = 1588  # the id `sale.sale_order_cancel_view_form` has in a stock Odoo 17 database


def _default_warehouse(env: Any) -> int | bool:
    found = env.scalar("SELECT id FROM stock_warehouse WHERE active = 1 ORDER BY sequence, id LIMIT 1")
    return found if found is not None else False


class SaleOrder(BaseModel):
    _name = "sale.order"
    _description = "Sales Order"
    _table = "sale_order"
    _order = "date_order desc, id desc"
    _rec_names_search = ("name", "client_order_ref")
    _actions = frozenset({"action_confirm", "action_cancel", "action_draft"})
    _field_specs = {
        "name": Char("Order Reference", required=True, default="New"),
        "partner_id": Many2one("res.partner", "Customer", required=True),
        "partner_invoice_id": Many2one("res.partner", "Invoice Address"),
        "partner_shipping_id": Many2one("res.partner", "Delivery Address"),
        "client_order_ref": Char("Customer Reference"),
        "origin": Char("Source Document"),
        "state": Selection(("draft", "sent", "sale", "cancel"), "Status", computed=True, default="draft"),
        "date_order": Datetime("Order Date", required=True, default=lambda env: env.now),
        "warehouse_id": Many2one("stock.warehouse", "Warehouse", default=_default_warehouse),
        "note": Text("Terms and conditions"),
        "order_line": One2many("sale.order.line", "order_id", "Order Lines"),
        "amount_untaxed": Monetary("Untaxed Amount"),
        "amount_tax": Monetary("Taxes"),
        "amount_total": Monetary("Total"),
    }

    def _default_values(self, vals: dict[str, Any]) -> dict[str, Any]:
        filled = dict(vals)
        if filled.get("name") in (None, False, "New"):
            filled["name"] = f"S{self.env.next_sequence('sale.order'):05d}"
        for address in ("partner_invoice_id", "partner_shipping_id"):
            if not filled.get(address):
                filled[address] = filled.get("partner_id", False)
        return filled

    def _after_write(self, ids: list[int], names: set[str], created: bool) -> None:
        if created or "order_line" in names:
            recompute_orders(self.env, ids)
        if not created and names & STOCK_FIELDS:
            rereserve(self.env, ids)

    def _before_unlink(self, ids: list[int]) -> Any:
        if self.any_where(ids, "state NOT IN ('draft', 'cancel')"):
            raise UserError("You can not delete a sent quotation or a confirmed sales order. You must first cancel it.")
        return None

    def _ledger_key(self, vals: dict[str, Any]) -> str | None:
        return str(vals.get("client_order_ref") or vals["name"])

    # business methods ------------------------------------------------------------------------------------
    def action_confirm(self, ids: list[int]) -> bool:
        if any(order["state"] not in ("draft", "sent") for order in self.records(ids)):
            raise UserError("Some orders are not in a state requiring confirmation.")
        self.set_values(ids, {"state": "sale", "date_order": self.env.now})
        reserve(self.env, ids)
        return True

    def action_cancel(self, ids: list[int]) -> bool | dict[str, Any]:
        orders = self.records(ids)
        if not self.env.context.get("disable_cancel_warning") and any(o["state"] != "draft" for o in orders):
            if len(orders) != 1:
                raise ValueError(f"Expected singleton: sale.order({', '.join(map(str, ids))},)")
            return _cancel_wizard(orders[0])
        release(self.env, ids)
        self.set_values(ids, {"state": "cancel"})
        return True

    def action_draft(self, ids: list[int]) -> bool:
        orders = [o["id"] for o in self.records(ids) if o["state"] in ("cancel", "sent")]
        if orders:
            self.set_values(orders, {"state": "draft"})
        return True


def _cancel_wizard(order: Any) -> dict[str, Any]:
    """The window action Odoo 17 answers `action_cancel` with for a non-draft order (nothing is cancelled)."""
    type_name = "Quotation" if order["state"] in ("draft", "sent", "cancel") else "Sales Order"
    return {
        "name": f"Cancel {type_name}", "view_mode": "form", "res_model": "sale.order.cancel",
        "view_id": CANCEL_WIZARD_VIEW_ID, "type": "ir.actions.act_window", "target": "new",
        "context": {"default_template_id": False, "default_order_id": order["id"], "mark_so_as_canceled": True,
                    "default_email_layout_xmlid": "mail.mail_notification_layout_with_responsible_signature",
                    "model_description": type_name},
    }


def recompute_orders(env: Any, order_ids: list[int]) -> None:
    recompute_amounts(env, order_ids, document="sale_order", lines="sale_order_line", parent="order_id",
                      quantity="product_uom_qty", tax_link=("account_tax_sale_order_line_rel", "sale_order_line_id"),
                      line_columns=("price_subtotal", "price_tax", "price_total"),
                      document_columns=("amount_untaxed", "amount_tax", "amount_total"))


def rereserve(env: Any, order_ids: list[int]) -> None:
    """A confirmed order whose lines changed holds what its new lines need (as far as stock goes)."""
    confirmed = [r[0] for r in env.rows(f"SELECT id FROM sale_order WHERE id IN ({qmarks(order_ids)})"
                                        " AND state = 'sale'", order_ids)]
    if confirmed:
        release(env, confirmed)
        reserve(env, confirmed)


class SaleOrderLine(BaseModel):
    _name = "sale.order.line"
    _description = "Sales Order Line"
    _table = "sale_order_line"
    _order = "order_id, sequence, id"
    _field_specs = {
        "order_id": Many2one("sale.order", "Order Reference", required=True),
        "sequence": Integer("Sequence", default=10),
        "product_id": Many2one("product.product", "Product"),
        "name": Text("Description", required=True),
        "product_uom_qty": Float("Quantity", default=1.0),
        "price_unit": Float("Unit Price"),
        "discount": Float("Discount (%)", default=0.0),
        "tax_id": Many2many("account.tax", ("account_tax_sale_order_line_rel", "sale_order_line_id",
                                            "account_tax_id"), "Taxes"),
        "price_subtotal": Monetary("Subtotal"),
        "price_tax": Monetary("Total Tax"),
        "price_total": Monetary("Total"),
        "state": Computed("selection", "Order Status", lambda env, t: (
            f"(SELECT o.state FROM sale_order o WHERE o.id = {t}.order_id)"), selection=("draft", "sent", "sale",
                                                                                        "cancel")),
    }

    @classmethod
    def display_sql(cls, env: Any, alias: str) -> str:
        return (f"(SELECT o.name FROM sale_order o WHERE o.id = {alias}.order_id) || ' - ' || "
                f"COALESCE({alias}.name, '')")

    def _default_values(self, vals: dict[str, Any]) -> dict[str, Any]:
        return product_line_defaults(self.env, vals, price_field="price_unit", tax_field="tax_id")

    def _after_write(self, ids: list[int], names: set[str], created: bool) -> None:
        if self.any_where(ids, "product_id IS NULL"):
            raise ValidationError("The operation cannot be completed: Missing required fields on accountable sale "
                                  "order line.")
        orders = self.distinct(ids, "order_id")
        recompute_orders(self.env, orders)
        if created or names & STOCK_FIELDS:
            rereserve(self.env, orders)

    def _before_unlink(self, ids: list[int]) -> Any:
        orders = self.distinct(ids, "order_id")
        if SaleOrder(self.env).any_where(orders, "state = 'sale'"):
            raise UserError("Once a sales order is confirmed, you can't remove one of its lines (we need to track if "
                            "something gets invoiced or delivered).\nSet the quantity to 0 instead.")
        return orders

    def _after_unlink(self, memo: Any) -> None:
        recompute_orders(self.env, memo)


MODELS = (SaleOrder, SaleOrderLine)
