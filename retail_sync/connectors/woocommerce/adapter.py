"""WooCommerceStore: the StorePort over the store's REST API (`wc/v3`), through `WooClient`."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Iterator, Sequence

from config.settings import Settings
from retail_sync.connectors.http import CallGuard, timeouts
from retail_sync.connectors.ports import StoreProduct, StoreWebhook, StoreWrite
from retail_sync.connectors.woocommerce.client import SYSTEM, WooClient
from retail_sync.connectors.woocommerce.mapper import (
    normalise_sku,
    order_from_store,
    product_from_store,
    webhook_from_store,
    write_from_store,
)
from retail_sync.domain.orders import Order

PAGE_LIMIT = 100  # the store refuses per_page above 100
ACTIVE = "active"


class WooCommerceStore:
    def __init__(self, client: WooClient):
        self._client = client

    # ---- orders -------------------------------------------------------------------------------------------------
    def fetch_orders(self, store_ids: Sequence[int]) -> list[Order]:
        wanted = list(dict.fromkeys(int(store_id) for store_id in store_ids))
        orders: list[Order] = []
        for chunk in _chunks(wanted, PAGE_LIMIT):
            # status=any (every status but the trash) is the store's default, stated so no plugin can narrow it.
            params = {"include": ",".join(map(str, chunk)), "per_page": PAGE_LIMIT, "status": "any"}
            orders.extend(order_from_store(raw) for raw in self._client.get_list("orders", params).body)
        return orders

    def orders_modified_since(self, since: datetime, page_size: int = PAGE_LIMIT) -> Iterator[Order]:
        # The store's modified_after is exclusive and to the second: one second earlier makes it "at or after".
        since = since if since.tzinfo else since.replace(tzinfo=timezone.utc)  # the port speaks GMT
        after = (since.astimezone(timezone.utc) - timedelta(seconds=1)).replace(tzinfo=None, microsecond=0)
        params = {"modified_after": after.isoformat(), "dates_are_gmt": "true", "orderby": "modified",
                  "order": "asc", "status": "any", "per_page": min(page_size, PAGE_LIMIT)}
        for page in self._pages("orders", params):
            yield from (order_from_store(raw) for raw in page)

    def set_order_status(self, store_id: int, status: str, note: str | None = None,
                         customer_note: bool = False) -> StoreWrite:
        # The note goes first: adding a note does not save the order (it changes neither date_modified nor fires
        # order.updated, checked against the store sandbox), so the status PUT's answer carries the order's newest
        # date_modified_gmt, the stamp by which its order.updated echo is recognised.
        if note:
            self.add_order_note(store_id, note, customer_note)
        answer = self._client.put(f"orders/{int(store_id)}", {"status": status})
        return write_from_store(answer.body)

    def add_order_note(self, store_id: int, note: str, customer_note: bool = False) -> None:
        endpoint = f"orders/{int(store_id)}/notes"
        if customer_note:
            # A customer note emails the shopper: a retry after a lost answer must not send the same mail twice.
            existing = self._client.get_list(endpoint, {"type": "customer"}).body
            if any(item.get("note") == note for item in existing):
                return
        self._client.post(endpoint, {"note": note, "customer_note": customer_note})

    # ---- products -----------------------------------------------------------------------------------------------
    def iter_products(self, page_size: int = PAGE_LIMIT) -> Iterator[StoreProduct]:
        per_page = min(page_size, PAGE_LIMIT)
        for page in self._pages("products", {"per_page": per_page, "orderby": "id", "order": "asc"}):
            for raw in page:
                if raw.get("type") == "variable":
                    for variations in self._pages(f"products/{int(raw['id'])}/variations",
                                                  {"per_page": per_page, "orderby": "id", "order": "asc"}):
                        for item in variations:
                            variation = product_from_store(item, parent_id=int(raw["id"]))
                            if variation.sku:
                                yield variation
                product = product_from_store(raw)
                if product.sku:
                    yield product

    def find_products(self, skus: Sequence[str]) -> dict[str, StoreProduct]:
        """By exact SKU, products and variations alike. The store's `sku` filter takes a comma-separated list (and
        also tries the whole string as one SKU), so a SKU containing a comma is asked for on its own."""
        wanted = list(dict.fromkeys(sku for sku in map(normalise_sku, skus) if sku))  # in order, for the queries
        wanted_set = set(wanted)
        found: dict[str, StoreProduct] = {}
        plain = [sku for sku in wanted if "," not in sku]
        queries = [",".join(chunk) for chunk in _chunks(plain, PAGE_LIMIT)] + [sku for sku in wanted if "," in sku]
        for query in queries:
            for page in self._pages("products", {"sku": query, "per_page": PAGE_LIMIT}):
                for product in map(product_from_store, page):
                    if product.sku in wanted_set:
                        found[product.sku] = product
        return found

    # ---- webhooks -----------------------------------------------------------------------------------------------
    def ensure_webhooks(self, topics: Sequence[str], delivery_url: str, secret: str) -> list[StoreWebhook]:
        """One active webhook per topic pointing at `delivery_url`, with this secret. Ours are those pointing there
        and those named by us (`retail-sync <topic>`: an engine that moved repoints them instead of leaving the old
        ones delivering to its old address). Of ours, an active one pointing here is kept first (a re-enabled webhook
        keeps its failure count, so it is one failure from being disabled again), else another is re-activated and
        repointed; the extra ones are deleted, as each would deliver again. Anything else is someone else's and
        stays. The store never shows a secret, so ours is always sent again."""
        ours: dict[str, list[dict]] = {}
        for page in self._pages("webhooks", {"per_page": PAGE_LIMIT, "orderby": "id", "order": "asc"}):
            for raw in page:
                topic = raw.get("topic") or ""
                if raw.get("delivery_url") == delivery_url or raw.get("name") == _webhook_name(topic):
                    ours.setdefault(topic, []).append(raw)
        result: list[StoreWebhook] = []
        for topic in dict.fromkeys(topics):
            existing = sorted(ours.get(topic, []), key=lambda raw: (raw.get("delivery_url") != delivery_url,
                                                                    raw.get("status") != ACTIVE))
            if existing:
                keep, extra = existing[0], existing[1:]
                answer = self._client.put(f"webhooks/{int(keep['id'])}",
                                          {"status": ACTIVE, "secret": secret, "delivery_url": delivery_url})
                for duplicate in extra:
                    self._client.delete(f"webhooks/{int(duplicate['id'])}", {"force": "true"})
            else:
                answer = self._client.post("webhooks", {"name": _webhook_name(topic), "topic": topic,
                                                        "delivery_url": delivery_url, "secret": secret,
                                                        "status": ACTIVE})
            result.append(webhook_from_store(answer.body))
        return result

    # ---- helpers ------------------------------------------------------------------------------------------------
    def _pages(self, endpoint: str, params: dict) -> Iterator[list[dict]]:
        page = 1
        while True:
            answer = self._client.get_list(endpoint, {**params, "page": page})
            yield answer.body
            if page >= answer.total_pages or not answer.body:
                return
            page += 1


def build_store(settings: Settings, guard: CallGuard) -> WooCommerceStore:
    connect, read = timeouts(settings, SYSTEM)
    client = WooClient(settings.woo_url, settings.woo_consumer_key.get_secret_value(),
                       settings.woo_consumer_secret.get_secret_value(), connect_timeout_s=connect,
                       read_timeout_s=read, guard=guard)
    return WooCommerceStore(client)


def _webhook_name(topic: str) -> str:
    return f"retail-sync {topic}"


def _chunks(items: list, size: int) -> Iterator[list]:
    for start in range(0, len(items), size):
        yield items[start:start + size]
