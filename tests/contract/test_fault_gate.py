"""The fault gate shared by all three sandboxes, proven on a minimal sandbox over real HTTP."""
from __future__ import annotations

import time
from typing import Any

import pytest
import requests
from fastapi import FastAPI

from retail_sync.sandbox.common.base import Sandbox
from retail_sync.sandbox.common.faults import CallInfo

SCHEMA = "CREATE TABLE IF NOT EXISTS items (id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT NOT NULL);"


class TinySandbox(Sandbox):
    name = "tiny"
    schema = SCHEMA
    tables = ("items",)

    def add_routes(self, app: FastAPI) -> None:
        @app.post("/items")
        async def create(body: dict[str, Any]) -> dict[str, Any]:
            with self.db.tx() as conn:
                item_id = conn.execute("INSERT INTO items (name) VALUES (?)", (body["name"],)).lastrowid
            self.ledger.record_create("item", body["name"], "created", item_id)
            return {"id": item_id}

        @app.get("/items")
        async def count() -> dict[str, Any]:
            return {"count": self.db.scalar("SELECT COUNT(*) FROM items")}

    def state(self) -> dict[str, Any]:
        return {"items": self.db.scalar("SELECT COUNT(*) FROM items")}

    def describe(self, method: str, path: str, body: bytes) -> CallInfo:
        return CallInfo(model="item" if path.startswith("/items") else None, method=method.lower())


@pytest.fixture
def tiny(serve, sandbox_options) -> str:
    return serve(TinySandbox, sandbox_options)


def faults(url: str, **settings: Any) -> None:
    response = requests.post(f"{url}/_sandbox/faults", json=settings, timeout=5)
    assert response.status_code == 200, response.text


def test_commit_then_drop_applies_the_write_and_resets_the_connection(tiny):
    faults(tiny, commit_then_drop_rate=1.0)
    with pytest.raises(requests.ConnectionError):
        requests.post(f"{tiny}/items", json={"name": "a"}, timeout=5)
    faults(tiny)
    assert requests.get(f"{tiny}/items", timeout=5).json() == {"count": 1}
    ledger = requests.get(f"{tiny}/_sandbox/ledger", timeout=5).json()
    assert [c["fault"] for c in ledger["calls"]] == ["commit_then_drop", None]
    assert [a["outcome"] for a in ledger["creates"]["item:a"]] == ["created"]


def test_down_resets_everything_but_control(tiny):
    faults(tiny, down=True)
    with pytest.raises(requests.ConnectionError):
        requests.get(f"{tiny}/items", timeout=5)
    assert requests.get(f"{tiny}/_sandbox/state", timeout=5).json() == {"items": 0}
    faults(tiny)
    assert requests.get(f"{tiny}/items", timeout=5).status_code == 200


def test_rate_limit_answers_429_with_retry_after_and_ledger_records_it(tiny):
    faults(tiny, rate_limit_per_s=2)
    statuses = [requests.get(f"{tiny}/items", timeout=5) for _ in range(5)]
    limited = [r for r in statuses if r.status_code == 429]
    assert limited, [r.status_code for r in statuses]
    assert all(int(r.headers["Retry-After"]) >= 1 for r in limited)
    calls = requests.get(f"{tiny}/_sandbox/ledger", timeout=5).json()["calls"]
    assert {c["fault"] for c in calls if c["status"] == 429} == {"rate_limited"}
    assert all(c["retry_after"] >= 1 for c in calls if c["status"] == 429)


def test_error_rate_and_match_narrow_the_fault(tiny):
    faults(tiny, error_rate=1.0, error_status=503, match={"method": "POST"})
    assert requests.get(f"{tiny}/items", timeout=5).status_code == 200
    response = requests.post(f"{tiny}/items", json={"name": "b"}, timeout=5)
    assert response.status_code == 503
    assert requests.get(f"{tiny}/items", timeout=5).json() == {"count": 0}  # nothing applied


def test_latency_and_hang(tiny):
    faults(tiny, latency_ms=300)
    start = time.monotonic()
    assert requests.get(f"{tiny}/items", timeout=5).status_code == 200
    assert time.monotonic() - start >= 0.3
    faults(tiny, hang_ms=2000, match={"model": "item", "method": "post"})
    with pytest.raises(requests.exceptions.ReadTimeout):
        requests.post(f"{tiny}/items", json={"name": "c"}, timeout=0.5)
    faults(tiny)
    time.sleep(1.7)  # the hung request ends by dropping, without applying anything
    assert requests.get(f"{tiny}/items", timeout=5).json() == {"count": 0}


def test_reset_clears_rows_ledger_and_faults(tiny):
    requests.post(f"{tiny}/items", json={"name": "d"}, timeout=5)
    faults(tiny, latency_ms=50)
    body = requests.post(f"{tiny}/_sandbox/reset", timeout=5).json()
    assert body["state"] == {"items": 0}
    assert requests.get(f"{tiny}/_sandbox/faults", timeout=5).json()["latency_ms"] == 0
    assert requests.get(f"{tiny}/_sandbox/ledger", timeout=5).json()["calls"] == []


def test_bad_fault_settings_are_refused(tiny):
    response = requests.post(f"{tiny}/_sandbox/faults", json={"error_rate": 2}, timeout=5)
    assert response.status_code == 422
    response = requests.post(f"{tiny}/_sandbox/faults", json={"explode": True}, timeout=5)
    assert response.status_code == 422
