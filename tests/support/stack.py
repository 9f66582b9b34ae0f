"""The whole system as real processes, for end-to-end tests and the order benchmark: the three sandboxes
(`retail-sync sandbox`), the web app, a `critical` worker, a `default,bulk` worker and beat, on a private
redis-server (so a test may flush or stop it) and the given database.

    stack = Stack(workdir, database_url=url, env=base_env).start(catalog)
    order = stack.checkout([("MUG-001", 2)])       # a shopper places a paid order in the store
    stack.wait_for_status(f"WC-{order['number']}", {"released"})
    stack.ledger("erp")                            # every call and create the ERP saw
    stack.stop()
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

import requests
from sqlalchemy import Engine, select

from retail_sync.persistence.db import create_db_engine
from retail_sync.persistence.tables import orders
from tests.support.processes import BIN, Process, RedisServer, free_port, start_worker, wait_until

SHOPPER = {
    "first_name": "Ada", "last_name": "Lovelace", "email": "ada@example.com", "phone": "+49 30 1234567",
    "address_1": "Hauptstr. 1", "city": "Berlin", "postcode": "10115", "country": "DE",
}
SHIPPING = [{"method_id": "flat_rate", "method_title": "Flat rate", "total": "4.90"}]

# Fast safety nets, so a test that loses a message sees the sweepers resume within seconds.
FAST_SWEEPS = {
    "INBOX_SWEEP_INTERVAL_S": "2",
    "SAGA_SWEEP_INTERVAL_S": "2",
    "SAGA_STEP_TIMEOUT_S": "6",
    "ORDER_BACKFILL_INTERVAL_S": "3600",
    "CATALOG_SYNC_INTERVAL_S": "3600",
}
# The sandboxes run at zero latency; the engine's own limits must not be what a test or benchmark measures.
OPEN_LIMITS = {"WOO_RATE_LIMIT_PER_S": "2000", "ERP_RATE_LIMIT_PER_S": "2000", "WMS_RATE_LIMIT_PER_S": "2000"}


def catalog(skus: dict[str, dict[str, int]], price: str = "10.00") -> dict:
    """A shared catalog: {sku: {site: on_hand}} over the sites WH-EAST and WH-WEST."""
    return {
        "sites": ["WH-EAST", "WH-WEST"],
        "products": [{"sku": sku, "name": f"Item {sku}", "price": price, "stock": stock} for sku, stock in skus.items()],
    }


@dataclass
class Stack:
    workdir: Path
    database_url: str
    env: dict
    critical_concurrency: int = 2
    default_concurrency: int = 2
    with_beat: bool = True
    extra_env: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.redis = RedisServer(self.workdir)
        self.web_port, self.woo_port, self.erp_port, self.wms_port = (free_port() for _ in range(4))
        self.processes: dict[str, Process] = {}
        self.engine: Engine | None = None

    # --- URLs ------------------------------------------------------------------------------------------------
    @property
    def web(self) -> str:
        return f"http://127.0.0.1:{self.web_port}"

    @property
    def woo(self) -> str:
        return f"http://127.0.0.1:{self.woo_port}"

    @property
    def erp(self) -> str:
        return f"http://127.0.0.1:{self.erp_port}"

    @property
    def wms(self) -> str:
        return f"http://127.0.0.1:{self.wms_port}"

    def url(self, system: str) -> str:
        return {"woocommerce": self.woo, "erp": self.erp, "wms": self.wms}[system]

    # --- life cycle ------------------------------------------------------------------------------------------
    def process_env(self) -> dict:
        return {
            **self.env, **FAST_SWEEPS, **OPEN_LIMITS,
            "DATABASE_URL": self.database_url, "REDIS_URL": self.redis.url, "ENGINE_URL": self.web,
            "WOO_URL": self.woo, "ERP_URL": self.erp, "WMS_URL": self.wms, "SITE_PRIORITY": "WH-EAST,WH-WEST",
            **self.extra_env,
        }

    def start(self, seed: dict | None = None) -> "Stack":
        self.redis.start()
        env = self.process_env()
        self.engine = create_db_engine(self.database_url)
        self.processes["sandbox"] = Process(
            [str(BIN / "retail-sync"), "sandbox", "--woo-port", str(self.woo_port), "--erp-port", str(self.erp_port),
             "--wms-port", str(self.wms_port), "--engine-url", self.web, "--data-dir", str(self.workdir / "sandbox")],
            env, self.workdir / "sandbox.log",
        )
        self.processes["web"] = Process(
            [str(BIN / "uvicorn"), "retail_sync.entrypoints.web:app", "--port", str(self.web_port),
             "--no-access-log"], env, self.workdir / "web.log",
        )
        for system in ("woocommerce", "erp", "wms"):
            wait_until(lambda s=system: self._answers(self.url(s) + "/_sandbox/state"), 60, message=f"{system} sandbox")
        wait_until(lambda: self._answers(self.web + "/healthz"), 60, message="web")
        if seed is not None:
            self.seed(seed)
        self.cli("setup", "woocommerce", "--public-url", self.web)
        self.start_worker("critical", "critical", self.critical_concurrency)
        self.start_worker("default", "default,bulk", self.default_concurrency)
        if self.with_beat:
            self.processes["beat"] = Process([str(BIN / "celery"), "-A", "config.celery_app", "beat"], env,
                                             self.workdir / "beat.log")
        return self

    def start_worker(self, name: str, queues: str, concurrency: int) -> Process:
        proc = start_worker(self.process_env(), self.workdir, queues, name, concurrency=concurrency)
        self.processes[name] = proc
        return proc

    def stop(self) -> None:
        for name in ("beat", "critical", "default", "web", "sandbox"):
            proc = self.processes.pop(name, None)
            if proc:
                proc.stop()
        for proc in self.processes.values():
            proc.stop()
        self.processes.clear()
        self.redis.stop()
        if self.engine is not None:
            self.engine.dispose()

    def logs(self) -> str:
        return "\n".join(f"--- {p.name}\n{p.read_text(errors='replace')[-4000:]}" for p in self.workdir.glob("*.log"))

    # --- helpers ---------------------------------------------------------------------------------------------
    def cli(self, *args: str) -> str:
        import subprocess

        result = subprocess.run([str(BIN / "retail-sync"), *args], env=self.process_env(), capture_output=True,
                                text=True, timeout=120)
        assert result.returncode == 0, f"retail-sync {' '.join(args)}: {result.stdout}\n{result.stderr}"
        return result.stdout

    def seed(self, data: dict, systems: Iterable[str] = ("woocommerce", "erp", "wms")) -> None:
        for system in systems:
            response = requests.post(self.url(system) + "/_sandbox/seed", json=data, timeout=60)
            assert response.status_code == 200, response.text

    def sync_catalog(self) -> str:
        return self.cli("reconcile", "catalog")

    def control(self, system: str, path: str, body: dict | None = None) -> dict:
        response = requests.post(self.url(system) + path, json=body if body is not None else {}, timeout=30)
        assert response.status_code < 300, f"{system} {path}: {response.status_code} {response.text}"
        return response.json()

    def faults(self, system: str, **settings) -> None:
        self.control(system, "/_sandbox/faults", settings)

    def checkout(self, lines: list[tuple[str, int]], **extra) -> dict:
        body = {"lines": [{"sku": sku, "quantity": q} for sku, q in lines], "billing": SHOPPER,
                "payment_method": "bacs", "shipping_lines": SHIPPING, **extra}
        response = requests.post(self.woo + "/_sandbox/checkout", json=body, timeout=30)
        assert response.status_code == 201, response.text
        return response.json()

    def ledger(self, system: str) -> dict:
        return requests.get(self.url(system) + "/_sandbox/ledger", timeout=60).json()

    def creates(self, system: str, kind: str) -> dict[str, list[dict]]:
        """Create attempts per business key of one kind (`sale.order`, `fulfillment_order`, ...)."""
        prefix = kind + ":"
        return {key[len(prefix):]: attempts for key, attempts in self.ledger(system)["creates"].items()
                if key.startswith(prefix)}

    def order_rows(self, refs: Iterable[str] | None = None) -> dict[str, dict]:
        statement = select(orders)
        if refs is not None:
            statement = statement.where(orders.c.ref.in_(list(refs)))
        with self.engine.connect() as conn:
            return {row.ref: dict(row._mapping) for row in conn.execute(statement)}

    def wait_for_status(self, refs: Iterable[str], statuses: set[str], timeout: float = 60) -> dict[str, dict]:
        refs = list(refs)

        def reached():
            rows = self.order_rows(refs)
            return rows if len(rows) == len(refs) and all(r["status"] in statuses for r in rows.values()) else None

        try:
            return wait_until(reached, timeout, interval=0.25, message=f"{len(refs)} orders in {sorted(statuses)}")
        except AssertionError:
            rows = self.order_rows(refs)
            stuck = {ref: rows.get(ref, {}).get("status") for ref in refs if rows.get(ref, {}).get("status") not in statuses}
            raise AssertionError(f"orders not in {sorted(statuses)}: {dict(list(stuck.items())[:10])}\n{self.logs()}")

    @staticmethod
    def _answers(url: str) -> bool:
        try:
            return requests.get(url, timeout=1).status_code < 500
        except requests.RequestException:
            return False


def store_ref(order: dict) -> str:
    return f"WC-{order['number']}"
