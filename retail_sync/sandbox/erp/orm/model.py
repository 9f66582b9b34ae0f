"""`BaseModel`: what every model answers over RPC, and the hooks business models fill in.

Named `BaseModel` like Odoo's, so a wrong call fails with the same text (`BaseModel.write() missing 1 required
positional argument: 'vals'`). The methods in MODEL_METHODS take no ids; every other public method takes the
record ids as its first argument, as Odoo's `call_kw` passes them.
"""
from __future__ import annotations

from typing import Any, ClassVar

from retail_sync.sandbox.erp.errors import missing_for_write, missing_record
from retail_sync.sandbox.erp.orm import reading, writing
from retail_sync.sandbox.erp.orm.env import CreateAttempt, Env
from retail_sync.sandbox.erp.orm.fields import Computed, Datetime, Field, Integer

MODEL_METHODS = frozenset({"search", "search_read", "search_count", "create", "fields_get"})
RECORD_METHODS = frozenset({"read", "write", "unlink"})


class BaseModel:
    _name: ClassVar[str] = ""
    _description: ClassVar[str] = ""
    _table: ClassVar[str] = ""
    _order: ClassVar[str] = "id"
    _rec_name: ClassVar[str] = "name"
    _rec_names_search: ClassVar[tuple[str, ...]] = ("name",)
    _field_specs: ClassVar[dict[str, Field]] = {}
    _actions: ClassVar[frozenset[str]] = frozenset()  # business methods callable over RPC on records
    _unique_messages: ClassVar[dict[str, str]] = {}  # column -> message of its SQL UNIQUE constraint
    _fields: ClassVar[dict[str, Field]]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        specs = {"id": Integer("ID", computed=True), **cls._field_specs,
                 "display_name": Computed("char", "Display Name", lambda env, alias: cls.display_sql(env, alias)),
                 "create_date": Datetime("Created on", computed=True),
                 "write_date": Datetime("Last Updated on", computed=True)}
        cls._fields = {name: field.named(name) for name, field in specs.items()}

    def __init__(self, env: Env) -> None:
        self.env = env

    @classmethod
    def display_sql(cls, env: Env, alias: str) -> str:
        """SQL for the display name (many2one reads, ordering by a many2one, `display_name`)."""
        return f"{alias}.{cls._rec_name}"

    # dispatch --------------------------------------------------------------------------------------------
    def call(self, method: str, args: list[Any], kwargs: dict[str, Any]) -> Any:
        kwargs = dict(kwargs)
        context = kwargs.pop("context", None)
        if context:
            self.env.context.update(context)
        if method not in MODEL_METHODS | RECORD_METHODS | self._actions:
            raise AttributeError(f"type object '{self._name}' has no attribute '{method}'")
        function = getattr(self, method)
        if method in MODEL_METHODS:
            return function(*args, **kwargs)
        ids, rest = args[0], args[1:]  # IndexError without ids, as Odoo's call_kw
        return function(self.browse(ids), *rest, **kwargs)

    @staticmethod
    def browse(ids: Any) -> list[int]:
        if ids is False or ids is None:
            return []
        values = ids if isinstance(ids, (list, tuple)) else [ids]
        if not all(isinstance(v, int) and not isinstance(v, bool) for v in values):
            raise ValueError(f"Invalid ids {ids!r}")
        return list(values)

    # generic RPC methods ---------------------------------------------------------------------------------
    def search(self, domain: Any, offset: int = 0, limit: int | None = None, order: str | None = None) -> list[int]:
        return reading.search_ids(self, domain, offset, limit, order)

    def search_count(self, domain: Any, limit: int | None = None) -> int:
        return reading.count(self, domain, limit)

    def search_read(self, domain: Any = None, fields: list[str] | None = None, offset: int = 0,
                    limit: int | None = None, order: str | None = None, **read_kwargs: Any) -> list[dict[str, Any]]:
        self._field_names(fields)
        ids = reading.search_ids(self, domain, offset, limit, order)
        return self.read(ids, fields, **read_kwargs) if ids else []

    def read(self, ids: list[int], fields: list[str] | None = None, load: str = "_classic_read") -> list[dict]:
        names = self._field_names(fields)
        rows = reading.fetch(self, ids, names, classic=load == "_classic_read")
        return [rows[i] for i in ids if i in rows]  # ids that no longer exist are left out, as Odoo does

    def create(self, vals_list: Any) -> int | list[int]:
        if isinstance(vals_list, dict):
            return self._create_one(vals_list)
        return [self._create_one(vals) for vals in vals_list]

    def write(self, ids: list[int], vals: dict[str, Any]) -> bool:
        self.ensure_exist(ids, "write")
        vals = self._clean_values(dict(vals))
        self._before_write(ids, vals)
        columns, relations = writing.split_values(self, vals)
        writing.check_required(self, columns, creating=False)
        writing.check_references(self, columns)
        writing.update(self, ids, {**columns, "write_date": self.env.now})
        for record_id in ids:
            for name, commands in relations.items():
                writing.apply_commands(self, self._fields[name], record_id, commands)
        self._after_write(ids, set(vals), created=False)
        return True

    def unlink(self, ids: list[int]) -> bool:
        existing = self.existing(ids)
        if existing:
            memo = self._before_unlink(existing)
            writing.delete(self, existing)
            self._after_unlink(memo)
        return True

    def fields_get(self, allfields: list[str] | None = None, attributes: list[str] | None = None) -> dict:
        described = {}
        for name, field in self._fields.items():
            if allfields and name not in allfields:
                continue
            info: dict[str, Any] = {"type": field.type, "string": field.string, "required": field.required,
                                    "readonly": field.computed, "store": field.stored, "searchable": field.searchable}
            if field.relation:
                info["relation"] = field.relation
            if field.selection:
                info["selection"] = [[value, value] for value in field.selection]
            described[name] = {k: v for k, v in info.items() if not attributes or k in attributes}
        return described

    # helpers for models ----------------------------------------------------------------------------------
    def existing(self, ids: list[int]) -> list[int]:
        found: set[int] = set()
        for chunk in reading.chunks(list(dict.fromkeys(ids))):
            found.update(r[0] for r in self.env.rows(
                f"SELECT id FROM {self._table} WHERE id IN ({reading.qmarks(chunk)})", chunk))
        return [i for i in dict.fromkeys(ids) if i in found]

    def ensure_exist(self, ids: list[int], operation: str) -> None:
        found = set(self.existing(ids))
        missing = [i for i in ids if i not in found]
        if missing:
            raise missing_for_write(self._name, operation, missing, self.env.uid)

    def records(self, ids: list[int]) -> list[Any]:
        """The rows of `ids` in order; a missing id fails as reading a deleted record does in Odoo."""
        rows = {}
        for chunk in reading.chunks(list(dict.fromkeys(ids))):
            rows.update((r["id"], r) for r in self.env.rows(
                f"SELECT * FROM {self._table} WHERE id IN ({reading.qmarks(chunk)})", chunk))
        for record_id in ids:
            if record_id not in rows:
                raise missing_record(self._name, record_id, self.env.uid)
        return [rows[i] for i in ids]

    def any_where(self, ids: list[int], condition: str) -> bool:
        """Whether one of `ids` meets the SQL `condition` on this model's table."""
        return bool(ids) and self.env.scalar(
            f"SELECT 1 FROM {self._table} WHERE id IN ({reading.qmarks(ids)}) AND ({condition}) LIMIT 1", ids) is not None

    def distinct(self, ids: list[int], column: str) -> list[int]:
        """The distinct values of `column` over `ids` (the documents some lines belong to...)."""
        return [r[0] for r in self.env.rows(
            f"SELECT DISTINCT {column} FROM {self._table} WHERE id IN ({reading.qmarks(ids)})", ids)]

    def set_values(self, ids: list[int], columns: dict[str, Any]) -> None:
        """Server-side write of computed/state columns (no hooks), stamping `write_date`."""
        writing.update(self, ids, {**columns, "write_date": self.env.now})

    def _field_names(self, fields: list[str] | None) -> list[str]:
        if not fields:
            return list(self._fields)
        for name in fields:
            if name not in self._fields:
                raise ValueError(f"Invalid field {name!r} on model {self._name!r}")
        return ["id", *[name for name in fields if name != "id"]]

    def _create_one(self, vals: Any) -> int:
        if not isinstance(vals, dict):
            raise ValueError(f"Invalid values for {self._name}: {vals!r}")
        vals = self._clean_values(dict(vals))
        defaults = self._static_defaults(vals)
        vals = self._default_values({**{k: v for k, v in defaults.items() if not self._fields[k].computed}, **vals})
        key = self._ledger_key(vals)
        attempt = None if key is None else CreateAttempt(self._name, key)
        if attempt is not None:
            self.env.creates.append(attempt)  # before any check, so a refused create shows as `rejected`
        columns, relations = writing.split_values(self, vals)
        for name, value in defaults.items():  # what the server itself sets on a new record (state, number...)
            if self._fields[name].computed and self._fields[name].stored:
                columns[name] = self._fields[name].to_column(self._name, value)
        writing.check_required(self, columns, creating=True)
        writing.check_references(self, columns)
        record_id = writing.insert(self, {**columns, "create_date": self.env.now, "write_date": self.env.now})
        for name, commands in relations.items():
            writing.apply_commands(self, self._fields[name], record_id, commands)
        self._after_write([record_id], set(vals), created=True)
        if attempt is not None:
            attempt.record_id = record_id
        return record_id

    def _static_defaults(self, vals: dict[str, Any]) -> dict[str, Any]:
        defaults = {}
        for name, field in self._fields.items():
            if name not in vals and field.default is not None:
                defaults[name] = field.default(self.env) if callable(field.default) else field.default
        return defaults

    # hooks -----------------------------------------------------------------------------------------------
    def _clean_values(self, vals: dict[str, Any]) -> dict[str, Any]:
        """Normalise values given to create or write (before defaults and checks)."""
        return vals

    def _default_values(self, vals: dict[str, Any]) -> dict[str, Any]:
        """Defaults that depend on other values (a line's price from its product...)."""
        return vals

    def _before_write(self, ids: list[int], vals: dict[str, Any]) -> None:
        """Refuse writes the model forbids (posted invoices...)."""

    def _after_write(self, ids: list[int], names: set[str], created: bool) -> None:
        """Constraints and recomputations after a create or a write."""

    def _before_unlink(self, ids: list[int]) -> Any:
        """Refuse deletions the model forbids; the value returned is passed to `_after_unlink`."""
        return None

    def _after_unlink(self, memo: Any) -> None:
        """Recompute what depended on deleted rows."""

    def _ledger_key(self, vals: dict[str, Any]) -> str | None:
        """Business key under which a create attempt with `vals` goes to the sandbox ledger (None: not recorded)."""
        return None
