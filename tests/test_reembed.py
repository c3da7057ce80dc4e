"""`Table.reembed` and `livevec reembed`: a column moves to another model (and other dimensions)
while searches go on from the old vectors, resumes after a kill, and switches in one transaction."""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

import livevec
from livevec import EmbeddingFunction, Field, TableModel
from livevec.cli import cli

from . import word_vectors  # noqa: F401 - registers the words/ provider

OLD = EmbeddingFunction("words/256")
NEW = EmbeddingFunction("words/128")
ROOT = Path(__file__).resolve().parent.parent


class Doc(TableModel):
    __tablename__ = "docs"
    id: int = Field(primary_key=True)
    title: str
    body: str | None = None
    vec: list[float] | None = OLD.VectorField(source_field=["title", "body"])


def rows(n: int, start: int = 0) -> list[dict]:
    return [
        {"id": i, "title": f"doc w{i}", "body": None if i % 5 == 0 else f"about t{i % 7}"}
        for i in range(start, start + n)
    ]


def text_of(i: int) -> str:
    """Row i's text as embedded: a search for it finds row i first (at distance 0)."""
    row = rows(1, i)[0]
    return "\n".join(t for t in (row["title"], row["body"]) if t)


@pytest.fixture
def docs(db):
    table = db.create_table(schema=Doc)
    table.insert(rows(120))
    return table


def assert_all_embedded_by(table, fn: EmbeddingFunction) -> None:
    vector = table.spec.vector("vec")
    for row in table.query().to_list():
        expected = fn.provider.vectors([vector.compose(row)])[0]
        np.testing.assert_allclose(row["vec"], expected, atol=1e-6, err_msg=f"row {row['id']}")


def test_reembed_moves_the_column_to_the_new_model_and_dimensions(db, docs):
    before = db.open_table("docs")  # another handle: it adopts the new schema at its next search
    assert docs.reembed("vec", embedding=NEW, progress=False) == 120
    stored = db.backend.load_spec("docs").vector("vec")
    assert (stored.model, stored.dimensions, db.backend.load_spec("docs").reembedding) == (
        "words/128",
        128,
        {},
    )
    assert_all_embedded_by(docs, NEW)
    assert before.search(text_of(17)).limit(1).to_list()[0]["id"] == 17
    assert before.spec.vector("vec").dimensions == 128
    docs.insert({"id": 500, "title": "a new doc w500"})  # writes after the switch use the new model
    assert len(docs.get(500).vec) == 128
    assert docs.search("a new doc w500").limit(1).to_list()[0]["id"] == 500
    with livevec.connect(db.backend.url) as again:  # and so does a table opened later, with its class
        assert again.open_table("docs", schema=Doc).search(text_of(42)).limit(1).to_list()[0]["id"] == 42


def test_rows_written_during_a_reembed_are_embedded_again_before_the_switch(db, docs, monkeypatch):
    mark = "?" if isinstance(db.backend, livevec.storage.SQLiteBackend) else "%s"
    store = type(db.backend).reembed_store
    calls = []

    def store_then_write(self, spec, vector, items):
        store(self, spec, vector, items)
        calls.append(len(items))
        if len(calls) == 1:  # rows already done change, by livevec and by SQL; a row is added
            docs.update(values={"title": "changed w1"}, filters={"id": 1})
            db.execute(f"UPDATE docs SET body = {mark} WHERE id = {mark}", ["by sql", 2])
            docs.insert({"id": 1000, "title": "added w1000", "body": "late"})
            docs.delete({"id": 3})

    monkeypatch.setattr(type(db.backend), "reembed_store", store_then_write)
    docs.reembed("vec", embedding=NEW, batch_size=50, progress=False)
    assert_all_embedded_by(docs, NEW)
    assert docs.count() == 120 and docs.get(2).body == "by sql"


def test_searches_during_a_reembed_never_fail(db, docs):
    slow = EmbeddingFunction("words/128", delay=0.02)
    failures: list[BaseException] = []
    answers: list[int] = []
    done = threading.Event()

    def search() -> None:
        while not done.is_set():
            try:
                hits = docs.search(text_of(17)).limit(3).to_list()
                answers.append(hits[0]["id"])
            except BaseException as exc:
                failures.append(exc)

    thread = threading.Thread(target=search)
    thread.start()
    job = docs.reembed("vec", embedding=slow, batch_size=16, progress=False, background=True)
    assert isinstance(job, livevec.Reembedding)
    try:
        while not job.done:  # this thread searches too
            answers.append(docs.search(text_of(17)).limit(3).to_list()[0]["id"])
    finally:
        done.set()
        thread.join()
    assert job.wait() == 120
    assert failures == []
    assert answers and set(answers) == {17}
    assert docs.search(text_of(17)).limit(1).to_list()[0]["id"] == 17


REEMBEDDER = textwrap.dedent(
    """
    import sys
    sys.path.insert(0, {root!r})
    import livevec
    from livevec import EmbeddingFunction
    from tests import word_vectors
    db = livevec.connect(sys.argv[1])
    table = db.open_table("docs")
    store = type(db.backend).reembed_store
    def store_and_say(self, spec, vector, items):
        store(self, spec, vector, items)
        print(len(items), flush=True)  # this batch is committed
    type(db.backend).reembed_store = store_and_say
    table.reembed("vec", embedding=EmbeddingFunction("words/128", delay=0.05), batch_size=10, progress=False)
    print("finished", flush=True)
    """
).format(root=str(ROOT))


def test_a_reembed_killed_half_way_resumes_where_it_stopped(db, db_path, docs):
    process = subprocess.Popen(
        [sys.executable, "-c", REEMBEDDER, str(db_path)], stdout=subprocess.PIPE, text=True
    )
    stored = 0
    for line in process.stdout:  # kill it once three batches are committed, well before the end
        stored += int(line)
        if stored >= 30:
            break
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)
    assert process.returncode == -signal.SIGKILL
    done, total = db.backend.reembed_progress(docs.spec, docs.spec.vector("vec"))
    assert 30 <= done < total == 120
    assert docs.spec.vector("vec").model == "words/256"  # not switched: searches use the old vectors
    assert docs.search(text_of(5)).limit(1).to_list()[0]["id"] == 5
    assert "vec" in db.backend.load_spec("docs").reembedding
    assert docs.reembed("vec", progress=False) == total - done  # the model of the one under way
    assert docs.spec.vector("vec").model == "words/128"
    assert_all_embedded_by(docs, NEW)


def test_a_reembed_with_another_model_starts_over(db, docs, monkeypatch):
    store = type(db.backend).reembed_store

    def store_then_fail(self, spec, vector, items):
        store(self, spec, vector, items)
        raise RuntimeError("killed")

    monkeypatch.setattr(type(db.backend), "reembed_store", store_then_fail)
    with pytest.raises(RuntimeError):
        docs.reembed("vec", embedding=EmbeddingFunction("words/200"), batch_size=10, progress=False)
    monkeypatch.setattr(type(db.backend), "reembed_store", store)
    assert docs.reembed("vec", embedding=NEW, progress=False) == 120
    assert_all_embedded_by(docs, NEW)


def test_a_failed_embedding_leaves_the_column_as_it_was(db, docs):
    docs.insert({"id": 999, "title": "poison"})
    with pytest.raises(livevec.EmbeddingError, match="words/128"):
        docs.reembed("vec", embedding=EmbeddingFunction("words/128", fail_on="poison"), progress=False)
    assert docs.spec.vector("vec").model == "words/256"
    assert_all_embedded_by(docs, OLD)
    assert docs.search(text_of(7)).limit(1).to_list()[0]["id"] == 7


def test_reembed_errors_name_the_field(db, docs):
    with pytest.raises(livevec.ValidationError) as info:
        docs.reembed("nope", embedding=NEW)
    assert info.value.field == "nope"
    with pytest.raises(livevec.ValidationError, match="under way") as info:
        docs.reembed("vec")
    assert info.value.field == "vec"
    with pytest.raises(livevec.ValidationError) as info:
        docs.reembed("vec", embedding="words/128")
    assert info.value.field == "embedding"


@pytest.mark.backends("sqlite")
def test_the_command_line_reembeds_with_a_progress_bar(db_path, docs):
    result = CliRunner().invoke(cli, ["reembed", str(db_path), "docs", "vec", "--model", "words/128"])
    assert result.exit_code == 0, result.output
    assert "re-embedded 120 rows; docs.vec is now words/128 (128 dimensions)" in result.output
    with livevec.connect(db_path) as again:
        assert_all_embedded_by(again.open_table("docs"), NEW)


def test_a_live_search_goes_on_across_the_switch(db, docs):
    with docs.search(text_of(17)).limit(1).live() as live:
        assert live.result[0]["id"] == 17
        docs.reembed("vec", embedding=NEW, progress=False)
        docs.update(values={"title": "doc w17", "body": "about t3"}, filters={"id": 3})  # row 17's text
        deadline = time.monotonic() + 60
        while live.result[0]["id"] != 3 and time.monotonic() < deadline:
            live.wait(timeout=1.0)
        assert live.result[0]["id"] == 3  # a tie at distance 0, broken by key
        assert len(live.result[0]["vec"]) == 128
