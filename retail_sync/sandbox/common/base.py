"""The shape every sandbox shares, and the app factory that wraps it with control routes and the fault gate."""
from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, AsyncIterator

from fastapi import FastAPI, Query

from retail_sync.sandbox.common import ledger as ledger_schema
from retail_sync.sandbox.common.catalog import Catalog
from retail_sync.sandbox.common.db import SandboxDB
from retail_sync.sandbox.common.faults import CallInfo, FaultGate, FaultSettings, json_fault
from retail_sync.sandbox.common.ledger import Ledger


@dataclass(frozen=True)
class SandboxOptions:
    """Everything `retail-sync sandbox` was started with. Credentials are the engine's own settings."""

    data_dir: Path
    host: str = "127.0.0.1"
    woo_port: int = 8081
    erp_port: int = 8069
    wms_port: int = 8083
    engine_url: str = "http://127.0.0.1:8000"
    tls: bool = False
    assume_https: bool = False
    wp_safe_urls: bool = False
    timezone: str = "Europe/Berlin"
    woo_consumer_key: str = "ck_dev"
    woo_consumer_secret: str = "cs_dev"
    erp_db: str = "retail"
    erp_user: str = "admin"
    erp_password: str = "admin"
    wms_api_key: str = "dev-wms-key"
    wms_webhook_secret: str = "whsec_ZGV2LXdtcy13ZWJob29rLXNlY3JldC0xMjM0"
    extra: dict[str, Any] = field(default_factory=dict)


class Sandbox:
    """One simulated system. Subclasses set `name` and `schema`, add routes and implement the hooks."""

    name = "sandbox"
    schema = ""
    tables: tuple[str, ...] = ()

    def __init__(self, options: SandboxOptions, db_path: Path | str | None = None) -> None:
        self.options = options
        path = db_path if db_path is not None else options.data_dir / f"{self.name}.sqlite3"
        self.db = SandboxDB(path, self.schema + ledger_schema.SCHEMA)
        self.ledger = Ledger(self.db)
        self.gate: FaultGate | None = None

    # hooks -----------------------------------------------------------------------------------------------
    def add_routes(self, app: FastAPI) -> None:
        raise NotImplementedError

    def reset(self) -> None:
        """Forget everything (rows, ledger, faults); subclasses re-create their fixed data after `super()`."""
        self.ledger.discard()
        self.db.clear((*self.tables, *ledger_schema.TABLES))

    def state(self) -> dict[str, Any]:
        raise NotImplementedError

    def seed(self, catalog: Catalog) -> dict[str, Any]:
        """Load the catalog (upsert by SKU, stock set to the catalog's); returns counts of what was written."""
        raise NotImplementedError

    def is_empty(self) -> bool:
        """True when nothing was seeded yet (`--seed` only fills empty sandboxes, so a restart keeps state)."""
        raise NotImplementedError

    def describe(self, method: str, path: str, body: bytes) -> CallInfo:
        return CallInfo()

    def fault_response(self, status: int, message: str) -> tuple[bytes, str]:
        return json_fault(status, message)

    async def start(self) -> None:
        """Start background work (deliveries, automation). Called once the server runs."""

    async def stop(self) -> None:
        """Stop background work."""

    # app -------------------------------------------------------------------------------------------------
    def asgi(self) -> FaultGate:
        @contextlib.asynccontextmanager
        async def lifespan(_: FastAPI) -> AsyncIterator[None]:
            await self.start()
            try:
                yield
            finally:
                await self.stop()
                self.ledger.flush()

        app = FastAPI(title=f"retail-sync {self.name} sandbox", lifespan=lifespan, openapi_url=None,
                      docs_url=None, redoc_url=None)
        _add_control_routes(app, self)
        self.add_routes(app)
        self.gate = FaultGate(app, self)
        return self.gate


def _add_control_routes(app: FastAPI, sandbox: Sandbox) -> None:
    @app.post("/_sandbox/reset")
    async def reset() -> dict[str, Any]:
        sandbox.reset()
        if sandbox.gate is not None:
            sandbox.gate.configure(FaultSettings())
        return {"reset": sandbox.name, "state": sandbox.state()}

    @app.get("/_sandbox/state")
    async def state() -> dict[str, Any]:
        return sandbox.state()

    @app.get("/_sandbox/faults")
    async def get_faults() -> dict[str, Any]:
        return (sandbox.gate.settings if sandbox.gate else FaultSettings()).model_dump()

    @app.post("/_sandbox/faults")
    async def set_faults(settings: FaultSettings) -> dict[str, Any]:
        if sandbox.gate is not None:
            sandbox.gate.configure(settings)
        return settings.model_dump()

    @app.get("/_sandbox/ledger")
    async def ledger(since: int = Query(0, ge=0), limit: int = Query(10_000, ge=1, le=100_000)) -> dict[str, Any]:
        return sandbox.ledger.read(since=since, limit=limit)

    @app.post("/_sandbox/seed")
    async def seed(catalog: Catalog) -> dict[str, Any]:
        return {"seeded": sandbox.name, **sandbox.seed(catalog)}

