"""What the WMS's documents (fulfilment orders, return authorizations) do alike: a header row with a public
prefixed id and numbered `(sku, quantity)` lines at one site, creation made idempotent by a business reference
plus a request fingerprint, listing in id order with a cursor, and child rows gathered for a whole page at once."""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Protocol

from fastapi import FastAPI, Request

from retail_sync.sandbox.wms import inventory
from retail_sync.sandbox.wms.api import (
    Line, WmsError, decode_cursor, equal_filters, json_response, not_found, page, parse_body, parse_prefixed_id,
    prefixed_id,
)

if TYPE_CHECKING:
    import sqlite3

    from retail_sync.sandbox.wms.app import WmsSandbox

Render = Callable[["sqlite3.Connection", "sqlite3.Row"], dict[str, Any]]
RenderMany = Callable[["sqlite3.Connection", list["sqlite3.Row"]], list[dict[str, Any]]]
# writes the header row (and whatever else creating the document does): (conn, fingerprint, now) → its id
InsertHeader = Callable[["sqlite3.Connection", str, float], int]


Create = Callable[["WmsSandbox", Any], tuple[int, dict[str, Any]]]


class DocumentRequest(Protocol):
    site: str
    lines: list[Line]

    def fingerprint(self) -> str: ...


def children(conn: "sqlite3.Connection", table: str, parent: str, parent_ids: list[int], order: str,
             render: Callable[["sqlite3.Row"], dict[str, Any]]) -> dict[int, list[dict[str, Any]]]:
    """The rendered rows of `table` per parent id: one query for a whole page, not one per parent."""
    grouped: dict[int, list[dict[str, Any]]] = {}
    if not parent_ids:  # `IN ()` is not SQL
        return grouped
    for row in conn.execute(f"SELECT * FROM {table} WHERE {parent} IN ({','.join('?' * len(parent_ids))})"
                            f" ORDER BY {parent}, {order}", parent_ids):
        grouped.setdefault(row[parent], []).append(render(row))
    return grouped


@dataclass(frozen=True)
class Documents:
    table: str
    lines: str  # the lines' table: (parent, line_no, sku, quantity, ...)
    parent: str  # the lines' column holding the document's id
    kind: str  # error codes (`{kind}_not_found`) and ledger entries
    prefix: str  # public ids: `FO-000001`
    reference: str  # the request field and column a create is idempotent on

    def load(self, conn: "sqlite3.Connection", number: int) -> "sqlite3.Row":
        row = conn.execute(f"SELECT * FROM {self.table} WHERE id = ?", (number,)).fetchone()
        if row is None:
            raise not_found(self.kind, prefixed_id(self.prefix, number))
        return row

    def load_public(self, conn: "sqlite3.Connection", public_id: str) -> "sqlite3.Row":
        number = parse_prefixed_id(self.prefix, public_id)
        if number is None:
            raise not_found(self.kind, public_id)
        return self.load(conn, number)

    def lines_of(self, conn: "sqlite3.Connection", ids: list[int],
                 render: Callable[["sqlite3.Row"], dict[str, Any]]) -> dict[int, list[dict[str, Any]]]:
        return children(conn, self.lines, self.parent, ids, "line_no", render)

    def create_once(self, wms: "WmsSandbox", body: DocumentRequest, insert: InsertHeader, render: Render, *,
                    done: str, differs: str) -> tuple[int, dict[str, Any]]:
        """(201, a new document) or (200, the one already made under the body's reference); 409 when that one
        was made from a different request. Every attempt goes to the ledger, refusals included."""
        ref: str = getattr(body, self.reference)
        fingerprint = body.fingerprint()
        try:
            with wms.db.tx() as conn:
                existing = conn.execute(f"SELECT * FROM {self.table} WHERE {self.reference} = ?", (ref,)).fetchone()
                if existing is not None:
                    public_id = prefixed_id(self.prefix, existing["id"])
                    if existing["fingerprint"] != fingerprint:
                        raise WmsError(409, f"{self.reference}_conflict", f"{self.reference} {ref!r} was already"
                                       f" {done} as {public_id} with a different {differs}", id=public_id)
                    wms.ledger.record_create(self.kind, ref, "existing", public_id)
                    return 200, render(conn, existing)
                inventory.require_site(conn, body.site)
                inventory.require_lines(conn, body.lines)
                number = insert(conn, fingerprint, time.time())
                conn.executemany(f"INSERT INTO {self.lines} ({self.parent}, line_no, sku, quantity)"
                                 " VALUES (?, ?, ?, ?)",
                                 [(number, no, line.sku, line.quantity) for no, line in enumerate(body.lines, 1)])
                wms.ledger.record_create(self.kind, ref, "created", prefixed_id(self.prefix, number))
                return 201, render(conn, self.load(conn, number))
        except WmsError as error:
            # After the rollback, so the refusal itself is on record.
            wms.ledger.record_create(self.kind, ref, "rejected", error.details.get("id"), code=error.code)
            raise

    def list_page(self, wms: "WmsSandbox", filters: dict[str, Any], cursor: str | None, limit: int,
                  render_many: RenderMany) -> dict[str, Any]:
        """A page in id order; the cursor carries the last id, so a deep page is still one range scan."""
        after = decode_cursor(cursor, (int,))
        where, params = equal_filters(filters)
        if after is not None:
            where.append("id > ?")
            params.append(after[0])
        sql = f"SELECT * FROM {self.table}" + (" WHERE " + " AND ".join(where) if where else "")
        with wms.db.tx() as conn:  # one snapshot for the documents and their child rows
            items = render_many(conn, conn.execute(sql + " ORDER BY id LIMIT ?", (*params, limit + 1)).fetchall())
        return page(items, limit, lambda item: [parse_prefixed_id(self.prefix, item["id"])])

    def add_routes(self, app: FastAPI, wms: "WmsSandbox", base: str, request_model: type[Any], create: Create,
                   render: Render) -> None:
        """`POST {base}` (a `create` of the validated body: 201 or 200) and `GET {base}/{id}`."""
        @app.post(base)
        async def create_document(request: Request) -> Any:
            status, document = create(wms, await parse_body(request, request_model))
            return json_response(document, status)

        @app.get(base + "/{public_id}")
        async def document(public_id: str) -> Any:
            with wms.db.tx() as conn:
                return render(conn, self.load_public(conn, public_id))
