"""Sites, the item master and on-hand stock per (sku, site).

`allocated` is kept as a column beside `on_hand` (raised when a fulfilment order is released, lowered when it
ships or is cancelled) rather than summed from open orders, so a page of 1,000 rows is one index range scan.
Every change of `on_hand` emits `inventory.adjusted` with the new absolute figure; the seed does not (it is a
load, and 100,000 events would only flood the engine).
"""
from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any, Literal

from fastapi import FastAPI, Query, Request
from pydantic import BaseModel, ConfigDict, Field, StrictInt, field_validator

from retail_sync.sandbox.common.catalog import Catalog, normalise_sku
from retail_sync.sandbox.wms.api import (
    API_PREFIX, DEFAULT_LIMIT, MAX_LIMIT, Line, WmsError, decode_cursor, equal_filters, iso, json_response, page,
    parse_body,
)

if TYPE_CHECKING:
    import sqlite3

    from retail_sync.sandbox.wms.app import WmsSandbox

SCHEMA = """
CREATE TABLE IF NOT EXISTS wms_sites (code TEXT PRIMARY KEY) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS wms_items (sku TEXT PRIMARY KEY, name TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS wms_inventory (
    sku TEXT NOT NULL,
    site TEXT NOT NULL,
    on_hand INTEGER NOT NULL DEFAULT 0,
    allocated INTEGER NOT NULL DEFAULT 0,
    updated_at REAL NOT NULL,
    PRIMARY KEY (sku, site)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS ix_wms_inventory_site ON wms_inventory (site, sku);
"""
TABLES = ("wms_inventory", "wms_items", "wms_sites")

class StockCount(BaseModel):
    """Body of `POST /_sandbox/inventory`: the absolute on-hand a stock count found."""

    model_config = ConfigDict(extra="forbid")
    sku: str = Field(min_length=1, max_length=100)
    site: str = Field(min_length=1, max_length=50)
    on_hand: StrictInt = Field(ge=0, le=1_000_000_000)
    reason: Literal["count", "receipt", "damage", "correction"] = "count"

    @field_validator("sku")
    @classmethod
    def _sku(cls, value: str) -> str:
        return normalise_sku(value)


# checks used by the other resources -------------------------------------------------------------------------
def require_site(conn: "sqlite3.Connection", site: str, *, field: str = "site") -> None:
    if conn.execute("SELECT 1 FROM wms_sites WHERE code = ?", (site,)).fetchone() is None:
        raise WmsError(422, "unknown_site", f"Unknown site {site!r}", field=field)


def require_lines(conn: "sqlite3.Connection", lines: list[Line]) -> None:
    """Every SKU known to the item master, and each at most once (shipments and receipts address lines by SKU)."""
    seen: set[str] = set()
    for index, line in enumerate(lines):
        if line.sku in seen:
            raise WmsError(422, "duplicate_sku", f"SKU {line.sku!r} appears on more than one line",
                           field=f"lines[{index}].sku")
        seen.add(line.sku)
    known = {row[0] for row in conn.execute(
        f"SELECT sku FROM wms_items WHERE sku IN ({','.join('?' * len(seen))})", tuple(seen))}
    for index, line in enumerate(lines):
        if line.sku not in known:
            raise WmsError(422, "unknown_sku", f"Unknown SKU {line.sku!r}", field=f"lines[{index}].sku")


# stock movements -------------------------------------------------------------------------------------------
def allocate(conn: "sqlite3.Connection", sku: str, site: str, quantity: int) -> None:
    """Raise (or, negative, lower) what open fulfilment orders hold of (sku, site)."""
    conn.execute(
        "INSERT INTO wms_inventory (sku, site, on_hand, allocated, updated_at) VALUES (?, ?, 0, ?, ?)"
        " ON CONFLICT (sku, site) DO UPDATE SET allocated = allocated + excluded.allocated,"
        " updated_at = excluded.updated_at",
        (sku, site, quantity, time.time()),
    )


def on_hand(conn: "sqlite3.Connection", sku: str, site: str) -> int:
    row = conn.execute("SELECT on_hand FROM wms_inventory WHERE sku = ? AND site = ?", (sku, site)).fetchone()
    return 0 if row is None else row[0]


def move(wms: "WmsSandbox", conn: "sqlite3.Connection", sku: str, site: str, delta: int, reason: str,
         reference: str | None, *, release_allocation: int = 0) -> int:
    """Change on-hand by `delta` (and lower `allocated` by `release_allocation`); emits `inventory.adjusted`."""
    now = time.time()
    level = conn.execute(
        "INSERT INTO wms_inventory (sku, site, on_hand, allocated, updated_at) VALUES (?, ?, ?, ?, ?)"
        " ON CONFLICT (sku, site) DO UPDATE SET on_hand = on_hand + excluded.on_hand,"
        " allocated = allocated + excluded.allocated, updated_at = excluded.updated_at RETURNING on_hand",
        (sku, site, delta, -release_allocation, now),
    ).fetchone()[0]
    emit_adjusted(wms, conn, sku, site, level, delta, reason, reference)
    return level


def emit_adjusted(wms: "WmsSandbox", conn: "sqlite3.Connection", sku: str, site: str, level: int, delta: int,
                  reason: str, reference: str | None) -> None:
    wms.events.emit(conn, "inventory.adjusted", f"inventory:{sku}@{site}",
                    {"sku": sku, "site": site, "on_hand": level, "delta": delta, "reason": reason,
                     "reference": reference})


def count(wms: "WmsSandbox", body: StockCount) -> dict[str, Any]:
    """A stock count: on-hand set to an absolute figure. Unknown SKUs and sites are created (new goods arrive)."""
    now = time.time()
    with wms.db.tx() as conn:
        conn.execute("INSERT OR IGNORE INTO wms_sites (code) VALUES (?)", (body.site,))
        conn.execute("INSERT OR IGNORE INTO wms_items (sku, name) VALUES (?, ?)", (body.sku, body.sku))
        before = on_hand(conn, body.sku, body.site)
        row = conn.execute(
            "INSERT INTO wms_inventory (sku, site, on_hand, allocated, updated_at) VALUES (?, ?, ?, 0, ?)"
            " ON CONFLICT (sku, site) DO UPDATE SET on_hand = excluded.on_hand, updated_at = excluded.updated_at"
            " RETURNING *",
            (body.sku, body.site, body.on_hand, now),
        ).fetchone()
        emit_adjusted(wms, conn, body.sku, body.site, body.on_hand, body.on_hand - before, body.reason, None)
        return render(row)


# seed -----------------------------------------------------------------------------------------------------
def seed(wms: "WmsSandbox", catalog: Catalog) -> dict[str, Any]:
    """On-hand per (sku, site) from the catalog, upserted; a site missing from an item's stock holds 0."""
    now = time.time()
    items = catalog.skus()
    with wms.db.tx() as conn:
        conn.executemany("INSERT OR IGNORE INTO wms_sites (code) VALUES (?)", [(site,) for site in catalog.sites])
        conn.executemany("INSERT INTO wms_items (sku, name) VALUES (?, ?)"
                         " ON CONFLICT (sku) DO UPDATE SET name = excluded.name",
                         [(item.sku, item.name) for item in items])
        conn.executemany(
            "INSERT INTO wms_inventory (sku, site, on_hand, allocated, updated_at) VALUES (?, ?, ?, 0, ?)"
            " ON CONFLICT (sku, site) DO UPDATE SET on_hand = excluded.on_hand, updated_at = excluded.updated_at",
            [(item.sku, site, item.stock.get(site, 0), now) for item in items for site in catalog.sites],
        )
    return {"sites": len(catalog.sites), "skus": len(items), "inventory_rows": len(items) * len(catalog.sites)}


def counts(wms: "WmsSandbox") -> dict[str, int]:
    return {
        "sites": wms.db.scalar("SELECT COUNT(*) FROM wms_sites"),
        "skus": wms.db.scalar("SELECT COUNT(*) FROM wms_items"),
        "inventory_rows": wms.db.scalar("SELECT COUNT(*) FROM wms_inventory"),
    }


# REST -----------------------------------------------------------------------------------------------------
def render(row: "sqlite3.Row") -> dict[str, Any]:
    return {"sku": row["sku"], "site": row["site"], "on_hand": row["on_hand"], "allocated": row["allocated"],
            "updated_at": iso(row["updated_at"])}


def list_inventory(wms: "WmsSandbox", site: str | None, sku: str | None, cursor: str | None,
                   limit: int) -> dict[str, Any]:
    """Keyset pagination in (sku, site) order: each page is one range scan, however deep it is."""
    after = decode_cursor(cursor, (str, str))
    db = wms.db
    if site is not None and db.one("SELECT 1 FROM wms_sites WHERE code = ?", (site,)) is None:
        raise WmsError(404, "site_not_found", f"No site {site!r}")
    if sku is not None and db.one("SELECT 1 FROM wms_items WHERE sku = ?", (sku,)) is None:
        raise WmsError(404, "sku_not_found", f"No SKU {sku!r}")
    where, params = equal_filters({"site": site, "sku": sku})
    if after is not None:
        # With a site fixed, sku alone orders the rows and the (site, sku) index serves the range directly.
        where.append("sku > ?" if site is not None else "(sku, site) > (?, ?)")
        params.extend(after[:1] if site is not None else after)
    sql = "SELECT * FROM wms_inventory"
    if where:
        sql += " WHERE " + " AND ".join(where)
    rows = db.all(sql + " ORDER BY sku, site LIMIT ?", (*params, limit + 1))
    return page([render(row) for row in rows], limit, lambda item: [item["sku"], item["site"]])


def register(app: FastAPI, wms: "WmsSandbox") -> None:
    @app.get(f"{API_PREFIX}/inventory")
    async def inventory(site: str | None = None, sku: str | None = None, cursor: str | None = None,
                        limit: int = Query(DEFAULT_LIMIT, ge=1, le=MAX_LIMIT)) -> Any:
        # json_response skips FastAPI's generic encoder, which costs more than the query on a 1,000-row page
        return json_response(list_inventory(wms, site, None if sku is None else normalise_sku(sku), cursor, limit))

    @app.post("/_sandbox/inventory")
    async def stock_count(request: Request) -> Any:
        return count(wms, await parse_body(request, StockCount))
