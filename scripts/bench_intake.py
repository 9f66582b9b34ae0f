"""Benchmark: durable webhook intake vs the same server answering after the signature check alone.

    python scripts/bench_intake.py [--database postgresql|sqlite] [--duration 10]

Starts a private redis-server and a uvicorn server (one worker) per variant, loads them with `wrk` (Debian
package) using pre-signed WooCommerce order bodies, one unique order per request, and prints:
  1. requests/s of the server that only reads the body, checks the HMAC and parses the JSON ("verify-only");
  2. requests/s of the real receiver: verify, group-commit into the inbox, answer, relay to Redis in batches;
  3. the ratio (target ≥ 0.5) and the durable receiver's p50/p99 at half the verify-only rate (target p99 ≤ 50 ms).
Everything runs on loopback and stops by itself.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import redis
import requests
from sqlalchemy import create_engine, text

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import wrk_load  # noqa: E402  (scripts/, beside this file)
from retail_sync.connectors.woocommerce.webhooks import sign  # noqa: E402
from retail_sync.persistence.db import normalise_url  # noqa: E402
from retail_sync.persistence.migrate import upgrade  # noqa: E402

SECRET = "bench-secret-&<\"'/"
PG_ADMIN_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
PG_BENCH_DB = "retail_sync_bench"


def wait_http(url: str, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if requests.get(url, timeout=1).status_code < 500:
                return
        except requests.RequestException:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{url} did not come up")


def order_body(order_id: int) -> bytes:
    """A WooCommerce-shaped order, encoded the way PHP json_encode does (\\/ and \\uXXXX escapes, compact)."""
    order = {
        "id": order_id, "parent_id": 0, "number": str(order_id), "status": "processing", "currency": "EUR",
        "date_created_gmt": "2026-11-27T10:00:00", "date_modified_gmt": "2026-11-27T10:00:05",
        "total": "59.70", "total_tax": "9.53", "shipping_total": "4.90", "customer_id": 0,
        "billing": {"first_name": "Zoë", "last_name": "Müller", "address_1": "Hauptstraße 1", "city": "Köln",
                    "postcode": "50667", "country": "DE", "email": "zoe@example.com", "phone": "+49 221 000"},
        "shipping": {"first_name": "Zoë", "last_name": "Müller", "address_1": "Hauptstraße 1", "city": "Köln",
                     "postcode": "50667", "country": "DE"},
        "payment_method": "stripe", "transaction_id": f"pi_{order_id:012d}",
        "line_items": [
            {"id": order_id * 10 + n, "name": f"T-shirt {n}", "product_id": 100 + n, "variation_id": 0,
             "quantity": 1 + n, "sku": f"TS-{n:03d}", "price": 19.9, "subtotal": "19.90", "total": "19.90"}
            for n in range(3)
        ],
        "shipping_lines": [{"id": 1, "method_title": "DHL", "method_id": "flat_rate", "total": "4.90"}],
        "_links": {"self": [{"href": f"https://shop.example.com/wp-json/wc/v3/orders/{order_id}"}]},
    }
    return json.dumps(order, separators=(",", ":")).replace("/", "\\/").encode("ascii")


def write_wrk_script(path: Path, count: int, delay_ms: float | None) -> None:
    def lua_string(raw: bytes) -> str:
        return '"' + "".join(f"\\{b:03d}" if b in (34, 92) or b < 32 else chr(b) for b in raw) + '"'

    lines = ["local bodies = {", *(f"{lua_string(order_body(i))}," for i in range(1, count + 1)), "}",
             "local sigs = {", *(f'"{sign(order_body(i), SECRET.encode())}",' for i in range(1, count + 1)), "}",
             "local i = 0",
             "request = function()",
             "  i = (i % #bodies) + 1",
             '  return wrk.format("POST", "/webhooks/woocommerce", {["Content-Type"]="application/json",'
             ' ["X-WC-Webhook-Topic"]="order.updated", ["X-WC-Webhook-Signature"]=sigs[i]}, bodies[i])',
             "end"]
    if delay_ms is not None:
        lines.append(f"delay = function() return {delay_ms:.3f} end")
    path.write_text("\n".join(lines))


def run_wrk(port: int, script: Path, duration: int, connections: int) -> dict:
    return wrk_load.run_wrk(f"http://127.0.0.1:{port}/webhooks/woocommerce", script, duration, connections)


def run_paced(port: int, script: Path, args, target_rate: float, connections: int = 64) -> dict:
    """wrk has no fixed-rate mode, so each connection waits `delay` between requests; two short calibration
    runs solve rate = connections / (delay + latency) for the delay, then the measured run uses it."""
    delay_ms = connections * 1000 / target_rate
    for _ in range(2):
        write_wrk_script(script, args.orders, delay_ms)
        probe = run_wrk(port, script, 3, connections)
        latency_ms = max(0.0, connections * 1000 / probe["rate"] - delay_ms)
        delay_ms = max(0.0, connections * 1000 / target_rate - latency_ms)
    write_wrk_script(script, args.orders, delay_ms)
    return run_wrk(port, script, args.duration, connections)


def start_server(app_spec: str, env: dict, port: int) -> subprocess.Popen:
    proc = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", app_spec, "--factory", "--port", str(port), "--workers", "1",
         "--no-access-log", "--log-level", "warning", "--app-dir", str(ROOT / "scripts")],
        env=env, cwd=ROOT,
    )
    wait_http(f"http://127.0.0.1:{port}/healthz")
    return proc


def stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(15)
    except subprocess.TimeoutExpired:
        proc.kill()


def prepare_database(kind: str, home: Path) -> str:
    if kind == "sqlite":
        url = f"sqlite:///{home / 'bench.db'}"
    else:
        admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f"DROP DATABASE IF EXISTS {PG_BENCH_DB} WITH (FORCE)"))
            conn.execute(text(f"CREATE DATABASE {PG_BENCH_DB}"))
        admin.dispose()
        url = f"postgresql+psycopg://postgres@127.0.0.1:5432/{PG_BENCH_DB}"
    upgrade(url)
    return url


def clear_inbox(url: str) -> int:
    engine = create_engine(normalise_url(url))
    with engine.begin() as conn:
        stored = conn.execute(text("SELECT count(*) FROM webhook_inbox")).scalar()
        conn.execute(text("DELETE FROM webhook_inbox"))
    engine.dispose()
    return stored


# --- app factories uvicorn imports from this file (--app-dir scripts) -------------------------------------
def durable_app():
    from retail_sync.entrypoints.web import create_app

    return create_app()


def verify_only_app():
    """The same receiver, with an intake that answers at once: no database, no Redis."""
    from retail_sync.bootstrap import bootstrap
    from retail_sync.entrypoints.intake import Accepted
    from retail_sync.entrypoints.web import create_app

    class AnswerAtOnce:
        def start(self):
            pass

        def stop(self):
            pass

        async def accept(self, delivery):
            return Accepted(inbox_id=None, duplicate=False)

    return create_app(bootstrap(), intake=AnswerAtOnce())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database", choices=("postgresql", "sqlite"), default="postgresql")
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--orders", type=int, default=30000, help="distinct pre-signed orders")
    args = parser.parse_args()
    if not shutil.which("wrk"):
        sys.exit("wrk is not installed (apt-get install wrk)")

    home = Path(tempfile.mkdtemp(prefix="bench-intake-"))
    redis_port, port = wrk_load.free_port(), wrk_load.free_port()
    redis_proc = subprocess.Popen(["redis-server", "--port", str(redis_port), "--save", "", "--appendonly", "no",
                                   "--dir", str(home)], stdout=subprocess.DEVNULL)
    try:
        url = prepare_database(args.database, home)
        env = {**os.environ, "RETAIL_SYNC_HOME": str(home), "DATABASE_URL": url, "LOG_LEVEL": "WARNING",
               "REDIS_URL": f"redis://127.0.0.1:{redis_port}/0", "WOO_WEBHOOK_SECRET": SECRET}
        full_script, paced_script = home / "full.lua", home / "paced.lua"
        write_wrk_script(full_script, args.orders, None)

        server = start_server("bench_intake:verify_only_app", env, port)
        try:
            run_wrk(port, full_script, 2, args.connections)  # warm-up
            verify = run_wrk(port, full_script, args.duration, args.connections)
        finally:
            stop(server)

        server = start_server("bench_intake:durable_app", env, port)
        try:
            run_wrk(port, full_script, 2, args.connections)  # warm-up
            clear_inbox(url)
            durable = run_wrk(port, full_script, args.duration, args.connections)
            stored = clear_inbox(url)
            half_rate = verify["rate"] / 2
            paced = run_paced(port, paced_script, args, half_rate)
            stored_paced = clear_inbox(url)
        finally:
            stop(server)
        queued = redis.Redis(port=redis_port).llen("critical")
    finally:
        redis_proc.terminate()
        redis_proc.wait(10)
        shutil.rmtree(home, ignore_errors=True)

    ratio = durable["rate"] / verify["rate"]
    print(f"database: {args.database}; wrk -t1 -c{args.connections} -d{args.duration}s; one uvicorn worker; 2 cores")
    print(f"verify-only receiver        : {verify['rate']:8.0f} req/s  p50 {verify['p50_ms']:6.2f} ms  p99 {verify['p99_ms']:6.2f} ms")
    print(f"durable receiver (inbox+relay): {durable['rate']:6.0f} req/s  p50 {durable['p50_ms']:6.2f} ms  p99 {durable['p99_ms']:6.2f} ms"
          f"  non-2xx {durable['non2xx']}  rows stored {stored}")
    print(f"ratio durable / verify-only : {ratio:.2f}x   (target >= 0.5x; naive insert-then-publish ~0.07x)")
    print(f"durable at half the verify-only rate ({half_rate:.0f} req/s asked, {paced['rate']:.0f} achieved):"
          f" p50 {paced['p50_ms']:.2f} ms  p99 {paced['p99_ms']:.2f} ms  (target p99 <= 50 ms)  rows stored {stored_paced}")
    print(f"task messages published to Redis: {queued} (one per batch of inbox ids)")


if __name__ == "__main__":
    main()
