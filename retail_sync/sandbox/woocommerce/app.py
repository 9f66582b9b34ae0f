"""The WooCommerce sandbox: assembles the REST resources, authentication, webhooks and the shopper checkout.

Each resource module owns its tables (`SCHEMA`, `TABLES`) and registers its routes with `register(app, store)`;
they talk to each other only through `WooSandbox`: `fire(topic, id)` when something changed (the webhook module
logs the hook and queues deliveries) and `render(resource, id)` for the REST representation (webhook payloads are
built from it at send time).
"""
from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from retail_sync.sandbox.common.base import Sandbox, SandboxOptions
from retail_sync.sandbox.common.catalog import Catalog
from retail_sync.sandbox.common.faults import CallInfo
from retail_sync.sandbox.woocommerce import auth, catalog, checkout, coupons, orders, webhooks
from retail_sync.sandbox.woocommerce.clock import SiteClock
from retail_sync.sandbox.woocommerce.rest import REST_PREFIX, WooError, error_response, no_route, wc_response

MODULES = (auth, catalog, orders, webhooks, checkout)
STATUS_SQL = {"order": f"SELECT status FROM orders WHERE id = ? AND type = '{orders.ORDER}'",
              "product": "SELECT status FROM products WHERE id = ?",
              "coupon": "SELECT status FROM coupons WHERE id = ?"}


class WooSandbox(Sandbox):
    name = "woocommerce"
    schema = "".join(module.SCHEMA for module in MODULES)
    tables = tuple(table for module in MODULES for table in module.TABLES)

    def __init__(self, options: SandboxOptions, db_path: Any = None) -> None:
        super().__init__(options, db_path)
        self.clock = SiteClock(options.timezone)
        self.webhooks = webhooks.Dispatcher(self)
        for module in MODULES:
            module.install(self)

    # the store's own URL, as it believes it is (OAuth signs it; webhooks send it as X-WC-Webhook-Source)
    @property
    def home_url(self) -> str:
        scheme = "https" if self.options.tls else "http"
        return f"{scheme}://{self.options.host}:{self.options.woo_port}/"

    def fire(self, topic: str, resource_id: int) -> None:
        """A WooCommerce hook fired for `resource_id` (e.g. `order.updated`): log it and queue deliveries for it."""
        self.webhooks.enqueue(topic, resource_id)

    def render(self, resource: str, resource_id: int) -> dict[str, Any] | None:
        """The REST (`context=view`) representation of a resource, or None when it no longer exists."""
        if resource == "order":
            return orders.render_order(self, resource_id)
        if resource == "product":
            return catalog.render_product_any(self, resource_id)
        if resource == "customer":
            return catalog.render_customer(self, resource_id)
        if resource == "coupon":
            return coupons.render_coupon(self, resource_id)
        return None

    def status(self, resource: str, resource_id: int) -> str | None:
        """The `status` that `render()` would show for an order, product or coupon, read from its row alone
        (webhook queueing needs nothing else); None when it no longer exists."""
        return self.db.scalar(STATUS_SQL[resource], (resource_id,)) if resource in STATUS_SQL else None

    # Sandbox hooks -----------------------------------------------------------------------------------------
    def add_routes(self, app: FastAPI) -> None:
        app.add_middleware(auth.AuthGate, store=self)

        @app.exception_handler(WooError)
        async def woo_error(_: Request, error: WooError):  # type: ignore[no-untyped-def]
            return error_response(error)

        @app.exception_handler(StarletteHTTPException)
        async def http_error(request: Request, exc: StarletteHTTPException):  # type: ignore[no-untyped-def]
            if exc.status_code in (404, 405):
                return error_response(no_route())
            return wc_response({"code": "http_error", "message": str(exc.detail), "data": {"status": exc.status_code}},
                               exc.status_code)

        @app.exception_handler(RequestValidationError)
        async def invalid(_: Request, exc: RequestValidationError):  # type: ignore[no-untyped-def]
            names = sorted({str(err["loc"][-1]) for err in exc.errors() if err.get("loc")})
            params = {name: f"{name} is invalid." for name in names}
            return wc_response({"code": "rest_invalid_param",
                                "message": f"Invalid parameter(s): {', '.join(names)}",
                                "data": {"status": 400, "params": params}}, 400)

        for module in MODULES:
            module.register(app, self)

    def reset(self) -> None:
        super().reset()
        for module in MODULES:
            module.install(self)

    def state(self) -> dict[str, Any]:
        counts: dict[str, Any] = {}
        for module in MODULES:
            counts.update(module.counts(self))
        return counts

    def is_empty(self) -> bool:
        return self.db.scalar("SELECT COUNT(*) FROM products") == 0

    def seed(self, catalog_: Catalog) -> dict[str, Any]:
        return catalog.seed(self, catalog_)

    def describe(self, method: str, path: str, body: bytes) -> CallInfo:
        if path.startswith(REST_PREFIX + "/"):
            parts = path[len(REST_PREFIX) + 1:].split("/")
            return CallInfo(model=parts[0] or None, method=method.lower())
        return CallInfo(model=path.strip("/").split("/")[-1] or None, method=method.lower())

    def fault_response(self, status: int, message: str) -> tuple[bytes, str]:
        code = "woocommerce_rest_too_many_requests" if status == 429 else "sandbox_injected_error"
        return wc_response({"code": code, "message": message, "data": {"status": status}}, status).body, \
            "application/json; charset=UTF-8"

    async def start(self) -> None:
        await self.webhooks.start()

    async def stop(self) -> None:
        await self.webhooks.stop()
