"""The order saga after validation: reserve stock and post to the ERP (the chord's header, in parallel), then
release to the WMS (the chord's body), and the named compensation when a reservation fails after posting.

The chord is only the fast path. Each step reads and writes its own state in SQL and the decision to release is
one atomic transition (`orders.mark_releasable`) that whichever step finishes last, the chord body and the
sweeper all use: a lost chord, a chord that fires early or twice, or a killed worker releases exactly once.
"""
from __future__ import annotations

import logging
import time
from collections import Counter, defaultdict
from datetime import datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING

from retail_sync import task_names
from retail_sync.connectors.ports import ErpDocument, FulfilmentLine, FulfilmentRequest
from retail_sync.domain.order_rules import reservation_options, shortage, site_order
from retail_sync.domain.orders import CENT, Order, fulfilment_ref, order_subject
from retail_sync.errors import Conflict, PermanentError
from retail_sync.flows.effects import lease_until, release_lease
from retail_sync.flows.fulfilment import sweep_shipments
from retail_sync.flows.store_updates import hold_effect_key, put_on_hold
from retail_sync.persistence import fulfilment_store, nudges, orders, product_bindings, timeline
from retail_sync.persistence.exception_store import DeadLetter, open_exception
from retail_sync.persistence.orders import OrderRow

if TYPE_CHECKING:
    from retail_sync.bootstrap import Services

logger = logging.getLogger(__name__)

# A held or cancelled order must not keep an ERP order: posting into one of these is followed by the void.
VOIDED_WHEN = ("on_hold", "cancelling", "cancelled")


def sale_order_effect_key(ref: str) -> str:
    return f"erp.sale_order:{ref}"


def release_effect_key(ref: str) -> str:
    """Held while a release calls the WMS: a cancellation waits for it instead of guessing whether one is on the
    wire (the WMS would otherwise keep a fulfilment created just after the compensation looked)."""
    return f"wms.release:{ref}"


# --- reserve_stock (critical: SQL only) ---------------------------------------------------------------------

def reserve_stock(services: "Services", ref: str) -> dict:
    """Take the order's units against available-to-sell, in one transaction: the first site (in priority) that
    can ship the whole order, else a split when allowed, else the order is held (and a posted ERP order voided)."""
    settings = services.settings
    now = services.clock()
    with services.uow() as uow:
        conn = uow.conn
        row = orders.get(conn, ref, for_update=True)
        if row is None:
            return {"outcome": "unknown", "ref": ref}
        if row.status != "validated" or row.reservation_state != "none":
            return {"outcome": "skipped", "ref": ref, "status": row.status, "reservation": row.reservation_state}
        wanted = row.order.quantities()
        available = orders.available_stock(conn, sorted(wanted), settings.safety_stock_default)
        sites = site_order(settings.site_priority, list(available))
        for plan in reservation_options(wanted, available, sites, allow_split=settings.allow_split_shipments):
            if orders.reserve(conn, ref, plan, settings.safety_stock_default, now):
                orders.update_order(conn, ref, now, reservation_state="reserved", reserved_at=now)
                timeline.record(conn, subject=order_subject(ref), event_type="stock.reserved", source="engine",
                                occurred_at=now, detail={"allocations": plan})
                orders.mark_releasable(conn, ref, now)
                uow.commit()
                return {"outcome": "reserved", "ref": ref, "sites": sorted(plan)}
        reason = shortage(wanted, available, sites, allow_split=settings.allow_split_shipments)
        orders.update_order(conn, ref, now, reservation_state="failed")
        timeline.record(conn, subject=order_subject(ref), event_type="stock.reservation_failed", source="engine",
                        occurred_at=now, detail={"reason": reason})
        put_on_hold(services, uow, row, kind="order.reservation_failed", reason=reason, now=now)
        if row.erp_state == "posted":
            uow.after_commit(lambda: services.dispatcher.send(task_names.VOID_ERP_ORDER, [ref]))
        uow.commit()
    return {"outcome": "failed", "ref": ref, "reason": reason}


# --- post_to_erp (default) ----------------------------------------------------------------------------------

def post_to_erp(services: "Services", ref: str) -> dict:
    """Create and confirm the ERP sale order once: claim the effect in SQL first (an exclusive lease), then always
    look it up by reference before creating, so a retry after a dropped response adopts the first one."""
    key = sale_order_effect_key(ref)
    now = services.clock()
    with services.uow() as uow:
        row = orders.get(uow.conn, ref)
        if row is None:
            return {"outcome": "unknown", "ref": ref}
        if row.erp_state == "posted" or row.status != "validated":
            return {"outcome": "skipped", "ref": ref, "status": row.status, "erp": row.erp_state}
        order = row.order
        product_ids = _product_ids(uow.conn, order)
        if orders.claim_effect(uow.conn, key, now, lease_until=lease_until(services, now)).state == "done":
            return {"outcome": "skipped", "ref": ref, "erp": "posted"}
        uow.commit()
    try:
        document = _find_or_create_sale_order(services, row, order, product_ids)
    except BaseException:
        release_lease(services, key)
        raise
    return _record_posting(services, ref, order, document)


def _product_ids(conn, order: Order) -> dict[str, int]:
    bindings = product_bindings.bindings_for(conn, list(order.skus))
    missing = [sku for sku in order.skus if sku not in bindings or bindings[sku].erp_product_id is None]
    if missing:
        raise PermanentError(f"{order.ref}: no ERP product for {', '.join(missing)} (bindings changed since it was "
                             "validated)")
    return {sku: int(bindings[sku].erp_product_id) for sku in order.skus}


def _find_or_create_sale_order(services: "Services", row: OrderRow, order: Order,
                               product_ids: dict[str, int]) -> ErpDocument:
    found = services.erp.find_sale_order(order.ref)
    if found is None:
        return services.erp.create_sale_order(order, product_ids)
    if found.state == "draft":
        return services.erp.confirm_sale_order(found.id)
    if found.state == "cancel":
        if row.erp_order_id != str(found.id):
            raise PermanentError(f"{order.ref}: the ERP holds sale order {found.name} under this reference, "
                                 "cancelled, and retail-sync never posted it")
        return services.erp.create_sale_order(order, product_ids)  # ours, voided before the order was reopened
    return found


def _record_posting(services: "Services", ref: str, order: Order, document: ErpDocument) -> dict:
    now = services.clock()
    amounts_match = Decimal(document.amount_total).quantize(CENT) == order.total.quantize(CENT)
    with services.uow() as uow:
        conn = uow.conn
        row = orders.get(conn, ref, for_update=True)
        orders.update_order(conn, ref, now, erp_state="posted", erp_order_id=str(document.id),
                            erp_order_name=document.name, posted_at=now)
        orders.complete_effect(conn, sale_order_effect_key(ref), str(document.id), now)
        timeline.record(conn, subject=order_subject(ref), event_type="erp.posted", source="erp", occurred_at=now,
                        detail={"sale_order": document.name, "amount_total": document.amount_total,
                                "order_total": str(order.total), "amounts_match": amounts_match})
        if not amounts_match:
            logger.warning("ERP total differs from the order's", extra={"system": "erp", "kind": "sale_order",
                                                                         "external_id": document.name, "ref": ref})
        if row.status in VOIDED_WHEN:
            if row.status == "on_hold":  # the sweeper re-drives a lost void of a held order
                orders.set_deadlines(conn, [ref], now + timedelta(seconds=services.settings.saga_step_timeout_s))
            uow.after_commit(lambda: services.dispatcher.send(task_names.VOID_ERP_ORDER, [ref]))
        else:
            orders.mark_releasable(conn, ref, now)
        uow.commit()
    return {"outcome": "posted", "ref": ref, "sale_order": document.name, "amounts_match": amounts_match}


# --- release_to_wms (default, the chord body) ---------------------------------------------------------------

def release_to_wms(services: "Services", ref: str) -> dict:
    """One fulfilment order per allocated site, idempotent by external_ref; a no-op unless the order is
    releasable (a chord that fired early or twice does nothing; the sweeper comes back)."""
    now = services.clock()
    with services.uow() as uow:
        row = orders.get(uow.conn, ref, for_update=True)
        if row is None:
            return {"outcome": "unknown", "ref": ref}
        if row.release_state != "releasable" or row.status != "validated":
            return {"outcome": "skipped", "ref": ref, "status": row.status, "release": row.release_state}
        # Claimed under the order's lock: a cancellation either comes first (and this release skips) or finds the
        # lease and waits for it.
        orders.claim_effect(uow.conn, release_effect_key(ref), now, lease_until=lease_until(services, now))
        requests = _fulfilment_requests(row.order, orders.allocations(uow.conn, ref, status="held"))
        fulfilment_store.add_pending_fulfilments(
            uow.conn, ref,
            [(r.external_ref, r.site, {line.sku: line.quantity for line in r.lines}) for r in requests], now)
        pending = set(fulfilment_store.unreleased_fulfilments(uow.conn, ref))
        uow.commit()
    try:
        for request in requests:
            if request.external_ref not in pending:
                continue
            try:
                created = services.wms.create_fulfilment(request)
            except Conflict as exc:
                release_lease(services, release_effect_key(ref))
                return _release_conflict(services, ref, request.external_ref, exc)
            with services.uow() as uow:
                fulfilment_store.record_fulfilment_released(uow.conn, request.external_ref, created.id, services.clock())
                uow.commit()
    except BaseException:
        release_lease(services, release_effect_key(ref))
        raise
    return _record_release(services, ref, [r.external_ref for r in requests])


def _fulfilment_requests(order: Order, held: list[orders.Allocation]) -> list[FulfilmentRequest]:
    by_site: dict[str, list[FulfilmentLine]] = defaultdict(list)
    for allocation in held:
        by_site[allocation.site].append(FulfilmentLine(sku=allocation.sku, quantity=allocation.quantity))
    split = len(by_site) > 1
    ship_to = _ship_to(order)
    return [
        FulfilmentRequest(external_ref=fulfilment_ref(order.ref, site, split=split), site=site,
                          lines=tuple(lines), ship_to=ship_to)
        for site, lines in sorted(by_site.items())
    ]


def _ship_to(order: Order) -> dict[str, str]:
    address = order.shipping
    fields = {"name": address.name or order.customer.name, "company": address.company,
              "address_1": address.address_1, "address_2": address.address_2, "city": address.city,
              "state": address.state, "postcode": address.postcode, "country": address.country,
              "phone": address.phone or order.customer.phone, "email": order.customer.email}
    return {name: value for name, value in fields.items() if value}


def _record_release(services: "Services", ref: str, external_refs: list[str]) -> dict:
    now = services.clock()
    with services.uow() as uow:
        if fulfilment_store.unreleased_fulfilments(uow.conn, ref):
            orders.release_effect(uow.conn, release_effect_key(ref))
            uow.commit()
            return {"outcome": "partly_released", "ref": ref}  # the sweeper sends the release again
        orders.complete_effect(uow.conn, release_effect_key(ref), "released", now)
        # A WMS event may already have moved the order on (shipped before we got here), or a cancellation begun:
        # the status and its deadline are then theirs, never moved back.
        if not orders.set_status(uow.conn, ref, "released", now, only_from=["validated"], release_state="released",
                                 released_at=now, saga_deadline=None):
            orders.update_order(uow.conn, ref, now, release_state="released", released_at=now)
        timeline.record(uow.conn, subject=order_subject(ref), event_type="wms.released", source="wms",
                        occurred_at=now, detail={"fulfilments": external_refs})
        uow.commit()
    return {"outcome": "released", "ref": ref, "fulfilments": external_refs}


def _release_conflict(services: "Services", ref: str, external_ref: str, exc: Conflict) -> dict:
    """The WMS holds a different order under our reference: a person decides. The saga stops being swept (the
    exception is now its record); replaying RELEASE_TO_WMS tries again."""
    now = services.clock()
    with services.uow() as uow:
        open_exception(
            uow.conn,
            DeadLetter(kind="order.release_conflict", error_type=type(exc).__name__, error_message=str(exc),
                       subject=ref, task_name=task_names.RELEASE_TO_WMS, task_args=[ref], queue="default",
                       payload_ref=f"fulfilments:{external_ref}"),
            now,
        )
        orders.set_deadlines(uow.conn, [ref], None)
        timeline.record(uow.conn, subject=order_subject(ref), event_type="wms.release_conflict", source="wms",
                        occurred_at=now, detail={"external_ref": external_ref, "error": str(exc)})
        uow.commit()
    return {"outcome": "conflict", "ref": ref, "external_ref": external_ref}


# --- void_erp_order (default): the named compensation of post_to_erp -------------------------------------------

def void_erp_order(services: "Services", ref: str) -> dict:
    """Cancel the order's ERP sale order (found by reference when its id is unknown), unless already cancelled.
    Only for an order that must not keep one (held, cancelling, cancelled)."""
    with services.uow() as uow:
        row = orders.get(uow.conn, ref)
        if row is None:
            return {"outcome": "unknown", "ref": ref}
        if row.erp_state == "cancelled" or row.status not in VOIDED_WHEN:
            return {"outcome": "skipped", "ref": ref, "status": row.status, "erp": row.erp_state}
        posting = orders.effect(uow.conn, sale_order_effect_key(ref))
    sale_order_id = int(row.erp_order_id) if row.erp_order_id else None
    if sale_order_id is None:
        found = services.erp.find_sale_order(ref)
        if found is None:
            if posting is not None and posting.state == "claimed":
                # A posting may still be on its way; when it lands it sees the hold and dispatches this again.
                return {"outcome": "nothing_posted_yet", "ref": ref}
            return {"outcome": "nothing_to_void", "ref": ref}
        sale_order_id = found.id
    document = services.erp.cancel_sale_order(sale_order_id)
    now = services.clock()
    with services.uow() as uow:
        orders.update_order(uow.conn, ref, now, erp_state="cancelled", erp_order_id=str(document.id),
                            erp_order_name=document.name)
        timeline.record(uow.conn, subject=order_subject(ref), event_type="erp.voided", source="erp", occurred_at=now,
                        detail={"sale_order": document.name, "state": document.state})
        uow.commit()
    return {"outcome": "voided", "ref": ref, "sale_order": document.name}


def erp_void_needed(row: OrderRow) -> bool:
    """Held before release with its ERP order still standing (the void was lost): the sweeper sends it again.
    A cancelling order's ERP order is the cancellation's own business."""
    return row.status == "on_hold" and row.erp_state == "posted" and row.release_state == "none"


# --- sweep_sagas (beat, critical): what makes a lost chord, a flushed Redis or a killed worker harmless -------------

SWEEP_PAGE = 500
SWEEP_TIME_BUDGET_S = 30.0
CAPTURE_CHUNK = 100  # store order ids per CAPTURE_STORE_ORDERS message
SWEPT_STATUSES = ("received", "validated", "on_hold", "cancelling")


def sweep_sagas(services: "Services") -> dict:
    """Re-drive nudges nobody captured in time, and every saga past its deadline: each missing step is sent again
    and the deadline pushed forward; a saga with nothing left to do loses its deadline. Paged and time-boxed."""
    step = timedelta(seconds=services.settings.saga_step_timeout_s)
    budget_ends = time.monotonic() + SWEEP_TIME_BUDGET_S
    totals: Counter = Counter()
    while time.monotonic() < budget_ends:
        now = services.clock()
        with services.uow() as uow:
            due = nudges.due(uow.conn, now, SWEEP_PAGE)
            nudges.postpone(uow.conn, due, now + step)
            uow.after_commit(lambda ids=due: _publish_captures(services, ids))
            uow.commit()
        totals["nudges"] += len(due)
        if len(due) < SWEEP_PAGE:
            break
    while time.monotonic() < budget_ends:
        now = services.clock()
        with services.uow() as uow:
            due = orders.due_sagas(uow.conn, SWEPT_STATUSES, now, SWEEP_PAGE)
            held_in_store = orders.done_effects(
                uow.conn, [hold_effect_key(row.ref) for row in due if row.status == "on_hold"])
            resumed, settled = [], []
            for row in due:
                steps = _resume(services, uow, row, now, store_hold_done=hold_effect_key(row.ref) in held_in_store)
                (resumed if steps else settled).append(row.ref)
                totals.update(steps)
            orders.set_deadlines(uow.conn, resumed, now + step)
            orders.set_deadlines(uow.conn, settled, None)
            uow.commit()
        if len(due) < SWEEP_PAGE:
            break
    totals["shipments"] += sweep_shipments(services)["redriven"]  # shipped orders whose confirmation stalled
    if any(totals.values()):
        logger.info("saga sweep", extra=dict(totals))
    return {name: count for name, count in totals.items() if count}


def _publish_captures(services: "Services", store_ids: list[str]) -> None:
    ids = [int(store_id) for store_id in store_ids]
    for start in range(0, len(ids), CAPTURE_CHUNK):
        services.dispatcher.send(task_names.CAPTURE_STORE_ORDERS, [ids[start:start + CAPTURE_CHUNK]])


def _resume(services: "Services", uow, row: OrderRow, now: datetime, *, store_hold_done: bool) -> list[str]:
    """Send again what this saga is waiting for (after commit); the names of the steps re-driven."""
    ref, send = row.ref, services.dispatcher.send
    messages: list[tuple[str, list]] = []
    if row.status == "received":
        messages.append((task_names.START_ORDER, [ref]))
    elif row.status == "validated":
        if row.release_state == "releasable" or orders.mark_releasable(uow.conn, ref, now):
            messages.append((task_names.RELEASE_TO_WMS, [ref]))
        else:
            header = [(name, [ref]) for name, missing in (
                (task_names.RESERVE_STOCK, row.reservation_state == "none"),
                (task_names.POST_TO_ERP, row.erp_state == "none"),
            ) if missing]
            if header:
                body = (task_names.RELEASE_TO_WMS, [ref])
                uow.after_commit(lambda: services.dispatcher.chord(header, body))
                return [name for name, _ in header]
    elif row.status == "on_hold":
        if erp_void_needed(row):
            messages.append((task_names.VOID_ERP_ORDER, [ref]))
        if row.is_store_order and not store_hold_done:
            messages.append((task_names.HOLD_IN_STORE, [ref]))
    elif row.status == "cancelling":
        messages.append((task_names.COMPENSATE_CANCEL, [ref]))
    for name, args in messages:
        uow.after_commit(lambda name=name, args=args: send(name, args))
    return [name for name, _ in messages]
