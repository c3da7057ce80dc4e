"""`openai/...` models as the tutorial names them, embedded by a real OpenAI-compatible server."""

from __future__ import annotations

import pytest

import livevec
from livevec.compat.pytidb import TiDBClient
from livevec.compat.pytidb import embeddings as compat_embeddings
from livevec.compat.pytidb.embeddings import EmbeddingFunction
from livevec.compat.pytidb.schema import Field, FullTextField, TableModel


def test_openai_models_on_an_openai_compatible_server(db_path, openai_server, monkeypatch):
    monkeypatch.setattr(compat_embeddings, "provider_api_keys", {})
    db = TiDBClient.connect(str(db_path))
    db.configure_embedding_provider(provider="openai", api_key="sk-local")
    embed_fn = EmbeddingFunction(model_name="openai/multilingual-e5-small", api_base=openai_server)
    assert embed_fn.dimensions == 384  # asked of the server

    class Chunk(TableModel, table=True):
        __tablename__ = "chunks"
        id: int = Field(primary_key=True)
        text: str = FullTextField()
        text_vec: list[float] = embed_fn.VectorField(source_field="text")

    table = db.create_table(schema=Chunk, if_exists="overwrite")
    table.bulk_insert(
        [
            Chunk(text="Green tea leaves from the mountains"),
            Chunk(text="Running shoes for marathon training"),
            Chunk(text="A cast iron frying pan for the kitchen"),
        ]
    )
    assert table.search("shoes for jogging").limit(1).to_list()[0]["id"] == 2
    assert table.search("frying pan", search_type="hybrid").limit(1).to_list()[0]["id"] == 3
    db.disconnect()

    # another process opens the table by name: the model and its server come from the stored schema
    again = TiDBClient.connect(str(db_path))
    assert again.open_table("chunks").search("tea").limit(1).to_pydantic()[0].text.startswith("Green tea")
    again.disconnect()


def test_the_tutorials_model_name_needs_the_servers_dimensions(openai_server):
    # text-embedding-3-small makes 1536 numbers; a server with another model says how many it makes
    embed_fn = EmbeddingFunction(
        model_name="openai/text-embedding-3-small", dimensions=384, api_base=openai_server
    )
    assert len(embed_fn.get_query_embedding("a user likes sports")) == 384
    with pytest.raises(livevec.EmbeddingError, match="384-d vectors, the column holds 1536"):
        EmbeddingFunction("text-embedding-3-small", api_base=openai_server).get_query_embedding("sports")
