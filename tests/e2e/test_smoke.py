"""The whole backbone as the demo runs it: web, a critical worker, a default/bulk worker and beat, as real
processes, on the configured database (SQLite in the demo's path, PostgreSQL in production)."""
from __future__ import annotations

import random
from concurrent.futures import ThreadPoolExecutor

import requests
from sqlalchemy import func, select

from retail_sync.persistence.inbox import count_by_status
from retail_sync.persistence.tables import timeline
from tests.support.processes import start_beat, start_web, start_worker, wait_until
from tests.support.woo import headers, order, php_json


def test_order_webhooks_flow_through_to_the_timeline_once_each(process_env, home, engine):
    env = {**process_env, "INBOX_SWEEP_INTERVAL_S": "5"}
    web, base = start_web(env, home)
    critical = start_worker(env, home, queues="critical", name="critical")
    bulk = start_worker(env, home, queues="default,bulk", name="bulk")
    beat = start_beat(env, home)
    try:
        # given 30 orders, each delivered as WooCommerce does: created, updated with the same body, repeats
        rng = random.Random(7)
        deliveries = []
        for order_id in range(1000, 1030):
            body = php_json(order(order_id))
            deliveries += [(body, headers(body, "order.created")), (body, headers(body, "order.updated"))]
            deliveries += [(body, headers(body, "order.updated"))] * rng.randint(0, 2)
        rng.shuffle(deliveries)

        # when they arrive concurrently
        def send(item):
            body, hdrs = item
            return requests.post(base + "/webhooks/woocommerce", data=body, headers=hdrs, timeout=15).status_code

        with ThreadPoolExecutor(8) as pool:
            statuses = list(pool.map(send, deliveries))

        # then every delivery was accepted, each order stored and processed exactly once
        assert statuses == [200] * len(deliveries)

        def all_done():
            with engine.connect() as conn:
                return count_by_status(conn) == {"done": 30}

        wait_until(all_done, 60, message="30 orders processed")
        with engine.connect() as conn:
            per_order = conn.execute(
                select(timeline.c.subject, func.count()).group_by(timeline.c.subject)
            ).all()
        assert len(per_order) == 30 and {count for _, count in per_order} == {1}
    finally:
        for proc in (beat, bulk, critical, web):
            proc.stop()
