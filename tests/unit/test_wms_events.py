"""The one reading of a WMS event body (domain/wms_events.py), shared by the receiver and the inbox handler."""
import json
from datetime import datetime, timedelta, timezone

import pytest

from retail_sync.domain.wms_events import WmsEvent, parse_aware_time, parse_wms_event


def body(**fields) -> str:
    event = {"id": "msg_1", "type": "fulfillment.shipped", "timestamp": "2026-11-27T10:00:00.123Z",
             "data": {"external_ref": "WC-1042/WH-EAST"}}
    event.update(fields)
    return json.dumps({key: value for key, value in event.items() if value is not ...})


def test_an_event_is_read_with_an_aware_time():
    event = parse_wms_event(body())
    assert event == WmsEvent("msg_1", "fulfillment.shipped",
                             datetime(2026, 11, 27, 10, 0, 0, 123000, tzinfo=timezone.utc),
                             {"external_ref": "WC-1042/WH-EAST"})
    assert event.resource == "fulfillment"


def test_an_offset_is_kept_as_written():
    occurred_at = parse_wms_event(body(timestamp="2026-11-27T11:00:00+01:00")).occurred_at
    assert occurred_at.utcoffset() == timedelta(hours=1)
    assert occurred_at == datetime(2026, 11, 27, 10, 0, tzinfo=timezone.utc)


@pytest.mark.parametrize("text, reason", [
    ("{", "not JSON"),
    ("[]", "not a JSON object"),
    (body(id=...), "id must be"),
    (body(id=""), "id must be"),
    (body(id=7), "id must be"),
    (body(type="Shipped!"), "type must be"),
    (body(type="shipped"), "type must be"),
    (body(type=None), "type must be"),
    (body(timestamp=...), "UTC offset"),
    (body(timestamp="2026-11-27T10:00:00"), "UTC offset"),
    (body(timestamp="yesterday"), "UTC offset"),
    (body(timestamp=1_800_000_000), "UTC offset"),
    (body(data=...), "data must be"),
    (body(data=[1]), "data must be"),
])
def test_what_is_not_an_event_is_a_value_error_naming_the_field(text, reason):
    with pytest.raises(ValueError, match=reason):
        parse_wms_event(text)


def test_data_times_are_read_by_the_same_rule():
    assert parse_aware_time("2026-11-27T10:00:00Z") == datetime(2026, 11, 27, 10, 0, tzinfo=timezone.utc)
    with pytest.raises(ValueError, match="UTC offset"):
        parse_aware_time("2026-11-27T10:00:00")
