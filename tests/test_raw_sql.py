"""Integer keys the store assigns, and raw SQL (`db.execute`, `db.query`) on both backends."""

from __future__ import annotations

import pydantic
import pytest

import livevec
from livevec import EmbeddingFunction, Field, TableModel

embed = EmbeddingFunction("local/all-MiniLM-L6-v2")


class Note(TableModel):
    __tablename__ = "notes"
    id: int = Field(primary_key=True)
    text: str
    text_vec: list[float] = embed.VectorField(source_field="text")
    stars: int = 0


class Tag(TableModel):
    __tablename__ = "tags"
    name: str = Field(primary_key=True)


@pytest.fixture
def notes(db):
    return db.create_table(schema=Note)


def marks(db, sql: str) -> str:
    """`sql` written with ? placeholders, in the backend's own style."""
    return sql if isinstance(db.backend, livevec.storage.SQLiteBackend) else sql.replace("?", "%s")


def test_an_int_key_left_out_or_none_is_assigned_by_the_store(notes):
    first = notes.insert(Note(text="a cork yoga mat"))
    assert first.id == 1 and first.text_vec is not None
    assert notes.insert({"id": None, "text": "a leather football"}).id == 2
    assert [n.id for n in notes.insert([Note(text="running shoes"), Note(id=10, text="a kettle")])] == [3, 10]
    assert notes.insert(Note(text="a teapot")).id == 11  # one past the largest, as SQLite's rowid
    assert notes.get(2).text == "a leather football"
    assert notes.search("football").limit(1).to_list()[0]["id"] == 2


def test_a_text_key_is_still_required(db):
    tags = db.create_table(schema=Tag)
    with pytest.raises(pydantic.ValidationError):
        Tag()
    with pytest.raises(livevec.ValidationError, match="required") as info:
        tags.insert({})
    assert info.value.field == "name" and tags.count() == 0


def test_execute_and_query_with_positional_and_named_parameters(db, notes):
    notes.insert([Note(text="a yoga mat", stars=5), Note(text="a football", stars=3), Note(text="a kettle")])
    sqlite = isinstance(db.backend, livevec.storage.SQLiteBackend)
    named = (
        "UPDATE notes SET stars = :stars WHERE id = :id"
        if sqlite
        else "UPDATE notes SET stars = %(stars)s WHERE id = %(id)s"
    )
    assert db.execute(named, {"stars": 4, "id": 3}) == 1
    assert db.execute(marks(db, "DELETE FROM notes WHERE stars < ?"), (4,)) == 1
    result = db.query(marks(db, "SELECT id, stars FROM notes WHERE stars >= ? ORDER BY id"), [0])
    assert result.columns == ["id", "stars"] and result.rows == [(1, 5), (3, 4)]
    assert result.to_list() == [{"id": 1, "stars": 5}, {"id": 3, "stars": 4}] == list(result)
    assert result.to_pandas()["stars"].tolist() == [5, 4]
    assert db.query("SELECT count(*) AS n FROM notes WHERE text LIKE 'a%'").to_list() == [{"n": 2}]
    assert db.execute("CREATE TABLE plain (x INTEGER)") == 0  # statements that change no rows count 0


def test_raw_writes_go_through_the_change_log_and_the_index(db, notes):
    notes.insert([Note(text="a yoga mat"), Note(text="a football")])
    since = db.last_change()
    db.execute(marks(db, "DELETE FROM notes WHERE id = ?"), [2])
    assert [(c.op, c.key) for c in db.changes(since)] == [("delete", 2)]
    assert [r["id"] for r in notes.search("football").to_list()] == [1]  # the index followed


def test_raw_sql_joins_the_transaction_and_its_rollback(db, notes):
    notes.insert(Note(text="a yoga mat"))
    with pytest.raises(RuntimeError), db.transaction():
        db.execute("DELETE FROM notes")
        assert db.query("SELECT count(*) FROM notes").rows == [(0,)]  # sees its own write
        raise RuntimeError("changed my mind")
    assert notes.count() == 1
    with db.transaction():
        db.execute("DELETE FROM notes")
        notes.insert(Note(id=1, text="a cork yoga mat"))
    assert notes.get(1).text == "a cork yoga mat"


def test_bad_sql_and_parameters_raise_livevec_errors(db, notes):
    with pytest.raises(livevec.StorageError):
        db.execute("DELETE FROM no_such_table")
    with pytest.raises(livevec.StorageError):
        db.query("SELEKT 1")
    with pytest.raises(livevec.ValidationError) as info:
        db.query("SELECT 1", "1")
    assert info.value.field == "params"
    with pytest.raises(livevec.ValidationError) as info:
        db.execute("")
    assert info.value.field == "sql"
    notes.insert(Note(text="a yoga mat"))
    with pytest.raises(livevec.DuplicateKeyError):
        db.execute("INSERT INTO notes (id, text, stars) VALUES (1, 'again', 0)")
    assert notes.count() == 1
