"""WordPress's handling of request values: schema validation of REST arguments (`rest_validate_value_from_schema`,
with its messages) and the PHP coercions WooCommerce's setters apply to whatever they are given."""
from __future__ import annotations

import re
from typing import Any

from retail_sync.sandbox.woocommerce.query_params import php_list
from retail_sync.sandbox.woocommerce.rest import invalid_params


def validate(params: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    """`rest_validate_request_arg` + `rest_sanitize_request_arg` for the given fields; returns sanitised params."""
    problems: dict[str, tuple[str, str]] = {}
    result = dict(params)
    for name, spec in schema.items():
        if name not in params:
            continue
        value = params[name]
        if isinstance(spec, list) and spec and spec[0] not in ("string", "integer", "null"):
            if not isinstance(value, str):
                problems[name] = ("rest_invalid_type", f"{name} is not of type string.")
            elif value not in spec:
                problems[name] = ("rest_not_in_enum", f"{name} is not one of {php_list(spec)}.")
            continue
        types = spec if isinstance(spec, list) else [spec]
        for kind in types:
            ok, sanitised = _check_type(kind, value)
            if ok:
                result[name] = sanitised
                break
        else:
            problems[name] = ("rest_invalid_type", f"{name} is not of type {','.join(types)}.")
    if problems:
        raise invalid_params(problems)
    return result


def _check_type(kind: str, value: Any) -> tuple[bool, Any]:
    if kind == "null":
        return value is None, None
    if kind == "string":
        return isinstance(value, str), value
    if kind == "boolean":
        if isinstance(value, bool):
            return True, value
        if isinstance(value, int) and value in (0, 1):
            return True, bool(value)
        if isinstance(value, str) and value.lower() in ("true", "false", "1", "0"):
            return True, value.lower() in ("true", "1")
        return False, None
    if kind == "integer":
        if isinstance(value, bool):
            return False, None
        try:
            number = float(value)
        except (TypeError, ValueError):
            return False, None
        return number == int(number), int(number)
    if kind == "array":
        if isinstance(value, str):
            return True, [part.strip() for part in value.split(",") if part.strip()]
        return isinstance(value, list), value
    if kind == "object":
        return isinstance(value, dict) or value in ([], ""), value if isinstance(value, dict) else {}
    return False, None


# ---- PHP-side coercions (what the setters do with whatever they get) ---------------------------------------------
def stock_amount(value: Any) -> int:
    """`wc_stock_amount()`: intval, so "12abc" is 12 and "abc" is 0."""
    if isinstance(value, (bool, int)):
        return int(value)
    if isinstance(value, float):
        return int(value)
    match = re.match(r"\s*([+-]?\d+)", str(value or ""))
    return int(match.group(1)) if match else 0


def string_to_bool(value: Any) -> bool:
    """`wc_string_to_bool()`."""
    if isinstance(value, bool):
        return value
    return value == 1 or str(value).lower() in ("yes", "true", "1")


def format_decimal(value: Any) -> str:
    """`wc_format_decimal()` without rounding: keeps digits, point and sign ("19.90" stays "19.90")."""
    if isinstance(value, float):
        return repr(value).rstrip("0").rstrip(".") if "." in repr(value) else repr(value)
    return re.sub(r"[^0-9.\-]", "", str(value if value is not None else ""))


def clean(value: Any) -> str:
    """`wc_clean()`: tags stripped, surrounding whitespace trimmed."""
    return re.sub(r"<[^>]*>", "", str(value if value is not None else "")).strip()


def sanitize_title(text: str) -> str:
    return "-".join("".join(ch.lower() if ch.isalnum() else " " for ch in text).split())
