"""SQL string filters: what each form means (the dict it is read as, and the rows it selects on both
backends), what is refused and why, and strings wherever a filter goes: query, count, update, delete,
search and live searches."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import livevec
from livevec import EmbeddingFunction, Field, TableModel
from livevec.live import live_queries
from livevec.sql_filters import parse_filter

from . import given_vectors

exec(given_vectors.source("sqlgiven4", 4))


class Row(TableModel):
    __tablename__ = "rows"
    id: int = Field(primary_key=True)
    user_id: int | None = None
    name: str | None = None
    price: float | None = None
    category: str | None = None
    active: bool | None = None
    meta: dict[str, Any] | None = None
    vec: list[float] | None = EmbeddingFunction("sqlgiven4/x").VectorField(None)


def _vec(i: float) -> list[float]:
    angle = i / 3
    return [float(np.cos(angle)), float(np.sin(angle)), 0.0, 0.0]


ROWS = [
    dict(id=1, user_id=1, name="yoga mat", price=20.0, category="fitness", active=True,
         meta={"owner_id": 1, "tags": {"x": "a"}}),
    dict(id=2, user_id=2, name="yoyo", price=5.0, category="toys", active=False, meta={"owner_id": 2}),
    dict(id=3, user_id=3, name="Yoghurt", price=2.5, category="food", active=None, meta={}),
    dict(id=4, user_id=None, name=None, price=None, category="bags", active=True, meta=None),
    dict(id=5, user_id=1, name="bag", price=10.0, category="bags", active=False, meta={"owner_id": "1"}),
]  # fmt: skip


@pytest.fixture
def rows(db):
    table = db.create_table(Row)
    table.insert([{**r, "vec": _vec(r["id"])} for r in ROWS])
    return table


# (the string, the dict filter it is read as, the rows it selects)
EXAMPLES = [
    ("user_id in (1, 2)", {"user_id": {"$in": [1, 2]}}, [1, 2, 5]),
    ("price >= 10 and category = 'bags'", {"$and": [{"price": {"$gte": 10}}, {"category": {"$eq": "bags"}}]}, [5]),
    ("meta.owner_id = 1", {"meta.owner_id": {"$eq": 1}}, [1]),
    ("meta.owner_id = '1'", {"meta.owner_id": {"$eq": "1"}}, [5]),
    ("meta.owner_id != 1", {"meta.owner_id": {"$ne": 1}}, [2, 3, 4, 5]),  # a missing path too
    ("meta.tags.x IN ('a', 'b')", {"meta.tags.x": {"$in": ["a", "b"]}}, [1]),
    # the same paths as MySQL and TiDB write them
    ("JSON_EXTRACT(meta, '$.owner_id') = 1", {"meta.owner_id": {"$eq": 1}}, [1]),
    ("meta->'$.tags.x' = 'a'", {"meta.tags.x": {"$eq": "a"}}, [1]),
    ("meta->>'$.owner_id' != 1", {"meta.owner_id": {"$ne": 1}}, [2, 3, 4, 5]),
    ("name is null", {"name": None}, [4]),
    ("name IS NOT NULL", {"name": {"$ne": None}}, [1, 2, 3, 5]),
    ("not (user_id = 1 or category != 'toys')", {"$and": [{"user_id": {"$ne": 1}}, {"category": {"$eq": "toys"}}]}, [2]),
    ("not (price > 5)", {"price": {"$lte": 5}}, [2, 3]),  # a NULL price matches neither, as in SQL
    ("category not in ('bags','food')", {"category": {"$nin": ["bags", "food"]}}, [1, 2]),
    ("price between 5 and 20", {"price": {"$gte": 5, "$lte": 20}}, [1, 2, 5]),
    ("price not between 5 and 20", {"$or": [{"price": {"$lt": 5}}, {"price": {"$gt": 20}}]}, [3]),
    ("name like 'yo%'", {"name": {"$gte": "yo", "$lt": "yp"}}, [1, 2]),  # case-sensitive, as TiDB
    ("name not like 'yo%'", {"$or": [{"name": {"$lt": "yo"}}, {"name": {"$gte": "yp"}}]}, [3, 5]),
    ("name like 'bag'", {"name": {"$eq": "bag"}}, [5]),
    ("active = true", {"active": {"$eq": True}}, [1, 4]),
    ("10 <= price", {"price": {"$gte": 10}}, [1, 5]),
    ("price = -2.5e0 or price = 25e-1", {"$or": [{"price": {"$eq": -2.5}}, {"price": {"$eq": 2.5}}]}, [3]),
    (
        '`category` = "bags" AND (price < 11 OR price IS NULL)',
        {"$and": [{"category": {"$eq": "bags"}}, {"$or": [{"price": {"$lt": 11}}, {"price": None}]}]},
        [4, 5],
    ),
    (
        "user_id <> 1 AND NOT name LIKE 'yo%'",
        {"$and": [{"user_id": {"$ne": 1}}, {"$or": [{"name": {"$lt": "yo"}}, {"name": {"$gte": "yp"}}]}]},
        [3],
    ),
    ("name = 'it''s' or name = 'x'' OR ''1''=''1'", {"$or": [{"name": {"$eq": "it's"}}, {"name": {"$eq": "x' OR '1'='1"}}]}, []),
]  # fmt: skip


@pytest.mark.parametrize(("text", "meaning", "ids"), EXAMPLES, ids=[e[0] for e in EXAMPLES])
def test_a_string_selects_the_rows_of_the_dict_it_means(rows, text, meaning, ids):
    assert parse_filter(text) == meaning
    assert [r["id"] for r in rows.query(text)] == ids
    assert [r["id"] for r in rows.query(meaning)] == ids
    assert rows.count(text) == len(ids)


def test_strings_go_wherever_a_filter_goes(rows):
    query = np.asarray(_vec(5), np.float32)
    assert [r["id"] for r in rows.search(query).filter("category = 'bags'").limit(5).to_list()] == [5, 4]
    assert [r["id"] for r in rows.query({"$and": ["price > 1", {"category": "bags"}]})] == [5]
    assert [r["id"] for r in rows.query({"$or": ["user_id = 3", "name like 'yo%'"]})] == [1, 2, 3]
    assert rows.update({"price": 1.0}, "category = 'bags'") == 2
    assert [r["price"] for r in rows.query("category = 'bags'")] == [1.0, 1.0]
    assert rows.delete("name like 'yo%' or user_id is null") == 3
    assert [r["id"] for r in rows.query()] == [3, 5]


def test_a_live_search_with_a_string_filter_follows_writes(rows):
    query = np.asarray(_vec(5), np.float32)
    search = rows.search(query).filter("category = 'bags' and (price >= 5 or price is null)").limit(5)
    live = search.live()
    assert [r["id"] for r in live.result] == [5, 4]
    rows.insert({"id": 6, "category": "bags", "price": 7.0, "vec": _vec(5.3)})
    rows.insert({"id": 7, "category": "bags", "price": 1.0, "vec": _vec(5)})  # the filter leaves it out
    assert live_queries(rows.backend).settle(timeout=30)
    assert [r["id"] for r in live.result] == [5, 6, 4]
    rows.update({"category": "toys"}, "id = 5")
    assert live_queries(rows.backend).settle(timeout=30)
    assert live.result == search.to_list() and [r["id"] for r in live.result] == [6, 4]
    live.close()


REFUSED = [
    ("JSON_EXTRACT(meta, '$[0]') = 1", "no array index"),
    ("JSON_EXTRACT(meta, '$.*') = 1", "no array index, wildcard"),
    ("JSON_EXTRACT(meta, '$') = 1", "a JSON path other than"),
    ("JSON_EXTRACT(meta, '$.\"a.b\"') = 1", "key with a dot"),
    ("", "empty"),
    ("   ", "empty"),
    ("price > 1; DROP TABLE rows", "without ';'"),
    ("price > 1;", "without ';'"),
    ("price > 1 -- the rest", "no comment"),
    ("price > 1 /* x */", "no comment"),
    ("price > 1 # x", "no comment"),
    ("select id from rows", "is not a condition"),
    ("price >", "is not a condition"),
    ("price > 1 and", "is not a condition"),
    ("name = 'unterminated", "is not a condition"),
    ("lower(name) = 'x'", "a function call"),
    ("name = concat('a', 'b')", "a function call"),
    ("price in (select price from rows)", "not a subquery"),
    ("price = (select 1)", "a subquery"),
    ("price + 1 > 2", "arithmetic"),
    ("price > 1 + 1", "arithmetic"),
    ("price = user_id", "two fields"),
    ("1 = 1", "a value where a field is expected"),
    ("price", "a field alone is not a condition"),
    ("not active", "a field alone is not a condition"),
    ("price = null", "IS NULL"),
    ("price in (1, null)", "IS NULL"),
    ("price between null and 2", "NULL bound"),
    ("active is true", "IS takes only NULL"),
    ("price <=> 1", "NULLSAFEEQ"),
    ("price > 1 xor price < 5", "XOR"),
    ("name regexp 'y.*'", "REGEXP"),
    ("name ilike 'yo%'", "ILIKE"),
    ("name like '%mat'", "prefix"),
    ("name like 'y_ga%'", "prefix"),
    ("name like 'yo%' escape '!'", "ESCAPE"),
    ("price = ?", "a placeholder"),
    ("price = @limit", "a placeholder"),
    ("price = 0x10", "HEXSTRING"),
    ("created = date '2024-01-01'", "where a value is expected"),
    ("price = -'1'", "minus sign"),
]


@pytest.mark.parametrize(("text", "message"), REFUSED, ids=[r[0] for r in REFUSED])
def test_what_is_outside_the_grammar_is_refused_by_name(text, message):
    with pytest.raises(livevec.FilterError, match=message) as info:
        parse_filter(text)
    assert info.value.field == "filters"


def test_names_and_values_are_checked_by_the_dict_compiler(rows):
    for text, field, message in [
        ("colour = 'red'", "colour", "unknown field"),
        ("price = 'cheap'", "price", "needs a float"),
        ("user_id = 99999999999999999999", "user_id", "64-bit"),
        ("price > 1e400", "price", "not a finite number"),
        ("name.x = 1", "name.x", "only JSON"),
        ("meta = 1", "meta", "compared only with None"),
        ("vec is null", "vec", "cannot filter"),
    ]:
        with pytest.raises(livevec.FilterError, match=message) as info:
            rows.query(text)
        assert info.value.field == field
    assert rows.count() == 5


def test_a_deep_nesting_is_refused_and_a_long_chain_is_not(rows):
    with pytest.raises(livevec.FilterError, match="nested too deeply"):
        parse_filter("(" * 500 + "price > 1" + ")" * 500)
    chain = " or ".join(f"user_id = {i}" for i in range(900))  # SQLite takes 1000 terms
    assert [r["id"] for r in rows.query(chain)] == [1, 2, 3, 5]
