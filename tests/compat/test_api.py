"""pytidb's semantics where they differ from livevec's, and what only TiDB does raising clearly."""

from __future__ import annotations

import numpy as np
import pytest

import livevec
from livevec.compat.pytidb import NotSupportedError, TiDBClient
from livevec.compat.pytidb import embeddings as compat_embeddings
from livevec.compat.pytidb.datatype import BLOB, JSON, TEXT, VARCHAR, VECTOR
from livevec.compat.pytidb.embeddings import EmbeddingFunction
from livevec.compat.pytidb.rerankers import Reranker
from livevec.compat.pytidb.schema import Field, FullTextField, TableModel, TiFlashReplica, VectorField

embed_fn = EmbeddingFunction("local/all-MiniLM-L6-v2")


def test_table_names_default_as_sqlmodel_names_them():
    class ProductReview(TableModel, table=True):
        id: int = Field(primary_key=True)

    class Named(TableModel):
        __tablename__ = "named_here"
        id: int = Field(primary_key=True)

    assert (ProductReview.__tablename__, Named.__tablename__) == ("productreview", "named_here")


def test_sa_type_must_agree_with_the_annotation():
    class Doc(TableModel):
        id: int = Field(primary_key=True)
        title: str = Field(sa_type=VARCHAR(255))
        meta: dict | None = Field(sa_type=JSON, default=None)

    assert Doc(title="x").meta is None
    with pytest.raises(livevec.SchemaError, match="sa_type=TEXT stores str, the field is annotated int"):

        class Wrong(TableModel):
            id: int = Field(primary_key=True)
            count: int = Field(sa_type=TEXT)

    for bad, message in ((BLOB, "binary"), (VECTOR, "give its dimensions"), ("TEXT", "datatype")):
        with pytest.raises(livevec.SchemaError, match=message):
            Field(sa_type=bad)
    with pytest.raises(livevec.SchemaError, match="unique= is an SQLAlchemy column option"):
        Field(unique=True)


def test_create_open_and_drop_with_pytidbs_options(client):
    class Note(TableModel):
        __tablename__ = "notes"
        id: int = Field(primary_key=True)
        text: str = FullTextField()

    assert client.open_table("notes") is None and client.open_table(Note) is None
    table = client.create_table(schema=Note)
    table.insert(Note(text="hello"))
    with pytest.raises(livevec.TableExistsError):
        client.create_table(schema=Note, if_exists="raise")
    assert client.create_table(schema=Note, if_exists="skip").rows() == 1
    with pytest.raises(livevec.ValidationError) as info:
        client.create_table(schema=Note, if_exists="fail")
    assert info.value.field == "if_exists"

    assert client.open_table("notes").table_model is Note  # the class declared in this process
    assert client.open_table(Note).get(1) == Note(id=1, text="hello")
    assert client.list_tables() == ["notes"] and client.has_table("notes")

    class Notebook(TableModel):  # declared later for the same table, with other fields
        __tablename__ = "notes"
        id: int = Field(primary_key=True)
        title: str

    assert client.open_table("notes").table_model.__name__ == "Notes"  # made from the table itself
    with pytest.raises(livevec.SchemaError, match="other columns"):
        client.open_table(Notebook)

    client.drop_table("notes")
    client.drop_table("notes", if_not_exists="skip")
    with pytest.raises(livevec.TableNotFoundError):
        client.drop_table("notes")


def test_update_and_delete_without_filters_touch_every_row(client):
    class Row(TableModel):
        __tablename__ = "rows"
        id: int = Field(primary_key=True)
        n: int = 0

    table = client.create_table(schema=Row)
    table.bulk_insert([Row(), Row(), Row()])
    assert table.update({"n": 7}) == 3
    assert [r["n"] for r in table.query(order_by={"id": "desc"}, limit=2, offset=1).to_list()] == [7, 7]
    assert table.save(Row(id=2, n=1)).n == 1 and table.get(2).n == 1
    with pytest.raises(livevec.ValidationError, match="bulk_insert"):
        table.insert([Row()])
    assert table.delete() == 3 and table.rows() == 0


def test_embedding_function_names_keys_and_dimensions(client, monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.setattr(compat_embeddings, "provider_api_keys", {})
    assert client.configure_embedding_provider("openai", api_key="sk-test").success
    openai = EmbeddingFunction(model_name="text-embedding-3-small")
    assert (openai.model_name, openai.dimensions, openai.use_server) == (
        "openai/text-embedding-3-small",
        1536,
        False,
    )
    assert openai.provider.api_key == "sk-test"
    assert "api_key" not in openai.stored_options()  # never written into the database
    assert EmbeddingFunction("openai/text-embedding-3-small", dimensions=256).dimensions == 256

    local = EmbeddingFunction("local/all-MiniLM-L6-v2", dimensions=384)
    assert len(local.get_query_embedding("yoga")) == 384
    assert len(local.get_source_embeddings(["yoga", "tea"])) == 2
    with pytest.raises(livevec.EmbeddingError, match="384-d vectors, not 512"):
        EmbeddingFunction("local/all-MiniLM-L6-v2", dimensions=512)


def test_what_only_tidb_does_raises_and_says_what_to_do(client, tmp_path):
    expected = [
        (lambda: TiDBClient.connect(host="gateway01.tidbcloud.com", port=4000), "livevec URL"),
        (lambda: TiDBClient.connect("mysql+pymysql://root@localhost:4000/test"), "postgresql://"),
        (lambda: EmbeddingFunction("openai/text-embedding-3-small", use_server=True), "leave use_server out"),
        (lambda: client.configure_embedding_provider("jina_ai", api_key="k"), "openai/ model"),
        (lambda: EmbeddingFunction(model_name="jina_ai/jina-embeddings-v3"), "no jina_ai provider"),
        (lambda: EmbeddingFunction("cohere/embed-english-v3.0", api_key="k"), "openai/ model"),
        (lambda: TiFlashReplica(object(), replica_count=1), "columnar replica"),
        (lambda: Reranker(model_name="jina_ai/jina-reranker-m0"), "hybrid"),
        (lambda: FullTextField(fts_parser="STANDARD"), "one tokenizer"),
        (lambda: client.session(provided_session=object()).__enter__(), r"client.session\(\) alone"),
    ]
    for call, advice in expected:
        with pytest.raises(NotSupportedError, match=advice):
            call()
    assert issubclass(NotSupportedError, livevec.LivevecError)

    with pytest.raises(livevec.ValidationError) as info:
        TiDBClient.connect(str(tmp_path / "x.db"), pool_recycle=300)
    assert info.value.field == "pool_recycle"
    with pytest.raises(livevec.SchemaError, match="COSINE or L2"):
        VectorField(dimensions=3, distance_metric="L1")
    with pytest.raises(livevec.EmbeddingError, match="text only"):
        EmbeddingFunction("local/all-MiniLM-L6-v2", multimodal=True)


def test_search_verbs_and_their_limits(client):
    class Doc(TableModel):
        __tablename__ = "docs"
        id: int = Field(primary_key=True)
        text: str = FullTextField()
        text_vec: list[float] = embed_fn.VectorField(source_field="text", distance_metric="L2")

    table = client.create_table(schema=Doc)
    table.bulk_insert([Doc(text="green tea"), Doc(text="black coffee"), Doc(text="a yoga mat")])
    search = table.search().text("tea").distance_metric("L2").limit(1)
    assert search.to_list()[0]["text"] == "green tea"
    assert [r["id"] for r in search.distance_range(0, 2).filter({"id": {"$gt": 1}}).to_list()] == [2]
    # another distance than the field's: measured exactly, as pytidb's SQL does without a fitting index
    (by_cosine,) = search.distance_metric("cosine").to_list()
    vectors = [by_cosine["text_vec"], embed_fn.embed_query("tea")]
    cosine = 1 - np.dot(*vectors) / (np.linalg.norm(vectors[0]) * np.linalg.norm(vectors[1]))
    assert (by_cosine["text"], by_cosine["_distance"]) == ("green tea", pytest.approx(cosine, abs=1e-5))
    with pytest.raises(livevec.ValidationError, match="cannot measure COSINE") as info:
        table.search("tea", search_type="hybrid").distance_metric("cosine").limit(1).to_list()
    assert info.value.field == "distance_metric"
    with pytest.raises(NotSupportedError, match="fusion"):
        search.rerank(object())
    with pytest.raises(livevec.ValidationError, match="nothing to search for"):
        table.search().limit(1).to_list()
    with pytest.raises(livevec.ValidationError, match="text only"):
        table.search({"query": "tea", "query_vector": [0.0] * 384}, search_type="hybrid").limit(1).to_list()


def test_json_columns_as_pytidb_declares_them_filter_by_path(client):
    from typing import Any

    from livevec.compat.pytidb.schema import Column

    class ChunkWithMeta(TableModel):
        __tablename__ = "chunks_with_meta"
        id: int = Field(primary_key=True)
        text: str = Field(max_length=20)
        meta: dict[str, Any] = Field(sa_column=Column(JSON))
        tags: list[str] | None = Field(sa_column=Column(JSON()), default=None)

    table = client.create_table(schema=ChunkWithMeta)
    table.bulk_insert(
        [
            ChunkWithMeta(id=1, text="a", meta={"owner_id": 1, "f": {"g": "x"}}, tags=["red"]),
            ChunkWithMeta(id=2, text="b", meta={"owner_id": 2}),
            ChunkWithMeta(id=3, text="c", meta={}),
        ]
    )
    assert [r.meta for r in table.query(filters={"meta.owner_id": 1}).to_pydantic()] == [
        {"owner_id": 1, "f": {"g": "x"}}
    ]
    assert table.get(1).tags == ["red"]
    assert [r.id for r in table.query(filters={"meta.owner_id": {"$ne": 1}}).to_pydantic()] == [2, 3]
    assert [r.id for r in table.query(filters={"meta.f.g": {"$in": ["x", "y"]}}).to_pydantic()] == [1]
    with pytest.raises(livevec.FilterError, match="'text' is a str field") as info:
        table.query(filters={"text.f": 1})
    assert info.value.field == "text.f"


def test_sa_column_gives_its_type():
    from livevec.compat.pytidb.schema import Column

    with pytest.raises(livevec.SchemaError, match="sa_type=JSON stores json, the field is annotated str"):

        class Wrong(TableModel):
            id: int = Field(primary_key=True)
            name: str = Field(sa_column=Column(JSON))

    with pytest.raises(livevec.SchemaError, match="reads only a column's type"):
        Field(sa_column=Column("JSON"))
    with pytest.raises(livevec.SchemaError, match="not both"):
        Field(sa_type=JSON, sa_column=Column(JSON))


def test_sqlalchemys_json_columns_are_json_fields(client):
    sqlalchemy = pytest.importorskip("sqlalchemy")

    class Tagged(TableModel):
        __tablename__ = "tagged"
        id: int = Field(primary_key=True)
        meta: dict = Field(sa_column=sqlalchemy.Column(sqlalchemy.JSON))

    table = client.create_table(schema=Tagged)
    table.insert(Tagged(id=1, meta={"a": [1]}))
    assert table.query(filters={"meta.a": {"$ne": 1}}).to_list() == [{"id": 1, "meta": {"a": [1]}}]
    with pytest.raises(livevec.SchemaError, match="reads only a column's type"):
        Field(sa_column=sqlalchemy.Column(sqlalchemy.Integer))


def test_sql_string_filters_as_pytidb_users_write_them(client):
    from typing import Any

    from livevec.compat.pytidb.schema import Column

    class Chunk(TableModel):
        __tablename__ = "chunks"
        id: int = Field(primary_key=True)
        text: str = FullTextField()
        text_vec: list[float] = embed_fn.VectorField(source_field="text")
        user_id: int
        meta: dict[str, Any] | None = Field(sa_column=Column(JSON), default=None)

    table = client.create_table(schema=Chunk)
    table.bulk_insert(
        [
            Chunk(id=1, text="green tea", user_id=1, meta={"owner_id": 1}),
            Chunk(id=2, text="black tea", user_id=2, meta={"owner_id": 2}),
            Chunk(id=3, text="a yoga mat", user_id=3),
        ]
    )
    assert [r.id for r in table.query(filters="user_id in (1, 2)").to_pydantic()] == [1, 2]
    assert [r["id"] for r in table.query(filters="meta.owner_id = 2").to_list()] == [2]
    for path in ("json_extract(meta, '$.owner_id')", "meta->'$.owner_id'", "meta->>'$.owner_id'"):
        assert [r["id"] for r in table.query(filters=f"{path} = 2").to_list()] == [2], path
    found = table.search("tea").filter("user_id != 1 and text like 'black%'").limit(3).to_list()
    assert [r["id"] for r in found] == [2]
    found = table.search("tea", search_type="fulltext").filter("meta.owner_id in (1, 2)").limit(3).to_list()
    assert sorted(r["id"] for r in found) == [1, 2]
    assert table.update({"user_id": 9}, filters="meta is null") == 1
    assert table.delete(filters="user_id = 9 or id = 1") == 2
    assert [r.id for r in table.query().to_pydantic()] == [2]
    with pytest.raises(livevec.FilterError, match="a function call"):
        table.query(filters="lower(text) = 'black tea'")
