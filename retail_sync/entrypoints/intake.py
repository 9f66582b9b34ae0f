"""Durable intake with group commit: many concurrent deliveries share one INSERT and one COMMIT.

A request hands its verified delivery to a writer thread and waits; the writer takes everything queued so far
(up to MAX_BATCH), inserts it in one statement (duplicates skipped by the unique constraint), commits, and only
then releases the waiting requests, which answer 2xx. New ids go to a relay thread that publishes them in
batches, one task message per batch, after the commit. A publish that fails (Redis away) costs nothing: the rows
are pending in SQL and the inbox sweeper re-enqueues them.

Why by hand: this is the receiving end of the transactional-outbox pattern, which has no maintained library
outside Django (reference/celery-redis.md §2.4); it is one small class over our own inbox repository.
"""
from __future__ import annotations

import asyncio
import logging
import queue
import threading
import time
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Sequence

from sqlalchemy import Connection
from sqlalchemy.exc import DBAPIError

from retail_sync.domain.deliveries import Delivery
from retail_sync.flows.inbox import publish_inbox_ids
from retail_sync.persistence import inbox

if TYPE_CHECKING:
    from retail_sync.bootstrap import Services

logger = logging.getLogger(__name__)

MAX_BATCH = 256
RELAY_LINGER_S = 0.05
RELAY_BACKLOG_LIMIT = 10_000  # ids; beyond this the relay drops its copy and the sweeper takes over


class StoreUnavailable(Exception):
    """The delivery could not be committed; the receiver answers 503."""


@dataclass(frozen=True)
class Accepted:
    inbox_id: int | None  # None: an identical delivery was already stored
    duplicate: bool


class GroupCommitInbox:
    def __init__(self, services: "Services"):
        self._services = services
        self._requests: queue.SimpleQueue = queue.SimpleQueue()
        self._relay: queue.SimpleQueue = queue.SimpleQueue()
        self._relay_backlog = 0
        self._backlog_lock = threading.Lock()
        self._threads: list[threading.Thread] = []
        self._conn: Connection | None = None  # the writer thread's own

    def start(self) -> None:
        for target, name in ((self._write_loop, "inbox-writer"), (self._relay_loop, "inbox-relay")):
            thread = threading.Thread(target=target, name=name, daemon=True)
            thread.start()
            self._threads.append(thread)

    def stop(self, timeout: float = 10.0) -> None:
        self._requests.put(None)
        self._relay.put(None)
        for thread in self._threads:
            thread.join(timeout)

    async def accept(self, delivery: Delivery) -> Accepted:
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        self._requests.put((delivery, future, loop))
        return await future

    # --- writer thread -------------------------------------------------------------------------------------
    def _write_loop(self) -> None:
        while True:
            first = self._requests.get()
            if first is None:
                if self._conn is not None:
                    self._conn.close()
                return
            batch = [first]
            while len(batch) < MAX_BATCH:
                try:
                    item = self._requests.get_nowait()
                except queue.Empty:
                    break
                if item is None:
                    self._requests.put(None)  # finish this batch, then stop
                    break
                batch.append(item)
            self._commit(batch)

    def _commit(self, batch: list) -> None:
        first_of_key: dict[str, Delivery] = {}
        for delivery, _future, _loop in batch:
            first_of_key.setdefault(delivery.dedupe_key, delivery)
        try:
            new_ids = self._insert(list(first_of_key.values()))
        except Exception as exc:
            logger.error("inbox commit failed for %d deliveries: %s", len(batch), type(exc).__name__)
            error = StoreUnavailable(str(exc).splitlines()[0] if str(exc) else type(exc).__name__)
            _resolve([(future, loop, error) for _delivery, future, loop in batch], is_error=True)
            return
        results = []
        for delivery, future, loop in batch:
            key = delivery.dedupe_key
            is_first = first_of_key.get(key) is delivery
            inbox_id = new_ids.get(key) if is_first else None
            results.append((future, loop, Accepted(inbox_id=inbox_id, duplicate=inbox_id is None)))
        _resolve(results, is_error=False)
        if new_ids:
            self._hand_to_relay(sorted(new_ids.values()))

    def _insert(self, deliveries: list[Delivery]) -> dict[str, int]:
        """Insert and commit on the writer's own connection (no pool checkout and ping per batch); a connection
        found dead is replaced once, so a database restart costs no request."""
        for attempt in (1, 2):
            if self._conn is None:
                self._conn = self._services.engine.connect()
            now = self._services.clock()
            redrive_after = now + timedelta(seconds=self._services.settings.inbox_sweep_interval_s)
            try:
                with self._conn.begin():
                    return inbox.insert_new(self._conn, deliveries, now, redrive_after)
            except DBAPIError as exc:
                self._conn.close()
                self._conn = None
                if attempt == 2 or not exc.connection_invalidated:
                    raise
        raise AssertionError("unreachable")

    # --- relay thread --------------------------------------------------------------------------------------
    def _hand_to_relay(self, ids: Sequence[int]) -> None:
        with self._backlog_lock:
            if self._relay_backlog + len(ids) > RELAY_BACKLOG_LIMIT:
                logger.warning("relay backlog full; %d deliveries left to the inbox sweeper", len(ids))
                return
            self._relay_backlog += len(ids)
        self._relay.put(list(ids))

    def _relay_loop(self) -> None:
        while True:
            ids = self._relay.get()
            if ids is None:
                return
            # Linger briefly so that one message carries many commits' worth of ids: each publish costs about
            # a millisecond of this process's time, a wait of RELAY_LINGER_S costs the workers nothing.
            time.sleep(RELAY_LINGER_S)
            # Merge whatever else is waiting into as few messages as possible.
            stop = False
            while True:
                try:
                    more = self._relay.get_nowait()
                except queue.Empty:
                    break
                if more is None:
                    stop = True
                    break
                ids.extend(more)
            with self._backlog_lock:
                self._relay_backlog -= len(ids)
            try:
                publish_inbox_ids(self._services, ids)
            except Exception as exc:
                logger.warning("publish of %d inbox ids failed (%s); the sweeper will re-enqueue them",
                               len(ids), type(exc).__name__)
            if stop:
                return


def _resolve(outcomes: list, *, is_error: bool) -> None:
    """Hand (future, loop, value) outcomes back to their event loops: one wake-up per loop, not per request."""
    by_loop: dict = {}
    for future, loop, value in outcomes:
        by_loop.setdefault(loop, []).append((future, value))
    for loop, items in by_loop.items():
        loop.call_soon_threadsafe(_set_all, items, is_error)


def _set_all(items: list, is_error: bool) -> None:
    for future, value in items:
        if future.done():  # the request went away (client disconnected); the row is stored all the same
            continue
        if is_error:
            future.set_exception(value)
        else:
            future.set_result(value)
