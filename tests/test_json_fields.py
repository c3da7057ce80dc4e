"""JSON fields: stored and returned as Python values, and filtered by path (`{"meta.a.b": 1}`) with
every operator, by the rules of `livevec.filters`, the same on both backends."""

from __future__ import annotations

from typing import Any

import pytest

import livevec
from livevec import Field, TableModel
from livevec.live import live_queries

from .models import embed


class Record(TableModel):
    __tablename__ = "records"
    id: int = Field(primary_key=True)
    meta: dict[str, Any] | None = None
    tags: list[str] = Field(default_factory=list)
    note: str = ""


RECORDS = {
    1: {"owner_id": 1, "a": {"b": "x"}, "tags": ["red"]},
    2: {"owner_id": 2.5, "a": {"b": "y"}},
    3: {"owner_id": "1", "a": "flat"},
    4: {"owner_id": True, "a": {"b": None}},
    5: {"owner_id": None},
    6: {},
    7: None,
    8: {"owner_id": [1], "a": {"b": {"c": 3}}},
    9: {"owner_id": -3, "é": "ü", "key with spaces": "ok", "it's": 1, "0": "zero"},
    10: {"owner_id": 10**20, "a": {"b": "Z"}},
    11: {"owner_id": 0.1, "a": {"b": "é"}},
}
ALL = sorted(RECORDS)


def but(*ids: int) -> list[int]:
    return [i for i in ALL if i not in ids]


@pytest.fixture
def records(db):
    table = db.create_table(Record)
    table.insert([{"id": i, "meta": meta} for i, meta in RECORDS.items()])
    return table


def ids(rows) -> list[int]:
    return sorted(row["id"] for row in rows)


CASES = [
    # a number matches numbers only, compared as numbers
    ({"meta.owner_id": 1}, [1]),
    ({"meta.owner_id": 1.0}, [1]),
    ({"meta.owner_id": 0.1}, [11]),
    ({"meta.owner_id": {"$eq": 1}}, [1]),
    ({"meta.owner_id": {"$gt": 1}}, [2, 10]),
    ({"meta.owner_id": {"$gte": 1}}, [1, 2, 10]),
    ({"meta.owner_id": {"$lt": 1}}, [9, 11]),
    ({"meta.owner_id": {"$lte": 2.5, "$gt": -3}}, [1, 2, 11]),
    ({"meta.owner_id": {"$gt": 2**62}}, [10]),
    # a str matches strings only, by code point ("Z" < "x" < "y" < "é")
    ({"meta.owner_id": "1"}, [3]),
    ({"meta.owner_id": {"$gt": "0"}}, [3]),
    ({"meta.a.b": {"$gte": "x"}}, [1, 2, 11]),
    ({"meta.a.b": {"$lt": "x"}}, [10]),
    # True, False and None match the JSON literals only
    ({"meta.owner_id": True}, [4]),
    ({"meta.owner_id": False}, []),
    ({"meta.owner_id": None}, [5]),
    ({"meta.a.b": None}, [4]),
    # the negations match wherever their opposite does not, missing paths included
    ({"meta.owner_id": {"$ne": 1}}, but(1)),
    ({"meta.owner_id": {"$ne": None}}, but(5)),
    ({"meta.a.b": {"$ne": "x"}}, but(1)),
    ({"meta.missing": {"$ne": 1}}, ALL),
    ({"meta.missing": {"$gt": 0}}, []),
    ({"meta.missing": {"$lt": "z"}}, []),
    # lists: each value matches its own kind
    ({"meta.owner_id": {"$in": [1, "1", None]}}, [1, 3, 5]),
    ({"meta.owner_id": {"$nin": [1, 2.5]}}, but(1, 2)),
    ({"meta.owner_id": {"$in": [True, False]}}, [4]),
    ({"meta.owner_id": {"$in": []}}, []),
    ({"meta.owner_id": {"$nin": []}}, ALL),
    # nested paths; a key is never an array index; keys of any text but quotes, backslashes, controls
    ({"meta.a.b.c": 3}, [8]),
    ({"meta.a.b.c": {"$ne": 3}}, but(8)),
    ({"meta.tags.0": "red"}, []),
    ({"meta.0": "zero"}, [9]),
    ({"meta.é": "ü"}, [9]),
    ({"meta.key with spaces": "ok"}, [9]),
    ({"meta.it's": 1}, [9]),
    # with the rest of the language
    ({"$or": [{"meta.owner_id": 1}, {"meta.a.b": "y"}]}, [1, 2]),
    ({"$and": [{"meta.owner_id": {"$gte": 1}}, {"id": {"$gt": 1}}]}, [2, 10]),
    ({"$or": []}, []),
    # the field itself is compared with None only
    ({"meta": None}, [7]),
    ({"meta": {"$ne": None}}, but(7)),
]


@pytest.mark.parametrize(("filters", "expected"), CASES, ids=[str(f) for f, _ in CASES])
def test_path_filters_in_queries_and_counts(records, filters, expected):
    assert ids(records.query(filters).to_list()) == expected
    assert records.count(filters) == len(expected)


def test_json_fields_come_back_as_python_values(db):
    class Typed(TableModel):
        __tablename__ = "typed"
        id: int = Field(primary_key=True)
        meta: dict = Field(default_factory=dict)
        counts: dict[str, int] = Field(default_factory=dict)
        numbers: list[int] = Field(default_factory=list)
        nested: list[dict[str, Any]] | None = None

    row = {
        "id": 1,
        "meta": {"z": 1, "a": {"é": [1, 2.5, None, True, "x"]}},
        "counts": {"views": 3},
        "numbers": [3, 1, 2],
        "nested": [{"k": "v"}],
    }
    table = db.create_table(Typed)
    table.insert([row, {"id": 2}])
    first, second = table.query().to_list()
    assert first == row and list(first["meta"]) == ["z", "a"]  # keys keep their order
    assert second == {"id": 2, "meta": {}, "counts": {}, "numbers": [], "nested": None}
    assert db.open_table("typed").query({"counts.views": 3}).to_list() == [row]


def test_updates_and_deletes_by_path(records):
    assert records.update(values={"note": "mine"}, filters={"meta.owner_id": {"$in": [1, "1"]}}) == 2
    assert ids(records.query({"note": "mine"})) == [1, 3]
    assert records.update(values={"meta": {"owner_id": 7}}, filters={"meta.a.b": "y"}) == 1
    assert ids(records.query({"meta.owner_id": 7})) == [2]
    assert records.delete({"meta.owner_id": {"$ne": 7}}) == len(ALL) - 1
    assert ids(records.query()) == [2]


@pytest.mark.parametrize(
    ("filters", "field", "message"),
    [
        ({"meta.": 1}, "meta.", "empty key"),
        ({"meta..a": 1}, "meta..a", "empty key"),
        ({'meta.a"b': 1}, 'meta.a"b', "double quote"),
        ({"meta.a\\b": 1}, "meta.a\\b", "backslash"),
        ({"meta.a\nb": 1}, "meta.a\nb", "control character"),
        ({"meta.\ud800": 1}, "meta.\ud800", "lone surrogate"),
        ({"note.length": 1}, "note.length", "'note' is a str field"),
        ({"colour.a": 1}, "colour.a", "unknown field"),
        ({"meta.a": [1]}, "meta.a", "compares a JSON value with a number"),
        ({"meta.a": {"$in": [{"b": 1}]}}, "meta.a", "got dict"),
        ({"meta.a": {"$gt": True}}, "meta.a", "orders numbers or strings"),
        ({"meta.a": {"$lt": None}}, "meta.a", "orders numbers or strings"),
        ({"meta.a": {"$in": 1}}, "meta.a", "takes a list"),
        ({"meta.a": {"$like": "x"}}, "meta.a", "unknown operator"),
        ({"meta.a": {}}, "meta.a", "empty condition"),
        ({"meta.a": 2**64}, "meta.a", "64-bit"),
        ({"meta.a": float("nan")}, "meta.a", "finite"),
        ({"meta.a": "x\x00"}, "meta.a", "NUL"),
        ({"meta": {"a": 1}}, "meta", "filter on a path: meta.a"),
        ({"meta": 1}, "meta", "compared only with None"),
        ({"meta": {"$in": [None]}}, "meta", "compares a path"),
    ],
)
def test_bad_path_filters_name_the_culprit(records, filters, field, message):
    for call in (
        lambda: records.query(filters),
        lambda: records.count(filters),
        lambda: records.delete(filters),
        lambda: records.update(values={"note": "x"}, filters=filters),
    ):
        with pytest.raises(livevec.FilterError, match=message) as info:
            call()
        assert info.value.field == field
    assert records.count() == len(ALL)


class Doc(TableModel):
    __tablename__ = "docs"
    id: int = Field(primary_key=True)
    text: str = Field(fulltext=True)
    text_vec: list[float] | None = embed.VectorField(source_field="text")
    meta: dict[str, Any] = Field(default_factory=dict)


DOCS = [
    {"id": 1, "text": "A yoga mat for stretching", "meta": {"shop": {"id": 1}, "stock": 3}},
    {"id": 2, "text": "A mat for pilates and yoga", "meta": {"shop": {"id": 2}, "stock": 0}},
    {"id": 3, "text": "Running shoes for a marathon", "meta": {"shop": {"id": 1}, "stock": 9}},
    {"id": 4, "text": "A yoga block of cork", "meta": {"shop": {"id": "1"}}},
]


@pytest.fixture
def docs(db):
    table = db.create_table(Doc)
    table.insert(DOCS)
    return table


@pytest.mark.parametrize("search_type", ["vector", "fulltext", "hybrid"])
def test_path_filters_in_searches(docs, search_type):
    search = docs.search("yoga mat", search_type=search_type).limit(10)
    # doc 3 has none of the words: a full-text search does not find it, the others do
    expected = [1] if search_type == "fulltext" else [1, 3]
    assert ids(search.filter({"meta.shop.id": 1}).to_list()) == expected
    in_stock = {"meta.stock": {"$gt": 0}, "meta.shop.id": {"$in": [1, 2]}}
    assert ids(search.filter(in_stock).to_list()) == expected


def test_path_filters_in_live_searches(docs):
    search = docs.search("yoga mat").filter({"meta.shop.id": 1, "meta.stock": {"$gte": 1}}).limit(3)
    live = search.live()
    assert ids(live.result) == [1, 3]
    docs.update(values={"meta": {"shop": {"id": 1}, "stock": 5}}, filters={"id": 2})
    docs.update(values={"meta": {"shop": {"id": 1}}}, filters={"id": 3})  # its stock is gone
    assert live_queries(docs.backend).settle(timeout=30)
    assert ids(live.result) == [1, 2] and live.result == search.to_list()
    live.close()


@pytest.mark.backends("postgres")
def test_postgres_refuses_a_nul_inside_json(db):
    # PostgreSQL would keep it, but could then read no path of the document
    table = db.create_table(Record)
    for row in (
        {"id": 1, "meta": {"a": "x\x00"}},
        {"id": 1, "meta": {"a\x00": 1}},
        {"id": 1, "tags": ["\x00"]},
    ):
        with pytest.raises(livevec.ValidationError, match="NUL") as info:
            table.insert([row])
        assert info.value.field == next(k for k in row if k != "id")
    assert table.count() == 0
