"""Money as the store computes it: the seeded tax rates, how coupons discount, and the one rounding rule.

The rule (shared with the ERP sandbox, implemented independently there): prices exclude tax; ROUND_HALF_UP to
2 decimals **per line**; a `percent` coupon takes round2(line subtotal × pct/100) from each line; a `fixed_cart`
coupon is spread over the lines in proportion to their subtotals, each share rounded, the remainder cent(s) on the
last line, never more than what is left of a line; line tax = round2(line total × rate); shipping is taxed at the
standard rate. Decimal throughout, never float.

Tax rates are store configuration: `install()` seeds them on a fresh and on a reset store, and `GET /taxes` lists
them read-only. Coupons are a REST resource of their own (`coupons`, which seeds `SEED_COUPONS`); the arithmetic
here reads them through `find_coupon`.
"""
from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any, Callable, Iterable

from fastapi import FastAPI, Request
from fastapi.responses import Response

from retail_sync.sandbox.woocommerce.rest import REST_PREFIX, WooError, page_params, paged, wc_response

if TYPE_CHECKING:
    from retail_sync.sandbox.woocommerce.app import WooSandbox

CENT = Decimal("0.01")
ZERO = Decimal("0")
STANDARD_CLASS = ""  # WooCommerce's standard tax class is the empty string ("standard" in /taxes)

SCHEMA = """
CREATE TABLE IF NOT EXISTS tax_rates (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    rate TEXT NOT NULL,
    tax_class TEXT NOT NULL,
    priority INTEGER NOT NULL DEFAULT 1,
    compound INTEGER NOT NULL DEFAULT 0,
    shipping INTEGER NOT NULL DEFAULT 1,
    rate_order INTEGER NOT NULL DEFAULT 0
);
"""
TABLES = ("tax_rates",)

SEED_CREATED_GMT = "2026-01-01T00:00:00"
SEED_RATES = ((1, "Standard", "19.0000", STANDARD_CLASS, 0), (2, "Reduced rate", "7.0000", "reduced-rate", 1))
SEED_COUPONS = ((1, "save10", "percent", "10.00", "10 % off the cart"),
                (2, "fiveoff", "fixed_cart", "5.00", "5.00 off the cart"))


def round2(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def money(value: Decimal | str) -> str:
    """A money string as the REST API formats it with dp=2 (`"29.35"`, never `"-0.00"`)."""
    amount = round2(Decimal(value))
    return f"{amount.copy_abs() if amount == 0 else amount:.2f}"


def plain(value: Decimal | str) -> str:
    """A decimal as PHP prints a stored float: no trailing zeros (`"1.9"`, `"5"`); used for per-rate taxes."""
    amount = Decimal(value).normalize()
    if amount == 0:
        return "0"
    return format(amount, "f")


def to_decimal(raw: Any) -> Decimal:
    """A posted amount (string or number) as Decimal; unparseable input counts as 0, as `wc_format_decimal` does."""
    if raw is None or isinstance(raw, bool):
        return ZERO
    try:
        value = Decimal(str(raw).strip())
    except InvalidOperation:
        return ZERO
    return value if value.is_finite() else ZERO


@dataclass(frozen=True)
class TaxRate:
    id: int
    name: str
    rate: Decimal  # percent, e.g. 19.0000
    tax_class: str
    priority: int = 1
    compound: bool = False
    shipping: bool = True
    order: int = 0

    @property
    def code(self) -> str:
        """WooCommerce's rate code: COUNTRY-STATE-NAME-PRIORITY without the empty parts (`STANDARD-1`)."""
        return f"{self.name.upper()}-{self.priority}"

    def tax(self, amount: Decimal) -> Decimal:
        return round2(amount * self.rate / 100)


@dataclass(frozen=True)
class Coupon:
    id: int
    code: str
    discount_type: str
    amount: Decimal
    description: str = ""
    date_created_gmt: str = SEED_CREATED_GMT


# ---- store configuration -----------------------------------------------------------------------------------------
def install(store: "WooSandbox") -> None:
    """Seed the two tax rates (idempotent: a restart keeps what is there)."""
    with store.db.tx() as conn:
        conn.executemany(
            "INSERT OR IGNORE INTO tax_rates (id, name, rate, tax_class, rate_order) VALUES (?,?,?,?,?)", SEED_RATES)


def rates_by_class(store: "WooSandbox") -> dict[str, TaxRate]:
    """The rate that applies to each tax class (one rate per class in this store)."""
    rates: dict[str, TaxRate] = {}
    for row in store.db.all("SELECT * FROM tax_rates ORDER BY priority, rate_order, id"):
        rates.setdefault(row["tax_class"], _rate(row))
    return rates


def shipping_rate(rates: dict[str, TaxRate]) -> TaxRate | None:
    """Shipping is taxed at the standard rate (the store's "shipping tax class" setting)."""
    return rates.get(STANDARD_CLASS)


def find_coupon(store: "WooSandbox", code: str) -> Coupon | None:
    """The coupon an order may apply: `wc_get_coupon_id_by_code()` finds only published ones, newest first."""
    row = store.db.one("SELECT * FROM coupons WHERE code = ? AND status = 'publish'"
                       " ORDER BY date_created_gmt DESC, id DESC LIMIT 1", (normalise_coupon_code(code),))
    return None if row is None else _coupon(row)


def normalise_coupon_code(code: Any) -> str:
    """Coupon codes are trimmed and lower-cased by WooCommerce (`wc_format_coupon_code`)."""
    return str(code).strip().lower()


# ---- arithmetic ----------------------------------------------------------------------------------------------------
def allocate_discounts(subtotals: list[Decimal], coupons: Iterable[Coupon]) -> list[list[Decimal]]:
    """Per coupon, the discount it takes from each line (coupons applied in order, none beyond a line's rest)."""
    remaining = list(subtotals)
    allocation = []
    for coupon in coupons:
        if coupon.discount_type == "percent":
            shares = [round2(subtotal * coupon.amount / 100) for subtotal in subtotals]
        else:
            shares = _spread_fixed(coupon.amount, subtotals, remaining)
        shares = [max(ZERO, min(share, rest)) for share, rest in zip(shares, remaining)]
        remaining = [rest - share for rest, share in zip(remaining, shares)]
        allocation.append(shares)
    return allocation


def _spread_fixed(amount: Decimal, subtotals: list[Decimal], remaining: list[Decimal]) -> list[Decimal]:
    """A fixed_cart amount in proportion to the line subtotals; the rounding remainder goes on the last line."""
    base = sum(subtotals, ZERO)
    if base <= 0 or not subtotals:
        return [ZERO for _ in subtotals]
    amount = min(amount, sum(remaining, ZERO))
    shares = [round2(amount * subtotal / base) for subtotal in subtotals]
    shares[-1] += amount - sum(shares, ZERO)
    return shares


# ---- read-only REST list ------------------------------------------------------------------------------------------
def register(app: FastAPI, store: "WooSandbox") -> None:
    @app.get(REST_PREFIX + "/taxes")
    async def list_taxes(request: Request):  # type: ignore[no-untyped-def]
        wanted = request.query_params.get("class")
        rows = [row for row in store.db.all("SELECT * FROM tax_rates ORDER BY rate_order, id")
                if wanted is None or _class_slug(row["tax_class"]) == wanted]
        return _paged_rows(request, rows, lambda row: render_tax_rate(store, _rate(row)))

    @app.get(REST_PREFIX + "/taxes/{rate_id:int}")
    async def get_tax(rate_id: int):  # type: ignore[no-untyped-def]
        row = _row_or_404(store, "tax_rates", rate_id, "woocommerce_rest_invalid_id", "Invalid resource ID.")
        return wc_response(render_tax_rate(store, _rate(row)))


def _paged_rows(request: Request, rows: list[Any], render: Callable[[Any], dict[str, Any]]) -> Response:
    """One page of rows already filtered in memory (the store holds a handful of tax rates)."""
    page, per_page, offset = page_params(request)
    start = offset if offset is not None else (page - 1) * per_page
    return paged(request, [render(row) for row in rows[start:start + per_page]], len(rows), page, per_page)


def _row_or_404(store: "WooSandbox", table: str, row_id: int, code: str, message: str) -> Any:
    row = store.db.one(f"SELECT * FROM {table} WHERE id = ?", (row_id,))  # noqa: S608 - our own table names
    if row is None:
        raise WooError(404, code, message)
    return row


def render_tax_rate(store: "WooSandbox", rate: TaxRate) -> dict[str, Any]:
    base = f"{store.home_url}wp-json/wc/v3/taxes"
    return {
        "id": rate.id, "country": "", "state": "", "postcode": "", "city": "", "postcodes": [], "cities": [],
        "rate": f"{rate.rate:.4f}", "name": rate.name, "priority": rate.priority, "compound": rate.compound,
        "shipping": rate.shipping, "order": rate.order, "class": _class_slug(rate.tax_class),
        "_links": {"self": [{"href": f"{base}/{rate.id}"}], "collection": [{"href": base}]},
    }


def _rate(row: Any) -> TaxRate:
    return TaxRate(id=row["id"], name=row["name"], rate=Decimal(row["rate"]), tax_class=row["tax_class"],
                   priority=row["priority"], compound=bool(row["compound"]), shipping=bool(row["shipping"]),
                   order=row["rate_order"])


def _coupon(row: Any) -> Coupon:
    return Coupon(id=row["id"], code=row["code"], discount_type=row["discount_type"], amount=Decimal(row["amount"]),
                  description=row["description"], date_created_gmt=row["date_created_gmt"])


def _class_slug(tax_class: str) -> str:
    return tax_class or "standard"
