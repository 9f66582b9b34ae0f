"""How a call's outcome becomes our error taxonomy (connectors/http.py and the store and WMS clients): real
requests over loopback to a scripted server or a closed port, through the real `woocommerce` client."""
from __future__ import annotations

import email.utils
import time
from typing import Iterator

import pytest
import requests

from config.settings import Settings
from retail_sync.connectors.erp.client import SYSTEM as ERP
from retail_sync.connectors.http import (
    MAX_PAUSE_S,
    THROTTLE_PAUSE_S,
    error_json,
    json_body,
    parse_retry_after,
    timeouts,
)
from retail_sync.connectors.wms.client import SYSTEM as WMS
from retail_sync.connectors.wms.client import WmsClient
from retail_sync.connectors.woocommerce.client import SYSTEM as WOOCOMMERCE
from retail_sync.connectors.woocommerce.client import WooClient
from retail_sync.errors import PermanentError, RecordGone, TransientError
from tests.support.processes import free_port
from tests.support.scripted_http import Reply, ScriptedServer


class RecordingGuard:
    """A CallGuard that lets every call go and remembers the outcomes it was told."""

    def __init__(self) -> None:
        self.outcomes: list[tuple[str, bool, float | None]] = []

    def before_call(self, system: str) -> None:
        return None

    def record(self, system: str, *, ok: bool, retry_after: float | None = None) -> None:
        self.outcomes.append((system, ok, retry_after))


@pytest.fixture
def server() -> Iterator[ScriptedServer]:
    with ScriptedServer() as running:
        yield running


@pytest.fixture
def guard() -> RecordingGuard:
    return RecordingGuard()


def store_client(url: str, guard: RecordingGuard, read_timeout_s: float = 5) -> WooClient:
    return WooClient(url, "ck_test", "cs_test", connect_timeout_s=1, read_timeout_s=read_timeout_s, guard=guard)


# ---- transport failures ------------------------------------------------------------------------------------------
def test_a_read_timeout_is_transient_and_a_failure_for_the_breaker(server, guard):
    server.queue(Reply(delay_s=1.0))
    with pytest.raises(TransientError, match="timed out") as caught:
        store_client(server.url, guard, read_timeout_s=0.1).get("orders")
    assert caught.value.retry_after is None
    assert guard.outcomes == [("woocommerce", False, None)]


def test_a_refused_connection_is_transient_and_a_failure_for_the_breaker(guard):
    closed = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(TransientError, match="connection failed"):
        store_client(closed, guard).get("orders")
    assert guard.outcomes == [("woocommerce", False, None)]


# ---- throttling and server errors --------------------------------------------------------------------------------
def test_429_with_delta_seconds_pauses_without_counting_as_a_failure(server, guard):
    server.queue(Reply.json(429, {"code": "too_many", "message": "slow down"}, **{"Retry-After": "7"}))
    with pytest.raises(TransientError) as caught:
        store_client(server.url, guard).get("orders")
    assert caught.value.retry_after == 7
    assert guard.outcomes == [("woocommerce", True, 7)]


def test_429_with_an_http_date_waits_until_that_date(server, guard):
    when = email.utils.formatdate(time.time() + 120, usegmt=True)
    server.queue(Reply.json(429, {"code": "too_many", "message": "slow down"}, **{"Retry-After": when}))
    with pytest.raises(TransientError) as caught:
        store_client(server.url, guard).get("orders")
    assert 100 < caught.value.retry_after <= 120
    assert guard.outcomes[0][2] == caught.value.retry_after


def test_429_without_retry_after_still_pauses_briefly(server, guard):
    server.queue(Reply(429, b"<html>Too Many Requests</html>", {"Content-Type": "text/html"}))
    with pytest.raises(TransientError) as caught:
        store_client(server.url, guard).get("orders")
    assert caught.value.retry_after == THROTTLE_PAUSE_S


def test_503_with_retry_after_is_a_failure_and_a_pause(server, guard):
    server.queue(Reply.json(503, {"code": "maintenance", "message": "back soon"}, **{"Retry-After": "30"}))
    with pytest.raises(TransientError, match="HTTP 503") as caught:
        store_client(server.url, guard).get("orders")
    assert caught.value.retry_after == 30
    assert guard.outcomes == [("woocommerce", False, 30)]


@pytest.mark.parametrize("status", [500, 502, 504, 408])
def test_5xx_and_408_are_transient_failures(server, guard, status):
    server.queue(Reply.json(status, {"code": "internal_server_error", "message": "boom"}))
    with pytest.raises(TransientError, match=f"HTTP {status}") as caught:
        store_client(server.url, guard).get("orders")
    assert caught.value.retry_after is None
    assert guard.outcomes == [("woocommerce", False, None)]


# ---- 4xx bodies ----------------------------------------------------------------------------------------------------
def test_a_4xx_is_permanent_names_the_stores_code_and_message_and_counts_as_the_remote_answering(server, guard):
    server.queue(Reply.json(400, {"code": "rest_invalid_param", "message": "Invalid parameter(s): per_page",
                                  "data": {"status": 400, "params": {"per_page": "too big"}}}))
    with pytest.raises(PermanentError) as caught:
        store_client(server.url, guard).get("orders", {"per_page": 500})
    assert not isinstance(caught.value, RecordGone)
    assert "HTTP 400 rest_invalid_param: Invalid parameter(s): per_page" in str(caught.value)
    assert guard.outcomes == [("woocommerce", True, None)]


@pytest.mark.parametrize("status, code", [
    (404, "woocommerce_rest_shop_order_invalid_id"),
    (400, "woocommerce_rest_shop_order_invalid_id"),  # WooCommerce answers a PUT of an unknown id with 400
    (410, "woocommerce_rest_already_trashed"),
])
def test_an_unknown_or_trashed_record_is_record_gone(server, guard, status, code):
    server.queue(Reply.json(status, {"code": code, "message": "Invalid ID.", "data": {"status": status}}))
    with pytest.raises(RecordGone, match=code):
        store_client(server.url, guard).put("orders/999", {"status": "on-hold"})


def test_an_unknown_route_is_a_misconfiguration_not_a_missing_record(server, guard):
    server.queue(Reply.json(404, {"code": "rest_no_route", "message": "No route was found matching the URL and "
                                  "request method.", "data": {"status": 404}}))
    with pytest.raises(PermanentError, match="rest_no_route") as caught:
        store_client(server.url, guard).get("orders")
    assert not isinstance(caught.value, RecordGone)


def test_a_4xx_that_is_not_json_keeps_an_excerpt_of_the_page(server, guard):
    server.queue(Reply(403, b"<html><h1>Forbidden by the firewall</h1></html>", {"Content-Type": "text/html"}))
    with pytest.raises(PermanentError, match="HTTP 403 <html><h1>Forbidden by the firewall"):
        store_client(server.url, guard).get("orders")


# ---- 2xx that is not what it says -----------------------------------------------------------------------------------
def test_a_2xx_html_page_is_transient_never_a_crash(server, guard):
    server.queue(Reply(200, b"<html>Maintenance mode</html>", {"Content-Type": "text/html"}))
    with pytest.raises(TransientError, match="without JSON \\(text/html\\): <html>Maintenance mode"):
        store_client(server.url, guard).get("orders")


def test_a_collection_that_is_not_a_list_is_transient(server, guard):
    server.queue(Reply.json(200, {"status": "ok"}))
    with pytest.raises(TransientError, match="a list was expected, got dict"):
        store_client(server.url, guard).get_list("orders")


def test_a_2xx_json_answer_comes_back_with_its_headers(server, guard):
    server.queue(Reply.json(200, [{"id": 1}], **{"X-WP-TotalPages": "3"}))
    answer = store_client(server.url, guard).get_list("orders", {"page": 1})
    assert (answer.body, answer.total_pages) == ([{"id": 1}], 3)
    assert server.requests[0][1].startswith("/wp-json/wc/v3/orders?")


# ---- the shared helpers the clients use ----------------------------------------------------------------------------
@pytest.mark.parametrize("reply, expected", [
    (Reply.json(400, {"error": {"code": "invalid_field"}}), {"error": {"code": "invalid_field"}}),
    (Reply.json(400, ["not", "an", "object"]), None),
    (Reply(502, b"<html>Bad gateway</html>", {"Content-Type": "text/html"}), None),
    (Reply(400, b"", {"Content-Type": "text/plain"}), None),
])
def test_error_json_is_the_body_as_a_json_object_else_none(server, reply, expected):
    server.queue(reply)
    assert error_json(requests.get(server.url, timeout=5)) == expected


def test_a_wms_4xx_that_is_not_json_keeps_an_excerpt_of_the_page(server, guard):
    server.queue(Reply(413, b"<html>Request Entity Too Large</html>", {"Content-Type": "text/html"}))
    with pytest.raises(PermanentError, match="wms x: HTTP 413 error: <html>Request Entity Too Large"):
        WmsClient(server.url, "key", timeout=(1, 5), guard=guard).get("/x", "x")
    assert guard.outcomes == [("wms", True, None)]


def test_a_wms_2xx_that_is_not_json_is_transient(server, guard):
    server.queue(Reply(200, b"<html>Maintenance mode</html>", {"Content-Type": "text/html"}))
    with pytest.raises(TransientError, match="wms x: HTTP 200 without JSON \\(text/html\\)"):
        WmsClient(server.url, "key", timeout=(1, 5), guard=guard).get("/x", "x")


def test_timeouts_are_per_system_with_one_connect_timeout():
    settings = Settings(_env_file=None, connect_timeout_s=2, woo_timeout_s=11, erp_timeout_s=12, wms_timeout_s=13)
    assert [timeouts(settings, system) for system in (WOOCOMMERCE, ERP, WMS)] == [(2, 11), (2, 12), (2, 13)]


def test_json_body_of_an_empty_2xx_is_transient(server):
    server.queue(Reply(200, b"", {"Content-Type": "text/plain"}))
    response = requests.get(server.url, timeout=5)
    with pytest.raises(TransientError, match="erp POST /jsonrpc: HTTP 200 without JSON"):
        json_body(response, "erp", "POST /jsonrpc")


@pytest.mark.parametrize("header, expected", [
    ("120", 120.0),
    (" 5 ", 5.0),
    ("Wed, 21 Oct 2015 07:28:00 GMT", 0.0),  # a date in the past: go now
    ("soon", None),
    ("", None),
    (None, None),
    ("999999", MAX_PAUSE_S),  # a broken header must not stall a system for days
])
def test_parse_retry_after(header, expected):
    assert parse_retry_after(header, now=time.time()) == expected


def test_parse_retry_after_reads_an_http_date_against_now():
    now = 1_800_000_000.0
    assert parse_retry_after(email.utils.formatdate(now + 90, usegmt=True), now=now) == 90.0
