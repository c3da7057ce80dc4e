"""Every misuse raises a LivevecError subclass naming the field, and writes nothing."""

from __future__ import annotations

import math

import pytest

import livevec
from livevec import EmbeddingFunction, Field, TableModel

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
        ({k: v for k, v in KETTLE.items() if k != "id"}, livevec.ValidationError, "id", "required"),
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
        ({"$or": []}, "$or", "non-empty list"),
        ({"description_vec": [1.0]}, "description_vec", "cannot filter"),
        ("price > 3", "filters", "a filter is a dict"),
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
        if isinstance(obj, type) and issubclass(obj, Exception):
            assert issubclass(obj, livevec.LivevecError)


def test_unchanged_catalog_is_the_reference(products):
    assert [r["name"] for r in products.query()] == [r["name"] for r in CATALOG]
