"""The embedded store: one SQLite file (WAL) holds rows, vectors, the embedding cache and a change log.

Every table gets triggers that append to `_livevec_changes`, so a write made by any process (or any
SQLite client) is visible in the log. Each vector column's in-memory index (`_sqlite_index`) remembers
the last change it applied; it applies our own writes right after they commit and catches up from the
log before every search, so a search always sees committed writes.

A table with `Field(fulltext=True)` columns also gets an FTS5 index (`_livevec_fts_<table>`, external
content, BM25 ranking) that triggers keep in step inside each write's own transaction.

The change log follows the contract in `_changelog`: pruned at commit, never past a registered
follower, and a reader whose position was pruned gets `ChangeLogGapError` rather than a silent gap.

Lock order (a thread holding one may take those below it, never those above):
    `SQLiteBackend._lock` (the writer connection, the transaction) > `ColumnIndex.lock` >
    `_indexes_lock`, `_pool_lock`, `_commits`, `Followers._lock` (leaves: nothing is taken under them)
Readers never take `_lock` (outside their own thread's transaction): a search never waits for a write.
"""

from __future__ import annotations

import atexit
import contextlib
import datetime as dt
import json
import logging
import re
import secrets
import sqlite3
import threading
import time
import weakref
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np

from .._errors import (
    ChangeLogGapError,
    DatabaseClosedError,
    DuplicateKeyError,
    LivevecError,
    SchemaError,
    StorageError,
    ValidationError,
)
from .._json_filters import INDEXED_KINDS
from .._json_filters import SQLITE as SQLITE_JSON
from .._schema import ColumnSpec, TableSpec, VectorSpec
from ..filters import Filters, compile_filters, quote
from . import _changelog
from ._base import Backend, Change, FulltextSearch, StaleFix, VectorSearch
from ._sqlite_index import LOAD_ON_WRITE_ROWS, ColumnIndex, newest_change
from .vector_index import IndexOptions

_SQL_TYPES = {
    "int": "INTEGER",
    "float": "REAL",
    "str": "TEXT",
    "bool": "INTEGER",
    "datetime": "TEXT",
    "date": "TEXT",
    "json": "TEXT",
    "vector": "BLOB",
}
_NOW = "((julianday('now') - 2440587.5) * 86400.0)"
# porter: "speakers" finds "speaker"; remove_diacritics: "cafe" finds "café"
_FTS_TOKENIZER = "porter unicode61 remove_diacritics 2"
_FTS_RESERVED = {"rank", "rowid"}  # FTS5 column names that cannot be used
_WORD = re.compile(r"\w+")
_MAX_QUERY_WORDS = 64
# idle reader connections kept open
_POOLED_READERS = 8
# each reader's own page cache, in KiB (SQLite's default is 2 MiB). A search reads its rows by rowid
# through the table's B-tree; its inner pages (about 7 MB at a million 384-d rows) and the rows
# searched often stay here, in the process, where an operating system that drops its file cache
# (a VM that hands memory back to its host: every minute on the machines benchmarked) cannot take
# them: at 1M rows, p50 2.91 against 4.03 ms per search once the cache has filled (benchmarks/
# cold_pages.py). It fills only as pages are read, and a commit by another connection empties it
# (SQLite's WAL rule: right after a write both sizes read as much)
_READER_CACHE_KIB = 64 * 1024
logger = logging.getLogger("livevec")

_META = """
CREATE TABLE IF NOT EXISTS _livevec_meta (name TEXT PRIMARY KEY, value);
CREATE TABLE IF NOT EXISTS _livevec_tables (name TEXT PRIMARY KEY, spec TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS _livevec_embeddings (
    model TEXT NOT NULL, hash BLOB NOT NULL, vector BLOB NOT NULL, PRIMARY KEY (model, hash)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS _livevec_changes (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    table_name TEXT NOT NULL, row_id INTEGER, key, op TEXT NOT NULL, at REAL NOT NULL
);
-- the followers of the change log that pruning must spare (see _changelog)
CREATE TABLE IF NOT EXISTS _livevec_followers (process TEXT PRIMARY KEY, seq INTEGER NOT NULL, seen REAL NOT NULL);
-- the newest change-log position pruned (a file from an earlier livevec: what is gone below the oldest)
INSERT OR IGNORE INTO _livevec_meta (name, value)
    SELECT 'log_pruned_through', coalesce(min(seq) - 1, 0) FROM _livevec_changes;
"""
# the newest change, and the newest pruned: the position a follower whose `since` is below it has lost
_LOG_STATE = (
    "SELECT coalesce((SELECT max(seq) FROM _livevec_changes), 0), "
    "(SELECT value FROM _livevec_meta WHERE name = 'log_pruned_through')"
)


def to_sql(column_type: str, value: Any) -> Any:
    if value is None:
        return None
    if column_type == "bool":
        return int(value)
    if column_type in ("datetime", "date"):
        return value.isoformat() if isinstance(value, dt.date) else value
    if column_type == "json":
        # keys as they are, not \u-escaped: SQLite before 3.45 finds a path's key only as written
        return json.dumps(value, ensure_ascii=False)
    if column_type == "vector":
        return np.asarray(value, dtype="<f4").tobytes()
    return value


# how a stored value of a column type is read back (a type not here comes back as stored)
_FROM_SQL: dict[str, Callable[[Any], Any]] = {
    "bool": bool,
    "datetime": dt.datetime.fromisoformat,
    "date": dt.date.fromisoformat,
    "json": json.loads,
    "vector": lambda blob: np.frombuffer(blob, dtype="<f4").tolist(),
}


class SQLiteBackend(Backend):
    """One writer connection, a pool of reader connections, and the vector columns' indexes.

    Reads and searches run on their own WAL connections, so they never wait for a write, from this
    process or another; a write waits for another writer's lock up to `busy_timeout` seconds. A
    thread inside `transaction()` reads on the writer connection, so it sees its own writes.
    """

    def __init__(
        self, path: str | Path, index_options: IndexOptions | None = None, busy_timeout: float = 30.0
    ) -> None:
        self.url = str(path)
        self.index_options = index_options or IndexOptions()
        if isinstance(busy_timeout, bool) or not isinstance(busy_timeout, int | float) or busy_timeout < 0:
            raise ValidationError(
                f"must be a number of seconds >= 0, got {busy_timeout!r}", field="busy_timeout"
            )
        self.busy_timeout = float(busy_timeout)
        self._memory = self.url in ("", ":memory:") or self.url.startswith("file::memory:")
        # large columns' HNSW graphs are kept beside the database file
        self._index_dir = None if self._memory else Path(self.url + ".livevec-index")
        try:
            self._conn = self._connect()
            self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.executescript(_META)
            self._file_key = self._index_file_key()
            # the change-log position our last commit has looked at (see _load_written_columns)
            self._written_through = self._conn.execute(
                "SELECT coalesce(max(seq), 0) FROM _livevec_changes"
            ).fetchone()[0]
            self._written_rows: dict[str, int] = {}  # per table, rows changed since then
        except sqlite3.Error as exc:
            raise StorageError(f"cannot open SQLite database {self.url!r}: {exc}") from exc
        self._lock = threading.RLock()  # the writer connection and the transaction state
        self._depth = 0
        self._writer_thread: int | None = None  # the thread inside transaction()
        self._aborted: BaseException | None = None  # SQLite rolled the transaction back itself
        self._readers: list[sqlite3.Connection] = []  # idle readers, the last handed back on top
        self._pool_lock = threading.Lock()  # the pool of readers and `_closed`, as readers see them
        self._indexes: dict[tuple[str, str], ColumnIndex] = {}
        self._indexes_lock = threading.Lock()
        self._builder = _IndexBuilder(self)
        self._commits = threading.Condition()  # notified after each of our commits
        self._commit_count = 0
        self.followers = _changelog.Followers()
        self._published: tuple[int | None, float] = (None, 0.0)  # (position, time) last published
        self._closed = False

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(
            self.url, isolation_level=None, check_same_thread=False, timeout=self.busy_timeout
        )
        conn.execute("PRAGMA synchronous=NORMAL")  # WAL + NORMAL: durable at checkpoints, never corrupt
        conn.execute("PRAGMA foreign_keys=ON")
        return conn

    def _index_file_key(self) -> bytes | None:
        """The secret that saved index files are checksummed with (made once per database)."""
        if self._memory:
            return None
        sql = "SELECT value FROM _livevec_meta WHERE name = 'index_file_key'"
        row = self._conn.execute(sql).fetchone()
        if row is None:
            self._conn.execute(
                "INSERT OR IGNORE INTO _livevec_meta (name, value) VALUES ('index_file_key', ?)",
                (secrets.token_bytes(32),),
            )
            row = self._conn.execute(sql).fetchone()
        return bytes(row[0])

    def close(self) -> None:
        if self._closed:
            return
        self._builder.stop()
        with self._lock:
            self._closed = True
            with contextlib.suppress(sqlite3.Error):  # spare nobody any longer
                self._conn.execute(
                    "DELETE FROM _livevec_followers WHERE process = ?", (self.followers.process,)
                )
            for column in list(self._indexes.values()):
                try:
                    column.settle()
                    column.save(force=True)
                except Exception:  # closing must not fail for the sake of a cache
                    logger.exception("livevec: could not save the index of %s.%s", *column._names)
            self._conn.close()
            with self._pool_lock:
                while self._readers:
                    self._readers.pop().close()

    def _check_open(self) -> None:
        if self._closed:
            raise DatabaseClosedError(f"the database {self.url!r} is closed")

    # --- connections and transactions ---------------------------------------------------------

    @contextmanager
    def _reader(self) -> Iterator[sqlite3.Connection]:
        """A connection to read on: the writer's inside this thread's own transaction (and for an
        in-memory database, which has only one), else a pooled reader."""
        self._check_open()
        if self._memory or self._in_transaction():
            with self._lock:
                yield self._conn
            return
        with self._pool_lock:
            conn = self._readers.pop() if self._readers else None
        if conn is None:
            try:
                conn = self._connect()
                conn.execute("PRAGMA query_only=ON")
                conn.execute(f"PRAGMA cache_size=-{_READER_CACHE_KIB}")
            except sqlite3.Error as exc:
                raise StorageError(f"cannot open SQLite database {self.url!r}: {exc}") from exc
        try:
            yield conn
        finally:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            # close() empties the pool under this lock: a reader handed back after it is closed
            with self._pool_lock:
                keep = not self._closed and len(self._readers) < _POOLED_READERS
                if keep:
                    self._readers.append(conn)
            if not keep:
                conn.close()

    def _in_transaction(self) -> bool:
        """Is this thread inside its own `transaction()`?"""
        return self._writer_thread == threading.get_ident()

    @property
    def closed(self) -> bool:
        return self._closed

    def in_transaction(self) -> bool:
        return self._in_transaction()

    @contextmanager
    def transaction(self) -> Iterator[None]:
        with self._lock:
            self._check_open()
            depth = self._depth
            if depth == 0:
                self._begin()
                self._writer_thread, self._aborted = threading.get_ident(), None
            else:
                self._execute(f"SAVEPOINT lv{depth}")
            self._depth += 1
            try:
                yield
                if depth > 0:
                    self._execute(f"RELEASE lv{depth}")
                else:
                    self._commit()
            except BaseException:
                self._roll_back(depth)
                raise
            finally:
                self._depth = depth
                if depth == 0:
                    self._writer_thread = None
            if depth == 0:
                self._after_commit()

    def _begin(self) -> None:
        try:
            self._conn.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            if "locked" in str(exc) or "busy" in str(exc):
                raise StorageError(
                    f"waited {self.busy_timeout:g} s for another writer to finish its transaction "
                    f"on {self.url!r} (busy_timeout)"
                ) from exc
            raise StorageError(f"cannot start a write on {self.url!r}: {exc}") from exc

    def _commit(self) -> None:
        if self._aborted is not None:
            raise StorageError(
                f"the transaction was rolled back by SQLite ({self._aborted}); nothing was written"
            ) from self._aborted
        self._prune_change_log()
        try:
            self._conn.execute("COMMIT")
        except sqlite3.Error as exc:
            raise StorageError(f"the commit failed ({exc}); nothing was written") from exc

    def _roll_back(self, depth: int) -> None:
        """Undo this level; SQLite may have rolled the whole transaction back already."""
        try:
            if not self._conn.in_transaction:
                return
            if depth == 0:
                self._conn.execute("ROLLBACK")
            else:
                self._conn.execute(f"ROLLBACK TO lv{depth}")
                self._conn.execute(f"RELEASE lv{depth}")
        except sqlite3.Error:
            # a connection that cannot even roll back: end the transaction at any cost
            logger.exception("livevec: rollback failed on %s", self.url)
            with contextlib.suppress(sqlite3.Error):
                self._conn.execute("ROLLBACK")

    def _after_commit(self) -> None:
        """The write reaches every loaded index before the call that made it returns; a failure
        here must not turn the committed write into an error: the next search catches up."""
        with self._commits:  # followers in this process (live queries, /events) read it at once
            self._commit_count += 1
            self._commits.notify_all()
        try:
            self._load_written_columns()
        except Exception:
            logger.exception(
                "livevec: the indexes of the tables just written will load at their first search"
            )
        for column in list(self._indexes.values()):
            try:
                with column.lock:
                    self._conn.execute("BEGIN")  # one snapshot, whatever other processes commit
                    try:
                        column.catch_up(self._conn)
                    finally:
                        self._conn.execute("COMMIT")
            except Exception:
                logger.exception("livevec: the index of %s.%s will catch up later", *column._names)
        self._builder.wake()

    def _follow_other_writers(self) -> None:
        """Bring each loaded column up to what other processes committed (the builder's call)."""
        for column in list(self._indexes.values()):
            if column.seq < 0 or self._closed:
                continue
            with self._reader() as conn:
                if newest_change(conn)[0] == column.seq:  # the usual case: one indexed read
                    continue
                with column.searching():  # ahead of the builder's next slice, as a search
                    conn.execute("BEGIN")
                    try:
                        column.catch_up(conn)
                    finally:
                        conn.execute("COMMIT")

    def _load_written_columns(self) -> None:
        """Load the vector columns of a table that many rows have been written to since this
        database was opened (by our commits, or by others seen at them; in one commit or in many
        small ones), so that the builder grows their graphs while a load goes on, rather than from
        nothing at the first search after it. A few rows written load nothing: a process that adds
        one product to a large catalog and never searches reads no vectors."""
        sql = "SELECT table_name, count(*), max(seq) FROM _livevec_changes WHERE seq > ? GROUP BY table_name"
        written = self._conn.execute(sql, (self._written_through,)).fetchall()
        for name, rows, last in written:
            self._written_through = max(self._written_through, last)
            if name is None:
                continue
            self._written_rows[name] = self._written_rows.get(name, 0) + rows
            if self._written_rows[name] < LOAD_ON_WRITE_ROWS:
                continue
            spec = self.load_spec(name)
            for vector in spec.vectors if spec else []:
                self._column_index(spec, vector)  # caught up (so loaded) by the caller

    def _execute(self, sql: str, params: Any = (), *, many: bool = False) -> sqlite3.Cursor:
        """Run a statement on the writer (`many`: once per item of `params`), errors as livevec's."""
        if self._aborted is not None:
            raise StorageError(
                f"the transaction was rolled back by SQLite ({self._aborted}); leave the block"
            ) from self._aborted
        try:
            return (self._conn.executemany if many else self._conn.execute)(sql, params)
        except sqlite3.Error as exc:
            if self._depth > 0 and not self._conn.in_transaction:
                self._aborted = exc  # e.g. a trigger's RAISE(ROLLBACK): later statements must fail
            raise _storage_error(exc) from exc

    def _query(self, sql: str, params: Any = ()) -> list[tuple]:
        return self.query(sql, params)[1]

    # --- tables -------------------------------------------------------------------------------

    def table_names(self) -> list[str]:
        return [r[0] for r in self._query("SELECT name FROM _livevec_tables ORDER BY name")]

    def load_spec(self, name: str) -> TableSpec | None:
        rows = self._query("SELECT spec FROM _livevec_tables WHERE name = ?", (name,))
        return TableSpec.from_json(json.loads(rows[0][0])) if rows else None

    def create_table(self, spec: TableSpec) -> None:
        pk = spec.primary_key
        columns = []
        for c in spec.columns:
            sql = f"{quote(c.name)} {_SQL_TYPES[c.type]}"
            if c.primary_key:
                sql += " PRIMARY KEY" + ("" if c.type == "int" else " NOT NULL")
            elif not c.nullable and c.type != "vector":
                sql += " NOT NULL"
            columns.append(sql)
        columns += [f"{quote(h)} BLOB" for h in spec.hash_columns]
        t, name = quote(spec.name), spec.name.replace("'", "''")
        log = (
            "INSERT INTO _livevec_changes (table_name, row_id, key, op, at) "
            f"VALUES ('{name}', {{row}}.rowid, {{row}}.{quote(pk.name)}, '{{op}}', {_NOW})"
        )
        with self.transaction():
            self._execute(f"CREATE TABLE {t} ({', '.join(columns)})")
            for c in spec.columns:
                for index, on in self._filter_indexes(spec.name, c).items():
                    self._execute(f"CREATE INDEX {index} ON {t} ({on})")
            for op, row in (("insert", "NEW"), ("update", "NEW"), ("delete", "OLD")):
                trigger = quote(_object_name(op, spec.name))
                body = log.format(row=row, op=op)
                self._execute(f"CREATE TRIGGER {trigger} AFTER {op.upper()} ON {t} BEGIN {body}; END")
            # a changed primary key is the old key's delete as far as followers are concerned
            trigger = quote(_object_name("rekey", spec.name))
            body = log.format(row="OLD", op="delete")
            self._execute(
                f"CREATE TRIGGER {trigger} AFTER UPDATE OF {quote(pk.name)} ON {t} "
                f"WHEN OLD.{quote(pk.name)} IS NOT NEW.{quote(pk.name)} BEGIN {body}; END"
            )
            if any(c.fulltext for c in spec.columns):
                self._create_fulltext(spec)
            self._create_replace_log(spec)
            self._create_staleness(spec)
            self._execute(
                "INSERT INTO _livevec_tables (name, spec) VALUES (?, ?)",
                (spec.name, json.dumps(spec.to_json())),
            )
            self._log_reset(spec.name)

    def _create_replace_log(self, spec: TableSpec) -> None:
        """Log the rows that REPLACE removes: SQLite deletes a row in the way of `INSERT OR REPLACE`
        (or of `UPDATE OR REPLACE`) without firing DELETE triggers, unless the writing connection
        enabled recursive triggers, which another client does not. The row in the way is logged as
        changed (at its own rowid) before the write, so followers read it again and find it gone.

        With an integer key the rowid is the key, so the insert's own entry already names the
        replaced rowid: only other keys need the insert trigger."""
        t, pk = quote(spec.name), quote(spec.primary_key.name)
        name = spec.name.replace("'", "''")
        log = (
            f"INSERT INTO _livevec_changes (table_name, row_id, key, op, at) "
            f"SELECT '{name}', rowid, {pk}, 'update', {_NOW} FROM {t} WHERE {pk} = NEW.{pk}"
        )
        if spec.primary_key.type != "int":
            trigger = quote(_object_name("replace", spec.name))
            self._execute(
                f"CREATE TRIGGER IF NOT EXISTS {trigger} BEFORE INSERT ON {t} "
                f"WHEN EXISTS (SELECT 1 FROM {t} WHERE {pk} = NEW.{pk}) BEGIN {log}; END"
            )
        trigger = quote(_object_name("replace_rekey", spec.name))
        self._execute(
            f"CREATE TRIGGER IF NOT EXISTS {trigger} BEFORE UPDATE OF {pk} ON {t} "
            f"WHEN NEW.{pk} IS NOT OLD.{pk} AND EXISTS (SELECT 1 FROM {t} WHERE {pk} = NEW.{pk}) "
            f"BEGIN {log}; END"
        )

    def _create_fulltext(self, spec: TableSpec) -> None:
        """The table's FTS5 index over its fulltext columns, and the triggers that keep it in step."""
        names = [c.name for c in spec.columns if c.fulltext]
        for name in names:
            if name.lower() in _FTS_RESERVED | {_fts_table(spec.name).lower()}:
                raise SchemaError(f"{spec.name}.{name}: this name cannot be a full-text column in SQLite")
        f, t = quote(_fts_table(spec.name)), quote(spec.name)
        columns = ", ".join(map(quote, names))
        content = spec.name.replace("'", "''")
        self._execute(
            f"CREATE VIRTUAL TABLE {f} USING fts5({columns}, content='{content}', "
            f"content_rowid='rowid', tokenize='{_FTS_TOKENIZER}')"
        )
        # external content: the index must be told the old text to forget a row
        add = f"INSERT INTO {f} (rowid, {columns}) VALUES (NEW.rowid, {', '.join('NEW.' + quote(n) for n in names)})"
        forget = (
            f"INSERT INTO {f} ({f}, rowid, {columns}) "
            f"VALUES ('delete', OLD.rowid, {', '.join('OLD.' + quote(n) for n in names)})"
        )
        # an integer primary key is the rowid: changing it moves the row in the index too
        watched = ", ".join(map(quote, [*names, spec.primary_key.name]))
        for op, on, body in (
            ("insert", "INSERT", f"{add};"),
            ("delete", "DELETE", f"{forget};"),
            ("update", f"UPDATE OF {watched}", f"{forget}; {add};"),
        ):
            trigger = quote(_object_name(f"fts_{op}", spec.name))
            self._execute(f"CREATE TRIGGER {trigger} AFTER {on} ON {t} BEGIN {body} END")
        self._execute(f"INSERT INTO {f} ({f}) VALUES ('rebuild')")

    def drop_table(self, name: str) -> None:
        spec = self.load_spec(name)
        with self.transaction():
            for vector in spec.vectors if spec else []:
                self._execute(f"DROP TABLE IF EXISTS {self._shadow(spec, vector.name)}")
            self._execute(f"DROP TABLE IF EXISTS {quote(_fts_table(name))}")
            self._execute(f"DROP TABLE IF EXISTS {quote(name)}")
            self._execute("DELETE FROM _livevec_tables WHERE name = ?", (name,))
            self._log_reset(name)
        for vector in spec.vectors if spec else []:
            self._column_index(spec, vector).delete_files()
            with self._indexes_lock:
                self._indexes.pop((name, vector.name), None)

    def _save_spec(self, spec: TableSpec) -> None:
        self._execute(
            "UPDATE _livevec_tables SET spec = ? WHERE name = ?", (json.dumps(spec.to_json()), spec.name)
        )

    def _filter_indexes(self, table: str, column: ColumnSpec) -> dict[str, str]:
        if column.index and not column.primary_key:
            return {quote(_object_name("index", table, column.name)): quote(column.name)}
        indexes = {}
        for path in column.paths:  # a JSON field's paths, each for the numbers and the strings there
            for kind in INDEXED_KINDS:
                # the column's length first: no column and path can give another's name
                name = _object_name("path", table, f"{len(column.name)}:{column.name}.{path}:{kind}")
                keys = tuple(path.split("."))
                indexes[quote(name)] = SQLITE_JSON.index_expression(quote(column.name), keys, kind)
        return indexes

    def _log_reset(self, name: str) -> None:
        self._execute(
            f"INSERT INTO _livevec_changes (table_name, op, at) VALUES (?, 'reset', {_NOW})", (name,)
        )

    # --- rows ---------------------------------------------------------------------------------

    def _adapt(self, column_type: str, value: Any) -> Any:
        return to_sql(column_type, value)

    def _where(self, spec: TableSpec, filters: Filters | None) -> tuple[str, list[Any]]:
        return compile_filters(filters, spec, "?", self._adapt, json=SQLITE_JSON)

    def insert(self, spec: TableSpec, rows: list[dict[str, Any]], *, upsert: bool = False) -> list[Any]:
        pk = spec.primary_key.name
        types = spec.write_types()
        keys = []
        with self.transaction():
            for row in rows:
                names = [n for n in row if not (n == pk and row[n] is None)]
                sql = (
                    f"INSERT INTO {quote(spec.name)} ({', '.join(map(quote, names))}) "
                    f"VALUES ({', '.join('?' * len(names))})"
                )
                if upsert:
                    others = [n for n in names if n != pk]
                    sets = ", ".join(f"{quote(n)} = excluded.{quote(n)}" for n in others)
                    sql += f" ON CONFLICT ({quote(pk)}) DO " + (f"UPDATE SET {sets}" if sets else "NOTHING")
                cursor = self._execute(sql, [to_sql(types[n], row[n]) for n in names])
                keys.append(row[pk] if row.get(pk) is not None else cursor.lastrowid)
        return keys

    def update(self, spec: TableSpec, values: dict[str, Any], filters: Filters | None) -> int:
        types = spec.write_types()
        where, params = self._where(spec, filters)
        sets = ", ".join(f"{quote(n)} = ?" for n in values)
        with self.transaction():
            cursor = self._execute(
                f"UPDATE {quote(spec.name)} SET {sets} WHERE {where}",
                [to_sql(types[n], v) for n, v in values.items()] + params,
            )
        return cursor.rowcount

    def delete(self, spec: TableSpec, filters: Filters | None) -> int:
        where, params = self._where(spec, filters)
        with self.transaction():
            cursor = self._execute(f"DELETE FROM {quote(spec.name)} WHERE {where}", params)
        return cursor.rowcount

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
        where, params = self._where(spec, filters)
        names = columns or spec.column_names
        order = order_by or [(spec.primary_key.name, False)]
        sql = (
            f"SELECT {', '.join(map(quote, names))} FROM {quote(spec.name)} WHERE {where} "
            f"ORDER BY {', '.join(quote(n) + (' DESC' if desc else '') for n, desc in order)}"
            f" LIMIT {int(limit) if limit is not None else -1} OFFSET {int(offset)}"
        )
        return self._rows(spec, names, self._query(sql, params))

    def _rows(self, spec: TableSpec, names: list[str], rows: list[tuple]) -> list[dict[str, Any]]:
        # a hidden column (a text hash) has no spec: it comes back as stored, as do the types that
        # _FROM_SQL does not list (the rows are built in C, then the few columns that need it converted)
        types = {c.name: c.type for c in spec.columns}
        convert = [(n, f) for n in names if (f := _FROM_SQL.get(types.get(n)))]
        found = []
        for row in rows:
            values = dict(zip(names, row, strict=True))
            for name, read in convert:
                if (value := values[name]) is not None:
                    values[name] = read(value)
            found.append(values)
        return found

    def count(self, spec: TableSpec, filters: Filters | None = None) -> int:
        where, params = self._where(spec, filters)
        return self._query(f"SELECT count(*) FROM {quote(spec.name)} WHERE {where}", params)[0][0]

    # --- vector search ------------------------------------------------------------------------

    def vector_search(self, spec: TableSpec, request: VectorSearch) -> list[tuple[dict[str, Any], float]]:
        names = request.row_columns(spec)
        where = self._where(spec, request.filters) if request.filters else None
        column = self._column_index(spec, spec.vector(request.column))
        with self._reader() as conn:
            in_transaction = self._in_transaction()
            try:
                with column.searching():
                    # the snapshot starts under the lock: it is at least as new as the index
                    if not in_transaction:
                        conn.execute("BEGIN")
                    try:
                        found = column.search(conn, request, where, names, in_transaction=in_transaction)
                    finally:
                        if not in_transaction:
                            conn.execute("COMMIT")
            except sqlite3.Error as exc:
                raise _storage_error(exc) from exc
        self._builder.wake()
        # ties broken by key, then only the rows returned are converted (a vector to a list is costly)
        key_at = names.index(spec.primary_key.name)
        found = sorted(found, key=lambda hit: (hit[1], hit[0][key_at]))[: request.limit]
        rows = self._rows(spec, names, [row for row, _ in found])
        return list(zip(rows, (distance for _, distance in found), strict=True))

    def wait_for_indexes(self) -> None:
        """Return once every vector column of every table is indexed as a search would find it:
        loaded (caught up with the log), every waiting row in its graph, a large graph grown in
        steps rebuilt and a save that is due written, whatever the state (never searched, built in
        the background, rows waiting)."""
        for name in self.table_names():
            spec = self.load_spec(name)
            for vector in spec.vectors if spec else []:
                column = self._column_index(spec, vector)
                with self._reader() as conn, column.lock:
                    conn.execute("BEGIN")
                    try:
                        column.catch_up(conn)
                    finally:
                        conn.execute("COMMIT")
        for column in list(self._indexes.values()):
            column.flush()

    def _column_index(self, spec: TableSpec, vector: VectorSpec) -> ColumnIndex:
        key = (spec.name, vector.name)
        with self._indexes_lock:
            # new, or the table was recreated with another vector column
            if key not in self._indexes or self._indexes[key].vector != vector:
                self._indexes[key] = ColumnIndex(
                    spec, vector, self.index_options, self._index_dir, self._file_key
                )
            return self._indexes[key]

    # --- stale vectors (text changed by another client) ----------------------------------------

    def _create_staleness(self, spec: TableSpec) -> None:
        """Per embedded vector: a trigger that clears the row's text hash when a write changes a
        source text without setting the hash (any client but livevec, which sets vector and hash
        together), and a partial index of the rows whose hash is missing: the stale ones."""
        t = quote(spec.name)
        for vector in spec.vectors:
            if not vector.hash_column:
                continue
            h, sources = quote(vector.hash_column), list(map(quote, vector.sources))
            changed = " OR ".join(f"NEW.{s} IS NOT OLD.{s}" for s in sources)
            trigger = quote(_object_name("stale", spec.name, vector.name))
            self._execute(
                f"CREATE TRIGGER IF NOT EXISTS {trigger} AFTER UPDATE OF {', '.join(sources)} ON {t} "
                f"WHEN NEW.{h} IS OLD.{h} AND NEW.{h} IS NOT NULL AND ({changed}) "
                f"BEGIN UPDATE {t} SET {h} = NULL WHERE rowid = NEW.rowid; END"
            )
            index = quote(_object_name("stale_index", spec.name, vector.name))
            self._execute(f"CREATE INDEX IF NOT EXISTS {index} ON {t} ({h}) WHERE {h} IS NULL")

    def ensure_hashes(self, spec: TableSpec) -> None:
        """Give a table made by an earlier livevec what this one keeps: its text hash columns (its
        rows start stale) and the triggers that log what REPLACE removes."""
        trigger = _object_name("replace_rekey", spec.name)
        if not self._query("SELECT 1 FROM sqlite_master WHERE type = 'trigger' AND name = ?", (trigger,)):
            with self.transaction():
                self._create_replace_log(spec)
        if not spec.hash_columns:
            return
        have = {row[1] for row in self._query(f"PRAGMA table_info({quote(spec.name)})")}
        if set(spec.hash_columns) <= have:
            return
        with self.transaction():
            have = {row[1] for row in self._execute(f"PRAGMA table_info({quote(spec.name)})").fetchall()}
            for h in spec.hash_columns:
                if h not in have:
                    self._execute(f"ALTER TABLE {quote(spec.name)} ADD COLUMN {quote(h)} BLOB")
            self._create_staleness(spec)

    def search_state(self, spec: TableSpec, vector: VectorSpec | None) -> tuple[Any, bool]:
        h = vector.hash_column if vector else None
        stale = f"EXISTS (SELECT 1 FROM {quote(spec.name)} WHERE {quote(h)} IS NULL)" if h else "0"
        rows = self._query(f"SELECT spec, {stale} FROM _livevec_tables WHERE name = ?", (spec.name,))
        return (rows[0][0], bool(rows[0][1])) if rows else (None, False)

    def stale_rows(self, spec: TableSpec, vector: VectorSpec, limit: int) -> list[dict[str, Any]]:
        names = [spec.primary_key.name, *vector.sources]
        sql = (
            f"SELECT {', '.join(map(quote, names))} FROM {quote(spec.name)} "
            f"WHERE {quote(vector.hash_column)} IS NULL LIMIT {int(limit)}"
        )
        return self._rows(spec, names, self._query(sql))

    def set_vectors(self, spec: TableSpec, vector: VectorSpec, items: list[StaleFix]) -> int:
        t, pk, h = quote(spec.name), quote(spec.primary_key.name), quote(vector.hash_column)
        done = 0
        with self.transaction():
            for key, texts, value, digest in items:
                sets = f"{h} = ?" if value is None else f"{quote(vector.name)} = ?, {h} = ?"
                same = "".join(f" AND {quote(s)} IS ?" for s in texts)
                params = [digest] if value is None else [to_sql("vector", value), digest]
                cursor = self._execute(
                    f"UPDATE {t} SET {sets} WHERE {pk} = ? AND {h} IS NULL{same}",
                    [*params, key, *texts.values()],
                )
                done += cursor.rowcount
        return done

    # --- reembed ------------------------------------------------------------------------------

    def _shadow(self, spec: TableSpec, vector: str) -> str:
        return quote(_object_name("reembed", spec.name, vector))

    def reembed_begin(self, spec: TableSpec, target: VectorSpec) -> bool:
        shadow = self._shadow(spec, target.name)
        key_type = _SQL_TYPES[spec.primary_key.type]
        with self.transaction():
            stored = self.load_spec(spec.name)
            fresh = stored.reembedding.get(target.name) != asdict(target)
            if fresh:
                self._execute(f"DROP TABLE IF EXISTS {shadow}")
                stored.reembedding[target.name] = asdict(target)
                self._save_spec(stored)
            self._execute(
                f"CREATE TABLE IF NOT EXISTS {shadow} "
                f"(key {key_type} PRIMARY KEY NOT NULL, hash BLOB NOT NULL, vector BLOB) WITHOUT ROWID"
            )
        return fresh

    def reembed_todo(
        self, spec: TableSpec, vector: VectorSpec, after: Any, limit: int
    ) -> list[dict[str, Any]]:
        t, pk, h = quote(spec.name), quote(spec.primary_key.name), quote(vector.hash_column)
        names = [spec.primary_key.name, *vector.sources]
        sql = (
            f"SELECT {', '.join(f't.{quote(n)}' for n in names)} FROM {t} AS t "
            f"LEFT JOIN {self._shadow(spec, vector.name)} AS s ON s.key = t.{pk} "
            f"WHERE t.{h} IS NOT NULL AND (s.key IS NULL OR s.hash IS NOT t.{h})"
            + ("" if after is None else f" AND t.{pk} > ?")
            + f" ORDER BY t.{pk} LIMIT {int(limit)}"
        )
        return self._rows(spec, names, self._query(sql, () if after is None else (after,)))

    def reembed_store(self, spec: TableSpec, vector: VectorSpec, items: list[tuple[Any, Any, bytes]]) -> None:
        with self.transaction():
            self._execute(
                f"INSERT OR REPLACE INTO {self._shadow(spec, vector.name)} (key, vector, hash) VALUES (?, ?, ?)",
                [(key, to_sql("vector", value), digest) for key, value, digest in items],
                many=True,
            )

    def _reembed_counts(self, spec: TableSpec, vector: VectorSpec) -> tuple[int, int]:
        t, pk, h = quote(spec.name), quote(spec.primary_key.name), quote(vector.hash_column)
        sql = (
            f"SELECT (SELECT count(*) FROM {t} AS t JOIN {self._shadow(spec, vector.name)} AS s "
            f"ON s.key = t.{pk} AND s.hash = t.{h}), (SELECT count(*) FROM {t})"
        )
        return tuple(self._query(sql)[0])

    def reembed_progress(self, spec: TableSpec, vector: VectorSpec) -> tuple[int, int]:
        return self._reembed_counts(spec, vector)

    def reembed_finish(self, spec: TableSpec, target: VectorSpec) -> int:
        t, pk = quote(spec.name), quote(spec.primary_key.name)
        shadow = self._shadow(spec, target.name)
        with self.transaction():
            stored = self.load_spec(spec.name)
            done, total = self._reembed_counts(stored, stored.vector(target.name))
            if done < total:
                return total - done
            self._execute(
                f"UPDATE {t} SET {quote(target.name)} = (SELECT s.vector FROM {shadow} AS s WHERE s.key = {t}.{pk})"
            )
            stored.vectors = [target if v.name == target.name else v for v in stored.vectors]
            stored.reembedding.pop(target.name, None)
            self._save_spec(stored)
            self._execute(f"DROP TABLE {shadow}")
            self._log_reset(spec.name)  # other processes' indexes of the column start over
            with self._indexes_lock:  # ours is made again, for the new vectors, by the next search
                old = self._indexes.pop((spec.name, target.name), None)
        if old is None:
            old = ColumnIndex(
                spec, spec.vector(target.name), self.index_options, self._index_dir, self._file_key
            )
        old.delete_files()  # a saved graph of the old vectors
        return 0

    # --- full-text search ---------------------------------------------------------------------

    def fulltext_search(self, spec: TableSpec, request: FulltextSearch) -> list[tuple[dict[str, Any], float]]:
        match = fts_query(request.query)
        if not match:
            return []
        f, t, pk = quote(_fts_table(spec.name)), quote(spec.name), quote(spec.primary_key.name)
        names = spec.column_names
        sql = (
            f"SELECT bm25({f}), {', '.join(f'{t}.{quote(n)}' for n in names)} "
            f"FROM {f} JOIN {t} ON {t}.rowid = {f}.rowid WHERE {f} MATCH ?"
        )
        params: list[Any] = [match]
        if request.filters:
            where, filter_params = self._where(spec, request.filters)
            sql += f" AND {t}.rowid IN (SELECT rowid FROM {t} WHERE {where})"
            params += filter_params
        sql += f" ORDER BY bm25({f}), {t}.{pk} LIMIT ?"
        if not self._has_fulltext_index(spec):
            with self.transaction():
                if not self._has_fulltext_index(spec):
                    self._create_fulltext(spec)
        rows = self._query(sql, [*params, int(request.limit)])
        # SQLite's bm25() is negated so that ascending order is best first: flip it back
        return [(self._rows(spec, names, [row[1:]])[0], -float(row[0])) for row in rows]

    def _has_fulltext_index(self, spec: TableSpec) -> bool:
        """False only for a file made before full-text search existed: the index is then built once."""
        sql = "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?"
        return bool(self._query(sql, (_fts_table(spec.name),)))

    # --- embedding cache ----------------------------------------------------------------------

    def get_embeddings(self, model_key: str, hashes: list[bytes]) -> dict[bytes, np.ndarray]:
        found: dict[bytes, np.ndarray] = {}
        for start in range(0, len(hashes), 900):
            chunk = hashes[start : start + 900]
            rows = self._query(
                f"SELECT hash, vector FROM _livevec_embeddings WHERE model = ? AND hash IN ({', '.join('?' * len(chunk))})",
                [model_key, *chunk],
            )
            found.update((h, np.frombuffer(v, dtype="<f4")) for h, v in rows)
        return found

    def put_embeddings(self, model_key: str, items: list[tuple[bytes, np.ndarray]]) -> None:
        with self.transaction():
            self._execute(
                "INSERT OR IGNORE INTO _livevec_embeddings (model, hash, vector) VALUES (?, ?, ?)",
                [(model_key, h, np.asarray(v, dtype="<f4").tobytes()) for h, v in items],
                many=True,
            )

    # --- change feed --------------------------------------------------------------------------

    def changes(self, since: int, limit: int = 1000) -> list[Change]:
        # one statement, one snapshot: the pruned mark and the entries agree
        rows = self._query(
            "SELECT NULL, value, NULL, NULL, NULL FROM _livevec_meta WHERE name = 'log_pruned_through' "
            "UNION ALL SELECT * FROM (SELECT seq, table_name, op, key, at FROM _livevec_changes "
            "WHERE seq > ? ORDER BY seq LIMIT ?)",
            (since, limit),
        )
        pruned = next((row[1] for row in rows if row[0] is None), 0) or 0
        if since < pruned:
            raise ChangeLogGapError(since, pruned)
        return [Change(*row) for row in rows if row[0] is not None]

    def last_change(self) -> int:
        return self._query("SELECT coalesce(max(seq), 0) FROM _livevec_changes")[0][0]

    def wait_for_change(self, since: int, timeout: float) -> None:
        """Wake at once for a commit of this process; other processes' commits are seen by polling
        (SQLite cannot notify across processes), `timeout` seconds at most."""
        with self._commits:
            count = self._commit_count
        if (
            self.last_change() != since
        ):  # (read outside the condition: an in-memory read takes the writer's lock)
            return
        with self._commits:  # a commit since `count` was read ends the wait at once
            self._commits.wait_for(lambda: self._commit_count != count, timeout)

    def _prune_change_log(self) -> None:
        """Inside a commit: publish this process's followers, then forget what nobody needs (see
        `_changelog`)."""
        now = time.time()
        self._publish_followers(self._execute, now)
        newest, pruned = self._execute(_LOG_STATE).fetchone()
        if _changelog.prune_bound(newest, pruned, None) is None:  # nothing to prune: no more reads
            return
        self._execute("DELETE FROM _livevec_followers WHERE seen < ?", (now - _changelog.ALIVE_SECONDS,))
        slowest = self._execute("SELECT min(seq) FROM _livevec_followers").fetchone()[0]
        bound = _changelog.prune_bound(newest, pruned, slowest)
        if bound is None:
            return
        self._execute("DELETE FROM _livevec_changes WHERE seq <= ?", (bound,))
        self._execute("UPDATE _livevec_meta SET value = ? WHERE name = 'log_pruned_through'", (bound,))

    def _publish_followers(self, execute: Callable[..., Any], now: float) -> bool:
        """Record where this process's slowest follower is, if it moved or is due (False: unchanged)."""
        lowest = self.followers.lowest()
        if not _changelog.publish_due(lowest, self._published, now):
            return False
        if lowest is None:
            execute("DELETE FROM _livevec_followers WHERE process = ?", (self.followers.process,))
        else:
            execute(
                "INSERT OR REPLACE INTO _livevec_followers (process, seq, seen) VALUES (?, ?, ?)",
                (self.followers.process, lowest, now),
            )
        self._published = (lowest, now)
        return True

    def publish_followers(self) -> None:
        """Tell writers in other processes where this process's followers are (called by the
        follower threads; a writer busy at that moment is not waited for: the next call retries)."""
        if self._closed or self._memory:
            return
        now, (position, at) = time.time(), self._published
        if not _changelog.publish_due(self.followers.lowest(), self._published, now):
            return
        try:
            with contextlib.closing(sqlite3.connect(self.url, timeout=0, isolation_level=None)) as conn:
                self._publish_followers(conn.execute, now)
        except sqlite3.Error:  # a writer holds the file: our next commit or call publishes
            self._published = (position, at)

    # --- raw SQL ------------------------------------------------------------------------------

    def execute(self, sql: str, params: list[Any] | dict[str, Any] | None) -> int:
        with self.transaction():
            return max(self._execute(sql, () if params is None else params).rowcount, 0)

    def query(self, sql: str, params: list[Any] | dict[str, Any] | None) -> tuple[list[str], list[tuple]]:
        with self._reader() as conn:
            try:
                cursor = conn.execute(sql, () if params is None else params)
                rows = cursor.fetchall()
            except sqlite3.Error as exc:
                raise _storage_error(exc) from exc
        return [column[0] for column in cursor.description or ()], rows


_running_builders: weakref.WeakSet[_IndexBuilder] = weakref.WeakSet()


@atexit.register
def _stop_builders() -> None:
    """At exit, let each builder finish its chunk: a thread killed inside usearch aborts the process."""
    for builder in list(_running_builders):
        builder.stop()


class _IndexBuilder:
    """The backend's background thread: moves the rows that searches found changed into the HNSW
    graphs, in slices short enough that no search waits long for a column's lock, and saves graphs.

    It also follows what other processes commit (every `_FOLLOW_SECONDS`), so that a column loaded
    here grows its graph while another process loads rows, rather than at the next search here, and
    rebuilds in one call a large graph grown in steps once its column is quiet.
    It starts with the first loaded column, sleeps when there is nothing to do, and ends when no
    column is loaded.
    """

    def __init__(self, backend: SQLiteBackend) -> None:
        self._backend = backend
        self._wakeup = threading.Event()
        self._stopped = False
        self._thread: threading.Thread | None = None
        self._start_lock = threading.Lock()

    def wake(self) -> None:
        """Start the thread if a column is loaded; rouse it if rows wait (called after every search
        and commit: with nothing waiting it is not roused, which would cost the next search a lock)."""
        columns = list(self._backend._indexes.values())
        if self._stopped or not any(c.seq >= 0 for c in columns):
            return
        with self._start_lock:  # uncontended: the thread takes it only to end
            if self._thread is None and not self._stopped:
                self._thread = threading.Thread(target=self._run, name="livevec-index-builder", daemon=True)
                self._thread.start()
        if any(c.pending for c in columns):
            self._wakeup.set()

    def stop(self) -> None:
        with self._start_lock:
            self._stopped = True
        self._wakeup.set()
        if self._thread is not None:
            self._thread.join()

    def _run(self) -> None:
        _running_builders.add(self)
        followed = time.monotonic()
        while not self._stopped:
            if time.monotonic() - followed >= _FOLLOW_SECONDS:
                followed = time.monotonic()
                try:
                    self._backend._follow_other_writers()
                except Exception:  # a search catches up anyway; the thread must go on
                    logger.exception("livevec: following other processes' writes failed")
            worked = False
            for column in list(self._backend._indexes.values()):
                if self._stopped:
                    return
                try:
                    worked |= column.build_step(lambda: self._stopped)
                    if not column.pending:
                        column.save()
                except Exception:  # the thread must outlive any one column's trouble
                    logger.exception("livevec: building the index of %s.%s failed", *column._names)
                    time.sleep(1.0)
                column.let_searches_in()
                time.sleep(0)
            if not worked:
                self._wakeup.wait(_FOLLOW_SECONDS)
                self._wakeup.clear()
                with self._start_lock:  # nothing loaded: end the thread; the next wake() starts another
                    if not any(c.seq >= 0 for c in list(self._backend._indexes.values())):
                        self._thread = None
                        return


# how often the builder looks for other processes' writes to the loaded columns (seconds)
_FOLLOW_SECONDS = 1.0


def _fts_table(table: str) -> str:
    return f"_livevec_fts_{table}"


def fts_query(text: str) -> str:
    """User text as an FTS5 expression that cannot be a syntax error: its words, quoted, ORed.

    Only runs of letters, digits and underscores are kept, so no quote or operator of FTS5's query
    language survives; "" when the text has no word.
    """
    words = dict.fromkeys(w.lower() for w in _WORD.findall(text))
    return " OR ".join(f'"{w}"' for w in list(words)[:_MAX_QUERY_WORDS])


def _object_name(kind: str, table: str, column: str | None = None) -> str:
    """The name of a trigger or index livevec makes for a table: the table's name comes last, after
    its length, so two tables (or a table and a column) can never be given the same name."""
    name = f"_livevec_{kind}:{len(table)}:{table}"
    return name if column is None else f"{name}:{column}"


def _storage_error(exc: sqlite3.Error) -> LivevecError:
    """A SQLite error as a livevec one (the caller chains the original as the cause)."""
    if isinstance(exc, sqlite3.IntegrityError):
        return _integrity_error(exc)
    if "locked" in str(exc) or "busy" in str(exc):
        return StorageError(f"waited too long for another connection's lock: {exc}")
    return StorageError(f"SQLite: {exc}")


def _integrity_error(exc: sqlite3.IntegrityError) -> ValidationError:
    message = str(exc)
    if message.startswith("UNIQUE constraint failed") or "PRIMARY KEY" in message:
        column = message.rsplit(".", 1)[-1]
        return DuplicateKeyError("a row with this key already exists", field=column)
    if message.startswith("NOT NULL constraint failed"):
        column = message.rsplit(".", 1)[-1]
        return ValidationError("a value is required", field=column)
    return ValidationError(message)
