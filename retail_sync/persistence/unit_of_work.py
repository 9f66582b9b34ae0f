"""A unit of work: one transaction, rolled back unless committed, with callbacks that run after the commit.

Publishing to Redis happens in after-commit callbacks, never inside an open transaction: a worker must never
receive an id whose row it cannot see yet.
"""
from __future__ import annotations

import logging
from typing import Callable

from sqlalchemy import Connection, Engine

logger = logging.getLogger(__name__)


class UnitOfWork:
    def __init__(self, engine: Engine):
        self._engine = engine
        self._after_commit: list[Callable[[], None]] = []
        self.conn: Connection

    def __enter__(self) -> "UnitOfWork":
        self.conn = self._engine.connect()
        self._transaction = self.conn.begin()
        return self

    def after_commit(self, callback: Callable[[], None]) -> None:
        self._after_commit.append(callback)

    def commit(self) -> None:
        self._transaction.commit()
        callbacks, self._after_commit = self._after_commit, []
        for callback in callbacks:
            try:
                callback()
            except Exception:  # the commit stands; sweepers re-drive what a failed publish left behind
                logger.warning("after-commit callback failed", exc_info=True)

    def __exit__(self, *exc_info) -> None:
        try:
            if self._transaction.is_active:
                self._transaction.rollback()
        finally:
            self._after_commit.clear()
            self.conn.close()
