"""The order backfill: WooCommerce never retries a failed webhook, so beat polls the orders modified since the
last poll (with an overlap, since clocks and commits are not instantaneous) and captures them like a delivery.
Capture skips what it already holds at that version, so the overlap costs a read, never a second order."""
from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from retail_sync.flows import capture
from retail_sync.persistence import cursors

if TYPE_CHECKING:
    from retail_sync.bootstrap import Services

logger = logging.getLogger(__name__)

CURSOR = "woocommerce.orders.modified_after"
OVERLAP = timedelta(minutes=10)
FIRST_RUN_LOOKBACK = timedelta(days=1)
CURSOR_SAVE_EVERY = 100  # orders come oldest first, so saving the cursor as we go never skips one


def backfill_orders(services: "Services") -> dict[str, int]:
    with services.uow() as uow:
        stored = cursors.read(uow.conn, CURSOR)
    newest = datetime.fromisoformat(stored) if stored else None
    since = newest - OVERLAP if newest else services.clock() - FIRST_RUN_LOOKBACK
    outcomes: dict[str, int] = {}
    unsaved = 0
    for order in services.store.orders_modified_since(since):
        outcome = capture.ingest(services, order)
        outcomes[outcome] = outcomes.get(outcome, 0) + 1
        if order.modified_at and (newest is None or order.modified_at > newest):
            newest = order.modified_at
            unsaved += 1
        if unsaved >= CURSOR_SAVE_EVERY:
            _save(services, newest)
            unsaved = 0
    if unsaved:
        _save(services, newest)
    if outcomes:
        logger.info("orders backfilled", extra={"since": since.isoformat(), **outcomes})
    return outcomes


def _save(services: "Services", newest: datetime) -> None:
    with services.uow() as uow:
        cursors.write(uow.conn, CURSOR, newest.isoformat(), services.clock())
        uow.commit()
