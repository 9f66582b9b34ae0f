"""The ports flows depend on. Concrete implementations are built in `retail_sync.bootstrap` only.

Every adapter raises only our error taxonomy (`retail_sync.errors`): TransientError (timeouts, 5xx, 429 with
`retry_after`, a circuit open), PermanentError / RecordGone / Conflict / NotCancellable. Flows never see
`requests`, JSON-RPC or HTTP status codes.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Iterator, Mapping, Protocol, Sequence

from retail_sync.domain.orders import Order


class TaskDispatcher(Protocol):
    """Publishes work for the workers by task name. Raising means nothing was sent (the SQL record stays due)."""

    def send(self, task_name: str, args: Sequence[object] = ()) -> None: ...

    def chord(self, header: Sequence[tuple[str, Sequence[object]]], body: tuple[str, Sequence[object]]) -> None:
        """Run the header tasks in parallel, then the body once all finished (immutable signatures: the body
        gets only its own args). A lost chord is the sweepers' business, never a lost order."""
        ...


# --- the store (WooCommerce) -------------------------------------------------------------------------------

@dataclass(frozen=True)
class StoreProduct:
    sku: str
    product_id: int
    variation_id: int | None  # set for a variation (its parent is product_id)
    stock_quantity: int | None
    manage_stock: bool
    status: str  # publish, draft, private, ...


@dataclass(frozen=True)
class StoreWrite:
    """What a write to the store left behind: the order's new modification stamp, to recognise its echo."""
    store_id: int
    status: str
    modified_at: datetime | None


@dataclass(frozen=True)
class StoreWebhook:
    id: int
    topic: str
    delivery_url: str
    status: str  # active, paused, disabled


class StorePort(Protocol):
    def fetch_orders(self, store_ids: Sequence[int]) -> list[Order]:
        """The current state of these orders (missing ids are left out), mapped to canonical orders."""
        ...

    def orders_modified_since(self, since: datetime, page_size: int = 100) -> Iterator[Order]:
        """Every order modified at or after `since` (GMT), oldest modification first (backfill)."""
        ...

    def set_order_status(self, store_id: int, status: str, note: str | None = None,
                         customer_note: bool = False) -> StoreWrite:
        """Set the status and optionally add a note (private unless customer_note) in as few calls as it can."""
        ...

    def add_order_note(self, store_id: int, note: str, customer_note: bool = False) -> None: ...

    def iter_products(self, page_size: int = 100) -> Iterator[StoreProduct]:
        """Every product and variation that has a SKU."""
        ...

    def find_products(self, skus: Sequence[str]) -> dict[str, StoreProduct]: ...

    def ensure_webhooks(self, topics: Sequence[str], delivery_url: str, secret: str) -> list[StoreWebhook]:
        """Register (or re-activate, or repoint) one active webhook per topic; idempotent."""
        ...


# --- the ERP (Odoo external API) ----------------------------------------------------------------------------

@dataclass(frozen=True)
class ErpProduct:
    id: int
    sku: str
    sellable: bool  # sale_ok and active
    name: str = ""
    list_price: str = "0"


@dataclass(frozen=True)
class ErpDocument:
    id: int
    name: str  # S00042, INV/2026/00001, ...
    state: str  # draft, sale, cancel, posted, ...
    amount_total: str = "0"


@dataclass(frozen=True)
class InvoiceLine:
    sku: str
    quantity: int


class ErpPort(Protocol):
    def find_products(self, skus: Sequence[str]) -> dict[str, ErpProduct]: ...

    def iter_products(self, page_size: int = 500) -> Iterator[ErpProduct]: ...

    def find_sale_order(self, client_order_ref: str) -> ErpDocument | None:
        """The (non-cancelled first) sale order carrying this reference, if any."""
        ...

    def create_sale_order(self, order: Order, product_ids: Mapping[str, int]) -> ErpDocument:
        """Match or create the customer (by email), create the sale order with `client_order_ref = order.ref`
        and confirm it. Not idempotent by itself (Odoo is not): the flow claims the effect and looks up first."""
        ...

    def confirm_sale_order(self, sale_order_id: int) -> ErpDocument: ...

    def cancel_sale_order(self, sale_order_id: int) -> ErpDocument:
        """Cancel (with `disable_cancel_warning`); cancelling a cancelled order is a no-op."""
        ...

    def find_invoice(self, origin: str) -> ErpDocument | None:
        """The customer invoice (out_invoice) whose invoice_origin is `origin`, if any."""
        ...

    def create_invoice(self, origin: str, sale_order_id: int, lines: Sequence[InvoiceLine]) -> ErpDocument:
        """Create and post the invoice for these shipped lines, priced as on the sale order."""
        ...


# --- the WMS (our REST contract, docs/wms-api.md) -------------------------------------------------------------

@dataclass(frozen=True)
class FulfilmentLine:
    sku: str
    quantity: int


@dataclass(frozen=True)
class FulfilmentRequest:
    external_ref: str
    site: str
    lines: tuple[FulfilmentLine, ...]
    ship_to: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class WmsFulfilment:
    id: str  # FO-000001
    external_ref: str
    site: str
    status: str  # released, acknowledged, picked, partially_shipped, shipped, cancelled


@dataclass(frozen=True)
class WmsStock:
    sku: str
    site: str
    on_hand: int
    allocated: int
    updated_at: datetime | None = None


class WmsPort(Protocol):
    def create_fulfilment(self, request: FulfilmentRequest) -> WmsFulfilment:
        """Idempotent by external_ref (the same request again returns the existing order); a different body under
        the same ref raises Conflict."""
        ...

    def find_fulfilment(self, external_ref: str) -> WmsFulfilment | None: ...

    def cancel_fulfilment(self, fulfilment_id: str) -> WmsFulfilment:
        """Idempotent; raises NotCancellable once picked."""
        ...

    def iter_stock(self, site: str | None = None, page_size: int = 1000) -> Iterator[WmsStock]: ...
