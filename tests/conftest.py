from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import pytest

import livevec
from livevec.embeddings import LocalProvider

from .models import CATALOG, Product


@pytest.fixture
def db_path(tmp_path):
    return tmp_path / "shop.db"


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
