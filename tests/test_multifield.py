"""`VectorField(source_field=[...])`: several text fields embedded together, re-embedded when any of
them changes, with an optional template."""

from __future__ import annotations

import numpy as np
import pytest

import livevec
from livevec import EmbeddingFunction, Field, TableModel
from livevec._schema import TableSpec, VectorSpec

from . import word_vectors

words = EmbeddingFunction("words/1024")


class Item(TableModel):
    __tablename__ = "items"
    id: int = Field(primary_key=True)
    name: str
    category: str | None = None
    description: str
    price: float = 0.0
    vec: list[float] | None = words.VectorField(source_field=["name", "category", "description"])


class Templated(TableModel):
    __tablename__ = "templated"
    id: int = Field(primary_key=True)
    name: str
    description: str
    vec: list[float] | None = words.VectorField(
        source_field=["name", "description"], template="{name}: {description}"
    )


ITEMS = [
    {"id": 1, "name": "Yoga mat", "category": "fitness", "description": "non-slip cork"},
    {"id": 2, "name": "Kettle", "category": None, "description": "boils water fast"},
    {"id": 3, "name": "Football", "category": "sports", "description": "leather ball"},
]


@pytest.fixture
def items(db):
    table = db.create_table(schema=Item)
    table.insert(ITEMS)
    return table


def vector_of(text: str) -> np.ndarray:
    return words.provider.vectors([text])[0]


def assert_embedded(table, key: int, text: str) -> None:
    np.testing.assert_allclose(table.get(key).vec, vector_of(text), atol=1e-6)


def test_the_fields_are_embedded_together_one_per_line_a_missing_one_left_out(items):
    assert_embedded(items, 1, "Yoga mat\nfitness\nnon-slip cork")
    assert_embedded(items, 2, "Kettle\nboils water fast")  # category None: left out
    assert items.search("leather sports").limit(1).to_list()[0]["id"] == 3


def test_a_template_lays_the_fields_out(db):
    table = db.create_table(schema=Templated)
    table.insert({"id": 1, "name": "Kettle", "description": "boils water"})
    assert_embedded(table, 1, "Kettle: boils water")
    assert table.spec.vector("vec").compose({"name": "A", "description": "b"}) == "A: b"


def test_a_change_to_any_source_field_embeds_the_row_again_and_only_then(items):
    word_vectors.CALLS.clear()
    items.update(values={"price": 9.0}, filters={})
    assert word_vectors.CALLS == []
    items.update(values={"category": "kitchen"}, filters={"id": 2})
    assert_embedded(items, 2, "Kettle\nkitchen\nboils water fast")
    assert word_vectors.CALLS == [["Kettle\nkitchen\nboils water fast"]]
    items.update(values={"name": "Kettle"}, filters={"id": 2})  # the same text: nothing to embed
    assert len(word_vectors.CALLS) == 1


def test_one_value_set_on_many_rows_gives_each_row_the_vector_of_its_own_text(items):
    word_vectors.CALLS.clear()
    assert items.update(values={"category": "sale"}, filters={}) == 3
    for item in ITEMS:
        assert_embedded(items, item["id"], f"{item['name']}\nsale\n{item['description']}")
    assert sorted(len(c) for c in word_vectors.CALLS) == [3]  # three distinct texts, one call
    assert items.update(values={"category": "sale", "price": 1.0}, filters={"id": {"$in": [1, 2]}}) == 2
    assert len(word_vectors.CALLS) == 1 and items.get(1).price == 1.0


def test_an_update_that_sets_a_field_to_none_leaves_it_out(items):
    items.update(values={"category": None}, filters={"id": 1})
    assert_embedded(items, 1, "Yoga mat\nnon-slip cork")


def test_upsert_keeps_the_vector_while_the_composed_text_is_the_same(items):
    word_vectors.CALLS.clear()
    items.upsert({**ITEMS[0], "price": 3.0})
    assert word_vectors.CALLS == []
    items.upsert({**ITEMS[0], "category": "yoga"})
    assert word_vectors.CALLS == [["Yoga mat\nyoga\nnon-slip cork"]]


def test_a_text_changed_by_sql_in_any_source_field_is_embedded_again(db, items):
    mark = "?" if isinstance(db.backend, livevec.storage.SQLiteBackend) else "%s"
    db.execute(f"UPDATE items SET category = {mark} WHERE id = 3", ["garden"])
    assert items.search("garden").limit(1).to_list()[0]["id"] == 3
    assert_embedded(items, 3, "Football\ngarden\nleather ball")


def test_a_table_opened_by_name_keeps_its_source_fields(db, items):
    table = db.open_table("items")
    assert table.spec.vector("vec").source_field == ["name", "category", "description"]
    table.insert({"id": 4, "name": "Tent", "category": "camping", "description": "two people", "price": 1.0})
    assert_embedded(table, 4, "Tent\ncamping\ntwo people")


def test_all_fields_blank_is_an_error_naming_a_field(items):
    with pytest.raises(livevec.ValidationError, match="no text to embed") as info:
        items.insert({"id": 9, "name": " ", "category": None, "description": ""})
    assert info.value.field == "name" and items.count() == 3


def test_stored_specs_round_trip_and_old_ones_still_open():
    spec = TableSpec.from_model(Item)
    assert TableSpec.from_json(spec.to_json()) == spec
    old = spec.to_json()
    for vector in old["vectors"]:
        vector.pop("template", None)
        vector["source_field"] = "description"
    old.pop("reembedding", None)
    loaded = TableSpec.from_json(old)
    assert loaded.vector("vec").sources == ["description"] and loaded.vector("vec").template is None


@pytest.mark.parametrize(
    ("source", "template", "message"),
    [
        (["name", "price"], None, "must be str"),
        (["name", "nope"], None, "is not a field"),
        (["name", "name"], None, "twice"),
        ([], None, "a field name or a list"),
        (["name", "description"], "{name}", "each source field"),
        (["name"], "{name} {other}", "of the source fields"),
        (["name"], "{name", "not a format string"),
    ],
)
def test_bad_source_fields_are_schema_errors(source, template, message):
    with pytest.raises(livevec.SchemaError, match=message):

        class Bad(TableModel):
            __tablename__ = "bad"
            id: int = Field(primary_key=True)
            name: str
            description: str
            price: float
            vec: list[float] | None = words.VectorField(source_field=source, template=template)

        TableSpec.from_model(Bad)


def test_compose_skips_blank_parts():
    vector = VectorSpec("v", ["a", "b", "c"], 4, "cosine", "words/4")
    assert vector.compose({"a": "x", "b": "  ", "c": None}) == "x"
    assert vector.compose({"a": None, "b": "", "c": None}) is None
