"""RedisGuard: the call guard every worker process shares, with its state in Redis.

Per system ("woocommerce", "erp", "wms"), in this order, in one Lua script (one round trip, atomic, on Redis's
own clock via `TIME`, so workers on different machines agree):

1. **Pause**: a Retry-After any worker saw pauses the system for everyone (a key with a PX expiry); no call goes
   out before it has passed.
2. **Circuit breaker**: `breaker_fail_max` consecutive transient failures open it; while open, calls are refused
   for `breaker_reset_s`; then exactly one worker gets a trial call (a lease as long as that system's call timeout,
   so a trial whose worker died does not block forever); its success closes the breaker, its failure re-opens it.
3. **Rate limit**: a token bucket refilled at the system's rate (burst: one second's worth). A bucket key that is
   missing — after a Redis flush or restart — counts as EMPTY: losing the state must never let a burst through.
   A short wait (≤ `max_sleep_s`) reserves the next token and sleeps; a longer one raises
   TransientError(retry_after) so the task is retried later instead of holding a worker.

Why by hand: `limits` treats a lost window as unused (a full allowance right after a flush), and pybreaker's
`CircuitRedisStorage` swallows Redis errors (falling back to "closed"), changes state in several separate
commands that concurrent workers interleave, and lets every caller through while half-open instead of one trial.

Redis being unreachable is raised from `before_call` (it is transient in `errors.is_transient`): no call skips
the guard. `record` only logs it: the remote has already answered, and failing the task then would repeat a write.
"""
from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from typing import Callable

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from config.settings import Settings
from retail_sync.connectors.http import timeouts
from retail_sync.errors import TransientError

logger = logging.getLogger(__name__)

KEY_PREFIX = "retail_sync:guard"
SHORT_WAIT_S = 1.0  # a wait up to this long is slept through; longer ones become a task retry
REDIS_TIMEOUT_S = 2.0  # a Redis that does not answer within this is down, for the guard's purposes

# Verdicts of the admission script (numbers, so they read the same with or without decode_responses).
GO, PAUSED, OPEN, TRIAL_IN_FLIGHT, LIMITED = range(5)

_ADMIT = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local rate, capacity = tonumber(ARGV[1]), tonumber(ARGV[2])
local reset_ms, max_wait_ms, lease_ms = tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5])

local paused = redis.call('PTTL', KEYS[2])
if paused > 0 then return {1, paused} end

local state = redis.call('HGET', KEYS[3], 'state') or 'closed'
local trial = false
if state == 'open' then
  local left = tonumber(redis.call('HGET', KEYS[3], 'opened_at_ms') or '0') + reset_ms - now
  if left > 0 then return {2, left} end
  trial = true
elseif state == 'half-open' then
  local left = tonumber(redis.call('HGET', KEYS[3], 'trial_until_ms') or '0') - now
  if left > 0 then return {3, left} end
  trial = true
end

-- a missing bucket is an empty one, stamped now, so tokens accrue from here on
local tokens, stamp = 0, now
local bucket = redis.call('HMGET', KEYS[1], 'tokens', 'stamp_ms')
if bucket[1] then tokens, stamp = tonumber(bucket[1]), tonumber(bucket[2]) end
tokens = math.min(capacity, tokens + math.max(0, now - stamp) * rate / 1000)
local wait = 0
if tokens < 1 then wait = math.ceil((1 - tokens) * 1000 / rate) end
if wait > max_wait_ms then
  redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'stamp_ms', now)
  return {4, wait}
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens - 1), 'stamp_ms', now)
if trial then
  redis.call('HSET', KEYS[3], 'state', 'half-open', 'trial_until_ms', now + lease_ms)
  return {0, wait, 1}
end
-- 0 when the breaker is closed with no failures counted: a success then has nothing to reset
return {0, wait, tonumber(redis.call('HGET', KEYS[3], 'failures') or '0')}
"""

_RECORD = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local ok, fail_max, pause_ms = ARGV[1] == '1', tonumber(ARGV[2]), tonumber(ARGV[3])

if pause_ms > 0 and redis.call('PTTL', KEYS[2]) < pause_ms then
  redis.call('SET', KEYS[2], '1', 'PX', pause_ms)
end

local state = redis.call('HGET', KEYS[1], 'state') or 'closed'
if ok then
  if state == 'half-open' then
    redis.call('HSET', KEYS[1], 'state', 'closed', 'failures', 0, 'trial_until_ms', 0)
  elseif state == 'closed' then
    redis.call('HSET', KEYS[1], 'failures', 0)
  end
  return
end
local failures = redis.call('HINCRBY', KEYS[1], 'failures', 1)
if state == 'half-open' or (state == 'closed' and failures >= fail_max) then
  redis.call('HSET', KEYS[1], 'state', 'open', 'opened_at_ms', now, 'trial_until_ms', 0)
end
"""


@dataclass(frozen=True)
class SystemLimits:
    rate_per_s: float
    call_timeout_s: float  # connect + read: how long a half-open trial call may take before another may try

    @property
    def burst(self) -> float:
        return max(1.0, self.rate_per_s)


class RedisGuard:
    def __init__(self, client: redis.Redis, limits: dict[str, SystemLimits], *, fail_max: int, reset_s: float,
                 max_sleep_s: float = SHORT_WAIT_S, prefix: str = KEY_PREFIX,
                 sleep: Callable[[float], None] = time.sleep):
        self._redis = client
        self._limits = dict(limits)
        self._fail_max = fail_max
        self._reset_s = reset_s
        self._max_sleep_s = max_sleep_s
        self._prefix = prefix
        self._sleep = sleep
        self._clean_admissions = _Admissions()  # per thread: what this thread's last admission saw
        # Script objects run EVALSHA and reload the script by themselves after a Redis restart or SCRIPT FLUSH.
        self._admit = client.register_script(_ADMIT)
        self._record = client.register_script(_RECORD)

    @classmethod
    def from_settings(cls, settings: Settings) -> "RedisGuard":
        """Builds the client only: nothing touches Redis until the first call."""
        client = redis.Redis.from_url(settings.redis_url, socket_connect_timeout=REDIS_TIMEOUT_S,
                                      socket_timeout=REDIS_TIMEOUT_S, retry=Retry(NoBackoff(), 1))
        rates = {"woocommerce": settings.woo_rate_limit_per_s, "erp": settings.erp_rate_limit_per_s,
                 "wms": settings.wms_rate_limit_per_s}
        limits = {system: SystemLimits(rate, call_timeout_s=sum(timeouts(settings, system)))
                  for system, rate in rates.items()}
        return cls(client, limits, fail_max=settings.breaker_fail_max, reset_s=settings.breaker_reset_s)

    # ---- CallGuard ------------------------------------------------------------------------------------------
    def before_call(self, system: str) -> None:
        limits = self._system(system)
        verdict, millis, *breaker_dirty = self._admit(
            keys=[self._key(system, "bucket"), self._key(system, "pause"), self._key(system, "breaker")],
            args=[repr(limits.rate_per_s), repr(limits.burst), int(self._reset_s * 1000),
                  int(self._max_sleep_s * 1000), int(limits.call_timeout_s * 1000)],
        )
        seconds = int(millis) / 1000
        if verdict == GO:
            # A success after a clean admission has nothing to reset: `record` then skips its round trip (half the
            # guard's cost on the happy path).
            self._clean_admissions.systems[system] = breaker_dirty == [0]
            if seconds:
                self._sleep(seconds)
                self._refuse_if_paused(system)  # a Retry-After may have arrived while this worker slept
            return
        reasons = {
            PAUSED: "paused by the remote's Retry-After",
            OPEN: "circuit open after repeated failures",
            TRIAL_IN_FLIGHT: "circuit half-open, another worker's trial call is in flight",
            LIMITED: "rate limit reached",
        }
        raise TransientError(f"{system}: {reasons[verdict]}; next call in {seconds:.2f} s", retry_after=seconds)

    def record(self, system: str, *, ok: bool, retry_after: float | None = None) -> None:
        self._system(system)
        pause_ms = int(retry_after * 1000) if retry_after and retry_after > 0 else 0
        admitted_clean = self._clean_admissions.systems.pop(system, False)
        if ok and not pause_ms and admitted_clean:
            return
        try:
            self._record(keys=[self._key(system, "breaker"), self._key(system, "pause")],
                         args=["1" if ok else "0", self._fail_max, pause_ms])
        except redis.RedisError as exc:
            logger.warning("call outcome not recorded: Redis unavailable",
                           extra={"system": system, "ok": ok, "error": type(exc).__name__})

    # ---- for `retail-sync status` ---------------------------------------------------------------------------
    def describe(self) -> dict[str, dict]:
        """Per system: breaker state, consecutive failures, seconds until a trial call may go, seconds of pause
        left, the bucket's rate and the tokens it holds now (0 for a bucket lost with Redis)."""
        pipe = self._redis.pipeline(transaction=False)
        pipe.time()
        for system in self._limits:
            pipe.hgetall(self._key(system, "breaker"))
            pipe.pttl(self._key(system, "pause"))
            pipe.hmget(self._key(system, "bucket"), "tokens", "stamp_ms")
        replies = pipe.execute()
        seconds, micros = replies[0]
        now_ms = seconds * 1000 + micros // 1000
        report = {}
        for index, (system, limits) in enumerate(self._limits.items()):
            breaker, pause_ms, (tokens, stamp) = replies[1 + 3 * index: 4 + 3 * index]
            breaker = {_text(k): _text(v) for k, v in breaker.items()}
            state = breaker.get("state", "closed")
            opened_at = int(breaker.get("opened_at_ms", 0))
            available = 0.0
            if tokens is not None:
                available = min(limits.burst, float(tokens) + max(0, now_ms - int(stamp)) * limits.rate_per_s / 1000)
            report[system] = {
                "breaker": state,
                "consecutive_failures": int(breaker.get("failures", 0)),
                "open_for_s": max(0.0, (opened_at + self._reset_s * 1000 - now_ms) / 1000) if state == "open" else 0.0,
                "paused_for_s": max(0, pause_ms) / 1000,
                "rate_per_s": limits.rate_per_s,
                "tokens": round(available, 3),
            }
        return report

    # ---- helpers ----------------------------------------------------------------------------------------------
    def _system(self, system: str) -> SystemLimits:
        try:
            return self._limits[system]
        except KeyError:
            raise ValueError(f"no call limits configured for system {system!r}") from None

    def _key(self, system: str, part: str) -> str:
        # The braces are a Redis Cluster hash tag: one system's keys share a slot, so one script may touch them all.
        return f"{self._prefix}:{{{system}}}:{part}"

    def _refuse_if_paused(self, system: str) -> None:
        left_ms = self._redis.pttl(self._key(system, "pause"))
        if left_ms > 0:
            raise TransientError(f"{system}: paused by the remote's Retry-After; next call in {left_ms / 1000:.2f} s",
                                 retry_after=left_ms / 1000)


class _Admissions(threading.local):
    def __init__(self):
        self.systems: dict[str, bool] = {}


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
