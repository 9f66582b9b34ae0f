"""Order capture: from a store webhook (a nudge), a backfill or the order API to a validated order whose saga has
started. All of it runs on `critical`: SQL and store reads only.

A webhook is only a nudge: the delivery leaves a row in `store_order_nudges` and capture re-reads the order from
the store, never applying an older `date_modified_gmt` over a newer one. Validation happens inline; a valid
order starts the saga (chord of RESERVE_STOCK and POST_TO_ERP, then RELEASE_TO_WMS), an invalid one is held.
"""
from __future__ import annotations

import hashlib
import json
import logging
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Literal, Sequence

from retail_sync import task_names
from retail_sync.domain.order_rules import CAPTURE_STATUSES, CatalogEntry, store_intent, validate, version_stamp
from retail_sync.domain.orders import STORE_CHANNEL, Order, order_ref, order_subject
from retail_sync.errors import PermanentError, TransientError
from retail_sync.flows.saga import sale_order_effect_key
from retail_sync.flows.store_updates import hold_effect_key, put_on_hold, resume_effect_key
from retail_sync.persistence import nudges, orders, product_bindings, timeline
from retail_sync.persistence.inbox import InboxRow
from retail_sync.persistence.orders import OrderRow
from retail_sync.persistence.unit_of_work import UnitOfWork

if TYPE_CHECKING:
    from retail_sync.bootstrap import Services

logger = logging.getLogger(__name__)

# The exceptions a hold opens; a later successful validation resolves them.
HOLD_KINDS = ("order.validation_failed", "order.unknown_sku", "order.reservation_failed")
ENGINE_ACTOR = "retail-sync"  # who acted, in the audit, when the engine itself did


@dataclass(frozen=True)
class AcceptResult:
    ref: str
    outcome: Literal["created", "same", "conflict"]


def lookup_effect_key(ref: str) -> str:
    return f"catalog.lookup:{ref}"


def body_hash(order: Order) -> str:
    return hashlib.sha256(order.to_json().encode("utf-8")).hexdigest()


# --- the store webhook: a nudge --------------------------------------------------------------------------------

def on_store_order_delivery(services: "Services", uow: UnitOfWork, row: InboxRow, now: datetime) -> str:
    """Inbox handler for every store order topic: leave a nudge, the durable record that the order needs a capture
    (`capture_nudged_orders` runs it for the whole batch; the saga sweeper re-drives a nudge left behind)."""
    if row.resource_id is None or not row.resource_id.isdigit():
        raise PermanentError(f"{row.topic} delivery carries no order id")
    redrive_after = now + timedelta(seconds=services.settings.saga_step_timeout_s)
    nudges.nudge(uow.conn, row.resource_id, row.version, now, redrive_after)
    timeline.record(
        uow.conn, subject=order_subject(_delivered_ref(row)), event_type="webhook.received", source=row.source,
        occurred_at=now, detail={"topic": row.topic, "version": row.version, "inbox_id": row.id},
        dedupe_key=f"inbox:{row.id}",
    )
    return "nudged"


def capture_nudged_orders(services: "Services", rows: Sequence[InboxRow]) -> None:
    """After an inbox batch: capture the orders it nudged, with one store read for all of them. Never raises: a
    capture that fails is handed to a CAPTURE_STORE_ORDERS task (retried with backoff, then dead-lettered); if even
    that cannot be sent, the nudges wait for the saga sweeper."""
    store_ids = sorted({int(row.resource_id) for row in rows})
    try:
        capture_store_orders(services, store_ids)
    except Exception as exc:
        logger.warning("inline capture failed, handing it to a task", extra={"error": type(exc).__name__,
                                                                               "orders": len(store_ids)})
        try:
            services.dispatcher.send(task_names.CAPTURE_STORE_ORDERS, [store_ids])
        except Exception:
            logger.warning("capture task not sent; the saga sweeper re-drives the nudges", exc_info=True)


def _delivered_ref(row: InboxRow) -> str:
    # The business key carries the order *number*; a delivery without one (order.deleted is `{"id": N}`) is named
    # by its id, which is the number unless a plugin renumbers orders.
    try:
        number = json.loads(row.body).get("number")
    except (ValueError, AttributeError):
        number = None
    return order_ref(STORE_CHANNEL, number if isinstance(number, (str, int)) and str(number) else row.resource_id)


def capture_store_orders(services: "Services", store_ids: Sequence[int]) -> dict:
    """Read these store orders (one store call for the batch, outside any transaction) and ingest each."""
    wanted = sorted({int(store_id) for store_id in store_ids})
    fetched = services.store.fetch_orders(wanted)
    outcomes = Counter(ingest(services, order) for order in fetched)
    for store_id in sorted(set(wanted) - {order.store_id for order in fetched}):
        outcomes[_forget_missing(services, store_id)] += 1
    return dict(outcomes)


def _forget_missing(services: "Services", store_id: int) -> str:
    now = services.clock()
    with services.uow() as uow:
        nudges.settle(uow.conn, str(store_id), None)
        timeline.record(uow.conn, subject=order_subject(order_ref(STORE_CHANNEL, store_id)),
                        event_type="store.order_missing", source="woocommerce", occurred_at=now,
                        detail={"store_id": store_id})
        uow.commit()
    return "missing"


# --- ingest: one channel order, one transaction ---------------------------------------------------------------

def ingest(services: "Services", order: Order) -> str:
    """Apply what the channel says about one order (a store capture, the backfill). Idempotent: an older or the
    same version changes nothing, and our own write's echo is only recorded."""
    with services.uow() as uow:
        outcome, same_second = _apply(services, uow, order, services.clock())
        if outcome != "cancel":
            _settle(services, uow, order, same_second)
            uow.commit()
            return outcome
    # The cancellation decision takes the order's row lock in a transaction of its own, so it runs after ours
    # ended; the version is recorded only afterwards, so a crash in between repeats the (idempotent) request.
    from retail_sync.flows.cancellation import request_cancel  # cancellation imports capture's neighbours

    decision = request_cancel(services, order.ref, f"{order.status} in the store", actor="woocommerce")
    with services.uow() as uow:
        orders.record_source_version(uow.conn, order.ref, version_stamp(order.modified_at), order.status,
                                     services.clock())
        _settle(services, uow, order, same_second)
        uow.commit()
    return f"cancel_{decision}"


def _settle(services: "Services", uow: UnitOfWork, order: Order, same_second: bool) -> None:
    if order.store_id is None:
        return
    nudges.settle(uow.conn, str(order.store_id), version_stamp(order.modified_at))
    if same_second:
        # date_modified_gmt counts whole seconds: two changes within one second share a version, and which of two
        # such reads is newer cannot be told. The store is read once more; the same answer then changes nothing.
        uow.after_commit(lambda: services.dispatcher.send(task_names.CAPTURE_STORE_ORDERS, [[order.store_id]]))


def _apply(services: "Services", uow: UnitOfWork, order: Order, now: datetime) -> tuple[str, bool]:
    """What the order's new read means, and whether it shares its version with a different earlier read."""
    row = orders.get(uow.conn, order.ref, for_update=True)
    version = version_stamp(order.modified_at)
    if row is None:
        return _first_sight(services, uow, order, now), False
    same_second = version is not None and version == row.source_version
    if version is not None and row.source_version is not None:
        if version < row.source_version:
            return "stale", False
        if same_second and order.status == row.source_status:
            return "unchanged", False
    return _apply_change(services, uow, row, order, version, now), same_second


def _apply_change(services: "Services", uow: UnitOfWork, row: OrderRow, order: Order, version: str | None,
                  now: datetime) -> str:
    """A newer read of a known order: our own write's echo is only recorded; a cancellation is handed to the
    cancellation flow; an order not in the saga yet (or held by us and back to processing) is validated."""
    intent = store_intent(order.status, capture_on_hold=services.settings.capture_on_hold)
    if version is not None and version == row.store_written_version:
        orders.record_source_version(uow.conn, order.ref, version, order.status, now)
        return "echo"
    if intent == "cancel" and row.status not in ("cancelling", "cancelled"):
        return "cancel"
    orders.record_source_version(uow.conn, order.ref, version, order.status, now)
    if intent == "capture" and _may_capture(row, order):
        orders.update_order(uow.conn, order.ref, now, body=order.to_json(), body_hash=body_hash(order))
        return _start(services, uow, orders.get(uow.conn, order.ref), now)
    return "recorded"  # in the saga already (or waiting, cancelled, held): only the version and status


def _may_capture(row: OrderRow, order: Order) -> bool:
    """Not in the saga yet, or held by us and set back to processing in the store (someone fixed it there): the
    new version is the order now. An on-hold store status never re-enters an order we held."""
    return row.status in ("waiting", "received") or (order.status in CAPTURE_STATUSES and _reenterable(row))


def _first_sight(services: "Services", uow: UnitOfWork, order: Order, now: datetime) -> str:
    intent = store_intent(order.status, capture_on_hold=services.settings.capture_on_hold)
    status = {"capture": "received", "cancel": "cancelled", "wait": "waiting"}[intent]
    extra = {"cancelled_at": now} if status == "cancelled" else {}
    orders.insert_order(uow.conn, order, status=status, body_hash=body_hash(order), now=now,
                        source_status=order.status, source_version=version_stamp(order.modified_at), **extra)
    timeline.record(uow.conn, subject=order_subject(order.ref), event_type="order.captured", source="woocommerce",
                    occurred_at=now, detail={"status": order.status, "version": version_stamp(order.modified_at)})
    if status != "received":
        return status
    return _start(services, uow, orders.get(uow.conn, order.ref), now)


# --- the governed order API -------------------------------------------------------------------------------------

def accept_api_order(services: "Services", order: Order, body_hash: str) -> AcceptResult:
    """Store an order from another channel once: the same channel and number again is the same order when the
    body is the same, a conflict when it differs. A new order is validated by START_ORDER after commit."""
    now = services.clock()
    with services.uow() as uow:
        created = orders.insert_order(
            uow.conn, order, status="received", body_hash=body_hash, now=now, source_status=order.status,
            saga_deadline=now + timedelta(seconds=services.settings.saga_step_timeout_s),
        )
        if created:
            timeline.record(uow.conn, subject=order_subject(order.ref), event_type="order.accepted", source="api",
                            occurred_at=now, detail={"channel": order.channel, "total": str(order.total)})
            uow.after_commit(lambda: services.dispatcher.send(task_names.START_ORDER, [order.ref]))
            uow.commit()
            return AcceptResult(order.ref, "created")
        existing = orders.get(uow.conn, order.ref)
    return AcceptResult(order.ref, "same" if existing is not None and existing.body_hash == body_hash else "conflict")


# --- validation and the start of the saga -----------------------------------------------------------------------

def start_order(services: "Services", ref: str) -> dict:
    """Validate a stored order and start its saga: a received one, or one we held (the replay of its exception,
    the end of a catalog lookup). Anything further along is left alone."""
    with services.uow() as uow:
        row = orders.get(uow.conn, ref, for_update=True)
        if row is None:
            return {"outcome": "unknown", "ref": ref}
        if row.status == "on_hold" and row.release_state == "none" and row.erp_state == "posted":
            # Held after its ERP order was posted: the void must finish before the order may start again.
            raise TransientError(f"{ref}: waiting for the ERP order to be voided before validating again")
        if row.status != "received" and not _reenterable(row):
            return {"outcome": "skipped", "ref": ref, "status": row.status}
        outcome = _start(services, uow, row, services.clock())
        uow.commit()
    return {"outcome": outcome, "ref": ref}


def _reenterable(row: OrderRow) -> bool:
    """Held by validation or reservation (never released to the WMS), with no ERP order to void first."""
    return row.status == "on_hold" and row.release_state == "none" and row.erp_state != "posted"


def _start(services: "Services", uow: UnitOfWork, row: OrderRow, now: datetime) -> str:
    conn, ref, order = uow.conn, row.ref, row.order
    reopened = row.status == "on_hold"
    if reopened:
        _reopen(conn, row, now)
    bindings = product_bindings.bindings_for(conn, [sku for sku in order.skus if sku])
    catalog = {sku: CatalogEntry(b.erp_product_id, b.erp_sellable) for sku, b in bindings.items()}
    problems = validate(order, catalog, services.settings.supported_currencies)
    deadline = now + timedelta(seconds=services.settings.saga_step_timeout_s)
    if not problems:
        orders.set_status(conn, ref, "validated", now, validated_at=now, saga_deadline=deadline, hold_reason=None)
        if reopened:
            orders.resolve_exceptions(conn, ref, HOLD_KINDS, now, by=ENGINE_ACTOR)
            if row.is_store_order and row.source_status == "on-hold":  # still shows our hold: lift it there too
                uow.after_commit(lambda: services.dispatcher.send(task_names.RESUME_IN_STORE, [ref]))
        timeline.record(conn, subject=order_subject(ref), event_type="order.validated", source="engine",
                        occurred_at=now, detail={"total": str(order.total), "currency": order.currency})
        uow.after_commit(lambda: start_saga(services, ref))
        return "validated"
    reason = "; ".join(problem.message for problem in problems)
    if all(problem.is_catalog for problem in problems):
        lookup = orders.claim_effect(conn, lookup_effect_key(ref), now)
        if lookup.state == "claimed" and lookup.attempts == 1:
            # One on-demand lookup before a person is asked; it dispatches START_ORDER again when it is done.
            orders.set_status(conn, ref, "received", now, saga_deadline=deadline)
            timeline.record(conn, subject=order_subject(ref), event_type="catalog.lookup_requested",
                            source="engine", occurred_at=now, detail={"reason": reason})
            uow.after_commit(lambda: services.dispatcher.send(task_names.LOOKUP_SKUS, [ref]))
            return "lookup"
        orders.complete_effect(conn, lookup_effect_key(ref), None, now)
        kind = "order.unknown_sku"
    else:
        kind = "order.validation_failed"
    return put_on_hold(services, uow, row, kind=kind, reason=reason, now=now)


def _reopen(conn, row: OrderRow, now: datetime) -> None:
    """A held order starts again: the failed reservation and a voided ERP order are forgotten (the next post
    recognises the voided one as ours by its id), and the next hold writes to the store again."""
    values: dict = {"hold_reason": None}
    if row.reservation_state == "failed":
        values["reservation_state"] = "none"
    if row.erp_state == "cancelled":
        values["erp_state"] = "none"
        orders.forget_effect(conn, sale_order_effect_key(row.ref))
    orders.set_status(conn, row.ref, "received", now, **values)
    orders.forget_effect(conn, hold_effect_key(row.ref))
    orders.forget_effect(conn, resume_effect_key(row.ref))
    timeline.record(conn, subject=order_subject(row.ref), event_type="order.reopened", source="engine",
                    occurred_at=now, detail={"previous_hold": row.hold_reason})


def start_saga(services: "Services", ref: str) -> None:
    """The fast path: reserve and post in parallel, then release; the SQL states decide, the sweeper resumes."""
    services.dispatcher.chord(
        [(task_names.RESERVE_STOCK, [ref]), (task_names.POST_TO_ERP, [ref])], (task_names.RELEASE_TO_WMS, [ref])
    )
