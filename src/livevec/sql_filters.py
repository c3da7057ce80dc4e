"""SQL string filters (`"price >= 10 and category = 'bags'"`), read into livevec's dict filter language.

The text is parsed by sqlglot, as TiDB (MySQL) writes SQL, and the tree is turned into the dict
language of `livevec.filters`; that one compiler then makes the backend's SQL, with every value a
bound parameter. No part of the text is ever pasted into SQL.

The grammar (keywords in any case):

    condition  := condition AND condition | condition OR condition | NOT condition | ( condition )
                | field op value | value op field          op: = != <> < <= > >=
                | field [NOT] IN ( value, ... )
                | field [NOT] BETWEEN value AND value
                | field IS [NOT] NULL
                | field [NOT] LIKE 'text'  |  field [NOT] LIKE 'prefix%'
    field      := name | name.key.key...   (a column, or a path inside a JSON field, as in dict filters)
                | JSON_EXTRACT(name, '$.key.key') | name->'$.key' | name->>'$.key'   (the same path,
                  as MySQL and TiDB write it: keys only, no array index or wildcard)
                  a name may be quoted with backticks: `my field`
    value      := 'text' | "text" | integer | decimal | -number | TRUE | FALSE

What each condition means:

- `NOT` is moved inwards (De Morgan: `NOT (a = 1 OR b > 2)` is `a != 1 AND b <= 2`), which is what
  SQL's three-valued logic gives: a row whose field is NULL matches neither `a > 1` nor
  `NOT a > 1`. `x IS NULL` and `x IS NOT NULL` are the dict filter's `{x: None}` and
  `{x: {"$ne": None}}`.
- On a JSON path the comparisons follow the dict language's rules (`livevec.filters`): a value
  compares with values of its own kind only, `!=` and `NOT IN` also match a missing path, and
  `IS NULL` means the JSON value null.
- `LIKE` takes an exact text (`= 'text'`) or a prefix (`'yo%'`, read as `>= 'yo' AND < 'yp'`),
  compared case-sensitively by code point, as TiDB's default collation does; other patterns
  (`_`, a `%` elsewhere, `ESCAPE`) are refused rather than given another meaning.
- `= NULL` and `IN (..., NULL)` are refused (in SQL they are never true): write `IS NULL`.

Refused with a `FilterError` naming the part not understood: function calls, subqueries,
arithmetic, comparisons between two fields or two values, any other operator (`<=>`, `XOR`,
`IS TRUE`, `ILIKE`, `REGEXP` ...), placeholders and variables, several statements, `;` and
comments; so is a condition nested too deeply for the parser (some 30 levels of parentheses or
`NOT`s; a long chain of `AND` or `OR` is flat, and fine). Whether each field exists, and whether a
value suits it, the dict compiler checks.
"""

from __future__ import annotations

import re
from typing import Any

from sqlglot import exp
from sqlglot.dialects.dialect import Dialect
from sqlglot.errors import SqlglotError
from sqlglot.tokens import TokenType

from ._errors import FilterError

_DIALECT = Dialect.get_or_raise("mysql")  # pytidb's users write TiDB's SQL
# a comparison and the comparison true exactly where it is false (for a non-NULL field)
_COMPARISONS: dict[type[exp.Expression], tuple[str, str]] = {
    exp.EQ: ("$eq", "$ne"),
    exp.NEQ: ("$ne", "$eq"),
    exp.GT: ("$gt", "$lte"),
    exp.GTE: ("$gte", "$lt"),
    exp.LT: ("$lt", "$gte"),
    exp.LTE: ("$lte", "$gt"),
}
# `5 > price` is `price < 5`
_FLIPPED = {"$eq": "$eq", "$ne": "$ne", "$gt": "$lt", "$gte": "$lte", "$lt": "$gt", "$lte": "$gte"}
_INTEGER = re.compile(r"[0-9]+")
_LAST_CODE_POINT = 0x10FFFF
_GRAMMAR_HINT = (
    "a filter string compares fields with values (=, !=, <, <=, >, >=, IN, BETWEEN, LIKE 'prefix%', "
    "IS NULL), joined by AND, OR, NOT and parentheses"
)


def parse_filter(text: str) -> dict[str, Any]:
    """The dict filter a SQL condition means (the grammar is in this module's docstring).

    Parameters:
        text: a condition such as `"user_id in (1, 2) and meta.owner_id = 1"`.

    Returns:
        The same condition in the dict language of `livevec.filters`.

    Raises:
        FilterError: the text is empty, is not SQL, or holds something outside the grammar (the
            message names it).
    """
    if not isinstance(text, str):
        raise FilterError(f"a filter string is a str, got {type(text).__name__}", field="filters")
    if not text.strip():
        raise FilterError("the filter string is empty; use {} or None for every row", field="filters")
    try:
        tokens = _DIALECT.tokenize(text)
        for token in tokens:
            if token.comments:
                raise FilterError(f"{text!r}: a filter string holds no comment", field="filters")
            if token.token_type == TokenType.SEMICOLON:
                raise FilterError(f"{text!r}: a filter string is one condition, without ';'", field="filters")
        trees = _DIALECT.parser().parse_into(exp.Condition, tokens, text)
        if len(trees) != 1 or trees[0] is None:
            raise FilterError(f"{text!r}: a filter string is one condition", field="filters")
        return _condition(trees[0], negated=False, text=text)
    except SqlglotError as e:
        raise FilterError(
            f"{text!r} is not a condition: {_reason(e)} ({_GRAMMAR_HINT})", field="filters"
        ) from None
    except RecursionError:
        raise FilterError(f"{text[:60]!r}...: the condition is nested too deeply", field="filters") from None


def _reason(error: SqlglotError) -> str:
    """sqlglot's reason for refusing the text, without its echo of the whole text."""
    details = getattr(error, "errors", None)
    if details and details[0].get("description"):
        return details[0]["description"]
    return "not SQL of the grammar"


def _refuse(node: exp.Expression, what: str, text: str) -> FilterError:
    return FilterError(
        f"{text!r}: not understood: {what}, at `{node.sql(dialect=_DIALECT)}` ({_GRAMMAR_HINT})",
        field="filters",
    )


def _condition(node: exp.Expression, negated: bool, text: str) -> dict[str, Any]:
    """`node` (or its negation) as a dict filter."""
    while isinstance(node, exp.Paren | exp.Not):
        if isinstance(node, exp.Not):
            negated = not negated
        node = node.this
    if isinstance(node, exp.And | exp.Or):
        # a long chain `a AND b AND c ...` is a deep tree: flattened, not recursed through
        parts = [_condition(part, negated, text) for part in node.flatten()]
        joins_with_and = isinstance(node, exp.And) != negated
        return {"$and" if joins_with_and else "$or": parts}
    for kind, (op, opposite) in _COMPARISONS.items():
        if type(node) is kind:
            return _comparison(node, opposite if negated else op, text)
    if isinstance(node, exp.In):
        return _membership(node, negated, text)
    if isinstance(node, exp.Between):
        return _between(node, negated, text)
    if isinstance(node, exp.Is):
        if not isinstance(node.expression, exp.Null):
            raise _refuse(node, "IS takes only NULL (IS NULL, IS NOT NULL)", text)
        return {_field(node.this, text): {"$ne": None} if negated else None}
    if isinstance(node, exp.Like):
        return _like(node, negated != bool(node.args.get("negate")), text)
    if _is_field(node):
        raise _refuse(node, "a field alone is not a condition: compare it, as in `x = true`", text)
    raise _refuse(node, _what(node), text)


def _what(node: exp.Expression) -> str:
    """What `node` is, in the words of an error message."""
    if isinstance(node, exp.Subquery | exp.Query):
        return "a subquery"
    if isinstance(node, exp.Func):
        return "a function call"
    if isinstance(node, exp.Binary) and not isinstance(node, exp.Predicate | exp.Connector):
        return "arithmetic"
    if isinstance(node, exp.Placeholder | exp.Parameter):
        return "a placeholder (values are written in the filter itself)"
    if isinstance(node, exp.Literal | exp.Boolean | exp.Null):
        return "a value"
    return f"the {node.key.upper()} expression"


def _comparison(node: exp.Binary, op: str, text: str) -> dict[str, Any]:
    left, right = node.this, node.expression
    if _is_field(right) and not _is_field(left):
        left, right, op = right, left, _FLIPPED[op]
    if _is_field(right):
        raise _refuse(node, "a comparison of two fields", text)
    name = _field(left, text)
    value = _value(right, text)
    if value is None:
        raise _refuse(node, "a comparison with NULL (never true in SQL; write IS NULL or IS NOT NULL)", text)
    return {name: {op: value}}


def _membership(node: exp.In, negated: bool, text: str) -> dict[str, Any]:
    if node.args.get("query") or node.args.get("unnest") or node.args.get("field"):
        raise _refuse(node, "IN takes a list of values, not a subquery", text)
    name = _field(node.this, text)
    values = [_value(v, text) for v in node.expressions]
    if any(v is None for v in values):
        raise _refuse(node, "NULL in an IN list (never matched in SQL; write IS NULL)", text)
    return {name: {"$nin" if negated else "$in": values}}


def _between(node: exp.Between, negated: bool, text: str) -> dict[str, Any]:
    if node.args.get("symmetric"):
        raise _refuse(node, "BETWEEN SYMMETRIC", text)
    name = _field(node.this, text)
    low, high = _value(node.args["low"], text), _value(node.args["high"], text)
    if low is None or high is None:
        raise _refuse(node, "a NULL bound of BETWEEN (never true in SQL)", text)
    if negated:
        return {"$or": [{name: {"$lt": low}}, {name: {"$gt": high}}]}
    return {name: {"$gte": low, "$lte": high}}


def _like(node: exp.Like, negated: bool, text: str) -> dict[str, Any]:
    name = _field(node.this, text)
    pattern = node.expression
    if not (isinstance(pattern, exp.Literal) and pattern.is_string):
        raise _refuse(node, "LIKE takes a text pattern", text)
    body: str = pattern.this
    if "_" in body or "\\" in body or "%" in body[:-1]:
        raise _refuse(
            node, "a LIKE pattern other than an exact text or a prefix ('abc%') is not supported", text
        )
    if not body.endswith("%"):
        return {name: {"$ne" if negated else "$eq": body}}
    prefix = body[:-1]
    after = _after_prefix(prefix)
    if negated:
        below = {name: {"$lt": prefix}}
        return below if after is None else {"$or": [below, {name: {"$gte": after}}]}
    return {name: {"$gte": prefix} if after is None else {"$gte": prefix, "$lt": after}}


def _after_prefix(prefix: str) -> str | None:
    """The least text above every text that starts with `prefix` (code point order); None if none."""
    stem = prefix.rstrip(chr(_LAST_CODE_POINT))
    if not stem:
        return None
    last = ord(stem[-1]) + 1
    if 0xD800 <= last <= 0xDFFF:  # surrogates are no text: the next character is past them
        last = 0xE000
    return stem[:-1] + chr(last)


def _is_field(node: exp.Expression) -> bool:
    return isinstance(node, exp.Column | exp.Dot | exp.JSONExtract | exp.JSONExtractScalar)


def _field(node: exp.Expression, text: str) -> str:
    """The dotted name of a column or JSON path (`meta.owner.id`)."""
    if isinstance(node, exp.JSONExtract | exp.JSONExtractScalar):  # JSON_EXTRACT(meta, '$.a'), ->, ->>
        path = node.expression
        steps = path.expressions if isinstance(path, exp.JSONPath) else []
        keys = [
            step.this
            for step in steps[1:]
            if isinstance(step, exp.JSONPathKey) and isinstance(step.this, str) and "." not in step.this
        ]
        if not steps or not isinstance(steps[0], exp.JSONPathRoot) or len(keys) != len(steps) - 1 or not keys:
            why = "a JSON path other than '$.key.key' (no array index, wildcard or key with a dot)"
            raise _refuse(node, why, text)
        return ".".join([_field(node.this, text), *keys])
    keys: list[str] = []
    while isinstance(node, exp.Dot):  # a path longer than catalog.db.table.column
        if not isinstance(node.expression, exp.Identifier):
            raise _refuse(node, "a path made of other than names", text)
        keys.append(node.expression.name)
        node = node.this
    if not isinstance(node, exp.Column) or not all(isinstance(p, exp.Identifier) for p in node.parts):
        raise _refuse(node, f"{_what(node)} where a field is expected", text)
    return ".".join([p.name for p in node.parts] + keys[::-1])


def _value(node: exp.Expression, text: str) -> Any:
    """The Python value of a literal: str, int, float, bool or None."""
    sign = 1
    if isinstance(node, exp.Neg):
        sign, node = -1, node.this
        if not (isinstance(node, exp.Literal) and not node.is_string):
            raise _refuse(node, "a minus sign before other than a number", text)
    if isinstance(node, exp.Literal):
        if node.is_string:
            return node.this
        digits = node.this
        return sign * (int(digits) if _INTEGER.fullmatch(digits) else float(digits))
    if isinstance(node, exp.Boolean):
        return bool(node.this)
    if isinstance(node, exp.Null):
        return None
    if _is_field(node):
        raise _refuse(node, "a field where a value is expected", text)
    raise _refuse(node, f"{_what(node)} where a value is expected", text)
