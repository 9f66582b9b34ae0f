import base64
import hashlib
import hmac
import json

import pytest

from retail_sync.connectors.woocommerce import webhooks as woo
from tests.support.woo import SECRET, headers, order, php_json


def test_signature_is_base64_of_raw_hmac_sha256_over_the_exact_bytes():
    body = b'{"id":1,"name":"a\\/b \\u00e9"}'
    expected = base64.b64encode(hmac.new(b"s3cret", body, hashlib.sha256).digest()).decode()
    assert woo.sign(body, b"s3cret") == expected
    assert len(expected) == 44


def test_body_with_php_escapes_verifies_and_the_reserialised_json_does_not():
    # given a body exactly as WooCommerce writes it: \/ and \uXXXX escapes, no spaces
    body = php_json(order(5, note="https://x.example/ü"))
    assert b"\\/" in body and b"\\u00fc" in body
    signature = headers(body)["X-WC-Webhook-Signature"]
    # then the raw bytes verify
    assert woo.verify_signature(body, signature, [SECRET.encode()])
    # and the same JSON re-serialised (what a framework's parsed body would give) does not
    reserialised = json.dumps(json.loads(body)).encode()
    assert json.loads(reserialised) == json.loads(body)
    assert not woo.verify_signature(reserialised, signature, [SECRET.encode()])


@pytest.mark.parametrize("secret", ["a&b", "<tag>", 'q"uote', "it's", "sl/ash", SECRET])
def test_secrets_with_html_special_characters(secret):
    body = php_json(order(1))
    # WordPress may keep the secret entity-encoded; it decodes it (ENT_QUOTES) before signing.
    encoded = (secret.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
               .replace('"', "&quot;").replace("'", "&#039;"))
    real = base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()
    assert woo.verify_signature(body, real, [secret.encode()])
    assert woo.verify_signature(body, real, [encoded.encode()])


@pytest.mark.parametrize("stored, used_by_wordpress", [
    ("a&#0038;b", "a&b"),        # zero padding is normalised first
    ("a&#X26;b", "a&b"),         # hex forms of ' " & are matched case-insensitively
    ("a&AMP;b", "a&AMP;b"),      # named entities are case-sensitive: left as written
    ("a&#x3c;b", "a&#x3c;b"),    # a hex `<` is not in WordPress's table
    ("&amp;lt;", "&lt;"),        # one pass only
])
def test_secret_decoding_is_exactly_wordpress_specialchars_decode(stored, used_by_wordpress):
    assert woo.wp_decode_secret(stored.encode()) == used_by_wordpress.encode()


def test_previous_secret_is_accepted_during_rotation():
    body = php_json(order(2))
    old = woo.sign(body, b"old-secret")
    assert woo.verify_signature(body, old, [b"new-secret", b"old-secret"])
    assert not woo.verify_signature(body, old, [b"new-secret"])


@pytest.mark.parametrize("signature", [None, "", "garbage", "Zm9v", "é" * 44])
def test_missing_or_wrong_signatures_fail(signature):
    assert not woo.verify_signature(php_json(order(3)), signature, [SECRET.encode()])


def test_hex_digest_instead_of_base64_fails():
    body = php_json(order(3))
    hex_digest = hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    assert not woo.verify_signature(body, hex_digest, [SECRET.encode()])


def test_ping_is_recognised_only_without_wc_headers():
    assert woo.is_ping({"content-type": "application/x-www-form-urlencoded"}, b"webhook_id=17")
    assert not woo.is_ping({"x-wc-webhook-topic": "order.updated"}, b"webhook_id=17")
    assert not woo.is_ping({}, b"webhook_id=17&x=1")


def test_parse_delivery_takes_identity_from_the_body():
    body = php_json(order(9, modified="2026-11-27T10:00:05"))
    delivery = woo.parse_delivery({"x-wc-webhook-topic": "order.created"}, body)
    assert (delivery.resource, delivery.resource_id, delivery.version) == ("order", "9", "2026-11-27T10:00:05")
    assert delivery.dedupe_key.startswith("order:9:2026-11-27T10:00:05:")


@pytest.mark.parametrize(
    "body, reason",
    [(b"\xff\xfe{}", "not UTF-8"), (b"{not json", "not JSON"), (b"[1,2]", "not a JSON object")],
)
def test_malformed_bodies_are_rejected_with_a_reason(body, reason):
    with pytest.raises(woo.MalformedDelivery, match=reason):
        woo.parse_delivery({"x-wc-webhook-topic": "order.updated"}, body)


@pytest.mark.parametrize("topic, body, column", [
    ("order.updated", php_json(order(3, modified="2026-11-27T10:00:00" + "0" * 30)), "version"),
    ("order.updated", php_json(order("9" * 201)), "resource_id"),
    ("x" * 51 + ".updated", php_json(order(3)), "resource"),
    ("order." + "x" * 95, php_json(order(3)), "topic"),
])
def test_a_delivery_that_does_not_fit_the_inbox_is_malformed_not_a_failed_insert(topic, body, column):
    with pytest.raises(woo.MalformedDelivery, match=f"{column} is .* longer than the inbox keeps"):
        woo.parse_delivery({"x-wc-webhook-topic": topic}, body)
