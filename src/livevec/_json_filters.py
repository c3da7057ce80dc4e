"""Conditions on a path inside a JSON field (`{"meta.owner.id": 1}`), as SQLite or PostgreSQL SQL,
and the indexes that serve them.

The rules they follow are in `livevec.filters`; this module says how each store reads a path. Both
read the path's value only when it is of the kind compared (a number, a string, or one of the
literals true, false and null) and NULL otherwise, so that a value of another kind, or a missing
path, matches no comparison.

The keys of a path travel as parameters, except on a path the table indexes (`Field(index=[...])`):
a store uses an index on an expression only when the query holds the same expression, constants
and all, so there the keys are written into the SQL as the index has them. Those keys come from
the stored schema (a filter's path only selects which), were checked when the table was made
(`_schema.json_path_problem`: no quote that could end the literal but `'`, which is doubled), and
a filter's values stay parameters.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Literal

from ._errors import FilterError
from ._schema import ColumnSpec, TableSpec, json_path_problem, shown, unstorable

Kind = Literal["number", "string", "literal"]
INDEXED_KINDS: tuple[Kind, ...] = ("number", "string")  # what Field(index=[path]) indexes, one index each
_LITERALS = {True: "true", False: "false", None: "null"}


@dataclass(frozen=True)
class JsonPath:
    """A filter's field name read as a JSON field and the keys followed inside it."""

    name: str  # as the filter wrote it ("meta.owner.id")
    column: str  # the JSON field ("meta")
    keys: tuple[str, ...]  # ("owner", "id")
    indexed: bool = False  # the table indexes this path: its keys are written into the SQL


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
    reason = json_path_problem(rest)
    if reason:
        raise FilterError(f"the path {reason}", field=name)
    return JsonPath(name, head, tuple(rest.split(".")), indexed=rest in column.paths)


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
    def read(self, column: str, path: JsonPath, kind: Kind, *, marks: bool = True) -> tuple[str, list[Any]]:
        """SQL of the path's value in the (quoted) `column` when it is of `kind`, else NULL (a
        literal reads as its name, "true", "false" or "null"); and the SQL's parameters. `marks`:
        the SQL goes into a statement with parameters (where a `%` in a key is written `%%`)."""

    def param(self, kind: Kind, value: Any) -> Any:
        """`value` as the store compares it with what `read` gives."""
        return _LITERALS[value] if kind == "literal" else value

    def index_expression(self, column: str, keys: tuple[str, ...], kind: Kind) -> str:
        """The expression an index on the path `keys` in the (quoted) `column` holds for `kind`: the
        very one `read` gives for an indexed path."""
        sql, params = self.read(column, JsonPath("", "", keys, indexed=True), kind, marks=False)
        assert not params
        return sql

    def literal(self, text: str, marks: bool) -> str:
        """`text` (a checked key: no backslash or control character) as an SQL string literal."""
        return "'" + text.replace("'", "''") + "'"


class SQLiteJson(JsonDialect):
    """SQLite's JSON1 functions: `json_type` says a value's kind, `json_extract` reads it."""

    mark = "?"

    def read(self, column: str, path: JsonPath, kind: Kind, *, marks: bool = True) -> tuple[str, list[Any]]:
        where = "$" + "".join(f'."{key}"' for key in path.keys)
        at, params = (self.literal(where, marks), []) if path.indexed else ("?", [where])
        if kind == "literal":  # json_type names a literal as the literal: 'true', 'false', 'null'
            return f"json_type({column}, {at})", params
        types = "IN ('integer', 'real')" if kind == "number" else "= 'text'"
        return (
            f"CASE WHEN json_type({column}, {at}) {types} THEN json_extract({column}, {at}) END",
            params * 2,
        )


class PostgresJson(JsonDialect):
    """PostgreSQL's `jsonb` operators; text compares in byte order, as SQLite's does."""

    mark = "%s"

    def read(self, column: str, path: JsonPath, kind: Kind, *, marks: bool = True) -> tuple[str, list[Any]]:
        # `-> text` reads an object's key only (#> would also index an array, which SQLite's does not)
        if path.indexed:
            value = "(" + column + "".join(f" -> {self.literal(key, marks)}::text" for key in path.keys) + ")"
            params = []
        else:
            value = "(" + column + "".join(" -> %s::text" for _ in path.keys) + ")"
            params = list(path.keys)
        if kind == "number":
            return (
                f"(CASE jsonb_typeof({value}) WHEN 'number' THEN ({value} #>> '{{}}')::numeric END)",
                params * 2,
            )
        if kind == "string":
            return (
                f"(CASE jsonb_typeof({value}) WHEN 'string' THEN ({value} #>> '{{}}') COLLATE \"C\" END)",
                params * 2,
            )
        return (
            f"(CASE jsonb_typeof({value}) WHEN 'boolean' THEN {value} #>> '{{}}' WHEN 'null' THEN 'null' END)",
            params * 2,
        )

    def literal(self, text: str, marks: bool) -> str:
        sql = super().literal(text, marks)
        return sql.replace("%", "%%") if marks else sql  # psycopg's mark

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
