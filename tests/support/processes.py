"""Real processes for integration tests: a private redis-server, uvicorn, Celery workers and beat."""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(predicate, timeout: float = 30, interval: float = 0.2, message: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {message}")


class Process:
    """A child in its own process group, so a kill reaches its pool children too."""

    def __init__(self, args: list[str], env: dict, log: Path):
        self.log = log
        self._log_file = open(log, "ab")
        self.proc = subprocess.Popen(args, env=env, cwd=ROOT, stdout=self._log_file, stderr=subprocess.STDOUT,
                                     start_new_session=True)

    def kill9(self) -> None:
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(10)

    def stop(self, timeout: float = 20) -> None:
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)
                self.proc.wait(timeout)
            except (subprocess.TimeoutExpired, ProcessLookupError):
                try:
                    os.killpg(self.proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                self.proc.wait(10)
        self._log_file.close()

    def output(self) -> str:
        return self.log.read_text(errors="replace")


class RedisServer:
    """A private redis-server that keeps nothing on disk; tests may stop, restart or flush it."""

    def __init__(self, workdir: Path):
        self.port = free_port()
        self.workdir = workdir
        self.process: Process | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> "RedisServer":
        self.process = Process(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", str(self.workdir)],
            os.environ.copy(), self.workdir / f"redis-{self.port}.log",
        )
        import redis

        wait_until(lambda: _pings(redis.Redis(port=self.port, socket_connect_timeout=0.5)), 10, message="redis")
        return self

    def stop(self) -> None:
        if self.process:
            self.process.stop()
            self.process = None


def _pings(client) -> bool:
    try:
        return bool(client.ping())
    except Exception:
        return False


def start_web(env: dict, log_dir: Path) -> tuple[Process, str]:
    port = free_port()
    proc = Process([str(BIN / "uvicorn"), "retail_sync.entrypoints.web:app", "--port", str(port),
                    "--no-access-log"], env, log_dir / f"web-{port}.log")
    base = f"http://127.0.0.1:{port}"

    def up():
        if proc.proc.poll() is not None:
            raise AssertionError(f"web exited:\n{proc.output()}")
        try:
            return requests.get(base + "/healthz", timeout=1).status_code == 200
        except requests.RequestException:
            return False

    wait_until(up, 30, message="web /healthz")
    return proc, base


def start_worker(env: dict, log_dir: Path, queues: str = "critical,default,bulk", name: str = "w", *,
                 app: str = "config.celery_app", concurrency: int = 1) -> Process:
    """A Celery worker of `app` on `queues`, once it is ready; fails with its log if it exits first."""
    hostname = f"{name}-{free_port()}@localhost"
    proc = Process([str(BIN / "celery"), "-A", app, "worker", "-Q", queues, "-c", str(concurrency),
                    "--prefetch-multiplier", "1", "-n", hostname, "--without-mingle", "--without-gossip"],
                   env, log_dir / f"worker-{hostname}.log")
    wait_until(lambda: "ready." in proc.output() or proc.proc.poll() is not None, 60, message=f"{name} worker ready")
    assert proc.proc.poll() is None, proc.output()
    return proc


def start_beat(env: dict, log_dir: Path) -> Process:
    log = log_dir / f"beat-{free_port()}.log"
    return Process([str(BIN / "celery"), "-A", "config.celery_app", "beat", "--loglevel", "INFO"], env, log)
