"""The rules an order must pass before anything leaves the engine, and how its units are routed to sites.

Pure: the caller reads the catalog (product bindings) and the free stock per site from SQL and passes them in.
Money is compared as Decimal to the cent, never as float.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from decimal import Decimal
from typing import Collection, Literal, Mapping, Sequence

from retail_sync.domain.orders import CENT, Order

# What a store status asks of the engine. `on-hold` is captured only when CAPTURE_ON_HOLD says so.
CAPTURE_STATUSES = ("processing",)
CANCEL_STATUSES = ("cancelled", "refunded")
StoreIntent = Literal["capture", "cancel", "wait"]

# Problems a catalog lookup might cure (the SKU may exist in the ERP under a binding we have not synced yet).
CATALOG_RULES = ("unknown_sku", "not_sellable")
REQUIRED_SHIPPING_FIELDS = ("name", "address_1", "city", "postcode", "country")

Plan = dict[str, dict[str, int]]  # {site: {sku: quantity}}


def store_intent(status: str, *, capture_on_hold: bool) -> StoreIntent:
    if status in CAPTURE_STATUSES or (capture_on_hold and status == "on-hold"):
        return "capture"
    if status in CANCEL_STATUSES:
        return "cancel"
    return "wait"  # pending, failed, checkout-draft, on-hold (not captured), ...: captured once it moves


def version_stamp(moment: datetime | None) -> str | None:
    """A modification time as the store's `date_modified_gmt` spells it, so versions compare as strings."""
    if moment is None:
        return None
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S")


# --- validation ---------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class CatalogEntry:
    """What the product bindings know about one SKU."""
    erp_product_id: str | None
    sellable: bool | None


@dataclass(frozen=True)
class Problem:
    rule: str  # sku, unknown_sku, not_sellable, quantity, discounts, total, tax, currency, address, customer, payment
    message: str

    @property
    def is_catalog(self) -> bool:
        return self.rule in CATALOG_RULES


def validate(order: Order, catalog: Mapping[str, CatalogEntry], currencies: Collection[str]) -> list[Problem]:
    """Every reason this order cannot go to the ERP and the WMS as it is; empty when it can."""
    problems = _line_problems(order, catalog)
    problems += _money_problems(order)
    if order.currency not in currencies:
        problems.append(Problem("currency", f"currency {order.currency} is not supported ({', '.join(currencies)})"))
    missing = [name for name in REQUIRED_SHIPPING_FIELDS if not getattr(order.shipping, name).strip()]
    if missing:
        problems.append(Problem("address", f"shipping address lacks {', '.join(missing)}"))
    if not order.customer.email.strip():
        problems.append(Problem("customer", "customer email is missing"))
    if not order.paid:
        problems.append(Problem("payment", "order is not paid"))
    return problems


def _line_problems(order: Order, catalog: Mapping[str, CatalogEntry]) -> list[Problem]:
    if not order.lines:
        return [Problem("quantity", "order has no lines")]
    problems = []
    for number, line in enumerate(order.lines, start=1):
        if not line.sku.strip():
            problems.append(Problem("sku", f"line {number} ({line.name or 'unnamed'}) has no SKU"))
        if line.quantity <= 0:
            problems.append(Problem("quantity", f"line {number} ({line.sku}) has quantity {line.quantity}"))
    for sku in order.skus:
        if not sku.strip():
            continue
        entry = catalog.get(sku)
        if entry is None or entry.erp_product_id is None:
            problems.append(Problem("unknown_sku", f"SKU {sku} is unknown to the ERP"))
        elif entry.sellable is not True:
            problems.append(Problem("not_sellable", f"SKU {sku} is not sellable in the ERP"))
    return problems


def _money_problems(order: Order) -> list[Problem]:
    lines_subtotal = _sum(line.subtotal for line in order.lines)
    lines_total = _sum(line.total for line in order.lines)
    lines_tax = _sum(line.tax for line in order.lines)
    problems = []
    if _cents(lines_subtotal - order.discount_total) != _cents(lines_total):
        problems.append(Problem("discounts", (
            f"line subtotals {_cents(lines_subtotal)} − discount {_cents(order.discount_total)} ≠ "
            f"line totals {_cents(lines_total)}")))
    expected_total = lines_total + order.shipping_total + order.fee_total + order.total_tax
    if _cents(expected_total) != _cents(order.total):
        problems.append(Problem("total", (
            f"lines {_cents(lines_total)} + shipping {_cents(order.shipping_total)} + fees {_cents(order.fee_total)} "
            f"+ tax {_cents(order.total_tax)} = {_cents(expected_total)} ≠ total {_cents(order.total)}")))
    expected_tax = lines_tax + order.shipping_tax + order.fee_tax
    if _cents(expected_tax) != _cents(order.total_tax):
        problems.append(Problem("tax", (
            f"line tax {_cents(lines_tax)} + shipping tax {_cents(order.shipping_tax)} + fee tax "
            f"{_cents(order.fee_tax)} = {_cents(expected_tax)} ≠ total tax {_cents(order.total_tax)}")))
    return problems


def _sum(amounts) -> Decimal:
    return sum(amounts, Decimal("0"))


def _cents(amount: Decimal) -> Decimal:
    return amount.quantize(CENT)


# --- routing ------------------------------------------------------------------------------------------------------

def site_order(priority: Sequence[str], known: Sequence[str]) -> list[str]:
    """The configured SITE_PRIORITY, else every site holding stock of the order's SKUs, by name."""
    return list(priority) if priority else sorted(known)


def reservation_options(wanted: Mapping[str, int], available: Mapping[str, Mapping[str, int]],
                        sites: Sequence[str], *, allow_split: bool) -> list[Plan]:
    """The ways to take the order's units, best first: each site that can ship the whole order, in priority
    order; then, when splits are allowed, a greedy split (per SKU, sites in priority order), which is also the
    fallback should a whole-site option be refused when taken."""
    options: list[Plan] = [
        {site: dict(wanted)} for site in sites
        if all(available.get(site, {}).get(sku, 0) >= quantity for sku, quantity in wanted.items())
    ]
    if allow_split:
        split = _greedy_split(wanted, available, sites)
        if split is not None and split not in options:
            options.append(split)
    return options


def _greedy_split(wanted: Mapping[str, int], available: Mapping[str, Mapping[str, int]],
                  sites: Sequence[str]) -> Plan | None:
    plan: Plan = {}
    for sku, quantity in sorted(wanted.items()):
        need = quantity
        for site in sites:
            take = min(need, available.get(site, {}).get(sku, 0))
            if take > 0:
                plan.setdefault(site, {})[sku] = take
                need -= take
            if need == 0:
                break
        if need > 0:
            return None
    return plan


def shortage(wanted: Mapping[str, int], available: Mapping[str, Mapping[str, int]], sites: Sequence[str], *,
             allow_split: bool) -> str:
    """Why no option exists, in words a person can act on."""
    short = []
    for sku, quantity in sorted(wanted.items()):
        at_sites = [available.get(site, {}).get(sku, 0) for site in sites]
        have = sum(at_sites) if allow_split else max(at_sites, default=0)
        if have < quantity:
            where = "available across" if allow_split else "at most at one of"
            short.append(f"{sku} (need {quantity}, {have} {where} {', '.join(sites) or 'no site'})")
    if short:
        return "insufficient stock for " + "; ".join(short)
    return "no single site can ship the whole order and split shipments are disabled"
