"""What the WMS contract tests share: an events receiver standing in for the engine, an independent Standard
Webhooks verifier, a bearer-token client and a small catalog.

The verifier is written from the Standard Webhooks specification (spec/standard-webhooks.md), not from the
sandbox's code: the signed content is `{webhook-id}.{webhook-timestamp}.{raw body}`, HMAC-SHA256 keyed with the
base64-decoded part of the `whsec_` secret, sent as space-separated `v1,<base64>` entries.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import time
from dataclasses import dataclass, replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable, Iterator

import pytest
import requests

from retail_sync.sandbox.common.base import SandboxOptions
from retail_sync.sandbox.wms.app import WmsSandbox

API_KEY = "test-wms-key"
SECRET = "whsec_" + base64.b64encode(b"contract-test-secret-0123456789abcdef").decode()
TOLERANCE_S = 300

CATALOG = {
    "sites": ["WH-EAST", "WH-WEST"],
    "products": [
        {"sku": "SKU-A", "name": "Mug", "price": "9.90", "stock": {"WH-EAST": 10, "WH-WEST": 5}},
        {"sku": "SKU-B", "name": "Plate", "price": "14.50", "stock": {"WH-EAST": 3}},
        {"sku": "TEE", "name": "T-shirt", "price": "19.00",
         "variations": [{"sku": "TEE-S", "name": "T-shirt S", "price": "19.00", "stock": {"WH-WEST": 4}},
                        {"sku": "TEE-M", "name": "T-shirt M", "price": "19.00", "stock": {"WH-WEST": 6}}]},
    ],
}


class SignatureError(AssertionError):
    pass


def verify(secret: str, headers: dict[str, str], body: bytes, now: float | None = None) -> dict[str, Any]:
    """Standard Webhooks verification of one delivery; returns the parsed payload or raises SignatureError."""
    assert secret.startswith("whsec_")
    key = base64.b64decode(secret.split("_", 1)[1])
    try:
        msg_id, stamp, signatures = headers["webhook-id"], headers["webhook-timestamp"], headers["webhook-signature"]
    except KeyError as missing:
        raise SignatureError(f"missing header {missing}") from None
    if abs((now or time.time()) - int(stamp)) > TOLERANCE_S:
        raise SignatureError("timestamp outside the tolerance")
    expected = base64.b64encode(hmac.new(key, msg_id.encode() + b"." + stamp.encode() + b"." + body,
                                         hashlib.sha256).digest())
    for entry in signatures.split(" "):
        version, _, value = entry.partition(",")
        if version == "v1" and hmac.compare_digest(value.encode(), expected):
            return json.loads(body)
    raise SignatureError("no v1 signature matches")


@dataclass
class Delivery:
    headers: dict[str, str]
    body: bytes
    answered: int
    at: float

    @property
    def payload(self) -> dict[str, Any]:
        return json.loads(self.body)


class Receiver:
    """A real HTTP server standing in for the engine's `/webhooks/wms`; fails the first `fail_first` deliveries
    (or those a `fail_when` predicate picks) with HTTP 500, and records every delivery."""

    def __init__(self) -> None:
        self.deliveries: list[Delivery] = []
        self.fail_first = 0
        self.fail_when: Callable[[dict[str, Any]], bool] | None = None
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - the stdlib's name
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                status = receiver._answer(self.path, body)
                with receiver._lock:
                    receiver.deliveries.append(Delivery({k.lower(): v for k, v in self.headers.items()}, body,
                                                        status, time.time()))
                self.send_response(status)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05},
                                        daemon=True)
        self._thread.start()

    def _answer(self, path: str, body: bytes) -> int:
        if path != "/webhooks/wms":
            return 404
        with self._lock:
            if self.fail_first > 0:
                self.fail_first -= 1
                return 500
        if self.fail_when is not None and self.fail_when(json.loads(body)):
            return 500
        return 200

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def accepted(self, event_type: str | None = None) -> list[dict[str, Any]]:
        """Payloads answered 2xx, in arrival order, optionally of one type."""
        with self._lock:
            found = [d.payload for d in self.deliveries if 200 <= d.answered < 300]
        return [p for p in found if event_type is None or p["type"] == event_type]

    def wait_for(self, predicate: Callable[["Receiver"], Any], timeout: float = 10, what: str = "deliveries") -> Any:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = predicate(self)
            if value:
                return value
            time.sleep(0.02)
        raise AssertionError(f"timed out waiting for {what}; got {[d.payload['type'] for d in self.deliveries]}")

    def wait_count(self, count: int, event_type: str | None = None, timeout: float = 10) -> list[dict[str, Any]]:
        return self.wait_for(lambda r: (found := r.accepted(event_type)) and len(found) >= count and found,
                             timeout, f"{count} {event_type or 'event'}(s)")


class Wms:
    """requests against one running WMS sandbox: `api` calls carry the bearer token, `control` calls none."""

    def __init__(self, url: str, api_key: str = API_KEY) -> None:
        self.url = url
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Bearer {api_key}"

    def api(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        kwargs.setdefault("timeout", 10)
        return self.session.request(method, f"{self.url}/api/v1{path}", **kwargs)

    def control(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        kwargs.setdefault("timeout", 60)
        return requests.request(method, f"{self.url}/_sandbox{path}", **kwargs)

    def ok(self, response: requests.Response, status: int = 200) -> Any:
        assert response.status_code == status, (response.status_code, response.text)
        return response.json()

    def create_order(self, external_ref: str, lines: list[tuple[str, int]], site: str = "WH-EAST",
                     expect: int = 201) -> dict[str, Any]:
        body = {"external_ref": external_ref, "site": site, "ship_to": {"name": "Ada Lovelace", "country": "DE"},
                "lines": [{"sku": sku, "quantity": qty} for sku, qty in lines]}
        return self.ok(self.api("POST", "/fulfillment-orders", json=body), expect)

    def on_hand(self, sku: str, site: str) -> dict[str, Any]:
        rows = self.ok(self.api("GET", "/inventory", params={"sku": sku, "site": site}))["data"]
        assert len(rows) == 1, rows
        return rows[0]

    def events(self, **params: Any) -> list[dict[str, Any]]:
        return self.ok(self.control("GET", "/events", params=params))["events"]

    def ledger_creates(self) -> dict[str, list[dict[str, Any]]]:
        return self.ok(self.control("GET", "/ledger"))["creates"]

    def set_behaviour(self, **settings: Any) -> None:
        self.ok(self.control("POST", "/events/behaviour", json=settings))


def wms_options(options: SandboxOptions, engine_url: str) -> SandboxOptions:
    return replace(options, engine_url=engine_url, wms_api_key=API_KEY, wms_webhook_secret=SECRET)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    instance = Receiver()
    yield instance
    instance.close()


@pytest.fixture
def wms(serve, sandbox_options, receiver) -> Wms:
    """A seeded WMS whose events go to `receiver`."""
    client = Wms(serve(WmsSandbox, wms_options(sandbox_options, receiver.url)))
    client.ok(client.control("POST", "/seed", json=CATALOG))
    return client
