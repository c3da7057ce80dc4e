"""Conditions on a path inside a JSON field (`{"meta.owner.id": 1}`), as SQLite or PostgreSQL SQL.

The rules they follow are in `livevec.filters`; this module says how each store reads a path. Both
read the path's value only when it is of the kind compared (a number, a string, or one of the
literals true, false and null) and NULL otherwise, so that a value of another kind, or a missing
path, matches no comparison. The keys of the path always travel as parameters.
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Literal

from ._errors import FilterError
from ._schema import ColumnSpec, TableSpec, shown, unstorable

Kind = Literal["number", "string", "literal"]
# what a key of a path may not hold: JSON escapes it when stored, and SQLite before 3.45 compares a
# path's key with the stored key as written, escapes and all (so such a key could never be found)
_UNFINDABLE = re.compile(r'["\\\x00-\x1f]')
_LITERALS = {True: "true", False: "false", None: "null"}


@dataclass(frozen=True)
class JsonPath:
    """A filter's field name read as a JSON field and the keys followed inside it."""

    name: str  # as the filter wrote it ("meta.owner.id")
    column: str  # the JSON field ("meta")
    keys: tuple[str, ...]  # ("owner", "id")


def parse_path(name: str, spec: TableSpec) -> JsonPath:
    """`name` as a path into one of `spec`'s JSON fields.

    Raises:
        FilterError: `name` names no field, a field that is not JSON, or has a key no path can
            find (empty, or holding a double quote, a backslash or a control character).
    """
    head, dot, rest = name.partition(".")
    column: ColumnSpec | None = spec.column(head) if dot else None
    if column is None:
        raise FilterError(f"unknown field; the table has {spec.column_names}", field=name)
    if column.type != "json":
        raise FilterError(
            f"{head!r} is a {column.type} field: only JSON (dict or list) fields have paths", field=name
        )
    keys = tuple(rest.split("."))
    for key in keys:
        if not key:
            raise FilterError("the path has an empty key (two dots together, or one at its end)", field=name)
        if _UNFINDABLE.search(key):
            raise FilterError(
                f"key {key!r}: a key of a path holds no double quote, backslash or control character",
                field=name,
            )
        reason = unstorable(key)
        if reason:
            raise FilterError(f"key {key!r}: {reason}", field=name)
    return JsonPath(name, head, keys)


def kind_of(path: JsonPath, op: str, value: Any) -> Kind:
    """Which kind of JSON value `value` compares with, or a FilterError naming the path."""
    if value is None or isinstance(value, bool):
        return "literal"
    if isinstance(value, int | float | str):
        reason = unstorable(value)
        if reason:
            raise FilterError(f"{op}: {reason}", field=path.name)
        if isinstance(value, str) and "\x00" in value:
            raise FilterError(f"{op}: a JSON path compares no text holding a NUL character", field=path.name)
        return "string" if isinstance(value, str) else "number"
    raise FilterError(
        f"{op} compares a JSON value with a number, a str, a bool or None, got "
        f"{type(value).__name__} {shown(value)}",
        field=path.name,
    )


class JsonDialect(ABC):
    """How one store reads a JSON path; `mark` is its parameter mark."""

    mark: str

    @abstractmethod
    def read(self, column: str, path: JsonPath, kind: Kind) -> tuple[str, list[Any]]:
        """SQL of the path's value in the (quoted) `column` when it is of `kind`, else NULL (a
        literal reads as its name, "true", "false" or "null"); and the SQL's parameters."""

    def param(self, kind: Kind, value: Any) -> Any:
        """`value` as the store compares it with what `read` gives."""
        return _LITERALS[value] if kind == "literal" else value


class SQLiteJson(JsonDialect):
    """SQLite's JSON1 functions: `json_type` says a value's kind, `json_extract` reads it."""

    mark = "?"

    def read(self, column: str, path: JsonPath, kind: Kind) -> tuple[str, list[Any]]:
        where = "$" + "".join(f'."{key}"' for key in path.keys)
        if kind == "literal":  # json_type names a literal as the literal: 'true', 'false', 'null'
            return f"json_type({column}, ?)", [where]
        types = "IN ('integer', 'real')" if kind == "number" else "= 'text'"
        return f"CASE WHEN json_type({column}, ?) {types} THEN json_extract({column}, ?) END", [where, where]


class PostgresJson(JsonDialect):
    """PostgreSQL's `json` operators; text compares in byte order, as SQLite's does."""

    mark = "%s"

    def read(self, column: str, path: JsonPath, kind: Kind) -> tuple[str, list[Any]]:
        # `-> text` reads an object's key only (#> would also index an array, which SQLite's does not)
        value = "(" + column + "".join(" -> %s::text" for _ in path.keys) + ")"
        params = list(path.keys)
        if kind == "number":
            return (
                f"(CASE json_typeof({value}) WHEN 'number' THEN ({value} #>> '{{}}')::numeric END)",
                params * 2,
            )
        if kind == "string":
            return (
                f"(CASE json_typeof({value}) WHEN 'string' THEN {value} #>> '{{}}' END) COLLATE \"C\"",
                params * 2,
            )
        return (
            f"(CASE json_typeof({value}) WHEN 'boolean' THEN {value} #>> '{{}}' WHEN 'null' THEN 'null' END)",
            params * 2,
        )

    def param(self, kind: Kind, value: Any) -> Any:
        if kind == "number" and isinstance(value, float):
            # as a numeric, the shortest decimal of the float: the one a stored float is written as
            return Decimal(repr(value))
        return super().param(kind, value)


SQLITE = SQLiteJson()
POSTGRES = PostgresJson()

_ORDERINGS = {"$gt": ">", "$gte": ">=", "$lt": "<", "$lte": "<="}
_NEGATIONS = {"$ne": "$eq", "$nin": "$in"}


def path_condition(
    path: JsonPath, condition: Any, column: str, dialect: JsonDialect, params: list[Any]
) -> str:
    """SQL for the filter `{path.name: condition}` on the (quoted) JSON `column`; its parameters are
    appended to `params`."""
    if not isinstance(condition, Mapping):
        condition = {"$eq": condition}
    if not condition:
        raise FilterError("empty condition", field=path.name)
    parts = []
    for op, value in condition.items():
        positive = _NEGATIONS.get(op, op)
        if positive == "$eq":
            sql = _one_of(path, op, [value], column, dialect, params)
        elif positive == "$in":
            if not isinstance(value, list | tuple | set | frozenset):
                raise FilterError(f"{op} takes a list, got {type(value).__name__}", field=path.name)
            sql = _one_of(path, op, list(value), column, dialect, params) if value else "1=0"
        elif op in _ORDERINGS:
            kind = kind_of(path, op, value)
            if kind == "literal":
                raise FilterError(f"{op} orders numbers or strings, got {shown(value)}", field=path.name)
            read, read_params = dialect.read(column, path, kind)
            params.extend([*read_params, dialect.param(kind, value)])
            sql = f"{read} {_ORDERINGS[op]} {dialect.mark}"
        else:
            raise FilterError(
                f"unknown operator {op!r}; use one of {sorted({*_ORDERINGS, '$eq', '$ne', '$in', '$nin'})}",
                field=path.name,
            )
        # a negation matches wherever its opposite does not: a missing path, a value of another kind
        parts.append(f"({sql}) IS NOT TRUE" if op in _NEGATIONS else sql)
    return " AND ".join(parts)


def _one_of(
    path: JsonPath, op: str, values: list[Any], column: str, dialect: JsonDialect, params: list[Any]
) -> str:
    """SQL true where the path's value equals one of `values` (each compared with its own kind)."""
    by_kind: dict[Kind, list[Any]] = {}
    for value in values:
        kind = kind_of(path, op, value)
        by_kind.setdefault(kind, []).append(dialect.param(kind, value))
    alternatives = []
    for kind, group in by_kind.items():
        read, read_params = dialect.read(column, path, kind)
        params.extend([*read_params, *group])
        alternatives.append(f"{read} IN ({', '.join([dialect.mark] * len(group))})")
    return "(" + " OR ".join(alternatives) + ")"
