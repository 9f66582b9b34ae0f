"""Inbox processing: route each stored delivery by (source, resource), once, and re-drive what the broker lost.

Each area registers its handler in HANDLERS; a resource without one of its own (products and customers until the
inventory work) is recorded on its subject's timeline. A topic nobody handles is recorded and acknowledged,
never retried. Handlers run inside the delivery's transaction and publish only in after-commit callbacks.
"""
from __future__ import annotations

import logging
import time
import traceback
from collections import Counter, defaultdict
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Callable, Sequence

from retail_sync import task_names
from retail_sync.errors import PermanentError, is_transient
from retail_sync.flows.capture import capture_nudged_orders, on_store_order_delivery
from retail_sync.flows.fulfilment import on_wms_event
from retail_sync.persistence import inbox, timeline
from retail_sync.persistence.exception_store import DeadLetter, open_exception
from retail_sync.persistence.inbox import InboxRow
from retail_sync.persistence.unit_of_work import UnitOfWork

if TYPE_CHECKING:
    from retail_sync.bootstrap import Services

logger = logging.getLogger(__name__)

Handler = Callable[["Services", UnitOfWork, InboxRow, datetime], str]

PUBLISH_CHUNK = 100  # inbox ids per task message: one message carries a batch, not one id
SWEEP_PAGE = 500
SWEEP_TIME_BUDGET_S = 30.0


def subject_of(row: InboxRow) -> str:
    return f"{row.resource}:{row.source}:{row.resource_id}"


def record_delivery(services: "Services", uow: UnitOfWork, row: InboxRow, now: datetime) -> str:
    if row.resource_id is None:
        # WooCommerce sends a REST error object instead of the resource when the webhook's owner lost access.
        raise PermanentError(f"{row.topic} delivery carries no resource id")
    timeline.record(
        uow.conn, subject=subject_of(row), event_type="webhook.received", source=row.source, occurred_at=now,
        detail={"topic": row.topic, "version": row.version, "inbox_id": row.id}, dedupe_key=f"inbox:{row.id}",
    )
    return "recorded"


def ignore_unknown_topic(services: "Services", uow: UnitOfWork, row: InboxRow, now: datetime) -> str:
    logger.info("unknown webhook topic acknowledged", extra={"topic": row.topic, "inbox_id": row.id})
    timeline.record(
        uow.conn, subject=f"webhook:{row.source}", event_type="webhook.ignored", source=row.source,
        occurred_at=now, detail={"topic": row.topic, "inbox_id": row.id}, dedupe_key=f"inbox:{row.id}",
    )
    return "ignored"


HANDLERS: dict[tuple[str, str], Handler] = {
    ("woocommerce", "order"): on_store_order_delivery,
    ("woocommerce", "product"): record_delivery,
    ("woocommerce", "customer"): record_delivery,
    ("wms", "fulfillment"): on_wms_event,
    ("wms", "inventory"): on_wms_event,
    ("wms", "return"): on_wms_event,
}


# Follow-ups that run once per batch, after each of its deliveries was committed, with the rows their handler
# took: the store orders nudged by a whole batch are captured with one store read instead of a task and a read
# each. A follow-up never raises (it hands its work to a task of its own when it fails); what the handlers wrote
# is the durable record either way.
AFTER_BATCH: dict[tuple[str, str], Callable[["Services", list[InboxRow]], None]] = {
    ("woocommerce", "order"): capture_nudged_orders,
}


def route(row: InboxRow) -> Handler:
    return HANDLERS.get((row.source, row.resource), ignore_unknown_topic)


def process_deliveries(services: "Services", inbox_ids: Sequence[int]) -> dict[str, int]:
    """Process each delivery in its own transaction. A transient failure stops the batch so the task retries it
    (rows already done are skipped on the retry); a delivery that can never succeed is failed on its own. The
    batch's follow-ups run for the rows done, also when the batch stopped early."""
    outcomes: Counter = Counter()
    taken: dict[tuple[str, str], list[InboxRow]] = defaultdict(list)
    try:
        for inbox_id in inbox_ids:
            outcome, row = process_delivery(services, int(inbox_id))
            outcomes[outcome] += 1
            if row is not None and outcome != "failed":
                taken[(row.source, row.resource)].append(row)
    finally:
        for key, rows in taken.items():
            if key in AFTER_BATCH:
                AFTER_BATCH[key](services, rows)
    return dict(outcomes)


def process_delivery(services: "Services", inbox_id: int) -> tuple[str, InboxRow | None]:
    now = services.clock()
    try:
        with services.uow() as uow:
            row = inbox.claim(uow.conn, inbox_id, now)
            if row is None:
                return "skipped", None  # done already, failed, or unknown id
            outcome = route(row)(services, uow, row, now)
            inbox.set_outcome(uow.conn, inbox_id, outcome)
            uow.commit()
            return outcome, row
    except Exception as exc:
        if is_transient(exc):
            _count_attempt(services, inbox_id, exc)
            raise
        _reject(services, inbox_id, exc, kind="inbox.rejected" if isinstance(exc, PermanentError) else "inbox.crashed")
        return "failed", None


def _count_attempt(services: "Services", inbox_id: int, exc: BaseException) -> None:
    try:
        with services.uow() as uow:
            inbox.record_failure(uow.conn, inbox_id, f"{type(exc).__name__}: {exc}", failed=False, now=services.clock())
            uow.commit()
    except Exception:  # the database may be the thing that is down; the retry will count again
        logger.debug("could not count inbox attempt", exc_info=True)


def _reject(services: "Services", inbox_id: int, exc: BaseException, *, kind: str) -> None:
    now = services.clock()
    with services.uow() as uow:
        inbox.record_failure(uow.conn, inbox_id, f"{type(exc).__name__}: {exc}", failed=True, now=now)
        open_exception(
            uow.conn,
            DeadLetter(
                kind=kind, error_type=type(exc).__name__, error_message=str(exc),
                task_name=task_names.PROCESS_INBOX, task_args=[[inbox_id]], payload_ref=f"webhook_inbox:{inbox_id}",
                traceback="".join(traceback.format_exception(exc)), attempts=1,
            ),
            now,
        )
        uow.commit()
    logger.warning("delivery failed for good", extra={"inbox_id": inbox_id, "kind": kind})


def publish_inbox_ids(services: "Services", inbox_ids: Sequence[int]) -> None:
    for start in range(0, len(inbox_ids), PUBLISH_CHUNK):
        services.dispatcher.send(task_names.PROCESS_INBOX, [list(inbox_ids[start:start + PUBLISH_CHUNK])])


def sweep_inbox(services: "Services") -> dict[str, int]:
    """Re-enqueue pending deliveries not processed within INBOX_SWEEP_INTERVAL_S (Redis lost them, or the
    publish after commit failed); fail the ones that used up INBOX_MAX_ATTEMPTS into the exception store."""
    settings = services.settings
    interval = timedelta(seconds=settings.inbox_sweep_interval_s)
    totals = {"redriven": 0, "exhausted": 0}
    deadline = time.monotonic() + SWEEP_TIME_BUDGET_S
    while time.monotonic() < deadline:
        now = services.clock()
        with services.uow() as uow:
            due = inbox.due_for_redrive(uow.conn, now, SWEEP_PAGE)
            if not due:
                break
            live = [row_id for row_id, attempts in due if attempts < settings.inbox_max_attempts]
            for row_id, attempts in due:
                if attempts >= settings.inbox_max_attempts:
                    _exhaust(uow, row_id, attempts, now)
            inbox.push_redrive(uow.conn, live, now + interval)
            uow.after_commit(lambda ids=live: publish_inbox_ids(services, ids))
            uow.commit()
        totals["redriven"] += len(live)
        totals["exhausted"] += len(due) - len(live)
        if len(due) < SWEEP_PAGE:
            break
    if any(totals.values()):
        logger.info("inbox sweep", extra=totals)
    return totals


def _exhaust(uow: UnitOfWork, row_id: int, attempts: int, now: datetime) -> None:
    message = f"delivery still unprocessed after {attempts} attempts"
    inbox.record_failure(uow.conn, row_id, message, failed=True, now=now)
    open_exception(
        uow.conn,
        DeadLetter(
            kind="inbox.exhausted", error_type="AttemptsExhausted", error_message=message,
            task_name=task_names.PROCESS_INBOX, task_args=[[row_id]], payload_ref=f"webhook_inbox:{row_id}",
            attempts=attempts,
        ),
        now,
    )
