"""`retail-sync setup woocommerce` against the store sandbox: the flow and the command register one active webhook
per topic at `{URL}/webhooks/woocommerce`, signed with WOO_WEBHOOK_SECRET; running it again creates nothing; it
re-activates a webhook the store disabled. Checked with the real `woocommerce` client and a capture receiver."""
from __future__ import annotations

import dataclasses
import re

import pytest
import redis
from click.testing import CliRunner
from pydantic import SecretStr

from config.settings import get_settings
from retail_sync.connectors.http import NoGuard
from retail_sync.connectors.woocommerce.adapter import build_store
from retail_sync.entrypoints.cli import main
from retail_sync.flows.setup import STORE_WEBHOOK_TOPICS, register_store_webhooks
from tests.conftest import REDIS_TEST_URL
from tests.contract.woo_hooks_support import (  # noqa: F401 - fixtures
    product_id,
    receiver,
    signature,
    touch,
    wcapi,
    woo,
)

ENGINE_SECRET = "engine-webhook-secret-0123456789"


@pytest.fixture
def public_url(receiver) -> str:
    """Where the 'engine' is reachable: the capture receiver answers 200 on every path."""
    return f"http://127.0.0.1:{receiver.port}"


@pytest.fixture
def store_services(services, settings, woo, sandbox_options):
    store_settings = settings.model_copy(update={
        "woo_url": woo, "woo_consumer_key": SecretStr(sandbox_options.woo_consumer_key),
        "woo_consumer_secret": SecretStr(sandbox_options.woo_consumer_secret),
        "woo_webhook_secret": SecretStr(ENGINE_SECRET)})
    return dataclasses.replace(services, settings=store_settings, store=build_store(store_settings, NoGuard()))


def listed(wcapi) -> list[dict]:
    response = wcapi.get("webhooks", params={"per_page": 100})
    assert response.status_code == 200, response.text
    return response.json()


def test_registers_one_active_webhook_per_topic_pointing_at_the_engine(store_services, wcapi, public_url, receiver):
    webhooks = register_store_webhooks(store_services, public_url + "/")
    assert [w.topic for w in webhooks] == list(STORE_WEBHOOK_TOPICS)
    assert {"order.created", "order.updated", "order.deleted", "order.restored", "product.created",
            "product.updated", "product.deleted"} <= set(STORE_WEBHOOK_TOPICS)
    assert all(w.status == "active" and w.delivery_url == f"{public_url}/webhooks/woocommerce" for w in webhooks)
    in_store = listed(wcapi)
    assert sorted((h["topic"], h["id"], h["status"], h["delivery_url"]) for h in in_store) == \
        sorted((w.topic, w.id, "active", w.delivery_url) for w in webhooks)
    # the store pinged each new webhook at the engine's receiver path
    receiver.wait(lambda r: len(r.pings()) >= len(STORE_WEBHOOK_TOPICS))
    assert {ping.path for ping in receiver.pings()} == {"/webhooks/woocommerce"}


def test_deliveries_are_signed_with_the_engine_secret(store_services, wcapi, public_url, receiver):
    register_store_webhooks(store_services, public_url)
    touch(wcapi, product_id(wcapi, "TEE-1"), name="Renamed tee")
    [delivery] = [d for d in receiver.wait_deliveries(1) if d.header("X-WC-Webhook-Topic") == "product.updated"]
    assert delivery.header("X-WC-Webhook-Signature") == signature(delivery.body, ENGINE_SECRET)


def test_running_it_again_creates_nothing_and_reactivates_a_disabled_webhook(store_services, wcapi, public_url):
    first = register_store_webhooks(store_services, public_url)
    by_topic = {w.topic: w.id for w in first}
    disabled = wcapi.put(f"webhooks/{by_topic['order.updated']}", {"status": "disabled"})
    assert disabled.status_code == 200 and disabled.json()["status"] == "disabled"
    paused = wcapi.put(f"webhooks/{by_topic['product.deleted']}", {"status": "paused"})
    assert paused.json()["status"] == "paused"

    again = register_store_webhooks(store_services, public_url)
    assert {w.topic: w.id for w in again} == by_topic
    assert all(w.status == "active" for w in again)
    in_store = listed(wcapi)
    assert len(in_store) == len(STORE_WEBHOOK_TOPICS)
    assert {h["id"]: h["status"] for h in in_store} == {webhook_id: "active" for webhook_id in by_topic.values()}


def test_webhooks_pointing_elsewhere_are_left_alone(store_services, wcapi, public_url):
    other = wcapi.post("webhooks", {"topic": "order.updated", "delivery_url": public_url + "/someone-else",
                                    "secret": "theirs"}).json()
    register_store_webhooks(store_services, public_url)
    in_store = {h["id"]: h for h in listed(wcapi)}
    assert in_store[other["id"]]["delivery_url"] == public_url + "/someone-else"
    assert len(in_store) == len(STORE_WEBHOOK_TOPICS) + 1


def test_an_engine_that_moved_repoints_its_webhooks_instead_of_adding_a_second_set(store_services, wcapi,
                                                                                    public_url):
    first = {w.topic: w.id for w in register_store_webhooks(store_services, "http://127.0.0.1:1/old-engine")}

    moved = register_store_webhooks(store_services, public_url)

    assert {w.topic: w.id for w in moved} == first
    assert {h["delivery_url"] for h in listed(wcapi)} == {f"{public_url}/webhooks/woocommerce"}


@pytest.fixture
def cli_env(woo, sandbox_options, settings):
    get_settings.cache_clear()
    yield {"WOO_URL": woo, "WOO_CONSUMER_KEY": sandbox_options.woo_consumer_key,
           "WOO_CONSUMER_SECRET": sandbox_options.woo_consumer_secret, "WOO_WEBHOOK_SECRET": ENGINE_SECRET,
           "DATABASE_URL": settings.database_url, "RETAIL_SYNC_HOME": str(settings.retail_sync_home),
           "REDIS_URL": REDIS_TEST_URL}
    get_settings.cache_clear()
    # the command went through the real shared call guard: leave no guard state behind in the shared Redis
    client = redis.Redis.from_url(REDIS_TEST_URL)
    for key in client.scan_iter("retail_sync:guard:*"):
        client.delete(key)


def test_the_command_prints_each_topic_and_its_webhook(cli_env, wcapi, public_url, receiver):
    runner = CliRunner()
    result = runner.invoke(main, ["setup", "woocommerce", "--public-url", public_url], env=cli_env)
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == f"webhooks deliver to {public_url}/webhooks/woocommerce"
    printed = dict(re.fullmatch(r"(\S+) → webhook (\d+) \(active\)", line).groups() for line in lines[1:])
    assert list(printed) == list(STORE_WEBHOOK_TOPICS)
    assert {int(i) for i in printed.values()} == {h["id"] for h in listed(wcapi)}

    again = runner.invoke(main, ["setup", "woocommerce", "--public-url", public_url], env=cli_env)
    assert again.exit_code == 0 and again.output == result.output  # idempotent: the same webhooks


def test_the_command_fails_with_one_clear_line_when_the_store_refuses(cli_env, public_url):
    result = CliRunner().invoke(main, ["setup", "woocommerce", "--public-url", public_url],
                                env={**cli_env, "WOO_CONSUMER_SECRET": "cs_wrong"})
    assert result.exit_code == 1
    assert result.output.startswith("Error: registering the store webhooks failed: ")
    assert "Traceback" not in result.output and "cs_wrong" not in result.output
