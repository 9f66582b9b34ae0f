"""The catalog sync and the on-demand SKU lookup, against the fakes of the three systems and the real state store."""
from __future__ import annotations

import unicodedata
from dataclasses import replace
from datetime import timedelta

import pytest
from sqlalchemy import select

from retail_sync import task_names
from retail_sync.connectors.ports import StoreProduct
from retail_sync.domain.skus import normalise_sku
from retail_sync.errors import TransientError
from retail_sync.flows import catalog
from retail_sync.persistence import fulfilment_store, orders, timeline
from retail_sync.persistence.fulfilment_store import OnHandFact
from retail_sync.persistence.tables import product_bindings, stock_levels
from tests.flows.fakes import MODIFIED_AT, FakeErp, make_order

COMPOSED = unicodedata.normalize("NFC", "CAFÉ-1")
DECOMPOSED = unicodedata.normalize("NFD", "CAFÉ-1")


def store_product(sku, product_id, variation_id=None):
    return StoreProduct(sku=sku, product_id=product_id, variation_id=variation_id, stock_quantity=None,
                        manage_stock=False, status="publish")


def bindings(services) -> dict[str, dict]:
    with services.uow() as uow:
        return {row.sku: dict(row._mapping) for row in uow.conn.execute(select(product_bindings))}


def levels(services) -> dict[tuple[str, str], tuple[int, int]]:
    with services.uow() as uow:
        rows = uow.conn.execute(select(stock_levels.c.sku, stock_levels.c.site, stock_levels.c.on_hand,
                                       stock_levels.c.reserved))
        return {(sku, site): (on_hand, reserved) for sku, site, on_hand, reserved in rows}


def test_sync_binds_each_sku_across_the_three_systems(services, erp, store, wms):
    # given
    mug = erp.add_product("MUG-1", name="Mug")
    shirt = erp.add_product("SHIRT-M", name="Shirt, M")
    erp.add_product("OLD-1", sellable=False)
    store.products = {"MUG-1": store_product("MUG-1", 10), "SHIRT-M": store_product("SHIRT-M", 20, 21)}
    wms.set_stock("MUG-1", "WH-EAST", 7)
    wms.set_stock("MUG-1", "WH-WEST", 3)
    # when
    counts = catalog.sync_catalog(services)
    # then
    assert counts == {
        "erp_products": 3, "erp_bindings_changed": 3, "store_products": 2, "store_bindings_changed": 2,
        "stock_levels": 2, "stock_levels_applied": 2,
    }
    bound = bindings(services)
    assert (bound["MUG-1"]["erp_product_id"], bound["MUG-1"]["erp_sellable"], bound["MUG-1"]["name"]) == (
        str(mug.id), True, "Mug")
    assert (bound["MUG-1"]["store_product_id"], bound["MUG-1"]["store_variation_id"]) == ("10", None)
    assert (bound["SHIRT-M"]["erp_product_id"], bound["SHIRT-M"]["store_product_id"],
            bound["SHIRT-M"]["store_variation_id"]) == (str(shirt.id), "20", "21")
    assert bound["OLD-1"]["erp_sellable"] is False and bound["OLD-1"]["store_product_id"] is None
    assert levels(services) == {("MUG-1", "WH-EAST"): (7, 0), ("MUG-1", "WH-WEST"): (3, 0)}


def test_a_second_sync_changes_only_what_changed(services, erp, store, wms):
    erp.add_product("MUG-1")
    erp.add_product("PLATE-1")
    wms.set_stock("MUG-1", "WH-EAST", 7)
    catalog.sync_catalog(services)
    # when the ERP stops selling one product and nothing else moved
    erp.products["PLATE-1"] = replace(erp.products["PLATE-1"], sellable=False)
    counts = catalog.sync_catalog(services)
    # then
    assert (counts["erp_products"], counts["erp_bindings_changed"]) == (2, 1)
    assert counts["stock_levels_applied"] == 0  # the same snapshot time: nothing newer
    assert bindings(services)["PLATE-1"]["erp_sellable"] is False


def test_skus_are_normalised_never_guessed(services, erp, store):
    # given the ERP spells the accent decomposed, the store composed, with blanks around; and two SKUs by case
    accented = erp.add_product(f"  {DECOMPOSED} ")
    lower = erp.add_product("abc")
    upper = erp.add_product("ABC")
    store.products = {COMPOSED: store_product(COMPOSED, 30)}
    # when
    catalog.sync_catalog(services)
    # then the accented SKU is one binding with both sides; "abc" and "ABC" stay two
    bound = bindings(services)
    assert set(bound) == {COMPOSED, "abc", "ABC"}
    assert (bound[COMPOSED]["erp_product_id"], bound[COMPOSED]["store_product_id"]) == (str(accented.id), "30")
    assert (bound["abc"]["erp_product_id"], bound["ABC"]["erp_product_id"]) == (str(lower.id), str(upper.id))
    assert normalise_sku(DECOMPOSED) == COMPOSED


class ErpFailingAfter(FakeErp):
    """An ERP whose product listing breaks down after `good` products (a timeout in the middle of the walk)."""

    def __init__(self, good: int):
        super().__init__()
        self.good = good

    def iter_products(self, page_size=500):
        for index, product in enumerate(super().iter_products(page_size)):
            if index == self.good:
                raise TransientError("timeout while listing products")
            yield product


def test_the_sync_commits_page_by_page(services, monkeypatch):
    # given pages of two and a listing that fails on the sixth product
    monkeypatch.setattr(catalog, "PRODUCT_PAGE", 2)
    services.erp = erp = ErpFailingAfter(good=5)
    for number in range(8):
        erp.add_product(f"SKU-{number}")
    # when
    with pytest.raises(TransientError):
        catalog.sync_catalog(services)
    # then the two full pages read before the failure are kept (the retry redoes the rest)
    assert set(bindings(services)) == {"SKU-0", "SKU-1", "SKU-2", "SKU-3"}


def test_a_stock_snapshot_never_overwrites_a_newer_count(services, wms, clock):
    # given a count the WMS reported after the snapshot was taken
    newer = MODIFIED_AT + timedelta(minutes=5)
    with services.uow() as uow:
        fulfilment_store.apply_on_hand(uow.conn, [OnHandFact("MUG-1", "WH-EAST", 4, newer)], clock())
        uow.commit()
    wms.set_stock("MUG-1", "WH-EAST", 9, updated_at=MODIFIED_AT)
    wms.set_stock("MUG-1", "WH-WEST", 2, updated_at=MODIFIED_AT)
    # when
    counts = catalog.sync_catalog(services)
    # then
    assert counts["stock_levels_applied"] == 1
    assert levels(services) == {("MUG-1", "WH-EAST"): (4, 0), ("MUG-1", "WH-WEST"): (2, 0)}


def insert_order(services, order):
    with services.uow() as uow:
        orders.insert_order(uow.conn, order, status="received", body_hash="h", now=services.clock())
        uow.commit()


def test_lookup_binds_the_unknown_skus_then_starts_the_order_again(services, erp, store, dispatcher):
    # given an order with one bound SKU and one the last sync did not know
    erp.add_product("KNOWN-1")
    catalog.sync_catalog(services)
    new = erp.add_product("NEW-1")
    store.products["NEW-1"] = store_product("NEW-1", 40)
    insert_order(services, make_order(7, [("KNOWN-1", 1, "5.00"), ("NEW-1", 2, "3.00")]))
    erp.calls.clear()
    # when
    result = catalog.lookup_skus(services, "WC-7")
    # then only the unknown SKU was looked up, bound, and the order starts again
    assert result == {"outcome": "looked_up", "missing": 1, "found_in_erp": 1, "found_in_store": 1}
    assert erp.called("find_products") == [(("NEW-1",),)]
    bound = bindings(services)["NEW-1"]
    assert (bound["erp_product_id"], bound["erp_sellable"], bound["store_product_id"]) == (str(new.id), True, "40")
    assert dispatcher.sent == [(task_names.START_ORDER, ["WC-7"])]
    with services.uow() as uow:
        [event] = [e for e in timeline.for_subject(uow.conn, "order:WC-7") if e["event_type"] == "catalog.lookup"]
    assert event["detail"]["missing"] == ["NEW-1"]


def test_lookup_of_a_sku_nobody_knows_still_hands_the_order_back(services, erp, store, dispatcher):
    insert_order(services, make_order(8, [("GHOST-1", 1, "5.00")]))
    result = catalog.lookup_skus(services, "WC-8")
    assert result == {"outcome": "looked_up", "missing": 1, "found_in_erp": 0, "found_in_store": 0}
    assert "GHOST-1" not in bindings(services)
    # start_order decides: the lookup was spent, so it holds the order for a person
    assert dispatcher.sent == [(task_names.START_ORDER, ["WC-8"])]


def test_lookup_of_an_unknown_order_does_nothing(services, erp, dispatcher):
    assert catalog.lookup_skus(services, "WC-404") == {"outcome": "unknown"}
    assert erp.calls == [] and dispatcher.sent == []
