"""Events to the engine: a persistent outbox (SQLite) and signed delivery with retries (Standard Webhooks).

An event is written in the same transaction as the change it reports, so nothing is announced that did not
happen and nothing that happened goes unannounced, across restarts too. Delivery is at least once:

- Order: per subject (one fulfilment order, one (sku, site) stock level, one return authorization), events are
  delivered strictly in creation order — a later one waits until the earlier is delivered or given up. Subjects
  are independent, so one failing event never holds back the rest (no global head-of-line blocking).
- Retries: any non-2xx answer (redirects included) or transport error is retried after
  `retry_base_ms * 2**(attempt-1)` (capped at `retry_max_ms`, and never sooner than a `Retry-After` the
  receiver sent), up to `max_attempts`; then the event is marked `failed` and its subject moves on.
- Each attempt is signed afresh (`webhook-timestamp` is the attempt's time); the event id never changes.
- The POST runs on a small thread pool, never on the event loop. An attempt in flight holds a lease
  (`next_attempt_at` pushed past its timeout): after a crash mid-delivery the event is sent again once the lease
  runs out; a clean stop hands the lease back, so a restarted sandbox sends it at once.
"""
from __future__ import annotations

import asyncio
import base64
import binascii
import concurrent.futures
import hashlib
import hmac
import logging
import sqlite3
import threading
import time
import uuid
from typing import TYPE_CHECKING, Any, Literal

import requests
from fastapi import FastAPI, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from retail_sync.sandbox.common.db import dumps, loads
from retail_sync.sandbox.wms.api import equal_filters, iso, parse_body
from retail_sync.sandbox.wms.records import children

if TYPE_CHECKING:
    from retail_sync.sandbox.wms.app import WmsSandbox

SCHEMA = """
CREATE TABLE IF NOT EXISTS wms_outbox (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    type TEXT NOT NULL,
    subject TEXT NOT NULL,
    payload TEXT NOT NULL,
    state TEXT NOT NULL DEFAULT 'pending',
    attempts INTEGER NOT NULL DEFAULT 0,
    created_at REAL NOT NULL,
    next_attempt_at REAL,
    delivered_at REAL
);
CREATE INDEX IF NOT EXISTS ix_wms_outbox_due ON wms_outbox (next_attempt_at) WHERE state = 'pending';
CREATE INDEX IF NOT EXISTS ix_wms_outbox_pending ON wms_outbox (seq) WHERE state = 'pending';
CREATE INDEX IF NOT EXISTS ix_wms_outbox_subject ON wms_outbox (subject, seq) WHERE state = 'pending';
CREATE TABLE IF NOT EXISTS wms_delivery_attempts (
    event_seq INTEGER NOT NULL REFERENCES wms_outbox (seq) ON DELETE CASCADE,
    attempt INTEGER NOT NULL,
    at REAL NOT NULL,
    webhook_timestamp INTEGER NOT NULL,
    status INTEGER,
    error TEXT,
    duration_ms REAL NOT NULL,
    PRIMARY KEY (event_seq, attempt)
) WITHOUT ROWID;
"""
TABLES = ("wms_delivery_attempts", "wms_outbox")

log = logging.getLogger(__name__)

CONCURRENCY = 8
IDLE_WAIT_S = 1.0
USER_AGENT = "retail-sync-wms-sandbox/1"

# The heads of the per-subject queues: pending events with no earlier pending event of the same subject.
_NOT_BEHIND = ("NOT EXISTS (SELECT 1 FROM wms_outbox p"
               " WHERE p.state = 'pending' AND p.subject = o.subject AND p.seq < o.seq)")
# Walking pending events in seq order stops after `room` due heads; by due time it would sort every due event.
_DUE_HEADS = ("SELECT o.seq, o.id, o.payload, o.attempts FROM wms_outbox o INDEXED BY ix_wms_outbox_pending"
              f" WHERE o.state = 'pending' AND o.next_attempt_at <= ? AND {_NOT_BEHIND} ORDER BY o.seq LIMIT ?")
_NEXT_DUE = f"SELECT MIN(o.next_attempt_at) FROM wms_outbox o WHERE o.state = 'pending' AND {_NOT_BEHIND}"


class DeliveryBehaviour(BaseModel):
    """Body of `POST /_sandbox/events/behaviour`; omitted fields take their defaults (`{}` restores them all)."""

    model_config = ConfigDict(extra="forbid")
    retry_base_ms: float = Field(1000, ge=0, le=3_600_000)
    retry_max_ms: float = Field(600_000, ge=0, le=86_400_000)
    max_attempts: int = Field(10, ge=1, le=100)
    timeout_s: float = Field(15, gt=0, le=120)


def signing_key(secret: str) -> bytes:
    """The Standard Webhooks key: the base64 text after `whsec_`, decoded."""
    if not secret.startswith("whsec_"):
        raise ValueError("WMS webhook secret must start with whsec_")
    try:
        return base64.b64decode(secret[len("whsec_"):], validate=True)
    except binascii.Error as exc:
        raise ValueError(f"WMS webhook secret is not valid base64 after whsec_: {exc}") from None


def sign(key: bytes, event_id: str, timestamp: int, body: bytes) -> str:
    digest = hmac.new(key, f"{event_id}.{timestamp}.".encode() + body, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


class Outbox:
    """Writes events (`emit`) and delivers them in the background (`start`/`stop`)."""

    def __init__(self, wms: "WmsSandbox") -> None:
        self.wms = wms
        self.key = signing_key(wms.options.wms_webhook_secret)
        self.url = wms.options.engine_url.rstrip("/") + "/webhooks/wms"
        self.behaviour = DeliveryBehaviour()
        self._in_flight: dict[str, asyncio.Task[None]] = {}
        self._wake: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task[None] | None = None
        self._pool: concurrent.futures.ThreadPoolExecutor | None = None
        self._sessions = threading.local()

    # writing ----------------------------------------------------------------------------------------------
    def emit(self, conn: "sqlite3.Connection", event_type: str, subject: str, data: dict[str, Any]) -> str:
        """Queue an event inside the caller's transaction; its body is fixed now (a snapshot of the change)."""
        event_id = f"msg_{uuid.uuid4().hex}"
        now = time.time()
        payload = dumps({"id": event_id, "type": event_type, "timestamp": iso(now), "data": data})
        conn.execute("INSERT INTO wms_outbox (id, type, subject, payload, created_at, next_attempt_at)"
                     " VALUES (?, ?, ?, ?, ?, ?)", (event_id, event_type, subject, payload, now, now))
        self.notify()
        return event_id

    def reset(self) -> None:
        """Defaults again. Deliveries still in flight find their event gone and record nothing."""
        self.behaviour = DeliveryBehaviour()

    def counts(self) -> dict[str, int]:
        rows = self.wms.db.all("SELECT state, COUNT(*) FROM wms_outbox GROUP BY state")
        found = {row[0]: row[1] for row in rows}
        return {f"events_{state}": found.get(state, 0) for state in ("pending", "delivered", "failed")}

    def notify(self) -> None:
        if self._loop is None or self._wake is None:
            return
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is self._loop:
            self._wake.set()
        else:
            self._loop.call_soon_threadsafe(self._wake.set)

    # delivering -------------------------------------------------------------------------------------------
    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._wake = asyncio.Event()
        self._pool = concurrent.futures.ThreadPoolExecutor(CONCURRENCY, thread_name_prefix="wms-events")
        self._task = asyncio.create_task(self._run(), name="wms-event-dispatcher")

    async def stop(self) -> None:
        cut_short = list(self._in_flight)
        tasks = [task for task in (self._task, *self._in_flight.values()) if task is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if cut_short:  # attempts cut short are due again at once when the sandbox comes back
            with self.wms.db.tx() as conn:
                conn.executemany("UPDATE wms_outbox SET next_attempt_at = ? WHERE id = ? AND state = 'pending'",
                                 [(time.time(), event_id) for event_id in cut_short])
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
        self._task = self._pool = self._loop = self._wake = None

    async def _run(self) -> None:
        assert self._wake is not None
        while True:
            self._wake.clear()
            try:
                for event in self._due():
                    self._in_flight[event["id"]] = asyncio.create_task(self._attempt(event))
                wait = self._seconds_to_next()
            except sqlite3.Error:  # a locked or full disk must not end deliveries for good: log, try again
                log.exception("WMS event dispatcher pass failed")
                wait = IDLE_WAIT_S
            if wait is None or wait > 0:
                try:
                    await asyncio.wait_for(self._wake.wait(), IDLE_WAIT_S if wait is None else min(wait, IDLE_WAIT_S))
                except asyncio.TimeoutError:
                    pass
            else:
                await asyncio.sleep(0)  # let the deliveries just started take their turn

    def _due(self) -> list[dict[str, Any]]:
        room = CONCURRENCY - len(self._in_flight)
        if room <= 0:
            return []
        now = time.time()
        rows = self.wms.db.all(_DUE_HEADS, (now, room))
        if not rows:
            return []
        lease = now + self.behaviour.timeout_s + 5
        events = []
        with self.wms.db.tx() as conn:
            for row in rows:
                conn.execute("UPDATE wms_outbox SET next_attempt_at = ? WHERE seq = ?", (lease, row["seq"]))
                events.append(dict(row))
        return events

    def _seconds_to_next(self) -> float | None:
        if len(self._in_flight) >= CONCURRENCY:
            return None  # a finishing delivery wakes us
        earliest = self.wms.db.scalar(_NEXT_DUE)
        return None if earliest is None else max(0.0, earliest - time.time())

    async def _attempt(self, event: dict[str, Any]) -> None:
        assert self._loop is not None and self._pool is not None
        behaviour = self.behaviour
        body = event["payload"].encode()
        stamp = int(time.time())
        headers = {
            "content-type": "application/json",
            "user-agent": USER_AGENT,
            "webhook-id": event["id"],
            "webhook-timestamp": str(stamp),
            "webhook-signature": sign(self.key, event["id"], stamp, body),
        }
        started = time.time()
        status: int | None = None
        error: str | None = None
        retry_after: float | None = None
        try:
            status, retry_after = await self._loop.run_in_executor(
                self._pool, self._post, body, headers, behaviour.timeout_s)
        except (requests.RequestException, OSError) as exc:
            error = f"{type(exc).__name__}: {exc}"[:500]
        except RuntimeError:  # the pool was shut down: the sandbox is stopping; the lease expires and it retries
            return
        finally:
            self._in_flight.pop(event["id"], None)
            if self._wake is not None:
                self._wake.set()
        self._record(event, behaviour, stamp, started, status, error, retry_after)

    def _post(self, body: bytes, headers: dict[str, str], timeout: float) -> tuple[int, float | None]:
        session = getattr(self._sessions, "session", None)
        if session is None:
            session = self._sessions.session = requests.Session()
        response = session.post(self.url, data=body, headers=headers, timeout=timeout, allow_redirects=False)
        response.close()
        return response.status_code, _retry_after(response.headers.get("retry-after"))

    def _record(self, event: dict[str, Any], behaviour: DeliveryBehaviour, stamp: int, started: float,
                status: int | None, error: str | None, retry_after: float | None) -> None:
        attempt = event["attempts"] + 1
        now = time.time()
        delivered = status is not None and 200 <= status < 300
        if delivered:
            state, next_at = "delivered", None
        elif attempt >= behaviour.max_attempts:
            state, next_at = "failed", None
        else:
            delay_ms = min(behaviour.retry_max_ms, behaviour.retry_base_ms * 2 ** (attempt - 1))
            state, next_at = "pending", now + max(delay_ms / 1000, retry_after or 0)
        with self.wms.db.tx() as conn:
            # Matched on the id: after a reset the seq numbers are reused and this event may be gone.
            changed = conn.execute(
                "UPDATE wms_outbox SET state = ?, attempts = ?, next_attempt_at = ?, delivered_at = ?"
                " WHERE id = ? AND state = 'pending'",
                (state, attempt, next_at, now if delivered else None, event["id"])).rowcount
            if changed:
                conn.execute("INSERT INTO wms_delivery_attempts VALUES (?, ?, ?, ?, ?, ?, ?)",
                             (event["seq"], attempt, started, stamp, status, error,
                              round((now - started) * 1000, 3)))

    # control ----------------------------------------------------------------------------------------------
    def listing(self, state: str | None, event_type: str | None, since: int, limit: int) -> dict[str, Any]:
        filters, values = equal_filters({"state": state, "type": event_type})
        where, params = ["seq > ?", *filters], [since, *values]
        with self.wms.db.tx() as conn:  # one snapshot for the events and their attempts
            rows = conn.execute(f"SELECT * FROM wms_outbox WHERE {' AND '.join(where)} ORDER BY seq LIMIT ?",
                                (*params, limit)).fetchall()
            attempts = children(conn, "wms_delivery_attempts", "event_seq", [row["seq"] for row in rows], "attempt",
                                _render_attempt)
        events = [{
            "seq": row["seq"], "id": row["id"], "type": row["type"], "subject": row["subject"],
            "state": row["state"], "attempts": row["attempts"], "created_at": iso(row["created_at"]),
            "next_attempt_at": iso(row["next_attempt_at"]) if row["state"] == "pending" else None,
            "delivered_at": iso(row["delivered_at"]), "payload": loads(row["payload"]),
            "deliveries": attempts.get(row["seq"], []),
        } for row in rows]
        return {"url": self.url, "behaviour": self.behaviour.model_dump(), "events": events,
                "next_since": events[-1]["seq"] if events else since}


def _render_attempt(row: sqlite3.Row) -> dict[str, Any]:
    return {"attempt": row["attempt"], "at": iso(row["at"]), "webhook_timestamp": row["webhook_timestamp"],
            "status": row["status"], "error": row["error"], "duration_ms": row["duration_ms"]}


def _retry_after(value: str | None) -> float | None:
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None  # an HTTP date: not worth parsing for a sandbox; the backoff applies


def register(app: FastAPI, wms: "WmsSandbox") -> None:
    outbox = wms.events

    @app.get("/_sandbox/events")
    async def events(state: Literal["pending", "delivered", "failed"] | None = None, type: str | None = None,
                     since: int = Query(0, ge=0), limit: int = Query(1000, ge=1, le=10_000)) -> Any:
        return outbox.listing(state, type, since, limit)

    @app.get("/_sandbox/events/behaviour")
    async def get_behaviour() -> Any:
        return outbox.behaviour.model_dump()

    @app.post("/_sandbox/events/behaviour")
    async def set_behaviour(request: Request) -> Any:
        outbox.behaviour = await parse_body(request, DeliveryBehaviour, optional=True)
        outbox.notify()
        return outbox.behaviour.model_dump()
