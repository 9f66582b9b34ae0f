"""In-memory fakes of the three ports (StorePort, ErpPort, WmsPort), faithful to the contracts in
`retail_sync/connectors/ports.py`, plus a builder of consistent canonical orders.

Each fake records its calls in `calls` ([(method, args)]) and can be told to fail through `faults`:
`erp.faults.fail("create_sale_order", TransientError("dropped"), after_effect=True)` makes the next create take
effect and then raise, as a response lost on the way back would.
"""
from __future__ import annotations

import itertools
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Callable, Iterator, Mapping, Sequence

from retail_sync.connectors.ports import (
    ErpDocument,
    ErpProduct,
    FulfilmentRequest,
    InvoiceLine,
    StoreProduct,
    StoreWebhook,
    StoreWrite,
    WmsFulfilment,
    WmsStock,
)
from retail_sync.domain.orders import STORE_CHANNEL, Address, Customer, Order, OrderLine, order_ref
from retail_sync.errors import Conflict, NotCancellable, PermanentError, RecordGone

MODIFIED_AT = datetime(2026, 11, 27, 11, 0, tzinfo=timezone.utc)


class Faults:
    """Scripted failures, consumed in order per method: raised before the call, or after it took effect. And
    things that happen elsewhere while a call is under way (`meanwhile`), run once after its effect."""

    def __init__(self):
        self._planned: dict[str, list[tuple[BaseException, bool]]] = {}
        self._meanwhile: dict[str, list[Callable[[], object]]] = {}

    def fail(self, method: str, error: BaseException, *, after_effect: bool = False, times: int = 1) -> None:
        self._planned.setdefault(method, []).extend([(error, after_effect)] * times)

    def meanwhile(self, method: str, action: Callable[[], object]) -> None:
        self._meanwhile.setdefault(method, []).append(action)

    def before(self, method: str) -> None:
        self._raise_next(method, after_effect=False)

    def after(self, method: str) -> None:
        for action in self._meanwhile.pop(method, []):
            action()
        self._raise_next(method, after_effect=True)

    def _raise_next(self, method: str, *, after_effect: bool) -> None:
        planned = self._planned.get(method)
        if planned and planned[0][1] is after_effect:
            error, _ = planned.pop(0)
            raise error


class _Fake:
    def __init__(self):
        self.calls: list[tuple[str, tuple]] = []
        self.faults = Faults()

    def _enter(self, method: str, *args) -> None:
        self.calls.append((method, args))
        self.faults.before(method)

    def called(self, method: str) -> list[tuple]:
        return [args for name, args in self.calls if name == method]


# --- the store ------------------------------------------------------------------------------------------------

class FakeStore(_Fake):
    """A WooCommerce store: orders by store id, each write moves the order's date_modified forward by a second."""

    def __init__(self):
        super().__init__()
        self.orders: dict[int, Order] = {}
        self.notes: dict[int, list[tuple[str, bool]]] = {}
        self.products: dict[str, StoreProduct] = {}
        self.webhooks: list[StoreWebhook] = []

    def put_order(self, order: Order) -> Order:
        """Place (or replace) an order in the store, as a shopper or a shop manager would."""
        self.orders[order.store_id] = order
        return order

    def change_order(self, store_id: int, **changes) -> Order:
        """Someone edits the order in the store: the given fields change and date_modified moves on."""
        order = self.orders[store_id]
        changed = replace(order, modified_at=self._next_modified(order), **changes)
        self.orders[store_id] = changed
        return changed

    def fetch_orders(self, store_ids: Sequence[int]) -> list[Order]:
        self._enter("fetch_orders", tuple(store_ids))
        return [self.orders[int(i)] for i in store_ids if int(i) in self.orders]

    def orders_modified_since(self, since: datetime, page_size: int = 100) -> Iterator[Order]:
        self._enter("orders_modified_since", since)
        found = [o for o in self.orders.values() if o.modified_at is not None and o.modified_at >= since]
        yield from sorted(found, key=lambda o: (o.modified_at, o.store_id))

    def set_order_status(self, store_id: int, status: str, note: str | None = None,
                         customer_note: bool = False) -> StoreWrite:
        self._enter("set_order_status", store_id, status, note, customer_note)
        if store_id not in self.orders:
            raise RecordGone(f"store order {store_id} not found")
        if note:
            self.notes.setdefault(store_id, []).append((note, customer_note))
        changed = self.change_order(store_id, status=status)
        self.faults.after("set_order_status")
        return StoreWrite(store_id=store_id, status=status, modified_at=changed.modified_at)

    def add_order_note(self, store_id: int, note: str, customer_note: bool = False) -> None:
        self._enter("add_order_note", store_id, note, customer_note)
        if store_id not in self.orders:
            raise RecordGone(f"store order {store_id} not found")
        # As in WooCommerce, a note is a comment on the order: it does not change date_modified.
        self.notes.setdefault(store_id, []).append((note, customer_note))
        self.faults.after("add_order_note")

    def iter_products(self, page_size: int = 100) -> Iterator[StoreProduct]:
        self._enter("iter_products", page_size)
        yield from list(self.products.values())

    def find_products(self, skus: Sequence[str]) -> dict[str, StoreProduct]:
        self._enter("find_products", tuple(skus))
        return {sku: self.products[sku] for sku in skus if sku in self.products}

    def ensure_webhooks(self, topics: Sequence[str], delivery_url: str, secret: str) -> list[StoreWebhook]:
        self._enter("ensure_webhooks", tuple(topics), delivery_url)
        kept = {hook.topic: hook for hook in self.webhooks if hook.delivery_url == delivery_url}
        for topic in topics:
            hook = kept.get(topic)
            if hook is None:
                hook = StoreWebhook(id=len(self.webhooks) + 1, topic=topic, delivery_url=delivery_url, status="active")
                self.webhooks.append(hook)
            elif hook.status != "active":
                self.webhooks[self.webhooks.index(hook)] = hook = replace(hook, status="active")
            kept[topic] = hook
        return [kept[topic] for topic in topics]

    @staticmethod
    def _next_modified(order: Order) -> datetime:
        return (order.modified_at or MODIFIED_AT) + timedelta(seconds=1)


# --- the ERP --------------------------------------------------------------------------------------------------

@dataclass
class FakeSaleOrder:
    id: int
    name: str
    client_order_ref: str
    state: str  # draft | sale | cancel
    amount_total: str
    partner_id: int
    lines: dict[int, int] = field(default_factory=dict)  # product id → quantity

    def document(self) -> ErpDocument:
        return ErpDocument(id=self.id, name=self.name, state=self.state, amount_total=self.amount_total)


@dataclass(frozen=True)
class FakeInvoice:
    document: ErpDocument
    origin: str
    sale_order_id: int
    lines: tuple[InvoiceLine, ...]


class FakeErp(_Fake):
    """An Odoo: products by default_code, sale orders that are NOT idempotent by client_order_ref (as in Odoo:
    creating twice makes two), customers matched by email, posted customer invoices by origin."""

    def __init__(self):
        super().__init__()
        self.products: dict[str, ErpProduct] = {}
        self.sale_orders: dict[int, FakeSaleOrder] = {}
        self.customers: dict[str, int] = {}  # email (lower case) → partner id
        self.invoices: list[FakeInvoice] = []
        self._ids = itertools.count(1)

    def add_product(self, sku: str, *, sellable: bool = True, name: str = "", list_price: str = "10.00") -> ErpProduct:
        product = ErpProduct(id=next(self._ids), sku=sku, sellable=sellable, name=name or sku, list_price=list_price)
        self.products[sku] = product
        return product

    def add_sale_order(self, ref: str, *, state: str = "draft", amount_total: str = "0") -> ErpDocument:
        """A sale order someone (or an earlier, interrupted run) left in the ERP under this reference."""
        return self._new_sale_order(ref, state, amount_total, partner_id=0, lines={}).document()

    def sale_orders_for(self, ref: str) -> list[FakeSaleOrder]:
        return [so for so in self.sale_orders.values() if so.client_order_ref == ref]

    def find_products(self, skus: Sequence[str]) -> dict[str, ErpProduct]:
        self._enter("find_products", tuple(skus))
        return {sku: self.products[sku] for sku in skus if sku in self.products}

    def iter_products(self, page_size: int = 500) -> Iterator[ErpProduct]:
        self._enter("iter_products", page_size)
        yield from sorted(self.products.values(), key=lambda p: p.id)

    def find_sale_order(self, client_order_ref: str) -> ErpDocument | None:
        self._enter("find_sale_order", client_order_ref)
        found = sorted(self.sale_orders_for(client_order_ref), key=lambda so: (so.state == "cancel", so.id))
        return found[0].document() if found else None

    def create_sale_order(self, order: Order, product_ids: Mapping[str, int]) -> ErpDocument:
        self._enter("create_sale_order", order.ref)
        missing = [line.sku for line in order.lines if line.sku not in product_ids]
        if missing:
            raise PermanentError(f"no product id for {', '.join(missing)}")
        email = order.customer.email.lower()
        partner_id = self.customers.setdefault(email, next(self._ids))
        lines: dict[int, int] = {}
        for line in order.lines:
            lines[product_ids[line.sku]] = lines.get(product_ids[line.sku], 0) + line.quantity
        sale_order = self._new_sale_order(order.ref, "sale", str(order.total), partner_id, lines)
        self.faults.after("create_sale_order")
        return sale_order.document()

    def confirm_sale_order(self, sale_order_id: int) -> ErpDocument:
        self._enter("confirm_sale_order", sale_order_id)
        sale_order = self._sale_order(sale_order_id)
        if sale_order.state == "draft":
            sale_order.state = "sale"
        elif sale_order.state == "cancel":
            raise PermanentError(f"sale order {sale_order.name} is cancelled and cannot be confirmed")
        self.faults.after("confirm_sale_order")
        return sale_order.document()

    def cancel_sale_order(self, sale_order_id: int) -> ErpDocument:
        self._enter("cancel_sale_order", sale_order_id)
        sale_order = self._sale_order(sale_order_id)
        sale_order.state = "cancel"
        self.faults.after("cancel_sale_order")
        return sale_order.document()

    def invoices_for(self, origin: str) -> list[FakeInvoice]:
        return [invoice for invoice in self.invoices if invoice.origin == origin]

    def find_invoice(self, origin: str) -> ErpDocument | None:
        self._enter("find_invoice", origin)
        found = self.invoices_for(origin)
        return found[0].document if found else None

    def create_invoice(self, origin: str, sale_order_id: int, lines: Sequence[InvoiceLine]) -> ErpDocument:
        self._enter("create_invoice", origin, sale_order_id, tuple(lines))
        self._sale_order(sale_order_id)
        # Not idempotent either: a second call for the same origin makes a second invoice.
        document = ErpDocument(id=next(self._ids), name=f"INV/2026/{len(self.invoices) + 1:05d}", state="posted")
        self.invoices.append(FakeInvoice(document, origin, sale_order_id, tuple(lines)))
        self.faults.after("create_invoice")
        return document

    def _new_sale_order(self, ref: str, state: str, amount_total: str, partner_id: int,
                        lines: dict[int, int]) -> FakeSaleOrder:
        sale_order_id = next(self._ids)
        sale_order = FakeSaleOrder(id=sale_order_id, name=f"S{sale_order_id:05d}", client_order_ref=ref, state=state,
                                   amount_total=amount_total, partner_id=partner_id, lines=lines)
        self.sale_orders[sale_order_id] = sale_order
        return sale_order

    def _sale_order(self, sale_order_id: int) -> FakeSaleOrder:
        if sale_order_id not in self.sale_orders:
            raise RecordGone(f"sale.order({sale_order_id}) does not exist")
        return self.sale_orders[sale_order_id]


# --- the WMS --------------------------------------------------------------------------------------------------

UNCANCELLABLE = ("picked", "partially_shipped", "shipped")


class FakeWms(_Fake):
    """The warehouse: fulfilment orders idempotent by external_ref (a different body under the same ref is a
    Conflict), cancellable until picked; stock per (sku, site)."""

    def __init__(self):
        super().__init__()
        self.fulfilments: dict[str, WmsFulfilment] = {}  # by external_ref
        self.requests: dict[str, FulfilmentRequest] = {}
        self.stock: dict[tuple[str, str], WmsStock] = {}
        self._numbers = itertools.count(1)

    def set_status(self, external_ref: str, status: str) -> WmsFulfilment:
        """The warehouse moves an order on (acknowledged, picked, shipped, ...)."""
        self.fulfilments[external_ref] = replace(self.fulfilments[external_ref], status=status)
        return self.fulfilments[external_ref]

    def set_stock(self, sku: str, site: str, on_hand: int, allocated: int = 0,
                  updated_at: datetime | None = None) -> None:
        self.stock[(sku, site)] = WmsStock(sku=sku, site=site, on_hand=on_hand, allocated=allocated,
                                           updated_at=updated_at or MODIFIED_AT)

    def create_fulfilment(self, request: FulfilmentRequest) -> WmsFulfilment:
        self._enter("create_fulfilment", request)
        existing = self.fulfilments.get(request.external_ref)
        if existing is not None:
            if _shape(self.requests[request.external_ref]) != _shape(request):
                raise Conflict(f"external_ref_conflict: {request.external_ref} exists with a different body")
            return existing
        fulfilment = WmsFulfilment(id=f"FO-{next(self._numbers):06d}", external_ref=request.external_ref,
                                   site=request.site, status="released")
        self.fulfilments[request.external_ref] = fulfilment
        self.requests[request.external_ref] = request
        self.faults.after("create_fulfilment")
        return fulfilment

    def find_fulfilment(self, external_ref: str) -> WmsFulfilment | None:
        self._enter("find_fulfilment", external_ref)
        return self.fulfilments.get(external_ref)

    def cancel_fulfilment(self, fulfilment_id: str) -> WmsFulfilment:
        self._enter("cancel_fulfilment", fulfilment_id)
        found = [f for f in self.fulfilments.values() if f.id == fulfilment_id]
        if not found:
            raise RecordGone(f"fulfilment {fulfilment_id} not found")
        fulfilment = found[0]
        if fulfilment.status in UNCANCELLABLE:
            raise NotCancellable(f"not_cancellable: {fulfilment_id} is {fulfilment.status}")
        cancelled = self.set_status(fulfilment.external_ref, "cancelled")
        self.faults.after("cancel_fulfilment")
        return cancelled

    def iter_stock(self, site: str | None = None, page_size: int = 1000) -> Iterator[WmsStock]:
        self._enter("iter_stock", site, page_size)
        yield from [s for key, s in sorted(self.stock.items()) if site is None or s.site == site]


def _shape(request: FulfilmentRequest) -> tuple:
    return request.site, tuple(sorted((line.sku, line.quantity) for line in request.lines))


# --- canonical orders for tests ---------------------------------------------------------------------------------

SHIP_TO = Address(first_name="Zoë", last_name="Weiß", address_1="Domkloster 4", city="Köln", postcode="50667",
                  country="DE")


def make_order(
    number: int | str = 1,
    lines: Sequence[tuple[str, int, str]] = (("SKU-A", 2, "10.00"),),
    *,
    channel: str = STORE_CHANNEL,
    status: str = "processing",
    shipping_total: str = "4.90",
    tax_rate: str = "0.19",
    modified_at: datetime = MODIFIED_AT,
    **changes,
) -> Order:
    """A consistent order (totals reconcile to the cent): lines are (sku, quantity, unit price); tax at
    `tax_rate` on lines and shipping. Store orders (channel WC) get store_id = number; `changes` override
    any field afterwards (to break a rule on purpose)."""
    rate = Decimal(tax_rate)
    built: list[OrderLine] = []
    for index, (sku, quantity, unit_price) in enumerate(lines, start=1):
        subtotal = Decimal(unit_price) * quantity
        built.append(OrderLine(sku=sku, quantity=quantity, unit_price=Decimal(unit_price), subtotal=subtotal,
                               total=subtotal, tax=_cents(subtotal * rate), name=sku, store_line_id=index))
    shipping = Decimal(shipping_total)
    shipping_tax = _cents(shipping * rate)
    total_tax = sum((line.tax for line in built), Decimal("0")) + shipping_tax
    total = sum((line.total for line in built), Decimal("0")) + shipping + total_tax
    is_store = channel == STORE_CHANNEL
    order = Order(
        ref=order_ref(channel, number), channel=channel, number=str(number), status=status, currency="EUR",
        customer=Customer(email="zoe@example.com", first_name="Zoë", last_name="Weiß"),
        billing=SHIP_TO, shipping=SHIP_TO, lines=tuple(built), shipping_total=shipping, shipping_tax=shipping_tax,
        total_tax=total_tax, total=total, paid=True,
        store_id=int(number) if is_store else None, modified_at=modified_at if is_store else None,
    )
    return replace(order, **changes)


def _cents(amount: Decimal) -> Decimal:
    return amount.quantize(Decimal("0.01"))
