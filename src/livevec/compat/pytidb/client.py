"""pytidb's `TiDBClient` on a livevec store: a SQLite file or a PostgreSQL database.

db = TiDBClient.connect("shop.db")          # or "postgresql://user:pass@host/db"
table = db.create_table(schema=Product, if_exists="overwrite")
with db.session() as session:
    db.execute("DELETE FROM products WHERE id = :id", {"id": 7})
    table.insert(Product(id=7, name="Yoga mat", ...))
    session.commit()
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from contextvars import ContextVar
from pathlib import Path
from typing import Any

from ..._database import Database, SQLResult, connect
from ..._errors import LivevecError, SchemaError, StorageError, TableNotFoundError, ValidationError
from ..._schema import TableModel
from ...embeddings import registered_providers
from ...storage import SQLiteBackend
from . import embeddings
from ._errors import PYTIDB_PROVIDERS, ArgumentError, NotSupportedError, provider_missing, tidb_only
from ._sql import native
from .engine import sqlalchemy_engine
from .expressions import is_expression
from .result import SQLExecuteResult, SQLQueryResult
from .schema import model_for
from .table import Table

logger = logging.getLogger("livevec")
_IF_EXISTS = {"raise": "fail", "overwrite": "overwrite", "skip": "skip"}
_CONNECT_OPTIONS = ("index_options", "busy_timeout")
# pytidb's providers with keys; livevec has openai/ (any OpenAI-compatible server) and local/ models
_SESSION: ContextVar[Session | None] = ContextVar("livevec_pytidb_session", default=None)


class _RollbackError(Exception):
    """Thrown into a transaction to end it with a rollback."""


class Session:
    """What `client.session()` yields: a transaction that `commit()` and `rollback()` end.

    A new transaction starts at once after each, as a SQLAlchemy session's does.

    Parameters:
        database: the livevec `Database` the transaction is on.
    """

    def __init__(self, database: Database) -> None:
        self.database = database
        self._transaction: AbstractContextManager[None] | None = None
        self._begin()

    def _begin(self) -> None:
        transaction = self.database.transaction()
        transaction.__enter__()
        self._transaction = transaction

    def _end(self, exc: BaseException | None) -> None:
        transaction, self._transaction = self._transaction, None
        if transaction is not None:
            transaction.__exit__(type(exc) if exc else None, exc, exc.__traceback__ if exc else None)

    def commit(self) -> None:
        """Commit what the session wrote so far, and start a new transaction."""
        self._end(None)
        self._begin()

    def rollback(self) -> None:
        """Undo what the session wrote since the last commit, and start a new transaction."""
        self._end(_RollbackError())
        self._begin()


class TiDBClient:
    """A livevec `Database` (`client.database`) behind pytidb's client API.

    Usage:
        ```python
        from livevec.compat.pytidb import TiDBClient

        db = TiDBClient.connect("shop.db")          # or "postgresql://user:pass@host/db"
        table = db.create_table(schema=Product, if_exists="overwrite")
        ```

    Parameters:
        database: the livevec `Database`; `TiDBClient.connect(url)` opens one.
    """

    def __init__(self, database: Database) -> None:
        self.database = database
        self._engine: Any = None

    def __repr__(self) -> str:
        return f"<pytidb-compatible TiDBClient {self.database.backend.url!r}>"

    @classmethod
    def connect(
        cls,
        url: str | Path | None = None,
        *,
        host: str | None = None,
        port: int | None = None,
        username: str | None = None,
        password: str | None = None,
        database: str | None = None,
        enable_ssl: bool | None = None,
        ensure_db: bool = False,
        debug: bool | None = None,
        **kwargs: Any,
    ) -> TiDBClient:
        """Open the livevec store at `url`, as pytidb's `TiDBClient.connect` opens a database.

        As pytidb does with a URL, the server options (host, port, username, password, database,
        ensure_db...) are ignored.

        Parameters:
            url: a SQLite file path or a `postgresql://` URL.
            host: ignored (pytidb's server address).
            port: ignored.
            username: ignored.
            password: ignored.
            database: ignored.
            enable_ssl: ignored.
            ensure_db: ignored.
            debug: ignored.
            **kwargs: `index_options` and `busy_timeout`, for `livevec.connect`.

        Returns:
            The client.

        Raises:
            NotSupportedError: no `url` (connecting by host and port), or a `mysql://` or `tidb://` URL.
            ValidationError: another keyword option (pytidb's SQLAlchemy engine options).
        """
        if url is None:
            raise tidb_only(
                "connecting by host and port",
                "pass a livevec URL first, a SQLite file path or a postgresql:// URL",
            )
        if str(url).startswith(("mysql", "tidb")):
            raise tidb_only(
                f"the URL {str(url).split(':')[0]}://...", "use a SQLite file path or a postgresql:// URL"
            )
        unknown = [name for name in kwargs if name not in _CONNECT_OPTIONS]
        if unknown:
            raise ValidationError(
                "an SQLAlchemy engine option; livevec.connect takes index_options and busy_timeout",
                field=unknown[0],
            )
        return cls(connect(url, **kwargs))

    def disconnect(self) -> None:
        """Close the store and every table handle on it, and `db_engine` if it was made."""
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None
        self.database.close()

    @property
    def is_serverless(self) -> bool:
        """True: pytidb answers whether the server is TiDB Serverless, the only TiDB with full-text
        search, server-side embedding and columnar replicas on demand, and code (pytidb's tests among
        it) gates full-text and hybrid search on it. livevec has full-text search on every store, so
        such code must take its full-text path. What is truly TiDB's (server-side embedding, TiFlash
        replicas) raises `NotSupportedError` whatever this answers."""
        return True

    @property
    def db_engine(self) -> Any:
        """An SQLAlchemy engine on this client's database (livevec[compat]), made on first use and
        disposed of by `disconnect()`; writes through it reach livevec's change log and indexes.

        Raises:
            NotSupportedError: SQLAlchemy is not installed, or the database is in memory.
        """
        if self._engine is None:
            self._engine = sqlalchemy_engine(self.database.backend)
        return self._engine

    _db_engine = db_engine  # pytidb's private name, which its own tests use

    # --- tables -------------------------------------------------------------------------------

    def create_table(self, *, schema: type[TableModel], if_exists: str = "raise") -> Table:
        """Create the table a `TableModel` class describes.

        Parameters:
            schema: the `TableModel` class (`livevec.compat.pytidb.schema.TableModel`).
            if_exists: "raise" (a `TableExistsError`, the default), "overwrite" or "skip".

        Returns:
            The table.

        Raises:
            ValidationError: `if_exists` is none of the three.
            TableExistsError: the table exists and `if_exists` is "raise".
        """
        if if_exists not in _IF_EXISTS:
            raise ArgumentError(
                f"must be 'raise', 'overwrite' or 'skip', got {if_exists!r}", field="if_exists"
            )
        return Table(self, self.database.create_table(schema, if_exists=_IF_EXISTS[if_exists]))

    def open_table(self, table: str | type[TableModel]) -> Table | None:
        """The table of this name (or of this model class), or None if there is none.

        Rows come back as instances of the class last declared for the table in this process, if its
        fields match the table's; otherwise of a class made from the table itself.

        Parameters:
            table: the table's name, or its `TableModel` class.

        Returns:
            The table, or None.

        Raises:
            SchemaError: the class given has other fields than the table.
        """
        if isinstance(table, type):
            name, schema = table.__tablename__, table
        else:
            name, schema = table, model_for(table)
        try:
            return Table(self, self.database.open_table(name, schema=schema))
        except TableNotFoundError:
            return None
        except SchemaError:
            if schema is table:  # the caller's own class does not fit the table: say so
                raise
            return Table(self, self.database.open_table(name))

    def list_tables(self) -> list[str]:
        """The names of the store's tables.

        Returns:
            Their names, sorted.
        """
        return self.database.tables()

    def has_table(self, table_name: str) -> bool:
        """Whether the store has a table of this name.

        Parameters:
            table_name: the table's name.

        Returns:
            True if it has.
        """
        return table_name in self.database.tables()

    def drop_table(self, table_name: str, if_not_exists: str = "raise") -> None:
        """Drop a table.

        Parameters:
            table_name: the table's name.
            if_not_exists: "raise" (a `TableNotFoundError`, the default) or "skip".

        Raises:
            ValidationError: `if_not_exists` is neither.
            TableNotFoundError: there is no such table and `if_not_exists` is "raise".
        """
        if if_not_exists not in ("raise", "skip"):
            raise ArgumentError(f"must be 'raise' or 'skip', got {if_not_exists!r}", field="if_not_exists")
        if if_not_exists == "skip" and not self.has_table(table_name):
            return
        self.database.drop_table(table_name)

    # --- raw SQL and transactions -------------------------------------------------------------

    def _native(self, sql: Any, params: Any) -> tuple[str, Any]:
        if not isinstance(sql, str):
            raise ValidationError(
                f"expected SQL text or an SQLAlchemy statement, got {type(sql).__name__}", field="sql"
            )
        return native(
            sql, params, "sqlite" if isinstance(self.database.backend, SQLiteBackend) else "postgres"
        )

    def execute(self, sql: Any, params: Any = None, raise_error: bool = False) -> SQLExecuteResult:
        """Run one statement that writes: SQL text, or an SQLAlchemy statement (run on `db_engine`).

        Placeholders may be pytidb's `:name` with a dict or the MySQL driver's `%s` with a tuple: both are
        rewritten into the store's own. Inside `session()` a failure undoes only this statement.

        Parameters:
            sql: the statement, in SQLite's or PostgreSQL's SQL, or an SQLAlchemy `insert(...)` and such.
            params: a dict for `:name` placeholders, a tuple for `%s`.
            raise_error: raise a failure rather than return it.

        Returns:
            `rowcount`, `success` and, on failure, `message`.
        """
        try:
            if is_expression(sql):
                rowcount = self._on_engine(sql, params)[2]
            else:
                rowcount = self.database.execute(*self._native(sql, params))
        except LivevecError as exc:
            if raise_error:
                raise
            logger.error("Failed to execute SQL: %s", exc)
            return SQLExecuteResult(rowcount=0, success=False, message=str(exc))
        return SQLExecuteResult(rowcount=rowcount, success=True)

    def query(self, sql: Any, params: Any = None) -> SQLQueryResult:
        """Run one statement that reads: SQL text, or an SQLAlchemy `select(...)` (run on `db_engine`).

        Parameters:
            sql: the statement; placeholders as in `execute`.
            params: a dict for `:name` placeholders, a tuple for `%s`.

        Returns:
            The rows: `scalar()`, `one()`, `to_rows()`, `to_list()`, `to_pandas()`, `to_pydantic(Model)`.
        """
        if is_expression(sql):
            columns, rows, _ = self._on_engine(sql, params)
            return SQLQueryResult(SQLResult(columns, rows))
        return SQLQueryResult(self.database.query(*self._native(sql, params)))

    def _on_engine(self, statement: Any, params: Any) -> tuple[list[str], list[tuple], int]:
        """Run an SQLAlchemy statement (`select(Model.id)`, `insert(Model)`) on `db_engine`, whose
        writes reach livevec through the store's triggers: (columns, rows, rowcount)."""
        current = _SESSION.get()
        if current is not None and current.database is self.database:
            raise NotSupportedError(
                "an SQLAlchemy statement inside client.session(): it runs on db_engine's own connection, "
                "outside the session's transaction; give SQL text instead"
            )
        import sqlalchemy

        try:
            with self.db_engine.begin() as conn:
                # psycopg reports no rowcount for a compiled INSERT unless asked to keep it
                result = conn.execution_options(preserve_rowcount=True).execute(statement, params)
                if not result.returns_rows:
                    return [], [], result.rowcount
                return list(result.keys()), [tuple(row) for row in result], result.rowcount
        except sqlalchemy.exc.SQLAlchemyError as exc:
            raise StorageError(f"the SQLAlchemy statement failed: {exc}") from exc

    @contextmanager
    def session(self, provided_session: Any = None) -> Iterator[Session]:
        """A transaction around the block: committed at its end, rolled back if it raises.

        Everything the client and its tables do inside joins it; a `session()` inside is the same one.

        Usage:
            ```python
            with db.session() as session:
                db.execute("DELETE FROM products WHERE id = %s", (1,))
                table.insert(Product(id=1, name="Yoga Mat", description="A cork yoga mat"))
                session.commit()
            ```

        Parameters:
            provided_session: pytidb's SQLAlchemy session to join; not supported.

        Returns:
            A context manager that yields the `Session`.

        Raises:
            NotSupportedError: `provided_session`: livevec's writes cannot join an SQLAlchemy
                session's transaction, which runs on a connection of its own.
        """
        if provided_session is not None:
            raise NotSupportedError(
                "session(provided_session=...): livevec's writes run on its own connection and cannot "
                "join an SQLAlchemy session's transaction; use client.session() alone"
            )
        current = _SESSION.get()
        if current is not None and current.database is self.database:
            yield current
            return
        session = Session(self.database)
        token = _SESSION.set(session)
        try:
            yield session
        except BaseException as exc:
            session._end(exc)
            raise
        else:
            session._end(None)
        finally:
            _SESSION.reset(token)

    def configure_embedding_provider(self, provider: str, api_key: str | None) -> SQLExecuteResult:
        """Set a provider's API key for the `EmbeddingFunction`s made after this call.

        In pytidb it is TiDB's, for server-side embedding; here texts are embedded in this process.

        Parameters:
            provider: pytidb's provider name; livevec embeds with "openai" only.
            api_key: the key (None leaves the one set, or `OPENAI_API_KEY`).

        Returns:
            A successful `SQLExecuteResult`, as pytidb returns.

        Raises:
            ValidationError: a provider pytidb does not have.
            NotSupportedError: a provider livevec does not have (jina_ai, cohere...).
        """
        if provider not in PYTIDB_PROVIDERS:
            raise ValidationError(
                f"must be one of {list(PYTIDB_PROVIDERS)}, got {provider!r}", field="provider"
            )
        if provider not in registered_providers():
            raise provider_missing(provider)
        if api_key:
            embeddings.provider_api_keys[provider] = api_key
        return SQLExecuteResult(rowcount=0, success=True)
