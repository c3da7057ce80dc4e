"""Storage backends behind one interface (`Backend`), chosen by the connection URL."""

from __future__ import annotations

from pathlib import Path

from ._base import Backend, Change, FulltextSearch, VectorSearch
from .sqlite import SQLiteBackend
from .vector_index import IndexOptions


def open_backend(
    url: str | Path, index_options: IndexOptions | None = None, busy_timeout: float | None = None
) -> Backend:
    """`postgresql://...` for PostgreSQL; a file path, `sqlite:///path` or `:memory:` for SQLite.

    `index_options` tune the in-memory vector indexes of the SQLite store; `busy_timeout` is how
    many seconds a write waits for another writer (30 by default).
    """
    url = str(url)
    if url.startswith(("postgresql://", "postgres://")):
        from .postgres import PostgresBackend

        return PostgresBackend(url, busy_timeout=busy_timeout)
    if url.startswith("sqlite:///"):
        url = url[len("sqlite:///") :]
    return SQLiteBackend(url, index_options, 30.0 if busy_timeout is None else busy_timeout)


__all__ = [
    "Backend",
    "Change",
    "FulltextSearch",
    "IndexOptions",
    "SQLiteBackend",
    "VectorSearch",
    "open_backend",
]
