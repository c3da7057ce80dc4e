"""SQLModel's column expressions as filters: `Chunk.user_id.in_([1, 2])`, `Chunk.meta["f"].as_float() >= 0.5`,
`or_(Chunk.document_id == 1, Chunk.id == 3)`, read into livevec's filter dicts (livevec[compat]).

A field of a compat `TableModel` class, read on the class (`Chunk.user_id`), is a column of an
SQLAlchemy `Table` made from the class: SQLAlchemy builds the expression, `to_filters` reads it back.
What livevec's filters cannot say (functions, LIKE, NOT, comparing two columns) is an
`ArgumentError` naming it; no SQL text from the expression reaches the database.

    Chunk.user_id.in_([1, 2])                ->  {"user_id": {"$in": [1, 2]}}
    Chunk.meta["owner"]["id"] == 7           ->  {"meta.owner.id": {"$eq": 7}}
    and_(Chunk.document_id == 2, Chunk.id > 2) -> {"$and": [{"document_id": {"$eq": 2}}, {"id": {"$gt": 2}}]}
"""

from __future__ import annotations

import functools
import weakref
from typing import Any

from ..._schema import TableSpec
from ._errors import ArgumentError, NotSupportedError

_tables: weakref.WeakKeyDictionary[type, Any] = weakref.WeakKeyDictionary()


def _sqlalchemy() -> Any:
    try:
        import sqlalchemy
    except ImportError:
        raise NotSupportedError(
            "column expressions (Model.field == value) are SQLAlchemy's, and SQLAlchemy is not installed: "
            "pip install 'livevec[compat]', or give a filter dict"
        ) from None
    return sqlalchemy


def sa_table(model: type) -> Any:
    """The SQLAlchemy `Table` standing for a model's table: its columns with SQLAlchemy's types."""
    if model not in _tables:
        sa = _sqlalchemy()
        types = {
            "int": sa.BigInteger,
            "float": sa.Float,
            "str": sa.Text,
            "bool": sa.Boolean,
            "datetime": sa.DateTime,
            "date": sa.Date,
            "json": sa.JSON,
            "vector": sa.JSON,  # read as a list of numbers; never compared
        }
        spec = TableSpec.from_model(model)
        columns = [
            sa.Column(c.name, types[c.type](), primary_key=c.primary_key, nullable=c.nullable)
            for c in spec.columns
        ]
        # no RETURNING on inserts: psycopg then reports no rowcount, and the key is the caller's
        _tables[model] = sa.Table(spec.name, sa.MetaData(), *columns, implicit_returning=False)
    return _tables[model]


def is_expression(filters: Any) -> bool:
    """Whether `filters` is an SQLAlchemy expression (or a column object that makes one)."""
    return hasattr(filters, "__clause_element__") or type(filters).__module__.startswith("sqlalchemy.")


def livevec_filters(filters: Any) -> Any:
    """`filters` as livevec takes them: an expression read into a dict, anything else as it is."""
    return to_filters(filters) if is_expression(filters) else filters


def to_filters(expression: Any) -> dict[str, Any]:
    """livevec's filter dict for an SQLAlchemy boolean expression.

    Parameters:
        expression: comparisons of a column (or a JSON path in one) with values, `in_` / `not_in`,
            `is_(None)` / `is_not(None)`, joined by `and_` / `or_`.

    Returns:
        The filter dict.

    Raises:
        ArgumentError: (a `ValueError`) a construct livevec's filters cannot say.
    """
    sa = _sqlalchemy()
    from sqlalchemy.sql import elements, operators

    if hasattr(expression, "__clause_element__"):
        expression = expression.__clause_element__()
    while isinstance(expression, elements.Grouping):
        expression = expression.element
    if isinstance(expression, elements.BooleanClauseList):
        word = {operators.and_: "$and", operators.or_: "$or"}.get(expression.operator)
        if word is None:
            raise ArgumentError(f"cannot read {expression.operator} as a filter", field="filters")
        return {word: [to_filters(part) for part in expression.clauses]}
    if isinstance(expression, elements.BinaryExpression):
        op = _operators().get(expression.operator)
        if op is None:
            raise ArgumentError(
                f"livevec's filters compare a field with values (==, !=, <, <=, >, >=, in_, not_in, is_(None)); "
                f"got the operator {getattr(expression.operator, '__name__', expression.operator)}",
                field="filters",
            )
        return {_field(expression.left, sa): {op: _value(expression.right)}}
    raise ArgumentError(f"cannot read {type(expression).__name__} as a filter: {expression}", field="filters")


@functools.cache
def _operators() -> dict[Any, str]:
    from sqlalchemy.sql import operators

    return {
        operators.eq: "$eq",
        operators.ne: "$ne",
        operators.lt: "$lt",
        operators.le: "$lte",
        operators.gt: "$gt",
        operators.ge: "$gte",
        operators.in_op: "$in",
        operators.not_in_op: "$nin",
        operators.is_: "$eq",
        operators.is_not: "$ne",
    }


def _field(left: Any, sa: Any) -> str:
    """A column's name, or the dotted path of a JSON element (`meta["a"]["b"]` -> "meta.a.b")."""
    from sqlalchemy.sql import elements, operators

    keys: list[str] = []
    while isinstance(left, elements.BinaryExpression) and left.operator in (
        operators.json_getitem_op,
        operators.json_path_getitem_op,
    ):
        key = _value(left.right)
        for part in reversed(key if isinstance(key, list | tuple) else [key]):
            if not isinstance(part, str):
                raise ArgumentError(f"a JSON path step is a key (str), got {part!r}", field="filters")
            keys.insert(0, part)
        left = left.left
    if isinstance(left, elements.Cast | elements.TypeCoerce):
        left = left.clause
    if not isinstance(left, sa.Column | elements.ColumnClause):
        raise ArgumentError(f"a filter compares a field, got {left}", field="filters")
    return ".".join([left.name, *keys])


def _value(right: Any) -> Any:
    from sqlalchemy.sql import elements

    while isinstance(right, elements.Grouping):
        right = right.element
    if isinstance(right, elements.BindParameter):
        return right.effective_value
    if isinstance(right, elements.Null):
        return None
    if isinstance(right, elements.True_ | elements.False_):
        return isinstance(right, elements.True_)
    if isinstance(right, elements.ClauseList):  # in_() of literal values in older forms
        return [_value(v) for v in right.clauses]
    raise ArgumentError(f"a filter compares a field with values, got {right}", field="filters")
