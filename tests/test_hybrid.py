"""Full-text (FTS5/BM25) and hybrid search: the index follows every write, fusion ranks as specified."""

from __future__ import annotations

import sqlite3
from typing import ClassVar

import numpy as np
import psycopg
import pytest

import livevec
from livevec import EmbeddingFunction, EmbeddingProvider, Field, TableModel, register_provider

from .models import CATALOG, Product, embed


class Item(TableModel):
    __tablename__ = "items"
    id: int = Field(primary_key=True)
    name: str = Field(fulltext=True)
    description: str = Field(fulltext=True)
    description_vec: list[float] = embed.VectorField(source_field="description")
    category: str
    price: float


ITEMS = [{k: row[k] for k in ("id", "name", "description", "category", "price")} for row in CATALOG]


@pytest.fixture
def items(db):
    table = db.create_table(schema=Item)
    table.insert(ITEMS)
    return table


def words(table, text, **options):
    """Keys of a full-text search, best first."""
    search = table.search(text, search_type="fulltext").limit(options.pop("limit", 10))
    return [r["id"] for r in search.to_list()]


def on_postgres(db_path) -> bool:
    return str(db_path).startswith("postgresql://")


def check_index(db_path, table="items"):
    """The index holds exactly the table's current text: FTS5's own check, or on PostgreSQL each
    row's stored words against its text now."""
    if on_postgres(db_path):
        words_now = "to_tsvector('_livevec_text', _livevec_fold(name || ' ' || description))"
        with psycopg.connect(db_path) as conn:
            stale = conn.execute(f"SELECT count(*) FROM {table} WHERE _livevec_text <> {words_now}")
            assert stale.fetchone()[0] == 0
        return
    with sqlite3.connect(db_path) as conn:
        fts = f"_livevec_fts_{table}"
        conn.execute(f"INSERT INTO {fts} ({fts}, rank) VALUES ('integrity-check', 1)")


def relations(db_path, like):
    """Names of the store's tables, indexes, triggers... that contain `like`."""
    if on_postgres(db_path):
        with psycopg.connect(db_path) as conn:
            return conn.execute(
                "SELECT relname FROM pg_class WHERE relnamespace = current_schema()::regnamespace "
                "AND relname LIKE %s",
                (f"%{like}%",),
            ).fetchall()
    with sqlite3.connect(db_path) as conn:
        return conn.execute("SELECT name FROM sqlite_master WHERE name LIKE ?", (f"%{like}%",)).fetchall()


# --- the index follows every write --------------------------------------------------------------


def test_fulltext_finds_words_in_any_fulltext_field(items, db_path):
    assert words(items, "espresso") == [5]  # in the name and the description
    assert words(items, "pilates") == [1]  # description only
    assert words(items, "racket") == [7]
    assert words(items, "sports") == []  # category is not a full-text field
    assert set(words(items, "shoes cream")) == {3, 8}  # any word matches
    assert words(items, "shoe") == [3]  # stemmed: "shoe" finds "shoes"
    check_index(db_path)


def test_insert_update_delete_and_upsert_keep_the_index_in_step(items, db_path):
    items.insert(dict(id=9, name="Kettle", description="An electric kettle", category="kitchen", price=30.0))
    assert words(items, "kettle") == [9]
    items.update(values={"description": "A cast iron teapot"}, filters={"id": 9})
    assert words(items, "electric") == []
    assert words(items, "teapot") == [9]
    assert words(items, "kettle") == [9]  # still in the name
    items.update(values={"price": 35.0}, filters={"id": 9})  # no text changed
    assert words(items, "teapot") == [9]
    items.upsert(dict(id=9, name="Teapot", description="A glass teapot", category="kitchen", price=20.0))
    assert words(items, "kettle") == [] and words(items, "glass") == [9]
    items.upsert(dict(id=10, name="Whisk", description="A steel whisk", category="kitchen", price=5.0))
    assert words(items, "whisk") == [10]
    items.delete(filters={"id": {"$in": [9, 10]}})
    assert words(items, "teapot") == [] and words(items, "whisk") == []
    check_index(db_path)


def test_a_changed_integer_key_moves_the_row_in_the_index(items, db_path):
    items.update(values={"id": 42}, filters={"id": 7})
    assert words(items, "racket") == [42]
    check_index(db_path)


def test_a_rolled_back_write_leaves_the_index_untouched(db, items, db_path):
    with pytest.raises(RuntimeError), db.transaction():
        items.insert(
            dict(id=9, name="Kettle", description="An electric kettle", category="kitchen", price=30.0)
        )
        items.update(values={"description": "A grey cotton hoodie"}, filters={"id": 7})
        items.delete(filters={"id": 5})
        assert words(items, "kettle") == [9]  # seen inside the transaction
        raise RuntimeError("abort")
    assert words(items, "kettle") == [] and words(items, "hoodie") == []
    assert words(items, "racket") == [7] and words(items, "espresso") == [5]
    check_index(db_path)


def test_another_connection_sees_the_index(items, db_path):
    with livevec.connect(db_path) as other:
        table = other.open_table("items")
        table.insert(
            dict(id=9, name="Kettle", description="An electric kettle", category="kitchen", price=30.0)
        )
    assert words(items, "kettle") == [9]


def test_drop_table_drops_its_index(db, items, db_path):
    assert relations(db_path, "items")
    db.drop_table("items")
    assert relations(db_path, "items") == []
    table = db.create_table(schema=Item)
    assert words(table, "espresso") == []
    table.insert(ITEMS[:2])
    assert words(table, "football") == [2]


@pytest.mark.backends("sqlite")  # files written by livevec 0.1.0; PostgreSQL came with full-text search
def test_a_file_made_before_fulltext_search_gets_its_index_on_first_use(items, db_path):
    with sqlite3.connect(db_path) as conn:  # what a file written by livevec 0.1.0 looks like
        for (trigger,) in conn.execute(
            "SELECT name FROM sqlite_master WHERE name LIKE '%_fts_%' AND type = 'trigger'"
        ):
            conn.execute(f'DROP TRIGGER "{trigger}"')
        conn.execute("DROP TABLE _livevec_fts_items")
    with livevec.connect(db_path) as db:
        table = db.open_table("items")
        assert words(table, "racket") == [7]
        table.insert(
            dict(id=9, name="Kettle", description="An electric kettle", category="kitchen", price=30.0)
        )
        assert words(table, "kettle") == [9]
    check_index(db_path)


# --- user text is words, never query syntax ------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        '"unbalanced',
        "yoga AND",
        "NOT yoga",
        "yoga OR",
        "NEAR(yoga mat",
        "yo*",
        "^yoga",
        "name:yoga",
        "(yoga",
        "- + {}",
    ],
)
def test_any_text_is_a_valid_fulltext_query(items, text):
    found = words(items, text)
    assert found == ([1] if "yoga" in text else [])  # "yo*" is the word "yo": no prefix search


def test_operators_are_plain_words(items):
    items.insert(dict(id=9, name="Not a mat", description="Near the door", category="home", price=5.0))
    assert words(items, "not") == [9]
    assert words(items, "near") == [9]


def test_text_without_words_finds_nothing(items):
    assert items.search("!!! ???", search_type="fulltext").to_list() == []
    assert [r["id"] for r in items.search("!!! ???", search_type="hybrid").limit(3).to_list()] != []


# --- results, filters, limit, bounds -------------------------------------------------------------


def test_fulltext_results_carry_their_bm25_score(items):
    rows = items.search("mat yoga", search_type="fulltext").to_list()
    assert [r["id"] for r in rows] == [1]
    row = rows[0]
    assert row["_distance"] is None and row["_match_score"] > 0 and row["_score"] == row["_match_score"]
    assert row["_relevance"] is None  # no distance, no relevance
    frame = items.search("training", search_type="fulltext").to_pandas()
    assert list(frame.columns[-4:]) == ["_distance", "_relevance", "_match_score", "_score"]
    assert set(frame["id"]) == {3, 6}
    assert frame["_score"].is_monotonic_decreasing
    hits = items.search("training", search_type="fulltext").to_pydantic()
    assert isinstance(hits[0].hit, Item) and hits[0].match_score == hits[0].score and hits[0].distance is None


def test_more_occurrences_rank_higher(db):
    table = db.create_table(schema=Item)
    rows = [
        (1, "Kettle", "A kettle"),
        (2, "Teapot", "A teapot for green tea, black tea and herbal tea"),
        (3, "Cup", "A cup for tea"),
        (4, "Mug", "A mug for coffee"),
        (5, "Jar", "A jar for sugar"),
        (6, "Spoon", "A spoon"),
    ]
    table.insert([dict(id=i, name=n, description=d, category="kitchen", price=1.0) for i, n, d in rows])
    assert words(table, "tea") == [2, 3]


@pytest.mark.parametrize("search_type", ["fulltext", "hybrid"])
def test_filters_and_limit_apply(items, search_type):
    search = items.search("training shoes mat", search_type=search_type)
    everything = {r["id"] for r in search.limit(20).to_list()}
    assert {1, 3, 6} <= everything
    rows = search.filter({"price": {"$lt": 70}, "category": "fitness"}).limit(20).to_list()
    assert rows and all(r["price"] < 70 and r["category"] == "fitness" for r in rows)
    assert 3 not in {r["id"] for r in rows}  # the best match for "shoes", filtered out
    assert len(search.limit(2).to_list()) == 2


def test_distance_bounds_apply_to_fulltext_results(items):
    words_only = items.search("training", search_type="fulltext").to_list()
    assert {r["id"] for r in words_only} == {3, 6}
    vector = {r["id"]: r["_distance"] for r in items.search("training").limit(8).to_list()}
    bound = (vector[3] + vector[6]) / 2
    near = items.search("training", search_type="fulltext").distance_threshold(bound).to_list()
    assert [r["id"] for r in near] == [min((3, 6), key=vector.get)]
    assert near[0]["_distance"] == pytest.approx(min(vector[3], vector[6]), abs=1e-6)
    # a bound that skips the best full-text rows still fills the limit from further down
    far = items.search("training", search_type="fulltext").distance_range(bound, 2.0).limit(1).to_list()
    assert [r["id"] for r in far] == [max((3, 6), key=vector.get)]


def test_distance_bounds_apply_to_every_hybrid_row(items):
    rows = items.search("training shoes", search_type="hybrid").to_list()
    assert len(rows) == len(ITEMS)  # every row is a candidate of one ranking or the other
    assert all(r["_distance"] is not None for r in rows)
    bounded = items.search("training shoes", search_type="hybrid").distance_threshold(0.8).to_list()
    assert bounded and all(r["_distance"] <= 0.8 for r in bounded)
    assert {r["id"] for r in bounded} == {r["id"] for r in rows if r["_distance"] <= 0.8}


def test_vector_search_is_unchanged(items):
    rows = items.search("coffee").limit(2).to_list()
    assert rows[0]["name"] == "Espresso beans"
    assert "_match_score" not in rows[0] and rows[0]["_score"] == pytest.approx(1 - rows[0]["_distance"])
    assert items.search("coffee", search_type="vector").to_list() == items.search("coffee").to_list()


# --- fusion on a fixed example with known ranks ------------------------------------------------------


QUERY_VECTORS = {"apple": [1.0, 0.0, 0.0, 0.0]}


class FixedVectors(EmbeddingProvider):
    """Vectors looked up in a table: the vector ranking of the fusion example is known exactly."""

    batch_size = 16

    @property
    def dimensions(self) -> int:
        return 4

    def embed(self, texts):
        return [QUERY_VECTORS[t] for t in texts]


register_provider("fixed", FixedVectors)
fixed = EmbeddingFunction("fixed/table")


class Dish(TableModel):
    __tablename__ = "dishes"
    id: str = Field(primary_key=True)
    name: str = Field(fulltext=True)
    vec: list[float] = fixed.VectorField(source_field="name")


# vector ranking for "apple": A B C D E, then the fillers; BM25 ranking: E (three "apple"), C (two), D (one)
DISHES = [
    ("A", "banana smoothie", [1, 0, 0, 0]),
    ("B", "cherry pie", [1, 0.3, 0, 0]),
    ("C", "apple apple cake", [1, 0.6, 0, 0]),
    ("D", "apple crumble with cream and custard", [1, 1, 0, 0]),
    ("E", "apple apple apple", [1, 2, 0, 0]),
    ("F", "plain water", [0, 0, 1, 0]),
    ("G", "green tea", [0, 0, 1, 0]),
    ("H", "lemon sorbet", [0, 0, 1, 0]),
    ("I", "dark chocolate", [0, 0, 1, 0]),
    ("J", "rice pudding", [0, 0, 1, 0]),
]


@pytest.fixture
def dishes(db):
    table = db.create_table(schema=Dish)
    table.insert([dict(id=i, name=n, vec=v) for i, n, v in DISHES])
    return table


def keys(search):
    return [r["id"] for r in search.to_list()]


def test_the_two_rankings_of_the_example(dishes):
    assert keys(dishes.search("apple").limit(5)) == ["A", "B", "C", "D", "E"]
    assert keys(dishes.search("apple", search_type="fulltext")) == ["E", "C", "D"]


def test_rrf_fuses_by_rank(dishes):
    hybrid = dishes.search("apple", search_type="hybrid").limit(5)
    # k=60: C 1/63+1/62, E 1/65+1/61, D 1/64+1/63, A 1/61, B 1/62
    rows = hybrid.to_list()
    assert [r["id"] for r in rows] == ["C", "E", "D", "A", "B"]
    assert rows[0]["_score"] == pytest.approx(1 / 63 + 1 / 62)
    assert rows[3]["_score"] == pytest.approx(1 / 61)
    assert keys(hybrid.fusion("rrf", k=60)) == keys(hybrid)
    # k=1 weighs the top ranks more: E 1/6+1/2, C 1/4+1/3, A 1/2, D 1/5+1/4, B 1/3
    assert keys(hybrid.fusion("rrf", k=1)) == ["E", "C", "A", "D", "B"]
    assert [r["_match_score"] > 0 for r in rows] == [True, True, True, False, False]
    assert [r["_distance"] for r in rows][3] == pytest.approx(0.0, abs=1e-6)


def test_weighted_fusion(dishes):
    hybrid = dishes.search("apple", search_type="hybrid").limit(10)
    assert keys(hybrid.fusion("weighted", vs_weight=1.0, fts_weight=0.0))[:5] == ["A", "B", "C", "D", "E"]
    assert keys(hybrid.fusion("weighted", vs_weight=0.0, fts_weight=1.0))[:4] == ["E", "C", "D", "A"]
    rows = hybrid.fusion("weighted", vs_weight=0.3, fts_weight=0.7).to_list()
    similarity = [-r["_distance"] for r in rows]
    match = [r["_match_score"] for r in rows]

    def scaled(values, v):
        return (v - min(values)) / (max(values) - min(values))

    for row, s, m in zip(rows, similarity, match, strict=True):
        assert row["_score"] == pytest.approx(0.3 * scaled(similarity, s) + 0.7 * scaled(match, m))
    assert [r["_score"] for r in rows] == sorted((r["_score"] for r in rows), reverse=True)


# --- errors ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("build", "field", "message"),
    [
        (lambda t: t.search("yoga", search_type="semantic"), "search_type", "must be one of"),
        (lambda t: t.search([0.1] * 384, search_type="fulltext"), "query", "takes a text"),
        (lambda t: t.search([0.1] * 384, search_type="hybrid"), "query", "takes a text"),
        (lambda t: t.search("yoga").fusion("rrf"), "fusion", "only a hybrid search"),
        (lambda t: t.search("yoga", search_type="fulltext").fusion(), "fusion", "only a hybrid search"),
        (lambda t: t.search("yoga", search_type="hybrid").fusion("max"), "fusion", "'rrf' or 'weighted'"),
        (lambda t: t.search("yoga", search_type="hybrid").fusion("rrf", k=0), "k", "above 0"),
        (lambda t: t.search("yoga", search_type="hybrid").fusion("rrf", vs_weight=0.5), "fusion", "weighted"),
        (lambda t: t.search("yoga", search_type="hybrid").fusion("weighted", k=60), "fusion", "k applies"),
        (
            lambda t: t.search("yoga", search_type="hybrid").fusion("weighted", vs_weight=1.5),
            "vs_weight",
            "at most",
        ),
        (
            lambda t: t.search("yoga", search_type="hybrid").fusion("weighted", vs_weight=0, fts_weight=0),
            "fusion",
            "both be 0",
        ),
        (lambda t: t.search(" ", search_type="fulltext").to_list(), "query", "empty search text"),
    ],
)
def test_bad_hybrid_and_fulltext_searches(items, build, field, message):
    with pytest.raises(livevec.ValidationError, match=message) as info:
        build(items)
    assert info.value.field == field


@pytest.mark.parametrize("search_type", ["fulltext", "hybrid"])
def test_a_table_without_fulltext_fields_says_so(db, search_type):
    table = db.create_table(schema=Product)
    with pytest.raises(livevec.ValidationError, match=r"Field\(fulltext=True\)") as info:
        table.search("yoga", search_type=search_type)
    assert info.value.field == "search_type"


def test_hybrid_needs_a_vector_field_and_fulltext_does_not(db):
    class Note(TableModel):
        __tablename__ = "notes"
        id: int = Field(primary_key=True)
        text: str = Field(fulltext=True)

    notes = db.create_table(schema=Note)
    notes.insert([{"id": 1, "text": "buy milk"}, {"id": 2, "text": "call the plumber"}])
    assert [r["id"] for r in notes.search("milk", search_type="fulltext").to_list()] == [1]
    with pytest.raises(livevec.ValidationError, match="needs a vector field") as info:
        notes.search("milk", search_type="hybrid")
    assert info.value.field == "search_type"
    with pytest.raises(livevec.ValidationError, match="no vector field"):
        notes.search("milk", search_type="fulltext").distance_threshold(0.5)


@pytest.mark.backends("sqlite")  # FTS5 reserves these names; PostgreSQL's text search does not
def test_reserved_fulltext_column_names_are_a_schema_error(db):
    class Ranked(TableModel):
        __tablename__ = "ranked"
        id: int = Field(primary_key=True)
        rank: str = Field(fulltext=True)

    with pytest.raises(livevec.SchemaError, match="rank"):
        db.create_table(schema=Ranked)
    assert db.tables() == []


# --- query-side instructions ------------------------------------------------------------------------


def test_query_and_document_prefixes_are_used_by_table_search(db_path, embedded_texts):
    instructed = EmbeddingFunction(
        "local/all-MiniLM-L6-v2", query_prefix="query: ", document_prefix="passage: "
    )

    class Passage(TableModel):
        __tablename__ = "passages"
        id: int = Field(primary_key=True)
        text: str = Field(fulltext=True)
        vec: list[float] = instructed.VectorField(source_field="text")

    with livevec.connect(db_path) as db:
        table = db.create_table(schema=Passage)
        table.insert([{"id": 1, "text": "a mat for yoga"}, {"id": 2, "text": "espresso beans"}])
        assert embedded_texts == ["passage: a mat for yoga", "passage: espresso beans"]
        assert table.search("coffee", search_type="hybrid").to_list()[0]["id"] == 2
        assert embedded_texts[-1] == "query: coffee"
    with livevec.connect(db_path) as db:  # opened by name: the prefixes come from the stored spec
        table = db.open_table("passages")
        rows = table.search("pilates").to_list()
        assert embedded_texts[-1] == "query: pilates" and rows[0]["id"] == 1
        plain = EmbeddingFunction("local/all-MiniLM-L6-v2")
        expected = 1 - float(
            np.dot(plain.embed_query("query: pilates"), plain.embed_query("passage: a mat for yoga"))
        )
        assert rows[0]["_distance"] == pytest.approx(expected, abs=1e-5)


class QueryAwareVectors(EmbeddingProvider):
    """Like APIs that take an input type: documents and queries go through different calls."""

    batch_size = 16
    calls: ClassVar[list[tuple[str, list[str]]]] = []

    @property
    def dimensions(self) -> int:
        return 2

    def embed(self, texts):
        self.calls.append(("documents", texts))
        return [[1.0, float(len(t))] for t in texts]

    def embed_queries(self, texts):
        self.calls.append(("queries", texts))
        return [[float(len(t)), 1.0] for t in texts]


def test_a_provider_can_embed_queries_its_own_way(db):
    register_provider("queryaware", QueryAwareVectors)
    QueryAwareVectors.calls.clear()  # the test runs once per backend
    aware = EmbeddingFunction("queryaware/v1", query_prefix="q: ")

    class Doc(TableModel):
        __tablename__ = "docs"
        id: int = Field(primary_key=True)
        text: str = Field(fulltext=True)
        vec: list[float] = aware.VectorField(source_field="text")

    table = db.create_table(schema=Doc)
    table.insert([{"id": 1, "text": "ab"}, {"id": 2, "text": "abcd"}])
    rows = table.search("abc", search_type="hybrid").to_list()
    assert QueryAwareVectors.calls == [("documents", ["ab", "abcd"]), ("queries", ["q: abc"])]
    # the query vector is [6, 1]: closer in angle to [1, 2] ("ab") than to [1, 4] ("abcd")
    assert [r["id"] for r in rows] == [1, 2]
