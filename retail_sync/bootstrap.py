"""The composition root: the only place that builds concrete adapters from Settings.

Tests override a piece by passing it in (`bootstrap(settings, dispatcher=FakeDispatcher())`).
"""
from __future__ import annotations

import functools
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Callable, Sequence

from sqlalchemy import Engine

from config.settings import Settings, get_settings
from retail_sync.connectors.http import CallGuard
from retail_sync.connectors.ports import ErpPort, StorePort, TaskDispatcher, WmsPort
from retail_sync.persistence.db import create_db_engine
from retail_sync.persistence.unit_of_work import UnitOfWork


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


class CeleryDispatcher:
    """Publishes by task name through the Celery app, so routing (task name → queue) stays in celeryconfig."""

    def __init__(self, *, fail_fast: bool = False):
        # The web process must not stall a request on a Redis outage: one quick try, the sweeper does the rest.
        self._retry_policy = {"max_retries": 1, "interval_start": 0, "interval_step": 0.1} if fail_fast else None

    def send(self, task_name: str, args: Sequence[object] = ()) -> None:
        from config.celery_app import app

        options = {"retry_policy": self._retry_policy} if self._retry_policy else {}
        # ignore_result: send_task cannot see the task's own setting, and would otherwise subscribe to results.
        app.send_task(task_name, args=list(args), ignore_result=True, **options)

    def chord(self, header: Sequence[tuple[str, Sequence[object]]], body: tuple[str, Sequence[object]]) -> None:
        from celery import chord

        from config.celery_app import app

        # Immutable signatures: the body takes only its own args (the saga state is in SQL, not in results).
        members = [app.signature(name, args=list(args), immutable=True) for name, args in header]
        chord(members)(app.signature(body[0], args=list(body[1]), immutable=True))


@dataclass
class Services:
    settings: Settings
    engine: Engine
    dispatcher: TaskDispatcher
    store: StorePort
    erp: ErpPort
    wms: WmsPort
    guard: CallGuard
    clock: Callable[[], datetime] = field(default=utc_now)

    def uow(self) -> UnitOfWork:
        return UnitOfWork(self.engine)


def bootstrap(
    settings: Settings | None = None,
    *,
    engine: Engine | None = None,
    dispatcher: TaskDispatcher | None = None,
    clock: Callable[[], datetime] | None = None,
    fail_fast_publish: bool = False,
    store: StorePort | None = None,
    erp: ErpPort | None = None,
    wms: WmsPort | None = None,
    guard: CallGuard | None = None,
) -> Services:
    # The concrete adapters are imported here only, so nothing else depends on a client library (and importing
    # this module for `Services` loads none). Building one does not touch the network (the ERP authenticates
    # on its first call).
    from retail_sync.connectors.erp.adapter import build_erp
    from retail_sync.connectors.resilience import RedisGuard
    from retail_sync.connectors.wms.adapter import build_wms
    from retail_sync.connectors.woocommerce.adapter import build_store

    settings = settings or get_settings()
    guard = guard or RedisGuard.from_settings(settings)
    return Services(
        settings=settings,
        engine=engine or create_db_engine(settings.database_url),
        dispatcher=dispatcher or CeleryDispatcher(fail_fast=fail_fast_publish),
        store=store or build_store(settings, guard),
        erp=erp or build_erp(settings, guard),
        wms=wms or build_wms(settings, guard),
        guard=guard,
        clock=clock or utc_now,
    )


@functools.lru_cache(maxsize=1)
def process_services() -> Services:
    """One Services per worker process, built on first use (after fork, so no connection crosses a fork)."""
    return bootstrap()
