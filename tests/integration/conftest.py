from __future__ import annotations

import subprocess

import pytest
from sqlalchemy import func, select

from retail_sync.persistence.tables import timeline, webhook_inbox
from tests.support.processes import free_port, start_web, wait_until


@pytest.fixture
def web(process_env, home, engine):
    proc, base = start_web(process_env, home)
    yield base
    proc.stop()


def inbox_rows(engine):
    with engine.connect() as conn:
        return conn.execute(select(webhook_inbox).order_by(webhook_inbox.c.id)).all()


def timeline_count(engine, subject: str) -> int:
    with engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(timeline).where(timeline.c.subject == subject)).scalar()


class TcpProxy:
    """socat in front of PostgreSQL, so a test can take the database away and give it back."""

    def __init__(self, target_port: int = 5432):
        self.port = free_port()
        self.target_port = target_port
        self.proc = None

    def start(self):
        self.proc = subprocess.Popen(["socat", f"TCP-LISTEN:{self.port},fork,reuseaddr,bind=127.0.0.1",
                                      f"TCP:127.0.0.1:{self.target_port}"])
        import socket

        def listening():
            with socket.socket() as s:
                return s.connect_ex(("127.0.0.1", self.port)) == 0

        wait_until(listening, 10, message="socat proxy")
        return self

    def stop(self):
        if self.proc:
            self.proc.kill()  # kills the listener; forked children serving live connections die with their peers
            self.proc.wait(5)
            subprocess.run(["pkill", "-f", f"TCP-LISTEN:{self.port},"], check=False)
            self.proc = None
