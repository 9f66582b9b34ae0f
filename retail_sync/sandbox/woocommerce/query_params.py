"""Typed request parameters for the order, note and refund routes, validated with WordPress's wording.

The values come from `rest.query_params` / `rest.request_params`, i.e. as PHP parsed them: a repeated
`?status=a&status=b` keeps only the last value, `status[]=a&status[]=b` is a list, and list parameters also take
a comma-separated string. A value that fails its schema is 400 `rest_invalid_param` ("x is not one of a, b, and
c.", "x is not of type integer.", "Invalid date.").
"""
from __future__ import annotations

import re
from typing import Any, Iterable, Sequence

from retail_sync.sandbox.woocommerce.rest import WooError, invalid_params

# rest_parse_date(): RFC 3339 with an optional fraction and an optional zone
_DATE_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:[Zz]|[+-]\d{2}(?::?\d{2})?)?$")


def bad(name: str, code: str, reason: str) -> WooError:
    return invalid_params({name: (code, reason)})


def list_value(raw: Any) -> list[str] | None:
    """An array parameter: a list as given, or a string split on commas/spaces (`wp_parse_list`)."""
    if raw is None:
        return None
    values = raw if isinstance(raw, list) else [raw]
    return [part for value in values for part in re.split(r"[\s,]+", str(value)) if part]


def enum_list(raw: Any, name: str, allowed: Iterable[str], default: list[str]) -> list[str]:
    allowed = tuple(allowed)
    values = list_value(raw)
    if values is None:
        return default
    for index, value in enumerate(values):
        if value not in allowed:
            raise bad(name, "rest_not_in_enum", f"{name}[{index}] is not one of {php_list(allowed)}.")
    return values


def enum_value(raw: Any, name: str, allowed: Iterable[str], default: str) -> str:
    allowed = tuple(allowed)
    if raw is None:
        return default
    if raw not in allowed:
        raise bad(name, "rest_not_in_enum", f"{name} is not one of {php_list(allowed)}.")
    return raw


def int_value(raw: Any, name: str) -> int | None:
    """An integer parameter (numeric strings accepted, as `rest_is_integer` does); None when absent."""
    if raw is None:
        return None
    if isinstance(raw, bool):
        raise bad(name, "rest_invalid_type", f"{name} is not of type integer.")
    if isinstance(raw, int):
        return raw
    if isinstance(raw, float) and raw.is_integer():
        return int(raw)
    if isinstance(raw, str) and re.fullmatch(r"\s*-?\d+\s*", raw):
        return int(raw)
    raise bad(name, "rest_invalid_type", f"{name} is not of type integer.")


def id_list(raw: Any, name: str) -> list[int]:
    """`wp_parse_id_list`: integers, made positive."""
    ids = []
    for index, value in enumerate(list_value(raw) or []):
        if not re.fullmatch(r"-?\d+", value):
            raise bad(name, "rest_invalid_type", f"{name}[{index}] is not of type integer.")
        ids.append(abs(int(value)))
    return ids


def bool_value(raw: Any, name: str, default: bool) -> bool:
    if raw is None:
        return default
    if isinstance(raw, bool):
        return raw
    text = str(raw).strip().lower()
    if text in ("true", "1"):
        return True
    if text in ("false", "0"):
        return False
    raise bad(name, "rest_invalid_type", f"{name} is not of type boolean.")


def date_value(raw: Any, name: str) -> str | None:
    if raw is None:
        return None
    if not isinstance(raw, str) or not _DATE_TIME.match(raw.strip()):
        raise bad(name, "rest_invalid_date", "Invalid date.")
    return raw


def php_list(items: Sequence[str]) -> str:
    """wp_sprintf's `%l`: "a", "a and b", "a, b, and c"."""
    if len(items) < 3:
        return " and ".join(items)
    return ", ".join(items[:-1]) + ", and " + items[-1]
