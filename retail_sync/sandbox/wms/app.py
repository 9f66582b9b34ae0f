"""The WMS sandbox: a REST API of our own design (docs/wms-api.md) and Standard Webhooks events to the engine.

Resource modules own their tables (`SCHEMA`, `TABLES`) and register their routes; they meet only through
`WmsSandbox`: `events` (the outbox every change writes its event to) and the shared item master and stock in
`inventory`. `automation` moves orders along by itself when told to.
"""
from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from retail_sync.sandbox.common.base import Sandbox, SandboxOptions
from retail_sync.sandbox.common.catalog import Catalog
from retail_sync.sandbox.common.faults import CallInfo
from retail_sync.sandbox.wms import automation, events, fulfilment, inventory, returns
from retail_sync.sandbox.wms.api import API_PREFIX, BearerAuth, WmsError, error_response, validation_error

MODULES = (inventory, fulfilment, returns, events)
RESOURCES = ("fulfillment-orders", "inventory", "return-authorizations")
FAULT_CODES = {429: "rate_limited", 500: "internal_error", 502: "bad_gateway", 503: "service_unavailable",
               504: "gateway_timeout"}


class WmsSandbox(Sandbox):
    name = "wms"
    schema = "".join(module.SCHEMA for module in MODULES)
    tables = tuple(table for module in MODULES for table in module.TABLES)

    def __init__(self, options: SandboxOptions, db_path: Any = None) -> None:
        super().__init__(options, db_path)
        self.events = events.Outbox(self)
        self.automation = automation.Automation(self)

    def add_routes(self, app: FastAPI) -> None:
        app.add_middleware(BearerAuth, api_key=self.options.wms_api_key)

        @app.exception_handler(WmsError)
        async def wms_error(_: Request, error: WmsError):  # type: ignore[no-untyped-def]
            return error_response(error)

        @app.exception_handler(StarletteHTTPException)
        async def http_error(request: Request, exc: StarletteHTTPException):  # type: ignore[no-untyped-def]
            if exc.status_code == 404:
                error = WmsError(404, "not_found", f"No route {request.method} {request.url.path}")
            elif exc.status_code == 405:
                error = WmsError(405, "method_not_allowed", f"{request.method} is not allowed on {request.url.path}")
            else:
                error = WmsError(exc.status_code, "http_error", str(exc.detail))
            return error_response(error)

        @app.exception_handler(RequestValidationError)
        async def invalid(_: Request, exc: RequestValidationError):  # type: ignore[no-untyped-def]
            return error_response(validation_error(list(exc.errors())))

        for module in (*MODULES, automation):
            module.register(app, self)

    # Sandbox hooks -----------------------------------------------------------------------------------------
    def reset(self) -> None:
        super().reset()
        self.events.reset()
        self.automation.reset()

    def state(self) -> dict[str, Any]:
        return {**inventory.counts(self), **fulfilment.counts(self), **returns.counts(self), **self.events.counts()}

    def is_empty(self) -> bool:
        return (self.db.scalar("SELECT COUNT(*) FROM wms_items") == 0
                and self.db.scalar("SELECT COUNT(*) FROM wms_fulfillment_orders") == 0)

    def seed(self, catalog: Catalog) -> dict[str, Any]:
        return inventory.seed(self, catalog)

    def describe(self, method: str, path: str, body: bytes) -> CallInfo:
        """`model` is the REST resource (`fulfillment-orders`, `inventory`, `return-authorizations`)."""
        if path.startswith(API_PREFIX + "/"):
            resource = path[len(API_PREFIX) + 1:].split("/", 1)[0]
            return CallInfo(model=resource if resource in RESOURCES else None, method=method.upper())
        return CallInfo(method=method.upper())

    def fault_response(self, status: int, message: str) -> tuple[bytes, str]:
        response = error_response(WmsError(status, FAULT_CODES.get(status, "injected_error"), message))
        return bytes(response.body), "application/json"

    async def start(self) -> None:
        await self.events.start()
        await self.automation.start()

    async def stop(self) -> None:
        await self.automation.stop()
        await self.events.stop()
