"""The catalog: which SKU is which product in each system, and how many units each site holds.

A bulk sync (beat, `retail-sync reconcile catalog`) fills `product_bindings` (SKU ↔ ERP product ↔ store product
or variation) and the WMS on-hand, page by page, one transaction per page, so memory stays bounded whatever the
catalog's size. An order naming a SKU the last sync did not know gets one on-demand lookup before it becomes an
exception. SKUs are normalised the same way everywhere (strip, NFC, case kept) and never fuzzy-matched.
"""
from __future__ import annotations

import itertools
import logging
from datetime import datetime
from typing import TYPE_CHECKING, Iterable, Iterator, TypeVar

from retail_sync import task_names
from retail_sync.connectors.ports import ErpProduct, StoreProduct, WmsStock
from retail_sync.domain.orders import order_subject
from retail_sync.domain.skus import normalise_sku
from retail_sync.persistence import fulfilment_store, orders, product_bindings, timeline
from retail_sync.persistence.fulfilment_store import OnHandFact

if TYPE_CHECKING:
    from retail_sync.bootstrap import Services

logger = logging.getLogger(__name__)

PRODUCT_PAGE = 500
STOCK_PAGE = 1000

T = TypeVar("T")


def sync_catalog(services: "Services") -> dict[str, int]:
    """Bind every ERP product and store product/variation by SKU and take the WMS on-hand snapshot."""
    counts = {
        "erp_products": 0, "erp_bindings_changed": 0,
        "store_products": 0, "store_bindings_changed": 0,
        "stock_levels": 0, "stock_levels_applied": 0,
    }
    for page in _pages(services.erp.iter_products(page_size=PRODUCT_PAGE), PRODUCT_PAGE):
        rows = _erp_rows(page)
        with services.uow() as uow:
            counts["erp_bindings_changed"] += product_bindings.bind_erp_products(uow.conn, rows, services.clock())
            uow.commit()
        counts["erp_products"] += len(page)
    for page in _pages(services.store.iter_products(page_size=PRODUCT_PAGE), PRODUCT_PAGE):
        rows = _store_rows(page)
        with services.uow() as uow:
            counts["store_bindings_changed"] += product_bindings.bind_store_products(uow.conn, rows, services.clock())
            uow.commit()
        counts["store_products"] += len(page)
    # A snapshot row without its own time is at least as new as the moment we started reading it.
    snapshot_started = services.clock()
    for page in _pages(services.wms.iter_stock(page_size=STOCK_PAGE), STOCK_PAGE):
        facts = _on_hand_facts(page, snapshot_started)
        with services.uow() as uow:
            counts["stock_levels_applied"] += fulfilment_store.apply_on_hand(uow.conn, facts, services.clock())
            uow.commit()
        counts["stock_levels"] += len(page)
    logger.info("catalog synced", extra=counts)
    return counts


def lookup_skus(services: "Services", ref: str) -> dict:
    """Look the order's unbound (or unsellable) SKUs up in the ERP and the store, bind what they know, then let
    the order start again (`start_order` holds it if a SKU is still unknown)."""
    with services.uow() as uow:
        row = orders.get(uow.conn, ref)
        if row is None:
            return {"outcome": "unknown"}
        skus = list(dict.fromkeys(normalise_sku(sku) for sku in row.order.skus))
        known = product_bindings.bindings_for(uow.conn, skus)
    missing = [sku for sku in skus if not _sellable(known.get(sku))]
    erp_found = _by_sku(services.erp.find_products(missing)) if missing else {}
    store_found = _by_sku(services.store.find_products(missing)) if missing else {}
    now = services.clock()
    with services.uow() as uow:
        product_bindings.bind_erp_products(uow.conn, _erp_rows(erp_found.values()), now)
        product_bindings.bind_store_products(uow.conn, _store_rows(store_found.values()), now)
        timeline.record(
            uow.conn, subject=order_subject(ref), event_type="catalog.lookup", source="catalog", occurred_at=now,
            detail={"missing": missing, "found_in_erp": sorted(erp_found), "found_in_store": sorted(store_found)},
        )
        uow.after_commit(lambda: services.dispatcher.send(task_names.START_ORDER, [ref]))
        uow.commit()
    return {"outcome": "looked_up", "missing": len(missing), "found_in_erp": len(erp_found),
            "found_in_store": len(store_found)}


def _sellable(binding: product_bindings.ProductBinding | None) -> bool:
    return binding is not None and binding.erp_product_id is not None and bool(binding.erp_sellable)


def _pages(items: Iterable[T], size: int) -> Iterator[list[T]]:
    iterator = iter(items)
    while page := list(itertools.islice(iterator, size)):
        yield page


def _by_sku(found: dict[str, T]) -> dict[str, T]:
    return {normalise_sku(sku): item for sku, item in found.items()}


def _bindable(sku: str, system: str) -> bool:
    """A SKU the bindings can hold; one longer than that is logged and left out, never truncated into another."""
    if len(sku) > product_bindings.SKU_MAX_LENGTH:
        logger.warning("SKU too long to bind", extra={"system": system, "kind": "product", "sku": sku[:40]})
        return False
    return bool(sku)


def _erp_rows(products: Iterable[ErpProduct]) -> list[dict]:
    """One row per normalised SKU. Where two ERP products share one, a sellable one wins (and it is logged)."""
    rows: dict[str, dict] = {}
    for product in products:
        sku = normalise_sku(product.sku)
        if not _bindable(sku, "erp"):
            continue
        if sku in rows:
            logger.warning("two ERP products share a SKU", extra={"system": "erp", "kind": "product", "sku": sku})
            if rows[sku]["erp_sellable"] and not product.sellable:
                continue
        rows[sku] = {"sku": sku, "erp_product_id": str(product.id), "erp_sellable": product.sellable,
                     "name": product.name[:200] or None}
    return list(rows.values())


def _store_rows(products: Iterable[StoreProduct]) -> list[dict]:
    rows: dict[str, dict] = {}
    for product in products:
        sku = normalise_sku(product.sku)
        if not _bindable(sku, "woocommerce"):
            continue
        if sku in rows:
            logger.warning("two store products share a SKU", extra={"system": "woocommerce", "kind": "product",
                                                                    "sku": sku})
        rows[sku] = {
            "sku": sku, "store_product_id": str(product.product_id),
            "store_variation_id": str(product.variation_id) if product.variation_id is not None else None,
        }
    return list(rows.values())


def _on_hand_facts(levels: Iterable[WmsStock], default_at: datetime) -> list[OnHandFact]:
    """One fact per (sku, site): the newest, where normalisation made two rows one."""
    facts: dict[tuple[str, str], OnHandFact] = {}
    for level in levels:
        sku = normalise_sku(level.sku)
        if not _bindable(sku, "wms"):
            continue
        fact = OnHandFact(sku, level.site, level.on_hand, level.updated_at or default_at)
        key = (fact.sku, fact.site)
        if key not in facts or facts[key].at < fact.at:
            facts[key] = fact
    return list(facts.values())
