"""A vector never disagrees with its text: rows whose text another client changed (the sqlite3
module, psycopg, `db.execute`) are embedded again before a search ranks them, and by the follower
of live queries."""

from __future__ import annotations

import sqlite3
import time

import numpy as np
import pytest

import livevec
from livevec._schema import NO_TEXT_HASH
from livevec.embeddings._function import text_hash

from .models import CATALOG, Product, embed

KETTLE = "A stainless steel electric kettle that boils water in a minute"


def write_from_outside(db, db_path, sql: str, params: tuple = ()) -> None:
    """Run `sql` (with ? placeholders) on a connection of its own, as another program would."""
    if isinstance(db.backend, livevec.storage.SQLiteBackend):
        conn = sqlite3.connect(db_path)
        with conn:
            conn.execute(sql, params)
        conn.close()
        return
    import psycopg

    with psycopg.connect(str(db_path), autocommit=True) as conn:
        conn.execute(sql.replace("?", "%s"), params)


def stale_count(db) -> int:
    return db.query("SELECT count(*) FROM products WHERE _livevec_hash_description_vec IS NULL").rows[0][0]


def test_an_update_by_another_connection_is_found_first_by_its_new_text(db, db_path, products):
    write_from_outside(db, db_path, "UPDATE products SET description = ? WHERE id = 4", (KETTLE,))
    assert stale_count(db) == 1  # the text changed without its hash: the row is known to be stale
    hits = products.search("an electric kettle to boil water").limit(3).to_list()
    assert hits[0]["id"] == 4 and hits[0]["description"] == KETTLE
    np.testing.assert_allclose(products.get(4).description_vec, embed.embed_documents([KETTLE])[0], atol=1e-6)
    assert stale_count(db) == 0


def test_db_execute_changes_are_embedded_again_before_the_next_search(db, products):
    mark = "?" if isinstance(db.backend, livevec.storage.SQLiteBackend) else "%s"
    assert db.execute(f"UPDATE products SET description = {mark} WHERE id = {mark}", [KETTLE, 8]) == 1
    assert products.search("kettle for boiling water").limit(1).to_list()[0]["id"] == 8
    assert products.refresh() == 0  # nothing left stale


def test_a_row_inserted_by_another_client_without_a_vector_gets_one(db, db_path, products):
    write_from_outside(
        db,
        db_path,
        "INSERT INTO products (id, name, description, category, price) VALUES (?, ?, ?, ?, ?)",
        (9, "Kettle", KETTLE, "kitchen", 40.0),
    )
    assert products.search("an electric kettle to boil water").limit(1).to_list()[0]["id"] == 9
    assert products.get(9).description_vec is not None


def test_livevec_writes_store_the_hash_of_their_text_and_leave_nothing_stale(db, products, embedded_texts):
    assert stale_count(db) == 0
    products.update(values={"description": KETTLE}, filters={"id": 1})
    products.update(values={"price": 5.0}, filters={})
    mark = "?" if isinstance(db.backend, livevec.storage.SQLiteBackend) else "%s"
    db.execute(f"UPDATE products SET price = {mark}, name = {mark} WHERE id = 2", [1.0, "Ball"])  # no text
    assert stale_count(db) == 0 and products.refresh() == 0
    assert embedded_texts == [KETTLE]
    hashes = dict(db.query("SELECT id, _livevec_hash_description_vec FROM products").rows)
    assert bytes(hashes[1]) == text_hash(KETTLE)
    assert bytes(hashes[2]) == text_hash(CATALOG[1]["description"])


def test_a_text_set_back_by_sql_after_a_livevec_update_is_stale_again(db, db_path, products):
    products.update(values={"description": KETTLE}, filters={"id": 3})
    write_from_outside(
        db, db_path, "UPDATE products SET description = ? WHERE id = 3", (CATALOG[2]["description"],)
    )
    assert stale_count(db) == 1
    assert products.search("running shoes for a marathon").limit(1).to_list()[0]["id"] == 3


def test_a_live_search_follows_a_text_changed_by_another_client(db, db_path, products):
    with products.search("an electric kettle to boil water").limit(1).live() as live:
        assert live.result[0]["id"] != 6
        write_from_outside(db, db_path, "UPDATE products SET description = ? WHERE id = 6", (KETTLE,))
        deadline = time.monotonic() + 60
        while live.result[0]["id"] != 6 and time.monotonic() < deadline:
            live.wait(timeout=1.0)
        assert live.result[0]["id"] == 6  # the follower embedded it, without any search being asked
    assert stale_count(db) == 0


def test_a_row_without_text_keeps_its_vector_and_is_not_stale(db, db_path):
    class Note(livevec.TableModel):
        __tablename__ = "notes"
        id: int = livevec.Field(primary_key=True)
        text: str | None = None
        vec: list[float] | None = embed.VectorField(source_field="text")

    notes = db.create_table(schema=Note)
    notes.insert([{"id": 1, "text": "a yoga mat"}, {"id": 2, "text": None}])
    hashes = dict(db.query("SELECT id, _livevec_hash_vec FROM notes").rows)
    assert bytes(hashes[2]) == NO_TEXT_HASH and notes.get(2).vec is None
    write_from_outside(db, db_path, "UPDATE notes SET text = NULL WHERE id = 1")
    assert notes.refresh() == 1  # no text to embed: the hash says so, the vector is left as it was
    assert notes.refresh() == 0 and notes.get(1).vec is not None


@pytest.mark.backends("sqlite")
def test_a_table_made_before_text_hashes_gets_them_and_its_rows_are_checked(db_path):
    db = livevec.connect(db_path)
    table = db.create_table(schema=Product)
    table.insert(CATALOG)
    db.close()
    conn = sqlite3.connect(db_path)  # as an older livevec left it, with a text changed by SQL
    with conn:
        for (name,) in conn.execute(
            "SELECT name FROM sqlite_master WHERE name LIKE '_livevec_stale%' AND type IN ('trigger', 'index')"
        ).fetchall():
            kind = "TRIGGER" if "index" not in name else "INDEX"
            conn.execute(f'DROP {kind} "{name}"')
        conn.execute("ALTER TABLE products DROP COLUMN _livevec_hash_description_vec")
        conn.execute("UPDATE products SET description = ? WHERE id = 5", (KETTLE,))
    conn.close()
    with livevec.connect(db_path) as db:
        table = db.open_table("products", schema=Product)
        assert table.search("an electric kettle to boil water").limit(1).to_list()[0]["id"] == 5
        assert stale_count(db) == 0
        write_from_outside(db, db_path, "UPDATE products SET description = ? WHERE id = 2", (KETTLE,))
        assert stale_count(db) == 1  # and the trigger is there now


@pytest.mark.backends("sqlite")
def test_a_copy_embeds_a_stale_row_again_instead_of_carrying_its_old_vector(db, db_path, products, tmp_path):
    write_from_outside(db, db_path, "UPDATE products SET description = ? WHERE id = 7", (KETTLE,))
    with livevec.connect(tmp_path / "copy.db") as target:
        livevec.copy_table(db, target, "products", progress=False)
        copied = target.open_table("products")
        np.testing.assert_allclose(
            copied.get(7).description_vec, embed.embed_documents([KETTLE])[0], atol=1e-6
        )
        np.testing.assert_allclose(copied.get(1).description_vec, products.get(1).description_vec)
    assert stale_count(db) == 1  # the source is only read
