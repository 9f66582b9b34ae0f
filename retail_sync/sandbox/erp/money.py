"""The money rule (shared with the store, implemented independently): Decimal, ROUND_HALF_UP to the cent, per line.

price_subtotal = round2(price_unit x qty x (1 - discount/100)); price_tax = round2(price_subtotal x sum of the
line's tax rates / 100); price_total = price_subtotal + price_tax. A document's amounts are the sums of its lines'.
Values arrive as floats (JSON, XML-RPC); `dec` reads them through `repr`, so 19.99 is Decimal('19.99').
"""
from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Iterable

CENT = Decimal("0.01")
HUNDRED = Decimal(100)


def dec(value: float | int | str | Decimal | None) -> Decimal:
    if value is None or value is False:
        return Decimal(0)
    if isinstance(value, float):
        return Decimal(repr(value))
    return Decimal(value)


def round2(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


@dataclass(frozen=True)
class Amounts:
    """A line's amounts (`price_subtotal`, `price_tax`) or a document's (`amount_untaxed`, `amount_tax`)."""

    untaxed: Decimal
    tax: Decimal

    @property
    def total(self) -> Decimal:
        return self.untaxed + self.tax


def line_amounts(price_unit: float, quantity: float, discount: float, rates: Iterable[float]) -> Amounts:
    subtotal = round2(dec(price_unit) * dec(quantity) * (1 - dec(discount) / HUNDRED))
    tax = round2(subtotal * sum((dec(rate) for rate in rates), Decimal(0)) / HUNDRED)
    return Amounts(subtotal, tax)


def document_amounts(lines: Iterable[Amounts]) -> Amounts:
    untaxed, tax = Decimal(0), Decimal(0)
    for line in lines:
        untaxed += line.untaxed
        tax += line.tax
    return Amounts(untaxed, tax)
