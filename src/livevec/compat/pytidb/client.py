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

from ..._database import Database, connect
from ..._errors import LivevecError, SchemaError, TableNotFoundError, ValidationError
from ..._schema import TableModel
from ...storage import SQLiteBackend
from . import embeddings
from ._errors import NotSupportedError, tidb_only
from ._sql import native
from .result import SQLExecuteResult, SQLQueryResult
from .schema import model_for
from .table import Table

logger = logging.getLogger("livevec")
_IF_EXISTS = {"raise": "fail", "overwrite": "overwrite", "skip": "skip"}
_CONNECT_OPTIONS = ("index_options", "busy_timeout")
# pytidb's providers with keys; livevec has openai/ (any OpenAI-compatible server) and local/ models
_PROVIDERS = ("openai", "jina_ai", "cohere", "huggingface", "nvidia_nim", "gemini")
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
        """Close the store and every table handle on it."""
        self.database.close()

    @property
    def db_engine(self) -> Any:
        raise NotSupportedError(
            "db_engine: livevec has no SQLAlchemy engine; client.database is the livevec Database, "
            "and client.execute() / client.query() run SQL"
        )

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
            raise ValidationError(
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
            raise ValidationError(f"must be 'raise' or 'skip', got {if_not_exists!r}", field="if_not_exists")
        if if_not_exists == "skip" and not self.has_table(table_name):
            return
        self.database.drop_table(table_name)

    # --- raw SQL and transactions -------------------------------------------------------------

    def _native(self, sql: Any, params: Any) -> tuple[str, Any]:
        if not isinstance(sql, str):
            raise ValidationError(
                f"expected SQL text (livevec has no SQLAlchemy), got {type(sql).__name__}", field="sql"
            )
        return native(
            sql, params, "sqlite" if isinstance(self.database.backend, SQLiteBackend) else "postgres"
        )

    def execute(self, sql: str, params: Any = None, raise_error: bool = False) -> SQLExecuteResult:
        """Run one statement that writes.

        Placeholders may be pytidb's `:name` with a dict or the MySQL driver's `%s` with a tuple: both are
        rewritten into the store's own. Inside `session()` a failure undoes only this statement.

        Parameters:
            sql: the statement, in SQLite's or PostgreSQL's SQL.
            params: a dict for `:name` placeholders, a tuple for `%s`.
            raise_error: raise a failure rather than return it.

        Returns:
            `rowcount`, `success` and, on failure, `message`.
        """
        try:
            rowcount = self.database.execute(*self._native(sql, params))
        except LivevecError as exc:
            if raise_error:
                raise
            logger.error("Failed to execute SQL: %s", exc)
            return SQLExecuteResult(rowcount=0, success=False, message=str(exc))
        return SQLExecuteResult(rowcount=rowcount, success=True)

    def query(self, sql: str, params: Any = None) -> SQLQueryResult:
        """Run one statement that reads.

        Parameters:
            sql: the statement; placeholders as in `execute`.
            params: a dict for `:name` placeholders, a tuple for `%s`.

        Returns:
            The rows: `scalar()`, `one()`, `to_rows()`, `to_list()`, `to_pandas()`, `to_pydantic(Model)`.
        """
        return SQLQueryResult(self.database.query(*self._native(sql, params)))

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A transaction around the block: committed at its end, rolled back if it raises.

        Everything the client and its tables do inside joins it; a `session()` inside is the same one.

        Usage:
            ```python
            with db.session() as session:
                db.execute("DELETE FROM products WHERE id = %s", (1,))
                table.insert(Product(id=1, name="Yoga Mat", description="A cork yoga mat"))
                session.commit()
            ```

        Returns:
            A context manager that yields the `Session`.
        """
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
        if provider not in _PROVIDERS:
            raise ValidationError(f"must be one of {list(_PROVIDERS)}, got {provider!r}", field="provider")
        if provider != "openai":
            raise NotSupportedError(
                f"livevec has no {provider} provider: use an openai/ model (api_base= any OpenAI-compatible "
                "server), a local/ model, or livevec.register_provider()"
            )
        if api_key:
            embeddings.provider_api_keys[provider] = api_key
        return SQLExecuteResult(rowcount=0, success=True)
