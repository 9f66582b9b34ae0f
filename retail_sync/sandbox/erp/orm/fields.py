"""Field declarations: how a field is stored (a column, an SQL expression, a link table) and read back.

Reads follow Odoo: a missing char/date is `False`, a number is `0`/`0.0`, a many2one is `[id, display name]` or
`False`, an x2many is a list of ids. Values written are checked and converted the way Odoo's fields do.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Callable

if TYPE_CHECKING:
    from retail_sync.sandbox.erp.orm.env import Env

SqlExpr = Callable[["Env", str], str]  # (env, table alias) -> SQL expression


@dataclass(frozen=True)
class Field:
    type: str
    string: str
    name: str = ""
    stored: bool = True  # a column of the model's table named like the field
    sql: SqlExpr | None = None  # computed: an SQL expression over the row
    relation: str | None = None
    inverse: str | None = None  # one2many: the many2one field on the comodel pointing back
    link: tuple[str, str, str] | None = None  # many2many: (table, column to this model, column to the comodel)
    required: bool = False
    computed: bool = False  # set by the server; ignored on create and write, as Odoo ignores such values
    selection: tuple[str, ...] = ()
    default: Any = None  # a value, or a callable(env) -> value

    @property
    def relational(self) -> bool:
        return self.type in ("many2one", "one2many", "many2many")

    @property
    def x2many(self) -> bool:
        return self.type in ("one2many", "many2many")

    @property
    def searchable(self) -> bool:
        return self.stored or self.sql is not None or self.x2many

    def named(self, name: str) -> "Field":
        return replace(self, name=name)

    # reading --------------------------------------------------------------------------------------------
    def to_read(self, value: Any) -> Any:
        if self.type in ("integer",):
            return int(value or 0)
        if self.type in ("float", "monetary"):
            return float(value or 0.0)
        if self.type == "boolean":
            return bool(value)
        return False if value is None else value

    # writing --------------------------------------------------------------------------------------------
    def to_column(self, model: str, value: Any) -> Any:
        if self.type in ("char", "text", "html"):
            return None if value is None or value is False else str(value)
        if self.type == "selection":
            if value is None or value is False:
                return None
            if value not in self.selection:
                raise ValueError(f"Wrong value for {model}.{self.name}: {value!r}")
            return value
        if self.type == "integer":
            return int(value or 0)
        if self.type in ("float", "monetary"):
            return float(value or 0.0)
        if self.type == "boolean":
            return 1 if value else 0
        if self.type == "date":
            return None if not value else to_date_string(value)
        if self.type == "datetime":
            return None if not value else to_datetime_string(value)
        if self.type == "many2one":
            if value is None or value is False:
                return None
            if isinstance(value, bool) or not isinstance(value, int):
                raise ValueError(f"Wrong value for {model}.{self.name}: {value!r}")
            return value
        raise ValueError(f"{model}.{self.name} is not a column")


def to_date_string(value: Any) -> str:
    if isinstance(value, (dt.date, dt.datetime)):
        return value.strftime("%Y-%m-%d")
    text = str(value)
    return dt.datetime.strptime(text[:10], "%Y-%m-%d").strftime("%Y-%m-%d")


def to_datetime_string(value: Any) -> str:
    if isinstance(value, dt.datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, dt.date):
        return value.strftime("%Y-%m-%d 00:00:00")
    text = str(value)
    if len(text) > 10:  # like Odoo's Datetime.to_datetime: no 'T', no offset, no fraction
        return dt.datetime.strptime(text[:19], "%Y-%m-%d %H:%M:%S").strftime("%Y-%m-%d %H:%M:%S")
    return dt.datetime.strptime(text, "%Y-%m-%d").strftime("%Y-%m-%d %H:%M:%S")


# declarations ---------------------------------------------------------------------------------------------
def Char(string: str, **kw: Any) -> Field:
    return Field("char", string, **kw)


def Text(string: str, **kw: Any) -> Field:
    return Field("text", string, **kw)


def Integer(string: str, **kw: Any) -> Field:
    return Field("integer", string, **kw)


def Float(string: str, **kw: Any) -> Field:
    return Field("float", string, **kw)


def Monetary(string: str, **kw: Any) -> Field:
    return Field("monetary", string, computed=True, **kw)


def Boolean(string: str, **kw: Any) -> Field:
    return Field("boolean", string, **kw)


def Selection(selection: tuple[str, ...], string: str, **kw: Any) -> Field:
    return Field("selection", string, selection=selection, **kw)


def Date(string: str, **kw: Any) -> Field:
    return Field("date", string, **kw)


def Datetime(string: str, **kw: Any) -> Field:
    return Field("datetime", string, **kw)


def Many2one(relation: str, string: str, **kw: Any) -> Field:
    return Field("many2one", string, relation=relation, **kw)


def One2many(relation: str, inverse: str, string: str, **kw: Any) -> Field:
    return Field("one2many", string, stored=False, relation=relation, inverse=inverse, **kw)


def Many2many(relation: str, link: tuple[str, str, str], string: str, **kw: Any) -> Field:
    return Field("many2many", string, stored=False, relation=relation, link=link, **kw)


def Computed(type_: str, string: str, sql: SqlExpr, **kw: Any) -> Field:
    """A value computed by SQL on read (searchable, sortable, never written)."""
    return Field(type_, string, stored=False, sql=sql, computed=True, **kw)
