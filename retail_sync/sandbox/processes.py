"""`retail-sync sandbox`: each sandbox in its own process, as three separate hosts would be.

One process per system lets the three use both cores instead of sharing one interpreter lock (the benchmark
showed one process capping the order rate all three together allow), and a crash or a stall in one leaves the
others answering. Children report readiness (or why they could not start) on a queue; the parent announces
the URLs, waits for SIGINT/SIGTERM or a child's death, and stops them all.
"""
from __future__ import annotations

import json
import multiprocessing
import queue
from typing import Any, Callable

from retail_sync.sandbox import runner
from retail_sync.sandbox.common.base import SandboxOptions
from retail_sync.sandbox.common.catalog import Catalog

START_TIMEOUT_S = 60


def _child(name: str, options: SandboxOptions, catalog: Catalog | None, report: Any) -> None:
    try:
        running = runner.start(options, [runner.build(name, options)])
    except Exception as exc:  # noqa: BLE001 - whatever stopped it is reported to the parent verbatim
        report.put(("error", name, str(exc)))
        return
    item = running[0]
    try:
        seeded = item.sandbox.seed(catalog) if catalog is not None and item.sandbox.is_empty() else None
        report.put(("ready", name, item.url, seeded))
        runner.until_signal(item.thread.is_alive)
    except Exception as exc:  # noqa: BLE001
        report.put(("error", name, str(exc)))
    finally:
        runner.stop(running)


def serve(options: SandboxOptions, catalog: Catalog | None, announce: Callable[[str], None]) -> None:
    context = multiprocessing.get_context("spawn")  # no forked event loops, threads or SQLite handles
    report = context.Queue()
    children = {name: context.Process(target=_child, args=(name, options, catalog, report), name=f"sandbox-{name}")
                for name in runner.NAMES}
    for child in children.values():
        child.start()
    try:
        for _ in children:
            try:
                message = report.get(timeout=START_TIMEOUT_S)
            except queue.Empty:
                raise RuntimeError(f"sandboxes did not start within {START_TIMEOUT_S} s") from None
            if message[0] == "error":
                raise RuntimeError(f"{message[1]}: {message[2]}")
            _, name, url, seeded = message
            announce(f"{name:<12} {url}")
            if seeded is not None:
                announce(f"{name:<12} seeded: {json.dumps(seeded)}")
        _wait(children)
    finally:
        for child in children.values():
            if child.is_alive():
                child.terminate()  # SIGTERM: the child's own handler stops its server cleanly
        for child in children.values():
            child.join(15)
            if child.is_alive():
                child.kill()


def _wait(children: dict[str, Any]) -> None:
    if not runner.until_signal(lambda: all(child.is_alive() for child in children.values())):
        dead = [name for name, child in children.items() if not child.is_alive()]
        raise RuntimeError(f"sandbox {', '.join(dead)} stopped unexpectedly")
