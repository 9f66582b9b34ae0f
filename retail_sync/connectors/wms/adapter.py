"""`RestWms`: the WmsPort over the WMS REST contract, in canonical terms (see `ports.WmsPort`).

The WMS is idempotent by `external_ref` itself (the same release again answers the existing order), so
`create_fulfilment` is safe to retry blindly; a changed body under the same ref raises Conflict.
"""
from __future__ import annotations

from typing import Iterator
from urllib.parse import quote

from config.settings import Settings
from retail_sync.connectors.http import CallGuard, timeouts
from retail_sync.connectors.ports import FulfilmentRequest, WmsFulfilment, WmsStock
from retail_sync.connectors.wms.client import SYSTEM, WmsClient
from retail_sync.connectors.wms.mapper import fulfilment_body, fulfilment_from_json, stock_from_json

MAX_PAGE_SIZE = 1000  # the contract's `limit` ceiling


def build_wms(settings: Settings, guard: CallGuard) -> "RestWms":
    client = WmsClient(settings.wms_url, settings.wms_api_key.get_secret_value(), timeout=timeouts(settings, SYSTEM),
                       guard=guard)
    return RestWms(client)


class RestWms:
    def __init__(self, client: WmsClient) -> None:
        self._client = client

    def create_fulfilment(self, request: FulfilmentRequest) -> WmsFulfilment:
        # 201 (released now) and 200 (released before under this external_ref) are the same outcome
        order = self._client.post("/fulfillment-orders", "fulfillment-orders.create", fulfilment_body(request))
        return fulfilment_from_json(order)

    def find_fulfilment(self, external_ref: str) -> WmsFulfilment | None:
        page = self._client.get("/fulfillment-orders", "fulfillment-orders.find",
                                {"external_ref": external_ref, "limit": 1})
        return fulfilment_from_json(page["data"][0]) if page["data"] else None

    def cancel_fulfilment(self, fulfilment_id: str) -> WmsFulfilment:
        order = self._client.post(f"/fulfillment-orders/{quote(fulfilment_id, safe='')}/cancel",
                                  "fulfillment-orders.cancel")
        return fulfilment_from_json(order)

    def iter_stock(self, site: str | None = None, page_size: int = MAX_PAGE_SIZE) -> Iterator[WmsStock]:
        """Every (sku, site) level, one keyset page in memory at a time."""
        params: dict[str, object] = {"limit": max(1, min(page_size, MAX_PAGE_SIZE))}
        if site is not None:
            params["site"] = site
        while True:
            page = self._client.get("/inventory", "inventory.list", params)
            for row in page["data"]:
                yield stock_from_json(row)
            if not page.get("next_cursor"):
                return
            params["cursor"] = page["next_cursor"]
