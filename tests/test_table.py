"""Every call of the public Table / Database API, against a real SQLite file and the real model."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import livevec
from livevec import Field, SearchHit, TableModel
from livevec.storage import VectorSearch

from .models import CATALOG, Product, embed


def test_the_readme_example_runs_as_written(db):
    table = db.create_table(schema=Product, if_exists="overwrite")
    table = db.open_table("products")
    table.insert(Product(id=1, name="Yoga mat", description="A mat for yoga", category="fitness", price=20.0))
    table.insert([{**row, "id": row["id"] + 10} for row in CATALOG])
    table.upsert(dict(id=1, name="Yoga mat", description="A mat for yoga", category="fitness", price=19.0))
    assert table.update(values={"price": 18.0}, filters={"id": 1}) == 1
    assert table.update(values={"description": "A thick cork mat for yoga"}, filters={"id": 1}) == 1
    assert table.get(1).price == 18.0
    assert table.count() == 9
    assert {r["id"] for r in table.query(filters={"category": "fitness"}).to_list()} == {1, 11, 16}
    rows = (
        table.search("a user likes sports")
        .filter({"price": {"$lt": 50}, "category": {"$in": ["fitness", "sports"]}})
        .distance_threshold(0.85)
        .limit(5)
        .to_list()
    )
    assert rows and all(r["price"] < 50 and r["category"] in ("fitness", "sports") for r in rows)
    assert all(r["_distance"] <= 0.85 for r in rows)
    frame = table.search(rows[0]["description_vec"]).limit(3).to_pandas()
    assert frame["id"].iloc[0] == rows[0]["id"] and len(frame) == 3
    with db.transaction():
        table.delete(filters={"id": 1})
        table.delete(filters={"id": 11})
    assert table.count() == 7
    assert db.tables() == ["products"]
    db.drop_table("products")
    assert db.tables() == []


def test_insert_returns_models_with_their_vectors(db):
    table = db.create_table(schema=Product)
    one = table.insert(CATALOG[0])
    many = table.insert(CATALOG[1:3])
    assert isinstance(one, Product) and one.id == 1 and len(one.description_vec) == 384
    assert [p.id for p in many] == [2, 3]
    stored = table.get(2)
    assert stored.name == "Football"
    np.testing.assert_allclose(stored.description_vec, many[0].description_vec, rtol=1e-6)


def test_search_ranks_by_meaning(products):
    names = [r["name"] for r in products.search("coffee").limit(2).to_list()]
    assert names[0] == "Espresso beans"
    names = [r["name"] for r in products.search("something to play tennis with").limit(1).to_list()]
    assert names == ["Tennis racket"]


def test_search_results_carry_columns_distance_and_score(products):
    rows = products.search("yoga").limit(8).to_list()
    assert len(rows) == 8
    assert set(rows[0]) == {*Product.model_fields, "_distance", "_relevance", "_score"}
    distances = [r["_distance"] for r in rows]
    assert distances == sorted(distances)
    for r in rows:
        vec = np.array(r["description_vec"])
        query = embed.embed_query("yoga")
        cosine = vec @ query / (np.linalg.norm(vec) * np.linalg.norm(query))
        assert r["_distance"] == pytest.approx(1 - cosine, abs=1e-5)
        assert r["_score"] == pytest.approx(1 - r["_distance"])


def test_select_keeps_only_the_fields_named_in_searches_and_live_results(products):
    every = products.search("yoga").limit(5).to_list()
    chosen = products.search("yoga").limit(5).select("id", "name").to_list()
    assert all(set(row) == {"id", "name", "_distance", "_relevance", "_score"} for row in chosen)
    slim = products.search("yoga").limit(5).select("name", "id", "name").to_list()
    assert [list(row)[:2] for row in slim] == [["name", "id"]] * 5  # in the order named, once each
    assert [(r["id"], r["_distance"]) for r in slim] == [(r["id"], r["_distance"]) for r in every]
    # a live search with and without the vector are two queries, each kept current
    with (
        products.search("yoga").limit(2).select("id").live() as live,
        products.search("yoga").limit(2).live() as full,
    ):
        assert set(live.result[0]) == {"id", "_distance", "_relevance", "_score"}
        assert "description_vec" in full.result[0]
        products.insert(CATALOG[0] | {"id": 999, "name": "Yoga mat deluxe", "description": "A yoga mat"})
        assert 999 in [row["id"] for row in live.wait(timeout=30)]
    assert list(products.search("yoga").limit(2).select("name").to_pandas().columns) == [
        "name",
        "_distance",
        "_relevance",
        "_score",
    ]
    for bad in ((), ("nope",), ("id", 3)):
        with pytest.raises(livevec.ValidationError):
            products.search("yoga").select(*bad)


def test_a_live_search_whose_select_leaves_the_key_out_follows_its_rows(products):
    # it still knows which rows it holds: a write to one of them changes the result
    top = products.search("yoga").limit(2).to_list()
    with products.search("yoga").limit(2).select("name").live() as live:
        assert live.result == [{k: r[k] for k in ("name", "_distance", "_relevance", "_score")} for r in top]
        products.update(values={"name": "Renamed mat"}, filters={"id": top[0]["id"]})
        assert live.wait(timeout=30)[0]["name"] == "Renamed mat"
        products.delete({"id": top[0]["id"]})
        assert "Renamed mat" not in [row["name"] for row in live.wait(timeout=30)]
        assert live.result == products.search("yoga").limit(2).select("name").to_list()


def test_distance_threshold_and_range(products):
    everything = products.search("sport").limit(8).to_list()
    cut = everything[3]["_distance"]
    kept = products.search("sport").distance_threshold(cut).limit(8).to_list()
    assert [r["id"] for r in kept] == [r["id"] for r in everything[:4]]
    lo, hi = everything[2]["_distance"], everything[5]["_distance"]
    middle = products.search("sport").distance_range(lo, hi).limit(8).to_list()
    assert [r["id"] for r in middle] == [r["id"] for r in everything[2:6]]


def test_search_with_filters(products):
    rows = products.search("training").filter({"category": "fitness"}).limit(5).to_list()
    assert {r["id"] for r in rows} == {1, 6}
    rows = (
        products.search("gift").filter({"$or": [{"price": {"$gte": 100}}, {"category": "beauty"}]}).limit(8)
    )
    assert {r["id"] for r in rows.to_list()} == {4, 7, 8}
    assert products.search("gift").filter({"price": {"$gt": 1000}}).to_list() == []


def test_search_builder_is_generative(products):
    base = products.search("sports").limit(3)
    cheap = base.filter({"price": {"$lt": 40}})
    assert len(base.to_list()) == 3
    assert all(r["price"] < 40 for r in cheap.to_list())
    assert len(base.limit(1).to_list()) == 1 and len(base.to_list()) == 3


def test_to_pydantic_gives_models_with_distance(products):
    hits = products.search("coffee").limit(2).to_pydantic()
    assert isinstance(hits[0], SearchHit) and isinstance(hits[0].hit, Product)
    assert hits[0].hit.name == "Espresso beans" and hits[0].score == pytest.approx(1 - hits[0].distance)


def test_search_by_vector_and_ties_by_key(db):
    table = db.create_table(schema=Product)
    vector = [1.0] + [0.0] * 383
    rows = [{**r, "description_vec": vector} for r in CATALOG[:4]]
    table.insert(list(reversed(rows)))
    found = table.search(vector).limit(3).to_list()
    assert [r["id"] for r in found] == [1, 2, 3]
    assert all(r["_distance"] == pytest.approx(0.0, abs=1e-6) for r in found)


def test_query_filters_order_limit_offset_and_frames(products):
    result = products.query(filters={"price": {"$gte": 20, "$lte": 90}}, order_by="-price", limit=3)
    assert [r["id"] for r in result.to_list()] == [3, 6, 2]
    assert [r["id"] for r in products.query(order_by=["category", "-price"], limit=2, offset=1)] == [4, 6]
    assert [p.name for p in products.query(filters={"id": {"$in": [4, 5]}}).to_pydantic()] == [
        "Lipstick",
        "Espresso beans",
    ]
    frame = products.query(filters={"category": {"$nin": ["sports", "beauty"]}}).to_pandas()
    assert isinstance(frame, pd.DataFrame) and sorted(frame["id"]) == [1, 5, 6]
    assert (
        products.query(filters={"$and": [{"category": "sports"}, {"price": {"$ne": 30.0}}]}).to_list()[0][
            "id"
        ]
        == 3
    )
    assert products.count({"category": "sports"}) == 3


def test_get_missing_key_is_none(products):
    assert products.get(999) is None


def test_upsert_inserts_and_replaces(products, embedded_texts):
    products.upsert(
        [
            {**CATALOG[0], "price": 5.0},
            dict(id=9, name="Kettle", description="An electric kettle", category="kitchen", price=30.0),
        ]
    )
    assert products.get(1).price == 5.0 and products.get(9).name == "Kettle"
    assert embedded_texts == ["An electric kettle"]  # the yoga mat's text did not change


def test_update_and_delete_by_filter(products):
    assert products.update(values={"price": 1.0}, filters={"category": "beauty"}) == 2
    assert {r["price"] for r in products.query(filters={"category": "beauty"})} == {1.0}
    assert products.delete(filters={"price": {"$lt": 2}}) == 2
    assert products.count() == 6
    assert products.delete(filters={}) == 6 and products.count() == 0


def test_deleted_and_updated_rows_leave_search_at_once(products):
    assert products.search("coffee").limit(1).to_list()[0]["id"] == 5
    products.delete(filters={"id": 5})
    assert 5 not in [r["id"] for r in products.search("coffee").limit(8).to_list()]
    products.update(values={"description": "Freshly ground coffee for the morning"}, filters={"id": 8})
    assert products.search("coffee").limit(1).to_list()[0]["id"] == 8


def test_table_without_vector_field_is_an_ordinary_table(db):
    class Note(TableModel):
        __tablename__ = "notes"
        key: str = Field(primary_key=True)
        body: str
        stars: int | None = None

    notes = db.create_table(schema=Note)
    notes.insert([Note(key="a", body="hello"), {"key": "b", "body": "bye", "stars": 3}])
    assert notes.get("b").stars == 3 and notes.get("a").stars is None
    assert notes.query(filters={"stars": None}).to_list() == [{"key": "a", "body": "hello", "stars": None}]
    with pytest.raises(livevec.ValidationError, match="no vector field"):
        notes.search("hello").to_list()


def test_several_vector_fields_and_l2(db):
    class Article(TableModel):
        __tablename__ = "articles"
        id: int = Field(primary_key=True)
        title: str
        body: str
        title_vec: list[float] = embed.VectorField(source_field="title", distance="l2")
        body_vec: list[float] = embed.VectorField(source_field="body")

    table = db.create_table(schema=Article)
    table.insert(
        [
            dict(id=1, title="Cooking pasta", body="Boil water, add salt and the spaghetti."),
            dict(id=2, title="Training for a marathon", body="Run long distances slowly every week."),
        ]
    )
    with pytest.raises(livevec.ValidationError, match="several vector fields"):
        table.search("food").to_list()
    by_title = table.search("food", vector_column="title_vec").limit(2).to_list()
    assert by_title[0]["id"] == 1
    query = embed.embed_query("food")
    assert by_title[0]["_distance"] == pytest.approx(
        np.linalg.norm(np.array(by_title[0]["title_vec"]) - query), abs=1e-5
    )
    assert table.search("jogging").vector_column("body_vec").limit(1).to_list()[0]["id"] == 2
    # l2 distances may exceed 2; a cosine threshold may not
    table.search("food", vector_column="title_vec").distance_threshold(5.0).to_list()


def test_rows_that_bring_their_own_vector_are_not_embedded(db, embedded_texts):
    table = db.create_table(schema=Product)
    vector = np.random.default_rng(0).normal(size=384).astype(np.float32)
    table.insert({**CATALOG[0], "description_vec": vector})
    assert embedded_texts == []
    np.testing.assert_allclose(table.get(1).description_vec, vector, rtol=1e-6)
    assert table.search(vector).limit(1).to_list()[0]["_distance"] == pytest.approx(0, abs=1e-6)


def test_integer_key_left_empty_is_assigned(db):
    class Event(TableModel):
        __tablename__ = "events"
        id: int | None = Field(default=None, primary_key=True)
        what: str

    events = db.create_table(schema=Event)
    first, second = events.insert([{"what": "a"}, {"what": "b"}])
    assert (first.id, second.id) == (1, 2)
    assert events.get(2).what == "b"


def test_transaction_commits_all_or_nothing(products):
    with pytest.raises(RuntimeError), products.backend.transaction():
        products.delete(filters={"id": 1})
        products.insert(
            dict(id=20, name="Kettle", description="An electric kettle", category="kitchen", price=30.0)
        )
        raise RuntimeError("boom")
    assert products.count() == 8 and products.get(1) is not None and products.get(20) is None
    # the index saw the rolled-back writes: it must not keep them
    assert 20 not in [r["id"] for r in products.search("kettle").limit(8).to_list()]
    assert 1 in [r["id"] for r in products.search("yoga").limit(8).to_list()]


def test_create_table_if_exists(db):
    db.create_table(schema=Product).insert(CATALOG[:2])
    with pytest.raises(livevec.TableExistsError, match="products"):
        db.create_table(schema=Product)
    assert db.create_table(schema=Product, if_exists="skip").count() == 2
    assert db.create_table(schema=Product, if_exists="overwrite").count() == 0


def test_open_table_without_the_class_rebuilds_the_schema(db_path):
    with livevec.connect(db_path) as db:
        db.create_table(schema=Product).insert(CATALOG)
    with livevec.connect(db_path) as db:
        table = db.open_table("products")
        assert table.model.__name__ != "Product" and set(table.model.model_fields) == set(
            Product.model_fields
        )
        assert table.search("coffee").limit(1).to_pydantic()[0].hit.name == "Espresso beans"
        table.insert(
            dict(id=9, name="Kettle", description="An electric kettle", category="kitchen", price=30.0)
        )
        assert table.get(9).name == "Kettle"
        typed = db.open_table("products", schema=Product)
        assert isinstance(typed.get(9), Product)


def test_tables_whose_names_share_a_prefix_get_objects_of_their_own(db):
    # livevec names a trigger or index after its table (and column): "a" with a column "b_c" and
    # "a_b" with a column "c", or "a"'s full-text triggers and the table "a_fts", must not collide
    def model(table: str, column: str) -> type[TableModel]:
        return type(
            f"M_{table}",
            (TableModel,),
            {
                "__tablename__": table,
                "__annotations__": {"id": int, "text": str, column: int},
                "id": Field(primary_key=True),
                "text": Field(fulltext=True),
                column: Field(index=True),
            },
        )

    tables = {
        name: db.create_table(model(name, column))
        for name, column in (("a", "b_c"), ("a_b", "c"), ("a_fts", "x"), ("a_b_c", "insert"))
    }
    for number, (name, table) in enumerate(tables.items()):
        column = next(c.name for c in table.spec.columns if c.name not in ("id", "text"))
        table.insert([{"id": 1, "text": f"only in {name}", column: number}])
    for number, (name, table) in enumerate(tables.items()):
        column = next(c.name for c in table.spec.columns if c.name not in ("id", "text"))
        assert table.count({column: number}) == 1 and table.count() == 1
        hits = table.search(f"only in {name}", search_type="fulltext").to_list()
        assert [h["text"] for h in hits] == [f"only in {name}"]
    db.drop_table("a")
    assert tables["a_fts"].search("only", search_type="fulltext").to_list()[0]["text"] == "only in a_fts"
    assert sorted(db.tables()) == ["a_b", "a_b_c", "a_fts"]


def test_a_model_class_given_for_a_table_name_is_a_clear_error(db_path):
    with livevec.connect(db_path) as db:
        db.create_table(schema=Product).insert(CATALOG[:1])
        with pytest.raises(livevec.ValidationError, match=r"open_table\('products', schema=Product\)"):
            db.open_table(Product)
        with pytest.raises(livevec.ValidationError, match="expected a table name"):
            db.drop_table(3)
        assert db.open_table("products").count() == 1  # nothing lost


def test_a_search_reads_only_the_selected_fields_into_its_rows(products):
    query = products.embedding_function("description_vec").embed_query("yoga")
    every = products.backend.vector_search(products.spec, VectorSearch("description_vec", query, 4))
    for filters in (None, {"category": "sports"}):
        request = VectorSearch("description_vec", query, 4, filters=filters, columns=("name",))
        slim = products.backend.vector_search(products.spec, request)
        assert slim and all(set(row) == {"id", "name"} for row, _ in slim)  # the key always, no vector
        if filters is None:
            assert [(r["id"], r["name"], d) for r, d in slim] == [(r["id"], r["name"], d) for r, d in every]
