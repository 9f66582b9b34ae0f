from __future__ import annotations

import pytest

from retail_sync.persistence.db import create_db_engine
from tests.conftest import child_env, empty_tables
from tests.support.stack import Stack


@pytest.fixture(scope="module")
def stack_factory(database_url, tmp_path_factory):
    """Builds the whole system for a test module (starting one takes seconds) on emptied tables; stops it after."""
    started: list[Stack] = []

    def build() -> Stack:
        engine = create_db_engine(database_url)
        empty_tables(engine)
        engine.dispose()
        workdir = tmp_path_factory.mktemp("stack")
        stack = Stack(workdir, database_url=database_url, env=child_env(RETAIL_SYNC_HOME=str(workdir)))
        started.append(stack)
        return stack

    yield build
    for stack in started:
        stack.stop()
