"""The filter language shared by query, update, delete and search, compiled to parameterised SQL.

    {"category": "fitness"}                         bare value means $eq
    {"price": {"$gte": 10, "$lt": 50}}               several operators on one field are ANDed
    {"$or": [{"category": "bags"}, {"price": {"$lt": 5}}]}
    {"meta.owner.id": {"$in": [1, 2]}}               a path inside a JSON (dict or list) field
    "price >= 10 and category = 'bags'"              a SQL condition (`livevec.sql_filters`)

A str is a SQL condition, read into this language by `livevec.sql_filters.parse_filter` wherever a
filter goes (alone, or inside `$and` and `$or`).

Values always travel as parameters; field names are checked against the table's columns, values
against what both backends can compare (64-bit integers, finite floats, UTF-8 text).

Empty parts follow logic, so that a filter built from a list that happens to be empty still means
something: `{}` and `{"$and": []}` match every row, `{"$or": []}` matches none (as `$in: []` matches
none and `$nin: []` every row); so `{"$or": [{}]}` matches every row.

A dotted name is a path into a JSON field, when no column has that name: the field, then the keys
of the objects inside it (`meta.owner.id` is `row["meta"]["owner"]["id"]`). Both backends compare
the same way:

- A path is *missing* in a row when the field is null, or a step of it is not an object or has no
  such key. A key is never an array index: `tags.0` looks for the key "0".
- The value given says what is compared: a number matches JSON numbers only (not booleans),
  compared as numbers (`1` equals `1.0`; exactly, for magnitudes below 2**52); a str matches JSON
  strings only, compared by code point; True, False and None match JSON true, false and null only.
  `$gt`, `$gte`, `$lt`, `$lte` take a number or a str; arrays and objects are not compared.
- A comparison never matches a missing path or a value of another kind, except the negations:
  `$ne` matches wherever `$eq` does not and `$nin` wherever `$in` does not, missing paths included.
- `$in` may mix kinds (`[1, "1", None]`): each value matches its own kind.
- A key holds no double quote, backslash or control character, and no key is empty.

A JSON field itself is compared only with None (`{"meta": None}`: the field is null).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from ._errors import FilterError
from ._json_filters import SQLITE, JsonDialect, parse_path, path_condition
from ._schema import TableSpec, shown, unstorable
from .sql_filters import parse_filter

Filters = Mapping[str, Any] | str

_COMPARISONS = {"$eq": "=", "$ne": "!=", "$gt": ">", "$gte": ">=", "$lt": "<", "$lte": "<="}
_LISTS = {"$in": "IN", "$nin": "NOT IN"}
OPERATORS = frozenset(_COMPARISONS) | frozenset(_LISTS)


def quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def compile_filters(
    filters: Filters | None,
    spec: TableSpec,
    placeholder: str = "?",
    adapt: Callable[[str, Any], Any] | None = None,
    json: JsonDialect = SQLITE,
) -> tuple[str, list[Any]]:
    """`(sql, params)` for a WHERE clause; `("1=1", [])` when there is no filter.

    Parameters:
        filters: the filter, in the language above, or a SQL condition (None or {}: every row).
        spec: the table filtered.
        placeholder: the backend's parameter mark.
        adapt: `adapt(column_type, value)` turns a Python value into what the backend stores
            (SQLite keeps booleans as 0/1, for instance).
        json: how the backend reads a path inside a JSON field (its mark is `placeholder`).

    Returns:
        The condition's SQL and its parameters, in order.

    Raises:
        FilterError: the filter is malformed, names an unknown field or path, or compares a value
            the field cannot hold; the error's `field` names the culprit.
    """
    if filters is None or (isinstance(filters, Mapping) and not filters):
        return "1=1", []
    params: list[Any] = []
    sql = _compile(filters, spec, _Target(placeholder, adapt or (lambda _t, v: v), json), params)
    return sql, params


@dataclass(frozen=True)
class _Target:
    """The backend a filter is compiled for."""

    mark: str
    adapt: Callable[[str, Any], Any]
    json: JsonDialect


def _compile(filters: Any, spec: TableSpec, target: _Target, params: list) -> str:
    if isinstance(filters, str):
        filters = parse_filter(filters)
    if not isinstance(filters, Mapping):
        raise FilterError(
            f"a filter is a dict or a SQL condition (str), got {type(filters).__name__}", field="filters"
        )
    parts = []
    for key, value in filters.items():
        if key in ("$and", "$or"):
            if not isinstance(value, list | tuple):
                raise FilterError(f"takes a list of filters, got {type(value).__name__}", field=key)
            if not value:  # the empty AND is true, the empty OR false
                parts.append("1=1" if key == "$and" else "1=0")
                continue
            joined = f" {key[1:].upper()} ".join("(" + _compile(f, spec, target, params) + ")" for f in value)
            parts.append(f"({joined})")
        elif key.startswith("$"):
            raise FilterError(
                f"unknown operator; use one of {sorted(OPERATORS | {'$and', '$or'})}", field=key
            )
        else:
            parts.append(_field_condition(key, value, spec, target, params))
    return " AND ".join(parts) or "1=1"  # {} matches every row


def _field_condition(name: str, condition: Any, spec: TableSpec, target: _Target, params: list) -> str:
    column = spec.column(name)
    if column is None:
        path = parse_path(name, spec)
        return path_condition(path, condition, quote(path.column), target.json, params)
    if column.type == "vector":
        raise FilterError(f"cannot filter on a {column.type} field", field=name)
    if not isinstance(condition, Mapping):
        condition = {"$eq": condition}
    if not condition:
        raise FilterError("empty condition", field=name)
    parts = []
    col = quote(name)
    mark, adapt = target.mark, target.adapt
    for op, value in condition.items():
        if op in _COMPARISONS:
            if value is None and op in ("$eq", "$ne"):
                parts.append(f"{col} IS {'NOT ' if op == '$ne' else ''}NULL")
                continue
            if column.type == "json":
                raise FilterError(
                    f"a JSON field is compared only with None; compare a path such as {name}.key",
                    field=name,
                )
            params.append(adapt(column.type, _check_value(name, column.type, op, value)))
            parts.append(f"{col} {_COMPARISONS[op]} {mark}")
        elif op in _LISTS:
            if not isinstance(value, list | tuple | set | frozenset):
                raise FilterError(f"{op} takes a list, got {type(value).__name__}", field=name)
            if column.type == "json":
                raise FilterError(f"{op} compares a path such as {name}.key, not a JSON field", field=name)
            if not value:  # x IN () is always false, x NOT IN () always true
                parts.append("1=0" if op == "$in" else "1=1")
                continue
            for v in value:
                params.append(adapt(column.type, _check_value(name, column.type, op, v)))
            parts.append(f"{col} {_LISTS[op]} ({', '.join([mark] * len(value))})")
        else:
            hint = f" (inside a JSON field, filter on a path: {name}.{op})" if column.type == "json" else ""
            raise FilterError(f"unknown operator {op!r}; use one of {sorted(OPERATORS)}{hint}", field=name)
    return " AND ".join(parts)


_ACCEPTS: dict[str, tuple[type, ...]] = {
    "int": (int, float),
    "float": (int, float),
    "str": (str,),
    "bool": (bool,),
    "datetime": (dt.datetime, str),
    "date": (dt.date, str),
}


def _check_value(name: str, column_type: str, op: str, value: Any) -> Any:
    accepted = _ACCEPTS[column_type]
    if isinstance(value, bool) and bool not in accepted:
        accepted = ()
    if not isinstance(value, accepted):
        raise FilterError(
            f"{op} needs a {column_type} value, got {type(value).__name__} {shown(value)}", field=name
        )
    if column_type == "float" and isinstance(value, int):
        # a float column compares with any integer, but the backends bind only 64-bit ones
        try:
            value = float(value)
        except OverflowError:
            raise FilterError(f"{op}: the integer is too large for a float", field=name) from None
    reason = unstorable(value)
    if reason:
        raise FilterError(f"{op}: {reason}", field=name)
    return value
