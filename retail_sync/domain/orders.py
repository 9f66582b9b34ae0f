"""The canonical order: what every channel's order becomes before the saga touches it. Pure data, no I/O.

Money is Decimal (never float) with the order's currency; times are timezone-aware UTC. The business key is
`<CHANNEL>-<number>` (`WC-1042` for the store, `POS-9001`, `MKT-...`): the ERP's `client_order_ref` and the
WMS's `external_ref` carry it (with `/<site>` when an order is split across sites).
"""
from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, field, fields
from datetime import datetime
from decimal import Decimal

STORE_CHANNEL = "WC"
CHANNEL_PATTERN = re.compile(r"^[A-Z][A-Z0-9]{1,9}$")
NUMBER_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,39}$")
CENT = Decimal("0.01")


def order_ref(channel: str, number: str | int) -> str:
    return f"{channel}-{number}"


def order_subject(ref: str) -> str:
    """The timeline subject (and log correlation id) of an order."""
    return f"order:{ref}"


def fulfilment_ref(ref: str, site: str, *, split: bool) -> str:
    """The WMS external_ref of one order's release to one site (`WC-1001`, or `WC-1001/WH-EAST` when split)."""
    return f"{ref}/{site}" if split else ref


@dataclass(frozen=True)
class Customer:
    email: str
    first_name: str = ""
    last_name: str = ""
    phone: str = ""

    @property
    def name(self) -> str:
        return " ".join(part for part in (self.first_name, self.last_name) if part) or self.email


@dataclass(frozen=True)
class Address:
    first_name: str = ""
    last_name: str = ""
    company: str = ""
    address_1: str = ""
    address_2: str = ""
    city: str = ""
    state: str = ""
    postcode: str = ""
    country: str = ""
    phone: str = ""

    @property
    def name(self) -> str:
        return " ".join(part for part in (self.first_name, self.last_name) if part)


@dataclass(frozen=True)
class OrderLine:
    sku: str
    quantity: int
    unit_price: Decimal  # before discount, excluding tax
    subtotal: Decimal  # unit_price × quantity, before discount
    total: Decimal  # after discount, excluding tax
    tax: Decimal = Decimal("0")
    tax_rate: Decimal | None = None  # percent (19 for 19 %), when the channel says it
    name: str = ""
    store_line_id: int | None = None
    store_product_id: int | None = None
    store_variation_id: int | None = None

    @property
    def discount(self) -> Decimal:
        return self.subtotal - self.total


@dataclass(frozen=True)
class Order:
    ref: str  # business key, e.g. "WC-1042"
    channel: str  # "WC", "POS", "MKT", ...
    number: str
    status: str  # the channel's own status ("processing", "on-hold", "cancelled", ...); API orders: "processing"
    currency: str
    customer: Customer
    billing: Address
    shipping: Address
    lines: tuple[OrderLine, ...]
    shipping_total: Decimal = Decimal("0")
    shipping_tax: Decimal = Decimal("0")
    fee_total: Decimal = Decimal("0")
    fee_tax: Decimal = Decimal("0")
    discount_total: Decimal = Decimal("0")
    total_tax: Decimal = Decimal("0")
    total: Decimal = Decimal("0")
    paid: bool = False
    store_id: int | None = None  # the store's order id (WooCommerce), None for other channels
    modified_at: datetime | None = None  # the channel's last modification (WooCommerce date_modified_gmt), UTC
    customer_note: str = ""
    extra: dict = field(default_factory=dict)  # channel specifics kept for the audit (payment method, ...)

    @property
    def skus(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(line.sku for line in self.lines))

    def quantities(self) -> dict[str, int]:
        wanted: dict[str, int] = {}
        for line in self.lines:
            wanted[line.sku] = wanted.get(line.sku, 0) + line.quantity
        return wanted

    def to_json(self) -> str:
        return json.dumps(asdict(self), default=_encode, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> "Order":
        raw = json.loads(text)
        raw["customer"] = Customer(**raw["customer"])
        raw["billing"] = Address(**raw["billing"])
        raw["shipping"] = Address(**raw["shipping"])
        raw["lines"] = tuple(OrderLine(**_decimals(OrderLine, line)) for line in raw["lines"])
        if raw.get("modified_at"):
            raw["modified_at"] = datetime.fromisoformat(raw["modified_at"])
        return cls(**_decimals(cls, raw))


def _encode(value: object) -> str:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"cannot encode {type(value).__name__}")


def _decimals(cls: type, raw: dict) -> dict:
    """Turn the Decimal fields of a dataclass (stored as strings) back into Decimal."""
    for f in fields(cls):
        if f.name in raw and raw[f.name] is not None and "Decimal" in str(f.type):
            raw[f.name] = Decimal(raw[f.name])
    return raw
