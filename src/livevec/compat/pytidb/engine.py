"""`TiDBClient.db_engine`: an SQLAlchemy engine on the client's own database (livevec[compat]).

Writes through it reach livevec as any other connection's do: the stores' triggers put them in the
change log (live queries, followers), mark changed texts for embedding again, and the vector index
catches up before the next search.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ...storage import SQLiteBackend
from ._errors import NotSupportedError

if TYPE_CHECKING:
    from ...storage import Backend


def sqlalchemy_engine(backend: Backend) -> Any:
    """A new SQLAlchemy `Engine` on the database of `backend`.

    Parameters:
        backend: the livevec store (SQLite file or PostgreSQL).

    Returns:
        The engine (the caller disposes of it).

    Raises:
        NotSupportedError: SQLAlchemy is not installed, or the database is in memory (no other
            connection can reach it).
    """
    try:
        import sqlalchemy
    except ImportError:
        raise NotSupportedError(
            "db_engine is an SQLAlchemy engine, and SQLAlchemy is not installed: pip install 'livevec[compat]'"
        ) from None
    if isinstance(backend, SQLiteBackend):
        if backend._memory:
            raise NotSupportedError(
                "db_engine on an in-memory database: no other connection can reach it; use a file"
            )
        return sqlalchemy.create_engine(
            sqlalchemy.URL.create("sqlite", database=backend.url),
            connect_args={"timeout": backend.busy_timeout},
        )
    url = sqlalchemy.make_url(backend.url).set(drivername="postgresql+psycopg")
    return sqlalchemy.create_engine(url)
