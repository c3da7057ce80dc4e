"""Every misuse raises a LivevecError subclass naming the field, and writes nothing."""

from __future__ import annotations

import math
import threading
import warnings

import numpy as np
import pydantic
import pytest

import livevec
from livevec import EmbeddingFunction, Field, TableModel
from livevec.embeddings import LocalProvider

from .models import CATALOG, Product, embed

KETTLE = dict(id=9, name="Kettle", description="An electric kettle", category="kitchen", price=30.0)


def unchanged(table):
    return [r["id"] for r in table.query()], table.count()


@pytest.mark.parametrize(
    ("row", "error", "field", "message"),
    [
        ({**KETTLE, "colour": "red"}, livevec.ValidationError, "colour", "unknown field"),
        ({**KETTLE, "price": "cheap"}, livevec.ValidationError, "price", "valid number"),
        ({**KETTLE, "name": 42}, livevec.ValidationError, "name", "valid string"),
        ({**KETTLE, "id": "ten"}, livevec.ValidationError, "id", "valid integer"),  # left out: assigned
        (
            {k: v for k, v in KETTLE.items() if k != "category"},
            livevec.ValidationError,
            "category",
            "required",
        ),
        ({**KETTLE, "id": 1}, livevec.DuplicateKeyError, "id", "already exists"),
        ({**KETTLE, "description": "   "}, livevec.ValidationError, "description", "empty"),
        ({**KETTLE, "description": None}, livevec.ValidationError, "description", "valid string"),
        ({**KETTLE, "description_vec": [0.1] * 10}, livevec.ValidationError, "description_vec", "384"),
        ({**KETTLE, "description_vec": [math.nan] * 384}, livevec.ValidationError, "description_vec", "NaN"),
        (
            {**KETTLE, "description_vec": [0.0] * 384},
            livevec.ValidationError,
            "description_vec",
            "zero vector",
        ),
        ({**KETTLE, "description_vec": ["x"] * 384}, livevec.ValidationError, "description_vec", "numbers"),
    ],
)
def test_bad_rows_are_refused_and_nothing_is_written(products, row, error, field, message):
    before = unchanged(products)
    with pytest.raises(error, match=message) as info:
        products.insert([KETTLE | {"id": 10}, row])
    assert info.value.field == field and field in str(info.value)
    assert unchanged(products) == before


def test_duplicate_key_within_a_batch(products):
    with pytest.raises(livevec.DuplicateKeyError, match="twice") as info:
        products.insert([KETTLE, KETTLE])
    assert info.value.field == "id" and products.count() == 8


def test_not_a_row(products):
    with pytest.raises(livevec.ValidationError, match="row 0 is a str"):
        products.insert(["kettle"])


@pytest.mark.parametrize(
    ("values", "filters", "field", "message"),
    [
        ({"colour": "red"}, {"id": 1}, "colour", "unknown field"),
        ({"price": "cheap"}, {"id": 1}, "price", "valid number"),
        ({"description": ""}, {"id": 1}, "description", "empty"),
        ({"description_vec": [1.0, 2.0]}, {"id": 1}, "description_vec", "384"),
        ({}, {"id": 1}, "values", "non-empty"),
        ({"price": 1.0}, None, "filters", "use {}"),
        ({"price": 1.0}, {"colour": "red"}, "colour", "unknown field"),
        ({"id": 2}, {"id": 1}, "id", "already exists"),
    ],
)
def test_bad_updates_change_nothing(products, values, filters, field, message):
    before = products.query().to_list()
    with pytest.raises(livevec.ValidationError, match=message) as info:
        products.update(values=values, filters=filters)
    assert info.value.field == field
    assert products.query().to_list() == before


@pytest.mark.parametrize(
    ("filters", "field", "message"),
    [
        ({"colour": "red"}, "colour", "unknown field"),
        ({"price": {"$between": [1, 2]}}, "price", "unknown operator"),
        ({"$not": {"price": 1}}, "$not", "unknown operator"),
        ({"price": {"$in": 5}}, "price", "takes a list"),
        ({"price": "cheap"}, "price", "needs a float"),
        ({"category": 3}, "category", "needs a str"),
        ({"$or": {"id": 1}}, "$or", "takes a list"),
        ({"id": 2**63}, "id", "64-bit"),
        ({"id": {"$in": [1, -(2**63) - 1]}}, "id", "64-bit"),
        ({"$or": [{"id": 1}, {"id": {"$gte": 2**64}}]}, "id", "64-bit"),
        ({"price": math.nan}, "price", "not a finite number"),
        ({"price": {"$lt": math.inf}}, "price", "not a finite number"),
        ({"price": {"$gt": float("1e400")}}, "price", "not a finite number"),
        ({"price": {"$gt": -(10**400)}}, "price", "too large for a float"),
        ({"name": "\ud800"}, "name", "lone surrogate"),
        ({"$and": [{"category": {"$nin": ["a\udfffb"]}}]}, "category", "lone surrogate"),
        ({"description_vec": [1.0]}, "description_vec", "cannot filter"),
        (["price"], "filters", "a filter is a dict or a SQL condition"),
        ("colour = 'red'", "colour", "unknown field"),
        ("price = 'cheap'", "price", "needs a float"),
        ("price > 3 and", "filters", "is not a condition"),
        ("lower(name) = 'x'", "filters", "a function call"),
        ("price > 3; DROP TABLE products", "filters", "without ';'"),
    ],
)
def test_bad_filters(products, filters, field, message):
    for call in (
        lambda: products.query(filters=filters),
        lambda: products.delete(filters=filters),
        lambda: products.search("x").filter(filters),
        lambda: products.count(filters),
    ):
        with pytest.raises(livevec.FilterError, match=message) as info:
            call()
        assert info.value.field == field
    assert products.count() == 8


def test_filter_values_are_parameters_not_sql(products):
    assert products.query(filters={"name": "x' OR '1'='1"}).to_list() == []
    assert products.delete(filters={"category": "'; DROP TABLE products; --"}) == 0
    assert products.count() == 8


@pytest.mark.parametrize(
    ("build", "field", "message"),
    [
        (lambda s: s.distance_threshold(-0.1), "distance_threshold", "outside"),
        (lambda s: s.distance_threshold(2.5), "distance_threshold", "outside"),
        (lambda s: s.distance_threshold(math.nan), "distance_threshold", "finite"),
        (lambda s: s.distance_range(0.8, 0.2), "distance_range", "above max"),
        (lambda s: s.limit(0), "limit", "integer from 1"),
        (lambda s: s.limit(2.5), "limit", "integer from 1"),
        (lambda s: s.vector_column("name"), "name", "not a vector field"),
    ],
)
def test_bad_search_parameters(products, build, field, message):
    with pytest.raises(livevec.ValidationError, match=message) as info:
        build(products.search("yoga"))
    assert info.value.field == field


@pytest.mark.parametrize(
    ("query", "message"),
    [("", "empty search text"), ([0.1, 0.2], "384"), ([math.inf] * 384, "NaN or infinity")],
)
def test_bad_search_query(products, query, message):
    with pytest.raises(livevec.ValidationError, match=message) as info:
        products.search(query).to_list()
    assert info.value.field == "query"


def test_missing_tables(db):
    with pytest.raises(livevec.TableNotFoundError, match="nope"):
        db.open_table("nope")
    with pytest.raises(livevec.TableNotFoundError, match="nope"):
        db.drop_table("nope")


def test_bad_schemas(db):
    class NoKey(TableModel):
        __tablename__ = "nokey"
        name: str

    with pytest.raises(livevec.SchemaError, match="primary_key"):
        db.create_table(schema=NoKey)

    class BadSource(TableModel):
        __tablename__ = "badsource"
        id: int = Field(primary_key=True)
        vec: list[float] = embed.VectorField(source_field="missing")

    with pytest.raises(livevec.SchemaError, match="missing"):
        db.create_table(schema=BadSource)

    class NoName(TableModel):
        id: int = Field(primary_key=True)

    with pytest.raises(livevec.SchemaError, match="__tablename__"):
        db.create_table(schema=NoName)
    with pytest.raises(livevec.ValidationError, match="if_exists"):
        db.create_table(schema=Product, if_exists="replace")
    assert db.tables() == []


def test_schema_that_differs_from_the_stored_table(db):
    db.create_table(schema=Product)

    class Other(TableModel):
        __tablename__ = "products"
        id: int = Field(primary_key=True)
        title: str

    with pytest.raises(livevec.SchemaError, match="other columns"):
        db.create_table(schema=Other, if_exists="skip")


def test_unknown_provider_and_bad_model_names():
    with pytest.raises(livevec.EmbeddingError, match="unknown embedding provider 'nope'"):
        EmbeddingFunction("nope/model")
    with pytest.raises(livevec.EmbeddingError, match="provider/model"):
        EmbeddingFunction("all-MiniLM-L6-v2")
    with pytest.raises(livevec.EmbeddingError, match="not found"):
        _ = EmbeddingFunction("local/no-such-model").dimensions


def test_every_error_is_a_livevec_error():
    for name in livevec.__all__:
        obj = getattr(livevec, name)
        if isinstance(obj, type) and issubclass(obj, Warning):
            assert obj is livevec.TruncationWarning and issubclass(obj, UserWarning)
        elif isinstance(obj, type) and issubclass(obj, Exception):
            assert issubclass(obj, livevec.LivevecError)


def test_unchanged_catalog_is_the_reference(products):
    assert [r["name"] for r in products.query()] == [r["name"] for r in CATALOG]


# --- values the backends cannot hold as given --------------------------------------------------

UNSTORABLE = [
    ("id", 2**63, "64-bit"),
    ("id", -(2**63) - 1, "64-bit"),
    pytest.param("id", 10**5000, "64-bit", id="id-10**5000"),  # too long for str(): messages still work
    ("price", math.nan, "not a finite number"),
    ("price", math.inf, "not a finite number"),
    ("price", -math.inf, "not a finite number"),
    ("price", float("1e400"), "not a finite number"),  # Python reads 1e400 as inf
    ("name", "\ud800", "lone surrogate"),
    ("description", "A kettle \udfff", "lone surrogate"),
    ("category", "kitchen\udc80", "lone surrogate"),
]


@pytest.mark.parametrize(("field", "value", "message"), UNSTORABLE)
@pytest.mark.parametrize("write", ["insert", "upsert", "update"])
def test_values_the_backends_cannot_hold_are_refused(products, write, field, value, message):
    before = products.query().to_list()
    with pytest.raises(livevec.ValidationError, match=message) as info:
        if write == "update":
            products.update(values={field: value}, filters={"id": 1})
        else:
            getattr(products, write)([KETTLE | {"id": 10}, KETTLE | {field: value}])
    assert info.value.field == field
    assert products.query().to_list() == before


def test_the_64_bit_bounds_themselves_are_stored(products):
    products.insert([KETTLE | {"id": 2**63 - 1}, KETTLE | {"id": -(2**63), "price": 2**63}])
    assert products.get(2**63 - 1).name == "Kettle"
    assert products.get(-(2**63)).price == float(2**63)
    # a float column compares with integers beyond 64 bits
    assert products.count({"price": {"$lt": 2**64}}) == 10


class Reading(TableModel):
    __tablename__ = "readings"
    id: int = Field(primary_key=True)
    value: float | None = None
    tags: dict | None = None


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("value", math.nan, "not a finite number"),  # SQLite would store it as NULL
        ("value", -math.inf, "not a finite number"),
        ("tags", {"weight": math.nan}, "not a finite number"),
        ("tags", {"names": ["ok", "\ud83d"]}, "lone surrogate"),
        ("tags", {"\udc00": 1}, "lone surrogate"),
    ],
)
def test_nullable_and_json_fields_refuse_them_too(db, field, value, message):
    readings = db.create_table(schema=Reading)
    readings.insert({"id": 1, "value": 1.5, "tags": {"a": 1}})
    for write in (
        lambda: readings.insert({"id": 2, field: value}),
        lambda: readings.upsert({"id": 1, field: value}),
        lambda: readings.update(values={field: value}, filters={"id": 1}),
    ):
        with pytest.raises(livevec.ValidationError, match=message) as info:
            write()
        assert info.value.field == field
    assert readings.query().to_list() == [{"id": 1, "value": 1.5, "tags": {"a": 1}}]


def test_a_json_document_holds_any_integer(db):
    readings = db.create_table(schema=Reading)
    readings.insert({"id": 1, "tags": {"big": 2**70}})
    assert readings.get(1).tags == {"big": 2**70}


@pytest.mark.parametrize(
    ("call", "field", "message"),
    [
        (lambda t: t.query(limit=2**63), "limit", "from 0 to 2"),
        (lambda t: t.query(offset=2**63), "offset", "from 0 to 2"),
        (lambda t: t.query(limit=-1), "limit", "from 0 to 2"),
        (lambda t: t.query(offset=10**5000), "offset", "integer of 16610 bits"),
        (lambda t: t.search("yoga").limit(2**63), "limit", "integer from 1"),
        (lambda t: t.search("yoga").distance_threshold(10**400), "distance_threshold", "finite"),
        (lambda t: t.search("\ud800 yoga").to_list(), "query", "lone surrogate"),
        (lambda t: t.get(2**63), "id", "64-bit"),
    ],
    ids=["limit", "offset", "negative", "huge offset", "search limit", "huge threshold", "query", "get"],
)
def test_limits_offsets_and_queries_beyond_the_backends(products, call, field, message):
    with pytest.raises(livevec.ValidationError, match=message) as info:
        call(products)
    assert info.value.field == field


def test_the_largest_limit_and_offset_run(products):
    assert len(products.query(limit=2**63 - 1)) == 8
    assert products.query(limit=2**63 - 1, offset=2**63 - 1).to_list() == []


# --- empty $and / $or ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("filters", "matches"),
    [
        ({"$or": [{}]}, 8),  # {} matches every row, wherever it is
        ({"$and": [{}]}, 8),
        ({"$and": []}, 8),  # the empty AND is true
        ({"$or": []}, 0),  # the empty OR is false, as $in: [] is
        ({"$or": [{"$and": []}]}, 8),
        ({"$or": [{"$or": []}, {"id": 1}]}, 1),
        ({"$and": [{"$or": []}, {"id": 1}]}, 0),
        ({"$or": [{}, {"id": 1}]}, 8),
        ({"$and": [{"$and": [{}]}, {"category": "beauty"}]}, 2),
    ],
)
def test_empty_and_or_follow_logic(products, filters, matches):
    assert products.count(filters) == matches
    assert len(products.query(filters)) == matches
    assert len(products.search("yoga").filter(filters).to_list()) == matches
    assert products.update(values={"price": 1.0}, filters=filters) == matches
    assert products.delete(filters) == matches
    assert products.count() == 8 - matches


# --- table names ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("_livevec_embeddings", "_livevec"),  # would drop the embedding cache
        ("_LIVEVEC_fts_products", "_livevec"),  # would replace the products' full-text index
        ("_livevec_changes", "_livevec"),
        ("sqlite_master", "sqlite_"),
        ("SQLite_stat1", "sqlite_"),
        ("", "non-empty"),
        ("a\x00b", "NUL"),
        ("caf\udce9", "lone surrogate"),
        (42, "non-empty str"),
    ],
)
def test_table_names_that_are_not_the_users_to_take(db, products, name, message):
    class Note(TableModel):
        __tablename__ = "notes"
        id: int = Field(primary_key=True)

    for create, field in (
        (lambda: db.create_table(schema=Note, name=name, if_exists="overwrite"), "name"),
        (lambda: db.create_table(schema=type("Named", (Note,), {"__tablename__": name})), "__tablename__"),
    ):
        with pytest.raises(livevec.ValidationError, match=message) as info:
            create()
        assert info.value.field == field
    assert db.tables() == ["products"] and products.count() == 8
    assert products.search("coffee").limit(1).to_list()[0]["id"] == 5


def test_a_column_name_sql_cannot_name(db):
    bad = pydantic.create_model(
        "Bad", __base__=TableModel, id=(int, Field(primary_key=True)), **{"a\x00b": (str, ...)}
    )
    bad.__tablename__ = "bad"
    with pytest.raises(livevec.ValidationError, match="column name") as info:
        db.create_table(schema=bad)
    assert info.value.field == "a\x00b" and db.tables() == []


# --- text longer than the model's window -------------------------------------------------------


@pytest.mark.parametrize(
    ("model", "runtime"),
    [("all-MiniLM-L6-v2", "onnx"), ("all-MiniLM-L6-v2-f32", "onnx"), ("all-MiniLM-L6-v2-f32", "torch")],
)
def test_texts_cut_to_the_window_are_announced(model, runtime):
    provider = LocalProvider(model, runtime=runtime)
    with warnings.catch_warnings():
        warnings.simplefilter("error", livevec.TruncationWarning)
        provider.embed(["short", "x " * 254])  # 254 words + 2 special tokens: exactly the window
    with pytest.warns(livevec.TruncationWarning, match=r"2 of 3 texts .* window of 256 tokens"):
        provider.embed(["short", "word " * 300, "x " * 255])


def test_a_long_text_inserted_is_announced(products):
    with pytest.warns(livevec.TruncationWarning, match="1 of 1 texts"):
        products.insert(KETTLE | {"description": "A kettle. " * 200})
    assert products.count() == 9


# --- update decides what to embed inside its transaction ----------------------------------------


def test_update_decides_to_embed_in_the_same_transaction_as_its_writes(products, db_path, monkeypatch):
    """Row 1 already has text X: updating it to X embeds nothing. A writer that sets text Y (with Y's
    vector) between that decision and the write must wait for it, or row 1 ends with text X and the
    vector of Y."""
    x, y = CATALOG[0]["description"], "A folding bicycle for the city"
    y_vec = embed.embed_documents([y])[0]
    other = livevec.connect(db_path)
    table = other.open_table("products")
    writer = threading.Thread(
        target=lambda: table.update(values={"description": y, "description_vec": y_vec}, filters={"id": 1})
    )
    select = products.backend.select  # how update finds the rows whose text changes

    def select_then_let_the_writer_in(*args, **kwargs):
        found = select(*args, **kwargs)
        if writer.ident is None:  # the first read only
            writer.start()
            writer.join(0.5)  # long enough for a writer that need not wait for us
        return found

    monkeypatch.setattr(products.backend, "select", select_then_let_the_writer_in)
    products.update(values={"description": x}, filters={"id": 1})
    writer.join()
    other.close()
    row = products.get(1)
    assert row.description == y  # the writer waited for our transaction, then wrote
    np.testing.assert_allclose(row.description_vec, y_vec, rtol=1e-5, atol=1e-6)
