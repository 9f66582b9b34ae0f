"""A plain Odoo JSON-RPC client for the ERP contract tests, written from Odoo's wire format (nothing shared with
the sandbox or the engine): POST /jsonrpc {"jsonrpc": "2.0", "method": "call", "params": {service, method, args}}.
Also the `erp` and `rpc` fixtures the JSON-RPC test modules import (they need tests/contract/conftest.py's `serve`)."""
from __future__ import annotations

import itertools
from typing import Any

import pytest
import requests

from retail_sync.sandbox.erp.app import ErpSandbox


class OdooRpcError(Exception):
    """A JSON-RPC `error` member, kept whole so tests can assert its exact shape."""

    def __init__(self, error: dict[str, Any]) -> None:
        super().__init__(error.get("data", {}).get("message", error.get("message")))
        self.error = error

    @property
    def name(self) -> str:
        return self.error["data"]["name"]

    @property
    def message(self) -> str:
        return self.error["data"]["message"]


class OdooJsonRpc:
    def __init__(self, base_url: str, db: str = "retail", login: str = "admin", password: str = "admin") -> None:
        self.url = base_url.rstrip("/") + "/jsonrpc"
        self.db, self.login, self.password = db, login, password
        self.uid = 2
        self.session = requests.Session()
        self._ids = itertools.count(1)

    def post(self, service: str, method: str, *args: Any) -> requests.Response:
        payload = {"jsonrpc": "2.0", "method": "call", "id": next(self._ids),
                   "params": {"service": service, "method": method, "args": list(args)}}
        return self.session.post(self.url, json=payload, timeout=10)

    def call(self, service: str, method: str, *args: Any) -> Any:
        response = self.post(service, method, *args)
        assert response.status_code == 200, response.text
        body = response.json()
        if "error" in body:
            raise OdooRpcError(body["error"])
        return body.get("result")

    def execute(self, model: str, method: str, *args: Any, **kwargs: Any) -> Any:
        return self.call("object", "execute_kw", self.db, self.uid, self.password, model, method, list(args), kwargs)


# a small catalog for the ERP tests: two sites, both tax classes, a variable product
CATALOG = {
    "sites": ["WH-EAST", "WH-WEST"],
    "products": [
        {"sku": "MUG-01", "name": "Mug", "price": "12.50", "stock": {"WH-EAST": 10, "WH-WEST": 4}},
        {"sku": "BOOK-01", "name": "Book", "price": "19.99", "stock": {"WH-EAST": 3}, "tax_class": "reduced-rate"},
        {"sku": "TEE", "name": "T-shirt", "price": "25.00", "variations": [
            {"sku": "TEE-S", "name": "T-shirt S", "price": "25.00", "stock": {"WH-EAST": 2, "WH-WEST": 1}},
            {"sku": "TEE-M", "name": "T-shirt M", "price": "25.00", "stock": {"WH-WEST": 5}},
        ]},
    ],
}


def seeded(base_url: str) -> OdooJsonRpc:
    """Seed `CATALOG` into the ERP sandbox at `base_url` and return a client for it."""
    response = requests.post(base_url.rstrip("/") + "/_sandbox/seed", json=CATALOG, timeout=10)
    assert response.status_code == 200, response.text
    return OdooJsonRpc(base_url)


@pytest.fixture
def erp(serve, sandbox_options) -> str:
    """The base URL of an ERP sandbox, not yet seeded."""
    return serve(ErpSandbox, sandbox_options)


@pytest.fixture
def rpc(erp) -> OdooJsonRpc:
    return seeded(erp)
