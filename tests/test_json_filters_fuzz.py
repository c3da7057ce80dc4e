"""JSON path filters, fuzzed: any key either is refused with a FilterError or finds exactly its own
value (never reaching the database as SQL), and random filters on random documents give, on both
backends, the rows a plain-Python reading of the rules in `livevec.filters` gives."""

from __future__ import annotations

import operator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import livevec
from livevec import Field, TableModel


class Record(TableModel):
    __tablename__ = "records"
    id: int = Field(primary_key=True)
    meta: dict[str, Any] | None = None


FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@pytest.fixture
def records(db):
    return db.create_table(Record)


def findable(key: str) -> bool:
    """Can a path hold this key (the rule `parse_path` enforces, restated)?"""
    return (
        bool(key)
        and not any(c in key for c in '"\\')
        and all(ord(c) >= 0x20 for c in key)
        and not any(0xD800 <= ord(c) <= 0xDFFF for c in key)
    )


HOSTILE = st.sampled_from(
    ["'; DROP TABLE records; --", "a') OR 1=1 --", "$.x", "$", "[0]", "*", "%s", "%(x)s", "?", "{}", "é", " "]
)


@FUZZ
@given(key=st.one_of(st.text(max_size=12), HOSTILE))
def test_any_key_is_refused_or_finds_its_own_value(records, key):
    records.delete({})
    keys = key.split(".")
    if not all(findable(k) for k in keys):
        with pytest.raises(livevec.FilterError) as info:
            records.query({f"meta.{key}": 1})
        assert info.value.field == f"meta.{key}"
        return
    records.insert([{"id": 1, "meta": {key: 1}}, {"id": 2, "meta": {"other": 1}}])
    found = [r["id"] for r in records.query({f"meta.{key}": 1})]
    # a key with dots is a path of several keys, which the flat document does not have
    assert found == ([1] if len(keys) == 1 else [])
    assert records.count({f"meta.{key}": {"$ne": 1}}) == 2 - len(found)


# --- the rules, read in Python ----------------------------------------------------------------------

MISSING = object()
KEYS = ["a", "b", "é"]
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-5, 5),
    st.sampled_from([0.5, -1.5, 2.0, 1e-3, 1e15]),
    st.sampled_from(["", "a", "b", "A", "é", "1", "ab", "z"]),
)
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=2), st.dictionaries(st.sampled_from(KEYS), inner, max_size=3)
    ),
    max_leaves=6,
)
DOCS = st.one_of(st.none(), st.dictionaries(st.sampled_from(KEYS), VALUES, max_size=3))
PATHS = st.lists(st.sampled_from(KEYS), min_size=1, max_size=2).map(lambda keys: "meta." + ".".join(keys))
ORDERED = st.one_of(
    st.integers(-5, 5), st.sampled_from([0.5, -1.5, 2.0]), st.sampled_from(["", "a", "b", "é", "1"])
)
CONDITIONS = st.one_of(
    SCALARS,
    st.tuples(st.sampled_from(["$eq", "$ne"]), SCALARS).map(lambda t: {t[0]: t[1]}),
    st.tuples(st.sampled_from(["$gt", "$gte", "$lt", "$lte"]), ORDERED).map(lambda t: {t[0]: t[1]}),
    st.tuples(st.sampled_from(["$in", "$nin"]), st.lists(SCALARS, max_size=3)).map(lambda t: {t[0]: t[1]}),
)
FILTERS = st.dictionaries(PATHS, CONDITIONS, min_size=1, max_size=2)


def kind(value: Any) -> str:
    if value is None or isinstance(value, bool):
        return "literal"
    if isinstance(value, int | float):
        return "number"
    return "string" if isinstance(value, str) else "container"


def at(doc: Any, path: str) -> Any:
    for key in path.split(".")[1:]:
        if not isinstance(doc, dict) or key not in doc:
            return MISSING
        doc = doc[key]
    return doc


def equal(found: Any, value: Any) -> bool:
    if found is MISSING or kind(found) != kind(value):
        return False
    return found is value if kind(value) == "literal" else found == value


ORDERINGS = {"$gt": operator.gt, "$gte": operator.ge, "$lt": operator.lt, "$lte": operator.le}


def passes(doc: Any, filters: dict[str, Any]) -> bool:
    for path, condition in filters.items():
        found = at(doc, path)
        for op, value in (condition if isinstance(condition, dict) else {"$eq": condition}).items():
            if op in ORDERINGS:
                ok = found is not MISSING and kind(found) == kind(value) and ORDERINGS[op](found, value)
            elif op in ("$in", "$nin"):
                ok = any(equal(found, v) for v in value) == (op == "$in")
            else:
                ok = equal(found, value) == (op == "$eq")
            if not ok:
                return False
    return True


@FUZZ
@given(docs=st.lists(DOCS, min_size=1, max_size=8), filters=st.lists(FILTERS, min_size=1, max_size=4))
def test_random_filters_select_what_the_rules_say(records, docs, filters):
    records.delete({})
    records.insert([{"id": i, "meta": doc} for i, doc in enumerate(docs)])
    for f in filters:
        expected = [i for i, doc in enumerate(docs) if passes(doc, f)]
        assert [r["id"] for r in records.query(f)] == expected, f
