"""Standard Webhooks verification of WMS events, checked against an independent signer (the docs' recipe) and the
WMS sandbox's own signer."""
import base64
import hashlib
import hmac
import json

import pytest

from retail_sync.connectors.wms import webhooks as wms
from retail_sync.sandbox.wms import events as sandbox_events

SECRET = "whsec_" + base64.b64encode(b"test-wms-signing-key-0123456789").decode()
KEY = base64.b64decode(SECRET.removeprefix("whsec_"))
NOW = 1_800_000_000


def docs_signature(msg_id: str, ts: int, body: bytes, key: bytes = KEY) -> str:
    """docs/wms-api.md's recipe, written out independently of the code under test."""
    return base64.b64encode(hmac.new(key, f"{msg_id}.{ts}.".encode() + body, hashlib.sha256).digest()).decode()


def event(msg_id="msg_1", type_="fulfillment.shipped", timestamp="2026-11-27T10:00:00.123Z", **data) -> bytes:
    data = data or {"external_ref": "WC-1042/WH-EAST", "shipment_id": "SHP-000001"}
    return json.dumps({"id": msg_id, "type": type_, "timestamp": timestamp, "data": data}).encode()


def headers(body: bytes, msg_id="msg_1", ts=NOW, signature=None) -> dict:
    return {"webhook-id": msg_id, "webhook-timestamp": str(ts),
            "webhook-signature": signature or "v1," + docs_signature(msg_id, ts, body)}


def test_signing_key_is_the_base64_after_whsec():
    assert wms.signing_key(SECRET) == KEY
    assert wms.signing_key(SECRET) == sandbox_events.signing_key(SECRET)
    for bad in ("ZGV2", "whsec_", "whsec_not base64!"):
        with pytest.raises(ValueError):
            wms.signing_key(bad)


def test_signing_key_is_decoded_once_per_secret_and_a_bad_secret_is_refused_every_time():
    wms.signing_key.cache_clear()
    for _ in range(3):
        assert wms.signing_key(SECRET) == KEY
        with pytest.raises(ValueError):
            wms.signing_key("whsec_not base64!")
    info = wms.signing_key.cache_info()
    assert (info.hits, info.currsize) == (2, 1)


def test_a_genuine_event_verifies_and_matches_the_sandbox_signer():
    body = event()
    assert wms.sign(KEY, "msg_1", NOW, body) == "v1," + docs_signature("msg_1", NOW, body)
    assert wms.sign(KEY, "msg_1", NOW, body) == sandbox_events.sign(KEY, "msg_1", NOW, body)
    wms.verify(headers(body), body, KEY, now=NOW)


def test_any_v1_entry_of_the_list_may_match():
    body = event()
    good = "v1," + docs_signature("msg_1", NOW, body)
    wms.verify(headers(body, signature=f"v2,abc v1,{'A' * 44} {good}"), body, KEY, now=NOW)


@pytest.mark.parametrize("case", ["other-key", "other-id", "other-timestamp", "reserialised", "v2-only",
                                  "no-comma", "not-base64", "non-ascii"])
def test_forgeries_and_malformed_signatures_are_rejected_without_crashing(case):
    body = event()
    hdrs = headers(body)
    if case == "other-key":
        hdrs["webhook-signature"] = "v1," + docs_signature("msg_1", NOW, body, key=b"another key")
    elif case == "other-id":
        hdrs["webhook-id"] = "msg_2"
    elif case == "other-timestamp":
        hdrs["webhook-timestamp"] = str(NOW + 1)
    elif case == "reserialised":
        body = json.dumps(json.loads(body), indent=1).encode()  # same JSON, other bytes
    elif case == "v2-only":
        hdrs["webhook-signature"] = hdrs["webhook-signature"].replace("v1,", "v2,")
    elif case == "no-comma":
        hdrs["webhook-signature"] = "v1"
    elif case == "not-base64":
        hdrs["webhook-signature"] = "v1,%%%"
    else:
        hdrs["webhook-signature"] = "v1,é" + hdrs["webhook-signature"][4:]
    with pytest.raises(wms.SignatureRejected, match="no v1 signature"):
        wms.verify(hdrs, body, KEY, now=NOW)


@pytest.mark.parametrize("missing", ["webhook-id", "webhook-timestamp", "webhook-signature"])
def test_missing_headers_are_named(missing):
    body = event()
    hdrs = headers(body)
    del hdrs[missing]
    with pytest.raises(wms.SignatureRejected, match=missing):
        wms.verify(hdrs, body, KEY, now=NOW)


@pytest.mark.parametrize("stamp", ["1.8e9", "-5", "", "soon", "99999999999999"])
def test_a_timestamp_that_is_not_unix_seconds_is_rejected(stamp):
    body = event()
    hdrs = headers(body)
    hdrs["webhook-timestamp"] = stamp
    with pytest.raises(wms.SignatureRejected):
        wms.verify(hdrs, body, KEY, now=NOW)


@pytest.mark.parametrize("offset, accepted", [(-300, True), (300, True), (-301, False), (301, False),
                                              (-86_400, False)])
def test_the_replay_window_is_five_minutes_either_way(offset, accepted):
    body = event()
    hdrs = headers(body, ts=NOW + offset)  # correctly signed at that time
    if accepted:
        wms.verify(hdrs, body, KEY, now=NOW)
    else:
        with pytest.raises(wms.SignatureRejected, match="replay"):
            wms.verify(hdrs, body, KEY, now=NOW)


@pytest.mark.parametrize("type_, data, resource, subject", [
    ("fulfillment.shipped", {"external_ref": "WC-1042/WH-EAST"}, "fulfillment", "WC-1042/WH-EAST"),
    ("inventory.adjusted", {"sku": "MUG-BLUE", "site": "WH-EAST", "on_hand": 8}, "inventory", "MUG-BLUE@WH-EAST"),
    ("return.received", {"rma_ref": "RMA-1042-1"}, "return", "RMA-1042-1"),
    ("fulfillment.picked", {}, "fulfillment", None),  # no subject: stored, and its handler rejects it
    ("fulfillment.shipped", {"external_ref": "X" * 201}, "fulfillment", None),  # longer than the inbox keeps
    ("carrier.pinged", {"anything": 1}, "carrier", None),  # a type this engine does not know: stored, ignored
])
def test_events_become_deliveries_deduplicated_by_event_id(type_, data, resource, subject):
    body = event("msg_7", type_, **data) if data else json.dumps(
        {"id": "msg_7", "type": type_, "timestamp": "2026-11-27T10:00:00.123Z", "data": {}}).encode()
    delivery = wms.parse_event({"webhook-id": "msg_7"}, body)
    assert (delivery.source, delivery.topic, delivery.resource) == ("wms", type_, resource)
    assert delivery.resource_id == subject
    assert delivery.version == "2026-11-27T10:00:00.123Z"
    assert delivery.body.encode() == body
    assert delivery.dedupe_key == "event:msg_7"


def test_two_events_about_the_same_subject_at_the_same_time_are_different_news():
    first = wms.parse_event({"webhook-id": "msg_1"}, event("msg_1"))
    second = wms.parse_event({"webhook-id": "msg_2"}, event("msg_2"))
    assert (first.resource_id, first.version) == (second.resource_id, second.version)
    assert first.dedupe_key != second.dedupe_key


@pytest.mark.parametrize("body, reason", [
    (b"\xff{}", "not UTF-8"),
    (b"{", "not JSON"),
    (b"[]", "not a JSON object"),
    (json.dumps({"id": "msg_1", "type": "fulfillment.shipped", "timestamp": "2026-11-27T10:00:00Z"}).encode(),
     "data must be"),
    (json.dumps({"id": "msg_2", "type": "fulfillment.shipped", "timestamp": "2026-11-27T10:00:00Z",
                 "data": {}}).encode(), "differs from webhook-id"),
    (json.dumps({"id": "msg_1", "type": "Shipped!", "timestamp": "2026-11-27T10:00:00Z", "data": {}}).encode(),
     "type must be"),
    (json.dumps({"id": "msg_1", "type": "fulfillment.shipped", "timestamp": "2026-11-27T10:00:00",
                 "data": {}}).encode(), "UTC offset"),
    (json.dumps({"id": 1, "type": "fulfillment.shipped", "timestamp": "2026-11-27T10:00:00Z", "data": {}}).encode(),
     "id must be"),
])
def test_signed_but_unreadable_events_are_malformed(body, reason):
    with pytest.raises(wms.MalformedEvent, match=reason):
        wms.parse_event({"webhook-id": "msg_1"}, body)


@pytest.mark.parametrize("body, column", [
    (event(type_="x" * 51 + ".shipped"), "resource"),  # the type fits the topic column, its first part does not
    (event(type_="fulfillment." + "x" * 90), "topic"),
    (event(timestamp="2026-11-27T10:00:00.123456789012345678901+00:00"), "version"),
    (event(msg_id="m" * 195), "dedupe_key"),  # "event:" + the id
])
def test_an_event_that_does_not_fit_the_inbox_is_malformed_not_a_failed_insert(body, column):
    msg_id = json.loads(body)["id"]
    with pytest.raises(wms.MalformedEvent, match=f"{column} is .* longer than the inbox keeps"):
        wms.parse_event({"webhook-id": msg_id}, body)
