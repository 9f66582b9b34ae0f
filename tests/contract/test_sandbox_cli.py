"""`retail-sync sandbox` as a real process: one command starts all three, `--seed` fills only empty sandboxes,
state survives a restart, and `retail-sync sandbox seed FILE` posts one catalog to all three."""
from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
import requests

from tests.support.processes import BIN, ROOT, Process, free_port, wait_until

CATALOG = ROOT / "examples" / "catalog.json"


@pytest.fixture
def cli_env(tmp_path: Path) -> dict:
    ports = {"woo": free_port(), "erp": free_port(), "wms": free_port()}
    env = {k: v for k, v in os.environ.items() if not k.startswith(("WOO_", "ERP_", "WMS_", "RETAIL_SYNC_"))}
    env.update({
        "RETAIL_SYNC_HOME": str(tmp_path / "home"),
        "WOO_URL": f"http://127.0.0.1:{ports['woo']}",
        "ERP_URL": f"http://127.0.0.1:{ports['erp']}",
        "WMS_URL": f"http://127.0.0.1:{ports['wms']}",
        "WMS_API_KEY": "cli-test-wms-key",
        "PORTS": json.dumps(ports),
    })
    return env


def start(env: dict, tmp_path: Path, *extra: str) -> Process:
    ports = json.loads(env["PORTS"])
    proc = Process([str(BIN / "retail-sync"), "sandbox", "--woo-port", str(ports["woo"]), "--erp-port",
                    str(ports["erp"]), "--wms-port", str(ports["wms"]), *extra], env, tmp_path / "sandbox.log")

    def up() -> bool:
        try:
            return all(requests.get(f"{env[k]}/_sandbox/state", timeout=1).ok for k in ("WOO_URL", "ERP_URL", "WMS_URL"))
        except requests.RequestException:
            assert proc.proc.poll() is None, proc.output()
            return False

    wait_until(up, timeout=30, message="the three sandboxes")
    return proc


def states(env: dict) -> dict:
    return {k: requests.get(f"{env[k]}/_sandbox/state", timeout=5).json() for k in ("WOO_URL", "ERP_URL", "WMS_URL")}


def test_one_command_starts_all_three_and_state_survives_a_restart(cli_env, tmp_path):
    proc = start(cli_env, tmp_path, "--seed", str(CATALOG))
    try:
        seeded = states(cli_env)
        assert seeded["WOO_URL"]["products"] == 7 and seeded["WOO_URL"]["variations"] == 3
        assert all(any(isinstance(v, int) and v > 0 for v in s.values()) for s in seeded.values()), seeded
        # the WMS honours the engine's WMS_API_KEY: credentials come from the same settings
        inventory = requests.get(f"{cli_env['WMS_URL']}/api/v1/inventory", params={"sku": "MUG-001"},
                                 headers={"Authorization": "Bearer cli-test-wms-key"}, timeout=5)
        assert inventory.status_code == 200, inventory.text
        # change something, then restart with --seed again: the change is kept, nothing is re-seeded
        checkout = requests.post(f"{cli_env['WOO_URL']}/_sandbox/checkout", timeout=5, json={
            "lines": [{"sku": "MUG-001", "quantity": 2}], "payment_method": "bacs",
            "billing": {"first_name": "Ada", "last_name": "L", "email": "ada@example.com", "country": "DE"}})
        assert checkout.status_code == 201, checkout.text
    finally:
        proc.stop()
    proc = start(cli_env, tmp_path, "--seed", str(CATALOG))
    try:
        again = states(cli_env)
        assert again["WOO_URL"]["orders"] == 1
        assert again["ERP_URL"] == seeded["ERP_URL"] and again["WMS_URL"] == seeded["WMS_URL"]
        found = requests.get(f"{cli_env['WOO_URL']}/_sandbox/state", timeout=5).json()
        assert found["products"] == 7
    finally:
        proc.stop()


def test_sandbox_seed_posts_one_catalog_to_all_three(cli_env, tmp_path):
    proc = start(cli_env, tmp_path)
    try:
        assert states(cli_env)["WOO_URL"]["products"] == 0
        done = subprocess.run([str(BIN / "retail-sync"), "sandbox", "seed", str(CATALOG)], env=cli_env,
                              capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr
        report = json.loads(done.stdout)
        assert set(report) == {"woocommerce", "erp", "wms"}
        assert states(cli_env)["WOO_URL"]["products"] == 7
    finally:
        proc.stop()


def test_a_bad_catalog_is_refused_with_the_reason(cli_env, tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"sites": ["WH-EAST"], "products": [{"sku": "X", "name": "X", "price": "1.00",
                                                                   "stock": {"WH-NORTH": 1}}]}))
    done = subprocess.run([str(BIN / "retail-sync"), "sandbox", "seed", str(bad)], env=cli_env,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode != 0
    assert "unknown site" in done.stderr and "WH-NORTH" in done.stderr


def test_an_occupied_port_is_a_clear_error(cli_env, tmp_path):
    import socket

    ports = json.loads(cli_env["PORTS"])
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", ports["erp"]))
        busy.listen()
        done = subprocess.run([str(BIN / "retail-sync"), "sandbox", "--woo-port", str(ports["woo"]), "--erp-port",
                               str(ports["erp"]), "--wms-port", str(ports["wms"])], env=cli_env,
                              capture_output=True, text=True, timeout=60)
    assert done.returncode != 0
    assert "erp" in done.stderr
