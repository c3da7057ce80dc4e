"""pytidb's SQLModel side on livevec: column expressions as filters, relationships, `db_engine`,
and its weighted fusion's fixed scales."""

from __future__ import annotations

import math

import pytest
import sqlalchemy

import livevec
from livevec.compat.pytidb import TiDBClient
from livevec.compat.pytidb.datatype import JSON
from livevec.compat.pytidb.embeddings import EmbeddingFunction
from livevec.compat.pytidb.expressions import to_filters
from livevec.compat.pytidb.fusion import check_weights, fuse_weighted, relevance, similarity
from livevec.compat.pytidb.schema import Field, FullTextField, Relationship, TableModel, VectorField
from livevec.compat.pytidb.sql import and_, not_, or_, select

embed_fn = EmbeddingFunction("local/all-MiniLM-L6-v2")


class Item(TableModel):
    __tablename__ = "items"
    id: int = Field(primary_key=True)
    kind: str
    size: int
    meta: dict = Field(sa_type=JSON, default_factory=dict)


ITEMS = [
    Item(id=1, kind="cup", size=1, meta={"color": "red", "dims": {"h": 10}}),
    Item(id=2, kind="cup", size=2, meta={"color": "blue", "dims": {"h": 12}}),
    Item(id=3, kind="mat", size=3, meta={"color": "red"}),
]


# --- column expressions -----------------------------------------------------------------------------


def test_expressions_read_into_livevecs_filter_dicts():
    assert to_filters(Item.size == 1) == {"size": {"$eq": 1}}
    assert to_filters(Item.size.in_([1, 2])) == {"size": {"$in": [1, 2]}}
    assert to_filters(Item.size.not_in([1])) == {"size": {"$nin": [1]}}
    assert to_filters(Item.kind.is_(None)) == {"kind": {"$eq": None}}
    assert to_filters(not_(Item.size == 1)) == {"size": {"$ne": 1}}  # SQLAlchemy negates it so
    assert to_filters(Item.meta["dims"]["h"].as_integer() >= 11) == {"meta.dims.h": {"$gte": 11}}
    assert to_filters(or_(Item.size < 2, and_(Item.kind != "cup", Item.size <= 3))) == {
        "$or": [{"size": {"$lt": 2}}, {"$and": [{"kind": {"$ne": "cup"}}, {"size": {"$lte": 3}}]}]
    }


def test_what_filters_cannot_say_is_a_value_error_naming_it():
    for expression, message in (
        (Item.kind.like("c%"), "operator"),
        (not_(or_(Item.size == 1, Item.id == 2)), "cannot read"),
        (Item.size == Item.id, "values"),
        (sqlalchemy.func.length(Item.kind) > 2, "compares a field"),
        (Item.meta[0] == 1, "key"),
    ):
        with pytest.raises(ValueError, match=message) as info:
            to_filters(expression)
        assert isinstance(info.value, livevec.ValidationError)


def test_expressions_filter_queries_updates_deletes_and_searches(client):
    table = client.create_table(schema=Item)
    table.bulk_insert(ITEMS)
    ids = lambda rows: sorted(r.id for r in rows.to_pydantic())  # noqa: E731
    assert ids(table.query(Item.meta["color"] == "red")) == [1, 3]
    assert ids(table.query(and_(Item.kind == "cup", Item.meta["dims"]["h"].as_float() > 11))) == [2]
    assert table.update({"size": 9}, Item.id.in_([1, 2])) == 2
    assert table.delete(Item.size == 9) == 2
    assert ids(table.query()) == [3]
    assert Item(id=5, kind="x", size=1).size == 1  # instances read their values as usual


def test_expressions_filter_searches(client):
    class Doc(TableModel):
        __tablename__ = "docs"
        id: int = Field(primary_key=True)
        owner: int
        vec: list[float] = VectorField(dimensions=2)

    table = client.create_table(schema=Doc)
    table.bulk_insert(
        [Doc(id=1, owner=1, vec=[1, 0]), Doc(id=2, owner=2, vec=[1, 0.1]), Doc(id=3, owner=3, vec=[0, 1])]
    )
    rows = table.search([1, 0]).filter(Doc.owner.in_([2, 3]), prefilter=True).limit(3).to_list()
    assert [r["id"] for r in rows] == [2, 3]


# --- relationships ------------------------------------------------------------------------------------


class Author(TableModel):
    __tablename__ = "authors"
    id: int = Field(primary_key=True)
    name: str
    posts: list[Post] = Relationship()


class Post(TableModel):
    __tablename__ = "posts"
    id: int = Field(primary_key=True)
    author_id: int = Field(foreign_key="authors.id")
    author: Author = Relationship(
        sa_relationship_kwargs={"primaryjoin": "Post.author_id == Author.id", "lazy": "joined"}
    )


def test_relationships_read_the_related_rows(client):
    authors = client.create_table(schema=Author)
    posts = client.create_table(schema=Post)
    authors.bulk_insert([Author(id=1, name="ann"), Author(id=2, name="bob")])
    posts.bulk_insert([Post(id=10, author_id=1), Post(id=11, author_id=1), Post(id=12, author_id=3)])
    assert posts.get(10).author.name == "ann"
    assert posts.get(12).author is None  # livevec does not enforce the foreign key
    assert sorted(p.id for p in authors.get(1).posts) == [10, 11]
    assert authors.get(2).posts == []
    assert "author" not in Post.model_fields and "author" not in [c.column_name for c in posts.columns()]
    with pytest.raises(AttributeError):
        posts.get(10).author = Author(id=3, name="eve")


def test_relationship_declarations_are_checked():
    with pytest.raises(livevec.SchemaError, match="primaryjoin"):
        Relationship(sa_relationship_kwargs={"primaryjoin": "a.b > c.d"})
    with pytest.raises(livevec.SchemaError, match="sa_relationship_kwargs"):
        Relationship(sa_relationship_kwargs={"cascade": "all"})
    with pytest.raises(livevec.SchemaError, match=r"table\.column"):
        Field(foreign_key="authors")


# --- db_engine --------------------------------------------------------------------------------------


def test_db_engine_is_sqlalchemy_on_the_same_database_and_its_writes_reach_livevec(client):
    table = client.create_table(schema=Item)
    table.insert(ITEMS[0])
    since = client.database.last_change()
    engine = client.db_engine
    assert isinstance(engine, sqlalchemy.Engine) and client._db_engine is engine
    items = table._sa_table
    with engine.begin() as conn:
        conn.execute(sqlalchemy.insert(items).values(id=7, kind="bowl", size=4, meta={"color": "green"}))
        assert conn.execute(select(items.c.kind).where(items.c.id == 1)).scalar() == "cup"
    assert table.get(7).meta == {"color": "green"}
    assert [c.key for c in client.database.changes(since)] == [7]
    assert [r.id for r in table.query(Item.meta["color"] == "green").to_pydantic()] == [7]


def test_db_engine_needs_a_database_other_connections_reach():
    memory = TiDBClient.connect(":memory:")
    with pytest.raises(livevec.compat.pytidb.NotSupportedError, match="in-memory"):
        _ = memory.db_engine
    memory.disconnect()


# --- weighted fusion ----------------------------------------------------------------------------------


def test_pytidbs_fixed_scales():
    assert similarity(0.5, "cosine") == 0.75
    assert similarity(1.0, "l2") == pytest.approx(0.5)
    assert relevance(1.0) == pytest.approx(0.5)
    assert relevance(0.0) == 0.0 and similarity(0.0, "l2") == 1.0
    vector = [{"id": 1, "_distance": 0.5}, {"id": 2, "_distance": 1.0}]
    words = [
        {"id": 3, "_distance": None, "_match_score": 1.0},
        {"id": 1, "_distance": None, "_match_score": 3.0},
    ]
    fused = fuse_weighted(vector, words, "id", "cosine", 0.6, 0.4)
    assert [(r["id"], r["_distance"], r["_match_score"]) for r in fused] == [
        (1, 0.5, 3.0),
        (2, 1.0, None),
        (3, None, 1.0),
    ]
    assert [r["_score"] for r in fused] == pytest.approx(
        [0.6 * 0.75 + 0.4 * 2 * math.atan(3.0) / math.pi, 0.6 * 0.5, 0.4 * 0.5]
    )
    for bad in ((0, 0.5), (0.5, 1), (1.5, 0.5), ("0.5", 0.5)):
        with pytest.raises(ValueError, match="between 0 and 1"):
            check_weights(*bad)


def test_weighted_hybrid_search_scores_as_pytidb(client):
    class Note(TableModel):
        __tablename__ = "notes"
        id: int = Field(primary_key=True)
        text: str = FullTextField()
        vec: list[float] = embed_fn.VectorField(source_field="text")

    table = client.create_table(schema=Note)
    texts = ["green tea from japan", "black coffee beans", "a yoga mat", "tea cups and a teapot"]
    table.bulk_insert([Note(id=i, text=t) for i, t in enumerate(texts, start=1)])
    query = "tea"
    vector = {r["id"]: r["_distance"] for r in table.search(query).limit(2).to_list()}
    words = {
        r["id"]: r["_match_score"] for r in table.search(query, search_type="fulltext").limit(2).to_list()
    }
    rows = (
        table.search(query, search_type="hybrid")
        .fusion("weighted", vs_weight=0.3, fts_weight=0.7)
        .limit(2)
        .to_list()
    )
    expected = {
        key: 0.3 * (1 - vector[key] / 2 if key in vector else 0)
        + 0.7 * (relevance(words[key]) if key in words else 0)
        for key in vector.keys() | words.keys()
    }
    best = sorted(expected, key=lambda key: -expected[key])[:2]
    assert [r["id"] for r in rows] == best
    for row in rows:
        assert row["_score"] == pytest.approx(expected[row["id"]])
        assert row["_distance"] == vector.get(row["id"]) and row["_match_score"] == words.get(row["id"])
        assert list(row)[-4:] == ["_distance", "_relevance", "_match_score", "_score"]
    # each ranking brings `limit` rows, as in pytidb
    (top_vector,) = table.search(query).limit(1).to_list()
    (top_words,) = table.search(query, search_type="fulltext").limit(1).to_list()
    parts = {top_vector["id"]: 0.5 * (1 - top_vector["_distance"] / 2)}
    parts[top_words["id"]] = parts.get(top_words["id"], 0) + 0.5 * relevance(top_words["_match_score"])
    (hit,) = table.search(query, search_type="hybrid").fusion("weighted").limit(1).to_pydantic()
    assert (hit.id, hit.score) == (max(parts, key=parts.get), pytest.approx(max(parts.values())))
    # distance bounds narrow the vector ranking only, as in pytidb: the words still rank
    narrowed = table.search(query, search_type="hybrid").distance_threshold(1e-6).fusion("weighted").limit(2)
    assert [(r["id"], r["_distance"], r["_score"]) for r in narrowed.to_list()] == [
        (key, None, pytest.approx(0.5 * relevance(words[key])))
        for key in sorted(words, key=lambda k: -words[k])
    ]
    with pytest.raises(ValueError, match="only supported for hybrid"):
        table.search(query).fusion("weighted")
    with pytest.raises(ValueError, match="Invalid fusion method"):
        table.search(query, search_type="hybrid").fusion("borda")


def test_sqlalchemy_statements_run_through_execute_and_query(client):
    table = client.create_table(schema=Item)
    assert (
        client.execute(sqlalchemy.insert(Item).values(id=1, kind="cup", size=2, meta={"a": 1})).rowcount == 1
    )
    assert client.query(select(Item.kind, Item.size).where(Item.id == 1)).to_list() == [
        {"kind": "cup", "size": 2}
    ]
    assert table.get(1).meta == {"a": 1}
    failed = client.execute(sqlalchemy.insert(Item).values(id=1, kind="again", size=0))
    assert (failed.success, failed.rowcount) == (False, 0) and "statement failed" in failed.message
    with client.session(), pytest.raises(livevec.compat.pytidb.NotSupportedError, match="give SQL text"):
        client.query(select(Item.id))


def test_another_distance_than_the_fields_is_measured_exactly(client):
    class Spot(TableModel):
        __tablename__ = "spots"
        id: int = Field(primary_key=True)
        zone: int
        vec: list[float] | None = VectorField(dimensions=2)  # indexed by COSINE

    table = client.create_table(schema=Spot)
    table.bulk_insert(
        [
            Spot(id=1, zone=1, vec=[3, 0]),
            Spot(id=2, zone=1, vec=[1, 0]),
            Spot(id=3, zone=2, vec=[0, 2]),
            Spot(id=4, zone=1),
        ]
    )
    by_l2 = table.search([0, 0]).distance_metric("L2").limit(5).to_list()
    assert [(r["id"], r["_distance"], r["_score"]) for r in by_l2] == [
        (2, 1.0, 0.0),
        (3, 2.0, -1.0),
        (1, 3.0, -2.0),
    ]
    narrowed = (
        table.search([0, 0]).distance_metric("L2").filter(Spot.zone == 1).distance_threshold(2.5).limit(5)
    )
    assert [r["id"] for r in narrowed.to_list()] == [2]
    ranged = table.search([0, 0]).distance_metric("L2").distance_range(1.5, 3.5).limit(1).to_pydantic()
    assert [(hit.id, hit.distance) for hit in ranged] == [(3, 2.0)]
    with pytest.raises(ValueError, match="COSINE or L2"):
        table.search([0, 0]).distance_metric("L1").limit(1).to_list()
