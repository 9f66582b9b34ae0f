"""Webhook delivery as WooCommerce runs it through Action Scheduler (reference §1.2–§1.5 and §7).

A fired hook leaves a pending action `(webhook_id, resource_id)` in `webhook_actions` (see `webhooks.Dispatcher`);
a second change to the same resource before the runner picks the action up adds nothing (coalescing). The runner
here is the Action Scheduler queue runner:

- it picks due actions (scheduled `delay_ms` after the change) and deletes them as it claims them, so a change made
  while a delivery is under way schedules a new one; a delivery lost in a crash mid-request stays lost, as an action
  Action Scheduler marks failed is never retried;
- it builds the payload when it sends (the resource's current state; `{"id": N}` for `*.deleted`;
  `{"action": hook, "arg": N}` for an `action.<hook>` topic);
- it sends once: success is `200 <= status < 303` and resets `failure_count`; any other answer or a transport error
  adds one, and a failure while the count is already 6 disables the webhook instead (the 7th in a row). No retries;
- it loads the webhook when it runs, as `wc_deliver_webhook_async` does, so an action queued before the webhook was
  paused or disabled is still sent; actions of a deleted webhook are dropped with it;
- every save of an active webhook whose creation ping never got exactly 200 (`pending_delivery`) pings again, as
  `WC_Webhook_Data_Store::update()` does after each delivery.

Up to `concurrency` deliveries run at once, never two for the same (webhook, resource), each on a daemon thread so
a receiver that hangs for the full timeout stalls neither the store's API nor the other deliveries.

Behaviour knobs (`POST /_sandbox/webhooks/behaviour`) make the awkward parts reproducible: `duplicate_rate` sends
the same body again right after (a new Delivery-ID computed the same way, so equal within the same second);
`drop_rate` never sends the request but records it as delivered (`dropped: true`, counted as a success, the way a
store whose receiver lost a 200-acknowledged delivery sees it); `reorder` adds a random extra delay so deliveries of
changes made close together arrive in a different order; `seed` makes these draws repeatable.
"""
from __future__ import annotations

import asyncio
import hashlib
import logging
import random
import time
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field

from retail_sync.sandbox.woocommerce import hookshot, phpjson
from retail_sync.sandbox.woocommerce.clock import now_gmt

if TYPE_CHECKING:
    from retail_sync.sandbox.woocommerce.app import WooSandbox

logger = logging.getLogger(__name__)

MAX_FAILURES = 5  # woocommerce_max_webhook_delivery_failures: a failure while the count is above it disables
REORDER_MIN_WINDOW_MS = 250  # `reorder` jitter when `delay_ms` is shorter than this

# What GET /wc/v3/{resource}s/{id} answers for a resource that no longer exists: the webhook payload is exactly
# that error object (RestApiUtil::get_endpoint_data renders whatever the REST request returned).
MISSING_RESOURCE_ERRORS = {
    "order": ("woocommerce_rest_shop_order_invalid_id", "Invalid ID."),
    "product": ("woocommerce_rest_product_invalid_id", "Invalid ID."),
    "coupon": ("woocommerce_rest_shop_coupon_invalid_id", "Invalid ID."),
    "customer": ("woocommerce_rest_invalid_id", "Invalid resource ID."),
}


class Behaviour(BaseModel):
    """Body of `POST /_sandbox/webhooks/behaviour` (fields left out take their defaults; `{}` restores all)."""

    model_config = ConfigDict(extra="forbid")
    duplicate_rate: float = Field(0, ge=0, le=1, description="chance a delivery is sent twice")
    delay_ms: float = Field(500, ge=0, le=600_000, description="scheduler delay between a change and its delivery")
    reorder: bool = Field(False, description="add a random extra delay so close deliveries arrive out of order")
    drop_rate: float = Field(0, ge=0, le=1, description="chance a delivery is recorded as sent but never posted")
    seed: int | None = Field(None, description="seed for the random draws, for repeatable runs")
    timeout_s: float = Field(60, gt=0, le=600, description="request timeout (WooCommerce: 60 s)")
    concurrency: int = Field(4, ge=1, le=64, description="deliveries in flight at once")


def build_body(store: "WooSandbox", topic: str, resource_id: int) -> bytes:
    """The body `WC_Webhook::deliver()` would send now for `topic` and `resource_id`."""
    resource, _, event = topic.partition(".")
    payload: Any
    if resource == "action":  # a custom topic carries the hook's name and its first argument, nothing else
        payload = {"action": event, "arg": resource_id}
    elif event == "deleted":
        payload = {"id": resource_id}
    else:
        rendered = store.render(resource, resource_id)
        if rendered is None:
            code, message = MISSING_RESOURCE_ERRORS[resource]
            payload = {"code": code, "message": message, "data": {"status": 404}}
        else:
            payload = phpjson.as_php_array(rendered)
    return phpjson.encode(payload)


class DeliveryRunner:
    def __init__(self, store: "WooSandbox") -> None:
        self.store = store
        self.behaviour = Behaviour()
        self.random = random.Random()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wake: asyncio.Event | None = None
        self._task: asyncio.Task[None] | None = None
        self._in_flight: dict[tuple[int, int], asyncio.Task[None]] = {}
        self._generation = 0  # bumped by a reset, so requests still in flight record nothing afterwards

    @property
    def site_salt(self) -> bytes:
        """The site's `wp_salt('auth')`: fixed per store, so Delivery-IDs are stable across restarts."""
        options = self.store.options
        return hashlib.sha256(f"{self.store.home_url}|{options.woo_consumer_secret}|auth".encode()).digest()

    # configuration -----------------------------------------------------------------------------------------
    def configure(self, behaviour: Behaviour) -> None:
        self.behaviour = behaviour
        self.random = random.Random(behaviour.seed)
        self.wake()

    def forget(self) -> None:
        """After a reset: restore default behaviour; deliveries still in flight record nothing."""
        self._generation += 1
        self.configure(Behaviour())

    def due_at(self) -> float:
        """When an action scheduled now runs (epoch seconds, so it survives a restart)."""
        delay_ms = self.behaviour.delay_ms
        if self.behaviour.reorder:
            delay_ms += self.random.uniform(0, max(self.behaviour.delay_ms, REORDER_MIN_WINDOW_MS))
        return time.time() + delay_ms / 1000

    # lifecycle -----------------------------------------------------------------------------------------------
    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._wake = asyncio.Event()
        self._task = asyncio.create_task(self._run(), name="woo-webhook-runner")

    async def stop(self) -> None:
        tasks = [task for task in (self._task, *self._in_flight.values()) if task is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._task, self._loop, self._wake = None, None, None
        self._in_flight.clear()

    def wake(self) -> None:
        """Something changed (a new action, a free slot, new behaviour): look at the queue again. Thread-safe."""
        loop, event = self._loop, self._wake
        if loop is None or event is None:
            return
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            event.set()
        else:
            loop.call_soon_threadsafe(event.set)

    # the queue runner ----------------------------------------------------------------------------------------
    async def _run(self) -> None:
        assert self._wake is not None
        while True:
            self._wake.clear()
            try:
                now = time.time()  # one instant per turn: an action due after it is waited for, not missed
                self._start_due(now)
                timeout = self._seconds_until_next(now)
            except Exception:  # noqa: BLE001 - the runner must outlive one bad turn (e.g. a reset mid-claim)
                logger.exception("webhook runner turn failed")
                timeout = 0.5
            try:
                await asyncio.wait_for(self._wake.wait(), timeout)
            except asyncio.TimeoutError:
                pass

    def _start_due(self, now: float) -> None:
        free = self.behaviour.concurrency - len(self._in_flight)
        if free <= 0:
            return
        rows = self.store.db.all(
            "SELECT id, webhook_id, resource_id FROM webhook_actions WHERE scheduled_at <= ?"
            " ORDER BY scheduled_at, id LIMIT ?", (now, free + len(self._in_flight)))
        claimed = [row for row in rows if (row[1], row[2]) not in self._in_flight][:free]
        if not claimed:
            return
        with self.store.db.tx() as conn:  # claiming = deleting: a change from now on schedules a new action
            conn.executemany("DELETE FROM webhook_actions WHERE id = ?", [(row[0],) for row in claimed])
        for _, webhook_id, resource_id in claimed:
            key = (webhook_id, resource_id)
            self._in_flight[key] = asyncio.create_task(self._deliver(key, self._generation))

    def _seconds_until_next(self, now: float) -> float | None:
        """Time until the next action not due at `now`; None (wait for a wake-up) when there is none. Due actions
        left unclaimed (no free slot, or their resource is in flight) are picked up when a delivery ends."""
        upcoming = self.store.db.scalar("SELECT MIN(scheduled_at) FROM webhook_actions WHERE scheduled_at > ?",
                                        (now,))
        return None if upcoming is None else max(upcoming - time.time(), 0.001)

    async def _deliver(self, key: tuple[int, int], generation: int) -> None:
        webhook_id, resource_id = key
        try:
            webhook = self._webhook(webhook_id)
            if webhook is None:
                return
            body = build_body(self.store, webhook["topic"], resource_id)
            await self._attempt(webhook, resource_id, body, duplicate=False, generation=generation)
            if self.random.random() < self.behaviour.duplicate_rate:
                await self._attempt(webhook, resource_id, body, duplicate=True, generation=generation)
        except asyncio.CancelledError:
            raise
        except Exception:  # noqa: BLE001 - like a failed Action Scheduler action: logged, not retried
            logger.exception("webhook %s delivery for resource %s failed", webhook_id, resource_id)
        finally:
            self._in_flight.pop(key, None)
            self.wake()

    async def _attempt(self, webhook: Any, resource_id: int, body: bytes, *, duplicate: bool,
                       generation: int) -> None:
        headers = hookshot.delivery_headers(source=self.store.home_url, topic=webhook["topic"], body=body,
                                            secret=webhook["secret"], webhook_id=webhook["id"],
                                            site_salt=self.site_salt)
        dropped = self.random.random() < self.behaviour.drop_rate
        if dropped:
            outcome = hookshot.Outcome(None, None, 0.0)
        else:
            outcome = await hookshot.in_daemon_thread(
                hookshot.post, webhook["delivery_url"], body, headers, timeout=self.behaviour.timeout_s,
                safe_only=self.store.options.wp_safe_urls, home_url=self.store.home_url)
        if generation != self._generation:
            return
        success = dropped or (outcome.status is not None and 200 <= outcome.status < 303)
        self._record_delivery(webhook, resource_id, headers["X-WC-Webhook-Delivery-ID"], outcome, success,
                              dropped=dropped, duplicate=duplicate)
        saved = self._webhook(webhook["id"])
        if saved is not None and saved["status"] == "active" and saved["pending_delivery"]:
            await self.ping(saved)

    def _record_delivery(self, webhook: Any, resource_id: int, delivery_id: str, outcome: hookshot.Outcome,
                         success: bool, *, dropped: bool, duplicate: bool) -> None:
        """`log_delivery()`: the attempt, then the failure count and status saved on the webhook."""
        with self.store.db.tx() as conn:
            conn.execute(
                "INSERT INTO webhook_deliveries (at, kind, webhook_id, topic, resource_id, delivery_id, url,"
                " status_code, error, success, duration_ms, dropped, duplicate) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (time.time(), "delivery", webhook["id"], webhook["topic"], resource_id, delivery_id,
                 webhook["delivery_url"], outcome.status, outcome.error, int(success), outcome.duration_ms,
                 int(dropped), int(duplicate)))
            if success:
                conn.execute("UPDATE webhooks SET failure_count = 0, date_modified_gmt = ? WHERE id = ?",
                             (now_gmt(), webhook["id"]))
            else:
                # SQLite evaluates every SET expression on the old row, so both CASEs see the old count
                conn.execute(
                    "UPDATE webhooks SET"
                    " status = CASE WHEN failure_count > ? THEN 'disabled' ELSE status END,"
                    " failure_count = CASE WHEN failure_count > ? THEN failure_count ELSE failure_count + 1 END,"
                    " date_modified_gmt = ? WHERE id = ?",
                    (MAX_FAILURES, MAX_FAILURES, now_gmt(), webhook["id"]))

    async def ping(self, webhook: Any) -> None:
        """`deliver_ping()`: redirects followed (up to 5); only a final, exact 200 clears `pending_delivery`."""
        generation = self._generation
        body, headers = hookshot.ping_request(webhook["id"])
        outcome = await hookshot.in_daemon_thread(
            hookshot.post, webhook["delivery_url"], body, headers,
            timeout=min(hookshot.PING_TIMEOUT_S, self.behaviour.timeout_s),
            safe_only=self.store.options.wp_safe_urls, home_url=self.store.home_url,
            redirects=hookshot.PING_REDIRECTS)  # wp_safe_remote_post's default, unlike deliveries
        if generation != self._generation:
            return
        with self.store.db.tx() as conn:
            conn.execute(
                "INSERT INTO webhook_deliveries (at, kind, webhook_id, url, status_code, error, success,"
                " duration_ms) VALUES (?,?,?,?,?,?,?,?)",
                (time.time(), "ping", webhook["id"], webhook["delivery_url"], outcome.status, outcome.error,
                 int(outcome.status == 200), outcome.duration_ms))
            if outcome.status == 200:
                conn.execute("UPDATE webhooks SET pending_delivery = 0, date_modified_gmt = ? WHERE id = ?",
                             (now_gmt(), webhook["id"]))

    def _webhook(self, webhook_id: int) -> Any:
        return self.store.db.one("SELECT * FROM webhooks WHERE id = ?", (webhook_id,))


def delivery_report(store: "WooSandbox", since: int, limit: int, webhook_id: int | None) -> dict[str, Any]:
    """Every webhook with its internal counters, the pending actions, and the attempts after `since`."""
    only = " AND webhook_id = ?" if webhook_id is not None else ""
    extra = (webhook_id,) if webhook_id is not None else ()
    webhooks = [
        {"id": row["id"], "status": row["status"], "topic": row["topic"], "delivery_url": row["delivery_url"],
         "api_version": row["api_version"], "failure_count": row["failure_count"],
         "pending_delivery": bool(row["pending_delivery"])}
        for row in store.db.all("SELECT * FROM webhooks" + (" WHERE id = ?" if extra else "") + " ORDER BY id",
                                extra)
    ]
    pending = [
        {"webhook_id": row["webhook_id"], "resource_id": row["resource_id"], "scheduled_at": row["scheduled_at"]}
        for row in store.db.all("SELECT * FROM webhook_actions WHERE 1=1" + only + " ORDER BY scheduled_at, id",
                                extra)
    ]
    attempts = [
        {"seq": row["seq"], "at": row["at"], "kind": row["kind"], "webhook_id": row["webhook_id"],
         "topic": row["topic"], "resource_id": row["resource_id"], "delivery_id": row["delivery_id"],
         "url": row["url"], "status_code": row["status_code"], "error": row["error"],
         "success": bool(row["success"]), "duration_ms": row["duration_ms"], "dropped": bool(row["dropped"]),
         "duplicate": bool(row["duplicate"])}
        for row in store.db.all("SELECT * FROM webhook_deliveries WHERE seq > ?" + only + " ORDER BY seq LIMIT ?",
                                (since, *extra, limit))
    ]
    return {"webhooks": webhooks, "pending": pending, "deliveries": attempts,
            "next_since": attempts[-1]["seq"] if attempts else since}
