"""The WMS mapper, on bodies shaped as docs/wms-api.md shows them."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from retail_sync.connectors.ports import FulfilmentLine, FulfilmentRequest, WmsFulfilment, WmsStock
from retail_sync.connectors.wms import mapper
from retail_sync.errors import Conflict, NotCancellable, PermanentError, RecordGone

ORDER = {
    "id": "FO-000001", "external_ref": "WC-1042/WH-EAST", "site": "WH-EAST", "status": "released",
    "lines": [{"sku": "MUG-BLUE", "quantity": 2, "shipped_quantity": 0}],
    "ship_to": {"name": "Ada Lovelace"}, "shipments": [],
    "created_at": "2024-05-01T09:30:00.123Z", "updated_at": "2024-05-01T09:30:00.123Z",
    "acknowledged_at": None, "picked_at": None, "shipped_at": None, "cancelled_at": None,
}


def test_a_fulfilment_request_becomes_the_create_body():
    request = FulfilmentRequest(external_ref="WC-1042/WH-EAST", site="WH-EAST",
                                lines=(FulfilmentLine("MUG-BLUE", 2), FulfilmentLine("PLATE-10", 1)),
                                ship_to={"name": "Ada Lovelace", "city": "Berlin", "country": "DE"})
    assert mapper.fulfilment_body(request) == {
        "external_ref": "WC-1042/WH-EAST", "site": "WH-EAST",
        "lines": [{"sku": "MUG-BLUE", "quantity": 2}, {"sku": "PLATE-10", "quantity": 1}],
        "ship_to": {"name": "Ada Lovelace", "city": "Berlin", "country": "DE"},
    }
    assert mapper.fulfilment_body(request) == mapper.fulfilment_body(request)  # a retry sends the same release


def test_an_order_answer_becomes_a_fulfilment():
    assert mapper.fulfilment_from_json(ORDER) == WmsFulfilment(id="FO-000001", external_ref="WC-1042/WH-EAST",
                                                               site="WH-EAST", status="released")


def test_a_stock_row_has_an_aware_utc_time():
    stock = mapper.stock_from_json({"sku": "MUG-BLUE", "site": "WH-EAST", "on_hand": 10, "allocated": 2,
                                    "updated_at": "2024-05-01T09:30:00.123Z"})
    assert stock == WmsStock(sku="MUG-BLUE", site="WH-EAST", on_hand=10, allocated=2,
                             updated_at=datetime(2024, 5, 1, 9, 30, 0, 123000, tzinfo=timezone.utc))
    assert stock.updated_at.utcoffset() == timedelta(0)


@pytest.mark.parametrize("text, expected", [
    ("2024-05-01T09:30:00.123Z", datetime(2024, 5, 1, 9, 30, 0, 123000, tzinfo=timezone.utc)),
    ("2024-05-01T11:30:00+02:00", datetime(2024, 5, 1, 9, 30, tzinfo=timezone.utc)),
    ("2024-05-01T09:30:00", datetime(2024, 5, 1, 9, 30, tzinfo=timezone.utc)),
    (None, None),
])
def test_timestamps_are_read_as_utc(text, expected):
    parsed = mapper.parse_timestamp(text)
    assert parsed == expected
    assert parsed is None or parsed.tzinfo == timezone.utc


def error(code: str, message: str, **details: object) -> dict:
    return {"error": {"code": code, "message": message, **details}}


@pytest.mark.parametrize("status, body, expected", [
    (409, error("external_ref_conflict", "external_ref 'WC-1' was already released", id="FO-000001"), Conflict),
    (409, error("rma_ref_conflict", "rma_ref 'RMA-1' was already authorized", id="RA-000001"), Conflict),
    (409, error("not_cancellable", "FO-000001 is picked", order_status="picked"), NotCancellable),
    (409, error("order_cancelled", "FO-000001 is cancelled"), PermanentError),
    (404, error("fulfillment_order_not_found", "No fulfillment order 'FO-9'"), RecordGone),
    (422, error("unknown_sku", "Unknown SKU 'NOPE'", field="lines[1].sku"), PermanentError),
    (400, error("invalid_field", "lines[0].quantity: too small", field="lines[0].quantity"), PermanentError),
    (401, error("unauthorized", "Invalid bearer token"), PermanentError),
    (413, None, PermanentError),
])
def test_error_bodies_map_onto_the_taxonomy(status, body, expected):
    raised = mapper.error_for("fulfillment-orders.create", status, body)
    assert type(raised) is expected


def test_an_error_names_its_code_message_and_details():
    raised = mapper.error_for("fulfillment-orders.create", 422,
                              error("unknown_sku", "Unknown SKU 'NOPE'", field="lines[1].sku"))
    assert str(raised) == ("wms fulfillment-orders.create: HTTP 422 unknown_sku: Unknown SKU 'NOPE' "
                           "(field=lines[1].sku)")
    conflict = mapper.error_for("fulfillment-orders.create", 409,
                                error("external_ref_conflict", "already released", id="FO-000001"))
    assert "id=FO-000001" in str(conflict)
