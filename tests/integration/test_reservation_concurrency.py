"""Stock reservation under real concurrency: several worker processes reserve the same orders for the same SKUs at
once, each through its own database connections. Whatever interleaving the database allows, no unit is promised
twice: every site's `reserved` equals what the held allocations say and never exceeds on-hand minus safety stock,
and each order is reserved whole exactly once or held."""
from __future__ import annotations

import multiprocessing
import random
import traceback
from collections import Counter

from sqlalchemy import func, select

from config.settings import Settings
from retail_sync.bootstrap import bootstrap
from retail_sync.connectors.http import NoGuard
from retail_sync.flows import capture, saga
from retail_sync.persistence.tables import order_allocations, orders, stock_levels
from tests.flows.fakes import FakeErp, FakeStore, FakeWms, make_order
from tests.flows.support import seed_catalog, seed_stock

WORKERS = 4
ORDERS = 60
STOCK = {("SKU-A", "WH-EAST"): 30, ("SKU-A", "WH-WEST"): 20, ("SKU-B", "WH-EAST"): 10, ("SKU-B", "WH-WEST"): 25}
SETTINGS = {"site_priority": ("WH-EAST", "WH-WEST"), "allow_split_shipments": True, "safety_stock_default": 1}


class Trap:
    """Workers here only reserve; what they would publish is irrelevant."""

    def send(self, task_name, args=()):
        pass

    def chord(self, header, body):
        pass


def wanted(number: int) -> dict[str, int]:
    lines = {"SKU-A": 1 + number % 3}
    if number % 2:
        lines["SKU-B"] = 1 + number % 4
    return lines


def reserve_all(database_url: str, home: str, refs: list[str], start, failures) -> None:
    """One worker process: its own engine and Services; waits for the others, then reserves every order."""
    try:
        settings = Settings(_env_file=None, database_url=database_url, retail_sync_home=home, **SETTINGS)
        services = bootstrap(settings, dispatcher=Trap(), store=FakeStore(), erp=FakeErp(), wms=FakeWms(),
                             guard=NoGuard())
        start.wait(60)
        for ref in refs:
            saga.reserve_stock(services, ref)
        services.engine.dispose()
    except BaseException:
        failures.put(traceback.format_exc())


def test_concurrent_workers_never_promise_a_unit_twice(services, settings, erp, home):
    # given 60 validated orders wanting more SKU-A and SKU-B than the two sites hold together
    services.settings = settings.model_copy(update=SETTINGS)
    seed_catalog(services, erp, "SKU-A", "SKU-B")
    seed_stock(services, STOCK)
    refs = []
    for number in range(1, ORDERS + 1):
        lines = [(sku, quantity, "5.00") for sku, quantity in wanted(number).items()]
        assert capture.ingest(services, make_order(number, lines)) == "validated"
        refs.append(f"WC-{number}")
    # when four processes reserve all of them at once, each in its own order
    context = multiprocessing.get_context("spawn")
    start, failures = context.Barrier(WORKERS), context.Queue()
    workers = []
    for seed in range(WORKERS):
        shuffled = random.Random(seed).sample(refs, len(refs))
        workers.append(context.Process(target=reserve_all,
                                       args=(settings.database_url, str(home), shuffled, start, failures)))
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(120)
    assert failures.empty(), failures.get()
    assert [worker.exitcode for worker in workers] == [0] * WORKERS
    # then each site promised exactly what its allocations hold, and never more than it may
    with services.engine.connect() as conn:
        levels = {(r.sku, r.site): r for r in conn.execute(select(stock_levels))}
        held = {(sku, site): units for sku, site, units in conn.execute(
            select(order_allocations.c.sku, order_allocations.c.site, func.sum(order_allocations.c.quantity))
            .where(order_allocations.c.status == "held")
            .group_by(order_allocations.c.sku, order_allocations.c.site))}
        for key, level in levels.items():
            assert level.reserved == held.get(key, 0), key
            assert level.reserved <= level.on_hand - SETTINGS["safety_stock_default"], key
        # and each order is reserved whole, or held — never half
        states = dict(conn.execute(select(orders.c.ref, orders.c.reservation_state)).all())
        allocated: dict[str, Counter] = {}
        for ref, sku, units in conn.execute(
                select(order_allocations.c.order_ref, order_allocations.c.sku, order_allocations.c.quantity)):
            allocated.setdefault(ref, Counter())[sku] += units
    outcomes = Counter(states.values())
    assert set(outcomes) == {"reserved", "failed"} and sum(outcomes.values()) == ORDERS
    for number in range(1, ORDERS + 1):
        ref = f"WC-{number}"
        expected = Counter(wanted(number)) if states[ref] == "reserved" else Counter()
        assert allocated.get(ref, Counter()) == expected, ref
    # and no order was refused while its units were there: free stock only shrank during the run, so what a
    # refused order lacked then, it still lacks now
    free = Counter()
    for (sku, _site), level in levels.items():
        free[sku] += level.on_hand - level.reserved - SETTINGS["safety_stock_default"]
    refused = [number for number in range(1, ORDERS + 1) if states[f"WC-{number}"] == "failed"]
    assert refused
    for number in refused:
        assert any(free[sku] < quantity for sku, quantity in wanted(number).items()), number
