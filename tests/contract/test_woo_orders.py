"""Contract tests for the store sandbox's orders (reference/woocommerce.md §2.2–§2.6, §2.9, §3, §6): the order
object, the odd error statuses, partial updates, list filters and pagination, the local-time date filters, trash,
batch, notes, webhook topics and the stock rules — driven with the `woocommerce` client over OAuth."""
from __future__ import annotations

import datetime as dt
import re
from typing import Any, Iterator

import pytest

from tests.contract.woo_shop import Shop, open_shop

ORDER_KEYS = [
    "id", "parent_id", "number", "order_key", "created_via", "version", "status", "currency", "date_created",
    "date_created_gmt", "date_modified", "date_modified_gmt", "discount_total", "discount_tax", "shipping_total",
    "shipping_tax", "cart_tax", "total", "total_tax", "prices_include_tax", "customer_id", "customer_ip_address",
    "customer_user_agent", "customer_note", "billing", "shipping", "payment_method", "payment_method_title",
    "transaction_id", "date_paid", "date_paid_gmt", "date_completed", "date_completed_gmt", "cart_hash",
    "meta_data", "line_items", "tax_lines", "shipping_lines", "fee_lines", "coupon_lines", "refunds",
    "payment_url", "is_editable", "needs_payment", "needs_processing", "_links",
]
LINE_KEYS = ["id", "name", "product_id", "variation_id", "quantity", "tax_class", "subtotal", "subtotal_tax",
             "total", "total_tax", "taxes", "meta_data", "sku", "price", "image", "parent_name"]
WC_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}$")
MONEY = re.compile(r"^-?\d+\.\d{2}$")


@pytest.fixture
def shop(sandbox_options) -> Iterator[Shop]:
    with open_shop(sandbox_options) as opened:
        yield opened


def line(sku: str, quantity: int = 1, **extra: Any) -> dict[str, Any]:
    return {"sku": sku, "quantity": quantity, **extra}


# ---- the order object -----------------------------------------------------------------------------------------------
def test_a_created_order_has_the_keys_and_types_of_a_real_store(shop):
    response = shop.api.post("orders", {"line_items": [line("MUG", 3), line("TEE-S")],
                                        "billing": {"first_name": "Zoë", "email": "zoe@example.com"}})
    assert response.status_code == 201
    order = response.json()
    assert response.headers["Location"] == f"{shop.url}/wp-json/wc/v3/orders/{order['id']}"
    assert list(order) == ORDER_KEYS
    assert order["number"] == str(order["id"])
    assert re.fullmatch(r"wc_order_[A-Za-z0-9]{13}", order["order_key"])
    assert (order["created_via"], order["status"], order["currency"]) == ("rest-api", "pending", "EUR")
    assert order["prices_include_tax"] is False and order["customer_id"] == 0
    for key in ("date_created", "date_created_gmt", "date_modified", "date_modified_gmt"):
        assert WC_DATE.match(order[key]), key
    assert order["date_created"] != order["date_created_gmt"]  # Europe/Berlin is never UTC
    assert order["date_paid"] is None and order["date_completed"] is None
    for key in ("discount_total", "discount_tax", "shipping_total", "shipping_tax", "cart_tax", "total", "total_tax"):
        assert MONEY.match(order[key]), key
    assert order["total"] == "88.89"  # 59.70 + 15.00 + 11.34 + 2.85
    assert (order["needs_payment"], order["needs_processing"], order["is_editable"]) == (True, True, True)
    assert order["payment_url"] == (f"{shop.url}/checkout/order-pay/{order['id']}/?pay_for_order=true"
                                    f"&key={order['order_key']}")
    assert order["_links"]["self"] == [{"href": f"{shop.url}/wp-json/wc/v3/orders/{order['id']}"}]
    assert "email" not in order["shipping"] and order["billing"]["first_name"] == "Zoë"
    mug, tee = order["line_items"]
    assert list(mug) == LINE_KEYS
    assert (mug["sku"], mug["quantity"], mug["subtotal"], mug["total"]) == ("MUG", 3, "59.70", "59.70")
    assert isinstance(mug["price"], float) and mug["price"] == pytest.approx(19.9)
    assert mug["taxes"] == [{"id": 1, "total": "11.34", "subtotal": "11.34"}]
    assert (mug["variation_id"], mug["parent_name"]) == (0, None)
    assert tee["variation_id"] == shop.product("TEE-S")["id"] and tee["product_id"] == shop.product("TEE")["id"]
    assert tee["parent_name"] == "Tee"


def test_unknown_ids_are_404_on_get_and_delete_but_400_on_put(shop):
    for method, status in (("get", 404), ("delete", 404), ("put", 400)):
        call = getattr(shop.api, method)
        response = call("orders/999", {"status": "completed"}) if method == "put" else call("orders/999")
        assert response.status_code == status, method
        assert response.json() == {"code": "woocommerce_rest_shop_order_invalid_id", "message": "Invalid ID.",
                                   "data": {"status": status}}


def test_create_refusals_use_the_stores_codes_and_create_nothing(shop):
    refusals = [
        ({"id": 5, "line_items": [line("MUG")]}, "woocommerce_rest_shop_order_exists"),
        ({"line_items": [{"quantity": 2}]}, "woocommerce_rest_required_product_reference"),
        ({"line_items": [line("MUG")], "customer_id": 4242}, "woocommerce_rest_invalid_customer_id"),
        ({"status": "shipped"}, "rest_invalid_param"),
        ({"coupon_lines": [{"code": "NOPE"}]}, "woocommerce_rest_invalid_coupon"),
    ]
    for body, code in refusals:
        response = shop.api.post("orders", body)
        assert (response.status_code, response.json()["code"]) == (400, code), body
    assert shop.state()["orders"] == 0
    assert shop.ledger_creates("order", "rest-api") == ["rejected"] * len(refusals)
    assert shop.stock("MUG") == 10


def test_an_unknown_sku_line_is_kept_unpriced_as_woocommerce_keeps_it(shop):
    order = shop.create(line_items=[line("NO-SUCH-SKU", 2)])
    (item,) = order["line_items"]
    assert (item["product_id"], item["sku"], item["total"], item["quantity"]) == (0, None, "0.00", 2)
    assert order["needs_processing"] is False


# ---- partial updates ------------------------------------------------------------------------------------------------
def test_put_adds_updates_and_removes_items_and_upserts_meta(shop):
    order = shop.create(line_items=[line("MUG"), line("PIN", 2)], meta_data=[{"key": "ref", "value": "A"}])
    mug, pin = order["line_items"]
    updated = shop.update(order["id"], line_items=[{"id": mug["id"], "quantity": 2},  # no total: keeps its amounts
                                                   {"id": pin["id"], "quantity": 0},  # removes
                                                   line("BOOK")],  # added
                          meta_data=[{"key": "ref", "value": "B"}, {"key": "other", "value": 1}])
    assert [(item["sku"], item["quantity"], item["total"]) for item in updated["line_items"]] == [
        ("MUG", 2, "19.90"), ("BOOK", 1, "12.50")]
    assert updated["total"] == "37.06"  # 19.90 + 3.78 + 12.50 + 0.88
    assert [(meta["key"], meta["value"]) for meta in updated["meta_data"]] == [("ref", "B"), ("other", 1)]
    ref_id = updated["meta_data"][0]["id"]
    assert ref_id == order["meta_data"][0]["id"]
    priced = shop.update(order["id"], line_items=[{"id": mug["id"], "subtotal": "39.80", "total": "39.80"}],
                         meta_data=[{"id": ref_id, "key": "ref", "value": "C"}])
    assert priced["line_items"][0]["total_tax"] == "7.56" and priced["total"] == "60.74"
    assert priced["meta_data"][0] == {"id": ref_id, "key": "ref", "value": "C"}


def test_put_with_an_item_id_of_another_order_is_refused(shop):
    other = shop.create(line_items=[line("MUG")])
    order = shop.create(line_items=[line("PIN")])
    response = shop.api.put(f"orders/{order['id']}",
                            {"line_items": [{"id": other["line_items"][0]["id"], "quantity": 3}]})
    assert response.status_code == 400
    assert response.json()["code"] == "woocommerce_rest_invalid_item_id"
    assert shop.get(order["id"])["line_items"][0]["quantity"] == 1


def test_status_is_applied_last_with_a_note_and_any_transition_is_allowed(shop):
    order = shop.create(line_items=[line("POSTER")])
    completed = shop.update(order["id"], status="completed")
    assert completed["date_completed"] is not None and completed["date_paid"] is not None
    back = shop.update(order["id"], status="pending")
    assert back["status"] == "pending" and back["needs_payment"] is True
    assert shop.notes(order["id"]) == ["Order status changed from Pending payment to Completed.",
                                       "Order status changed from Completed to Pending payment."]


# ---- stock rules ----------------------------------------------------------------------------------------------------
def test_processing_reduces_stock_once_with_a_note(shop):
    order = shop.create(line_items=[line("MUG", 3), line("TEE-M")], status="processing")
    assert (shop.stock("MUG"), shop.stock("TEE-M")) == (7, 1)
    assert shop.notes(order["id"]) == ["Stock levels reduced: Mug (MUG) 10&rarr;7, Tee - M (TEE-M) 2&rarr;1",
                                       "Order status changed from Pending payment to Processing."]
    assert order["line_items"][0]["meta_data"][0]["key"] == "_reduced_stock"
    shop.update(order["id"], status="on-hold")
    shop.update(order["id"], status="completed")
    assert shop.stock("MUG") == 7  # once per order


@pytest.mark.parametrize("status", ["on-hold", "completed"])
def test_on_hold_and_completed_reduce_stock_too(shop, status):
    shop.create(line_items=[line("BOOK", 2)], status=status)
    assert shop.stock("BOOK") == 3


def test_cancelled_and_pending_restore_failed_and_refunded_do_not(shop):
    order = shop.create(line_items=[line("MUG", 4)], status="processing")
    shop.update(order["id"], status="failed")
    assert shop.stock("MUG") == 6
    shop.update(order["id"], status="cancelled")
    assert shop.stock("MUG") == 10
    assert shop.notes(order["id"])[-2] == "Stock levels increased: Mug (MUG) 6&rarr;10"
    shop.update(order["id"], status="pending")
    assert shop.stock("MUG") == 10  # nothing left to restore
    second = shop.create(line_items=[line("MUG", 2)], status="on-hold")
    shop.update(second["id"], status="pending")
    assert shop.stock("MUG") == 10
    third = shop.create(line_items=[line("MUG", 1)], status="processing")
    shop.update(third["id"], status="refunded")
    assert shop.stock("MUG") == 9  # a refund by status restocks nothing


def test_set_paid_pays_on_create_and_only_orders_that_need_payment(shop):
    paid = shop.create(line_items=[line("MUG", 3)], set_paid=True)
    assert (paid["status"], shop.stock("MUG")) == ("processing", 7)
    assert paid["date_paid"] is not None and paid["needs_payment"] is False
    again = shop.update(paid["id"], set_paid=True, status="on-hold")
    assert (again["status"], shop.stock("MUG")) == ("on-hold", 7)
    failed = shop.create(line_items=[line("PIN")], status="failed")
    assert shop.update(failed["id"], set_paid=True)["status"] == "processing"
    free = shop.create(line_items=[line("NO-SUCH-SKU")])  # total 0: needs no payment
    assert shop.update(free["id"], set_paid=True)["status"] == "pending"


def test_a_line_update_on_an_order_that_reduced_stock_moves_stock_by_the_difference(shop):
    order = shop.create(line_items=[line("CARD", 5)], status="processing")
    item_id = order["line_items"][0]["id"]
    shop.update(order["id"], line_items=[{"id": item_id, "quantity": 8}])
    assert shop.stock("CARD") == 42
    shop.update(order["id"], line_items=[{"id": item_id, "quantity": 2}])
    assert shop.stock("CARD") == 48
    pending = shop.create(line_items=[line("CARD", 1)])
    shop.update(pending["id"], line_items=[{"id": pending["line_items"][0]["id"], "quantity": 9}])
    assert shop.stock("CARD") == 48  # nothing was reduced for a pending order


def test_stock_may_go_negative_through_rest(shop):
    shop.create(line_items=[line("BOOK", 8)], status="processing")
    book = shop.product("BOOK")
    assert (book["stock_quantity"], book["stock_status"]) == (-3, "outofstock")


# ---- list, filters, pagination --------------------------------------------------------------------------------------
def test_status_filter_takes_csv_or_an_array_and_refuses_unknown_values(sandbox_options):
    with open_shop(sandbox_options, behind_tls=True) as shop:  # Basic auth, to send repeated keys as written
        ids = {}
        for status in ("pending", "processing", "completed"):
            response = shop.raw("POST", "orders", json={"line_items": [line("PIN")], "status": status})
            ids[status] = response.json()["id"]

        def listed(query: str) -> list[int]:
            response = shop.raw("GET", f"orders?{query}")
            assert response.status_code == 200, response.text
            return sorted(order["id"] for order in response.json())

        assert listed("status=processing,completed") == sorted([ids["processing"], ids["completed"]])
        assert listed("status[]=pending&status[]=completed") == sorted([ids["pending"], ids["completed"]])
        assert listed("status=pending&status=completed") == [ids["completed"]]  # PHP keeps the last one
        assert listed("") == sorted(ids.values())
        response = shop.raw("GET", "orders?status=shipped")
        assert response.status_code == 400
        assert response.json()["code"] == "rest_invalid_param"
        assert response.json()["data"]["params"]["status"].startswith("status[0] is not one of any, trash,")


def test_customer_product_search_include_exclude_and_orderby(shop):
    customer = shop.api.post("customers", {"email": "ada@example.com", "first_name": "Ada"}).json()
    first = shop.create(line_items=[line("TEE-S")], customer_id=customer["id"])
    second = shop.create(line_items=[line("MUG")], billing={"last_name": "Lovelace"})
    third = shop.create(line_items=[line("MUG"), line("PIN")])
    by_customer = shop.api.get("orders", params={"customer": customer["id"]}).json()
    assert [order["id"] for order in by_customer] == [first["id"]]
    assert first["_links"]["customer"] == [{"href": f"{shop.url}/wp-json/wc/v3/customers/{customer['id']}"}]
    by_parent_product = shop.api.get("orders", params={"product": shop.product("TEE")["id"]}).json()
    assert [order["id"] for order in by_parent_product] == [first["id"]]
    by_product = shop.api.get("orders", params={"product": shop.product("MUG")["id"]}).json()
    assert [order["id"] for order in by_product] == [third["id"], second["id"]]
    assert [o["id"] for o in shop.api.get("orders", params={"search": "lovelace"}).json()] == [second["id"]]
    included = shop.api.get("orders", params={"include": f"{second['id']},{first['id']}", "orderby": "include"})
    assert [order["id"] for order in included.json()] == [second["id"], first["id"]]
    excluded = shop.api.get("orders", params={"exclude": second["id"], "orderby": "id", "order": "asc"}).json()
    assert [order["id"] for order in excluded] == [first["id"], third["id"]]


def test_pagination_headers_links_offset_and_per_page_limit(shop):
    ids = [shop.create(line_items=[line("PIN")])["id"] for _ in range(3)]
    first = shop.api.get("orders", params={"per_page": 2})
    assert (first.headers["X-WP-Total"], first.headers["X-WP-TotalPages"]) == ("3", "2")
    assert [order["id"] for order in first.json()] == [ids[2], ids[1]]  # date desc, ID breaks the tie
    assert 'rel="next"' in first.headers["Link"] and "page=2" in first.headers["Link"]
    second = shop.api.get("orders", params={"per_page": 2, "page": 2})
    assert [order["id"] for order in second.json()] == [ids[0]]
    assert 'rel="prev"' in second.headers["Link"] and 'rel="next"' not in second.headers["Link"]
    beyond = shop.api.get("orders", params={"per_page": 2, "page": 5})
    assert beyond.status_code == 200 and beyond.json() == [] and beyond.headers["X-WP-Total"] == "3"
    offset = shop.api.get("orders", params={"per_page": 1, "offset": 1, "order": "asc"})
    assert [order["id"] for order in offset.json()] == [ids[1]]
    too_many = shop.api.get("orders", params={"per_page": 101})
    assert too_many.status_code == 400 and too_many.json()["code"] == "rest_invalid_param"


def test_date_filters_are_exclusive_and_read_as_site_local_time_unless_dates_are_gmt(shop):
    order = shop.create(line_items=[line("PIN")])
    created_gmt = dt.datetime.fromisoformat(order["date_created_gmt"])

    def found(**params: Any) -> bool:
        response = shop.api.get("orders", params=params)
        assert response.status_code == 200, response.text
        return order["id"] in [listed["id"] for listed in response.json()]

    def stamp(moment: dt.datetime) -> str:
        return moment.strftime("%Y-%m-%dT%H:%M:%S")

    assert found(after=stamp(created_gmt - dt.timedelta(seconds=1)), dates_are_gmt="true")
    assert not found(after=order["date_created_gmt"], dates_are_gmt="true")  # exclusive
    assert found(before=stamp(created_gmt + dt.timedelta(seconds=1)), dates_are_gmt="true")
    assert found(after=stamp(dt.datetime.fromisoformat(order["date_created"]) - dt.timedelta(seconds=1)))
    assert not found(after=order["date_created"])
    # the integrator's bug: a UTC bound with a Z, without dates_are_gmt, is read as Berlin wall time — hours off
    half_hour_later = stamp(created_gmt + dt.timedelta(minutes=30)) + "Z"
    assert not found(after=half_hour_later, dates_are_gmt="true")
    assert found(after=half_hour_later)
    assert found(modified_after=stamp(created_gmt - dt.timedelta(seconds=1)), dates_are_gmt="true")
    bad = shop.api.get("orders", params={"after": "2026-01-01"})
    assert bad.status_code == 400 and bad.json()["data"]["params"] == {"after": "Invalid date."}


# ---- trash, delete, batch -------------------------------------------------------------------------------------------
def test_delete_trashes_then_410_and_force_deletes_without_a_webhook(shop):
    order = shop.create(line_items=[line("PIN")], status="processing")
    trashed = shop.api.delete(f"orders/{order['id']}")
    assert trashed.status_code == 200 and trashed.json()["status"] == "processing"  # the order as it was
    assert shop.get(order["id"])["status"] == "trash"
    assert order["id"] not in [o["id"] for o in shop.api.get("orders").json()]
    assert [o["id"] for o in shop.api.get("orders", params={"status": "trash"}).json()] == [order["id"]]
    again = shop.api.delete(f"orders/{order['id']}")
    assert (again.status_code, again.json()["code"]) == (410, "woocommerce_rest_already_trashed")
    restored = shop.update(order["id"], status="on-hold")
    assert restored["status"] == "on-hold"
    gone = shop.api.delete(f"orders/{order['id']}", params={"force": "true"})
    assert gone.status_code == 200
    assert shop.api.get(f"orders/{order['id']}").status_code == 404
    assert shop.topics(order["id"]) == ["order.created", "order.updated", "order.deleted", "order.restored",
                                        "order.updated"]


def test_batch_is_limited_to_100_items_and_reports_errors_per_item(shop):
    existing = shop.create(line_items=[line("PIN")])
    too_big = shop.api.post("orders/batch", {"create": [{}] * 60, "delete": list(range(41))})
    assert too_big.status_code == 413
    assert too_big.json()["code"] == "woocommerce_rest_request_entity_too_large"
    response = shop.api.post("orders/batch", {
        "create": [{"line_items": [line("MUG")]}, {"line_items": [{"quantity": 1}]}],
        "update": [{"id": existing["id"], "status": "completed"}, {"id": 9999, "status": "completed"}],
        "delete": [9998],
    })
    assert response.status_code == 200
    body = response.json()
    assert body["create"][0]["line_items"][0]["sku"] == "MUG"
    assert body["create"][1] == {"id": 0, "error": {"code": "woocommerce_rest_required_product_reference",
                                                    "message": "Product ID or SKU is required.",
                                                    "data": {"status": 400}}}
    assert body["update"][0]["status"] == "completed"
    assert body["update"][1]["id"] == 9999 and body["update"][1]["error"]["data"] == {"status": 400}
    assert body["delete"][0]["error"]["code"] == "woocommerce_rest_shop_order_invalid_id"


# ---- webhook topics and notes ---------------------------------------------------------------------------------------
def test_webhook_topics_fired_by_creates_updates_and_drafts(shop):
    order = shop.create(line_items=[line("PIN")])
    shop.update(order["id"], customer_note="leave at the door")
    draft = shop.create(line_items=[line("PIN")], status="checkout-draft")
    shop.api.post(f"orders/{order['id']}/notes", {"note": "called the customer"})
    assert shop.topics(order["id"]) == ["order.created", "order.updated", "order.updated"]
    assert shop.topics(draft["id"]) == ["order.updated"]  # drafts never announce order.created


def test_notes_resource(shop):
    order = shop.create(line_items=[line("PIN")])
    created = shop.api.post(f"orders/{order['id']}/notes", {"note": "Shipped with DHL", "customer_note": True})
    assert created.status_code == 201
    note = created.json()
    assert created.headers["Location"] == f"{shop.url}/wp-json/wc/v3/orders/{order['id']}/notes/{note['id']}"
    assert (note["author"], note["note"], note["customer_note"]) == ("system", "Shipped with DHL", True)
    assert WC_DATE.match(note["date_created"]) and WC_DATE.match(note["date_created_gmt"])
    shop.api.post(f"orders/{order['id']}/notes", {"note": "internal", "added_by_user": True})
    by_type = {kind: [n["note"] for n in shop.api.get(f"orders/{order['id']}/notes", params={"type": kind}).json()]
               for kind in ("any", "customer", "internal")}
    assert by_type == {"any": ["internal", "Shipped with DHL"], "customer": ["Shipped with DHL"],
                       "internal": ["internal"]}
    assert shop.api.get(f"orders/{order['id']}/notes/{note['id']}").json()["note"] == "Shipped with DHL"
    missing = shop.api.post("orders/999/notes", {"note": "x"})
    assert (missing.status_code, missing.json()["code"]) == (404, "woocommerce_rest_order_invalid_id")
    not_forced = shop.api.delete(f"orders/{order['id']}/notes/{note['id']}")
    assert (not_forced.status_code, not_forced.json()["code"]) == (501, "woocommerce_rest_trash_not_supported")
    assert shop.api.delete(f"orders/{order['id']}/notes/{note['id']}", params={"force": "true"}).status_code == 200
    assert shop.api.get(f"orders/{order['id']}/notes/{note['id']}").status_code == 404
    assert shop.ledger_creates("order_note", f"{order['id']}:Shipped with DHL") == ["created"]
