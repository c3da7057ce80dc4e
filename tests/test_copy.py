"""`livevec copy`: tables move between SQLite and PostgreSQL with their vectors, nothing embedded again."""

from __future__ import annotations

import psycopg
import pytest
from click.testing import CliRunner

import livevec
from livevec import Field, TableModel
from livevec.cli import cli

from .models import CATALOG, Product


class Note(TableModel):
    __tablename__ = "notes"
    key: str = Field(primary_key=True)
    body: str
    stars: int | None = None


NOTES = [{"key": f"n{i}", "body": f"note {i}", "stars": i if i % 2 else None} for i in range(7)]


def _snapshot(url):
    with livevec.connect(url) as db:
        products = db.open_table("products")
        return (
            db.tables(),
            products.query().to_list(),
            db.open_table("notes").query().to_list(),
            [(r["id"], r["_distance"]) for r in products.search("training gear").limit(8).to_list()],
        )


def test_copy_to_postgres_and_back_keeps_rows_and_vectors(tmp_path, postgres_url, embedded_texts):
    source = tmp_path / "source.db"
    with livevec.connect(source) as db:
        db.create_table(schema=Product).insert(CATALOG)
        db.create_table(schema=Note).insert(NOTES)
    original = _snapshot(source)
    embedded_texts.clear()  # the source's own embedding and search
    runner = CliRunner()
    to_postgres = runner.invoke(cli, ["copy", str(source), postgres_url, "--batch-size", "3"])
    assert to_postgres.exit_code == 0, to_postgres.output
    assert to_postgres.stdout.splitlines() == ["copied 7 rows of notes", "copied 8 rows of products"]
    assert "copying products" in to_postgres.stderr  # the progress bar
    back = tmp_path / "back.db"
    to_sqlite = runner.invoke(cli, ["copy", postgres_url, str(back)])
    assert to_sqlite.exit_code == 0, to_sqlite.output
    assert embedded_texts == []  # the vectors came along
    with psycopg.connect(postgres_url) as conn:  # built after the load, but there
        indexes = conn.execute(
            "SELECT count(*) FROM pg_indexes WHERE tablename = 'products' AND indexdef LIKE '%USING hnsw%'"
        )
        assert indexes.fetchone()[0] == 1
    on_postgres, on_sqlite = _snapshot(postgres_url), _snapshot(back)
    assert on_postgres[:3] == original[:3] and on_sqlite[:3] == original[:3]
    assert [i for i, _ in on_postgres[3]] == [i for i, _ in original[3]] == [i for i, _ in on_sqlite[3]]
    distances = [[d for _, d in found[3]] for found in (original, on_postgres, on_sqlite)]
    assert distances[1] == pytest.approx(distances[0], abs=1e-5) and distances[2] == distances[0]


def test_copy_one_table_and_refuse_to_overwrite(tmp_path, postgres_url):
    source = tmp_path / "source.db"
    with livevec.connect(source) as db:
        db.create_table(schema=Note).insert(NOTES)
        db.create_table(schema=Product)
    with livevec.connect(postgres_url) as db:
        db.create_table(schema=Note).insert(NOTES[:1])
    runner = CliRunner()
    refused = runner.invoke(
        cli, ["copy", str(source), postgres_url, "--table", "products", "--table", "notes"]
    )
    assert isinstance(refused.exception, livevec.TableExistsError) and "notes" in str(refused.exception)
    with livevec.connect(postgres_url) as db:
        assert db.tables() == ["notes"]  # checked before anything was copied
    replaced = runner.invoke(cli, ["copy", str(source), postgres_url, "--table", "notes", "--overwrite"])
    assert replaced.exit_code == 0, replaced.output
    with livevec.connect(postgres_url) as db:
        assert db.tables() == ["notes"] and db.open_table("notes").query().to_list() == NOTES


def test_copy_needs_an_existing_source(tmp_path):
    result = CliRunner().invoke(cli, ["copy", str(tmp_path / "missing.db"), str(tmp_path / "t.db")])
    assert result.exit_code == 2 and "no database file" in result.output
    assert not (tmp_path / "t.db").exists()
