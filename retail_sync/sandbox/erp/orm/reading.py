"""Searching and reading: domain + order to ids, ids + field names to Odoo-shaped dicts, without N+1 queries."""
from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any, Iterable, Iterator

from retail_sync.sandbox.erp.orm.domain import DomainCompiler, mentions
from retail_sync.sandbox.erp.orm.fields import Field

if TYPE_CHECKING:
    from retail_sync.sandbox.erp.orm.env import Env
    from retail_sync.sandbox.erp.orm.model import BaseModel

CHUNK = 500  # ids per IN (...) list
_ORDER_ITEM = re.compile(r"^\s*([a-z0-9_]+)(\s+(asc|desc))?(\s+nulls\s+(first|last))?\s*$", re.IGNORECASE)


def chunks(ids: list[int], size: int = CHUNK) -> Iterator[list[int]]:
    for start in range(0, len(ids), size):
        yield ids[start:start + size]


def qmarks(values: list[Any]) -> str:
    return ", ".join("?" * len(values))


def search_query(model: "BaseModel", domain: Any) -> tuple[str, DomainCompiler]:
    """`FROM ... WHERE ...` for a domain, with Odoo's implicit `active = True` unless the domain tests `active`."""
    compiler = DomainCompiler(model.env)
    where = compiler.where(type(model), domain or [], "t")
    if "active" in model._fields and model.env.context.get("active_test", True) and not mentions(domain, "active"):
        where = f"({where}) AND t.active = 1"
    return f"FROM {model._table} t WHERE {where}", compiler


def search_ids(model: "BaseModel", domain: Any, offset: int = 0, limit: int | None = None,
               order: str | None = None) -> list[int]:
    body, compiler = search_query(model, domain)
    sql = f"SELECT t.id {body} ORDER BY {order_by(model, order or model._order, compiler)}"
    params = dict(compiler.params)
    if limit or offset:
        sql += " LIMIT :_limit OFFSET :_offset"
        params.update(_limit=int(limit) if limit else -1, _offset=int(offset or 0))
    return [row[0] for row in model.env.execute(sql, params).fetchall()]


def count(model: "BaseModel", domain: Any, limit: int | None = None) -> int:
    body, compiler = search_query(model, domain)
    params = dict(compiler.params)
    if limit:
        params["_limit"] = int(limit)
        return model.env.execute(f"SELECT COUNT(*) FROM (SELECT 1 {body} LIMIT :_limit)", params).fetchone()[0]
    return model.env.execute(f"SELECT COUNT(*) {body}", params).fetchone()[0]


def order_by(model: "BaseModel", spec: str, compiler: DomainCompiler) -> str:
    """SQL ORDER BY for an Odoo order spec ("write_date desc, id"); NULLs sort as PostgreSQL sorts them."""
    terms, has_id = [], False
    for item in str(spec).split(","):
        match = _ORDER_ITEM.match(item)
        field = model._fields.get(match.group(1)) if match else None
        if field is None or field.x2many or not field.searchable:
            raise ValueError(
                f'Invalid "order" specified ({spec}). A valid "order" specification is a comma-separated list of '
                "valid field names (optionally followed by asc/desc for the direction)")
        direction = (match.group(3) or "asc").upper()  # type: ignore[union-attr]
        nulls = (match.group(5) or ("last" if direction == "ASC" else "first")).upper()  # type: ignore[union-attr]
        expr = compiler.expression(type(model), field, "t")
        if field.type == "many2one":  # like Odoo: by the comodel's name, not by id
            comodel = model.env.registry[field.relation]  # type: ignore[index]
            expr = f"(SELECT {comodel.display_sql(model.env, 'o')} FROM {comodel._table} o WHERE o.id = t.{field.name})"
        terms.append(f"{expr} {direction} NULLS {nulls}")
        has_id = has_id or field.name == "id"
    return ", ".join(terms if has_id else [*terms, "t.id"])


def fetch(model: "BaseModel", ids: Iterable[int], names: list[str], classic: bool = True) -> dict[int, dict[str, Any]]:
    """Rows for the ids that exist, keyed by id, each `{"id": ..., <names in order>}` as Odoo's `read` shapes it."""
    cls = type(model)
    wanted = list(dict.fromkeys(ids))
    fields = [cls._fields[name] for name in names if name != "id"]
    scalar = [f for f in fields if not f.x2many]
    compiler = DomainCompiler(model.env)
    select = "".join(f', {compiler.expression(cls, f, "t")} AS "{f.name}"' for f in scalar)
    raw: dict[int, Any] = {}
    for chunk in chunks(wanted):
        for row in model.env.rows(f"SELECT t.id AS id{select} FROM {cls._table} t WHERE t.id IN ({qmarks(chunk)})",
                                  chunk):
            raw[row["id"]] = row
    found = [i for i in wanted if i in raw]
    names_of = {f.name: _display_names(model.env, f, [raw[i][f.name] for i in found])
                for f in scalar if f.type == "many2one" and classic}
    children = {f.name: _x2many_ids(model.env, f, found) for f in fields if f.x2many}
    result: dict[int, dict[str, Any]] = {}
    for record_id in found:
        row, values = raw[record_id], {"id": record_id}
        for f in fields:
            if f.x2many:
                values[f.name] = children[f.name].get(record_id, [])
            elif f.type == "many2one":
                target = row[f.name]
                values[f.name] = False if target is None else (
                    [target, names_of[f.name].get(target, "")] if classic else target)
            else:
                values[f.name] = f.to_read(row[f.name])
        result[record_id] = values
    return result


def _display_names(env: "Env", field: Field, targets: list[int | None]) -> dict[int, str]:
    comodel = env.registry[field.relation]  # type: ignore[index]
    ids = sorted({t for t in targets if t is not None})
    names: dict[int, str] = {}
    for chunk in chunks(ids):
        for row in env.rows(f"SELECT t.id, {comodel.display_sql(env, 't')} FROM {comodel._table} t"
                            f" WHERE t.id IN ({qmarks(chunk)})", chunk):
            names[row[0]] = row[1] or ""
    return names


def _x2many_ids(env: "Env", field: Field, owners: list[int]) -> dict[int, list[int]]:
    grouped: dict[int, list[int]] = {}
    if field.type == "one2many":
        comodel = env[field.relation]  # type: ignore[index]
        spec = order_by(comodel, comodel._order, DomainCompiler(env))
        for chunk in chunks(owners):
            for row in env.rows(f"SELECT t.id, t.{field.inverse} FROM {comodel._table} t"
                                f" WHERE t.{field.inverse} IN ({qmarks(chunk)}) ORDER BY {spec}", chunk):
                grouped.setdefault(row[1], []).append(row[0])
        return grouped
    table, mine, theirs = field.link  # type: ignore[misc]
    for chunk in chunks(owners):
        for row in env.rows(f"SELECT {mine}, {theirs} FROM {table} WHERE {mine} IN ({qmarks(chunk)})"
                            f" ORDER BY {theirs}", chunk):
            grouped.setdefault(row[0], []).append(row[1])
    return grouped
