"""RedisGuard against real Redis: two guard instances stand for two worker processes sharing one Redis.

Normal tests use database 11 of the machine's Redis under a key prefix of their own; the flush and restart cases
use a private redis-server. Waits are conditions polled with a timeout, never timing assertions.
"""
from __future__ import annotations

import uuid
from typing import Callable, Iterator

import pytest
import redis
import requests
from redis.backoff import NoBackoff
from redis.retry import Retry

from config.settings import Settings
from retail_sync.connectors.http import call
from retail_sync.connectors.resilience import KEY_PREFIX, RedisGuard, SystemLimits
from retail_sync.connectors.wms.client import WmsClient
from retail_sync.errors import PermanentError, TransientError, is_transient
from tests.conftest import REDIS_TEST_URL
from tests.support.processes import RedisServer, free_port, wait_until
from tests.support.scripted_http import Reply, ScriptedServer

FAST = SystemLimits(rate_per_s=1000, call_timeout_s=5)
GuardFactory = Callable[..., RedisGuard]


@pytest.fixture
def shared_redis() -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(REDIS_TEST_URL)
    yield client
    client.close()


@pytest.fixture
def make_guard(shared_redis) -> Iterator[GuardFactory]:
    """Guards on db 11 under a prefix of this test's own (other tests and helpers share the database)."""
    prefix = f"{KEY_PREFIX}:test-{uuid.uuid4().hex}"

    def make(client: redis.Redis = shared_redis, *, limits: SystemLimits = FAST, fail_max: int = 3,
             reset_s: float = 30, max_sleep_s: float = 1.0, **options) -> RedisGuard:
        return RedisGuard(client, {"erp": limits, "wms": limits}, fail_max=fail_max, reset_s=reset_s,
                          max_sleep_s=max_sleep_s, prefix=prefix, **options)

    yield make
    for key in shared_redis.scan_iter(match=f"{prefix}:*"):
        shared_redis.delete(key)


@pytest.fixture
def private_redis(tmp_path) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path).start()
    yield server
    server.stop()


def refusal(guard: RedisGuard, system: str = "erp") -> TransientError | None:
    """The TransientError before_call raises, or None when the call may go."""
    try:
        guard.before_call(system)
    except TransientError as exc:
        return exc
    return None


# ---- the Retry-After pause -----------------------------------------------------------------------------------------
def test_a_retry_after_seen_by_one_worker_pauses_every_worker(make_guard):
    worker_a, worker_b = make_guard(), make_guard()
    assert refusal(worker_b) is None
    worker_a.record("erp", ok=True, retry_after=30)
    refused = refusal(worker_b)
    assert refused is not None and "Retry-After" in str(refused)
    assert 25 < refused.retry_after <= 30
    assert refusal(worker_b, "wms") is None  # another system is not paused
    assert 25 < worker_b.describe()["erp"]["paused_for_s"] <= 30


def test_a_shorter_retry_after_never_shortens_a_longer_pause(make_guard):
    worker_a, worker_b = make_guard(), make_guard()
    worker_a.record("erp", ok=True, retry_after=30)
    worker_b.record("erp", ok=False, retry_after=1)
    assert refusal(worker_a).retry_after > 25


def test_calls_go_again_once_the_pause_has_passed(make_guard):
    guard = make_guard()
    guard.record("erp", ok=True, retry_after=0.2)
    assert refusal(guard) is not None
    wait_until(lambda: refusal(guard) is None, timeout=5, interval=0.05, message="the pause to pass")


def test_a_429_through_call_pauses_the_system_and_no_request_goes_out_before_it_passed(make_guard):
    worker_a, worker_b = make_guard(), make_guard()
    with ScriptedServer() as server:
        server.queue(Reply.json(429, {"error": "quota"}, **{"Retry-After": "20"}))
        with pytest.raises(TransientError) as caught:
            call("erp", "POST /jsonrpc", lambda: _get(server.url), worker_a)
        assert caught.value.retry_after == 20
        with pytest.raises(TransientError, match="Retry-After"):
            call("erp", "POST /jsonrpc", lambda: _get(server.url), worker_b)
        assert len(server.requests) == 1  # the second worker's call never left


# ---- the circuit breaker -------------------------------------------------------------------------------------------
def test_consecutive_transient_failures_open_the_breaker_for_every_worker(make_guard):
    worker_a, worker_b = make_guard(fail_max=3, reset_s=30), make_guard(fail_max=3, reset_s=30)
    worker_a.record("erp", ok=False)
    worker_b.record("erp", ok=False)
    worker_a.record("erp", ok=True)  # a success in between: the failures were not consecutive
    assert worker_b.describe()["erp"]["consecutive_failures"] == 0
    for guard in (worker_a, worker_b, worker_a):
        assert refusal(guard) is None
        guard.record("erp", ok=False)
    refused = refusal(worker_b)
    assert refused is not None and "circuit open" in str(refused)
    assert 25 < refused.retry_after <= 30
    state = worker_a.describe()["erp"]
    assert (state["breaker"], state["consecutive_failures"]) == ("open", 3)
    assert 25 < state["open_for_s"] <= 30
    assert refusal(worker_a, "wms") is None  # one breaker per system


def test_a_success_resets_counted_failures_and_a_clean_one_costs_no_second_round_trip(make_guard):
    guard = make_guard(fail_max=3, reset_s=30)
    guard.record("erp", ok=False)
    guard.before_call("erp")  # admitted with a failure on the count: the success must reset it
    guard.record("erp", ok=True)
    assert guard.describe()["erp"]["consecutive_failures"] == 0
    guard.before_call("erp")  # admitted clean
    commands = []
    original = guard._redis.execute_command
    guard._redis.execute_command = lambda *args, **kwargs: commands.append(args[0]) or original(*args, **kwargs)
    guard.record("erp", ok=True)
    assert commands == []


def test_after_the_reset_time_exactly_one_trial_call_goes_and_its_success_closes(make_guard):
    worker_a, worker_b = make_guard(fail_max=1, reset_s=0.2), make_guard(fail_max=1, reset_s=0.2)
    worker_a.record("erp", ok=False)
    assert "circuit open" in str(refusal(worker_a))
    wait_until(lambda: refusal(worker_a) is None, timeout=5, interval=0.05, message="the trial call")
    refused = refusal(worker_b)
    assert refused is not None and "trial call is in flight" in str(refused)
    assert worker_b.describe()["erp"]["breaker"] == "half-open"
    worker_a.record("erp", ok=True)
    assert worker_b.describe()["erp"]["breaker"] == "closed"
    assert refusal(worker_b) is None


def test_a_failed_trial_call_opens_the_breaker_again(make_guard):
    guard = make_guard(fail_max=1, reset_s=0.2)
    guard.record("erp", ok=False)
    wait_until(lambda: refusal(guard) is None, timeout=5, interval=0.05, message="the trial call")
    guard.record("erp", ok=False)
    refused = refusal(guard)
    assert refused is not None and "circuit open" in str(refused)
    assert guard.describe()["erp"]["breaker"] == "open"


def test_a_trial_whose_worker_died_lets_another_worker_try_after_the_call_timeout(make_guard):
    short_calls = SystemLimits(rate_per_s=1000, call_timeout_s=0.2)
    worker_a = make_guard(limits=short_calls, fail_max=1, reset_s=0.1)
    worker_b = make_guard(limits=short_calls, fail_max=1, reset_s=0.1)
    worker_a.record("erp", ok=False)
    wait_until(lambda: refusal(worker_a) is None, timeout=5, interval=0.05, message="the trial call")
    # worker A never reports back (killed mid-call): once its lease is over, B gets the next trial
    wait_until(lambda: refusal(worker_b) is None, timeout=5, interval=0.05, message="a second trial")


def test_4xx_answers_do_not_count_but_5xx_do_and_an_open_breaker_sends_nothing(make_guard):
    guard = make_guard(fail_max=3, reset_s=30)
    with ScriptedServer() as server:
        client = WmsClient(server.url, "test-key", timeout=(1, 5), guard=guard)
        for _ in range(5):
            server.queue(Reply.json(400, {"code": "rest_invalid_param", "message": "bad"}))
            with pytest.raises(PermanentError):
                client.get("/x", "GET x")
        assert (guard.describe()["wms"]["breaker"], guard.describe()["wms"]["consecutive_failures"]) == ("closed", 0)
        for _ in range(3):
            server.queue(Reply.json(502, {"error": "bad gateway"}))
            with pytest.raises(TransientError, match="HTTP 502"):
                call("wms", "GET x", lambda: _get(server.url), guard)
        sent = len(server.requests)
        with pytest.raises(TransientError, match="circuit open"):
            call("wms", "GET x", lambda: _get(server.url), guard)
        assert len(server.requests) == sent == 8


# ---- the shared rate limit ---------------------------------------------------------------------------------------
def test_a_short_wait_reserves_the_next_token_and_sleeps_a_long_one_becomes_a_retry(make_guard):
    slept: list[float] = []
    guard = make_guard(limits=SystemLimits(rate_per_s=1, call_timeout_s=5), max_sleep_s=1.0, sleep=slept.append)
    assert refusal(guard) is None  # the empty bucket's first token is a second away: reserved, slept for
    assert len(slept) == 1 and 0.5 < slept[0] <= 1.0
    refused = refusal(guard)  # the next one is two seconds away
    assert refused is not None and "rate limit" in str(refused)
    assert 1.0 < refused.retry_after <= 2.0
    assert len(slept) == 1


def test_two_workers_share_one_bucket(make_guard):
    slow = SystemLimits(rate_per_s=2, call_timeout_s=5)
    worker_a = make_guard(limits=slow, max_sleep_s=1.0, sleep=lambda seconds: None)
    worker_b = make_guard(limits=slow, max_sleep_s=0)
    assert refusal(worker_a) is None  # takes the token that comes in half a second
    refused = refusal(worker_b)
    assert refused is not None and "rate limit" in str(refused)
    assert 0.5 < refused.retry_after <= 1.0  # behind the token worker A reserved


def test_a_bucket_lost_in_a_flush_counts_as_empty_not_full(make_guard, private_redis):
    client = redis.Redis.from_url(private_redis.url)
    limits = SystemLimits(rate_per_s=20, call_timeout_s=5)  # a burst of 20
    guard = make_guard(client, limits=limits, max_sleep_s=0)
    assert "rate limit" in str(refusal(guard))  # a bucket never seen is empty too
    wait_until(lambda: guard.describe()["erp"]["tokens"] >= 20, timeout=5, interval=0.05, message="a full bucket")
    client.flushall()
    assert _calls_let_through(guard, limit=20) < 10  # full would let 20 through at once
    client.close()


def test_a_restarted_redis_loses_scripts_and_buckets_and_the_guard_carries_on_closed(make_guard, private_redis):
    client = redis.Redis.from_url(private_redis.url)
    guard = make_guard(client, limits=SystemLimits(rate_per_s=20, call_timeout_s=5), max_sleep_s=0)
    refusal(guard)  # the bucket exists from its first use on
    wait_until(lambda: guard.describe()["erp"]["tokens"] >= 20, timeout=5, interval=0.05, message="a full bucket")
    private_redis.stop()
    private_redis.start()  # same port, nothing kept: no scripts loaded, no bucket
    assert _calls_let_through(guard, limit=20) < 10
    client.close()


# ---- Redis itself away ---------------------------------------------------------------------------------------------
def test_redis_unreachable_is_raised_before_the_call_never_skipped(make_guard):
    nowhere = redis.Redis(port=free_port(), socket_connect_timeout=0.5, socket_timeout=0.5, retry=Retry(NoBackoff(), 0))
    guard = make_guard(nowhere)
    with pytest.raises(redis.ConnectionError) as caught:
        guard.before_call("erp")
    assert is_transient(caught.value)
    guard.record("erp", ok=False)  # the remote already answered: only logged, the task is not failed for it


def test_from_settings_builds_without_touching_redis_and_knows_the_three_systems():
    settings = Settings(_env_file=None, redis_url=f"redis://127.0.0.1:{free_port()}/0", erp_rate_limit_per_s=7)
    guard = RedisGuard.from_settings(settings)
    with pytest.raises(redis.ConnectionError):
        guard.describe()
    with pytest.raises(ValueError, match="no call limits configured"):
        guard.before_call("mailer")


def test_describe_reports_every_system():
    guard = RedisGuard.from_settings(Settings(_env_file=None, redis_url=REDIS_TEST_URL))
    report = guard.describe()
    assert set(report) == {"woocommerce", "erp", "wms"}
    assert set(report["erp"]) == {"breaker", "consecutive_failures", "open_for_s", "paused_for_s", "rate_per_s",
                                  "tokens"}


def _calls_let_through(guard: RedisGuard, limit: int) -> int:
    for count in range(limit):
        if refusal(guard) is not None:
            return count
    return limit


def _get(url: str) -> requests.Response:
    return requests.get(url, timeout=5)
