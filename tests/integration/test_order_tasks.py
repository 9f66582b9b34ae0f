"""The saga's chord on a real worker and the real Redis result backend: a member that fails for a business reason
is dead-lettered and still completes, so the chord body runs (and, the saga state in SQL deciding, does nothing)."""
from __future__ import annotations

import json
import subprocess
import sys
from datetime import datetime, timezone

import pytest
import redis
from sqlalchemy import select

from retail_sync import task_names
from retail_sync.domain.orders import Address, Customer, Order, OrderLine
from retail_sync.persistence.tables import exceptions, orders, stock_levels
from tests.conftest import REDIS_TEST_URL
from tests.support.processes import ROOT, start_worker, wait_until

REF = "POS-7701"


@pytest.fixture
def worker(process_env, home, engine):
    proc = start_worker(process_env, home)
    yield proc
    proc.stop()


def validated_order_without_bindings(engine) -> None:
    """Validated and in stock, yet its catalog bindings are gone: posting it to the ERP is a permanent failure."""
    now = datetime.now(timezone.utc)
    order = Order(ref=REF, channel="POS", number="7701", status="processing", currency="EUR",
                  customer=Customer("ada@example.com"), billing=Address(), shipping=Address(),
                  lines=(OrderLine(sku="GONE", quantity=1, unit_price=1, subtotal=1, total=1),), total=1, paid=True)
    with engine.begin() as conn:
        conn.execute(orders.insert().values(ref=REF, channel="POS", number="7701", status="validated",
                                            body=order.to_json(), body_hash="0" * 64, received_at=now,
                                            validated_at=now, updated_at=now))
        conn.execute(stock_levels.insert().values(sku="GONE", site="WH-EAST", on_hand=5, reserved=0, updated_at=now))


def stored_results(ref: str) -> dict[str, dict]:
    """Task results kept in the Redis result backend whose result names `ref`, by task id."""
    client = redis.Redis.from_url(REDIS_TEST_URL)
    found = {}
    for key in client.scan_iter("celery-task-meta-*"):
        meta = json.loads(client.get(key) or "{}")
        if isinstance(meta.get("result"), dict) and meta["result"].get("ref") == ref:
            found[meta["task_id"]] = meta
    return found


def start_saga_chord(env: dict, ref: str) -> None:
    """Publish the saga's chord as capture does, from a process configured like the engine's (the test Redis)."""
    script = ("import sys; from retail_sync import task_names as t; "
              "from retail_sync.bootstrap import CeleryDispatcher; ref = sys.argv[1]; "
              "CeleryDispatcher().chord([(t.RESERVE_STOCK, [ref]), (t.POST_TO_ERP, [ref])], (t.RELEASE_TO_WMS, [ref]))")
    subprocess.run([sys.executable, "-c", script, ref], env=env, cwd=ROOT, check=True, timeout=60)


def test_a_chord_member_that_dead_letters_still_lets_the_body_run(worker, engine, process_env):
    validated_order_without_bindings(engine)
    start_saga_chord(process_env, REF)

    def body_result():
        return [meta for meta in stored_results(REF).values() if "release" in meta["result"]]

    try:
        [body] = wait_until(body_result, 30, message="the chord body's result")
        # the body ran (a failed member would have made it a ChordError) and found nothing to release
        assert body["status"] == "SUCCESS" and body["result"]["outcome"] == "skipped"
        assert body["result"]["release"] == "none"
        with engine.connect() as conn:
            letters = conn.execute(select(exceptions.c.kind, exceptions.c.task_name, exceptions.c.task_args)
                                   .where(exceptions.c.kind == "task.failed")).all()
            status = conn.execute(select(orders.c.status).where(orders.c.ref == REF)).scalar_one()
        assert [tuple(letter) for letter in letters] == [("task.failed", task_names.POST_TO_ERP, [REF])]
        assert status == "validated"  # reserved but never posted: nothing released, the sweeper's to resume
    finally:
        client = redis.Redis.from_url(REDIS_TEST_URL)
        for task_id in stored_results(REF):
            client.delete(f"celery-task-meta-{task_id}")
