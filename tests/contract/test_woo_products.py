"""The WooCommerce sandbox's catalog REST API (products, variations, batch) through the real `woocommerce` client
over OAuth: pagination, id oddities, SKU search, batch limits and per-item errors, the stock write rules and the
webhook topics each write fires (reference §2.2, §2.3, §2.7, §2.8, §6)."""
from __future__ import annotations

from typing import Iterator

import pytest
import requests
import woocommerce

from retail_sync.sandbox import runner
from retail_sync.sandbox.woocommerce.app import WooSandbox
from tests.contract.woo_shop import hooks_since

VARIABLE = {"sku": "HOODIE", "name": "Hoodie", "price": "40.00", "variations": [
    {"sku": "HOODIE-S", "name": "Hoodie S", "price": "40.00", "stock": {"WH-EAST": 2}},
    {"sku": "HOODIE-M", "name": "Hoodie M", "price": "42.50", "stock": {"WH-EAST": 0}},
]}


class Store:
    """A running store; `take_fired` reads the hooks it fired from its hook log (`GET /_sandbox/hooks`)."""

    def __init__(self, url: str) -> None:
        self.url = url
        self._mark = hooks_since(url)[1]
        self.api = woocommerce.API(url=url, consumer_key="ck_dev", consumer_secret="cs_dev", timeout=10)

    def seed(self, products: list[dict]) -> None:
        response = requests.post(f"{self.url}/_sandbox/seed", json={"sites": ["WH-EAST"], "products": products},
                                 timeout=10)
        assert response.status_code == 200, response.text

    def by_sku(self, sku: str) -> dict:
        (found,) = self.api.get("products", params={"sku": sku}).json()
        return found

    def take_fired(self) -> list[tuple[str, int]]:
        """The (topic, resource id) hooks fired since the last take (or since the store started), in order."""
        fired, self._mark = hooks_since(self.url, self._mark)
        return fired


@pytest.fixture
def store(sandbox_options) -> Iterator[Store]:
    sandbox = WooSandbox(sandbox_options)
    running = runner.start(sandbox_options, [(sandbox, sandbox_options.woo_port, False)])
    try:
        yield Store(running[0].url)
    finally:
        runner.stop(running)


def ok(response: requests.Response, status: int = 200) -> dict | list:
    assert response.status_code == status, response.text
    return response.json()


def error(response: requests.Response) -> tuple[int, str, str]:
    body = response.json()
    return response.status_code, body["code"], body["message"]


# ---- listing ------------------------------------------------------------------------------------------------
def test_pagination_headers_out_of_range_page_and_per_page_limit(store):
    store.seed([{"sku": f"P-{i:02d}", "name": f"Product {i:02d}", "price": "1.00"} for i in range(25)])
    page = store.api.get("products", params={"per_page": 10, "page": 2, "orderby": "id", "order": "asc"})
    assert [p["sku"] for p in ok(page)] == [f"P-{i:02d}" for i in range(10, 20)]
    assert (page.headers["X-WP-Total"], page.headers["X-WP-TotalPages"]) == ("25", "3")
    assert 'rel="prev"' in page.headers["Link"] and 'rel="next"' in page.headers["Link"]
    assert "page=1" in page.headers["Link"] and "page=3" in page.headers["Link"]
    beyond = store.api.get("products", params={"per_page": 10, "page": 4})
    assert ok(beyond) == [] and beyond.headers["X-WP-Total"] == "25" and beyond.headers["X-WP-TotalPages"] == "3"
    too_many = store.api.get("products", params={"per_page": 101})
    assert error(too_many) == (400, "rest_invalid_param", "Invalid parameter(s): per_page")
    assert too_many.json()["data"]["params"] == {"per_page": "per_page must be between 1 (inclusive) and 100 (inclusive)"}
    offset = store.api.get("products", params={"per_page": 5, "offset": 22, "orderby": "id", "order": "asc"})
    assert [p["sku"] for p in ok(offset)] == ["P-22", "P-23", "P-24"]


def test_filters_and_orders(store):
    store.seed([{"sku": "B-1", "name": "Banana", "price": "2.00"}, {"sku": "A-1", "name": "Apple", "price": "3.00"},
                VARIABLE])
    by_title = ok(store.api.get("products", params={"orderby": "title", "order": "asc"}))
    assert [p["name"] for p in by_title] == ["Apple", "Banana", "Hoodie"]
    assert [p["type"] for p in ok(store.api.get("products", params={"type": "variable"}))] == ["variable"]
    assert [p["name"] for p in ok(store.api.get("products", params={"search": "nan"}))] == ["Banana"]
    ids = [p["id"] for p in by_title]
    included = ok(store.api.get("products", params={"include": f"{ids[2]},{ids[0]}", "orderby": "include"}))
    assert [p["id"] for p in included] == [ids[2], ids[0]]
    assert ids[1] not in [p["id"] for p in ok(store.api.get("products", params={"exclude": str(ids[1])}))]
    assert error(store.api.get("products", params={"orderby": "colour"}))[:2] == (400, "rest_invalid_param")
    hoodie = store.by_sku("HOODIE")
    children = ok(store.api.get("products", params={"parent": str(hoodie["id"])}))
    assert children == []  # without `sku` the list holds products only; variations have their own route


def test_sku_filter_is_exact_comma_separated_and_finds_variations(store):
    store.seed([{"sku": "TEE", "name": "Tee", "price": "9.00"}, VARIABLE])
    found = ok(store.api.get("products", params={"sku": "TEE,HOODIE-M"}))
    assert sorted((p["sku"], p["type"]) for p in found) == [("HOODIE-M", "variation"), ("TEE", "simple")]
    assert ok(store.api.get("products", params={"sku": "HOODIE-"})) == []
    variation = store.by_sku("HOODIE-S")
    assert variation["parent_id"] == store.by_sku("HOODIE")["id"]
    assert variation["_links"]["up"][0]["href"].endswith(f"/wp-json/wc/v3/products/{variation['parent_id']}")


# ---- single objects and their odd statuses ----------------------------------------------------------------------
def test_product_shape_matches_a_real_store(store):
    store.seed([{"sku": "TEE", "name": "Tee", "price": "19.90", "stock": {"WH-EAST": 4}}])
    product = store.by_sku("TEE")
    assert (product["price"], product["regular_price"], product["sale_price"]) == ("19.90", "19.90", "")
    assert product["stock_quantity"] == 4 and product["manage_stock"] is True
    assert product["stock_status"] == "instock" and product["backorders"] == "no"
    assert len(product["date_created"]) == 19 and "+" not in product["date_created"]
    assert product["date_created"] != product["date_created_gmt"]  # the site timezone is not UTC
    assert product["_links"]["self"][0]["href"].endswith(f"/wp-json/wc/v3/products/{product['id']}")
    raw = requests.get(f"{store.url}/wp-json/wc/v3/products/{product['id']}", auth=None, timeout=5)
    assert raw.status_code == 401  # anonymous; the body below is read through the client
    text = store.api.get(f"products/{product['id']}").text
    assert "http:\\/\\/" in text  # wp_json_encode escapes slashes


def test_unknown_ids_and_create_conflicts(store):
    store.seed([{"sku": "TEE", "name": "Tee", "price": "9.00"}, VARIABLE])
    assert error(store.api.get("products/999999")) == (404, "woocommerce_rest_product_invalid_id", "Invalid ID.")
    assert error(store.api.put("products/999999", {"name": "x"})) == (
        400, "woocommerce_rest_product_invalid_id", "Invalid ID.")
    assert error(store.api.delete("products/999999")) == (404, "woocommerce_rest_product_invalid_id", "Invalid ID.")
    assert error(store.api.post("products", {"id": 5, "name": "x"})) == (
        400, "woocommerce_rest_product_exists", "Cannot create existing product.")
    duplicate = store.api.post("products", {"name": "Other tee", "sku": "TEE"})
    assert error(duplicate) == (400, "product_invalid_sku", "Invalid or duplicated SKU.")
    assert duplicate.json()["data"] == {"status": 400, "resource_id": store.by_sku("TEE")["id"]}
    variation = store.by_sku("HOODIE-S")
    code, _, message = error(store.api.put(f"products/{variation['id']}", {"name": "x"}))
    assert (code, message) == (404, "To manipulate product variations you should use the "
                                    "/products/&lt;product_id&gt;/variations/&lt;id&gt; endpoint.")
    wrong_type = store.api.post("products", {"name": "Cheap", "regular_price": 9.5})
    assert error(wrong_type) == (400, "rest_invalid_param", "Invalid parameter(s): regular_price")
    assert wrong_type.json()["data"]["params"] == {"regular_price": "regular_price is not of type string."}
    ledger = requests.get(f"{store.url}/_sandbox/ledger", timeout=5).json()["creates"]
    assert [c["outcome"] for c in ledger["product:TEE"]] == ["rejected"]


def test_create_update_and_webhook_topics(store):
    created = ok(store.api.post("products", {"name": "Mug", "sku": "MUG", "regular_price": "7.00"}), 201)
    assert created["status"] == "publish" and created["slug"] == "mug"
    ok(store.api.put(f"products/{created['id']}", {"sale_price": "5.00"}))
    product = store.by_sku("MUG")
    assert (product["price"], product["on_sale"]) == ("5.00", True)
    assert store.take_fired() == [("product.created", created["id"]), ("product.updated", created["id"])]
    ledger = requests.get(f"{store.url}/_sandbox/ledger", timeout=5).json()["creates"]
    assert ledger["product:MUG"][0]["outcome"] == "created"
    counts = requests.get(f"{store.url}/_sandbox/state", timeout=5).json()
    assert (counts["products"], counts["variations"]) == (1, 0)


def test_delete_trashes_then_410_then_force_deletes(store):
    store.seed([{"sku": "TEE", "name": "Tee", "price": "9.00"}])
    product_id = store.by_sku("TEE")["id"]
    trashed = ok(store.api.delete(f"products/{product_id}"))
    assert trashed["id"] == product_id
    assert ok(store.api.get(f"products/{product_id}"))["status"] == "trash"
    assert ok(store.api.get("products")) == []
    assert [p["id"] for p in ok(store.api.get("products", params={"status": "trash"}))] == [product_id]
    assert error(store.api.delete(f"products/{product_id}")) == (
        410, "woocommerce_rest_already_trashed", "The product has already been deleted.")
    assert store.take_fired() == [("product.deleted", product_id)]
    restored = requests.post(f"{store.url}/_sandbox/products/{product_id}/restore", timeout=5)
    assert ok(restored)["status"] == "publish"
    assert store.take_fired() == [("product.restored", product_id)]
    ok(store.api.delete(f"products/{product_id}", params={"force": "true"}))
    assert error(store.api.get(f"products/{product_id}"))[0] == 404
    assert store.take_fired() == []  # a permanent delete fires nothing


# ---- variations ---------------------------------------------------------------------------------------------
def test_variation_routes_and_topics(store):
    parent = ok(store.api.post("products", {"name": "Cap", "type": "variable", "attributes": [
        {"name": "Colour", "variation": True, "visible": True, "options": ["Red", "Blue"]}]}), 201)
    pid = parent["id"]
    red = ok(store.api.post(f"products/{pid}/variations", {
        "sku": "CAP-RED", "regular_price": "12.00", "manage_stock": True, "stock_quantity": 3,
        "attributes": [{"name": "Colour", "option": "Red"}]}), 201)
    assert red["attributes"] == [{"id": 0, "name": "Colour", "option": "Red"}]
    assert red["_links"]["up"][0]["href"].endswith(f"/products/{pid}")
    listed = store.api.get(f"products/{pid}/variations")
    assert [v["sku"] for v in ok(listed)] == ["CAP-RED"] and listed.headers["X-WP-Total"] == "1"
    assert ok(store.api.get(f"products/{pid}"))["variations"] == [red["id"]]
    assert ok(store.api.get(f"products/{pid}"))["price"] == "12.00"
    assert store.take_fired() == [("product.created", pid), ("product.created", red["id"]), ("product.updated", pid)]
    other = ok(store.api.post("products", {"name": "Other", "type": "variable"}), 201)
    mismatch = store.api.put(f"products/{other['id']}/variations/{red['id']}", {"regular_price": "1.00"})
    assert error(mismatch) == (403, "woocommerce_rest_cannot_edit", "Parent product does not match current variation.")
    assert error(store.api.put(f"products/{pid}/variations/999999", {"sku": "x"})) == (
        400, "woocommerce_rest_product_variation_invalid_id", "Invalid ID.")
    assert error(store.api.get(f"products/{pid}/variations/999999"))[:2] == (
        404, "woocommerce_rest_product_variation_invalid_id")
    ok(store.api.delete(f"products/{pid}/variations/{red['id']}"))
    assert error(store.api.delete(f"products/{pid}/variations/{red['id']}")) == (
        410, "woocommerce_rest_already_trashed", "The product_variation has already been deleted.")
    assert ("product.deleted", red["id"]) in store.take_fired()


# ---- batch ----------------------------------------------------------------------------------------------------
def test_batch_limit_and_per_item_errors(store):
    store.seed([{"sku": "TEE", "name": "Tee", "price": "9.00"}, {"sku": "OLD", "name": "Old", "price": "1.00"}])
    too_many = store.api.post("products/batch", {"create": [{"name": f"n{i}"} for i in range(60)],
                                                 "delete": list(range(1, 42))})
    assert error(too_many) == (413, "woocommerce_rest_request_entity_too_large",
                               "Unable to accept more than 100 items for this request.")
    tee, old = store.by_sku("TEE"), store.by_sku("OLD")
    result = ok(store.api.post("products/batch", {
        "create": [{"name": "Sock", "sku": "SOCK", "regular_price": 4.5}, {"name": "Dup", "sku": "TEE"}],
        "update": [{"id": tee["id"], "regular_price": "11.00"}, {"id": 999999, "name": "ghost"}],
        "delete": [old["id"]],
    }))
    assert result["create"][0]["sku"] == "SOCK" and result["create"][0]["price"] == "4.5"  # batch skips validation
    assert result["create"][1] == {"id": 0, "error": {"code": "product_invalid_sku",
                                                      "message": "Invalid or duplicated SKU.",
                                                      "data": {"status": 400, "resource_id": tee["id"]}}}
    assert result["update"][0]["regular_price"] == "11.00"
    assert result["update"][1] == {"id": 999999, "error": {"code": "woocommerce_rest_product_invalid_id",
                                                           "message": "Invalid ID.", "data": {"status": 400}}}
    assert result["delete"][0]["id"] == old["id"]
    assert error(store.api.get(f"products/{old['id']}"))[0] == 404  # batch deletes are permanent
    assert sorted(store.take_fired()) == sorted([("product.created", result["create"][0]["id"]),
                                                 ("product.updated", tee["id"])])


def test_variation_batch_injects_the_parent(store):
    store.seed([VARIABLE])
    parent, small = store.by_sku("HOODIE"), store.by_sku("HOODIE-S")
    result = ok(store.api.post(f"products/{parent['id']}/variations/batch", {
        "create": [{"sku": "HOODIE-L", "regular_price": "45.00"}],
        "update": [{"id": small["id"], "stock_quantity": 9}],
    }))
    assert result["create"][0]["_links"]["up"][0]["href"].endswith(f"/products/{parent['id']}")
    assert result["update"][0]["stock_quantity"] == 9
    assert store.by_sku("HOODIE-L")["parent_id"] == parent["id"]


# ---- stock rules ---------------------------------------------------------------------------------------------
def test_stock_quantity_is_ignored_while_stock_is_not_managed(store):
    made = ok(store.api.post("products", {"name": "Free", "regular_price": "1.00", "stock_quantity": 5}), 201)
    assert (made["manage_stock"], made["stock_quantity"]) == (False, None)
    updated = ok(store.api.put(f"products/{made['id']}", {"stock_quantity": 8}))
    assert updated["stock_quantity"] is None
    managed = ok(store.api.put(f"products/{made['id']}", {"manage_stock": True, "stock_quantity": 8,
                                                          "backorders": "notify"}))
    assert (managed["stock_quantity"], managed["backorders"]) == (8, "notify")
    cleared = ok(store.api.put(f"products/{made['id']}", {"manage_stock": False}))
    assert (cleared["stock_quantity"], cleared["backorders"], cleared["stock_status"]) == (None, "no", "instock")


def test_inventory_delta_negative_stock_and_recomputed_status(store):
    store.seed([{"sku": "TEE", "name": "Tee", "price": "9.00", "stock": {"WH-EAST": 5}}])
    tee = store.by_sku("TEE")
    assert ok(store.api.put(f"products/{tee['id']}", {"inventory_delta": 3}))["stock_quantity"] == 8
    kept = ok(store.api.put(f"products/{tee['id']}", {"stock_status": "outofstock"}))
    assert kept["stock_status"] == "instock"  # recomputed from the quantity while stock is managed
    short = ok(store.api.put(f"products/{tee['id']}", {"inventory_delta": -10}))
    assert (short["stock_quantity"], short["stock_status"], short["backordered"]) == (-2, "outofstock", False)
    backorder = ok(store.api.put(f"products/{tee['id']}", {"backorders": "yes", "stock_quantity": -4}))
    assert (backorder["stock_quantity"], backorder["stock_status"], backorder["backordered"]) == (
        -4, "onbackorder", True)


def test_variable_parent_stock_status_follows_its_variations(store):
    store.seed([VARIABLE])
    parent, small = store.by_sku("HOODIE"), store.by_sku("HOODIE-S")
    assert parent["stock_status"] == "instock" and parent["manage_stock"] is False
    ok(store.api.put(f"products/{parent['id']}/variations/{small['id']}", {"stock_quantity": 0}))
    assert store.by_sku("HOODIE")["stock_status"] == "outofstock"
    medium = store.by_sku("HOODIE-M")
    ok(store.api.put(f"products/{parent['id']}/variations/{medium['id']}", {"inventory_delta": 2}))
    assert store.by_sku("HOODIE")["stock_status"] == "instock"


def test_variation_stock_managed_by_the_parent(store):
    store.seed([VARIABLE])
    parent, small = store.by_sku("HOODIE"), store.by_sku("HOODIE-S")
    ok(store.api.put(f"products/{parent['id']}", {"manage_stock": True, "stock_quantity": 10}))
    refused = store.api.put(f"products/{parent['id']}/variations/{small['id']}", {"manage_stock": "parent"})
    assert error(refused) == (400, "rest_invalid_param", "Invalid parameter(s): manage_stock")  # a boolean on write
    variation = ok(store.api.put(f"products/{parent['id']}/variations/{small['id']}",
                                 {"manage_stock": False, "stock_quantity": 99}))
    assert (variation["manage_stock"], variation["stock_quantity"]) == ("parent", 10)
    assert store.by_sku("HOODIE-S")["manage_stock"] == "parent"
    medium = store.by_sku("HOODIE-M")
    batch = ok(store.api.post(f"products/{parent['id']}/variations/batch",
                              {"update": [{"id": medium["id"], "manage_stock": "parent"}]}))
    assert (batch["update"][0]["manage_stock"], batch["update"][0]["stock_quantity"]) == ("parent", 10)
    ok(store.api.put(f"products/{parent['id']}", {"manage_stock": False}))
    assert (store.by_sku("HOODIE-S")["manage_stock"], store.by_sku("HOODIE-S")["stock_quantity"]) == (False, None)


def test_fields_parameter_keeps_only_the_named_keys(sandbox_options, serve):
    """`_fields` is applied by the WordPress REST server to every route: top-level and `a.b` nested keys."""
    url = serve(WooSandbox, sandbox_options)
    requests.post(f"{url}/_sandbox/seed", json={"sites": ["WH-EAST"], "products": [
        {"sku": "F-1", "name": "Fields", "price": "3.00", "stock": {"WH-EAST": 4}}]}, timeout=10).raise_for_status()
    api = woocommerce.API(url=url, consumer_key=sandbox_options.woo_consumer_key,
                          consumer_secret=sandbox_options.woo_consumer_secret, timeout=10)
    response = api.get("products", params={"sku": "F-1", "_fields": "id,sku,stock_quantity,_links.self,nope"})
    assert response.status_code == 200
    (product,) = response.json()
    assert set(product) == {"id", "sku", "stock_quantity", "_links"}
    assert set(product["_links"]) == {"self"} and product["stock_quantity"] == 4
    assert response.headers["X-WP-Total"] == "1"
    missing = api.get("products/999999", params={"_fields": "id"})
    assert missing.status_code == 404 and missing.json()["code"] == "woocommerce_rest_product_invalid_id"


# ---- catalog filters ----------------------------------------------------------------------------------------
def _ids(response: requests.Response) -> list[int]:
    return sorted(p["id"] for p in ok(response))


def test_stock_status_filter_matches_what_each_product_shows(store):
    store.seed([{"sku": "FULL", "name": "Full", "price": "5.00", "stock": {"WH-EAST": 3}},
                {"sku": "EMPTY", "name": "Empty", "price": "5.00", "stock": {"WH-EAST": 0}},
                {"sku": "BACK", "name": "Back", "price": "5.00", "stock": {"WH-EAST": 0}},
                {"sku": "LOOSE", "name": "Loose", "price": "5.00", "stock": {}, "manage_stock": False},
                {"sku": "GONE", "name": "Gone", "price": "5.00", "stock": {}, "manage_stock": False},
                VARIABLE,
                {"sku": "CAP", "name": "Cap", "price": "9.00", "variations": [
                    {"sku": "CAP-S", "name": "Cap S", "price": "9.00", "stock": {"WH-EAST": 0}}]}])
    ok(store.api.put(f"products/{store.by_sku('BACK')['id']}", {"backorders": "notify"}))
    ok(store.api.put(f"products/{store.by_sku('GONE')['id']}", {"stock_status": "outofstock"}))
    everything = ok(store.api.get("products", params={"per_page": 100}))
    assert {p["sku"]: p["stock_status"] for p in everything} == {
        "FULL": "instock", "EMPTY": "outofstock", "BACK": "onbackorder", "LOOSE": "instock", "GONE": "outofstock",
        "HOODIE": "instock", "CAP": "outofstock"}
    for status in ("instock", "outofstock", "onbackorder"):
        filtered = store.api.get("products", params={"stock_status": status, "per_page": 100})
        assert _ids(filtered) == sorted(p["id"] for p in everything if p["stock_status"] == status), status
        assert filtered.headers["X-WP-Total"] == str(len(ok(filtered)))
    # with `sku` the query takes variations too: what reconciliation asks
    asked = {"sku": "HOODIE-S,HOODIE-M,CAP-S,FULL", "stock_status": "outofstock"}
    assert sorted(p["sku"] for p in ok(store.api.get("products", params=asked))) == ["CAP-S", "HOODIE-M"]
    hoodie = store.by_sku("HOODIE")
    in_stock = store.api.get(f"products/{hoodie['id']}/variations", params={"stock_status": "instock"})
    assert [v["sku"] for v in ok(in_stock)] == ["HOODIE-S"]
    bad = store.api.get("products", params={"stock_status": "sold-out"})
    assert error(bad) == (400, "rest_invalid_param", "Invalid parameter(s): stock_status")
    assert bad.json()["data"]["params"] == {
        "stock_status": "stock_status is not one of instock, outofstock, and onbackorder."}


def test_tax_class_on_sale_featured_price_and_taxonomy_filters(store):
    store.seed([{"sku": "STD", "name": "Standard", "price": "10.00"},
                {"sku": "RED", "name": "Reduced", "price": "20.00", "tax_class": "reduced-rate"},
                {"sku": "SALE", "name": "Sale", "price": "30.00"}, VARIABLE])
    ids = {sku: store.by_sku(sku)["id"] for sku in ("STD", "RED", "SALE", "HOODIE", "HOODIE-M")}
    ok(store.api.put(f"products/{ids['SALE']}", {"sale_price": "25.00", "featured": True}))
    ok(store.api.put(f"products/{ids['HOODIE']}/variations/{ids['HOODIE-M']}", {"sale_price": "39.00"}))

    def found(**params: object) -> list[int]:
        return _ids(store.api.get("products", params={"per_page": 100, **params}))

    assert found(tax_class="reduced-rate") == [ids["RED"]]
    assert found(tax_class="standard") == sorted([ids["STD"], ids["SALE"], ids["HOODIE"]])
    assert found(tax_class="zero-rate") == []
    assert found(on_sale="true") == sorted([ids["SALE"], ids["HOODIE"]])  # a variable one through its variation
    assert found(on_sale="false") == sorted([ids["STD"], ids["RED"]])
    assert found(featured="true") == [ids["SALE"]]
    assert found(featured="false") == sorted([ids["STD"], ids["RED"], ids["HOODIE"]])
    assert found(min_price="15", max_price="26") == sorted([ids["RED"], ids["SALE"]])  # sale price counts
    assert found(min_price="39") == sorted([ids["HOODIE"]])  # a child's price (39.00 on sale, 40.00)
    assert found(max_price="10") == [ids["STD"]]
    assert found(category="15") == sorted(ids[s] for s in ("STD", "RED", "SALE", "HOODIE"))
    assert found(category="16") == [] and found(tag="1") == []
    assert found(stock_status="outofstock", tax_class="standard", on_sale="false") == [ids["STD"]]  # no stock
    problems = store.api.get("products", params={"tax_class": "luxury", "on_sale": "maybe", "featured": "2"})
    assert error(problems)[:2] == (400, "rest_invalid_param")
    assert problems.json()["data"]["params"] == {
        "tax_class": "tax_class is not one of standard, reduced-rate, and zero-rate.",
        "featured": "featured is not of type boolean.", "on_sale": "on_sale is not of type boolean."}
