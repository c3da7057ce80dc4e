"""The embedded store: one SQLite file (WAL) holds rows, vectors, the embedding cache and a change log.

Every table gets triggers that append to `_livevec_changes`, so a write made by any process (or any
SQLite client) is visible in the log. Each vector column's in-memory index (`_sqlite_index`) remembers
the last change it applied; it applies our own writes right after they commit and catches up from the
log before every search, so a search always sees committed writes.

A table with `Field(fulltext=True)` columns also gets an FTS5 index (`_livevec_fts_<table>`, external
content, BM25 ranking) that triggers keep in step inside each write's own transaction.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from .._errors import DuplicateKeyError, SchemaError, StorageError, ValidationError
from .._schema import TableSpec, VectorSpec
from ..filters import Filters, compile_filters, quote
from ._base import Backend, Change, FulltextSearch, VectorSearch
from ._sqlite_index import ColumnIndex
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
# the change log keeps this many entries; a follower further behind rebuilds from the tables
_CHANGE_LOG_KEEP = 100_000
_NOW = "((julianday('now') - 2440587.5) * 86400.0)"
# porter: "speakers" finds "speaker"; remove_diacritics: "cafe" finds "café"
_FTS_TOKENIZER = "porter unicode61 remove_diacritics 2"
_FTS_RESERVED = {"rank", "rowid"}  # FTS5 column names that cannot be used
_WORD = re.compile(r"\w+")
_MAX_QUERY_WORDS = 64

_META = """
CREATE TABLE IF NOT EXISTS _livevec_tables (name TEXT PRIMARY KEY, spec TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS _livevec_embeddings (
    model TEXT NOT NULL, hash BLOB NOT NULL, vector BLOB NOT NULL, PRIMARY KEY (model, hash)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS _livevec_changes (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    table_name TEXT NOT NULL, row_id INTEGER, key, op TEXT NOT NULL, at REAL NOT NULL
);
"""


def to_sql(column_type: str, value: Any) -> Any:
    if value is None:
        return None
    if column_type == "bool":
        return int(value)
    if column_type in ("datetime", "date"):
        return value.isoformat() if isinstance(value, dt.date) else value
    if column_type == "json":
        return json.dumps(value)
    if column_type == "vector":
        return np.asarray(value, dtype="<f4").tobytes()
    return value


def from_sql(column_type: str, value: Any) -> Any:
    if value is None:
        return None
    if column_type == "bool":
        return bool(value)
    if column_type == "datetime":
        return dt.datetime.fromisoformat(value)
    if column_type == "date":
        return dt.date.fromisoformat(value)
    if column_type == "json":
        return json.loads(value)
    if column_type == "vector":
        return np.frombuffer(value, dtype="<f4").tolist()
    return value


class SQLiteBackend(Backend):
    def __init__(self, path: str | Path, index_options: IndexOptions | None = None) -> None:
        self.url = str(path)
        self.index_options = index_options or IndexOptions()
        in_memory = self.url in ("", ":memory:") or self.url.startswith("file::memory:")
        # large columns' HNSW graphs are kept beside the database file
        self._index_dir = None if in_memory else Path(self.url + ".livevec-index")
        try:
            self._conn = sqlite3.connect(
                self.url, isolation_level=None, check_same_thread=False, timeout=30.0
            )
            self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.execute(
                "PRAGMA synchronous=NORMAL"
            )  # WAL + NORMAL: durable at checkpoints, never corrupt
            self._conn.execute("PRAGMA foreign_keys=ON")
            self._conn.executescript(_META)
        except sqlite3.Error as exc:
            raise StorageError(f"cannot open SQLite database {self.url!r}: {exc}") from exc
        self._lock = threading.RLock()
        self._depth = 0
        self._indexes: dict[tuple[str, str], ColumnIndex] = {}

    def close(self) -> None:
        with self._lock:
            for column in self._indexes.values():
                column.save_if_changed()
            self._conn.close()

    # --- transactions -------------------------------------------------------------------------

    @contextmanager
    def transaction(self) -> Iterator[None]:
        with self._lock:
            depth = self._depth
            self._conn.execute("BEGIN IMMEDIATE" if depth == 0 else f"SAVEPOINT lv{depth}")
            self._depth += 1
            try:
                yield
            except BaseException:
                if depth == 0:
                    self._conn.execute("ROLLBACK")
                else:
                    self._conn.execute(f"ROLLBACK TO lv{depth}")
                    self._conn.execute(f"RELEASE lv{depth}")
                # an index may have applied the rolled-back writes: it re-reads those rows
                for column in self._indexes.values():
                    column.rollback(in_transaction=depth > 0)
                raise
            else:
                if depth == 0:
                    self._prune_change_log()
                    self._conn.execute("COMMIT")
                    # the write reaches every loaded index before the call that made it returns
                    for column in self._indexes.values():
                        column.commit()
                        column.sync(in_transaction=False)
                else:
                    self._conn.execute(f"RELEASE lv{depth}")
            finally:
                self._depth = depth

    def _execute(self, sql: str, params: Any = ()) -> sqlite3.Cursor:
        try:
            return self._conn.execute(sql, params)
        except sqlite3.IntegrityError as exc:
            raise _integrity_error(exc) from exc

    def _query(self, sql: str, params: Any = ()) -> list[tuple]:
        with self._lock:
            return self._conn.execute(sql, params).fetchall()

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
        t, name = quote(spec.name), spec.name.replace("'", "''")
        log = (
            "INSERT INTO _livevec_changes (table_name, row_id, key, op, at) "
            f"VALUES ('{name}', {{row}}.rowid, {{row}}.{quote(pk.name)}, '{{op}}', {_NOW})"
        )
        with self.transaction():
            self._execute(f"CREATE TABLE {t} ({', '.join(columns)})")
            for c in spec.columns:
                if c.index and not c.primary_key:
                    index = quote(f"_livevec_{spec.name}_{c.name}")
                    self._execute(f"CREATE INDEX {index} ON {t} ({quote(c.name)})")
            for op, row in (("insert", "NEW"), ("update", "NEW"), ("delete", "OLD")):
                trigger = quote(f"_livevec_{spec.name}_{op}")
                body = log.format(row=row, op=op)
                self._execute(f"CREATE TRIGGER {trigger} AFTER {op.upper()} ON {t} BEGIN {body}; END")
            # a changed primary key is the old key's delete as far as followers are concerned
            trigger = quote(f"_livevec_{spec.name}_rekey")
            body = log.format(row="OLD", op="delete")
            self._execute(
                f"CREATE TRIGGER {trigger} AFTER UPDATE OF {quote(pk.name)} ON {t} "
                f"WHEN OLD.{quote(pk.name)} IS NOT NEW.{quote(pk.name)} BEGIN {body}; END"
            )
            if any(c.fulltext for c in spec.columns):
                self._create_fulltext(spec)
            self._execute(
                "INSERT INTO _livevec_tables (name, spec) VALUES (?, ?)",
                (spec.name, json.dumps(spec.to_json())),
            )
            self._log_reset(spec.name)

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
            trigger = quote(f"_livevec_{spec.name}_fts_{op}")
            self._execute(f"CREATE TRIGGER {trigger} AFTER {on} ON {t} BEGIN {body} END")
        self._execute(f"INSERT INTO {f} ({f}) VALUES ('rebuild')")

    def drop_table(self, name: str) -> None:
        spec = self.load_spec(name)
        with self.transaction():
            self._execute(f"DROP TABLE IF EXISTS {quote(_fts_table(name))}")
            self._execute(f"DROP TABLE IF EXISTS {quote(name)}")
            self._execute("DELETE FROM _livevec_tables WHERE name = ?", (name,))
            self._log_reset(name)
        for vector in spec.vectors if spec else []:
            self._column_index(spec, vector).delete_files()
            del self._indexes[(name, vector.name)]

    def _log_reset(self, name: str) -> None:
        self._execute(
            f"INSERT INTO _livevec_changes (table_name, op, at) VALUES (?, 'reset', {_NOW})", (name,)
        )

    # --- rows ---------------------------------------------------------------------------------

    def _adapt(self, column_type: str, value: Any) -> Any:
        return to_sql(column_type, value)

    def _where(self, spec: TableSpec, filters: Filters | None) -> tuple[str, list[Any]]:
        return compile_filters(filters, spec, "?", self._adapt)

    def insert(self, spec: TableSpec, rows: list[dict[str, Any]], *, upsert: bool = False) -> list[Any]:
        pk = spec.primary_key.name
        types = {c.name: c.type for c in spec.columns}
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
        types = {c.name: c.type for c in spec.columns}
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
        types = [spec.column(n).type for n in names]
        return [{n: from_sql(t, v) for n, t, v in zip(names, types, row, strict=True)} for row in rows]

    def count(self, spec: TableSpec, filters: Filters | None = None) -> int:
        where, params = self._where(spec, filters)
        return self._query(f"SELECT count(*) FROM {quote(spec.name)} WHERE {where}", params)[0][0]

    # --- vector search ------------------------------------------------------------------------

    def vector_search(self, spec: TableSpec, request: VectorSearch) -> list[tuple[dict[str, Any], float]]:
        names = spec.column_names
        with self._lock:
            column = self._column_index(spec, spec.vector(request.column))
            column.sync(in_transaction=self._depth > 0)
            where = self._where(spec, request.filters) if request.filters else None
            found = column.search(request, where, ", ".join(map(quote, names)))
        pk = spec.primary_key.name
        rows = self._rows(spec, names, [row for row, _ in found])
        hits = list(zip(rows, (distance for _, distance in found), strict=True))
        hits.sort(key=lambda hit: (hit[1], hit[0][pk]))
        return hits[: request.limit]

    def _column_index(self, spec: TableSpec, vector: VectorSpec) -> ColumnIndex:
        key = (spec.name, vector.name)
        if key not in self._indexes or self._indexes[key].vector != vector:  # new, or recreated elsewhere
            self._indexes[key] = ColumnIndex(self._conn, spec, vector, self.index_options, self._index_dir)
        return self._indexes[key]

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
        with self._lock:
            if not self._has_fulltext_index(spec):
                with self.transaction():
                    self._create_fulltext(spec)
            rows = self._conn.execute(sql, [*params, int(request.limit)]).fetchall()
        # SQLite's bm25() is negated so that ascending order is best first: flip it back
        return [(self._rows(spec, names, [row[1:]])[0], -float(row[0])) for row in rows]

    def _has_fulltext_index(self, spec: TableSpec) -> bool:
        """False only for a file made before full-text search existed: the index is then built once."""
        sql = "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?"
        return self._conn.execute(sql, (_fts_table(spec.name),)).fetchone() is not None

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
            self._conn.executemany(
                "INSERT OR IGNORE INTO _livevec_embeddings (model, hash, vector) VALUES (?, ?, ?)",
                [(model_key, h, np.asarray(v, dtype="<f4").tobytes()) for h, v in items],
            )

    # --- change feed --------------------------------------------------------------------------

    def changes(self, since: int, limit: int = 1000) -> list[Change]:
        rows = self._query(
            "SELECT seq, table_name, op, key, at FROM _livevec_changes WHERE seq > ? ORDER BY seq LIMIT ?",
            (since, limit),
        )
        return [Change(*row) for row in rows]

    def last_change(self) -> int:
        return self._query("SELECT coalesce(max(seq), 0) FROM _livevec_changes")[0][0]

    def _prune_change_log(self) -> None:
        self._conn.execute(
            "DELETE FROM _livevec_changes WHERE seq <= (SELECT max(seq) FROM _livevec_changes) - ?",
            (_CHANGE_LOG_KEEP,),
        )


def _fts_table(table: str) -> str:
    return f"_livevec_fts_{table}"


def fts_query(text: str) -> str:
    """User text as an FTS5 expression that cannot be a syntax error: its words, quoted, ORed.

    Only runs of letters, digits and underscores are kept, so no quote or operator of FTS5's query
    language survives; "" when the text has no word.
    """
    words = dict.fromkeys(w.lower() for w in _WORD.findall(text))
    return " OR ".join(f'"{w}"' for w in list(words)[:_MAX_QUERY_WORDS])


def _integrity_error(exc: sqlite3.IntegrityError) -> ValidationError:
    message = str(exc)
    if message.startswith("UNIQUE constraint failed") or "PRIMARY KEY" in message:
        column = message.rsplit(".", 1)[-1]
        return DuplicateKeyError("a row with this key already exists", field=column)
    if message.startswith("NOT NULL constraint failed"):
        column = message.rsplit(".", 1)[-1]
        return ValidationError("a value is required", field=column)
    return ValidationError(message)
