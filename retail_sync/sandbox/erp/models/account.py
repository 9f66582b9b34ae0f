"""Taxes (`account.tax`) and customer invoices / credit notes (`account.move`, `account.move.line`).

A move is created in draft with the name "/" and gets its number when posted (`INV/2026/00001`, credit notes
`RINV/2026/00001`); `action_post` returns False, as Odoo's does. Line and document amounts follow the money
rule (see `money.py`) and are recomputed whenever a line, its taxes or its numbers change.
"""
from __future__ import annotations

import sqlite3
from typing import Any

from retail_sync.sandbox.erp import money
from retail_sync.sandbox.erp.errors import UserError
from retail_sync.sandbox.erp.orm.fields import (Boolean, Char, Computed, Date, Float, Integer, Many2many, Many2one,
                                                Monetary, One2many, Selection, Text)
from retail_sync.sandbox.erp.orm.model import BaseModel
from retail_sync.sandbox.erp.orm.reading import qmarks

SCHEMA = """
CREATE TABLE IF NOT EXISTS account_tax (
    id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT NOT NULL, amount REAL NOT NULL DEFAULT 0,
    amount_type TEXT NOT NULL DEFAULT 'percent', type_tax_use TEXT NOT NULL DEFAULT 'sale',
    sequence INTEGER NOT NULL DEFAULT 1, active INTEGER NOT NULL DEFAULT 1, create_date TEXT, write_date TEXT
);
CREATE TABLE IF NOT EXISTS account_move (
    id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT, move_type TEXT NOT NULL, state TEXT NOT NULL,
    partner_id INTEGER REFERENCES res_partner(id), invoice_date TEXT, date TEXT NOT NULL, invoice_origin TEXT,
    ref TEXT, narration TEXT, reversed_entry_id INTEGER REFERENCES account_move(id),
    amount_untaxed REAL NOT NULL DEFAULT 0, amount_tax REAL NOT NULL DEFAULT 0, amount_total REAL NOT NULL DEFAULT 0,
    amount_residual REAL NOT NULL DEFAULT 0, payment_state TEXT NOT NULL DEFAULT 'not_paid',
    posted_before INTEGER NOT NULL DEFAULT 0, create_date TEXT, write_date TEXT
);
CREATE INDEX IF NOT EXISTS ix_account_move_ref ON account_move (ref);
CREATE INDEX IF NOT EXISTS ix_account_move_origin ON account_move (invoice_origin);
CREATE INDEX IF NOT EXISTS ix_account_move_write_date ON account_move (write_date);
CREATE TABLE IF NOT EXISTS account_move_line (
    id INTEGER PRIMARY KEY AUTOINCREMENT, move_id INTEGER NOT NULL REFERENCES account_move(id) ON DELETE CASCADE,
    sequence INTEGER NOT NULL DEFAULT 10, product_id INTEGER REFERENCES product_product(id), name TEXT,
    quantity REAL NOT NULL DEFAULT 1, price_unit REAL NOT NULL DEFAULT 0, discount REAL NOT NULL DEFAULT 0,
    price_subtotal REAL NOT NULL DEFAULT 0, price_total REAL NOT NULL DEFAULT 0, create_date TEXT, write_date TEXT
);
CREATE INDEX IF NOT EXISTS ix_account_move_line_move ON account_move_line (move_id);
CREATE TABLE IF NOT EXISTS account_move_line_account_tax_rel (
    account_move_line_id INTEGER NOT NULL REFERENCES account_move_line(id) ON DELETE CASCADE,
    account_tax_id INTEGER NOT NULL REFERENCES account_tax(id) ON DELETE CASCADE,
    PRIMARY KEY (account_move_line_id, account_tax_id)
);
"""
TABLES = ("account_move_line_account_tax_rel", "account_move_line", "account_move", "account_tax")

# the money rule's two rates, with fixed ids so engine configuration can name them
TAXES = ((1, "19%", 19.0), (2, "7%", 7.0))
PREFIXES = {"out_invoice": "INV", "out_refund": "RINV", "entry": "MISC"}
DRAFT_LABELS = {"out_invoice": "Draft Invoice", "out_refund": "Draft Credit Note", "entry": "Draft Entry"}
PARTNER_LABELS = {"out_invoice": "Customer Invoice", "out_refund": "Customer Credit Note"}
LINE_FIELDS_OF_POSTED = {"invoice_line_ids", "partner_id", "move_type", "invoice_date", "date"}


class Tax(BaseModel):
    _name = "account.tax"
    _description = "Tax"
    _table = "account_tax"
    _order = "sequence, id"
    _field_specs = {
        "name": Char("Tax Name", required=True),
        "amount": Float("Amount"),
        "amount_type": Selection(("percent",), "Tax Computation", default="percent", required=True),
        "type_tax_use": Selection(("sale", "purchase", "none"), "Tax Type", default="sale", required=True),
        "sequence": Integer("Sequence", default=1),
        "active": Boolean("Active", default=True),
    }


def rates_by_line(env: Any, link: str, line_column: str, line_ids: list[int]) -> dict[int, list[float]]:
    """The tax rates (percent) of each line, from a line/tax link table."""
    rates: dict[int, list[float]] = {}
    if line_ids:
        sql = (f"SELECT l.{line_column}, t.amount FROM {link} l JOIN account_tax t ON t.id = l.account_tax_id"
               f" WHERE l.{line_column} IN ({qmarks(line_ids)})")
        for row in env.rows(sql, line_ids):
            rates.setdefault(row[0], []).append(row[1])
    return rates


class Move(BaseModel):
    _name = "account.move"
    _description = "Journal Entry"
    _table = "account_move"
    _order = "date desc, name desc, id desc"
    _rec_names_search = ("name", "ref")
    _actions = frozenset({"action_post"})
    _field_specs = {
        "name": Char("Number", computed=True, default="/"),
        "move_type": Selection(tuple(PREFIXES), "Type", required=True, default="entry"),
        "state": Selection(("draft", "posted", "cancel"), "Status", computed=True, default="draft"),
        "partner_id": Many2one("res.partner", "Partner"),
        "invoice_date": Date("Invoice/Bill Date"),
        "date": Date("Date", required=True, default=lambda env: env.today),
        "invoice_origin": Char("Origin"),
        "ref": Char("Reference"),
        "narration": Text("Terms and Conditions"),
        "reversed_entry_id": Many2one("account.move", "Reversal of"),
        "reversal_move_id": One2many("account.move", "reversed_entry_id", "Reversal Move"),
        "invoice_line_ids": One2many("account.move.line", "move_id", "Invoice lines"),
        "amount_untaxed": Monetary("Untaxed Amount"),
        "amount_tax": Monetary("Tax"),
        "amount_total": Monetary("Total"),
        "amount_residual": Monetary("Amount Due"),
        "payment_state": Selection(("not_paid", "paid"), "Payment Status", computed=True, default="not_paid"),
        "posted_before": Boolean("Posted Before", computed=True, default=False),
    }

    @classmethod
    def display_sql(cls, env: Any, alias: str) -> str:
        # Odoo's _get_move_display_name: "Draft Invoice (* 12)" until posted, then the number
        labels = " ".join(f"WHEN '{k}' THEN '{v} '" for k, v in DRAFT_LABELS.items())
        return (f"(CASE WHEN {alias}.state = 'draft' THEN (CASE {alias}.move_type {labels} ELSE '' END) ELSE '' END)"
                f" || (CASE WHEN {alias}.name IS NULL OR {alias}.name = '/' THEN '(* ' || {alias}.id || ')'"
                f" ELSE {alias}.name END)")

    def _before_write(self, ids: list[int], vals: dict[str, Any]) -> None:
        if LINE_FIELDS_OF_POSTED & set(vals):
            refuse_if_posted(self.env, ids)

    def _after_write(self, ids: list[int], names: set[str], created: bool) -> None:
        if created or "invoice_line_ids" in names:
            recompute_moves(self.env, ids)

    def _before_unlink(self, ids: list[int]) -> Any:
        if self.any_where(ids, "state != 'draft' OR posted_before = 1"):
            raise UserError("You cannot delete an entry which has been posted once.")
        return None

    def _ledger_key(self, vals: dict[str, Any]) -> str | None:
        return str(vals.get("ref") or vals.get("invoice_origin") or "(no reference)")

    # business methods ------------------------------------------------------------------------------------
    def action_post(self, ids: list[int]) -> bool:
        for move in self.records(ids):
            if move["state"] in ("posted", "cancel"):
                raise UserError(f"The entry {move['name']} (id {move['id']}) must be in draft.")
            if not self.env.scalar("SELECT 1 FROM account_move_line WHERE move_id = ? LIMIT 1", (move["id"],)):
                raise UserError("You need to add a line before posting.")
            if move["move_type"] in PARTNER_LABELS and move["partner_id"] is None:
                raise UserError(f"The field 'Customer' is required, please complete it to validate the "
                                f"{PARTNER_LABELS[move['move_type']]}.")
            invoice_date = move["invoice_date"] or self.env.today
            name = move["name"]
            if not name or name == "/":
                prefix = f"{PREFIXES[move['move_type']]}/{invoice_date[:4]}"
                name = f"{prefix}/{self.env.next_sequence(prefix):05d}"
            self.set_values([move["id"]], {
                "state": "posted", "posted_before": 1, "name": name, "date": invoice_date,
                "invoice_date": invoice_date if move["move_type"] in PARTNER_LABELS else move["invoice_date"],
            })
        return False


def refuse_if_posted(env: Any, move_ids: list[int]) -> None:
    if Move(env).any_where(move_ids, "state = 'posted'"):
        raise UserError("You cannot modify a posted entry; reset it to draft first.")


def recompute_moves(env: Any, move_ids: list[int]) -> None:
    recompute_amounts(env, move_ids, document="account_move", lines="account_move_line", parent="move_id",
                      quantity="quantity", tax_link=("account_move_line_account_tax_rel", "account_move_line_id"),
                      line_columns=("price_subtotal", "price_total"),
                      document_columns=("amount_untaxed", "amount_tax", "amount_total", "amount_residual"))


# The `money.Amounts` field each stored amount column holds (nothing is ever paid here: the residual is the total).
AMOUNT_COLUMNS = {"price_subtotal": "untaxed", "price_tax": "tax", "price_total": "total",
                  "amount_untaxed": "untaxed", "amount_tax": "tax", "amount_total": "total", "amount_residual": "total"}


def recompute_amounts(env: Any, document_ids: list[int], *, document: str, lines: str, parent: str, quantity: str,
                      tax_link: tuple[str, str], line_columns: tuple[str, ...],
                      document_columns: tuple[str, ...]) -> None:
    """Line amounts and the documents' totals from the lines' numbers and taxes (the money rule); each model
    stores its own subset of the amount columns."""
    if not document_ids:
        return
    rows = env.rows(f"SELECT id, {parent}, {quantity}, price_unit, discount FROM {lines}"
                    f" WHERE {parent} IN ({qmarks(document_ids)})", document_ids)
    rates = rates_by_line(env, *tax_link, [r["id"] for r in rows])
    per_document: dict[int, list[money.Amounts]] = {document_id: [] for document_id in document_ids}
    updates = []
    for line in rows:
        amounts = money.line_amounts(line["price_unit"], line[quantity], line["discount"], rates.get(line["id"], []))
        per_document[line[parent]].append(amounts)
        updates.append((*_values(amounts, line_columns), line["id"]))
    env.conn.executemany(f"UPDATE {lines} SET {_assignments(line_columns)} WHERE id = ?", updates)
    for document_id, amounts in per_document.items():
        totals = money.document_amounts(amounts)
        env.execute(f"UPDATE {document} SET {_assignments(document_columns)} WHERE id = ?",
                    (*_values(totals, document_columns), document_id))


def _assignments(columns: tuple[str, ...]) -> str:
    return ", ".join(f"{column} = ?" for column in columns)


def _values(amounts: money.Amounts, columns: tuple[str, ...]) -> list[float]:
    return [float(getattr(amounts, AMOUNT_COLUMNS[column])) for column in columns]


class MoveLine(BaseModel):
    _name = "account.move.line"
    _description = "Journal Item"
    _table = "account_move_line"
    _order = "move_id, sequence, id"
    _field_specs = {
        "move_id": Many2one("account.move", "Journal Entry", required=True),
        "sequence": Integer("Sequence", default=10),
        "product_id": Many2one("product.product", "Product"),
        "name": Char("Label"),
        "quantity": Float("Quantity", default=1.0),
        "price_unit": Float("Unit Price"),
        "discount": Float("Discount (%)", default=0.0),
        "tax_ids": Many2many("account.tax", ("account_move_line_account_tax_rel", "account_move_line_id",
                                             "account_tax_id"), "Taxes"),
        "price_subtotal": Monetary("Subtotal"),
        "price_total": Monetary("Total"),
        "parent_state": Computed("selection", "Status", lambda env, t: (
            f"(SELECT m.state FROM account_move m WHERE m.id = {t}.move_id)"), selection=("draft", "posted", "cancel")),
    }

    @classmethod
    def display_sql(cls, env: Any, alias: str) -> str:
        return f"COALESCE({alias}.name, '')"

    def _default_values(self, vals: dict[str, Any]) -> dict[str, Any]:
        return product_line_defaults(self.env, vals, price_field="price_unit", tax_field="tax_ids")

    def _before_write(self, ids: list[int], vals: dict[str, Any]) -> None:
        refuse_if_posted(self.env, self.distinct(ids, "move_id"))

    def _after_write(self, ids: list[int], names: set[str], created: bool) -> None:
        moves = self.distinct(ids, "move_id")
        if created:
            refuse_if_posted(self.env, moves)
        recompute_moves(self.env, moves)

    def _before_unlink(self, ids: list[int]) -> Any:
        moves = self.distinct(ids, "move_id")
        refuse_if_posted(self.env, moves)
        return moves

    def _after_unlink(self, memo: Any) -> None:
        recompute_moves(self.env, memo)


def product_line_defaults(env: Any, vals: dict[str, Any], *, price_field: str, tax_field: str) -> dict[str, Any]:
    """What Odoo fills in from a line's product when the caller leaves it out: label, list price, sales taxes."""
    product_id = vals.get("product_id")
    if not isinstance(product_id, int) or isinstance(product_id, bool):
        return vals
    product = env.rows("SELECT name, default_code, list_price FROM product_product WHERE id = ?", (product_id,))
    if not product:
        return vals  # the reference check reports the missing product
    row = product[0]
    filled = dict(vals)
    if not filled.get("name"):
        filled["name"] = f"[{row['default_code']}] {row['name']}" if row["default_code"] else row["name"]
    filled.setdefault(price_field, row["list_price"])
    if tax_field not in filled:
        taxes = [r[0] for r in env.rows("SELECT tax_id FROM product_taxes_rel WHERE prod_id = ?", (product_id,))]
        filled[tax_field] = [(6, 0, taxes)]
    return filled


MODELS = (Tax, Move, MoveLine)


def install(conn: sqlite3.Connection, now: str) -> None:
    conn.executemany("INSERT OR IGNORE INTO account_tax (id, name, amount, amount_type, type_tax_use, create_date,"
                     " write_date) VALUES (?, ?, ?, 'percent', 'sale', ?, ?)",
                     [(tax_id, name, amount, now, now) for tax_id, name, amount in TAXES])
