"""The names pytidb's users import, with pytidb's semantics: indexes, distance metrics, custom
embedding functions, rerankers, the client's and the search's extra verbs."""

from __future__ import annotations

import logging
import subprocess
import sys
from typing import Any

import numpy as np
import pytest

import livevec
from livevec.compat.pytidb import TiDBClient
from livevec.compat.pytidb.datatype import VECTOR
from livevec.compat.pytidb.embeddings import EmbeddingFunction
from livevec.compat.pytidb.embeddings.base import BaseEmbeddingFunction
from livevec.compat.pytidb.orm.distance_metric import DistanceMetric, validate_distance_metric
from livevec.compat.pytidb.orm.indexes import FullTextIndex, VectorIndex
from livevec.compat.pytidb.rerankers.base import BaseReranker, RerankResult
from livevec.compat.pytidb.schema import Column, Field, FullTextField, TableModel, VectorField
from livevec.compat.pytidb.search import SCORE_LABEL
from livevec.compat.pytidb.utils import build_tidb_connection_url


def _points(client: TiDBClient, name: str = "points"):
    class Point(TableModel):
        __tablename__ = name
        id: int = Field(primary_key=True)
        label: str = FullTextField()
        vec: Any = VectorField(dimensions=3)

    table = client.create_table(schema=Point, if_exists="overwrite")
    table.bulk_insert(
        [
            Point(id=1, label="north pole", vec=[0, 0, 1]),
            Point(id=2, label="east coast", vec=[1, 0, 0]),
            Point(id=3, label="north east", vec=[1, 0, 1]),
            Point(id=4, label="no vector here"),
        ]
    )
    return table


# --- client ---------------------------------------------------------------------------------------


def test_is_serverless_so_full_text_code_paths_run(client):
    assert client.is_serverless is True
    table = _points(client)
    assert [r["id"] for r in table.search("north", search_type="fulltext").limit(5).to_list()] == [1, 3]


def test_bad_if_exists_is_a_value_error_and_a_livevec_validation_error(client):
    class Thing(TableModel):
        __tablename__ = "things"
        id: int = Field(primary_key=True)

    for call in (
        lambda: client.create_table(schema=Thing, if_exists="invalid"),
        lambda: client.drop_table("things", if_not_exists="invalid"),
    ):
        with pytest.raises(ValueError) as info:
            call()
        assert isinstance(info.value, livevec.ValidationError)
    assert not client.has_table("things")


def test_build_tidb_connection_url_as_pytidb_builds_it():
    assert build_tidb_connection_url() == "mysql+pymysql://root@localhost:4000/test"
    assert build_tidb_connection_url(
        host="gateway01.eu-central-1.prod.aws.tidbcloud.com", username="u.root", password="p@ss"
    ) == (
        "mysql+pymysql://u.root:p%40ss@gateway01.eu-central-1.prod.aws.tidbcloud.com:4000/test"
        "?ssl_verify_cert=true&ssl_verify_identity=true"
    )
    for bad in ({"schema": "postgresql"}, {"host": ""}):
        with pytest.raises(ValueError):
            build_tidb_connection_url(**bad)


# --- schema: Any vectors, VECTOR(n) columns, __table_args__ indexes --------------------------------


def test_vector_fields_annotated_any_or_declared_as_vector_columns(client):
    class Chunk(TableModel):
        __tablename__ = "chunks"
        id: int = Field(primary_key=True)
        a: Any = VectorField(dimensions=3)
        b: list[float] = Field(sa_column=Column(VECTOR(2)))

    table = client.create_table(schema=Chunk)
    table.insert(Chunk(id=1, a=[1, 2, 3], b=[0.5, 0.5]))
    row = table.get(1)
    assert np.array_equal(row.a, [1, 2, 3]) and np.array_equal(row.b, [0.5, 0.5])
    assert [c.column_type for c in table.columns()] == ["BIGINT", "VECTOR(3)", "VECTOR(2)"]
    assert table.has_vector_index("a") and table.has_vector_index("b") and not table.has_vector_index("id")


def test_vector_index_sets_the_distance_its_field_is_searched_by(client):
    class Near(TableModel):
        __tablename__ = "near"
        __table_args__ = (VectorIndex("vec_idx_l2", "vec", distance_metric=DistanceMetric.L2),)
        id: int = Field(primary_key=True)
        vec: list[float] = VectorField(dimensions=3, index=False)

    table = client.create_table(schema=Near)
    table.bulk_insert([Near(id=1, vec=[0, 0, 3]), Near(id=2, vec=[0, 4, 0])])
    rows = table.search([0, 0, 0]).distance_metric("l2").limit(2).to_list()
    assert [(r["id"], round(r["_distance"], 5)) for r in rows] == [(1, 3.0), (2, 4.0)]


def test_vector_index_declarations_are_checked():
    for args, kwargs, message in (
        ((), {}, "at least one column"),
        (("a", "b"), {}, "one column"),
        (("a",), {"algorithm": "IVF"}, "algorithm"),
        (("a",), {"distance_metric": "hamming"}, "distance metric"),
        (("a",), {"distance_metric": "L1"}, "COSINE or L2"),
    ):
        with pytest.raises(ValueError, match=message):
            VectorIndex("idx", *args, **kwargs)
    with pytest.raises(livevec.SchemaError, match="disagree"):

        class Both(TableModel):
            __tablename__ = "both"
            __table_args__ = (VectorIndex("idx", "vec", distance_metric="COSINE"),)
            id: int = Field(primary_key=True)
            vec: list[float] = VectorField(dimensions=3, distance_metric="L2")

    with pytest.raises(livevec.SchemaError, match="not a vector field"):

        class Wrong(TableModel):
            __tablename__ = "wrong"
            __table_args__ = (VectorIndex("idx", "id"),)
            id: int = Field(primary_key=True)


def test_full_text_index_in_table_args_and_the_index_calls(client):
    class Doc(TableModel):
        __tablename__ = "docs"
        __table_args__ = (FullTextIndex("fts_idx", "body"),)
        id: int = Field(primary_key=True)
        title: str = FullTextField(index=False)
        body: str

    table = client.create_table(schema=Doc)
    table.bulk_insert([Doc(id=1, title="tea", body="green tea leaves"), Doc(id=2, title="mat", body="yoga")])
    assert table.has_fts_index("body") and not table.has_fts_index("title")
    assert [r["id"] for r in table.search("tea", search_type="fulltext").limit(2).to_list()] == [1]
    with pytest.warns(UserWarning, match="experimental"):
        table.create_fts_index("body", if_exists="skip")
    with pytest.warns(UserWarning), pytest.raises(ValueError, match="already"):
        table.create_fts_index("body")
    with (
        pytest.warns(UserWarning),
        pytest.raises(livevec.compat.pytidb.NotSupportedError, match="FullTextField"),
    ):
        table.create_fts_index("title")
    with pytest.raises(livevec.compat.pytidb.NotSupportedError, match="one tokenizer"):
        FullTextIndex("idx", "body", fts_parser="STANDARD")


def test_create_vector_index_warns_and_keeps_the_fields_own_index(client):
    table = _points(client)
    with pytest.warns(UserWarning, match="experimental"):
        table.create_vector_index("vec")
    assert table.has_vector_index("vec")
    with pytest.warns(UserWarning), pytest.raises(ValueError, match="COSINE"):
        table.create_vector_index("vec", distance_metric="L2")
    with pytest.warns(UserWarning), pytest.raises(ValueError, match="Invalid vector column"):
        table.create_vector_index("label")


def test_validate_distance_metric_takes_any_case():
    assert validate_distance_metric("l2") is DistanceMetric.L2
    assert validate_distance_metric(DistanceMetric.COSINE) is DistanceMetric.COSINE
    assert DistanceMetric.COSINE == "COSINE"
    with pytest.raises(ValueError, match="L1, L2, COSINE"):
        validate_distance_metric("manhattan")


# --- embedding functions and rerankers ------------------------------------------------------------


class LetterCounts(BaseEmbeddingFunction):
    """Counts of a, b and c: a model small enough to check by hand."""

    def _vector(self, text: str) -> list[float]:
        return [float(text.count(letter)) for letter in "abc"]

    def get_query_embedding(self, query, source_type="text", **kwargs):
        return self._vector(query)

    def get_source_embedding(self, source, source_type="text", **kwargs):
        return self._vector(source)

    def get_source_embeddings(self, sources, source_type="text", **kwargs):
        return [self._vector(s) for s in sources]


def test_a_custom_embedding_function_embeds_rows_and_queries(client):
    embed = LetterCounts(model_name="letters", dimensions=3)
    assert embed.get_query_embedding("aab") == [2.0, 1.0, 0.0]

    class Word(TableModel):
        __tablename__ = "words"
        id: int = Field(primary_key=True)
        text: str
        vec: list[float] | None = embed.VectorField(source_field="text", distance_metric="L2")

    table = client.create_table(schema=Word)
    table.bulk_insert([Word(id=1, text="abc"), Word(id=2, text="ccc"), Word(id=3, text="aaa")])
    assert np.array_equal(table.get(2).vec, [0, 0, 3])
    hits = table.search("cc").limit(1).to_list()
    assert (hits[0]["id"], hits[0]["_distance"]) == (2, pytest.approx(1.0))
    with pytest.raises(livevec.SchemaError, match="dimensions"):
        LetterCounts(model_name="letters").VectorField(source_field="text")
    with pytest.raises(TypeError):
        BaseEmbeddingFunction(model_name="abstract")


def test_api_key_is_taken_for_a_local_model():
    embed = EmbeddingFunction("local/all-MiniLM-L6-v2", api_key="sk-from-the-pytidb-program")
    assert embed.dimensions == 384
    assert "api_key" not in embed.options
    with pytest.raises(livevec.EmbeddingError, match="api_base"):
        EmbeddingFunction("local/all-MiniLM-L6-v2", api_base="http://127.0.0.1:1/v1")


def test_base_reranker_is_an_interface():
    class Reverse(BaseReranker):
        def rerank(self, query, documents, top_n=None):
            return [
                RerankResult(index=i, relevance_score=1 / (1 + r))
                for r, i in enumerate(reversed(range(len(documents))))
            ]

    assert [r.index for r in Reverse().rerank("q", ["a", "b"])] == [1, 0]
    with pytest.raises(TypeError):
        BaseReranker()


# --- search verbs ---------------------------------------------------------------------------------


def test_search_needs_a_limit_as_in_pytidb(client):
    table = _points(client)
    for run in ("to_list", "to_pydantic", "to_pandas"):
        with pytest.raises(ValueError, match=r"limit is required"):
            getattr(table.search([0, 0, 1]), run)()


def test_distance_threshold_zero_or_none_sets_no_bound(client):
    table = _points(client)
    everything = [r["id"] for r in table.search([0, 0, 1]).limit(5).to_list()]
    assert everything == [1, 3, 2]
    for threshold in (0, 0.0, None):
        assert [
            r["id"] for r in table.search([0, 0, 1]).distance_threshold(threshold).limit(5).to_list()
        ] == everything
    assert [r["id"] for r in table.search([0, 0, 1]).distance_threshold(0.5).limit(5).to_list()] == [1, 3]


def test_debug_num_candidate_and_skip_null_vectors(client, caplog):
    table = _points(client)
    search = table.search([0, 0, 1]).num_candidate(20).skip_null_vectors(False).limit(5)
    with caplog.at_level(logging.INFO, logger="livevec"):
        rows = search.debug().to_list()
    assert "search on table <points>" in caplog.text
    assert 4 not in [r["id"] for r in rows]  # a row without a vector is never ranked
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="livevec"):
        search.debug(False).to_list()
    assert caplog.text == ""
    for bad in (0, -1, 2.5, True):
        with pytest.raises(ValueError, match="num_candidate"):
            table.search([0, 0, 1]).num_candidate(bad)


def test_vector_column_choice_in_pytidbs_words(client):
    class TwoVectors(TableModel):
        __tablename__ = "two_vectors"
        id: int = Field(primary_key=True)
        title: str
        title_vec: list[float] = Field(sa_column=Column(VECTOR(2)))
        body_vec: list[float] = VectorField(dimensions=2)

    table = client.create_table(schema=TwoVectors)
    table.insert(TwoVectors(id=1, title="x", title_vec=[1, 0], body_vec=[0, 1]))
    with pytest.raises(ValueError, match="more than one vector column"):
        table.search([1, 0]).limit(1).to_list()
    for column, message in (
        (None, "Invalid vector column name"),
        ("nope", "Non-exists"),
        ("title", "Invalid vector column: title"),
    ):
        with pytest.raises(ValueError, match=message):
            table.search([1, 0]).vector_column(column)
    hit = table.search([1, 0]).vector_column("title_vec").limit(1).to_list()[0]
    assert (hit["id"], hit["_distance"], hit[SCORE_LABEL]) == (1, 0.0, 1.0)


def test_livevec_itself_never_imports_sqlalchemy():
    code = (
        "import sys, livevec, livevec.compat.pytidb, livevec.compat.pytidb.schema;"
        "from livevec.compat.pytidb.orm.indexes import VectorIndex;"
        "assert 'sqlalchemy' not in sys.modules, 'sqlalchemy imported'"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
