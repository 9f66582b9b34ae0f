"""Webhooks of the store sandbox: tables, the hook → pending-action queue (`Dispatcher`), and the module interface.

`Dispatcher.enqueue(topic, id)` is what a fired WooCommerce hook does (`WC_Webhook::process` + the shutdown queue,
reference §1.3): for every active webhook of that topic it adds a pending action unless one is already pending for
the same (webhook, resource) — coalescing. Every fired hook is also logged in `fired_hooks`, listened to or not
(WooCommerce's action log), so `GET /_sandbox/hooks?since=<seq>` can say what a call triggered without depending on
delivery. Delivery is `delivery.DeliveryRunner`, the wire format `hookshot`, the REST resource and the other
control routes `webhook_rest`.
"""
from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from fastapi import FastAPI, Query

from retail_sync.sandbox.woocommerce import webhook_rest
from retail_sync.sandbox.woocommerce.delivery import DeliveryRunner

if TYPE_CHECKING:
    from retail_sync.sandbox.woocommerce.app import WooSandbox

SCHEMA = """
CREATE TABLE IF NOT EXISTS webhooks (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL,
    status TEXT NOT NULL,                    -- active | paused | disabled
    topic TEXT NOT NULL,
    delivery_url TEXT NOT NULL,
    secret TEXT NOT NULL,
    api_version TEXT NOT NULL DEFAULT 'wp_api_v3',
    failure_count INTEGER NOT NULL DEFAULT 0,
    pending_delivery INTEGER NOT NULL DEFAULT 1, -- until a ping gets exactly 200
    date_created_gmt TEXT NOT NULL,
    date_modified_gmt TEXT                   -- NULL until the first save after creation
);
CREATE INDEX IF NOT EXISTS ix_webhooks_topic_status ON webhooks (topic, status);
CREATE TABLE IF NOT EXISTS webhook_actions ( -- pending `woocommerce_deliver_webhook_async` actions
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    webhook_id INTEGER NOT NULL,
    resource_id INTEGER NOT NULL,
    scheduled_at REAL NOT NULL               -- epoch seconds
);
CREATE UNIQUE INDEX IF NOT EXISTS ux_webhook_actions_pending ON webhook_actions (webhook_id, resource_id);
CREATE INDEX IF NOT EXISTS ix_webhook_actions_due ON webhook_actions (scheduled_at);
CREATE TABLE IF NOT EXISTS webhook_deliveries (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    at REAL NOT NULL,
    kind TEXT NOT NULL,                      -- delivery | ping
    webhook_id INTEGER NOT NULL,
    topic TEXT,
    resource_id INTEGER,
    delivery_id TEXT,
    url TEXT NOT NULL,
    status_code INTEGER,
    error TEXT,
    success INTEGER NOT NULL,
    duration_ms REAL NOT NULL,
    dropped INTEGER NOT NULL DEFAULT 0,
    duplicate INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS ix_webhook_deliveries_webhook ON webhook_deliveries (webhook_id);
CREATE TABLE IF NOT EXISTS fired_hooks (     -- every `store.fire`, whether a webhook listens or not
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    at REAL NOT NULL,                        -- epoch seconds
    topic TEXT NOT NULL,
    resource_id INTEGER NOT NULL
);
"""
TABLES = ("webhooks", "webhook_actions", "webhook_deliveries", "fired_hooks")

ORDER_DRAFT_STATUSES = ("draft", "auto-draft", "new")  # WC_Webhook::is_valid_resource
POST_DRAFT_STATUSES = ("auto-draft", "new")


# ---- module interface -------------------------------------------------------------------------------------
def install(store: "WooSandbox") -> None:
    """A fresh store has no webhooks; forget the delivery knobs and anything still in flight."""
    store.webhooks.runner.forget()


def counts(store: "WooSandbox") -> dict[str, int]:
    by_status = dict(store.db.all("SELECT status, COUNT(*) FROM webhooks GROUP BY status"))
    result = {"webhooks": sum(by_status.values())}
    result.update({f"webhooks_{status}": by_status.get(status, 0) for status in webhook_rest.STATUSES})
    result["webhook_deliveries_pending"] = store.db.scalar("SELECT COUNT(*) FROM webhook_actions")
    result["webhook_deliveries_attempted"] = store.db.scalar(
        "SELECT COUNT(*) FROM webhook_deliveries WHERE kind = 'delivery'")
    return result


class Dispatcher:
    """The store's side of `store.fire(topic, id)`: log the hook, queue one pending delivery per active webhook
    of the topic."""

    def __init__(self, store: "WooSandbox") -> None:
        self.store = store
        self.runner = DeliveryRunner(store)

    def enqueue(self, topic: str, resource_id: int) -> None:
        self.store.db.execute("INSERT INTO fired_hooks (at, topic, resource_id) VALUES (?,?,?)",
                              (time.time(), topic, int(resource_id)))
        webhook_ids = [row[0] for row in self.store.db.all(
            "SELECT id FROM webhooks WHERE topic = ? AND status = 'active'", (topic,))]
        if not webhook_ids or not self._resource_qualifies(topic, int(resource_id)):
            return
        with self.store.db.tx() as conn:
            conn.executemany(
                "INSERT OR IGNORE INTO webhook_actions (webhook_id, resource_id, scheduled_at) VALUES (?,?,?)",
                [(webhook_id, int(resource_id), self.runner.due_at()) for webhook_id in webhook_ids])
        self.runner.wake()

    def _resource_qualifies(self, topic: str, resource_id: int) -> bool:
        """Drafts never fire: orders in draft statuses, products/coupons still auto-drafts. Block-checkout drafts
        are kept out of `order.created` but do reach `order.updated` (reference §1.4)."""
        resource, _, event = topic.partition(".")
        if resource not in ("order", "product", "coupon"):
            return True
        status = self.store.status(resource, resource_id)
        if status is None:
            return True
        if resource == "order":
            ignored = ORDER_DRAFT_STATUSES + (("checkout-draft",) if event == "created" else ())
        else:
            ignored = POST_DRAFT_STATUSES
        return status not in ignored

    async def start(self) -> None:
        await self.runner.start()

    async def stop(self) -> None:
        await self.runner.stop()


def fired_hooks(store: "WooSandbox", since: int, limit: int) -> dict[str, Any]:
    """The hooks fired after `since`, oldest first; `next_since` is the cursor for the next call."""
    hooks = [{"seq": row["seq"], "at": row["at"], "topic": row["topic"], "resource_id": row["resource_id"]}
             for row in store.db.all("SELECT * FROM fired_hooks WHERE seq > ? ORDER BY seq LIMIT ?", (since, limit))]
    return {"hooks": hooks, "next_since": hooks[-1]["seq"] if hooks else since}


def register(app: FastAPI, store: "WooSandbox") -> None:
    webhook_rest.register(app, store)

    @app.get("/_sandbox/hooks")
    async def hooks(since: int = Query(0, ge=0), limit: int = Query(10_000, ge=1, le=100_000)) -> dict[str, Any]:
        return fired_hooks(store, since, limit)
