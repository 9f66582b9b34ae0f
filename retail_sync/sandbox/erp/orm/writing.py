"""Creating, writing and deleting rows the way Odoo's ORM does it over RPC.

Unknown fields and fields the server computes are ignored (Odoo logs and drops them); a required field left
empty is refused with the message PostgreSQL's NOT NULL violation becomes in Odoo; a many2one pointing at a
record that does not exist raises MissingError; x2many values are Odoo's command lists.
"""
from __future__ import annotations

import sqlite3
from typing import TYPE_CHECKING, Any

from retail_sync.sandbox.erp.errors import ValidationError, missing_record
from retail_sync.sandbox.erp.orm.fields import Field
from retail_sync.sandbox.erp.orm.reading import chunks, qmarks

if TYPE_CHECKING:
    from retail_sync.sandbox.erp.orm.model import BaseModel

CREATE, UPDATE, DELETE, UNLINK, LINK, CLEAR, SET = range(7)


def split_values(model: "BaseModel", vals: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """(column values converted for SQL, x2many commands) from a `vals` dict."""
    if not isinstance(vals, dict):
        raise ValueError(f"Invalid values for {model._name}: {vals!r}")
    columns: dict[str, Any] = {}
    relations: dict[str, Any] = {}
    for name, value in vals.items():
        field = model._fields.get(name)
        if field is None or field.computed or name == "id":
            continue
        if field.x2many:
            relations[name] = value
        elif field.stored:
            columns[name] = field.to_column(model._name, value)
    return columns, relations


def check_required(model: "BaseModel", columns: dict[str, Any], creating: bool) -> None:
    for field in model._fields.values():
        if not field.required or not field.stored:
            continue
        if (creating and columns.get(field.name) is None) or (not creating and field.name in columns
                                                                and columns[field.name] is None):
            raise mandatory_error(model, field)


def mandatory_error(model: "BaseModel", field: Field) -> ValidationError:
    return ValidationError(
        "The operation cannot be completed:\n"
        "- Create/update: a mandatory field is not set.\n"
        "- Delete: another model requires the record being deleted. If possible, archive it instead.\n\n"
        f"Model: {model._description} ({model._name})\nField: {field.string} ({field.name})\n")


def check_references(model: "BaseModel", columns: dict[str, Any]) -> None:
    for name, target in columns.items():
        field = model._fields[name]
        if field.type == "many2one" and target is not None:
            _require_record(model, field, target)


def _require_record(model: "BaseModel", field: Field, target: Any) -> None:
    """MissingError unless the record `field` points at exists."""
    comodel = model.env.registry[field.relation]  # type: ignore[index]
    if model.env.scalar(f"SELECT 1 FROM {comodel._table} WHERE id = ?", (target,)) is None:
        raise missing_record(comodel._name, target, model.env.uid)


def insert(model: "BaseModel", columns: dict[str, Any]) -> int:
    names = list(columns)
    sql = f"INSERT INTO {model._table} ({', '.join(names)}) VALUES ({qmarks(names)})"
    try:
        return model.env.execute(sql, [columns[n] for n in names]).lastrowid  # type: ignore[return-value]
    except sqlite3.IntegrityError as exc:
        raise _constraint_error(model, exc) from None


def update(model: "BaseModel", ids: list[int], columns: dict[str, Any]) -> None:
    assignments = ", ".join(f"{name} = ?" for name in columns)
    try:
        for chunk in chunks(ids):
            model.env.execute(f"UPDATE {model._table} SET {assignments} WHERE id IN ({qmarks(chunk)})",
                              [*columns.values(), *chunk])
    except sqlite3.IntegrityError as exc:
        raise _constraint_error(model, exc) from None


def _constraint_error(model: "BaseModel", exc: sqlite3.IntegrityError) -> ValidationError:
    """A UNIQUE violation worded as Odoo words its SQL constraints ("The operation cannot be completed: ...")."""
    text = str(exc)
    for column, message in model._unique_messages.items():
        if text.startswith("UNIQUE constraint failed") and f"{model._table}.{column}" in text:
            return ValidationError(f"The operation cannot be completed: {message}")
    return ValidationError(f"The operation cannot be completed: {text}")


def delete(model: "BaseModel", ids: list[int]) -> None:
    try:
        for chunk in chunks(ids):
            model.env.execute(f"DELETE FROM {model._table} WHERE id IN ({qmarks(chunk)})", chunk)
    except sqlite3.IntegrityError:
        raise _restricted(model, ids) from None


def _restricted(model: "BaseModel", ids: list[int]) -> ValidationError:
    """Odoo's wording for a foreign-key violation, naming the model that still points at the records."""
    for other in model.env.registry.values():
        for field in other._fields.values():
            if field.type != "many2one" or field.relation != model._name or not field.stored:
                continue
            for chunk in chunks(ids):
                if model.env.scalar(f"SELECT 1 FROM {other._table} WHERE {field.name} IN ({qmarks(chunk)}) LIMIT 1",
                                    chunk):
                    return ValidationError(
                        "The operation cannot be completed: another model requires the record being deleted. "
                        f"If possible, archive it instead.\n\nModel: {other._description} ({other._name})\n"
                        f"Constraint: {other._table}_{field.name}_fkey\n")
    return ValidationError("The operation cannot be completed: another model requires the record being deleted.")


def apply_commands(model: "BaseModel", field: Field, record_id: int, commands: Any) -> None:
    """Odoo's x2many commands: (0, 0, vals) create, (1, id, vals) update, (2, id) delete, (3, id) unlink,
    (4, id) link, (5,) clear, (6, 0, ids) set. A bare list of ids means (6, 0, ids)."""
    if not isinstance(commands, (list, tuple)):
        raise ValueError(f"Wrong value for {model._name}.{field.name}: {commands!r}")
    if commands and all(isinstance(c, int) and not isinstance(c, bool) for c in commands):
        commands = [(SET, 0, list(commands))]
    comodel = model.env[field.relation]  # type: ignore[index]
    for command in commands:
        if not isinstance(command, (list, tuple)) or not command or command[0] not in range(7):
            raise ValueError(f"Wrong value for {model._name}.{field.name}: {command!r}")
        code = command[0]
        if code == CREATE:
            values = dict(command[2])
            if field.type == "one2many":
                comodel.create({**values, field.inverse: record_id})
            else:
                _link(model, field, record_id, [comodel.create(values)])
        elif code == UPDATE:
            comodel.write([command[1]], command[2])
        elif code == DELETE or (code == UNLINK and field.type == "one2many"):
            comodel.unlink([command[1]])  # a line detached from its required parent is deleted, as in Odoo
        elif code == UNLINK:
            _unlink(model, field, record_id, [command[1]])
        elif code == LINK:
            _attach(model, comodel, field, record_id, [command[1]])
        elif code == CLEAR:
            _detach_all(model, comodel, field, record_id, keep=[])
        else:
            ids = [int(i) for i in command[2]]
            _detach_all(model, comodel, field, record_id, keep=ids)
            _attach(model, comodel, field, record_id, ids)


def _attach(model: "BaseModel", comodel: "BaseModel", field: Field, record_id: int, ids: list[int]) -> None:
    if field.type == "one2many":
        comodel.write(ids, {field.inverse: record_id})
    else:
        _link(model, field, record_id, ids)


def _detach_all(model: "BaseModel", comodel: "BaseModel", field: Field, record_id: int, keep: list[int]) -> None:
    if field.type == "one2many":
        current = [r[0] for r in model.env.rows(f"SELECT id FROM {comodel._table} WHERE {field.inverse} = ?",
                                                (record_id,))]
        comodel.unlink([i for i in current if i not in keep])
        return
    table, mine, _ = field.link  # type: ignore[misc]
    model.env.execute(f"DELETE FROM {table} WHERE {mine} = ?", (record_id,))


def _link(model: "BaseModel", field: Field, record_id: int, ids: list[int]) -> None:
    table, mine, theirs = field.link  # type: ignore[misc]
    for target in ids:
        _require_record(model, field, target)
        model.env.execute(f"INSERT OR IGNORE INTO {table} ({mine}, {theirs}) VALUES (?, ?)", (record_id, target))


def _unlink(model: "BaseModel", field: Field, record_id: int, ids: list[int]) -> None:
    table, mine, theirs = field.link  # type: ignore[misc]
    for target in ids:
        model.env.execute(f"DELETE FROM {table} WHERE {mine} = ? AND {theirs} = ?", (record_id, target))
