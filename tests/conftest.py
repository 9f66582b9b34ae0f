"""Shared fixtures. The database backend is chosen by RETAIL_SYNC_TEST_DB (sqlite, the default, or postgresql);
the test runner (scripts/test.sh) runs the suites against both. Normal tests use Redis database 11 on the
machine's Redis and delete only their own keys; tests that stop or flush Redis start a private redis-server."""
from __future__ import annotations

import os
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
import redis
from sqlalchemy import create_engine, text

from config.settings import Settings
from retail_sync.bootstrap import bootstrap
from retail_sync.connectors.http import NoGuard
from retail_sync.persistence.db import create_db_engine
from retail_sync.persistence.migrate import upgrade
from retail_sync.persistence.tables import metadata
from tests.flows.fakes import FakeErp, FakeStore, FakeWms
from tests.support.woo import SECRET

BACKEND = os.environ.get("RETAIL_SYNC_TEST_DB", "sqlite")
PG_ADMIN = os.environ.get("RETAIL_SYNC_TEST_PG_ADMIN", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
PG_TEST_DB = os.environ.get("RETAIL_SYNC_TEST_PG_DB", "retail_sync_test")  # a name of its own per parallel run
REDIS_TEST_URL = os.environ.get("RETAIL_SYNC_TEST_REDIS", "redis://127.0.0.1:6379/11")


def pytest_report_header(config):
    return f"retail-sync test database: {BACKEND}; redis: {REDIS_TEST_URL}"


@pytest.fixture(scope="session")
def database_url(tmp_path_factory) -> str:
    if BACKEND == "postgresql":
        admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f"DROP DATABASE IF EXISTS {PG_TEST_DB} WITH (FORCE)"))
            conn.execute(text(f"CREATE DATABASE {PG_TEST_DB}"))
        admin.dispose()
        url = PG_ADMIN.rsplit("/", 1)[0] + f"/{PG_TEST_DB}"
    else:
        url = f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.db'}"
    upgrade(url)
    return url


def empty_tables(engine) -> None:
    with engine.begin() as conn:
        for table in reversed(metadata.sorted_tables):
            conn.execute(table.delete())


def child_env(**settings: str) -> dict:
    """This process's environment without our settings, plus the given ones: for child processes (web, workers,
    beat, the sandboxes), which must see only what the test means them to."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RETAIL_SYNC", "DATABASE_URL", "REDIS_URL"))}
    env.update({"WOO_WEBHOOK_SECRET": SECRET, "LOG_LEVEL": "INFO", "PYTHONUNBUFFERED": "1", **settings})
    return env


@pytest.fixture
def engine(database_url):
    engine = create_db_engine(database_url)
    empty_tables(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def home(tmp_path) -> Path:
    return tmp_path


@pytest.fixture
def settings(database_url, home) -> Settings:
    return Settings(
        _env_file=None,
        retail_sync_home=home,
        database_url=database_url,
        redis_url=REDIS_TEST_URL,
        woo_webhook_secret=SECRET,
        inbox_sweep_interval_s=60,
    )


class FakeDispatcher:
    def __init__(self):
        self.sent: list[tuple[str, list]] = []

    def send(self, task_name, args=()):
        self.sent.append((task_name, list(args)))

    def chord(self, header, body):
        self.sent.append(("chord", [(name, list(args)) for name, args in header], (body[0], list(body[1]))))


class Clock:
    def __init__(self):
        self.now = datetime(2026, 11, 27, 12, 0, tzinfo=timezone.utc)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@pytest.fixture
def dispatcher() -> FakeDispatcher:
    return FakeDispatcher()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def store() -> FakeStore:
    return FakeStore()


@pytest.fixture
def erp() -> FakeErp:
    return FakeErp()


@pytest.fixture
def wms() -> FakeWms:
    return FakeWms()


@pytest.fixture
def services(settings, engine, dispatcher, clock, store, erp, wms):
    # In-memory fakes of the ports and no shared call guard: flow tests touch neither the network nor Redis.
    return bootstrap(settings, engine=engine, dispatcher=dispatcher, clock=clock, store=store, erp=erp, wms=wms,
                     guard=NoGuard())


@pytest.fixture
def process_env(settings, home) -> dict:
    """Environment for real child processes (web, worker, beat) sharing the test's database and Redis."""
    redis.Redis.from_url(REDIS_TEST_URL).delete("critical", "default", "bulk", "unacked", "unacked_index")
    return child_env(RETAIL_SYNC_HOME=str(home), DATABASE_URL=settings.database_url, REDIS_URL=REDIS_TEST_URL)
