"""Contacts (`res.partner`) and the countries their addresses point at (`res.country`)."""
from __future__ import annotations

import sqlite3
from typing import Any

from retail_sync.sandbox.erp.errors import ValidationError
from retail_sync.sandbox.erp.orm.fields import Boolean, Char, Computed, Many2one, One2many, Selection, Text
from retail_sync.sandbox.erp.orm.model import BaseModel

SCHEMA = """
CREATE TABLE IF NOT EXISTS res_country (
    id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT NOT NULL, code TEXT NOT NULL UNIQUE,
    create_date TEXT, write_date TEXT
);
CREATE TABLE IF NOT EXISTS res_partner (
    id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT, email TEXT, phone TEXT, mobile TEXT,
    street TEXT, street2 TEXT, city TEXT, zip TEXT, country_id INTEGER REFERENCES res_country(id),
    ref TEXT, vat TEXT, is_company INTEGER NOT NULL DEFAULT 0, type TEXT, comment TEXT,
    parent_id INTEGER REFERENCES res_partner(id) ON DELETE SET NULL, active INTEGER NOT NULL DEFAULT 1,
    create_date TEXT, write_date TEXT
);
CREATE INDEX IF NOT EXISTS ix_res_partner_email ON res_partner (email);
CREATE INDEX IF NOT EXISTS ix_res_partner_ref ON res_partner (ref);
CREATE INDEX IF NOT EXISTS ix_res_partner_write_date ON res_partner (write_date);
"""
TABLES = ("res_partner", "res_country")

# (code, name): the countries a fresh sandbox knows; addresses elsewhere need a country created first
COUNTRIES = (
    ("AT", "Austria"), ("BE", "Belgium"), ("BG", "Bulgaria"), ("CH", "Switzerland"), ("CY", "Cyprus"),
    ("CZ", "Czech Republic"), ("DE", "Germany"), ("DK", "Denmark"), ("EE", "Estonia"), ("ES", "Spain"),
    ("FI", "Finland"), ("FR", "France"), ("GB", "United Kingdom"), ("GR", "Greece"), ("HR", "Croatia"),
    ("HU", "Hungary"), ("IE", "Ireland"), ("IS", "Iceland"), ("IT", "Italy"), ("LI", "Liechtenstein"),
    ("LT", "Lithuania"), ("LU", "Luxembourg"), ("LV", "Latvia"), ("MT", "Malta"), ("NL", "Netherlands"),
    ("NO", "Norway"), ("PL", "Poland"), ("PT", "Portugal"), ("RO", "Romania"), ("SE", "Sweden"),
    ("SI", "Slovenia"), ("SK", "Slovakia"), ("US", "United States"), ("CA", "Canada"), ("AU", "Australia"),
    ("NZ", "New Zealand"), ("JP", "Japan"), ("CN", "China"), ("IN", "India"), ("BR", "Brazil"),
    ("MX", "Mexico"), ("TR", "Turkey"), ("UA", "Ukraine"), ("ZA", "South Africa"), ("SG", "Singapore"),
)


class Country(BaseModel):
    _name = "res.country"
    _description = "Country"
    _table = "res_country"
    _order = "name"
    _rec_names_search = ("name", "code")
    _field_specs = {"name": Char("Country Name", required=True), "code": Char("Country Code", required=True)}


class Partner(BaseModel):
    _name = "res.partner"
    _description = "Contact"
    _table = "res_partner"
    _order = "name, id desc"
    _rec_names_search = ("name", "email", "ref", "vat")
    _field_specs = {
        "name": Char("Name"),
        "email": Char("Email"),
        "phone": Char("Phone"),
        "mobile": Char("Mobile"),
        "street": Char("Street"),
        "street2": Char("Street2"),
        "city": Char("City"),
        "zip": Char("Zip"),
        "country_id": Many2one("res.country", "Country"),
        "country_code": Computed("char", "Country Code",
                                 lambda env, t: f"(SELECT c.code FROM res_country c WHERE c.id = {t}.country_id)"),
        "ref": Char("Reference"),
        "vat": Char("Tax ID"),
        "is_company": Boolean("Is a Company", default=False),
        "type": Selection(("contact", "invoice", "delivery", "other"), "Address Type", default="contact"),
        "comment": Text("Notes"),
        "parent_id": Many2one("res.partner", "Related Company"),
        "child_ids": One2many("res.partner", "parent_id", "Contact"),
        "active": Boolean("Active", default=True),
    }

    @classmethod
    def display_sql(cls, env: Any, alias: str) -> str:
        # like Odoo's complete_name: "Company, Contact" for a contact of a company
        return (f"CASE WHEN {alias}.parent_id IS NULL THEN COALESCE({alias}.name, '') ELSE "
                f"(SELECT COALESCE(p.name, '') FROM res_partner p WHERE p.id = {alias}.parent_id)"
                f" || ', ' || COALESCE({alias}.name, '') END")

    def _after_write(self, ids: list[int], names: set[str], created: bool) -> None:
        if created or names & {"name", "type"}:
            if self.any_where(ids, "COALESCE(name, '') = '' AND COALESCE(type, 'contact') = 'contact'"):
                raise ValidationError("Contacts require a name")

    def _ledger_key(self, vals: dict[str, Any]) -> str | None:
        return str(vals.get("email") or f"name:{vals.get('name') or ''}")


MODELS = (Country, Partner)


def install(conn: sqlite3.Connection, now: str) -> None:
    """Fill the countries of a fresh or reset sandbox (idempotent, so a restart changes nothing)."""
    conn.executemany("INSERT OR IGNORE INTO res_country (code, name, create_date, write_date) VALUES (?, ?, ?, ?)",
                     [(code, name, now, now) for code, name in COUNTRIES])
