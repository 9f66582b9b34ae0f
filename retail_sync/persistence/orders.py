"""The orders repository: order rows and their saga states, effects claimed before a call to another system, and
the stock reservation (order_allocations + stock_levels). Fulfilments and shipments are in `fulfilment_store`.

Every state change is a guarded UPDATE whose rowcount says whether it happened, so concurrent steps (a chord
callback and the sweeper, two copies of one task) agree on who did what.
"""
from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import datetime
from functools import cached_property
from typing import Collection, Mapping, Sequence

from sqlalchemy import Connection, case, delete, func, or_, select, update

from retail_sync.domain.orders import Order
from retail_sync.errors import TransientError
from retail_sync.persistence.sql import insert
from retail_sync.persistence.tables import effects, exceptions, order_allocations, orders, stock_levels


@dataclass(frozen=True)
class OrderRow:
    ref: str
    channel: str
    number: str
    store_id: str | None
    status: str
    source_status: str | None
    source_version: str | None
    store_written_version: str | None
    body: str
    body_hash: str
    hold_reason: str | None
    erp_state: str
    erp_order_id: str | None
    erp_order_name: str | None
    reservation_state: str
    release_state: str
    invoice_state: str
    saga_deadline: datetime | None
    received_at: datetime
    validated_at: datetime | None
    posted_at: datetime | None
    reserved_at: datetime | None
    released_at: datetime | None
    acknowledged_at: datetime | None
    shipped_at: datetime | None
    completed_at: datetime | None
    cancelled_at: datetime | None
    updated_at: datetime

    @cached_property
    def order(self) -> Order:
        return Order.from_json(self.body)

    @property
    def is_store_order(self) -> bool:
        return self.store_id is not None


_ORDER_COLUMNS = [f.name for f in fields(OrderRow)]


def _order_row(row) -> OrderRow:
    return OrderRow(**{name: row._mapping[name] for name in _ORDER_COLUMNS})


def get(conn: Connection, ref: str, for_update: bool = False) -> OrderRow | None:
    """The order, locked until the transaction ends when `for_update` (PostgreSQL; SQLite's BEGIN IMMEDIATE
    already serialises writers)."""
    statement = select(orders).where(orders.c.ref == ref)
    row = conn.execute(statement.with_for_update() if for_update else statement).first()
    return _order_row(row) if row else None


def insert_order(conn: Connection, order: Order, *, status: str, body_hash: str, now: datetime, **values) -> bool:
    """Store a new order; False (and nothing written) when its ref, or its channel and number, exist already."""
    statement = (
        insert(conn, orders)
        .values(
            ref=order.ref, channel=order.channel, number=order.number,
            store_id=str(order.store_id) if order.store_id is not None else None,
            status=status, body=order.to_json(), body_hash=body_hash, received_at=now, updated_at=now, **values,
        )
        .on_conflict_do_nothing()
        .returning(orders.c.ref)  # rowcount is not reliable for INSERT … ON CONFLICT on every driver
    )
    return conn.execute(statement).first() is not None


def update_order(conn: Connection, ref: str, now: datetime, **values) -> None:
    conn.execute(update(orders).where(orders.c.ref == ref).values(**values, updated_at=now))


def record_source_version(conn: Connection, ref: str, version: str | None, status: str, now: datetime) -> bool:
    """Remember the channel's newest version and status of the order, never an older one over a newer one (the
    same version may bring another status: versions count whole seconds)."""
    statement = update(orders).where(orders.c.ref == ref).values(source_status=status, updated_at=now)
    if version is not None:
        statement = statement.where(or_(orders.c.source_version.is_(None), orders.c.source_version <= version))
        statement = statement.values(source_version=version)
    return bool(conn.execute(statement).rowcount)


def record_store_written_version(conn: Connection, ref: str, version: str, now: datetime) -> None:
    """The version our own write gave the store order: its echo must not re-enter capture. Forward only."""
    column = orders.c.store_written_version
    conn.execute(
        update(orders).where(orders.c.ref == ref, or_(column.is_(None), column < version))
        .values(store_written_version=version, updated_at=now)
    )


def set_status(conn: Connection, ref: str, status: str, now: datetime, *,
               only_from: Collection[str] | None = None, **values) -> bool:
    """Move the order to `status` (with any other columns), only from one of `only_from` when given.
    True when the row changed."""
    statement = update(orders).where(orders.c.ref == ref)
    if only_from is not None:
        statement = statement.where(orders.c.status.in_(list(only_from)))
    return bool(conn.execute(statement.values(status=status, updated_at=now, **values)).rowcount)


def mark_releasable(conn: Connection, ref: str, now: datetime) -> bool:
    """The one decision to release: ERP posted and stock reserved, once. Every step that could be the last
    (either chord member, the chord body, the sweeper) calls it; the rowcount says who won."""
    statement = (
        update(orders)
        .where(orders.c.ref == ref, orders.c.status == "validated", orders.c.erp_state == "posted",
               orders.c.reservation_state == "reserved", orders.c.release_state == "none")
        .values(release_state="releasable", updated_at=now)
    )
    return bool(conn.execute(statement).rowcount)


def due_sagas(conn: Connection, statuses: Sequence[str], now: datetime, limit: int) -> list[OrderRow]:
    """Orders in one of `statuses` whose saga deadline has passed, the most overdue first."""
    statement = (
        select(orders)
        .where(orders.c.status.in_(list(statuses)), orders.c.saga_deadline <= now)
        .order_by(orders.c.saga_deadline, orders.c.ref)
        .limit(limit)
    )
    return [_order_row(row) for row in conn.execute(statement)]


def set_deadlines(conn: Connection, refs: Sequence[str], deadline: datetime | None) -> None:
    if refs:
        conn.execute(update(orders).where(orders.c.ref.in_(list(refs))).values(saga_deadline=deadline))


def resolve_exceptions(conn: Connection, ref: str, kinds: Sequence[str], now: datetime, by: str) -> int:
    """Close the order's open exceptions of these kinds (the order got past what they were about)."""
    statement = (
        update(exceptions)
        .where(exceptions.c.subject == ref, exceptions.c.kind.in_(list(kinds)), exceptions.c.status == "open")
        .values(status="resolved", resolved_at=now, resolved_by=by, updated_at=now)
    )
    return conn.execute(statement).rowcount


# --- effects: claimed in SQL before the call that causes them ----------------------------------------------------

@dataclass(frozen=True)
class EffectRow:
    key: str
    state: str  # claimed | done
    result: str | None
    attempts: int  # claims so far: 1 on the first
    claimed_at: datetime
    lease_until: datetime | None
    done_at: datetime | None


def claim_effect(conn: Connection, key: str, now: datetime, *, lease_until: datetime | None = None) -> EffectRow:
    """Claim an effect, or count another attempt at an unfinished one; a done effect comes back unchanged.

    With `lease_until`, the attempt is exclusive until then (or until `release_effect`): a remote that is not
    idempotent must not see two copies of a task look up, find nothing and both create. A claim that meets
    another attempt's running lease raises TransientError to be retried once that lease has ended.
    """
    statement = insert(conn, effects).values(key=key, state="claimed", attempts=1, claimed_at=now,
                                             lease_until=lease_until)
    statement = statement.on_conflict_do_update(
        index_elements=["key"],
        set_={"attempts": effects.c.attempts + 1, "lease_until": statement.excluded.lease_until},
        where=(effects.c.state == "claimed") & or_(effects.c.lease_until.is_(None), effects.c.lease_until <= now),
    ).returning(*effects.c)
    claimed = conn.execute(statement).first()
    if claimed is not None:
        return EffectRow(*claimed)
    current = effect(conn, key)
    if current.state == "claimed":
        wait = (current.lease_until - now).total_seconds()
        raise TransientError(f"{key}: another attempt is under way (lease for {wait:.0f} s more)", retry_after=wait)
    return current


def release_effect(conn: Connection, key: str) -> None:
    """The attempt ended without the effect being confirmed: the next one may start at once."""
    conn.execute(update(effects).where(effects.c.key == key, effects.c.state == "claimed").values(lease_until=None))


def complete_effect(conn: Connection, key: str, result: str | None, now: datetime) -> None:
    conn.execute(update(effects).where(effects.c.key == key)
                 .values(state="done", result=result, done_at=now, lease_until=None))


def effect(conn: Connection, key: str) -> EffectRow | None:
    row = conn.execute(select(effects).where(effects.c.key == key)).first()
    return EffectRow(*row) if row else None


def done_effects(conn: Connection, keys: Sequence[str]) -> set[str]:
    if not keys:
        return set()
    statement = select(effects.c.key).where(effects.c.key.in_(list(keys)), effects.c.state == "done")
    return set(conn.execute(statement).scalars())


def forget_effect(conn: Connection, key: str) -> None:
    """Let an effect happen again (a new hold after the order was released from the previous one)."""
    conn.execute(delete(effects).where(effects.c.key == key))


# --- stock reservation --------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Allocation:
    site: str
    sku: str
    quantity: int
    shipped_quantity: int
    status: str  # held | released | consumed


def available_stock(conn: Connection, skus: Sequence[str], safety_default: int) -> dict[str, dict[str, int]]:
    """{site: {sku: units free to promise}}, the rows locked until the transaction ends (PostgreSQL), taken in
    one global order (sku, site) so two reservations never wait on each other in a cycle."""
    free = stock_levels.c.on_hand - stock_levels.c.reserved - _safety(safety_default)
    statement = (
        select(stock_levels.c.site, stock_levels.c.sku, free)
        .where(stock_levels.c.sku.in_(list(skus)))
        .order_by(stock_levels.c.sku, stock_levels.c.site)
        .with_for_update()
    )
    available: dict[str, dict[str, int]] = {}
    for site, sku, units in conn.execute(statement):
        available.setdefault(site, {})[sku] = max(0, units)
    return available


def reserve(conn: Connection, ref: str, plan: Mapping[str, Mapping[str, int]], safety_default: int,
            now: datetime) -> bool:
    """Take every unit of `plan` ({site: {sku: quantity}}) or none: each with a guarded UPDATE that refuses to
    promise more than on_hand − reserved − safety stock, inside a SAVEPOINT so a refused plan undoes only
    itself. On success the allocations are stored as held."""
    takes = sorted((sku, site, quantity) for site, lines in plan.items() for sku, quantity in lines.items())
    savepoint = conn.begin_nested()
    for sku, site, quantity in takes:
        taken = conn.execute(
            update(stock_levels)
            .where(stock_levels.c.sku == sku, stock_levels.c.site == site,
                   stock_levels.c.on_hand - stock_levels.c.reserved - _safety(safety_default) >= quantity)
            .values(reserved=stock_levels.c.reserved + quantity, updated_at=now)
        ).rowcount
        if not taken:
            savepoint.rollback()
            return False
    conn.execute(insert(conn, order_allocations), [
        {"order_ref": ref, "site": site, "sku": sku, "quantity": quantity, "shipped_quantity": 0, "status": "held",
         "created_at": now, "updated_at": now}
        for sku, site, quantity in takes
    ])
    savepoint.commit()
    return True


def allocations(conn: Connection, ref: str, status: str | None = None) -> list[Allocation]:
    statement = select(
        order_allocations.c.site, order_allocations.c.sku, order_allocations.c.quantity,
        order_allocations.c.shipped_quantity, order_allocations.c.status,
    ).where(order_allocations.c.order_ref == ref)
    if status is not None:
        statement = statement.where(order_allocations.c.status == status)
    statement = statement.order_by(order_allocations.c.site, order_allocations.c.sku)
    return [Allocation(*row) for row in conn.execute(statement)]


def release_allocations(conn: Connection, ref: str, now: datetime) -> int:
    """Give back what the order still holds: held → released and each site's `reserved` lowered by the units not
    shipped, in one transaction. Idempotent (a released allocation is not released twice). Returns the units."""
    released = conn.execute(
        update(order_allocations)
        .where(order_allocations.c.order_ref == ref, order_allocations.c.status == "held")
        .values(status="released", updated_at=now)
        .returning(order_allocations.c.sku, order_allocations.c.site,
                   order_allocations.c.quantity - order_allocations.c.shipped_quantity)
    ).all()
    for sku, site, units in sorted(released):
        if units > 0:
            lower_reserved(conn, sku, site, units, now)
    return sum(max(0, units) for _, _, units in released)


def lower_reserved(conn: Connection, sku: str, site: str, units: int, now: datetime) -> None:
    """Units no longer promised (released, or shipped): the site's `reserved` shrinks, never below zero."""
    conn.execute(
        update(stock_levels)
        .where(stock_levels.c.sku == sku, stock_levels.c.site == site)
        .values(reserved=case((stock_levels.c.reserved >= units, stock_levels.c.reserved - units), else_=0),
                updated_at=now)
    )


def _safety(default: int):
    return func.coalesce(stock_levels.c.safety_stock, default)
