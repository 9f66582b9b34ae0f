"""The web process: webhook receivers, the governed API (`/api/v1`, OpenAPI at /docs), health probes (and, in
later areas, the dashboard).

`uvicorn retail_sync.entrypoints.web:app` serves it. `create_app()` builds one with injected services for tests
and benchmarks.
"""
from __future__ import annotations

import asyncio
from contextlib import asynccontextmanager

import redis
from fastapi import FastAPI
from sqlalchemy import text
from starlette.responses import JSONResponse

from retail_sync import __version__
from retail_sync.bootstrap import Services, bootstrap
from retail_sync.entrypoints.api import install_problem_handlers
from retail_sync.entrypoints.api import router as api
from retail_sync.entrypoints.api_auth import QueryCredentialGuard
from retail_sync.entrypoints.intake import GroupCommitInbox
from retail_sync.entrypoints.problems import problem
from retail_sync.entrypoints.receivers import router as receivers
from retail_sync.observability.logging import configure_logging


def create_app(services: Services | None = None, intake=None) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI):
        app.state.services = services or bootstrap(fail_fast_publish=True)
        configure_logging(app.state.services.settings.log_level)
        app.state.intake = intake or GroupCommitInbox(app.state.services)
        app.state.intake.start()
        try:
            yield
        finally:
            app.state.intake.stop()
            app.state.services.engine.dispose()

    app = FastAPI(title="retail-sync", version=__version__, lifespan=lifespan)
    app.include_router(receivers)
    app.include_router(api)
    install_problem_handlers(app)
    app.add_middleware(QueryCredentialGuard)

    @app.get("/healthz", summary="The process answers")
    async def healthz():
        return {"status": "ok"}

    @app.get("/readyz", summary="Database and Redis reachable")
    async def readyz():
        checks = await asyncio.gather(
            asyncio.to_thread(_check_database, app.state.services),
            asyncio.to_thread(_check_redis, app.state.services),
        )
        failing = [name for name, ok in zip(("database", "redis"), checks) if not ok]
        if failing:
            return problem(503, "Not Ready", f"unreachable: {', '.join(failing)}")
        return JSONResponse({"status": "ready", "database": "ok", "redis": "ok"})

    return app


def _check_database(services: Services) -> bool:
    try:
        with services.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        return True
    except Exception:
        return False


def _check_redis(services: Services) -> bool:
    try:
        client = redis.Redis.from_url(services.settings.redis_url, socket_connect_timeout=2, socket_timeout=2)
        try:
            return bool(client.ping())
        finally:
            client.close()
    except Exception:
        return False


app = create_app()
