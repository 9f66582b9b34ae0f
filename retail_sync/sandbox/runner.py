"""Run sandboxes on uvicorn servers, each on its own thread and event loop, in this process.

Contract tests use this directly; `retail-sync sandbox` runs one sandbox per process through `processes.py`,
which calls `start` in each child. A sandbox's own loop keeps its slow work (the WMS retrying a delivery to a
dead engine) from stalling another's API, as separate hosts would.
"""
from __future__ import annotations

import signal
import threading
import time
from dataclasses import dataclass
from typing import Callable

import uvicorn

from retail_sync.sandbox.common.base import Sandbox, SandboxOptions
from retail_sync.sandbox.common.tls import self_signed


@dataclass
class Running:
    sandbox: Sandbox
    server: uvicorn.Server
    thread: threading.Thread
    url: str


NAMES = ("woocommerce", "erp", "wms")


def build(name: str, options: SandboxOptions) -> tuple[Sandbox, int, bool]:
    """(sandbox, port, serves_tls) for one of `NAMES`."""
    if name == "woocommerce":
        from retail_sync.sandbox.woocommerce.app import WooSandbox

        return WooSandbox(options), options.woo_port, options.tls
    if name == "erp":
        from retail_sync.sandbox.erp.app import ErpSandbox

        return ErpSandbox(options), options.erp_port, False
    if name == "wms":
        from retail_sync.sandbox.wms.app import WmsSandbox

        return WmsSandbox(options), options.wms_port, False
    raise ValueError(f"unknown sandbox {name!r}")


def start(options: SandboxOptions, sandboxes: list[tuple[Sandbox, int, bool]]) -> list[Running]:
    """Serve each `(sandbox, port, serves_tls)` (as `build` makes them) on its own thread; returns once all listen."""
    running = []
    for sandbox, port, tls in sandboxes:
        ssl: dict[str, str] = {}
        if tls:
            cert, key = self_signed(options.data_dir, options.host)
            ssl = {"ssl_certfile": str(cert), "ssl_keyfile": str(key)}
        config = uvicorn.Config(sandbox.asgi(), host=options.host, port=port, log_level="warning",
                                access_log=False, lifespan="on", timeout_keep_alive=30, **ssl)
        server = uvicorn.Server(config)
        thread = threading.Thread(target=server.run, name=f"sandbox-{sandbox.name}", daemon=True)
        thread.start()
        scheme = "https" if tls else "http"
        running.append(Running(sandbox, server, thread, f"{scheme}://{options.host}:{port}"))
    try:
        _wait_started(running)
    except RuntimeError:
        stop(running)
        raise
    return running


def _wait_started(running: list[Running]) -> None:
    deadline = time.monotonic() + 15
    for item in running:
        while not item.server.started:
            if not item.thread.is_alive():
                raise RuntimeError(f"{item.sandbox.name} sandbox failed to start on {item.url} (port in use?)")
            if time.monotonic() > deadline:
                raise RuntimeError(f"{item.sandbox.name} sandbox did not start on {item.url} within 15 s")
            time.sleep(0.02)


def stop(running: list[Running]) -> None:
    for item in running:
        item.server.should_exit = True
    for item in running:
        item.thread.join(timeout=10)
        item.sandbox.db.close()


def until_signal(alive: Callable[[], bool]) -> bool:
    """Block until SIGINT/SIGTERM (True) or until `alive()` turns false (False)."""
    stopping = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stopping.set())
    while not stopping.is_set():
        if not alive():
            return False
        stopping.wait(0.5)
    return True
