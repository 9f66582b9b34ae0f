"""Request bodies of the governed order API, and their mapping to the canonical Order.

Strict types and no unknown fields (a client cannot set what it was not offered: no mass assignment). Money is
Decimal from end to end: the API reads JSON numbers as Decimal (`parse_json`), and an amount may be given as a
string ("12.50") or a number (12.5), never rounded silently. The totals are checked here, to the cent, so a
caller learns at once that its arithmetic is off instead of finding its order on hold.
"""
from __future__ import annotations

import hashlib
import json
import re
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Annotated, Any, Sequence

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, StringConstraints, ValidationInfo, field_validator

from retail_sync.domain.orders import (
    CENT,
    CHANNEL_PATTERN,
    NUMBER_PATTERN,
    STORE_CHANNEL,
    Address,
    Customer,
    Order,
    OrderLine,
    order_ref,
)
from retail_sync.domain.skus import normalise_sku

UNIT_PRICE_PLACES = Decimal("0.0001")  # channels price units finer than a cent; line amounts are in cents
AMOUNT = re.compile(r"^\d{1,12}(\.\d+)?$")
EMAIL = r"^[^@\s]+@[^@\s]+\.[^@\s]+$"
ZERO = Decimal("0.00")


def parse_json(body: bytes) -> Any:
    """JSON with every non-integer number as Decimal, so no amount ever passes through a float."""
    return json.loads(body, parse_float=Decimal)


def _amount(places: Decimal):
    def parse(value: object) -> Decimal:
        if isinstance(value, bool) or not isinstance(value, (int, Decimal, str)):
            raise ValueError('must be an amount, as a string ("12.50") or a number')
        if isinstance(value, str) and not AMOUNT.fullmatch(value):
            raise ValueError('must be a non-negative decimal amount such as "12.50"')
        try:
            amount = Decimal(value)
        except InvalidOperation:
            raise ValueError("is not a decimal amount") from None
        if not amount.is_finite() or amount < 0 or amount >= Decimal("1e12"):
            raise ValueError("must be a non-negative amount below 10^12")
        if amount != amount.quantize(places):
            raise ValueError(f"has more than {abs(places.as_tuple().exponent)} decimal places")
        return amount.quantize(places)

    return parse


Money = Annotated[Decimal, BeforeValidator(_amount(CENT))]
UnitPrice = Annotated[Decimal, BeforeValidator(_amount(UNIT_PRICE_PLACES))]


def _text(max_length: int, *, required: bool = False, pattern: str | None = None):
    return Annotated[str, StringConstraints(strip_whitespace=True, min_length=1 if required else 0,
                                            max_length=max_length, pattern=pattern)]


def line_subtotal(unit_price: Decimal, quantity: int) -> Decimal:
    return (unit_price * quantity).quantize(CENT, rounding=ROUND_HALF_UP)


Name = _text(100)
Phone = _text(40)
Street = _text(200)
Email = _text(254, required=True, pattern=EMAIL)
Country = _text(2, required=True, pattern=r"^[A-Z]{2}$")
Currency = _text(3, required=True, pattern=r"^[A-Z]{3}$")
Channel = _text(10, required=True, pattern=CHANNEL_PATTERN.pattern)
Number = _text(40, required=True, pattern=NUMBER_PATTERN.pattern)
Sku = _text(100, required=True)
AddressLine = _text(200, required=True)
City = _text(100, required=True)
Postcode = _text(20, required=True)
Note = _text(1000)
Reason = _text(500)


class ApiModel(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class CustomerIn(ApiModel):
    email: Email
    first_name: Name = ""
    last_name: Name = ""
    phone: Phone = ""


class AddressIn(ApiModel):
    first_name: Name = ""
    last_name: Name = ""
    company: Name = ""
    address_1: AddressLine
    address_2: Street = ""
    city: City
    state: Name = ""
    postcode: Postcode
    country: Country
    phone: Phone = ""

    def to_address(self) -> Address:
        return Address(**self.model_dump())


class LineIn(ApiModel):
    sku: Sku
    name: Street = ""
    quantity: Annotated[int, Field(ge=1, le=1_000_000)]
    unit_price: UnitPrice
    discount: Money = ZERO  # off this line, before tax
    tax: Money = ZERO

    @field_validator("sku")
    @classmethod
    def _normalised_sku(cls, value: str) -> str:
        return normalise_sku(value)  # as every channel's SKUs are, so the join key matches

    @property
    def subtotal(self) -> Decimal:
        return line_subtotal(self.unit_price, self.quantity)

    @property
    def total(self) -> Decimal:
        """After the line's discount, before tax (as `OrderLine.total`)."""
        return self.subtotal - self.discount

    @field_validator("discount")
    @classmethod
    def _discount_within_line(cls, value: Decimal, info: ValidationInfo) -> Decimal:
        quantity, unit_price = info.data.get("quantity"), info.data.get("unit_price")
        if quantity is not None and unit_price is not None:
            subtotal = line_subtotal(unit_price, quantity)
            if value > subtotal:
                raise ValueError(f"is more than the line's subtotal {subtotal}")
        return value

    def to_line(self) -> OrderLine:
        return OrderLine(sku=self.sku, quantity=self.quantity, unit_price=self.unit_price, subtotal=self.subtotal,
                         total=self.total, tax=self.tax, name=self.name)


# An order's totals derived from its lines: the checks of OrderIn and `to_order` share them, so the figures a
# caller is held to are the figures the order is stored with.

def line_discounts(lines: Sequence[LineIn]) -> Decimal:
    return sum((line.discount for line in lines), ZERO)


def expected_tax(lines: Sequence[LineIn], shipping_tax: Decimal) -> Decimal:
    return sum((line.tax for line in lines), ZERO) + shipping_tax


class OrderIn(ApiModel):
    """An order from another channel (POS, marketplace). Fields are validated in this order, so each total is
    checked against the fields before it."""

    channel: Channel
    number: Number
    currency: Currency
    customer: CustomerIn
    shipping_address: AddressIn
    billing_address: AddressIn | None = None  # default: the shipping address
    lines: Annotated[list[LineIn], Field(min_length=1, max_length=500)]
    shipping_total: Money
    shipping_tax: Money = ZERO
    discount_total: Money | None = None  # default: the sum of the line discounts (and must equal it)
    tax_total: Money | None = None  # default: line taxes + shipping tax (and must equal them)
    total: Money
    paid: bool
    customer_note: Note = ""

    @field_validator("channel")
    @classmethod
    def _not_the_store(cls, value: str) -> str:
        if value == STORE_CHANNEL:
            raise ValueError("WC orders come from the store through its webhooks, not through this API")
        return value

    @field_validator("discount_total")
    @classmethod
    def _discounts_add_up(cls, value: Decimal | None, info: ValidationInfo) -> Decimal | None:
        lines = info.data.get("lines")
        if value is not None and lines is not None:
            expected = line_discounts(lines)
            if value != expected:
                raise ValueError(f"is {value} but the line discounts add up to {expected}")
        return value

    @field_validator("tax_total")
    @classmethod
    def _taxes_add_up(cls, value: Decimal | None, info: ValidationInfo) -> Decimal | None:
        lines, shipping_tax = info.data.get("lines"), info.data.get("shipping_tax")
        if value is not None and lines is not None and shipping_tax is not None:
            expected = expected_tax(lines, shipping_tax)
            if value != expected:
                raise ValueError(f"is {value} but line taxes and shipping tax add up to {expected}")
        return value

    @field_validator("total")
    @classmethod
    def _total_adds_up(cls, value: Decimal, info: ValidationInfo) -> Decimal:
        data = info.data
        if all(data.get(name) is not None for name in ("lines", "shipping_total", "shipping_tax")):
            tax = data.get("tax_total")
            if tax is None:
                tax = expected_tax(data["lines"], data["shipping_tax"])
            lines = sum((line.total for line in data["lines"]), ZERO)
            expected = lines + data["shipping_total"] + tax
            if value != expected:
                raise ValueError(f"is {value} but lines after discount + shipping + tax come to {expected}")
        return value

    @property
    def ref(self) -> str:
        return order_ref(self.channel, self.number)

    def body_hash(self) -> str:
        """sha256 of the canonical JSON of the validated body: the same order sent twice hashes the same,
        whatever its key order, spacing or amount notation ("10", 10.0, "10.00")."""
        canonical = json.dumps(self.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode("utf-8")).hexdigest()

    def to_order(self, submitted_by: str) -> Order:
        lines = tuple(line.to_line() for line in self.lines)
        shipping = self.shipping_address.to_address()
        return Order(
            ref=self.ref,
            channel=self.channel,
            number=self.number,
            status="processing",
            currency=self.currency,
            customer=Customer(**self.customer.model_dump()),
            billing=self.billing_address.to_address() if self.billing_address else shipping,
            shipping=shipping,
            lines=lines,
            shipping_total=self.shipping_total,
            shipping_tax=self.shipping_tax,
            discount_total=line_discounts(self.lines),
            total_tax=expected_tax(self.lines, self.shipping_tax),
            total=self.total,
            paid=self.paid,
            customer_note=self.customer_note,
            extra={"submitted_by": submitted_by},
        )


class CancelIn(ApiModel):
    reason: Reason = ""
