"""Cancellation: a decision in SQL (critical), then the compensation of every forward step in reverse order
(default): the WMS fulfilments, the stock reservation, the ERP sale order — and, when the cancellation did not
come from the store itself, the store order. Each step is idempotent, so a retry or the saga sweeper may run the
compensation again from the top.

Goods already picked cannot be cancelled: the order then goes on hold for a person with an exception
`order.cancel_after_pick`, and neither the stock nor the ERP order is given back for goods in motion.
"""
from __future__ import annotations

import logging
from datetime import timedelta
from typing import TYPE_CHECKING

from retail_sync import task_names
from retail_sync.domain.orders import order_subject
from retail_sync.errors import NotCancellable, RecordGone, TransientError
from retail_sync.flows.capture import ENGINE_ACTOR
from retail_sync.flows.saga import release_effect_key, sale_order_effect_key
from retail_sync.flows.store_updates import write_store_status_once
from retail_sync.persistence import fulfilment_store, orders, timeline
from retail_sync.persistence.exception_store import DeadLetter, open_exception
from retail_sync.persistence.fulfilment_store import FulfilmentRow
from retail_sync.persistence.orders import OrderRow

if TYPE_CHECKING:
    from retail_sync.bootstrap import Services

logger = logging.getLogger(__name__)

STORE_ACTOR = "woocommerce"  # the store cancelled the order itself: nothing to write back there
ALREADY = ("cancelling", "cancelled")
TOO_LATE = ("partially_shipped", "shipped", "completed")


def store_cancel_key(ref: str) -> str:
    return f"store.cancel:{ref}"


def request_cancel(services: "Services", ref: str, reason: str, actor: str) -> str:
    """Decide, in SQL only: "cancelling" (compensation dispatched), "already" (cancelled or cancelling),
    "too_late" (goods shipped: refused) or "unknown". Any saga step still in flight sees `cancelling` and stops
    (or voids what it just did)."""
    now = services.clock()
    with services.uow() as uow:
        row = orders.get(uow.conn, ref, for_update=True)
        if row is None:
            return "unknown"
        if row.status in ALREADY:
            return "already"
        if row.status in TOO_LATE:
            timeline.record(uow.conn, subject=order_subject(ref), event_type="cancel.refused",
                            source=_requested_through(actor), occurred_at=now,
                            detail={"reason": reason, "actor": actor, "status": row.status})
            uow.commit()
            return "too_late"
        # The deadline lets the saga sweeper re-drive a compensation whose message was lost.
        orders.set_status(uow.conn, ref, "cancelling", now,
                          saga_deadline=now + timedelta(seconds=services.settings.saga_step_timeout_s))
        if row.is_store_order and actor != STORE_ACTOR:
            # A to-do the compensation finishes last: the store must show the cancellation too.
            orders.claim_effect(uow.conn, store_cancel_key(ref), now)
        timeline.record(uow.conn, subject=order_subject(ref), event_type="cancel.requested",
                        source=_requested_through(actor), occurred_at=now,
                        detail={"reason": reason, "actor": actor, "from_status": row.status})
        uow.after_commit(lambda: services.dispatcher.send(task_names.COMPENSATE_CANCEL, [ref]))
        uow.commit()
    logger.info("cancellation requested", extra={"ref": ref, "actor": actor})
    return "cancelling"


def _requested_through(actor: str) -> str:
    """The system a request came through, for the timeline (the actor itself, e.g. an API key's name, is in the
    detail)."""
    return {STORE_ACTOR: "woocommerce", ENGINE_ACTOR: "engine"}.get(actor, "api")


def compensate_cancel(services: "Services", ref: str) -> dict:
    """Undo the forward steps in reverse: WMS, reservation, ERP (then the store when asked). Only an order in
    `cancelling` is compensated; anything else is left as it is."""
    with services.uow() as uow:
        row = orders.get(uow.conn, ref)
        request = _cancel_request(uow.conn, ref)
    if row is None:
        return {"outcome": "unknown", "ref": ref}
    if row.status != "cancelling":
        return {"outcome": "skipped", "ref": ref, "status": row.status}
    held = _cancel_fulfilments(services, row, request)
    if held:
        return {"outcome": "on_hold", "ref": ref, "reason": held}
    released = _release_reservation(services, ref)
    erp = _cancel_sale_order(services, ref)
    _cancel_in_store(services, row, request)
    now = services.clock()
    with services.uow() as uow:
        if orders.set_status(uow.conn, ref, "cancelled", now, only_from=("cancelling",), cancelled_at=now,
                             saga_deadline=None):
            timeline.record(uow.conn, subject=order_subject(ref), event_type="order.cancelled", source="engine",
                            occurred_at=now, detail={"units_released": released, "erp": erp})
        uow.commit()
    return {"outcome": "cancelled", "ref": ref, "units_released": released, "erp": erp}


def _cancel_request(conn, ref: str) -> dict:
    """The latest cancellation request's reason and actor (the timeline keeps the saga's steps)."""
    requests = [e for e in timeline.for_subject(conn, order_subject(ref)) if e["event_type"] == "cancel.requested"]
    return requests[-1]["detail"] if requests else {"reason": "cancelled", "actor": "unknown"}


# --- (1) the WMS: every fulfilment not cancelled yet ----------------------------------------------------------------

def _cancel_fulfilments(services: "Services", row: OrderRow, request: dict) -> str | None:
    """Cancel each fulfilment; the first one the warehouse refuses (already picked) puts the order on hold and
    stops the compensation. Returns the hold reason then, else None."""
    with services.uow() as uow:
        open_fulfilments = [f for f in fulfilment_store.fulfilments_of(uow.conn, row.ref) if f.status != "cancelled"]
    for fulfilment in open_fulfilments:
        try:
            wms_id = _cancel_fulfilment(services, fulfilment)
        except NotCancellable as exc:
            return _hold_after_pick(services, row.ref, fulfilment, exc, request)
        now = services.clock()
        with services.uow() as uow:
            fulfilment_store.mark_fulfilment_cancelled(uow.conn, fulfilment.external_ref, now, wms_id=wms_id)
            timeline.record(uow.conn, subject=order_subject(row.ref), event_type="wms.fulfilment_cancelled",
                            source="wms", occurred_at=now,
                            detail={"external_ref": fulfilment.external_ref, "wms_id": wms_id})
            uow.commit()
    return None


def _cancel_fulfilment(services: "Services", fulfilment: FulfilmentRow) -> str | None:
    """Cancel one fulfilment in the WMS; returns its WMS id (None when it never got there)."""
    wms_id = fulfilment.wms_id
    if wms_id is None:
        # A release may have been in flight: the WMS knows the order by our external_ref even if we never
        # stored its id.
        _wait_for_release_in_flight(services, fulfilment.order_ref)
        found = services.wms.find_fulfilment(fulfilment.external_ref)
        if found is None:
            return None
        wms_id = found.id
    try:
        services.wms.cancel_fulfilment(wms_id)
    except RecordGone:
        logger.info("fulfilment gone from the WMS", extra={"system": "wms", "kind": "fulfillment_order",
                                                             "external_id": wms_id})
    return wms_id


def _wait_for_release_in_flight(services: "Services", ref: str) -> None:
    """A release holding its lease may be creating fulfilments right now: look them up only once it has ended
    (finished, failed, or its worker died and the lease ran out)."""
    with services.uow() as uow:
        release = orders.effect(uow.conn, release_effect_key(ref))
    now = services.clock()
    if release is not None and release.state == "claimed" and release.lease_until and release.lease_until > now:
        raise TransientError(f"the release of {ref} to the WMS may be in flight",
                             retry_after=(release.lease_until - now).total_seconds())


def _hold_after_pick(services: "Services", ref: str, fulfilment: FulfilmentRow, exc: NotCancellable,
                     request: dict) -> str:
    reason = f"cancellation requested after pick: {fulfilment.external_ref} is already on its way ({exc})"
    now = services.clock()
    with services.uow() as uow:
        orders.set_status(uow.conn, ref, "on_hold", now, only_from=("cancelling",), hold_reason=reason,
                          saga_deadline=None)
        open_exception(
            uow.conn,
            DeadLetter(kind="order.cancel_after_pick", error_type=type(exc).__name__, error_message=reason,
                       subject=ref, task_name=task_names.REQUEST_CANCEL,
                       task_args=[ref, request.get("reason", "cancelled")], queue="critical",
                       payload_ref=f"orders:{ref}"),
            now,
        )
        timeline.record(uow.conn, subject=order_subject(ref), event_type="cancel.after_pick", source="wms",
                        occurred_at=now, detail={"external_ref": fulfilment.external_ref, "reason": reason})
        uow.commit()
    logger.warning("cancel after pick", extra={"ref": ref, "external_ref": fulfilment.external_ref})
    return reason


# --- (2) the reservation -----------------------------------------------------------------------------------------

def _release_reservation(services: "Services", ref: str) -> int:
    now = services.clock()
    with services.uow() as uow:
        row = orders.get(uow.conn, ref, for_update=True)  # a shipment event for this order waits, or went first
        units = orders.release_allocations(uow.conn, ref, now)
        if row.reservation_state == "reserved":
            orders.update_order(uow.conn, ref, now, reservation_state="released")
        uow.commit()
    return units


# --- (3) the ERP: the sale order found by its reference ---------------------------------------------------------

def _cancel_sale_order(services: "Services", ref: str) -> str:
    now = services.clock()
    with services.uow() as uow:
        row = orders.get(uow.conn, ref)
        posting = orders.effect(uow.conn, sale_order_effect_key(ref))
    if row.erp_state == "cancelled":
        return "already"
    if posting is None:
        return "never_posted"  # post_to_erp claims before it calls: no claim, no sale order
    if posting.state != "done" and posting.lease_until is not None and posting.lease_until > now:
        # An attempt holds the posting: it may be creating the sale order right now. Once its lease ended (it
        # finished, failed or died), the lookup below finds whatever it left.
        raise TransientError(f"the ERP posting of {ref} may be in flight",
                             retry_after=(posting.lease_until - now).total_seconds())
    document = services.erp.find_sale_order(ref)
    if document is not None and document.state != "cancel":
        services.erp.cancel_sale_order(document.id)
    now = services.clock()
    with services.uow() as uow:
        orders.update_order(uow.conn, ref, now, erp_state="cancelled")
        timeline.record(uow.conn, subject=order_subject(ref), event_type="erp.sale_order_cancelled", source="erp",
                        occurred_at=now, detail={"sale_order": document.name if document else None})
        uow.commit()
    return "cancelled" if document is not None else "not_found"


# --- last: the store, when the cancellation came from elsewhere --------------------------------------------------

def _cancel_in_store(services: "Services", row: OrderRow, request: dict) -> None:
    key = store_cancel_key(row.ref)
    with services.uow() as uow:
        asked = orders.effect(uow.conn, key) is not None
    if not asked:
        return  # the store cancelled the order itself
    note = f"retail-sync cancelled this order ({request.get('actor', 'unknown')}): {request.get('reason', '')}"
    write_store_status_once(services, row.ref, int(row.store_id), key, "cancelled", note=note.strip())
