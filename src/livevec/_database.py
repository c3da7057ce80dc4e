"""`connect()` and `Database`: the tables of one store."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from ._errors import SchemaError, TableExistsError, TableNotFoundError, ValidationError
from ._schema import TableModel, TableSpec, VectorMarker, model_from_spec
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

    `index_options` tune how the SQLite store indexes vectors in memory (exact scan or HNSW graph).
    `busy_timeout`: seconds a write waits for another process's write to finish before it raises
    `StorageError` (30 by default); reads and searches never wait for writes.

        db = livevec.connect("shop.db", busy_timeout=5)
    """
    return Database(open_backend(url, index_options, busy_timeout))


class Database:
    def __init__(self, backend: Backend) -> None:
        self.backend = backend

    def __repr__(self) -> str:
        return f"<Database {self.backend.url!r}>"

    def __enter__(self) -> Database:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        from .live import close_live_queries

        close_live_queries(self.backend)
        self.backend.close()

    def tables(self) -> list[str]:
        return self.backend.table_names()

    def create_table(
        self, schema: type[TableModel], *, if_exists: IfExists = "fail", name: str | None = None
    ) -> Table:
        """Create the table `schema` describes; `if_exists` is "fail", "overwrite" or "skip"."""
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
        """An existing table; pass its `schema` class to get instances of it from `to_pydantic()`."""
        spec = self.backend.load_spec(name)
        if spec is None:
            raise TableNotFoundError(f"table {name!r} does not exist; tables: {self.tables()}")
        if schema is not None:
            given = TableSpec.from_model(schema, name)
            if given.columns != spec.columns:
                differ = [c.name for c in given.columns if c not in spec.columns] or spec.column_names
                raise SchemaError(
                    f"table {name!r} exists with other columns than {schema.__name__} (see {differ}); "
                    "open it without a schema, or recreate it with if_exists='overwrite'"
                )
            self.backend.ensure_hashes(spec)
            table = Table(self.backend, spec, schema, _embedding_functions(schema))
            table._adopt(spec)  # the stored model wins: a reembed may have changed it
            return table
        self.backend.ensure_hashes(spec)
        embeddings = {v.name: EmbeddingFunction(v.model, **v.model_options) for v in spec.vectors if v.model}
        return Table(self.backend, spec, model_from_spec(spec), embeddings)

    def drop_table(self, name: str) -> None:
        if self.backend.load_spec(name) is None:
            raise TableNotFoundError(f"table {name!r} does not exist; tables: {self.tables()}")
        self.backend.drop_table(name)

    def wait_for_indexes(self) -> None:
        """Block until every vector column's index is complete: after a bulk load, before measuring.

        On SQLite a column's graph is built in the background as rows arrive (and at the first
        search of a column this process has not written); this loads every column that is not
        loaded yet and moves every waiting row into its graph. Searches never need it: they are
        exact meanwhile, only slower. On PostgreSQL, pgvector's indexes are complete at each commit.

            table.insert(rows)          # a large load
            db.wait_for_indexes()       # the graphs are built
        """
        self.backend.wait_for_indexes()

    def transaction(self) -> AbstractContextManager[None]:
        """Writes inside the block commit together or not at all."""
        return self.backend.transaction()

    def execute(self, sql: str, params: Params = None) -> int:
        """Run one SQL statement that writes; returns how many rows it changed.

        Placeholders are the store's own: `?` or `:name` on SQLite, `%s` or `%(name)s` on PostgreSQL,
        with `params` a sequence or a mapping. The statement runs in a transaction, or joins the open
        `db.transaction()`. Rows it changes enter the change log like any other write, so indexes and
        live pages follow them; a source text changed this way is embedded again before the next
        search of its table ranks, or by the follower of live queries (see `Table.refresh`).

            db.execute("DELETE FROM products WHERE price > ?", [100])
        """
        return self.backend.execute(_check_sql(sql), _check_params(params))

    def query(self, sql: str, params: Params = None) -> SQLResult:
        """Run one SQL statement that reads (placeholders as in `execute`); values come as the store
        keeps them (a vector as bytes on SQLite, a bool as 0 or 1).

            db.query("SELECT category, count(*) AS n FROM products GROUP BY category").to_list()
        """
        return SQLResult(*self.backend.query(_check_sql(sql), _check_params(params)))

    def changes(self, since: int = 0, limit: int = 1000) -> list[Change]:
        """Committed changes after `since` (a `Change.seq`), from every process."""
        return self.backend.changes(since, limit)

    def last_change(self) -> int:
        return self.backend.last_change()

    def wait_for_change(self, since: int, timeout: float) -> None:
        """Block until a change after `since` may have been committed (at once on PostgreSQL, which
        notifies), or for `timeout` seconds; then read it with `changes(since)`."""
        self.backend.wait_for_change(since, timeout)

    def follow(self, since: int | None = None) -> Iterator[Change]:
        """Block and yield changes as they are committed; starts at the newest by default."""
        return self.backend.follow(self.last_change() if since is None else since)


class SQLResult:
    """The rows of `db.query(...)`: iterate for dicts, or `.to_list()`, `.to_pandas()`, `.rows` (tuples)."""

    def __init__(self, columns: list[str], rows: list[tuple]) -> None:
        self.columns = columns
        self.rows = rows

    def __len__(self) -> int:
        return len(self.rows)

    def __iter__(self) -> Iterator[dict[str, Any]]:
        return (dict(zip(self.columns, row, strict=True)) for row in self.rows)

    def to_list(self) -> list[dict[str, Any]]:
        return list(self)

    def to_pandas(self) -> pandas.DataFrame:
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


def _embedding_functions(schema: type[TableModel]) -> dict[str, EmbeddingFunction]:
    found = {}
    for name, info in schema.model_fields.items():
        marker = next((m for m in info.metadata if isinstance(m, VectorMarker)), None)
        if marker is not None and marker.embedding is not None:
            found[name] = marker.embedding
    return found
