"""Storage backends behind one interface (`Backend`), chosen by the connection URL."""

from __future__ import annotations

from pathlib import Path

from ._base import Backend, Change, FulltextSearch, VectorSearch
from .sqlite import SQLiteBackend
from .vector_index import IndexOptions


def open_backend(url: str | Path, index_options: IndexOptions | None = None) -> Backend:
    """`postgresql://...` for PostgreSQL; a file path, `sqlite:///path` or `:memory:` for SQLite.

    `index_options` tune the in-memory vector indexes of the SQLite store.
    """
    url = str(url)
    if url.startswith(("postgresql://", "postgres://")):
        from .postgres import PostgresBackend

        return PostgresBackend(url)
    if url.startswith("sqlite:///"):
        url = url[len("sqlite:///") :]
    return SQLiteBackend(url, index_options)


__all__ = [
    "Backend",
    "Change",
    "FulltextSearch",
    "IndexOptions",
    "SQLiteBackend",
    "VectorSearch",
    "open_backend",
]
