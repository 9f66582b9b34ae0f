"""The `retail-sync` command where no server is needed: argument checks, `status` from SQL (and the shared guard
in Redis), and failures reported as one line with a non-zero exit."""
from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest
from click.testing import CliRunner

from config.settings import get_settings
from retail_sync.entrypoints.cli import main
from retail_sync.persistence.tables import orders
from tests.conftest import REDIS_TEST_URL
from tests.support.processes import free_port


@pytest.fixture
def env(settings, engine):
    get_settings.cache_clear()
    yield {"DATABASE_URL": settings.database_url, "RETAIL_SYNC_HOME": str(settings.retail_sync_home),
           "REDIS_URL": REDIS_TEST_URL}
    get_settings.cache_clear()


def run(args: list[str], env: dict):
    return CliRunner().invoke(main, args, env=env)


@pytest.mark.parametrize("url, reason", [
    ("ftp://sync.example.com", "http:// or https://"),
    ("sync.example.com", "http:// or https://"),
    ("https://", "no host"),
    ("https://sync.example.com/?token=1", "query string"),
    ("https://sync.example.com/#top", "fragment"),
    ("https://user:pw@sync.example.com", "credentials"),
    ("https://sync.example.com:99999", "invalid port"),
])
def test_setup_woocommerce_refuses_a_public_url_the_store_cannot_use(env, url, reason):
    result = run(["setup", "woocommerce", "--public-url", url], env)
    assert result.exit_code == 2  # a usage error, reported before anything is contacted
    assert "--public-url" in result.output and reason in result.output


def test_setup_woocommerce_needs_the_public_url(env):
    result = run(["setup", "woocommerce"], env)
    assert result.exit_code == 2 and "--public-url" in result.output


def _order(ref: str, status: str, deadline: datetime | None, now: datetime) -> dict:
    return {"ref": ref, "channel": "POS", "number": ref.split("-")[1], "status": status, "body": "{}",
            "body_hash": "0" * 64, "received_at": now, "updated_at": now, "saga_deadline": deadline}


def test_status_counts_orders_by_status_and_sagas_past_their_deadline(env, engine):
    now = datetime.now(timezone.utc)
    past, future = now - timedelta(minutes=5), now + timedelta(minutes=5)
    with engine.begin() as conn:
        conn.execute(orders.insert(), [
            _order("POS-1", "received", past, now),  # stuck: a lost START_ORDER
            _order("POS-2", "validated", past, now),  # stuck: a lost chord
            _order("POS-3", "validated", future, now),  # still within its step's time
            _order("POS-4", "completed", past, now),  # settled: a stale deadline is no work
            _order("POS-5", "on_hold", None, now),  # waits for a person
        ])
    result = run(["status"], env)
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["orders_by_status"] == {"received": 1, "validated": 2, "completed": 1, "on_hold": 1}
    assert report["sagas_past_deadline"] == 2
    assert report["open_exceptions"] == 0 and "inbox" in report
    assert set(report["systems"]) == {"woocommerce", "erp", "wms"}  # the shared guard's view per system


def test_status_still_answers_while_redis_is_away(env):
    result = run(["status"], {**env, "REDIS_URL": f"redis://127.0.0.1:{free_port()}/0"})
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["orders_by_status"] == {} and "ConnectionError" in report["systems"]["error"]


def test_status_fails_with_one_line_when_the_database_is_away(env, tmp_path):
    result = run(["status"], {**env, "DATABASE_URL": f"sqlite:///{tmp_path / 'missing-dir' / 'db.sqlite'}"})
    assert result.exit_code == 1
    assert result.output.startswith("Error: reading the state store failed: OperationalError")
    assert "Traceback" not in result.output


def test_reconcile_catalog_fails_with_one_line_when_the_systems_cannot_be_reached(env):
    # Redis (the shared rate limit every outbound call waits on) is away, so no system can be called
    result = run(["reconcile", "catalog"], {**env, "REDIS_URL": f"redis://127.0.0.1:{free_port()}/0"})
    assert result.exit_code == 1
    assert result.output.startswith("Error: the catalog sync failed: ConnectionError")
    assert len(result.output.strip().splitlines()) == 1


def test_invalid_settings_are_named(env):
    result = run(["status"], {**env, "BREAKER_FAIL_MAX": "zero"})
    assert result.exit_code == 1 and "invalid settings" in result.output and "breaker_fail_max" in result.output
