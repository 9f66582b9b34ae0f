"""The WMS adapter (`RestWms`) against the real WMS sandbox: releases idempotent by external_ref, conflicts,
cancellation before and after pick, stock paging; errors turned into our taxonomy. The sandbox is checked through
its own control routes and ledger (tests/contract/wms_support.py), never through the adapter."""
from __future__ import annotations

from datetime import timezone
from typing import Any

import pytest

from config.settings import Settings
from retail_sync.connectors.http import NoGuard
from retail_sync.connectors.ports import FulfilmentLine, FulfilmentRequest
from retail_sync.connectors.wms.adapter import RestWms, build_wms
from retail_sync.errors import Conflict, NotCancellable, PermanentError, RecordGone, TransientError
from tests.contract.wms_support import API_KEY, Wms, receiver, wms  # noqa: F401 - fixtures


def wms_adapter(url: str, api_key: str = API_KEY) -> RestWms:
    return build_wms(Settings(_env_file=None, wms_url=url, wms_api_key=api_key), NoGuard())


@pytest.fixture
def adapter(wms: Wms) -> RestWms:  # noqa: F811 - the fixture imported above
    return wms_adapter(wms.url)


def release(external_ref: str = "WC-1042", site: str = "WH-EAST", lines: tuple[tuple[str, int], ...] = (
        ("SKU-A", 2), ("SKU-B", 1)), city: str = "Berlin") -> FulfilmentRequest:
    return FulfilmentRequest(external_ref=external_ref, site=site,
                             lines=tuple(FulfilmentLine(sku, quantity) for sku, quantity in lines),
                             ship_to={"name": "Ada Lovelace", "address_1": "Hauptstr. 1", "city": city,
                                      "country": "DE"})


def test_releasing_twice_makes_one_warehouse_order(wms, adapter):  # noqa: F811
    # when the same release is sent twice (a retry after a lost answer)
    first = adapter.create_fulfilment(release())
    second = adapter.create_fulfilment(release())

    # then the warehouse holds one order, allocated once
    assert first == second
    assert (first.id, first.external_ref, first.site, first.status) == ("FO-000001", "WC-1042", "WH-EAST",
                                                                        "released")
    assert [c["outcome"] for c in wms.ledger_creates()["fulfillment_order:WC-1042"]] == ["created", "existing"]
    assert wms.on_hand("SKU-A", "WH-EAST")["allocated"] == 2


def test_a_changed_release_under_the_same_ref_is_a_conflict(wms, adapter):  # noqa: F811
    adapter.create_fulfilment(release())
    with pytest.raises(Conflict, match="external_ref_conflict.*id=FO-000001"):
        adapter.create_fulfilment(release(city="Hamburg"))
    with pytest.raises(Conflict):
        adapter.create_fulfilment(release(lines=(("SKU-A", 3),)))
    assert [c["outcome"] for c in wms.ledger_creates()["fulfillment_order:WC-1042"]] == [
        "created", "rejected", "rejected"]


def test_a_split_order_releases_one_order_per_site(adapter):
    east = adapter.create_fulfilment(release("WC-1001/WH-EAST", "WH-EAST", (("SKU-A", 1),)))
    west = adapter.create_fulfilment(release("WC-1001/WH-WEST", "WH-WEST", (("TEE-S", 1),)))
    assert east.id != west.id
    assert adapter.find_fulfilment("WC-1001/WH-WEST") == west
    assert adapter.find_fulfilment("WC-1001/WH-EAST") == east
    assert adapter.find_fulfilment("WC-1001") is None


def test_cancel_before_pick_releases_the_allocation_and_is_idempotent(wms, adapter):  # noqa: F811
    order = adapter.create_fulfilment(release())
    cancelled = adapter.cancel_fulfilment(order.id)
    assert (cancelled.id, cancelled.status) == (order.id, "cancelled")
    assert wms.on_hand("SKU-A", "WH-EAST")["allocated"] == 0
    assert adapter.cancel_fulfilment(order.id) == cancelled
    assert adapter.find_fulfilment("WC-1042").status == "cancelled"


def test_cancel_after_pick_is_not_cancellable(wms, adapter):  # noqa: F811
    order = adapter.create_fulfilment(release())
    wms.ok(wms.control("POST", f"/fulfillment-orders/{order.id}/pick"))
    with pytest.raises(NotCancellable, match="not_cancellable.*order_status=picked"):
        adapter.cancel_fulfilment(order.id)
    assert adapter.find_fulfilment("WC-1042").status == "picked"


def test_an_unknown_order_is_gone_and_an_unknown_sku_is_permanent(adapter):
    with pytest.raises(RecordGone, match="fulfillment_order_not_found"):
        adapter.cancel_fulfilment("FO-999999")
    with pytest.raises(PermanentError, match="HTTP 422 unknown_sku.*field=lines\\[1\\].sku"):
        adapter.create_fulfilment(release(lines=(("SKU-A", 1), ("NOPE", 1))))


def test_stock_pages_over_every_row_with_aware_times(wms, adapter):  # noqa: F811
    # given more rows than one page holds
    expected = {(row["sku"], row["site"]): (row["on_hand"], row["allocated"])
                for row in wms.ok(wms.api("GET", "/inventory", params={"limit": 1000}))["data"]}
    assert len(expected) > 3
    adapter.create_fulfilment(release())

    # when
    rows = list(adapter.iter_stock(page_size=3))

    # then every (sku, site) once, as the WMS holds it now
    assert len(rows) == len(expected) == len({(row.sku, row.site) for row in rows})
    assert {(row.sku, row.site) for row in rows} == set(expected)
    by_key = {(row.sku, row.site): row for row in rows}
    assert (by_key["SKU-A", "WH-EAST"].on_hand, by_key["SKU-A", "WH-EAST"].allocated) == (10, 2)
    assert all(row.updated_at is not None and row.updated_at.tzinfo == timezone.utc for row in rows)
    pages = [c for c in wms.ok(wms.control("GET", "/ledger"))["calls"] if c["detail"] == "inventory.GET"]
    assert len(pages) == 1 + -(-len(expected) // 3)  # the test's own listing, then ceil(rows / 3) pages


def test_stock_of_one_site(adapter):
    rows = list(adapter.iter_stock(site="WH-WEST", page_size=2))
    assert rows and {row.site for row in rows} == {"WH-WEST"}
    assert {row.sku: row.on_hand for row in rows}["TEE-M"] == 6
    with pytest.raises(RecordGone, match="site_not_found"):
        list(adapter.iter_stock(site="WH-NOWHERE"))


def test_a_page_size_beyond_the_contract_is_capped(adapter):
    assert len(list(adapter.iter_stock(page_size=50_000))) > 0


def test_a_wrong_api_key_is_permanent(wms):  # noqa: F811
    with pytest.raises(PermanentError, match="HTTP 401 unauthorized"):
        wms_adapter(wms.url, api_key="wrong").find_fulfilment("WC-1")


def faults(wms: Wms, **settings: Any) -> None:  # noqa: F811
    wms.ok(wms.control("POST", "/faults", json=settings))


def test_a_rate_limit_is_transient_with_retry_after(wms, adapter):  # noqa: F811
    faults(wms, rate_limit_per_s=0.2, match={"model": "fulfillment-orders"})
    raised = []
    for _ in range(3):
        try:
            adapter.find_fulfilment("WC-1")
        except TransientError as exc:
            raised.append(exc)
    assert raised and all(exc.retry_after is not None and exc.retry_after >= 1 for exc in raised)


def test_a_dropped_answer_is_transient_and_the_retry_finds_the_one_order(wms, adapter):  # noqa: F811
    faults(wms, commit_then_drop_rate=1.0, match={"model": "fulfillment-orders", "method": "POST"})
    with pytest.raises(TransientError):
        adapter.create_fulfilment(release())
    faults(wms)
    again = adapter.create_fulfilment(release())
    assert adapter.find_fulfilment("WC-1042") == again
    assert [c["outcome"] for c in wms.ledger_creates()["fulfillment_order:WC-1042"]] == ["created", "existing"]


def test_server_errors_are_transient(wms, adapter):  # noqa: F811
    faults(wms, error_rate=1.0, error_status=503, match={"model": "inventory"})
    with pytest.raises(TransientError, match="HTTP 503"):
        list(adapter.iter_stock())
