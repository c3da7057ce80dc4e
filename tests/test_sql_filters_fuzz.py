"""SQL string filters, fuzzed: random text either is refused with a FilterError or compiles to SQL made
only of what the dict compiler writes itself (quoted column names, operators, placeholders); the
values of a well-formed condition all travel as parameters; and a random well-formed condition
selects, on both backends, the rows SQL's three-valued logic gives (and those of the dict filter)."""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

import livevec
from livevec import Field, TableModel
from livevec._json_filters import POSTGRES, SQLITE
from livevec._schema import TableSpec
from livevec.filters import compile_filters
from livevec.sql_filters import parse_filter


class Thing(TableModel):
    __tablename__ = "things"
    id: int = Field(primary_key=True)
    a: int | None = None
    b: str | None = None
    p: float | None = None
    flag: bool | None = None
    meta: dict[str, Any] | None = None


SPEC = TableSpec.from_model(Thing)
TARGETS = (("?", SQLITE), ("%s", POSTGRES))
FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
# a token of SQL text: a quoted name, a quoted text, a word or number, or one other character
TOKEN = re.compile(r'"(?:[^"]|"")*"|\'(?:[^\']|\'\')*\'|\w+|\S')


def tokens(sql: str) -> set[str]:
    return set(TOKEN.findall(sql))


def _reference_vocabulary() -> set[str]:
    """Every token the dict compiler writes, for every field and operator, on both backends."""
    fields = ["id", "a", "b", "p", "flag", "meta", "meta.k", "meta.k.j"]
    values = [1, 1.5, "s", True, None]
    conditions: list[Any] = [{"$in": []}, {"$nin": []}, {"$in": values}]
    for value in values:
        conditions += [{op: value} for op in ("$eq", "$ne", "$gt", "$gte", "$lt", "$lte")]
        conditions += [{"$in": [value, value]}, {"$nin": [value]}]
    shapes = [{}, {"$and": []}, {"$or": []}]
    for field in fields:
        for condition in conditions:
            one = {field: condition}
            shapes += [one, {"$and": [one, {"id": 1}]}, {"$or": [one, {"id": 1}]}]
    found: set[str] = set()
    for filters in shapes:
        for mark, json in TARGETS:
            with contextlib.suppress(livevec.FilterError):
                found |= tokens(compile_filters(filters, SPEC, mark, json=json)[0])
    return found


VOCABULARY = _reference_vocabulary()

HOSTILE = [
    "'; DROP TABLE things; --",
    "' OR '1'='1",
    'x" OR "1"="1',
    "a')) OR 1=1 --",
    "%s",
    "?",
    "$1",
    "\\",
    "é",
    "zz_leak_zz",
]
WORDS = st.sampled_from(
    [
        *(
            "a",
            "b",
            "p",
            "flag",
            "meta",
            "meta.k",
            "meta.k.j",
            "id",
            "things",
            "`b`",
            '"b"',
            "nope",
            "sqlite_master",
        ),
        *("=", "!=", "<>", "<", "<=", ">", ">=", "<=>", "+", "-", "*", "/", "||", "&&", "!", "~", ":=", "."),
        *("and", "or", "not", "in", "is", "null", "between", "like", "escape", "true", "false", "xor"),
        *("select", "from", "where", "union", "drop", "table", "exists", "case", "when", "then", "end"),
        *("(", ")", ",", ";", "--", "/*", "*/", "#", "'", '"', "`", "?", "%s", "@x", ":x", "$1"),
        *("lower(b)", "json_extract(meta, '$.k')", "sleep(1)", "0x41", "x'41'", "N'x'", "date '2024-01-01'"),
        *("1", "-2", "3.5", "1e400", "99999999999999999999", "'x'", "'yo%'", "'%y'", "'a_b'"),
        *("'" + h.replace("'", "''") + "'" for h in HOSTILE),
    ]
)


def _literals(filters: Any) -> list[Any]:
    """The str and number values of a dict filter."""
    if isinstance(filters, dict):
        return [v for value in filters.values() for v in _literals(value)]
    if isinstance(filters, list):
        return [v for value in filters for v in _literals(value)]
    if isinstance(filters, str | int | float) and not isinstance(filters, bool):
        return [filters]
    return []


# --- well-formed conditions, with what they mean -------------------------------------------------


@dataclass(frozen=True)
class Condition:
    """A condition as SQL text, as a dict filter (None when it has a NOT), and read in Python."""

    text: str
    dict_filter: dict[str, Any] | None
    truth: Callable[[dict[str, Any]], bool | None]  # SQL's three-valued logic: None is unknown
    literals: tuple[Any, ...]


def sql_text(s: str, quote: str) -> str:
    # in TiDB's (MySQL's) SQL a backslash escapes inside a quoted text
    return quote + s.replace("\\", "\\\\").replace(quote, quote * 2) + quote


TEXTS = st.sampled_from(["", "a", "ab", "b", "B", "é", "a'b", 'q"r', "%", "_", "\\", *HOSTILE])
PREFIXES = st.sampled_from(["", "a", "ab", "b", "é", "zz"])
VALUES = {
    "a": st.one_of(st.integers(-3, 3), st.sampled_from([0.5, -1.5])),
    "p": st.one_of(st.sampled_from([-1.5, 0.0, 0.5, 2.5, 1e-3]), st.integers(-2, 3)),
    "b": TEXTS,
    "flag": st.booleans(),
}
COMPARE = {
    "=": ("$eq", lambda x, v: x == v),
    "!=": ("$ne", lambda x, v: x != v),
    "<>": ("$ne", lambda x, v: x != v),
    "<": ("$lt", lambda x, v: x < v),
    "<=": ("$lte", lambda x, v: x <= v),
    ">": ("$gt", lambda x, v: x > v),
    ">=": ("$gte", lambda x, v: x >= v),
}
FLIPPED = {"=": "=", "!=": "!=", "<>": "<>", "<": ">", "<=": ">=", ">": "<", ">=": "<="}


def literal(value: Any) -> str:
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, str):
        return sql_text(value, "'")
    return repr(value)


def _known(column: str, test: Callable[[Any], bool]) -> Callable[[dict[str, Any]], bool | None]:
    return lambda row: None if row[column] is None else test(row[column])


@st.composite
def atoms(draw) -> Condition:
    column = draw(st.sampled_from(sorted(VALUES)))
    value = VALUES[column]
    form = draw(st.sampled_from(["compare", "flipped", "in", "between", "null", "like"]))
    if form in ("compare", "flipped"):
        op = draw(st.sampled_from(sorted(COMPARE)))
        v = draw(value)
        name, test = COMPARE[op]
        text = f"{column} {op} {literal(v)}"
        if form == "flipped":
            text = f"{literal(v)} {FLIPPED[op]} {column}"
        return Condition(text, {column: {name: v}}, _known(column, lambda x: test(x, v)), (v,))
    if form == "in":
        vs = draw(st.lists(value, min_size=1, max_size=3))
        negated = draw(st.booleans())
        listed = ", ".join(literal(v) for v in vs)
        text = f"{column} {'NOT IN' if negated else 'IN'} ({listed})"
        dict_filter = {column: {"$nin" if negated else "$in": vs}}
        return Condition(text, dict_filter, _known(column, lambda x: (x in vs) != negated), tuple(vs))
    if form == "between":
        low, high = draw(value), draw(value)
        negated = draw(st.booleans())
        text = f"{column} {'NOT ' if negated else ''}BETWEEN {literal(low)} AND {literal(high)}"
        dict_filter = (
            {"$or": [{column: {"$lt": low}}, {column: {"$gt": high}}]}
            if negated
            else {column: {"$gte": low, "$lte": high}}
        )
        return Condition(
            text, dict_filter, _known(column, lambda x: (low <= x <= high) != negated), (low, high)
        )
    if form == "null" or column != "b":
        negated = draw(st.booleans())
        text = f"{column} IS {'NOT ' if negated else ''}NULL"
        dict_filter = {column: {"$ne": None} if negated else None}
        return Condition(text, dict_filter, lambda row: (row[column] is None) != negated, ())
    prefix, exact = draw(PREFIXES), draw(st.booleans())
    negated = draw(st.booleans())
    pattern = prefix if exact else prefix + "%"
    quote = draw(st.sampled_from(["'", '"']))
    text = f"b {'NOT ' if negated else ''}LIKE {sql_text(pattern, quote)}"

    def like(x: str) -> bool:
        return (x == prefix if exact else x.startswith(prefix)) != negated

    return Condition(text, parse_filter(text), _known("b", like), (prefix,))


def _all(truths: list[bool | None]) -> bool | None:
    return False if False in truths else None if None in truths else True


def _any(truths: list[bool | None]) -> bool | None:
    return True if True in truths else None if None in truths else False


def combine(parts: list[Condition], how: str) -> Condition:
    text = f" {how} ".join(f"({p.text})" for p in parts)
    dicts = [p.dict_filter for p in parts]
    dict_filter = None if None in dicts else {"$and" if how == "AND" else "$or": dicts}
    join = _all if how == "AND" else _any
    literals = tuple(v for p in parts for v in p.literals)
    return Condition(text, dict_filter, lambda row: join([p.truth(row) for p in parts]), literals)


def negate(part: Condition) -> Condition:
    def truth(row: dict[str, Any]) -> bool | None:
        t = part.truth(row)
        return None if t is None else not t

    return Condition(f"NOT ({part.text})", None, truth, part.literals)


CONDITIONS = st.recursive(
    atoms(),
    lambda inner: st.one_of(
        st.builds(combine, st.lists(inner, min_size=2, max_size=3), st.sampled_from(["AND", "OR"])),
        st.builds(negate, inner),
    ),
    max_leaves=6,
)


@FUZZ
@given(condition=CONDITIONS)
def test_every_value_of_a_condition_is_a_parameter(condition):
    for mark, json in TARGETS:
        sql, params = compile_filters(condition.text, SPEC, mark, json=json)
        assert not tokens(sql) - VOCABULARY, (condition.text, sql)
        for value in condition.literals:
            if not isinstance(value, bool):
                assert value in params, (value, params)


def mutate(condition: Condition, edits: list[tuple[int, str, bool]]) -> str:
    """A well-formed condition with words put in, or put in place of a character."""
    text = condition.text
    for at, word, replacing in edits:
        at %= len(text) + 1
        text = text[:at] + word + text[at + replacing :]
    return text


EDITS = st.lists(st.tuples(st.integers(0, 200), WORDS.map(lambda w: f" {w} "), st.booleans()), max_size=3)
GARBAGE = st.one_of(
    st.text(max_size=40),
    st.lists(WORDS, max_size=12).map(" ".join),
    st.builds(mutate, CONDITIONS, EDITS),
)


@FUZZ
@given(text=GARBAGE)
def test_random_text_is_refused_or_compiles_to_the_compilers_own_sql(text):
    for mark, json in TARGETS:
        try:
            sql, params = compile_filters(text, SPEC, mark, json=json)
        except livevec.FilterError:
            event("refused")
            continue
        event("compiled")
        leaked = tokens(sql) - VOCABULARY
        assert not leaked, (text, sql)
        for value in _literals(parse_filter(text)):
            assert value in params


A = [None, -1, 0, 2]
B = [None, "", "a", "ab", "B", "é", "a'b", "%", "\\", "'; DROP TABLE things; --", "zz"]
P = [None, -1.5, 0.0, 2.5, 0.5]
FLAGS = [None, True, False]
ROWS = [
    {"id": i, "a": A[i % 4], "b": B[i % 11], "p": P[(i // 2) % 5], "flag": FLAGS[i % 3], "meta": None}
    for i in range(22)
]


@pytest.fixture
def things(db):
    table = db.create_table(Thing)
    table.insert(ROWS)
    return table


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(condition=CONDITIONS)
def test_a_condition_selects_the_rows_sql_logic_gives(things, condition):
    expected = [row["id"] for row in ROWS if condition.truth(row) is True]
    assert [r["id"] for r in things.query(condition.text)] == expected, condition.text
    if condition.dict_filter is not None:
        assert [r["id"] for r in things.query(condition.dict_filter)] == expected
    assert things.count() == len(ROWS)
