"""Contract tests: each sandbox runs on a real uvicorn server on a free loopback port (in a thread of the test
process, exactly as `retail-sync sandbox` runs it) and is driven over HTTP by independent clients: the
`woocommerce` package, a plain JSON-RPC client, `xmlrpc.client`, `requests`."""
from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Callable, Iterator

import pytest

from retail_sync.sandbox import runner
from retail_sync.sandbox.common.base import Sandbox, SandboxOptions
from tests.support.processes import free_port


@pytest.fixture
def sandbox_options(tmp_path: Path) -> SandboxOptions:
    return SandboxOptions(data_dir=tmp_path / "sandbox", woo_port=free_port(), erp_port=free_port(),
                          wms_port=free_port())


@pytest.fixture
def serve() -> Iterator[Callable[..., str]]:
    """serve(SandboxClass, options, tls=False, port=None) → base URL; everything started is stopped after."""
    started: list[runner.Running] = []

    def _serve(cls: type[Sandbox], options: SandboxOptions, *, tls: bool = False, port: int | None = None) -> str:
        sandbox = cls(options)
        port = port or free_port()
        options = replace(options)
        item = runner.start(options, [(sandbox, port, tls)])[0]
        started.append(item)
        return item.url

    yield _serve
    runner.stop(started)


