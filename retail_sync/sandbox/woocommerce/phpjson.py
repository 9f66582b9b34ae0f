"""JSON bytes exactly as PHP's `json_encode` (default flags, PHP ≥ 7.1) writes them, for webhook bodies.

WooCommerce signs `trim(wp_json_encode($payload))`, so a receiver that checks the signature over anything but these
bytes fails. What differs from Python's `json.dumps`: `/` is escaped as `\\/`; every non-ASCII character becomes
`\\uXXXX` (lowercase hex, surrogate pairs above U+FFFF) while DEL (0x7f) stays raw; output is compact; floats are
written by `php_gcvt` with `serialize_precision = -1` (shortest round-trip digits, `10.0` → `10`, exponent form
`1.0e+25` past 17 digits or below 1e-4).

`as_php_array` models the `json_decode($json, true)` round trip the webhook payload goes through (RestApiUtil
`get_endpoint_data`): a JSON object becomes a PHP array, so an empty object comes back as `[]` and an object keyed
"0", "1", … in order comes back as a list.
"""
from __future__ import annotations

import math
import re
from decimal import Decimal
from typing import Any

_SHORT_ESCAPES = {'"': '\\"', "\\": "\\\\", "/": "\\/", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r",
                  "\t": "\\t"}
_NEEDS_ESCAPE = re.compile('["\\\\/\x00-\x1f\u0080-\U0010ffff]')
_PHP_PRECISION_DIGITS = 17  # php_gcvt's ndigit when serialize_precision is -1 (mode 0)


def encode(value: Any) -> bytes:
    """`json_encode($value)` as bytes (pure ASCII by construction)."""
    parts: list[str] = []
    _encode(value, parts)
    return "".join(parts).encode("ascii")


def as_php_array(value: Any) -> Any:
    """`json_decode(json_encode($value), true)`: objects become PHP arrays (empty → `[]`, "0".."n-1" → list)."""
    if isinstance(value, dict):
        items = {str(key): as_php_array(item) for key, item in value.items()}
        if list(items) == [str(index) for index in range(len(items))]:
            return list(items.values())
        return items
    if isinstance(value, (list, tuple)):
        return [as_php_array(item) for item in value]
    return value


def _encode(value: Any, out: list[str]) -> None:
    if value is None:
        out.append("null")
    elif value is True:
        out.append("true")
    elif value is False:
        out.append("false")
    elif isinstance(value, int):
        out.append(str(value))
    elif isinstance(value, float):
        out.append(php_float(value))
    elif isinstance(value, str):
        out.append(_string(value))
    elif isinstance(value, dict):
        out.append("{")
        for index, (key, item) in enumerate(value.items()):
            if index:
                out.append(",")
            out.append(_string(str(key)))
            out.append(":")
            _encode(item, out)
        out.append("}")
    elif isinstance(value, (list, tuple)):
        out.append("[")
        for index, item in enumerate(value):
            if index:
                out.append(",")
            _encode(item, out)
        out.append("]")
    else:
        raise TypeError(f"json_encode cannot encode {type(value).__name__}")


def _string(text: str) -> str:
    return '"' + _NEEDS_ESCAPE.sub(_escape, text) + '"'


def _escape(match: re.Match[str]) -> str:
    char = match.group(0)
    short = _SHORT_ESCAPES.get(char)
    if short is not None:
        return short
    code = ord(char)
    if code <= 0xFFFF:
        return f"\\u{code:04x}"
    code -= 0x10000
    return f"\\u{0xD800 + (code >> 10):04x}\\u{0xDC00 + (code & 0x3FF):04x}"


def php_float(number: float) -> str:
    """A double as `php_gcvt(value, 17, '.', 'e')` in mode 0 prints it (json_encode without PRESERVE_ZERO_FRACTION)."""
    if math.isnan(number) or math.isinf(number):
        raise ValueError("json_encode cannot encode INF or NAN")
    sign = "-" if math.copysign(1.0, number) < 0 else ""
    if number == 0:
        return sign + "0"
    # repr() gives the shortest digits that round-trip, which is what zend_dtoa mode 0 produces
    parts = Decimal(repr(abs(number))).as_tuple()
    raw = "".join(str(d) for d in parts.digits)
    decpt = len(raw) + int(parts.exponent)  # value = 0.DIGITS × 10^decpt
    digits = raw.rstrip("0") or "0"
    if (decpt < -3) if decpt < 0 else (decpt > _PHP_PRECISION_DIGITS):
        power = decpt - 1
        mantissa = digits[0] + "." + (digits[1:] or "0")
        return f"{sign}{mantissa}e{'-' if power < 0 else '+'}{abs(power)}"
    if decpt < 0:
        return f"{sign}0.{'0' * -decpt}{digits}"
    whole = digits[:decpt].ljust(decpt, "0")
    fraction = digits[decpt:]
    if not whole:
        whole = "0"
    return f"{sign}{whole}.{fraction}" if fraction else sign + whole
