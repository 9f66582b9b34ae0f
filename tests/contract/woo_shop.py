"""A seeded store sandbox for the order, refund, money and checkout contract tests.

The sandbox runs on a real uvicorn server (as `retail-sync sandbox` runs it) and is driven over HTTP with the
`woocommerce` client over OAuth and plain `requests` for the `/_sandbox/` routes. A shop opened with
`behind_tls=True` believes it sits behind TLS termination (`--assume-https`): `Shop.raw` then sends query strings
the client cannot build (it keeps one value per key) with HTTP Basic, and the client's OAuth no longer matches.

The hooks the store fires are read from its hook log (`GET /_sandbox/hooks`), so a test can say which hooks a call
triggered without depending on delivery.
"""
from __future__ import annotations

import contextlib
from dataclasses import replace
from typing import Any, Iterator

import requests
import woocommerce

from retail_sync.sandbox import runner
from retail_sync.sandbox.common.base import SandboxOptions
from retail_sync.sandbox.woocommerce.app import WooSandbox

CATALOG = {
    "sites": ["WH-EAST", "WH-WEST"],
    "products": [
        {"sku": "MUG", "name": "Mug", "price": "19.90", "stock": {"WH-EAST": 6, "WH-WEST": 4}},
        {"sku": "BOOK", "name": "Book", "price": "12.50", "stock": {"WH-EAST": 5}, "tax_class": "reduced-rate"},
        {"sku": "CARD", "name": "Card", "price": "10.00", "stock": {"WH-EAST": 50}},
        {"sku": "PIN", "name": "Pin", "price": "0.99", "stock": {"WH-EAST": 100}},
        {"sku": "POSTER", "name": "Poster", "price": "9.99", "stock": {}, "manage_stock": False},
        {"sku": "TEE", "name": "Tee", "price": "15.00", "variations": [
            {"sku": "TEE-S", "name": "Tee - S", "price": "15.00", "stock": {"WH-EAST": 3}},
            {"sku": "TEE-M", "name": "Tee - M", "price": "15.00", "stock": {"WH-WEST": 2}},
        ]},
    ],
}


def hooks_since(url: str, since: int = 0) -> tuple[list[tuple[str, int]], int]:
    """The (topic, resource id) hooks the store at `url` fired after log position `since`, and the new position."""
    response = requests.get(f"{url}/_sandbox/hooks", params={"since": since}, timeout=5)
    assert response.status_code == 200, response.text
    body = response.json()
    return [(hook["topic"], hook["resource_id"]) for hook in body["hooks"]], body["next_since"]


class Shop:
    def __init__(self, url: str, options: SandboxOptions) -> None:
        self.url = url
        self.keys = (options.woo_consumer_key, options.woo_consumer_secret)
        self.api = woocommerce.API(url, *self.keys, timeout=15)
        self._opened_at = hooks_since(url)[1]  # hooks fired while seeding are not the tests' business

    @property
    def fired(self) -> list[tuple[str, int]]:
        """Every (topic, resource id) hook fired since the shop was opened, in order."""
        return hooks_since(self.url, self._opened_at)[0]

    # ---- REST -------------------------------------------------------------------------------------------------
    def create(self, **body: Any) -> dict[str, Any]:
        response = self.api.post("orders", body)
        assert response.status_code == 201, response.text
        return response.json()

    def update(self, order_id: int, **body: Any) -> dict[str, Any]:
        response = self.api.put(f"orders/{order_id}", body)
        assert response.status_code == 200, response.text
        return response.json()

    def get(self, order_id: int) -> dict[str, Any]:
        response = self.api.get(f"orders/{order_id}")
        assert response.status_code == 200, response.text
        return response.json()

    def notes(self, order_id: int) -> list[str]:
        """The order's note texts, oldest first."""
        response = self.api.get(f"orders/{order_id}/notes")
        assert response.status_code == 200, response.text
        return [note["note"] for note in reversed(response.json())]

    def raw(self, method: str, path_and_query: str, **kwargs: Any) -> requests.Response:
        """A REST call with a hand-written query string (repeated keys, `key[]=`), authenticated with Basic."""
        return requests.request(method, f"{self.url}/wp-json/wc/v3/{path_and_query}", auth=self.keys, timeout=15,
                                **kwargs)

    def product(self, sku: str) -> dict[str, Any]:
        response = self.api.get("products", params={"sku": sku})
        assert response.status_code == 200, response.text
        (product,) = response.json()
        return product

    def stock(self, sku: str) -> int | None:
        return self.product(sku)["stock_quantity"]

    # ---- sandbox control ----------------------------------------------------------------------------------------
    def checkout(self, **body: Any) -> requests.Response:
        return requests.post(f"{self.url}/_sandbox/checkout", json=body, timeout=15)

    def state(self) -> dict[str, Any]:
        return requests.get(f"{self.url}/_sandbox/state", timeout=5).json()

    def ledger_creates(self, kind: str, key: str) -> list[str]:
        creates = requests.get(f"{self.url}/_sandbox/ledger", timeout=5).json()["creates"]
        return [entry["outcome"] for entry in creates.get(f"{kind}:{key}", [])]

    def topics(self, order_id: int) -> list[str]:
        """The order topics fired for `order_id` so far, in order (product topics left out)."""
        return [topic for topic, resource in self.fired if topic.startswith("order.") and resource == order_id]


@contextlib.contextmanager
def open_shop(options: SandboxOptions, behind_tls: bool = False) -> Iterator[Shop]:
    """A store sandbox on the options' WooCommerce port (so its `_links` name the URL tests call), seeded."""
    options = replace(options, assume_https=behind_tls)
    sandbox = WooSandbox(options)
    running = runner.start(options, [(sandbox, options.woo_port, False)])
    try:
        response = requests.post(f"{running[0].url}/_sandbox/seed", json=CATALOG, timeout=15)
        assert response.status_code == 200, response.text
        yield Shop(running[0].url, options)
    finally:
        runner.stop(running)
