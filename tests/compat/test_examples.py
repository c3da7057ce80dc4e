"""pytidb's own examples (basic, quickstart, hybrid and full-text search) and its README's session
example, written against pytidb's API, run on livevec with the imports and the URL changed."""

from __future__ import annotations

import pandas
import pydantic
import pytest

import livevec
from livevec.compat.pytidb import SearchResult, TiDBClient
from livevec.compat.pytidb.datatype import JSON, TEXT
from livevec.compat.pytidb.embeddings import EmbeddingFunction
from livevec.compat.pytidb.schema import Field, FullTextField, TableModel, VectorField


def test_basic_crud_with_vectors_the_caller_gives(client):
    class Item(TableModel):
        __tablename__ = "items_in_basic_example"
        id: int = Field(primary_key=True)
        content: str = Field(sa_type=TEXT)
        embedding: list[float] = VectorField(dimensions=3)
        meta: dict = Field(sa_type=JSON, default_factory=dict)

    table = client.create_table(schema=Item, if_exists="overwrite")
    table.truncate()
    table.insert(
        Item(
            id=1,
            content="TiDB is a distributed SQL database",
            embedding=[0.1, 0.2, 0.3],
            meta={"category": "database"},
        )
    )
    table.bulk_insert(
        [
            Item(
                id=2,
                content="GPT-4 is a large language model",
                embedding=[0.4, 0.5, 0.6],
                meta={"category": "llm"},
            ),
            Item(
                id=3,
                content="LlamaIndex is a Python library",
                embedding=[0.7, 0.8, 0.9],
                meta={"category": "rag"},
            ),
        ]
    )
    items = table.query(limit=10).to_pydantic()
    assert [(i.id, i.meta["category"]) for i in items] == [(1, "database"), (2, "llm"), (3, "rag")]
    assert isinstance(items[0], Item)

    table.update(
        values={"content": "TiDB Cloud", "embedding": [0.1, 0.2, 0.4], "meta": {"category": "dbaas"}},
        filters={"id": 1},
    )
    updated = table.query(filters={"id": 1}).to_pydantic()[0]
    assert (updated.content, updated.embedding, updated.meta) == (
        "TiDB Cloud",
        pytest.approx([0.1, 0.2, 0.4]),
        {"category": "dbaas"},
    )

    nearest = table.search([0.4, 0.5, 0.6]).distance_threshold(0.001).limit(3).to_list()
    assert [r["id"] for r in nearest] == [2] and nearest[0]["_distance"] == pytest.approx(0, abs=1e-6)
    bundle = table.search({"query_vector": [0.7, 0.8, 0.9]}).limit(1).to_pydantic(with_score=False)
    assert [i.id for i in bundle] == [3]
    with pytest.raises(livevec.ValidationError, match="search it with a vector"):
        table.search("a text").limit(1).to_list()

    table.delete(filters={"id": 2})
    assert [i.id for i in table.query(limit=10).to_pydantic()] == [1, 3]
    assert table.rows() == 2
    assert [(c.column_name, c.column_type) for c in table.columns()] == [
        ("id", "BIGINT"),
        ("content", "TEXT"),
        ("embedding", "VECTOR(3)"),
        ("meta", "JSON"),
    ]

    # another process opens it by name: the caller-given vector field needs no model
    reopened = TiDBClient.connect(client.database.backend.url).open_table("items_in_basic_example")
    assert [r["id"] for r in reopened.search([0.7, 0.8, 0.9]).limit(1).to_list()] == [3]
    reopened.client.disconnect()

    client.drop_table("items_in_basic_example")
    assert not client.has_table("items_in_basic_example")


def test_quickstart_auto_embedding_and_auto_ids(client):
    text_embed = EmbeddingFunction(model_name="local/all-MiniLM-L6-v2")

    class Chunk(TableModel, table=True):
        __tablename__ = "chunks"
        id: int = Field(primary_key=True)
        text: str = Field()
        text_vec: list[float] = text_embed.VectorField(source_field="text")
        user_id: int = Field()

    table = client.create_table(schema=Chunk, if_exists="overwrite")
    table.truncate()
    inserted = table.bulk_insert(
        [
            Chunk(text="PyTiDB is a Python library for developers to connect to TiDB.", user_id=2),
            Chunk(text="LlamaIndex is a framework for building AI applications.", user_id=2),
            Chunk(
                text="OpenAI is a company and platform that provides AI models service and tools.", user_id=3
            ),
        ]
    )
    assert [c.id for c in inserted] == [1, 2, 3] and all(len(c.text_vec) == 384 for c in inserted)
    assert [r.user_id for r in table.query(limit=3).to_pydantic()] == [2, 2, 3]
    results = table.search("A library for my artificial intelligence software").limit(3).to_list()
    assert len(results) == 3 and {"id", "text", "user_id", "_distance", "_score"} <= set(results[0])
    filtered = table.search("AI software").filter({"user_id": 3}).limit(3).to_list()
    assert [r["id"] for r in filtered] == [3]
    table.delete({"id": 1})
    assert table.get(1) is None and table.rows() == 2
    client.drop_table("chunks")
    assert client.list_tables() == []


def test_fulltext_and_hybrid_search(client):
    embed_fn = EmbeddingFunction("local/all-MiniLM-L6-v2")

    class Chunk(TableModel, table=True):
        __tablename__ = "chunks"
        id: int = Field(primary_key=True)
        text: str = FullTextField()
        text_vec: list[float] = embed_fn.VectorField(source_field="text")

    table = client.create_table(schema=Chunk, if_exists="overwrite")
    table.bulk_insert(
        [
            Chunk(text="TiDB is a distributed database that supports OLTP, OLAP, HTAP and AI workloads."),
            Chunk(text="PyTiDB is a Python library for developers to connect to TiDB."),
            Chunk(text="LlamaIndex is a Python library for building AI-powered applications."),
        ]
    )
    words = table.search("Python library", search_type="fulltext").limit(2).to_pydantic()
    assert {r.id for r in words} == {2, 3} and all(isinstance(r, SearchResult) for r in words)
    assert words[0].text == words[0].hit.text and words[0].match_score == words[0].score > 0

    hybrid = table.search("AI database", search_type="hybrid").limit(3)
    results = hybrid.to_list()
    assert len(results) == 3 and results[0]["id"] == 1
    assert {"_distance", "_match_score", "_score"} <= set(results[0])
    frame = hybrid.fusion("weighted", vs_weight=0.7, fts_weight=0.3).to_pandas()
    assert isinstance(frame, pandas.DataFrame) and len(frame) == 3
    hits = hybrid.to_pydantic()
    assert hits[0].similarity_score == pytest.approx(1 - hits[0].distance)


def test_the_readme_session_commit_and_rollback(client):
    class Player(TableModel):
        __tablename__ = "players"
        id: int = Field(primary_key=True)
        name: str = Field(max_length=20)
        balance: int = Field(default=0)

    table = client.create_table(schema=Player, if_exists="overwrite")
    table.bulk_insert([Player(id=1, name="Alice", balance=100), Player(id=2, name="Bob", balance=100)])

    with client.session() as session:
        initial_total = client.query("SELECT SUM(balance) FROM players").scalar()
        client.execute(
            "UPDATE players SET balance = balance - :amount WHERE id = :id", {"amount": 10, "id": 1}
        )
        client.execute("UPDATE players SET balance = balance + %s WHERE id = %s", (10, 2))
        session.commit()
        assert client.query("SELECT SUM(balance) FROM players").scalar() == initial_total
    assert [p.balance for p in table.query(order_by="id").to_pydantic()] == [90, 110]

    with client.session() as session:
        client.execute("UPDATE players SET balance = 0")
        assert client.query("SELECT balance FROM players WHERE id = 1").scalar() == 0
        session.rollback()
        assert client.query("SELECT balance FROM players WHERE id = 1").scalar() == 90
        table.update({"balance": 95}, {"id": 1})  # after a rollback the session goes on
        assert not client.execute("UPDATE no_such_table SET x = 1").success  # undoes only itself
        client.execute("UPDATE players SET name = 'Bobby' WHERE id = 2")
    assert (table.get(1).balance, table.get(2).name) == (95, "Bobby")

    with pytest.raises(RuntimeError), client.session():
        table.delete()  # no filters: every row, as in pytidb
        raise RuntimeError("the block fails: nothing of it stays")
    assert table.rows() == 2


def test_raw_sql_results(client):
    assert client.execute("DROP TABLE IF EXISTS test_raw_sql").success
    assert client.execute("CREATE TABLE test_raw_sql (id INT)").rowcount == 0
    failed = client.execute("CREATE TABLE test_raw_sql (id INT)")
    assert (failed.success, failed.rowcount) == (False, 0) and "test_raw_sql" in failed.message
    with pytest.raises(livevec.StorageError):
        client.execute("CREATE TABLE test_raw_sql (id INT)", raise_error=True)
    assert client.execute("INSERT INTO test_raw_sql VALUES (1), (2), (3)").rowcount == 3
    assert client.execute("DELETE FROM test_raw_sql WHERE id = :id", {"id": 3}).rowcount == 1

    class Record(pydantic.BaseModel):
        id: int

    select = "SELECT id FROM test_raw_sql ORDER BY id"
    assert client.query(select).to_rows() == [(1,), (2,)]
    assert client.query(select).to_list() == [{"id": 1}, {"id": 2}]
    assert [r.id for r in client.query(select).to_pydantic(Record)] == [1, 2]
    assert client.query(select).to_pandas()["id"].tolist() == [1, 2]
    assert client.query("SELECT COUNT(*) FROM test_raw_sql WHERE id > %s", [1]).scalar() == 1
    assert client.query("SELECT id FROM test_raw_sql WHERE id = 2").one() == (2,)
    with pytest.raises(livevec.ValidationError, match="give a dict"):
        client.query("SELECT id FROM test_raw_sql WHERE id = :id", [1])
