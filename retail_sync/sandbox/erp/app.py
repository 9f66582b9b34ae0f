"""The ERP sandbox: Odoo 17's external API over `/jsonrpc`, `/xmlrpc/2/<service>` and the legacy `/xmlrpc/<service>`.

Behind the fault gate it plays a cloud Odoo behind a reverse proxy: gate-made errors (429 with `Retry-After`,
injected 5xx) come as the proxy's small HTML pages, never as JSON-RPC, which is what a client meets in the wild.
"""
from __future__ import annotations

import datetime as dt
from http import HTTPStatus
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from retail_sync.sandbox.common.base import Sandbox, SandboxOptions
from retail_sync.sandbox.common.catalog import Catalog
from retail_sync.sandbox.common.faults import CallInfo
from retail_sync.sandbox.erp import rpc, seed
from retail_sync.sandbox.erp.models import REGISTRY, SCHEMA, TABLES, account, partner
from retail_sync.sandbox.erp.orm.env import Env

SEQUENCE_SCHEMA = "CREATE TABLE IF NOT EXISTS erp_sequence (code TEXT PRIMARY KEY, number INTEGER NOT NULL);"
# nginx's wording for the statuses a proxy answers with itself
PROXY_PHRASES = {503: "Service Temporarily Unavailable", 504: "Gateway Time-out"}
COUNTED = ("res.partner", "product.product", "stock.warehouse", "stock.quant", "sale.order", "sale.order.line",
           "account.move", "account.move.line", "account.tax")


class ErpSandbox(Sandbox):
    name = "erp"
    schema = SCHEMA + SEQUENCE_SCHEMA
    tables = TABLES

    def __init__(self, options: SandboxOptions, db_path: Path | str | None = None) -> None:
        super().__init__(options, db_path)
        self.registry = REGISTRY
        conn = self.db.conn
        conn.execute("PRAGMA case_sensitive_like = ON")  # `like` is case-sensitive in PostgreSQL, `ilike` is not
        conn.execute("PRAGMA cache_size = -65536")  # 64 MB: seeding 100,000 SKUs updates indexes all over
        conn.create_function("py_lower", 1, lambda v: None if v is None else str(v).lower(), deterministic=True)
        self._install()

    def _install(self) -> None:
        """The data a fresh Odoo database has: the two sales taxes and the countries (idempotent)."""
        now = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S")
        with self.db.tx() as conn:
            account.install(conn, now)
            partner.install(conn, now)

    def env(self, uid: int = rpc.ADMIN_UID) -> Env:
        return Env(self.db.conn, self.registry, uid)

    # routes ----------------------------------------------------------------------------------------------
    def add_routes(self, app: FastAPI) -> None:
        @app.post("/jsonrpc")
        async def jsonrpc(request: Request) -> Response:
            status, body, content_type = rpc.handle_jsonrpc(self, request.headers.get("content-type", ""),
                                                            await request.body())
            return Response(body, status_code=status, media_type=content_type)

        @app.post("/xmlrpc/2/{service}")
        async def xmlrpc_2(service: str, request: Request) -> Response:
            return Response(rpc.handle_xmlrpc(self, service, await request.body(), legacy=False),
                            media_type="text/xml")

        @app.post("/xmlrpc/{service}")
        async def xmlrpc_1(service: str, request: Request) -> Response:
            return Response(rpc.handle_xmlrpc(self, service, await request.body(), legacy=True),
                            media_type="text/xml")

        @app.exception_handler(StarletteHTTPException)
        async def not_found(_: Request, exc: StarletteHTTPException) -> Response:
            phrase = HTTPStatus(exc.status_code).phrase
            body = (f"<!doctype html>\n<html lang=en>\n<title>{exc.status_code} {phrase}</title>\n<h1>{phrase}</h1>\n"
                    f"<p>{exc.detail}</p>\n")
            return Response(body, status_code=exc.status_code, media_type="text/html")

    # Sandbox hooks ---------------------------------------------------------------------------------------
    def reset(self) -> None:
        super().reset()
        self._install()

    def state(self) -> dict[str, Any]:
        return {name: self.db.scalar(f"SELECT COUNT(*) FROM {REGISTRY[name]._table}") for name in COUNTED}

    def is_empty(self) -> bool:
        return self.db.scalar("SELECT COUNT(*) FROM product_product") == 0

    def seed(self, catalog: Catalog) -> dict[str, Any]:
        with self.db.tx():
            return seed.seed(self.env(), catalog)

    def describe(self, method: str, path: str, body: bytes) -> CallInfo:
        return rpc.describe(path, body)

    def fault_response(self, status: int, message: str) -> tuple[bytes, str]:
        """What a reverse proxy in front of Odoo (nginx) answers on its own: a tiny HTML page."""
        title = f"{status} {PROXY_PHRASES.get(status) or HTTPStatus(status).phrase}"
        body = (f"<html>\r\n<head><title>{title}</title></head>\r\n<body>\r\n<center><h1>{title}</h1></center>\r\n"
                f"<hr><center>nginx</center>\r\n<!-- {message} -->\r\n</body>\r\n</html>\r\n")
        return body.encode(), "text/html"
