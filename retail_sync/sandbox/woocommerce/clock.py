"""The store's site timezone. WooCommerce shows `date_*` in site-local time without an offset and `date_*_gmt`
in UTC; its date filters compare against the local columns unless `dates_are_gmt=true` (reference §2.4)."""
from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

WC_FORMAT = "%Y-%m-%dT%H:%M:%S"


def to_gmt(moment: dt.datetime) -> str:
    """An aware moment as the stored `*_gmt` columns keep it (UTC, no offset)."""
    return moment.astimezone(dt.timezone.utc).strftime(WC_FORMAT)


def parse_gmt(text: str | None) -> dt.datetime | None:
    """A stored `*_gmt` value back to an aware UTC moment (None stays None)."""
    return None if text is None else dt.datetime.fromisoformat(text).replace(tzinfo=dt.timezone.utc)


def now_gmt() -> str:
    return SiteClock.now_utc().strftime(WC_FORMAT)


class SiteClock:
    def __init__(self, timezone: str) -> None:
        self.zone = ZoneInfo(timezone)

    @staticmethod
    def now_utc() -> dt.datetime:
        return dt.datetime.now(dt.timezone.utc).replace(microsecond=0)

    def pair(self, moment: dt.datetime | None) -> tuple[str | None, str | None]:
        """(local, gmt) strings as the REST API renders a date; (None, None) for an unset date."""
        if moment is None:
            return None, None
        utc = moment.astimezone(dt.timezone.utc)
        return utc.astimezone(self.zone).strftime(WC_FORMAT), utc.strftime(WC_FORMAT)

    def parse_filter(self, raw: str, dates_are_gmt: bool) -> dt.datetime:
        """A filter value as WooCommerce reads it: any `Z`/offset is ignored, and the wall time is taken as
        site-local unless `dates_are_gmt` (the bug integrators trip over, kept on purpose)."""
        text = raw.strip()
        if text.endswith("Z"):
            text = text[:-1]
        wall = dt.datetime.fromisoformat(text).replace(tzinfo=None)
        if dates_are_gmt:
            return wall.replace(tzinfo=dt.timezone.utc)
        return wall.replace(tzinfo=self.zone).astimezone(dt.timezone.utc)
