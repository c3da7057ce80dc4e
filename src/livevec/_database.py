"""`connect()` and `Database`: the tables of one store."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from ._errors import SchemaError, TableExistsError, TableNotFoundError, ValidationError
from ._schema import ColumnSpec, TableModel, TableSpec, VectorMarker, model_from_spec
from ._table import Table
from .embeddings import EmbeddingFunction
from .storage import Backend, Change, IndexOptions, open_backend

if TYPE_CHECKING:
    import pandas

IfExists = Literal["fail", "overwrite", "skip"]
Params = Sequence[Any] | Mapping[str, Any] | None


def connect(
    url: str | Path = ":memory:",
    *,
    index_options: IndexOptions | None = None,
    busy_timeout: float | None = None,
) -> Database:
    """Open a store: a SQLite file path (or ":memory:"), or a `postgresql://` URL.

    Usage:
        ```python
        db = livevec.connect("shop.db", busy_timeout=5)
        db = livevec.connect("postgresql://user:password@db-host:5432/shop?hnsw_ef_search=100")
        ```

    Parameters:
        url: a SQLite file (created if missing), ":memory:", or a `postgresql://` URL whose query may
            set `hnsw_m`, `hnsw_ef_construction`, `hnsw_ef_search`, `pool_size` and `busy_timeout`.
        index_options: how the SQLite store indexes vectors in memory (exact scan or HNSW graph).
        busy_timeout: seconds a write waits for another process's write to finish before it raises
            `StorageError` (30 by default); reads and searches never wait for writes.

    Returns:
        The open `Database`; close it (or use it in a `with` block) when done.

    Raises:
        StorageError: the store cannot be opened (a folder that is not there, a server that does not
            answer).
    """
    return Database(open_backend(url, index_options, busy_timeout))


class Database:
    """The tables of one store, SQLite or PostgreSQL, with raw SQL, transactions and the change log.

    Made by `livevec.connect()`; a context manager that closes the store on leaving the block.

    Usage:
        ```python
        with livevec.connect("shop.db") as db:
            table = db.create_table(schema=Product, if_exists="skip")
            with db.transaction():
                table.insert(rows)
        ```

    Parameters:
        backend: the open store (`connect()` opens it).
    """

    def __init__(self, backend: Backend) -> None:
        self.backend = backend

    def __repr__(self) -> str:
        return f"<Database {self.backend.url!r}>"

    def __enter__(self) -> Database:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the store, its live queries and every table handle: later uses raise `DatabaseClosedError`."""
        from .live import close_live_queries

        close_live_queries(self.backend)
        self.backend.close()

    def tables(self) -> list[str]:
        """The tables livevec made in this store (not its bookkeeping, nor other clients' tables).

        Returns:
            Their names, sorted.
        """
        return self.backend.table_names()

    def create_table(
        self, schema: type[TableModel], *, if_exists: IfExists = "fail", name: str | None = None
    ) -> Table:
        """Create the table `schema` describes, with its indexes and change-log triggers.

        Usage:
            ```python
            table = db.create_table(schema=Product, if_exists="overwrite")
            ```

        Parameters:
            schema: a `TableModel` subclass; its `__tablename__` names the table.
            if_exists: what to do when the table exists: "fail" (the default), "overwrite" (drop it and
                create it again, empty) or "skip" (open it as it is).
            name: the table's name, in place of the class's `__tablename__`.

        Returns:
            The `Table`.

        Raises:
            ValidationError: `if_exists` is none of the three, or `schema` is not a `TableModel` subclass.
            TableExistsError: the table exists and `if_exists` is "fail".
            SchemaError: the schema cannot be stored (see `TableModel`), or with "skip", the table exists
                with other columns.
        """
        if if_exists not in ("fail", "overwrite", "skip"):
            raise ValidationError(
                f"must be 'fail', 'overwrite' or 'skip', got {if_exists!r}", field="if_exists"
            )
        if not (isinstance(schema, type) and issubclass(schema, TableModel)):
            raise ValidationError(f"expected a TableModel subclass, got {schema!r}", field="schema")
        spec = TableSpec.from_model(schema, name)
        if self.backend.load_spec(spec.name) is not None:
            if if_exists == "fail":
                raise TableExistsError(
                    f"table {spec.name!r} already exists (if_exists='overwrite' replaces it)"
                )
            if if_exists == "skip":
                return self.open_table(spec.name, schema=schema)
        with self.backend.transaction():
            if if_exists == "overwrite":
                self.backend.drop_table(spec.name)
            self.backend.create_table(spec)
        return Table(self.backend, spec, schema, _embedding_functions(schema))

    def open_table(self, name: str, *, schema: type[TableModel] | None = None) -> Table:
        """An existing table, with the embedding models stored with it.

        Parameters:
            name: the table's name.
            schema: its `TableModel` class, to get instances of it from `to_pydantic()`; without it a
                model is made from the stored schema. Its columns must be the table's; its filter
                indexes (`Field(index=...)`) may differ: the table is given the model's.

        Returns:
            The `Table`.

        Raises:
            ValidationError: `name` is not a str (a model class goes in `schema`).
            TableNotFoundError: there is no such table.
            SchemaError: `schema` has other columns than the stored table.
        """
        spec = self.backend.load_spec(_table_name(name, "open_table"))
        if spec is None:
            raise TableNotFoundError(f"table {name!r} does not exist; tables: {self.tables()}")
        if schema is not None:
            given = TableSpec.from_model(schema, name)
            if [_unindexed(c) for c in given.columns] != [_unindexed(c) for c in spec.columns]:
                differ = [c.name for c in given.columns if c not in spec.columns] or spec.column_names
                raise SchemaError(
                    f"table {name!r} exists with other columns than {schema.__name__} (see {differ}); "
                    "open it without a schema, or recreate it with if_exists='overwrite'"
                )
            if given.columns != spec.columns:  # Field(index=...) changed: the model's indexes win
                spec = self.backend.match_indexes(name, given.columns)
            self.backend.ensure_hashes(spec)
            table = Table(self.backend, spec, schema, _embedding_functions(schema))
            table._adopt(spec)  # the stored model wins: a reembed may have changed it
            return table
        self.backend.ensure_hashes(spec)
        embeddings = {v.name: EmbeddingFunction(v.model, **v.model_options) for v in spec.vectors if v.model}
        return Table(self.backend, spec, model_from_spec(spec), embeddings)

    def drop_table(self, name: str) -> None:
        """Drop a table, its rows, indexes and change-log triggers.

        Parameters:
            name: the table's name.

        Raises:
            ValidationError: `name` is not a str.
            TableNotFoundError: there is no such table.
        """
        if self.backend.load_spec(_table_name(name, "drop_table")) is None:
            raise TableNotFoundError(f"table {name!r} does not exist; tables: {self.tables()}")
        self.backend.drop_table(name)

    def wait_for_indexes(self) -> None:
        """Block until every vector column's index is complete: after a bulk load, before measuring.

        On SQLite a column's graph is built in the background as rows arrive (and at the first
        search of a column this process has not written); this loads every column that is not
        loaded yet, moves every waiting row into its graph, rebuilds in one call a graph of
        150,000 rows or more that was mostly grown in steps (which the background thread does
        once the column is quiet: a graph grown in steps finds less), and writes a graph file that
        is due, so that none of this runs after it returns. Searches never need it: they
        are exact meanwhile, only slower. On PostgreSQL, pgvector's indexes are complete at each
        commit.

            table.insert(rows)          # a large load
            db.wait_for_indexes()       # the graphs are built
        """
        self.backend.wait_for_indexes()

    def transaction(self) -> AbstractContextManager[None]:
        """Writes inside the block commit together or not at all; nested blocks are savepoints.

        Usage:
            ```python
            with db.transaction():
                table.insert(rows)
                table.delete(filters={"category": "old"})
            ```

        Returns:
            A context manager: the block commits when it ends, and rolls back if it raises.
        """
        return self.backend.transaction()

    def execute(self, sql: str, params: Params = None) -> int:
        """Run one SQL statement that writes.

        Placeholders are the store's own: `?` or `:name` on SQLite, `%s` or `%(name)s` on PostgreSQL,
        with `params` a sequence or a mapping. The statement runs in a transaction, or joins the open
        `db.transaction()`. Rows it changes enter the change log like any other write, so indexes and
        live pages follow them; a source text changed this way is embedded again before the next
        search of its table ranks, or by the follower of live queries (see `Table.refresh`).

        Usage:
            ```python
            db.execute("DELETE FROM products WHERE price > ?", [100])
            ```

        Parameters:
            sql: the statement.
            params: its parameters: a sequence for positional placeholders, a mapping for named ones.

        Returns:
            How many rows it changed.

        Raises:
            ValidationError: `sql` is empty or not text, or `params` neither a sequence nor a mapping.
            StorageError: the store refused the statement (its error is the `__cause__`).
        """
        return self.backend.execute(_check_sql(sql), _check_params(params))

    def query(self, sql: str, params: Params = None) -> SQLResult:
        """Run one SQL statement that reads.

        Values come as the store keeps them (a vector as bytes on SQLite, a bool as 0 or 1).

        Usage:
            ```python
            db.query("SELECT category, count(*) AS n FROM products GROUP BY category").to_list()
            ```

        Parameters:
            sql: the statement; placeholders as in `execute`.
            params: its parameters: a sequence or a mapping.

        Returns:
            An `SQLResult`: iterate it for dicts, or `.to_list()`, `.to_pandas()`, `.rows`.

        Raises:
            ValidationError: `sql` is empty or not text, or `params` neither a sequence nor a mapping.
            StorageError: the store refused the statement.
        """
        return SQLResult(*self.backend.query(_check_sql(sql), _check_params(params)))

    def changes(self, since: int = 0, limit: int = 1000) -> list[Change]:
        """Committed changes after `since`, from every process, oldest first.

        Parameters:
            since: a `Change.seq` (0: from the start of the log).
            limit: at most this many.

        Returns:
            The changes, at most `limit`.

        Raises:
            ChangeLogGapError: the log was pruned past `since`: read the tables again.
        """
        return self.backend.changes(since, limit)

    def last_change(self) -> int:
        """The newest change's `seq` (0 when there is none).

        Returns:
            The sequence number of the last committed change.
        """
        return self.backend.last_change()

    def wait_for_change(self, since: int, timeout: float) -> None:
        """Block until a change after `since` may have been committed, or for `timeout` seconds.

        At once on PostgreSQL, which notifies; SQLite is polled. Then read it with `changes(since)`.

        Parameters:
            since: a `Change.seq`.
            timeout: the longest wait, in seconds.
        """
        self.backend.wait_for_change(since, timeout)

    def follow(self, since: int | None = None) -> Iterator[Change]:
        """Block and yield changes as they are committed, by any process, for as long as it is iterated.

        Usage:
            ```python
            for change in db.follow():
                print(change.op, change.table, change.key)
            ```

        Parameters:
            since: a `Change.seq` to start after; the newest change by default.

        Returns:
            An endless iterator of `Change`s.
        """
        return self.backend.follow(self.last_change() if since is None else since)


class SQLResult:
    """The rows of `db.query(...)`: iterate for dicts, or `.to_list()`, `.to_pandas()`, `.rows` (tuples).

    Parameters:
        columns: the column names, in order.
        rows: one tuple per row.
    """

    def __init__(self, columns: list[str], rows: list[tuple]) -> None:
        self.columns = columns
        self.rows = rows

    def __len__(self) -> int:
        return len(self.rows)

    def __iter__(self) -> Iterator[dict[str, Any]]:
        return (dict(zip(self.columns, row, strict=True)) for row in self.rows)

    def to_list(self) -> list[dict[str, Any]]:
        """The rows as dicts, column name to value.

        Returns:
            One dict per row.
        """
        return list(self)

    def to_pandas(self) -> pandas.DataFrame:
        """The rows as a pandas DataFrame.

        Returns:
            A DataFrame with the statement's columns.
        """
        import pandas

        return pandas.DataFrame(self.rows, columns=self.columns)


def _check_sql(sql: Any) -> str:
    if not isinstance(sql, str) or not sql.strip():
        raise ValidationError(f"expected the text of one SQL statement, got {sql!r}", field="sql")
    return sql


def _check_params(params: Any) -> list[Any] | dict[str, Any] | None:
    if params is None or isinstance(params, Mapping):
        return None if params is None else dict(params)
    if isinstance(params, Sequence) and not isinstance(params, str | bytes):
        return list(params)
    raise ValidationError(f"expected a sequence or a mapping, got {type(params).__name__}", field="params")


def _table_name(name: Any, verb: str) -> str:
    """`name` if it is a table's name, else a ValidationError saying what was given instead."""
    if isinstance(name, str):
        return name
    if isinstance(name, type) and issubclass(name, TableModel):
        table = getattr(name, "__tablename__", None) or "<name>"
        raise ValidationError(
            f"{verb} takes the table's name, got the model class {name.__name__}: "
            f"{verb}({table!r}{', schema=' + name.__name__ if verb == 'open_table' else ''})",
            field="name",
        )
    raise ValidationError(f"expected a table name (a str), got {type(name).__name__}", field="name")


def _embedding_functions(schema: type[TableModel]) -> dict[str, EmbeddingFunction]:
    found = {}
    for name, info in schema.model_fields.items():
        marker = next((m for m in info.metadata if isinstance(m, VectorMarker)), None)
        if marker is not None and marker.embedding is not None:
            found[name] = marker.embedding
    return found


def _unindexed(column: ColumnSpec) -> ColumnSpec:
    """`column` without its filter indexes, which a model may change on a table that exists."""
    return dataclasses.replace(column, index=False, paths=())
