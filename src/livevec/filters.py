"""The filter language shared by query, update, delete and search, compiled to parameterised SQL.

    {"category": "fitness"}                         bare value means $eq
    {"price": {"$gte": 10, "$lt": 50}}               several operators on one field are ANDed
    {"$or": [{"category": "bags"}, {"price": {"$lt": 5}}]}

Values always travel as parameters; field names are checked against the table's columns, values
against what both backends can compare (64-bit integers, finite floats, UTF-8 text).

Empty parts follow logic, so that a filter built from a list that happens to be empty still means
something: `{}` and `{"$and": []}` match every row, `{"$or": []}` matches none (as `$in: []` matches
none and `$nin: []` every row); so `{"$or": [{}]}` matches every row.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from typing import Any

from ._errors import FilterError
from ._schema import TableSpec, shown, unstorable

Filters = Mapping[str, Any]

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
) -> tuple[str, list[Any]]:
    """`(sql, params)` for a WHERE clause; `("1=1", [])` when there is no filter.

    `placeholder` is the backend's parameter mark; `adapt(column_type, value)` turns a Python value
    into what the backend stores (SQLite keeps booleans as 0/1, for instance).
    """
    if filters is None or (isinstance(filters, Mapping) and not filters):
        return "1=1", []
    params: list[Any] = []
    sql = _compile(filters, spec, placeholder, adapt or (lambda _t, v: v), params)
    return sql, params


def _compile(filters: Any, spec: TableSpec, mark: str, adapt: Callable, params: list) -> str:
    if not isinstance(filters, Mapping):
        raise FilterError(f"a filter is a dict, got {type(filters).__name__}", field="filters")
    parts = []
    for key, value in filters.items():
        if key in ("$and", "$or"):
            if not isinstance(value, list | tuple):
                raise FilterError(f"takes a list of filters, got {type(value).__name__}", field=key)
            if not value:  # the empty AND is true, the empty OR false
                parts.append("1=1" if key == "$and" else "1=0")
                continue
            joined = f" {key[1:].upper()} ".join(
                "(" + _compile(f, spec, mark, adapt, params) + ")" for f in value
            )
            parts.append(f"({joined})")
        elif key.startswith("$"):
            raise FilterError(
                f"unknown operator; use one of {sorted(OPERATORS | {'$and', '$or'})}", field=key
            )
        else:
            parts.append(_field_condition(key, value, spec, mark, adapt, params))
    return " AND ".join(parts) or "1=1"  # {} matches every row


def _field_condition(
    name: str, condition: Any, spec: TableSpec, mark: str, adapt: Callable, params: list
) -> str:
    column = spec.column(name)
    if column is None:
        raise FilterError(f"unknown field; the table has {spec.column_names}", field=name)
    if column.type in ("vector", "json"):
        raise FilterError(f"cannot filter on a {column.type} field", field=name)
    if not isinstance(condition, Mapping):
        condition = {"$eq": condition}
    if not condition:
        raise FilterError("empty condition", field=name)
    parts = []
    col = quote(name)
    for op, value in condition.items():
        if op in _COMPARISONS:
            if value is None and op in ("$eq", "$ne"):
                parts.append(f"{col} IS {'NOT ' if op == '$ne' else ''}NULL")
                continue
            params.append(adapt(column.type, _check_value(name, column.type, op, value)))
            parts.append(f"{col} {_COMPARISONS[op]} {mark}")
        elif op in _LISTS:
            if not isinstance(value, list | tuple | set | frozenset):
                raise FilterError(f"{op} takes a list, got {type(value).__name__}", field=name)
            if not value:  # x IN () is always false, x NOT IN () always true
                parts.append("1=0" if op == "$in" else "1=1")
                continue
            for v in value:
                params.append(adapt(column.type, _check_value(name, column.type, op, v)))
            parts.append(f"{col} {_LISTS[op]} ({', '.join([mark] * len(value))})")
        else:
            raise FilterError(f"unknown operator {op!r}; use one of {sorted(OPERATORS)}", field=name)
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
