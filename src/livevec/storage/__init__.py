"""Storage backends behind one interface (`Backend`), chosen by the connection URL."""

from __future__ import annotations

from pathlib import Path

from ._base import Backend, Change, FulltextSearch, VectorSearch
from .sqlite import SQLiteBackend


def open_backend(url: str | Path) -> Backend:
    """`postgresql://...` for PostgreSQL; a file path, `sqlite:///path` or `:memory:` for SQLite."""
    url = str(url)
    if url.startswith(("postgresql://", "postgres://")):
        from .postgres import PostgresBackend

        return PostgresBackend(url)
    if url.startswith("sqlite:///"):
        url = url[len("sqlite:///") :]
    return SQLiteBackend(url)


__all__ = ["Backend", "Change", "FulltextSearch", "SQLiteBackend", "VectorSearch", "open_backend"]
