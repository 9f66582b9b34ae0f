"""Order validation and site routing: pure rules, Decimal to the cent."""
from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest

from retail_sync.domain.order_rules import (
    CatalogEntry,
    reservation_options,
    shortage,
    site_order,
    store_intent,
    validate,
    version_stamp,
)
from tests.flows.fakes import SHIP_TO, make_order

CATALOG = {"SKU-A": CatalogEntry("11", True), "SKU-B": CatalogEntry("12", True)}
EUR = ("EUR",)


def rules(order, catalog=CATALOG, currencies=EUR) -> list[str]:
    return [problem.rule for problem in validate(order, catalog, currencies)]


def test_a_consistent_paid_order_passes():
    order = make_order(1, [("SKU-A", 2, "9.99"), ("SKU-B", 1, "5.00")])
    assert validate(order, CATALOG, EUR) == []


def test_totals_are_checked_to_the_cent_with_discounts_fees_and_their_tax():
    # given a line discounted from 20.00 to 18.00, a fee with tax, and totals that reconcile exactly
    base = make_order(1, [("SKU-A", 2, "10.00")], shipping_total="0", tax_rate="0")
    line = replace(base.lines[0], total=Decimal("18.00"), tax=Decimal("3.42"))
    order = replace(base, lines=(line,), discount_total=Decimal("2.00"), fee_total=Decimal("1.50"),
                    fee_tax=Decimal("0.29"), total_tax=Decimal("3.71"), total=Decimal("23.21"))
    assert validate(order, CATALOG, EUR) == []
    # then one cent off anywhere is a precise reason
    assert rules(replace(order, total=Decimal("23.22"))) == ["total"]
    assert rules(replace(order, discount_total=Decimal("2.01"))) == ["discounts"]
    problems = validate(replace(order, total_tax=Decimal("3.72"), total=Decimal("23.22")), CATALOG, EUR)
    assert [p.rule for p in problems] == ["tax"]
    assert "3.71 ≠ total tax 3.72" in problems[0].message


@pytest.mark.parametrize("change, rule, words", [
    (lambda o: replace(o, lines=(replace(o.lines[0], sku=""),)), "sku", "has no SKU"),
    (lambda o: replace(o, lines=(replace(o.lines[0], quantity=0),)), "quantity", "quantity 0"),
    (lambda o: replace(o, lines=()), "quantity", "no lines"),
    (lambda o: replace(o, currency="USD"), "currency", "USD is not supported"),
    (lambda o: replace(o, shipping=replace(SHIP_TO, postcode="", city=" ")), "address", "lacks city, postcode"),
    (lambda o: replace(o, customer=replace(o.customer, email="")), "customer", "email is missing"),
    (lambda o: replace(o, paid=False), "payment", "not paid"),
])
def test_each_rule_names_its_reason(change, rule, words):
    problems = validate(change(make_order(1)), CATALOG, EUR)
    assert rule in [p.rule for p in problems]
    assert any(words in p.message for p in problems if p.rule == rule)


def test_unknown_and_unsellable_skus_are_catalog_problems():
    catalog = {"SKU-A": CatalogEntry("11", False), "SKU-C": CatalogEntry(None, None)}
    order = make_order(1, [("SKU-A", 1, "1.00"), ("SKU-B", 1, "1.00"), ("SKU-C", 1, "1.00")])
    problems = validate(order, catalog, EUR)
    assert [(p.rule, p.is_catalog) for p in problems] == [
        ("not_sellable", True), ("unknown_sku", True), ("unknown_sku", True)]
    assert problems[1].message == "SKU SKU-B is unknown to the ERP"


@pytest.mark.parametrize("status, on_hold, intent", [
    ("processing", False, "capture"), ("on-hold", False, "wait"), ("on-hold", True, "capture"),
    ("cancelled", False, "cancel"), ("refunded", False, "cancel"), ("pending", False, "wait"),
    ("failed", False, "wait"), ("checkout-draft", False, "wait"),
])
def test_store_status_decides_what_capture_does(status, on_hold, intent):
    assert store_intent(status, capture_on_hold=on_hold) == intent


def test_version_stamps_compare_like_the_stores_gmt_strings():
    moment = datetime(2026, 11, 27, 13, 5, 9, tzinfo=timezone(timedelta(hours=1)))
    assert version_stamp(moment) == "2026-11-27T12:05:09"
    assert version_stamp(moment) < version_stamp(moment + timedelta(seconds=1))
    assert version_stamp(None) is None


# --- routing ---------------------------------------------------------------------------------------------------

SITES = ["WH-EAST", "WH-WEST"]


def test_sites_follow_the_configured_priority_else_their_names():
    assert site_order(("WH-WEST", "WH-EAST"), ["WH-EAST", "WH-NORTH", "WH-WEST"]) == ["WH-WEST", "WH-EAST"]
    assert site_order((), ["WH-WEST", "WH-EAST"]) == SITES


def test_the_first_site_in_priority_that_holds_the_whole_order_comes_first():
    available = {"WH-EAST": {"A": 5, "B": 1}, "WH-WEST": {"A": 5, "B": 5}}
    options = reservation_options({"A": 2, "B": 2}, available, SITES, allow_split=False)
    assert options == [{"WH-WEST": {"A": 2, "B": 2}}]
    both = reservation_options({"A": 2, "B": 1}, available, SITES, allow_split=False)
    assert both == [{"WH-EAST": {"A": 2, "B": 1}}, {"WH-WEST": {"A": 2, "B": 1}}]


def test_a_split_is_greedy_per_sku_in_priority_order_and_only_when_allowed():
    available = {"WH-EAST": {"A": 3, "B": 0}, "WH-WEST": {"A": 4, "B": 2}}
    wanted = {"A": 5, "B": 2}
    assert reservation_options(wanted, available, SITES, allow_split=True) == [
        {"WH-EAST": {"A": 3}, "WH-WEST": {"A": 2, "B": 2}}]
    assert reservation_options(wanted, available, SITES, allow_split=False) == []
    assert shortage(wanted, available, SITES, allow_split=False) == (
        "insufficient stock for A (need 5, 4 at most at one of WH-EAST, WH-WEST)")
    apart = {"WH-EAST": {"A": 5}, "WH-WEST": {"B": 2}}
    assert reservation_options(wanted, apart, SITES, allow_split=False) == []
    assert shortage(wanted, apart, SITES, allow_split=False) == (
        "no single site can ship the whole order and split shipments are disabled")


def test_shortage_names_each_short_sku_with_what_is_there():
    available = {"WH-EAST": {"A": 1}, "WH-WEST": {"A": 1, "B": 9}}
    assert reservation_options({"A": 3, "B": 1}, available, SITES, allow_split=True) == []
    assert shortage({"A": 3, "B": 1}, available, SITES, allow_split=True) == (
        "insufficient stock for A (need 3, 2 available across WH-EAST, WH-WEST)")
