"""Redis and the database going away during intake; a worker killed mid-task; two beats at once."""
from __future__ import annotations

import time

import pytest
import redis
import requests
from sqlalchemy import select, text

from retail_sync.persistence.tables import leases, task_redeliveries
from tests.conftest import BACKEND
from tests.integration.conftest import TcpProxy, inbox_rows, timeline_count
from tests.support.processes import RedisServer, start_beat, start_web, start_worker, wait_until
from tests.support.woo import headers, order, php_json


def post(base, order_id):
    body = php_json(order(order_id))
    return requests.post(base + "/webhooks/woocommerce", data=body, headers=headers(body), timeout=15)


@pytest.fixture
def private_redis(home):
    server = RedisServer(home).start()
    yield server
    server.stop()


def test_redis_down_during_intake_still_200_and_processed_once_after_the_sweep(
    process_env, home, engine, private_redis
):
    env = {**process_env, "REDIS_URL": private_redis.url, "INBOX_SWEEP_INTERVAL_S": "2"}
    web, base = start_web(env, home)
    worker = start_worker(env, home)
    beat = start_beat(env, home)
    try:
        # when Redis stops while deliveries keep coming
        private_redis.stop()
        assert post(base, 201).status_code == 200
        assert post(base, 202).status_code == 200
        assert {row.status for row in inbox_rows(engine)} == {"pending"}
        ready = requests.get(base + "/readyz", timeout=10)
        assert ready.status_code == 503 and "redis" in ready.json()["detail"]
        # then, once Redis is back, the sweeper re-enqueues and each delivery is processed exactly once
        private_redis.start()
        wait_until(lambda: {row.status for row in inbox_rows(engine)} == {"done"}, 90, message="rows done")
        time.sleep(3)  # let further sweeps and any duplicate messages run
        assert timeline_count(engine, "order:WC-201") == 1
        assert timeline_count(engine, "order:WC-202") == 1
    finally:
        for proc in (beat, worker, web):
            proc.stop()


@pytest.mark.skipif(BACKEND != "postgresql", reason="takes PostgreSQL away through a TCP proxy")
def test_database_unreachable_gets_503_then_recovers(process_env, home, engine, database_url):
    proxy = TcpProxy().start()
    proxied_url = database_url.replace("127.0.0.1:5432", f"127.0.0.1:{proxy.port}")
    web, base = start_web({**process_env, "DATABASE_URL": proxied_url}, home)
    try:
        assert post(base, 301).status_code == 200
        proxy.stop()
        response = post(base, 302)
        assert response.status_code == 503
        assert response.headers["content-type"] == "application/problem+json"
        assert response.headers["retry-after"] == "5"
        assert requests.get(base + "/readyz", timeout=15).status_code == 503
        proxy.start()
        assert post(base, 303).status_code == 200
        assert sorted(row.resource_id for row in inbox_rows(engine)) == ["301", "303"]
    finally:
        web.stop()
        proxy.stop()


@pytest.mark.skipif(BACKEND != "postgresql", reason="holds a row lock from another connection")
def test_worker_killed_mid_task_completes_exactly_once_after_restart(process_env, home, engine):
    env = {**process_env, "VISIBILITY_TIMEOUT_S": "10", "TASK_TIME_LIMIT_S": "8"}
    redis.Redis.from_url(env["REDIS_URL"]).delete("unacked", "unacked_index")
    web, base = start_web(env, home)
    try:
        assert post(base, 401).status_code == 200
    finally:
        web.stop()
    [row] = inbox_rows(engine)
    # given the worker is stuck mid-task (its claim waits on a row lock we hold)
    blocker = engine.connect()
    transaction = blocker.begin()
    blocker.execute(text("SELECT id FROM webhook_inbox WHERE id = :id FOR UPDATE"), {"id": row.id})
    worker = start_worker(env, home, name="doomed")
    wait_until(lambda: "received" in worker.output(), 30, message="task received")
    time.sleep(1)
    # when it is killed -9 and the lock goes away
    worker.kill9()
    transaction.rollback()
    blocker.close()
    assert inbox_rows(engine)[0].status == "pending"
    time.sleep(11)  # past the visibility timeout: Redis gives the unacked message back
    # then a restarted worker completes it, once
    worker = start_worker(env, home, name="phoenix")
    try:
        wait_until(lambda: inbox_rows(engine)[0].status == "done", 60, message="row done")
        assert timeline_count(engine, "order:WC-401") == 1
        with engine.connect() as conn:
            assert conn.execute(select(task_redeliveries.c.count)).scalar() == 1  # it came back as a redelivery
    finally:
        worker.stop()


def test_a_second_beat_is_harmless(process_env, home, engine, private_redis):
    env = {**process_env, "REDIS_URL": private_redis.url, "INBOX_SWEEP_INTERVAL_S": "1"}
    beats = [start_beat(env, home), start_beat(env, home)]
    try:
        time.sleep(8)
        client = redis.Redis.from_url(private_redis.url)
        sweeps = client.llen("critical")
        with engine.connect() as conn:
            holders = conn.execute(select(leases.c.holder)).scalars().all()
    finally:
        for beat in beats:
            beat.stop()
    assert len(holders) == 1
    # one scheduler sends about one sweep a second; two would send about two
    assert 3 <= sweeps <= 10, f"{sweeps} sweep messages in ~8 s"
    outputs = [beat.output() for beat in beats]
    assert sum("lease taken" in out for out in outputs) == 1, outputs
