"""Benchmark: orders end to end (webhook accepted → released to the WMS) against Celery's own ceiling.

    python scripts/bench_orders.py [--orders 400] [--database postgresql|sqlite] [--critical 2] [--default 2]

Starts the whole system as real processes on loopback (tests/support/stack.py: the three sandboxes at zero
latency, the web app, a critical and a default/bulk worker, beat, a private redis-server) and:

1. saturation: shoppers place `--orders` paid orders in the store sandbox as fast as it takes them; the store
   delivers its webhooks; the figure is orders / (last `released_at` − first delivery accepted), read from the
   engine's database;
2. latency: orders offered at a fixed rate (half the measured saturation) for `--latency-seconds`; per order,
   released_at − its first delivery's received_at; p50 / p99;
3. ceiling: the same worker layout runs scripts/bench_ceiling_app.py instead — per order a capture task that
   starts a chord of two empty tasks and an empty callback — and the figure is orders completed per second.

Prints one table with the ratio. Everything stops by itself.
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import redis  # noqa: E402
from celery import Celery  # noqa: E402
from sqlalchemy import func, select  # noqa: E402

from bench_intake import prepare_database  # noqa: E402  (scripts/, beside this file)
from retail_sync.persistence.tables import orders, webhook_inbox  # noqa: E402
from tests.support.processes import start_worker, wait_until  # noqa: E402
from tests.support.stack import Stack, catalog, store_ref  # noqa: E402
from tests.support.woo import SECRET  # noqa: E402

SKUS = [f"BENCH-{n:03d}" for n in range(50)]
# Where bench_ceiling_app's `release` records each finished order (the app reads it from here).
CEILING_DONE_KEY = "bench:ceiling:done"


def place(stack: Stack, count: int, *, rate: float | None = None, threads: int = 8) -> list[dict]:
    """Place `count` orders, as fast as possible or paced at `rate` per second."""
    start = time.monotonic()

    def one(n: int) -> dict:
        if rate:
            delay = start + n / rate - time.monotonic()
            if delay > 0:
                time.sleep(delay)
        return stack.checkout([(SKUS[n % len(SKUS)], 1 + n % 2), (SKUS[(n * 7 + 3) % len(SKUS)], 1)])

    with ThreadPoolExecutor(threads) as pool:
        return list(pool.map(one, range(count)))


def timings(stack: Stack, placed: list[dict]) -> list[tuple[float, float]]:
    """(first delivery accepted, released) per order, as epoch seconds, from the engine's database."""
    store_ids = [str(order["id"]) for order in placed]
    refs = [store_ref(order) for order in placed]
    with stack.engine.connect() as conn:
        accepted = dict(conn.execute(
            select(webhook_inbox.c.resource_id, func.min(webhook_inbox.c.received_at))
            .where(webhook_inbox.c.source == "woocommerce", webhook_inbox.c.resource_id.in_(store_ids))
            .group_by(webhook_inbox.c.resource_id)
        ).all())
        released = dict(conn.execute(select(orders.c.store_id, orders.c.released_at).where(orders.c.ref.in_(refs))).all())
    return [(accepted[sid].timestamp(), released[sid].timestamp()) for sid in store_ids]


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def engine_run(stack: Stack, args) -> dict:
    warm = place(stack, 20)
    stack.wait_for_status([store_ref(o) for o in warm], {"released"}, timeout=120)

    began = time.monotonic()
    placed = place(stack, args.orders)
    offered = args.orders / (time.monotonic() - began)
    stack.wait_for_status([store_ref(o) for o in placed], {"released"}, timeout=600)
    spans = timings(stack, placed)
    throughput = len(spans) / (max(r for _, r in spans) - min(a for a, _ in spans))

    rate = max(1.0, throughput / 2)
    paced = place(stack, int(rate * args.latency_seconds), rate=rate)
    stack.wait_for_status([store_ref(o) for o in paced], {"released"}, timeout=600)
    latencies = [(r - a) * 1000 for a, r in timings(stack, paced)]
    return {"throughput": throughput, "offered": offered, "rate": rate, "p50": percentile(latencies, 0.5),
            "p99": percentile(latencies, 0.99), "n_latency": len(latencies)}


def ceiling_run(stack: Stack, args) -> float:
    for name in ("critical", "default", "beat"):
        proc = stack.processes.pop(name, None)
        if proc:
            proc.stop()
    env = {**stack.process_env(), "PYTHONPATH": f"{ROOT / 'scripts'}:{ROOT}"}
    workers = []
    try:
        for name, queues, concurrency in (("critical", "critical", args.critical),
                                          ("default", "default,bulk", args.default)):
            workers.append(start_worker(env, stack.workdir, queues, f"ceiling-{name}", app="bench_ceiling_app",
                                        concurrency=concurrency))
        client = redis.Redis.from_url(stack.redis.url)
        client.delete(CEILING_DONE_KEY)
        # A bare client of the same broker: publishing needs no settings, and the task runs only in the workers.
        with Celery("bench_orders", broker=stack.redis.url) as publisher:
            began = time.monotonic()
            for n in range(args.orders):
                publisher.send_task("bench.capture", args=[n], queue="critical", ignore_result=True)
            wait_until(lambda: client.llen(CEILING_DONE_KEY) >= args.orders, 600, interval=0.05,
                       message="ceiling chords")
        return args.orders / (time.monotonic() - began)
    finally:
        for worker in workers:
            worker.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--orders", type=int, default=400)
    parser.add_argument("--latency-seconds", type=float, default=20)
    parser.add_argument("--database", choices=("postgresql", "sqlite"), default="postgresql")
    parser.add_argument("--critical", type=int, default=2, help="critical worker concurrency")
    parser.add_argument("--default", type=int, default=2, help="default/bulk worker concurrency")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="bench-orders-") as tmp:
        workdir = Path(tmp)
        env = {k: v for k, v in os.environ.items() if not k.startswith(("RETAIL_SYNC", "DATABASE_URL", "REDIS_URL"))}
        env.update({"WOO_WEBHOOK_SECRET": SECRET, "LOG_LEVEL": "INFO", "RETAIL_SYNC_HOME": str(workdir)})
        stack = Stack(workdir, database_url=prepare_database(args.database, workdir), env=env,
                      critical_concurrency=args.critical, default_concurrency=args.default)
        try:
            stack.start(catalog({sku: {"WH-EAST": 10**6, "WH-WEST": 10**6} for sku in SKUS}))
            stack.sync_catalog()
            engine = engine_run(stack, args)
            print(f"engine: {engine}", flush=True)
            ceiling = ceiling_run(stack, args)
        finally:
            stack.stop()

    print(f"\norders end to end ({args.orders} orders, {args.database}, critical -c {args.critical}, "
          f"default -c {args.default}, sandboxes at zero latency, 2-core loopback)\n")
    print("| measure | retail-sync | Celery ceiling (chord of empty tasks) | ratio |")
    print("|---|---|---|---|")
    print(f"| orders/s, webhook accepted → released | {engine['throughput']:.1f} | {ceiling:.1f} | "
          f"{engine['throughput'] / ceiling:.2f}× |")
    print(f"| checkout rate offered by the shoppers | {engine['offered']:.1f}/s | | |")
    print(f"| order-to-release p50 at {engine['rate']:.1f} orders/s ({engine['n_latency']} orders) | "
          f"{engine['p50']:.0f} ms | | |")
    print(f"| order-to-release p99 at {engine['rate']:.1f} orders/s | {engine['p99']:.0f} ms | | |")


if __name__ == "__main__":
    main()
