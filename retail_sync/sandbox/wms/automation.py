"""A warehouse that works by itself: released orders are acknowledged, picked and shipped after set delays.

Each delay counts from the order's previous step (its `updated_at`), and `null` turns a step off: with
`ack_after_s` null released orders wait for a person (`/_sandbox/fulfillment-orders/{id}/acknowledge`), while
orders acknowledged by hand are still picked and shipped on time. Shipping takes everything still open, including
the rest of a partial shipment. A shipment the site cannot cover (`insufficient_stock`) is tried again on later
ticks, so an order ships once stock arrives. Settings live in memory: a reset or restart turns automation off.
"""
from __future__ import annotations

import asyncio
import logging
import sqlite3
import time
from typing import TYPE_CHECKING, Any, Callable

from fastapi import FastAPI, Request
from pydantic import BaseModel, ConfigDict, Field

from retail_sync.sandbox.wms import fulfilment
from retail_sync.sandbox.wms.api import WmsError, parse_body

if TYPE_CHECKING:
    from retail_sync.sandbox.wms.app import WmsSandbox

log = logging.getLogger(__name__)

TICK_S = 0.05
BATCH = 200
REFUSED_REST_S = 1.0


class AutoSettings(BaseModel):
    """Body of `POST /_sandbox/auto`; omitted fields are null (off)."""

    model_config = ConfigDict(extra="forbid")
    ack_after_s: float | None = Field(None, ge=0, le=86_400)
    pick_after_s: float | None = Field(None, ge=0, le=86_400)
    ship_after_s: float | None = Field(None, ge=0, le=86_400)

    @property
    def enabled(self) -> bool:
        return any(value is not None for value in (self.ack_after_s, self.pick_after_s, self.ship_after_s))


class Automation:
    def __init__(self, wms: "WmsSandbox") -> None:
        self.wms = wms
        self.settings = AutoSettings()
        self._changed: asyncio.Event | None = None
        self._task: asyncio.Task[None] | None = None
        self._resting: dict[int, float] = {}  # order id → when a refused step may be tried again

    def configure(self, settings: AutoSettings) -> None:
        self.settings = settings
        if self._changed is not None:
            self._changed.set()

    def reset(self) -> None:
        self._resting.clear()
        self.configure(AutoSettings())

    async def start(self) -> None:
        self._changed = asyncio.Event()
        self._task = asyncio.create_task(self._run(), name="wms-automation")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        self._task = self._changed = None

    async def _run(self) -> None:
        assert self._changed is not None
        while True:
            self._changed.clear()
            if not self.settings.enabled:
                await self._changed.wait()
                continue
            try:
                await self.tick()
            except sqlite3.Error:  # a locked or full disk must not stop the warehouse for good: log, try again
                log.exception("WMS automation tick failed")
            await asyncio.sleep(TICK_S)

    async def tick(self) -> None:
        """One pass over every due order of each enabled step, oldest first, each step its own transaction.

        Orders are taken in batches with the loop yielded between them, so API calls are served meanwhile; an
        order whose step was refused (not enough stock to ship) rests for `REFUSED_REST_S` before the next try.
        """
        s = self.settings
        steps: list[tuple[float | None, tuple[str, ...], Callable[["sqlite3.Connection", "sqlite3.Row"], Any]]] = [
            (s.ack_after_s, ("released",), lambda conn, row: fulfilment.acknowledge(self.wms, conn, row)),
            (s.pick_after_s, ("acknowledged",), lambda conn, row: fulfilment.pick(self.wms, conn, row)),
            (s.ship_after_s, ("picked", "partially_shipped"),
             lambda conn, row: fulfilment.ship(self.wms, conn, row, fulfilment.ShipRequest())),
        ]
        db = self.wms.db
        for delay, statuses, step in steps:
            if delay is None:
                continue
            cutoff = time.time() - delay
            for status in statuses:
                after = (0.0, 0)
                while True:
                    rows = db.all("SELECT id, updated_at FROM wms_fulfillment_orders WHERE status = ?"
                                  " AND updated_at <= ? AND (updated_at, id) > (?, ?) ORDER BY updated_at, id LIMIT ?",
                                  (status, cutoff, *after, BATCH))
                    for row in rows:
                        self._advance(row["id"], step)
                    if len(rows) < BATCH:
                        break
                    after = (rows[-1]["updated_at"], rows[-1]["id"])
                    await asyncio.sleep(0)

    def _advance(self, order_id: int, step: Callable[["sqlite3.Connection", "sqlite3.Row"], Any]) -> None:
        now = time.monotonic()
        if self._resting.get(order_id, 0) > now:
            return
        try:
            with self.wms.db.tx() as conn:
                step(conn, fulfilment.ORDERS.load(conn, order_id))
        except WmsError:
            self._resting[order_id] = now + REFUSED_REST_S
        else:
            self._resting.pop(order_id, None)


def register(app: FastAPI, wms: "WmsSandbox") -> None:
    @app.get("/_sandbox/auto")
    async def get_auto() -> Any:
        return wms.automation.settings.model_dump()

    @app.post("/_sandbox/auto")
    async def set_auto(request: Request) -> Any:
        wms.automation.configure(await parse_body(request, AutoSettings, optional=True))
        return wms.automation.settings.model_dump()
