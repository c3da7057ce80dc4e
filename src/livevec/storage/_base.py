"""The one interface every storage backend implements; `Table` talks to nothing else.

Rows cross this boundary as dicts of Python values (vectors as float32 numpy arrays on the way in,
lists of floats on the way out), and filters in the dict language of `livevec.filters`.
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from collections.abc import Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any

import numpy as np

from .._errors import TableNotFoundError
from .._schema import ColumnSpec, TableSpec, VectorSpec
from ..filters import Filters, quote
from ._changelog import Followers


@dataclass(frozen=True)
class Change:
    """One committed write, as followed by live pages and caches (`db.changes()`, `db.follow()`).

    Attributes:
        seq: its position in the change log; `db.changes(since=seq)` goes on after it.
        table: the table written.
        op: "insert", "update", "delete" or "reset" (the table was created, dropped or rebuilt).
        key: the primary key of the row; None for "reset".
        at: the unix time of the write.
    """

    seq: int
    table: str
    op: str  # "insert" | "update" | "delete" | "reset" (table created, dropped or rebuilt)
    key: Any  # primary key of the row; None for "reset"
    at: float  # unix time of the write


@dataclass(frozen=True)
class VectorSearch:
    """A nearest-neighbour request on one vector column."""

    column: str
    query: np.ndarray
    limit: int
    filters: Filters | None = None
    max_distance: float | None = None
    min_distance: float | None = None
    #: the columns the returned rows carry (None: every column); the primary key always
    columns: tuple[str, ...] | None = None

    def row_columns(self, spec: TableSpec) -> list[str]:
        """The names of the columns each returned row holds, as the backend reads them."""
        if self.columns is None:
            return spec.column_names
        pk = spec.primary_key.name
        return [pk, *(name for name in self.columns if name != pk)]


@dataclass(frozen=True)
class FulltextSearch:
    """A keyword request on the table's full-text columns (those declared `Field(fulltext=True)`).

    `query` is the user's text as typed: a backend treats it as plain words, never as its own query
    syntax, so no input can make the search fail. A row matches when it contains any of the words.
    """

    query: str
    limit: int
    filters: Filters | None = None


# (primary key, the source texts the fix was computed from, the new vector or None to keep the
# stored one, the hash of the text): a stale row's fix, applied only if its texts are still those
StaleFix = tuple[Any, dict[str, Any], "np.ndarray | None", bytes]


class Backend(ABC):
    """Storage for tables, their vectors, the embedding cache and the change feed."""

    url: str
    followers: Followers  # this process's followers of the change log, which pruning spares

    # tables
    @abstractmethod
    def table_names(self) -> list[str]: ...

    @abstractmethod
    def load_spec(self, name: str) -> TableSpec | None: ...

    @abstractmethod
    def create_table(self, spec: TableSpec) -> None: ...

    @abstractmethod
    def drop_table(self, name: str) -> None: ...

    def match_indexes(self, name: str, columns: list[ColumnSpec]) -> TableSpec:
        """Give the table the filter indexes `columns` ask for (`Field(index=...)`: the columns as
        stored but for their `index` and `paths`): create those it lacks, drop those no longer
        asked for, store the spec, in one transaction. Returns the spec stored."""
        with self.transaction():
            stored = self.load_spec(name)
            if stored is None:
                raise TableNotFoundError(f"table {name!r} does not exist")
            for old, new in zip(stored.columns, columns, strict=True):
                have, want = self._filter_indexes(name, old), self._filter_indexes(name, new)
                for index in have.keys() - want.keys():
                    self._execute(f"DROP INDEX IF EXISTS {index}")
                for index in want.keys() - have.keys():
                    self._execute(f"CREATE INDEX {index} ON {quote(name)} ({want[index]})")
            stored.columns = list(columns)
            self._save_spec(stored)
        return stored

    @abstractmethod
    def _filter_indexes(self, table: str, column: ColumnSpec) -> dict[str, str]:
        """The filter indexes `Field(index=...)` asks of a column: {quoted name: what it indexes}."""

    @abstractmethod
    def _save_spec(self, spec: TableSpec) -> None:
        """Store `spec` as the table's schema (inside the caller's transaction)."""

    @abstractmethod
    def _execute(self, sql: str, params: Any = ...) -> Any:
        """Run a statement inside the current transaction."""

    # writes: all-or-nothing; nested transactions become savepoints
    @abstractmethod
    def transaction(self) -> AbstractContextManager[None]: ...

    @property
    @abstractmethod
    def closed(self) -> bool:
        """Was `close()` called? A closed store refuses every use (`DatabaseClosedError`)."""

    @abstractmethod
    def in_transaction(self) -> bool:
        """Is the calling thread inside its own `transaction()`?"""

    def bulk_load(self, spec: TableSpec) -> AbstractContextManager[None]:
        """A transaction around a large load into the table: a backend may build its indexes at the end."""
        return self.transaction()

    @abstractmethod
    def insert(self, spec: TableSpec, rows: list[dict[str, Any]], *, upsert: bool = False) -> list[Any]:
        """Write rows; return their primary keys (keys left None are assigned by the store)."""

    @abstractmethod
    def update(self, spec: TableSpec, values: dict[str, Any], filters: Filters | None) -> int: ...

    @abstractmethod
    def delete(self, spec: TableSpec, filters: Filters | None) -> int: ...

    # reads
    @abstractmethod
    def select(
        self,
        spec: TableSpec,
        filters: Filters | None = None,
        *,
        columns: list[str] | None = None,
        order_by: list[tuple[str, bool]] | None = None,
        limit: int | None = None,
        offset: int = 0,
    ) -> list[dict[str, Any]]:
        """Rows matching `filters`; `order_by` is [(column, descending)], primary key by default."""

    @abstractmethod
    def count(self, spec: TableSpec, filters: Filters | None = None) -> int: ...

    @abstractmethod
    def vector_search(self, spec: TableSpec, request: VectorSearch) -> list[tuple[dict[str, Any], float]]:
        """Rows nearest first with their distance; ties broken by primary key."""

    @abstractmethod
    def fulltext_search(self, spec: TableSpec, request: FulltextSearch) -> list[tuple[dict[str, Any], float]]:
        """Rows matching any word of the query, best first, with a BM25-style relevance score.

        Scores are positive and higher is better; they compare rows of one query only. Ties are broken
        by primary key. A query with no words returns no rows. The index behind it is kept in step with
        every write, inside the write's own transaction.
        """

    # stale vectors: rows whose source text was changed by a write that did not embed it
    @abstractmethod
    def ensure_hashes(self, spec: TableSpec) -> None:
        """Add the hidden text-hash columns (and what keeps them) to a table made without them."""

    @abstractmethod
    def search_state(self, spec: TableSpec, vector: VectorSpec | None) -> tuple[Any, bool]:
        """What a search checks first, in one read: the stored spec as the store keeps it (equal
        values for an unchanged spec) and whether `vector` has stale rows."""

    @abstractmethod
    def stale_rows(self, spec: TableSpec, vector: VectorSpec, limit: int) -> list[dict[str, Any]]:
        """Up to `limit` rows (primary key and source fields) whose hash of `vector` is missing: their
        text was written by a client that did not embed it (or by a livevec older than hashes)."""

    @abstractmethod
    def set_vectors(self, spec: TableSpec, vector: VectorSpec, items: list[StaleFix]) -> int:
        """Store each fix in one transaction, on rows still stale with the same texts; how many."""

    # reembed: new vectors for a column, filled beside it in a shadow table, then swapped in at once
    @abstractmethod
    def reembed_begin(self, spec: TableSpec, target: VectorSpec) -> bool:
        """Record that `target.name` is being re-embedded into `target` (in the stored spec's
        `reembedding`) and make its shadow table (key, hash, vector); one that holds vectors for
        another target is emptied first. True if it starts from nothing."""

    @abstractmethod
    def reembed_todo(
        self, spec: TableSpec, vector: VectorSpec, after: Any, limit: int
    ) -> list[dict[str, Any]]:
        """Up to `limit` rows (primary key and source fields) with a key above `after` (None: from the
        first), by key, whose shadow vector is missing or was embedded from another text than the
        row's current one (rows without a text hash, stale ones, are left to `Table.refresh`)."""

    @abstractmethod
    def reembed_store(self, spec: TableSpec, vector: VectorSpec, items: list[tuple[Any, Any, bytes]]) -> None:
        """Keep (key, new vector or None, hash of the text) in the shadow table, in one transaction."""

    @abstractmethod
    def reembed_progress(self, spec: TableSpec, vector: VectorSpec) -> tuple[int, int]:
        """(rows whose shadow vector is up to date, rows)."""

    @abstractmethod
    def reembed_finish(self, spec: TableSpec, target: VectorSpec) -> int:
        """In one transaction: if every row's shadow vector is up to date, put the shadow vectors in
        the column, record `target` in the stored spec, drop the shadow table and log a reset of the
        table; return how many rows are not up to date (0: swapped)."""

    # raw SQL (`db.execute`, `db.query`): the store's own dialect and placeholders
    @abstractmethod
    def execute(self, sql: str, params: list[Any] | dict[str, Any] | None) -> int:
        """Run one statement in a transaction (joining the open one); the rows it changed, 0 if none."""

    @abstractmethod
    def query(self, sql: str, params: list[Any] | dict[str, Any] | None) -> tuple[list[str], list[tuple]]:
        """Run one statement that reads: its column names and its rows."""

    # embedding cache (see EmbeddingCache)
    @abstractmethod
    def get_embeddings(self, model_key: str, hashes: list[bytes]) -> dict[bytes, np.ndarray]: ...

    @abstractmethod
    def put_embeddings(self, model_key: str, items: list[tuple[bytes, np.ndarray]]) -> None: ...

    # change feed
    @abstractmethod
    def changes(self, since: int, limit: int = 1000) -> list[Change]:
        """Committed changes with seq > since, oldest first.

        Raises:
            ChangeLogGapError: entries after `since` were pruned; start over from the tables.
        """

    @abstractmethod
    def last_change(self) -> int:
        """The newest change's seq (0 when none): where a new follower starts."""

    @abstractmethod
    def wait_for_indexes(self) -> None:
        """Return once every vector column's index is complete, as searches will use it. A store
        whose indexes are built inside each write (PostgreSQL's) has nothing to wait for."""

    @abstractmethod
    def publish_followers(self) -> None:
        """Record, for writers in other processes, the position of this process's slowest follower
        (see `_changelog`); a store that would have to wait to write it skips it this time."""

    def wait_for_change(self, since: int, timeout: float) -> None:
        """Return once a change after `since` may have been committed, or after `timeout` seconds.

        A store that cannot notify just waits the timeout out; callers read the feed again either way.
        """
        time.sleep(timeout)

    def follow(self, since: int, poll_interval: float = 0.1) -> Iterator[Change]:
        """Changes as they are committed, from any process; blocks between them (`poll_interval`
        seconds at most: a store that notifies wakes up at once)."""
        while True:
            batch = self.changes(since)
            for change in batch:
                since = change.seq
                yield change
            if not batch:
                self.wait_for_change(since, poll_interval)

    @abstractmethod
    def close(self) -> None: ...
