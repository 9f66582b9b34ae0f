"""The store sandbox's PHP `json_encode` bytes, checked against literal output of PHP 8.2 (default flags)."""
from __future__ import annotations

import pytest

from retail_sync.sandbox.woocommerce.phpjson import as_php_array, encode


@pytest.mark.parametrize("value, php", [
    ("a/b", b'"a\\/b"'),
    ("Zo\u00eb K\u00f6ln", b'"Zo\\u00eb K\\u00f6ln"'),
    ("\u20ac", b'"\\u20ac"'),
    ("\U0001F600", b'"\\ud83d\\ude00"'),  # outside the BMP: a surrogate pair, lowercase hex
    ('say "hi" \\ ok', b'"say \\"hi\\" \\\\ ok"'),
    ("tab\there\nnew\rline\x08\x0c", b'"tab\\there\\nnew\\rline\\b\\f"'),
    ("\x01\x1f", b'"\\u0001\\u001f"'),
    ("del\x7f", b'"del\x7f"'),  # PHP leaves DEL alone (Python's ensure_ascii would not)
    ("", b'""'),
])
def test_strings_are_escaped_like_php(value, php):
    assert encode(value) == php


@pytest.mark.parametrize("value, php", [
    (10.0, b"10"),  # no JSON_PRESERVE_ZERO_FRACTION
    (19.900000000000002, b"19.900000000000002"),  # the float WooCommerce sends as line_items[].price
    (0.1 + 0.2, b"0.30000000000000004"),
    (59.7, b"59.7"),
    (-1.5, b"-1.5"),
    (0.0001, b"0.0001"),
    (0.00001, b"1.0e-5"),
    (2.5e-7, b"2.5e-7"),
    (1e15, b"1000000000000000"),  # plain digits up to 17 places (php_gcvt mode 0), unlike `echo`
    (1e17, b"1.0e+17"),
    (123456789012345678.0, b"1.2345678901234568e+17"),
    (-0.0, b"-0"),
    (0.0, b"0"),
    (7, b"7"),
    (-12345678901234, b"-12345678901234"),
])
def test_numbers_are_written_like_php(value, php):
    assert encode(value) == php


def test_structures_are_compact_and_keep_key_order():
    payload = {"id": 7, "ok": True, "no": False, "none": None, "list": [1, "x/y", []], "obj": {"b": 1, "a": {}}}
    assert encode(payload) == b'{"id":7,"ok":true,"no":false,"none":null,"list":[1,"x\\/y",[]],"obj":{"b":1,"a":{}}}'


def test_decoding_as_php_arrays_turns_empty_and_list_like_objects_into_arrays():
    rest = {"id": 5, "meta": {}, "shipping_lines": [{"taxes": {}}], "seq": {"0": "a", "1": "b"},
            "sparse": {"1": "a", "0": "b"}, "named": {"x": {}}}
    assert encode(as_php_array(rest)) == (
        b'{"id":5,"meta":[],"shipping_lines":[{"taxes":[]}],"seq":["a","b"],"sparse":{"1":"a","0":"b"},'
        b'"named":{"x":[]}}')
