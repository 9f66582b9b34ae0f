"""The `after`/`before` filters of `GET /webhooks`, as `WC_Webhook_Data_Store::search_webhooks()` applies them.

Unlike the post-based resources (reference §2.4), webhooks live in their own table and the data store compares
`date_created_gmt BETWEEN STR_TO_DATE(after) AND STR_TO_DATE(before)`:

- the bounds are **inclusive** (a webhook created exactly at `after` is listed);
- they are compared with the **GMT** creation date, and there is no `dates_are_gmt`: the wall time in the value is
  taken as GMT whatever offset or `Z` it carries (STR_TO_DATE stops reading after the seconds);
- a missing bound is `0000-00-00` (after) or the current GMT time (before), so `before` alone still works and
  `after` alone never lists a webhook dated in the future;
- the value must first pass the route's `date-time` schema (`rest_parse_date`): anything else is 400
  `rest_invalid_param` "Invalid date.".
"""
from __future__ import annotations

from typing import Any

from retail_sync.sandbox.woocommerce.clock import now_gmt
from retail_sync.sandbox.woocommerce.query_params import date_value

EARLIEST = "0000-00-00T00:00:00"


def created_between(params: dict[str, Any]) -> tuple[str | None, list[str]]:
    """(SQL condition on `date_created_gmt`, its arguments), or (None, []) when neither bound was given."""
    after = _wall_time(date_value(params.get("after"), "after"))
    before = _wall_time(date_value(params.get("before"), "before"))
    if after is None and before is None:
        return None, []
    return "date_created_gmt BETWEEN ? AND ?", [after or EARLIEST, before or now_gmt()]


def _wall_time(value: str | None) -> str | None:
    """`2026-03-01T10:00:00.5+02:00` → `2026-03-01T10:00:00` (the stored columns' format; zone and fraction
    dropped, as STR_TO_DATE with `%Y-%m-%d %H:%i:%s` drops them)."""
    if not value:
        return None
    text = value.strip()
    return f"{text[:10]}T{text[11:19]}"
