"""What the WooCommerce webhook contract tests share: a real HTTP capture receiver that records raw bytes and
headers, the store fixtures driven with the real `woocommerce` client, and the independent checks. Every
expectation is computed here, independently of the sandbox (signatures with `hmac`, the decoded secret written out
by hand, PHP escapes as literal bytes)."""
from __future__ import annotations

import base64
import hashlib
import hmac
import threading
import time
from collections import deque
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable

import pytest
import requests
from woocommerce import API

from retail_sync.sandbox.woocommerce.app import WooSandbox

# what the store holds (as an admin form would save it) and what WordPress signs with after
# wp_specialchars_decode(…, ENT_QUOTES)
SECRET = "s3cr&amp;t &lt;wh&gt; it&#039;s/&quot;ok&quot; ünï"
DECODED_SECRET = "s3cr&t <wh> it's/\"ok\" ünï"
NAME = "Tee / Crew é 😀"
NAME_PHP = b'"name":"Tee \\/ Crew \\u00e9 \\ud83d\\ude00"'
USER_AGENT = "WooCommerce/8.2.2 Hookshot (WordPress/6.4.1)"
DELIVERY_HEADERS = {"host", "content-length", "user-agent", "content-type", "x-wc-webhook-source",
                    "x-wc-webhook-topic", "x-wc-webhook-resource", "x-wc-webhook-event", "x-wc-webhook-signature",
                    "x-wc-webhook-id", "x-wc-webhook-delivery-id"}
SKUS = [f"P-{n}" for n in range(8)]


# ---- a capture receiver -----------------------------------------------------------------------------------
@dataclass
class Captured:
    version: str
    method: str
    path: str
    headers: list[tuple[str, str]]
    body: bytes
    at: float

    def header(self, name: str) -> str | None:
        return next((value for key, value in self.headers if key.lower() == name.lower()), None)

    @property
    def is_delivery(self) -> bool:
        return self.header("X-WC-Webhook-Topic") is not None


class Receiver:
    """A tiny threaded HTTP server: records each request (POST or GET), answers `statuses` in turn (then `status`),
    optionally after `delay_s`; a 3xx answer carries `Location: <location>`."""

    def __init__(self) -> None:
        self.requests: list[Captured] = []
        self.statuses: deque[int] = deque()
        self.status = 200
        self.delay_s = 0.0
        self.location = "/moved"
        self.in_progress = 0
        self._changed = threading.Condition()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                with receiver._changed:
                    receiver.in_progress += 1
                    receiver._changed.notify_all()
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                captured = Captured(self.request_version, self.command, self.path, list(self.headers.items()), body,
                                    time.time())
                time.sleep(receiver.delay_s)
                with receiver._changed:
                    status = receiver.statuses.popleft() if receiver.statuses else receiver.status
                    receiver.requests.append(captured)
                    receiver.in_progress -= 1
                    receiver._changed.notify_all()
                self.send_response(status)
                if 300 <= status < 400:
                    self.send_header("Location", receiver.location)
                self.send_header("Content-Length", "0")
                self.end_headers()

            do_GET = do_POST  # noqa: N815 - a ping redirected by a 302/303 comes back as a GET

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}/hooks/woo"
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    def deliveries(self) -> list[Captured]:
        with self._changed:
            return [r for r in self.requests if r.is_delivery]

    def pings(self) -> list[Captured]:
        with self._changed:
            return [r for r in self.requests if not r.is_delivery]

    def wait(self, predicate: Callable[["Receiver"], bool], timeout: float = 10) -> None:
        deadline = time.monotonic() + timeout
        with self._changed:
            while not predicate(self):
                remaining = deadline - time.monotonic()
                assert remaining > 0, f"receiver never saw what the test waited for: {self.requests}"
                self._changed.wait(remaining)

    def wait_deliveries(self, count: int, timeout: float = 10) -> list[Captured]:
        self.wait(lambda r: len([x for x in r.requests if x.is_delivery]) >= count, timeout)
        return self.deliveries()

    def wait_started(self, timeout: float = 10) -> None:
        self.wait(lambda r: r.in_progress > 0, timeout)


@pytest.fixture
def receiver():
    capture = Receiver()
    yield capture
    capture.server.shutdown()
    capture.server.server_close()


# ---- the store --------------------------------------------------------------------------------------------
def seed_catalog(base: str) -> None:
    products = [{"sku": "TEE-1", "name": NAME, "price": 19.9, "stock": {"WH-EAST": 10}}]
    products += [{"sku": sku, "name": f"Product {sku}", "price": 5, "stock": {"WH-EAST": 3}} for sku in SKUS]
    response = requests.post(f"{base}/_sandbox/seed", json={"sites": ["WH-EAST"], "products": products}, timeout=5)
    assert response.status_code == 200, response.text


@pytest.fixture
def woo(serve, sandbox_options) -> str:
    base = serve(WooSandbox, sandbox_options, port=sandbox_options.woo_port)
    seed_catalog(base)
    behaviour(base, delay_ms=50)
    return base


def client(base: str, options) -> API:
    return API(url=base, consumer_key=options.woo_consumer_key, consumer_secret=options.woo_consumer_secret,
               version="wc/v3", timeout=10)


@pytest.fixture
def wcapi(woo, sandbox_options) -> API:
    return client(woo, sandbox_options)


def behaviour(base: str, **knobs: Any) -> dict[str, Any]:
    response = requests.post(f"{base}/_sandbox/webhooks/behaviour", json=knobs, timeout=5)
    assert response.status_code == 200, response.text
    return response.json()


def report(base: str) -> dict[str, Any]:
    return requests.get(f"{base}/_sandbox/webhooks/deliveries", timeout=5).json()


def webhook_state(base: str, webhook_id: int) -> dict[str, Any]:
    return next(w for w in report(base)["webhooks"] if w["id"] == webhook_id)


def wait_report(base: str, predicate: Callable[[dict[str, Any]], bool], timeout: float = 10) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        current = report(base)
        if predicate(current):
            return current
        assert time.monotonic() < deadline, f"timed out; last report: {current}"
        time.sleep(0.02)


def attempts(current: dict[str, Any]) -> list[dict[str, Any]]:
    return [d for d in current["deliveries"] if d["kind"] == "delivery"]


def product_id(wcapi: API, sku: str) -> int:
    [product] = wcapi.get("products", params={"sku": sku}).json()
    return product["id"]


def touch(wcapi: API, product: int, **changes: Any) -> dict[str, Any]:
    response = wcapi.put(f"products/{product}", changes or {"name": f"renamed {time.time()}"})
    assert response.status_code == 200, response.text
    return response.json()


def create_webhook(wcapi: API, url: str, topic: str = "product.updated", **fields: Any) -> dict[str, Any]:
    response = wcapi.post("webhooks", {"topic": topic, "delivery_url": url, "secret": SECRET, **fields})
    assert response.status_code == 201, response.text
    return response.json()


def signature(body: bytes, secret: str = DECODED_SECRET) -> str:
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()
