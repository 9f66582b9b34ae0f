"""A WMS event as the WMS sends it (docs/wms-api.md, Events): `{"id", "type", "timestamp", "data"}`.

One reading for both ends: the receiver refuses an event this cannot read (400, so the WMS sees its own mistake)
and the inbox handler reads the stored body again with the same rules, so nothing the receiver accepted can
surprise it.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Mapping

EVENT_TYPE = re.compile(r"^[a-z][a-z_]*(\.[a-z][a-z_]*)+$")  # fulfillment.shipped, inventory.adjusted, ...


@dataclass(frozen=True)
class WmsEvent:
    id: str
    type: str
    occurred_at: datetime  # aware, in the offset the WMS wrote
    data: dict

    @property
    def resource(self) -> str:
        """What kind of record the event is about: the type's first part (`fulfillment`, `inventory`, ...)."""
        return self.type.split(".", 1)[0]


def parse_wms_event(text: str) -> WmsEvent:
    """A stored or received event body; ValueError (naming the first thing wrong) when it is not one."""
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"body is not JSON: {exc.msg} at line {exc.lineno} column {exc.colno}") from None
    if not isinstance(raw, dict):
        raise ValueError("body is not a JSON object")
    return wms_event_from_json(raw)


def wms_event_from_json(raw: Mapping[str, Any]) -> WmsEvent:
    """The event in an already parsed body (the receiver has parsed it to read it at all)."""
    event_id, event_type, timestamp, data = (raw.get(key) for key in ("id", "type", "timestamp", "data"))
    if not isinstance(event_id, str) or not event_id:
        raise ValueError("id must be a non-empty string")
    if not isinstance(event_type, str) or not EVENT_TYPE.match(event_type):
        raise ValueError("type must be a dotted event type such as fulfillment.shipped")
    occurred_at = parse_aware_time(timestamp)
    if not isinstance(data, dict):
        raise ValueError("data must be a JSON object")
    return WmsEvent(event_id, event_type, occurred_at, data)


def parse_aware_time(value: str) -> datetime:
    """An ISO 8601 time with a UTC offset or Z (the event's timestamp and the `*_at` fields of its data); a time
    without an offset is refused rather than guessed."""
    try:
        moment = datetime.fromisoformat(value)
    except (TypeError, ValueError):  # TypeError: not a string at all
        moment = None
    if moment is None or moment.tzinfo is None:
        raise ValueError(f"timestamp must be an ISO 8601 time with a UTC offset or Z, not {repr(value)[:80]}")
    return moment
