"""What the benchmarks share: a free loopback port, `wrk` runs and the parsing of wrk's report."""
from __future__ import annotations

import re
import socket
import subprocess
from pathlib import Path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_wrk(url: str, script: Path, duration: int, connections: int) -> subprocess.Popen:
    """One wrk thread (the machine has two cores and the servers need them), latency distribution on."""
    return subprocess.Popen(["wrk", "-t1", f"-c{connections}", f"-d{duration}s", "--latency", "-s", str(script), url],
                            stdout=subprocess.PIPE, text=True)


def run_wrk(url: str, script: Path, duration: int, connections: int) -> dict:
    out, _ = start_wrk(url, script, duration, connections).communicate()
    return parse_wrk(out)


def parse_wrk(out: str) -> dict:
    """requests/s, p50/p99 in ms, non-2xx answers and socket errors from wrk's `--latency` report."""
    def pct(label: str) -> float:
        value, unit = re.search(rf"{label}%\s+([\d.]+)(us|ms|s)", out).groups()
        return float(value) * {"us": 0.001, "ms": 1, "s": 1000}[unit]

    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors = re.search(r"Socket errors: (.*)", out)
    return {"rate": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)), "p50_ms": pct("50"),
            "p99_ms": pct("99"), "non2xx": int(non2xx.group(1)) if non2xx else 0,
            "socket_errors": errors.group(1).strip() if errors else ""}
