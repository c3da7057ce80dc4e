"""JSON fields: stored and returned as Python values, and filtered by path (`{"meta.a.b": 1}`) with
every operator, by the rules of `livevec.filters`, the same on both backends."""

from __future__ import annotations

import contextlib
import sqlite3
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


# the paths CASES filter on, indexed: every case must give the same rows through the indexes
INDEXED_PATHS = ["owner_id", "a.b", "a.b.c", "missing", "0", "é", "key with spaces", "it's", "tags.0"]


class IndexedRecord(TableModel):
    __tablename__ = "indexed_records"
    id: int = Field(primary_key=True)
    meta: dict[str, Any] | None = Field(None, index=INDEXED_PATHS)
    tags: list[str] = Field(default_factory=list)
    note: str = ""


@pytest.fixture(params=[Record, IndexedRecord], ids=["plain", "indexed"])
def records(db, request):
    table = db.create_table(request.param)
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
    assert first == row
    # SQLite keeps an object's keys in their order; PostgreSQL's jsonb, like TiDB's JSON, puts the
    # shortest first
    assert list(first["meta"]) == (
        ["z", "a"] if isinstance(db.backend, livevec.storage.SQLiteBackend) else ["a", "z"]
    )
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


def _indexed(db, table, filters) -> bool:
    """Does the store read through an index to count the rows `filters` match?"""
    plan = _plan(db, table, filters)
    return (
        ("USING INDEX" in plan or "USING COVERING INDEX" in plan)
        if "SEARCH" in plan or "SCAN" in plan
        else "Index" in plan
    )


def _plan(db, table, filters) -> str:
    """The store's plan of a count with `filters`, as one text."""
    where, params = db.backend._where(table.spec, filters)
    if isinstance(db.backend, livevec.storage.SQLiteBackend):
        # its own connection: EXPLAIN never checks that a connection's schema is current (a query
        # does, and reads it again), so a pooled reader may show the plan of indexes since dropped
        with contextlib.closing(sqlite3.connect(db.backend.url)) as conn:
            sql = f"EXPLAIN QUERY PLAN SELECT count(*) FROM {table.name} WHERE {where}"
            rows = conn.execute(sql, params).fetchall()
        return "\n".join(row[-1] for row in rows)
    with db.transaction():  # SET LOCAL: this plan only; a small table would otherwise be scanned
        db.backend._execute("SET LOCAL enable_seqscan = off")
        rows = db.backend._query(f"EXPLAIN SELECT count(*) FROM {table.name} WHERE {where}", params)
    return "\n".join(row[0] for row in rows)


@pytest.mark.parametrize(
    "filters",
    [
        {"meta.owner_id": 1},
        {"meta.owner_id": {"$gte": 1, "$lt": 5}},
        {"meta.a.b": {"$gt": "x"}},
        {"meta.it's": 1},
        {"meta.owner_id": {"$in": [1, "1"]}},
        "meta.owner_id in (1, 2) and meta.a.b = 'x'",
    ],
    ids=str,
)
def test_an_indexed_path_is_read_through_its_index(db, filters):
    indexed = db.create_table(IndexedRecord)
    indexed.insert([{"id": i, "meta": meta} for i, meta in RECORDS.items()])
    plain = db.create_table(Record)
    plain.insert([{"id": i, "meta": meta} for i, meta in RECORDS.items()])
    assert indexed.count(filters) == plain.count(filters) > 0
    assert _indexed(db, indexed, filters)
    assert not _indexed(db, plain, filters)  # the same filter on an unindexed path scans


def test_a_path_index_follows_writes(db):
    table = db.create_table(IndexedRecord)
    table.insert([{"id": i, "meta": {"owner_id": i % 5}} for i in range(50)])
    assert table.count({"meta.owner_id": 3}) == 10
    table.update(values={"meta": {"owner_id": "3"}}, filters={"id": {"$lt": 10}})
    table.delete({"id": 13})
    assert table.count({"meta.owner_id": 3}) == 7  # 18, 23, ... 48
    assert table.count({"meta.owner_id": "3"}) == 10
    db.execute(f"UPDATE {table.name} SET meta = NULL WHERE id = 48")  # another client's write
    assert table.count({"meta.owner_id": 3}) == 6


@pytest.mark.parametrize(
    ("index", "message"),
    [
        (["a..b"], "empty key"),
        (["a."], "empty key"),
        (['a"b'], "double quote"),
        (["a\\b"], "backslash"),
        (["a\nb"], "control character"),
        (["a", "a"], "names a path twice"),
        ([], "names no path"),
        ([1], "not a str"),
        ("owner_id", "list of a JSON field's paths"),
    ],
)
def test_bad_index_paths_are_refused_naming_the_field(db, index, message):
    with pytest.raises(livevec.SchemaError, match=message) as info:

        class Bad(TableModel):
            __tablename__ = "bad"
            id: int = Field(primary_key=True)
            meta: dict = Field(default_factory=dict, index=index)

        db.create_table(Bad)
    assert "Bad.meta" in str(info.value) or message == "list of a JSON field's paths"
    assert "bad" not in db.tables()


def test_index_paths_only_on_json_fields(db):
    class Flat(TableModel):
        __tablename__ = "flat"
        id: int = Field(primary_key=True)
        name: str = Field(index=["a"])

    with pytest.raises(livevec.SchemaError, match=r"Flat\.name: index takes paths only on a JSON"):
        db.create_table(Flat)


def test_index_paths_are_kept_with_the_table(db):
    db.create_table(IndexedRecord)
    reopened = db.open_table("indexed_records")  # no schema: rebuilt from the stored one
    assert reopened.spec.column("meta").paths == tuple(INDEXED_PATHS)
    assert db.open_table("indexed_records", schema=IndexedRecord).count({"meta.a.b": "x"}) == 0


def test_a_model_whose_indexes_changed_gives_the_table_its_indexes(db):
    table = db.create_table(Record)  # no index
    table.insert([{"id": i, "meta": meta} for i, meta in RECORDS.items()])
    filters = {"meta.owner_id": {"$in": [1, "1"]}}
    assert not _indexed(db, table, filters)

    class Indexed(Record):
        meta: dict[str, Any] | None = Field(None, index=["owner_id"])
        note: str = Field("", index=True)

    indexed = db.create_table(Indexed, name="records", if_exists="skip")
    assert indexed.spec.column("meta").paths == ("owner_id",) and indexed.spec.column("note").index
    assert _indexed(db, indexed, filters) and _indexed(db, indexed, {"note": "x"})
    assert ids(table.query(filters).to_list()) == [1, 3]  # the first handle follows
    assert db.open_table("records").spec.column("meta").paths == ("owner_id",)

    plain = db.open_table("records", schema=Record)  # the model dropped them: so does the table
    assert plain.spec.column("meta").paths == () and not plain.spec.column("note").index
    assert not _indexed(db, plain, filters) and not _indexed(db, plain, {"note": "x"})
    assert ids(plain.query(filters).to_list()) == [1, 3] and plain.count() == len(RECORDS)


def test_floats_come_back_as_floats(db):
    # jsonb keeps numbers as decimals and would write 1e16 back as an integer
    values = [1e16, -1e300, 1e-300, 5e-324, 1.7976931348623157e308, 2.0, 0.1, 1e22, 123456789012345680.0]
    table = db.create_table(Record)
    table.insert([{"id": 1, "meta": {"v": values, "n": 10**20, "i": 3}, "tags": []}])
    meta = table.get(1).meta
    assert meta["v"] == values and all(type(v) is float for v in meta["v"])
    assert type(meta["n"]) is int and type(meta["i"]) is int
    assert table.count({"meta.v": {"$ne": 1}}) == 1
    table.insert([{"id": 2, "meta": {"x": 1e16}}])
    assert table.count({"meta.x": 10**16}) == 1 and table.count({"meta.x": 1e16}) == 1


@pytest.mark.backends("postgres")
def test_a_json_column_of_an_earlier_livevec_becomes_jsonb(db):
    table = db.create_table(Record)
    table.insert([{"id": i, "meta": meta} for i, meta in RECORDS.items()])
    db.execute("ALTER TABLE records ALTER COLUMN meta TYPE json USING meta::json")
    url = db.backend.url
    db.close()
    reopened = livevec.connect(url)
    try:
        kind = reopened.query(
            "SELECT data_type FROM information_schema.columns "
            "WHERE table_name = 'records' AND column_name = 'meta'"
        ).rows
        assert kind == [("jsonb",)]
        records = reopened.open_table("records")
        assert ids(records.query({"meta.owner_id": {"$in": [1, "1", None]}}).to_list()) == [1, 3, 5]
        assert records.get(9).meta == RECORDS[9]
    finally:
        reopened.close()
