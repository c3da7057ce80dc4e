from __future__ import annotations

import os
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import pytest

import livevec
from livevec.embeddings import LocalProvider

from .models import CATALOG, Product

BACKENDS = ("sqlite", "postgres")


def pytest_generate_tests(metafunc):
    """Every test that opens a database runs once per backend (`@pytest.mark.backends(...)` narrows it)."""
    if "backend" in metafunc.fixturenames:
        only = metafunc.definition.get_closest_marker("backends")
        metafunc.parametrize("backend", only.args if only else BACKENDS, indirect=True)


@pytest.fixture
def backend(request):
    return request.param


@pytest.fixture(scope="session")
def postgres_server():
    """URL of a PostgreSQL with pgvector: $LIVEVEC_TEST_POSTGRES_URL, or a pgserver started for the run."""
    url = os.environ.get("LIVEVEC_TEST_POSTGRES_URL")
    if url:
        yield url
        return
    import pgserver

    server = pgserver.get_server(tempfile.mkdtemp(prefix="livevec-pg-"), cleanup_mode="delete")
    yield server.get_uri()
    server.cleanup()


@contextmanager
def fresh_schema(server_url: str) -> Iterator[str]:
    """A URL whose tables live in a new schema of the server, dropped afterwards."""
    import psycopg

    schema = f"test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute("CREATE EXTENSION IF NOT EXISTS vector SCHEMA public")
        conn.execute(f"CREATE SCHEMA {schema}")
    parts = urlsplit(server_url)
    query = [*parse_qsl(parts.query), ("options", f"-csearch_path={schema},public")]
    yield urlunsplit(parts._replace(query=urlencode(query)))
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(f"DROP SCHEMA {schema} CASCADE")


@pytest.fixture
def postgres_url(postgres_server):
    """A PostgreSQL URL of one's own: a fresh schema of the test server."""
    with fresh_schema(postgres_server) as url:
        yield url


@pytest.fixture
def db_path(backend, tmp_path, request):
    """Where the test database is: a SQLite file, or a PostgreSQL URL (a fresh schema)."""
    if backend == "sqlite":
        return tmp_path / "shop.db"
    return request.getfixturevalue("postgres_url")


@pytest.fixture
def db(db_path):
    database = livevec.connect(db_path)
    yield database
    database.close()


@pytest.fixture
def products(db):
    """The Product table filled with the small catalog."""
    table = db.create_table(schema=Product)
    table.insert(CATALOG)
    return table


@pytest.fixture
def embedded_texts(monkeypatch):
    """Every text the real local model is asked to embed, in order (the model still runs)."""
    seen: list[str] = []
    original = LocalProvider.embed

    def counting_embed(self, texts):
        seen.extend(texts)
        return original(self, texts)

    monkeypatch.setattr(LocalProvider, "embed", counting_embed)
    return seen
