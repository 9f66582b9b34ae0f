from __future__ import annotations

import os

import pytest

from retail_sync.persistence.db import create_db_engine
from retail_sync.persistence.tables import metadata
from tests.support.stack import Stack
from tests.support.woo import SECRET


def base_env() -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RETAIL_SYNC", "DATABASE_URL", "REDIS_URL"))}
    env.update({"WOO_WEBHOOK_SECRET": SECRET, "LOG_LEVEL": "INFO", "PYTHONUNBUFFERED": "1"})
    return env


def empty_database(url: str) -> None:
    engine = create_db_engine(url)
    with engine.begin() as conn:
        for table in reversed(metadata.sorted_tables):
            conn.execute(table.delete())
    engine.dispose()


@pytest.fixture(scope="module")
def stack_factory(database_url, tmp_path_factory):
    """Builds one whole system per test module (starting one takes seconds); stops it after the module."""
    started: list[Stack] = []

    def build(**options) -> Stack:
        empty_database(database_url)
        workdir = tmp_path_factory.mktemp("stack")
        env = {**base_env(), "RETAIL_SYNC_HOME": str(workdir)}
        stack = Stack(workdir, database_url=database_url, env=env, **options)
        started.append(stack)
        return stack

    yield build
    for stack in started:
        stack.stop()
