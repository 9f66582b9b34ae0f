"""Holding an order, and the engine's writes to the store.

Every write the engine makes to a store order is recorded with the version it produced (`record_store_write`),
so the `order.updated` it causes is recognised by capture as our own echo and does not re-enter the saga.
"""
from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Callable

from sqlalchemy import Connection

from retail_sync import task_names
from retail_sync.connectors.ports import StoreWrite
from retail_sync.domain.order_rules import version_stamp
from retail_sync.domain.orders import order_subject
from retail_sync.flows.effects import exclusive_effect
from retail_sync.persistence import orders, timeline
from retail_sync.persistence.exception_store import DeadLetter, open_exception
from retail_sync.persistence.orders import OrderRow
from retail_sync.persistence.unit_of_work import UnitOfWork

if TYPE_CHECKING:
    from retail_sync.bootstrap import Services


def hold_effect_key(ref: str) -> str:
    return f"store.hold:{ref}"


def put_on_hold(services: "Services", uow: UnitOfWork, row: OrderRow, *, kind: str, reason: str,
                now: datetime) -> str:
    """The order stops here for a person: status on_hold with the reason, an exception whose replay validates
    the order again (START_ORDER), and for a store order the store's own status on-hold with a note. Nothing
    further reaches the ERP or the WMS."""
    ref = row.ref
    # The deadline brings the sweeper back to re-drive a lost HOLD_IN_STORE (or a lost void); with nothing left
    # to do it clears the deadline, and the order waits for a person.
    deadline = now + timedelta(seconds=services.settings.saga_step_timeout_s)
    orders.set_status(uow.conn, ref, "on_hold", now, hold_reason=reason, saga_deadline=deadline)
    open_exception(
        uow.conn,
        DeadLetter(kind=kind, error_type="OrderHeld", error_message=reason, subject=ref,
                   task_name=task_names.START_ORDER, task_args=[ref], queue="critical", payload_ref=f"orders:{ref}"),
        now,
    )
    timeline.record(uow.conn, subject=order_subject(ref), event_type="order.held", source="engine", occurred_at=now,
                    detail={"kind": kind, "reason": reason})
    if row.is_store_order:
        uow.after_commit(lambda: services.dispatcher.send(task_names.HOLD_IN_STORE, [ref]))
    return "held"


def hold_in_store(services: "Services", ref: str) -> dict:
    """Put the store order on-hold with a note saying why, once per hold."""
    return _set_store_status_once(
        services, ref, hold_effect_key(ref), "on-hold", outcome="held", applies=lambda row: row.status == "on_hold",
        note=lambda row: f"retail-sync put this order on hold: {row.hold_reason}",
    )


def resume_in_store(services: "Services", ref: str) -> dict:
    """Set the store order back to processing once an order we held passed validation (a replay, a fixed SKU)."""
    return _set_store_status_once(
        services, ref, resume_effect_key(ref), "processing", outcome="resumed",
        applies=lambda row: row.status not in ("on_hold", "cancelling", "cancelled"),
        note=lambda row: "retail-sync released its hold: the order passed validation and is being fulfilled",
    )


def resume_effect_key(ref: str) -> str:
    return f"store.resume:{ref}"


def _set_store_status_once(services: "Services", ref: str, key: str, status: str, *, outcome: str,
                           applies: Callable[[OrderRow], bool], note: Callable[[OrderRow], str]) -> dict:
    with services.uow() as uow:
        row = orders.get(uow.conn, ref)
    if row is None or not row.is_store_order:
        return {"outcome": "not_a_store_order", "ref": ref}
    if not applies(row):
        return {"outcome": "not_applicable", "ref": ref, "status": row.status}
    if not write_store_status_once(services, ref, int(row.store_id), key, status, note=note(row)):
        return {"outcome": "already", "ref": ref}
    return {"outcome": outcome, "ref": ref}


def write_store_status_once(services: "Services", ref: str, store_id: int, key: str, status: str, *,
                            note: str | None = None) -> bool:
    """Set the store order's status (with an optional note) once per effect `key`, claimed exclusively first, and
    record the version it produced so its echo is recognised. False when the effect was done already."""
    with exclusive_effect(services, key) as claimed:
        if claimed.state == "done":
            return False
        write = services.store.set_order_status(store_id, status, note=note)
        now = services.clock()
        with services.uow() as uow:
            record_store_write(uow.conn, ref, write, now)
            orders.complete_effect(uow.conn, key, version_stamp(write.modified_at), now)
            uow.commit()
    return True


def record_store_write(conn: Connection, ref: str, write: StoreWrite, now: datetime) -> None:
    """Remember the version our write gave the store order (its echo is then recognised) and log the write."""
    version = version_stamp(write.modified_at)
    if version is not None:
        orders.record_store_written_version(conn, ref, version, now)
    timeline.record(conn, subject=order_subject(ref), event_type="store.status_set", source="woocommerce",
                    occurred_at=now, detail={"status": write.status, "version": version})
