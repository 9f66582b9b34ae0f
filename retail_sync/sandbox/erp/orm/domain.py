"""Odoo domains compiled to SQL.

A domain is a list in Polish notation: leaves `(path, operator, value)` and the prefix operators `&`, `|`, `!`,
with an implicit `&` between top-level terms. `!` is pushed down onto the leaves by negating their operators,
as Odoo's `distribute_not` does, so `!('state', '=', 'sale')` matches rows whose state is NULL too.

Semantics kept from Odoo: `=`/`!=` against `False` test NULL; `!=`, `not in`, `not like`, `not ilike` also match
NULL; `like`/`ilike` wrap the value in `%` (without escaping it); a datetime compared with a bare date gets
` 00:00:00` (or ` 23:59:59` for `>` and `<=`); a many2one compared with a string matches on the comodel's
names; paths like `partner_id.email` or `order_line.product_id` follow relations.
"""
from __future__ import annotations

import datetime as dt
import itertools
from typing import TYPE_CHECKING, Any

from retail_sync.sandbox.erp.orm.fields import Field

if TYPE_CHECKING:
    from retail_sync.sandbox.erp.orm.env import Env
    from retail_sync.sandbox.erp.orm.model import Model

OPERATORS = ("=", "!=", "<>", ">", ">=", "<", "<=", "in", "not in", "like", "not like", "ilike", "not ilike",
             "=like", "=ilike")
NEGATION = {"<": ">=", ">": "<=", "<=": ">", ">=": "<", "=": "!=", "!=": "=", "in": "not in", "not in": "in",
            "like": "not like", "not like": "like", "ilike": "not ilike", "not ilike": "ilike"}
NEGATIVE = ("!=", "not in", "not like", "not ilike")
TRUE_LEAF, FALSE_LEAF = (1, "=", 1), (0, "=", 1)

Node = tuple  # ("leaf", leaf) | ("&", a, b) | ("|", a, b) | ("!", a)


def mentions(domain: Any, field_name: str) -> bool:
    """Whether a top-level leaf tests `field_name` (Odoo's test for leaving out its `active` filter)."""
    return isinstance(domain, (list, tuple)) and any(
        isinstance(item, (list, tuple)) and len(item) == 3 and item[0] == field_name for item in domain)


def parse(domain: Any) -> Node | None:
    if not isinstance(domain, (list, tuple)):
        raise ValueError(f"Invalid domain {domain!r}")
    items, position = list(domain), 0

    def node() -> Node:
        nonlocal position
        if position >= len(items):
            raise ValueError(f"Invalid domain {domain!r}: an operator lacks its operands")
        item = items[position]
        position += 1
        if item == "!":
            return ("!", node())
        if item in ("&", "|"):
            return (item, node(), node())
        return ("leaf", _checked_leaf(item))

    terms: list[Node] = []
    while position < len(items):
        terms.append(node())
    if not terms:
        return None
    tree = terms[-1]
    for term in reversed(terms[:-1]):
        tree = ("&", term, tree)
    return tree


def _checked_leaf(item: Any) -> tuple:
    if isinstance(item, (list, tuple)) and len(item) == 3:
        leaf = tuple(item)
        if leaf in (TRUE_LEAF, FALSE_LEAF):
            return leaf
        if isinstance(leaf[0], str) and isinstance(leaf[1], str) and leaf[1].lower() in OPERATORS:
            return (leaf[0], leaf[1].lower(), leaf[2])
    raise ValueError(f"Invalid leaf {item!r}")


class DomainCompiler:
    """Turns domains into SQL with named parameters (`:p1`...) collected in `params`."""

    def __init__(self, env: "Env") -> None:
        self.env = env
        self.params: dict[str, Any] = {}
        self._names = itertools.count(1)

    def where(self, model: type["Model"], domain: Any, alias: str) -> str:
        tree = parse(domain)
        return "1=1" if tree is None else self._node(model, alias, tree, negate=False)

    # tree --------------------------------------------------------------------------------------------------
    def _node(self, model: type["Model"], alias: str, node: Node, negate: bool) -> str:
        kind = node[0]
        if kind == "!":
            return self._node(model, alias, node[1], not negate)
        if kind in ("&", "|"):
            joiner = "AND" if (kind == "&") != negate else "OR"
            left = self._node(model, alias, node[1], negate)
            right = self._node(model, alias, node[2], negate)
            return f"({left} {joiner} {right})"
        leaf = node[1]
        if leaf == TRUE_LEAF:
            return "1=0" if negate else "1=1"
        if leaf == FALSE_LEAF:
            return "1=1" if negate else "1=0"
        path, operator, value = leaf
        operator = "!=" if operator == "<>" else operator
        if negate:
            if operator not in NEGATION:
                return f"(NOT {self._leaf(model, alias, path, operator, value, leaf)})"
            operator = NEGATION[operator]
        return self._leaf(model, alias, path, operator, value, leaf)

    # leaves ------------------------------------------------------------------------------------------------
    def _leaf(self, model: type["Model"], alias: str, path: str, operator: str, value: Any, leaf: tuple) -> str:
        name, _, rest = path.partition(".")
        field = model._fields.get(name)
        if field is None:
            raise ValueError(f"Invalid field {model._name}.{name} in leaf {leaf!r}")
        if not field.searchable:
            raise ValueError(f"Non-stored field {model._name}.{name} cannot be searched.")
        if rest:
            if not field.relational:
                raise ValueError(f"Invalid field {model._name}.{name} in leaf {leaf!r}")
            return self._follow(model, alias, field, rest, operator, value)
        if field.type == "many2one" and _is_text(value) and operator in NEGATIVE:
            column = self.expression(model, field, alias)
            names = self._name_search(field.relation, NEGATION[operator], value)
            return f"({column} NOT IN ({names}) OR {column} IS NULL)"
        if field.type == "many2one" and _is_text(value) and operator not in ("<", ">", "<=", ">="):
            return f"{self.expression(model, field, alias)} IN ({self._name_search(field.relation, operator, value)})"
        if field.x2many:
            return self._x2many(model, alias, field, operator, value, leaf)
        return self._compare(self.expression(model, field, alias), field, operator, value)

    def expression(self, model: type["Model"], field: Field, alias: str) -> str:
        return f"{alias}.{field.name}" if field.stored else field.sql(self.env, alias)  # type: ignore[misc]

    def _follow(self, model: type["Model"], alias: str, field: Field, rest: str, operator: str, value: Any) -> str:
        comodel = self.env.registry[field.relation]  # type: ignore[index]
        inner = self._alias()
        condition = self._leaf(comodel, inner, rest, operator, value, (rest, operator, value))
        matching = f"SELECT {inner}.id FROM {comodel._table} {inner} WHERE {condition}"
        if field.type == "many2one":
            return f"{self.expression(model, field, alias)} IN ({matching})"
        return f"{alias}.id IN ({self._owners(model, field, matching)})"

    def _owners(self, model: type["Model"], field: Field, comodel_ids_sql: str) -> str:
        """SQL for the ids of `model` whose x2many `field` holds one of `comodel_ids_sql`."""
        if field.type == "one2many":
            comodel = self.env.registry[field.relation]  # type: ignore[index]
            inner = self._alias()
            return (f"SELECT {inner}.{field.inverse} FROM {comodel._table} {inner}"
                    f" WHERE {inner}.id IN ({comodel_ids_sql}) AND {inner}.{field.inverse} IS NOT NULL")
        table, mine, theirs = field.link  # type: ignore[misc]
        return f"SELECT {mine} FROM {table} WHERE {theirs} IN ({comodel_ids_sql})"

    def _x2many(self, model: type["Model"], alias: str, field: Field, operator: str, value: Any,
                leaf: tuple) -> str:
        if operator in ("=", "!=") and (value is False or value is None):
            comodel = self.env.registry[field.relation]  # type: ignore[index]
            every = self._owners(model, field, f"SELECT id FROM {comodel._table}")
            return f"{alias}.id {'NOT IN' if operator == '=' else 'IN'} ({every})"
        if _is_text(value):
            positive = NEGATION[operator] if operator in NEGATIVE else operator
            owners = self._owners(model, field, self._name_search(field.relation, positive, value))
            return f"{alias}.id {'NOT IN' if operator in NEGATIVE else 'IN'} ({owners})"
        if operator in ("=", "in", "!=", "not in"):
            ids = [int(v) for v in (value if isinstance(value, (list, tuple)) else [value]) if v is not False]
            owners = self._owners(model, field, self._placeholders(ids) or "NULL")
            return f"{alias}.id {'NOT IN' if operator in NEGATIVE else 'IN'} ({owners})"
        raise ValueError(f"Invalid leaf {leaf!r}")

    def _name_search(self, comodel_name: str | None, operator: str, value: Any) -> str:
        comodel = self.env.registry[comodel_name]  # type: ignore[index]
        inner = self._alias()
        tests = [self._compare(self.expression(comodel, comodel._fields[name], inner), comodel._fields[name],
                               operator, value) for name in comodel._rec_names_search]
        return f"SELECT {inner}.id FROM {comodel._table} {inner} WHERE {' OR '.join(tests)}"

    # comparisons -------------------------------------------------------------------------------------------
    def _compare(self, expr: str, field: Field, operator: str, value: Any) -> str:
        if operator in ("in", "not in"):
            return self._membership(expr, field, operator, value)
        if field.type == "boolean" and operator in ("=", "!="):
            holds = (operator == "=") == bool(value)
            return f"{expr} = 1" if holds else f"({expr} IS NULL OR {expr} = 0)"
        if (value is False or value is None) and operator in ("=", "!="):
            return f"{expr} IS {'NULL' if operator == '=' else 'NOT NULL'}"
        if operator.endswith("like"):
            return self._like(expr, operator, value)
        param = self._param(_sql_value(field, value, operator))
        if operator == "!=":
            return f"({expr} != {param} OR {expr} IS NULL)"
        return f"{expr} {operator} {param}"

    def _membership(self, expr: str, field: Field, operator: str, value: Any) -> str:
        values = list(value) if isinstance(value, (list, tuple, set)) else [value]
        if field.type == "boolean":
            values = [bool(v) for v in values]
            wanted = set(values) if operator == "in" else {True, False} - set(values)
            if not wanted:
                return "1=0"
            return "1=1" if len(wanted) == 2 else self._compare(expr, field, "=", wanted.pop())
        has_null = any(v is False or v is None for v in values)
        real = [_sql_value(field, v, "=") for v in values if v is not False and v is not None]
        listed = f"{expr} {'IN' if operator == 'in' else 'NOT IN'} ({self._placeholders(real)})" if real else ""
        if operator == "in":
            parts = [part for part in (listed, f"{expr} IS NULL" if has_null else "") if part]
            return f"({' OR '.join(parts)})" if parts else "1=0"
        if has_null:
            return listed or f"{expr} IS NOT NULL"
        return f"({listed} OR {expr} IS NULL)" if listed else "1=1"

    def _like(self, expr: str, operator: str, value: Any) -> str:
        text = "" if value is None or value is False else str(value)
        pattern = self._param(text if operator.startswith("=") else f"%{text}%")
        insensitive = "ilike" in operator
        subject = f"py_lower({expr})" if insensitive else expr
        test = f"{subject} LIKE {'py_lower(' + pattern + ')' if insensitive else pattern}"
        if operator.startswith("not "):
            return f"(NOT ({test}) OR {expr} IS NULL)"
        return test

    # parameters --------------------------------------------------------------------------------------------
    def _param(self, value: Any) -> str:
        name = f"p{next(self._names)}"
        self.params[name] = value
        return f":{name}"

    def _placeholders(self, values: list[Any]) -> str:
        return ", ".join(self._param(v) for v in values)

    def _alias(self) -> str:
        return f"a{next(self._names)}"


def _is_text(value: Any) -> bool:
    if isinstance(value, str):
        return True
    return isinstance(value, (list, tuple)) and bool(value) and all(isinstance(v, str) for v in value)


def _sql_value(field: Field, value: Any, operator: str) -> Any:
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, dt.datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, dt.date):
        return value.strftime("%Y-%m-%d")
    if field.type == "datetime" and isinstance(value, str):
        if len(value) == 10:
            return value + (" 23:59:59" if operator in (">", "<=") else " 00:00:00")
        return value.replace("T", " ", 1)[:19]
    return value
