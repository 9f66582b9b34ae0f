"""Fault injection and the call ledger, as one ASGI wrapper around a sandbox's app.

The wrapper sits outside FastAPI so it holds the server's own `send`, and through it the connection: "down" and
"commit-then-drop" must reset the TCP connection without an HTTP answer, which no response object can express.
uvicorn's `send` is a bound method of its request cycle, whose `transport` we abort (`_abort`); a server without
one gets a 503 instead, and the ledger says so.

Order of checks for a call outside `/_sandbox/`: down → (does `match` select it?) → rate limit → latency → hang →
injected error → commit-then-drop → normal. Every call is written to the ledger with its status and fault.
"""
from __future__ import annotations

import asyncio
import fnmatch
import json
import math
import random
import time
from dataclasses import dataclass, field
from typing import Awaitable, Callable, Protocol

from pydantic import BaseModel, ConfigDict, Field

from retail_sync.sandbox.common.ledger import Ledger

CONTROL_PREFIX = "/_sandbox/"
MAX_BODY_BYTES = 64 * 1024 * 1024  # seeds of 100,000 SKUs are a few MB


class FaultMatch(BaseModel):
    model_config = ConfigDict(extra="forbid")
    path: str | None = Field(None, description="path prefix, or a glob when it contains *")
    model: str | None = Field(None, description="ERP model (e.g. sale.order), or the resource a sandbox names")
    method: str | None = Field(None, description="HTTP method (POST) or RPC method (create)")


class FaultSettings(BaseModel):
    """Body of `POST /_sandbox/faults`. Posting `{}` clears every fault."""

    model_config = ConfigDict(extra="forbid")
    latency_ms: float = Field(0, ge=0, le=600_000)
    error_rate: float = Field(0, ge=0, le=1)
    error_status: int = Field(500, ge=400, le=599)
    rate_limit_per_s: float | None = Field(None, gt=0)
    down: bool = False
    commit_then_drop_rate: float = Field(0, ge=0, le=1)
    hang_ms: float = Field(0, ge=0, le=600_000)
    match: FaultMatch | None = None
    seed: int | None = Field(None, description="seed for the random draws, for repeatable runs")


@dataclass(frozen=True)
class CallInfo:
    """What a sandbox says about a call, for `match` and the ledger (e.g. the ERP's model and RPC method)."""

    model: str | None = None
    method: str | None = None

    @property
    def detail(self) -> str | None:
        if self.model and self.method:
            return f"{self.model}.{self.method}"
        return self.model or self.method


class FaultTarget(Protocol):
    ledger: Ledger

    def describe(self, method: str, path: str, body: bytes) -> CallInfo: ...

    def fault_response(self, status: int, message: str) -> tuple[bytes, str]: ...


@dataclass
class _TokenBucket:
    rate: float
    tokens: float = field(init=False)
    stamp: float = field(default_factory=time.monotonic)

    def __post_init__(self) -> None:
        self.tokens = max(1.0, self.rate)

    def take(self) -> float:
        """0 when a token was taken, else the seconds until one is available."""
        now = time.monotonic()
        self.tokens = min(max(1.0, self.rate), self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens >= 1:
            self.tokens -= 1
            return 0.0
        return (1 - self.tokens) / self.rate


class FaultGate:
    def __init__(self, app: Callable[..., Awaitable[None]], target: FaultTarget) -> None:
        self.app = app
        self.target = target
        self.settings = FaultSettings()
        self._bucket: _TokenBucket | None = None
        self._random = random.Random()

    def configure(self, settings: FaultSettings) -> None:
        self.settings = settings
        self._bucket = _TokenBucket(settings.rate_limit_per_s) if settings.rate_limit_per_s else None
        self._random = random.Random(settings.seed)

    async def __call__(self, scope: dict, receive: Callable, send: Callable) -> None:
        if scope["type"] != "http" or scope["path"].startswith(CONTROL_PREFIX):
            await self.app(scope, receive, send)
            return
        started = time.time()
        body = await _read_body(receive)
        if body is None:
            await _plain(send, 413, b'{"code":"request_too_large","message":"body too large"}')
            return
        method, path = scope["method"], scope["path"]
        query = scope.get("query_string", b"").decode("latin-1")
        info = self.target.describe(method, path, body)
        outcome = _Outcome()
        await self._handle(scope, body, send, info, outcome)
        self.target.ledger.record_call(method=method, path=path, query=query, detail=info.detail,
                                       status=outcome.status, fault=outcome.fault, retry_after=outcome.retry_after,
                                       started=started)

    async def _handle(self, scope: dict, body: bytes, send: Callable, info: CallInfo, outcome: "_Outcome") -> None:
        """Answer one call (or drop its connection) as the fault settings say, noting what happened in `outcome`."""
        s = self.settings
        if s.down:
            outcome.fault = "down"
            await _abort(send)
            return
        if not self._selected(scope["method"], scope["path"], info):
            await self._forward(scope, body, send, outcome)
            return
        if self._bucket is not None:
            wait = self._bucket.take()
            if wait:
                outcome.fault, outcome.retry_after = "rate_limited", max(1, math.ceil(wait))
                text, ctype = self.target.fault_response(429, "Too many requests: quota exceeded")
                await _answer(send, 429, text, ctype, [(b"retry-after", str(outcome.retry_after).encode())])
                outcome.status = 429
                return
        if s.latency_ms:
            await asyncio.sleep(s.latency_ms / 1000)
        if s.hang_ms:
            outcome.fault = "hang"
            await asyncio.sleep(s.hang_ms / 1000)
            await _abort(send)
            return
        if s.error_rate and self._random.random() < s.error_rate:
            outcome.fault, outcome.status = "error", s.error_status
            text, ctype = self.target.fault_response(s.error_status, "Injected failure (sandbox fault)")
            await _answer(send, s.error_status, text, ctype)
            return
        if s.commit_then_drop_rate and self._random.random() < s.commit_then_drop_rate:
            outcome.fault = "commit_then_drop"
            swallowed = _Outcome()
            await self._forward(scope, body, _swallow(swallowed), swallowed)
            outcome.status = swallowed.status  # what the client would have seen
            await _abort(send)
            return
        await self._forward(scope, body, send, outcome)

    def _selected(self, method: str, path: str, info: CallInfo) -> bool:
        match = self.settings.match
        if match is None:
            return True
        if match.path is not None:
            pattern = match.path
            if not (fnmatch.fnmatchcase(path, pattern) if "*" in pattern else path.startswith(pattern)):
                return False
        if match.model is not None and match.model != info.model:
            return False
        if match.method is not None and match.method.upper() not in {method.upper(), (info.method or "").upper()}:
            return False
        return True

    async def _forward(self, scope: dict, body: bytes, send: Callable, outcome: "_Outcome") -> None:
        delivered = False

        async def receive() -> dict:
            nonlocal delivered
            if not delivered:
                delivered = True
                return {"type": "http.request", "body": body, "more_body": False}
            await asyncio.Event().wait()  # no more body: behave like a client that keeps the connection open
            return {"type": "http.disconnect"}

        async def tracking_send(message: dict) -> None:
            if message["type"] == "http.response.start":
                outcome.status = message["status"]
            await send(message)

        await self.app(scope, receive, tracking_send)


@dataclass
class _Outcome:
    status: int | None = None
    fault: str | None = None
    retry_after: float | None = None


def _swallow(outcome: _Outcome) -> Callable[[dict], Awaitable[None]]:
    async def send(message: dict) -> None:
        if message["type"] == "http.response.start":
            outcome.status = message["status"]

    return send


async def _read_body(receive: Callable) -> bytes | None:
    chunks, size = [], 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            return None
        chunks.append(chunk)
        if not message.get("more_body"):
            break
    return b"".join(chunks)


async def _abort(send: Callable) -> None:
    transport = getattr(getattr(send, "__self__", None), "transport", None)
    if transport is not None:
        transport.abort()  # RST, no HTTP answer: what a crashed or unreachable server looks like
        return
    await _plain(send, 503, b'{"code":"sandbox_down","message":"connection would have been reset"}')


async def _answer(send: Callable, status: int, body: bytes, content_type: str,
                  extra: list[tuple[bytes, bytes]] | None = None) -> None:
    headers = [(b"content-type", content_type.encode()), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers + (extra or [])})
    await send({"type": "http.response.body", "body": body})


async def _plain(send: Callable, status: int, body: bytes) -> None:
    await _answer(send, status, body, "application/json")


def json_fault(status: int, message: str) -> tuple[bytes, str]:
    """A neutral JSON error body, for sandboxes without a house error shape."""
    return json.dumps({"error": {"status": status, "message": message}}).encode(), "application/json"

