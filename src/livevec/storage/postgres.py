"""PostgreSQL + pgvector: the same tables, searches and change feed on a server many processes share.

    livevec.connect("postgresql://user:pass@host/db")
    livevec.connect("postgresql://user:pass@host/db?hnsw_m=32&hnsw_ef_construction=128&hnsw_ef_search=200")

Query parameters that livevec reads itself (the rest go to libpq, e.g. `host=/socket/dir`):
    hnsw_m, hnsw_ef_construction   the HNSW index built with each table (defaults 16 and 64)
    hnsw_ef_search                 candidates an HNSW search looks at (default 100, raised to the limit:
                                   recall@10 0.99 on Icecat products, see benchmarks/postgres_vs_sqlite.py)
    pool_size                      connections this process keeps at most (default 10)
    busy_timeout                   seconds a write waits for another writer to commit before it gives
                                   up with a StorageError (default 30, as SQLite's; fractions allowed)

Each vector column gets an HNSW index (pgvector indexes up to 2,000 dimensions; wider columns are
scanned exactly). Searches without filters or distance bounds walk the index; filtered ones scan
exactly unless pgvector (0.8+) can iterate its index scan. An index search that returns fewer rows
than asked for, or whose last row ties with the next, runs again exactly: a search never returns
fewer rows than `limit` when that many match, and ties are broken by primary key, as in SQLite.

A table with `Field(fulltext=True)` columns gets a stored generated tsvector of their words (folded,
stemmed, no stop words: as SQLite's FTS5 tokenizer reads them) with a GIN index, ranked by ts_rank.

Every livevec table has statement triggers that append to `_livevec_changes` and NOTIFY
`livevec_changes`, whoever writes (another service instance, psql); one LISTEN connection per
process wakes `wait_for_change` (and so `follow()` and the shop's `/events`). Writers take one advisory lock
until they commit (the triggers take it too), so change numbers follow commit order and a follower
reading "changes after N" never skips a later-committing lower number: writes to one database are
serialised, as in SQLite; reads and searches run in parallel.

The server may restart or drop connections: the pool checks a connection before handing it out (and
then replaces every idle one), the LISTEN thread reconnects with backoff, and `follow()` retries a
read that lost its connection from the last change it gave, so a follower outlives the outage and
misses nothing. Every error leaves as a LivevecError with PostgreSQL's own as its `__cause__`.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
import logging
import re
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager
from dataclasses import asdict
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import numpy as np

from .._errors import (
    ChangeLogGapError,
    DatabaseClosedError,
    DuplicateKeyError,
    StorageError,
    ValidationError,
)
from .._json_filters import INDEXED_KINDS
from .._json_filters import POSTGRES as POSTGRES_JSON
from .._schema import ColumnSpec, TableSpec, VectorSpec
from ..filters import Filters, compile_filters, quote
from . import _changelog
from ._base import Backend, Change, FulltextSearch, StaleFix, VectorSearch

try:
    import psycopg
    from pgvector.psycopg import register_vector
    from psycopg.types.json import Jsonb
    from psycopg_pool import ConnectionPool, PoolClosed, PoolTimeout, TooManyRequests
except ImportError as exc:  # pragma: no cover - depends on the installed extras
    raise ImportError(
        'PostgreSQL support needs the "postgres" extra: pip install "livevec[postgres]"'
    ) from exc

_SQL_TYPES = {
    "int": "BIGINT",
    "float": "DOUBLE PRECISION",
    "str": 'TEXT COLLATE "C"',  # byte order, as SQLite compares and sorts text
    "bool": "BOOLEAN",
    "datetime": 'TEXT COLLATE "C"',  # ISO 8601 as in SQLite: naive and aware values round-trip unchanged
    "date": "DATE",
    # jsonb, as TiDB's and MySQL's JSON: an object's keys come back in its order (shortest first, then
    # bytewise), not the order written; an index can hold a path's value (Field(index=[path]))
    "json": "JSONB",
    "vector": "VECTOR({dimensions})",
}
_TEXT_COLUMN = "_livevec_text"  # a table's full-text words (a stored generated tsvector)
_WORD = re.compile(r"\w+")  # the words of a full-text query, as SQLite's backend reads them
_MAX_QUERY_WORDS = 64
_HNSW_MAX_DIMENSIONS = 2000
_HNSW_MAX_EF_SEARCH = 1000
_CHANNEL = "livevec_changes"
# a database of an earlier livevec kept JSON fields as json: they become jsonb, which filters read
_JSON_TO_JSONB = """
DO $$ DECLARE c record; BEGIN
    FOR c IN SELECT col.table_name, col.column_name FROM information_schema.columns col
             JOIN _livevec_tables t ON t.name = col.table_name
             WHERE col.table_schema = current_schema() AND col.data_type = 'json' LOOP
        EXECUTE format('ALTER TABLE %I ALTER COLUMN %I TYPE jsonb USING %I::jsonb',
                       c.table_name, c.column_name, c.column_name);
    END LOOP;
END $$;
"""
_LAST_CHANGE = "SELECT coalesce(max(seq), 0) FROM _livevec_changes"
_WRITE_LOCK = 0x6C69766576656300  # "livevec\0": the advisory lock every writer holds until commit
_MAX_PARAMS = 30_000  # bind parameters per statement (PostgreSQL allows 65,535)
_RETRY_FIRST, _RETRY_MAX = 0.1, 5.0  # seconds between reconnection attempts: doubling, capped
logger = logging.getLogger(__name__)

# name: (default, lowest, highest)
_URL_OPTIONS = {
    "hnsw_m": (16, 2, 100),
    "hnsw_ef_construction": (64, 4, 1000),
    "hnsw_ef_search": (100, 1, _HNSW_MAX_EF_SEARCH),
    "pool_size": (10, 1, 1000),
    "busy_timeout": (30, 0, 86_400),  # seconds, the one option that may have a fraction
}

_META = f"""
CREATE TABLE IF NOT EXISTS _livevec_tables (name TEXT COLLATE "C" PRIMARY KEY, spec JSONB NOT NULL);
CREATE TABLE IF NOT EXISTS _livevec_embeddings (
    model TEXT NOT NULL, hash BYTEA NOT NULL, vector VECTOR NOT NULL, PRIMARY KEY (model, hash)
);
CREATE TABLE IF NOT EXISTS _livevec_changes (
    seq BIGSERIAL PRIMARY KEY, table_name TEXT NOT NULL, key JSONB, op TEXT NOT NULL,
    at DOUBLE PRECISION NOT NULL
);
-- the followers of the change log that pruning must spare, and the newest position pruned (see
-- _changelog; a database of an earlier livevec: what is gone below its oldest entry)
CREATE TABLE IF NOT EXISTS _livevec_followers (
    process TEXT PRIMARY KEY, seq BIGINT NOT NULL, seen DOUBLE PRECISION NOT NULL
);
CREATE TABLE IF NOT EXISTS _livevec_log_pruned (
    only_row BOOLEAN PRIMARY KEY DEFAULT true CHECK (only_row), seq BIGINT NOT NULL
);
INSERT INTO _livevec_log_pruned (seq)
    SELECT coalesce(min(seq) - 1, 0) FROM _livevec_changes ON CONFLICT DO NOTHING;
-- full-text search sees words as SQLite's FTS5 "porter unicode61 remove_diacritics 2" does: folded to
-- lower case without diacritics, stemmed, and without a stop-word list ("not" is a word like any other)
CREATE OR REPLACE FUNCTION _livevec_fold(text) RETURNS text LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
AS $$ SELECT lower(regexp_replace(normalize($1, NFD), '[\u0300-\u036f]', '', 'g')) $$;
DO $$ BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_ts_config
                   WHERE cfgname = '_livevec_text' AND cfgnamespace = current_schema()::regnamespace) THEN
        CREATE TEXT SEARCH DICTIONARY _livevec_stem (TEMPLATE = snowball, LANGUAGE = english);
        CREATE TEXT SEARCH CONFIGURATION _livevec_text (COPY = english);
        ALTER TEXT SEARCH CONFIGURATION _livevec_text ALTER MAPPING REPLACE english_stem WITH _livevec_stem;
    END IF;
END $$;
CREATE OR REPLACE FUNCTION _livevec_lock_writes() RETURNS trigger LANGUAGE plpgsql
SET search_path FROM CURRENT AS $$
BEGIN
    PERFORM pg_advisory_xact_lock({_WRITE_LOCK});
    RETURN NULL;
END $$;
-- a write that changes a source text (TG_ARGV[1:]) but not the text hash (TG_ARGV[0]) was not made
-- by livevec, which sets vector and hash together: clear the hash, so the row is known to be stale
CREATE OR REPLACE FUNCTION _livevec_mark_stale() RETURNS trigger LANGUAGE plpgsql
SET search_path FROM CURRENT AS $$
DECLARE
    old_row JSONB := to_jsonb(OLD);
    new_row JSONB := to_jsonb(NEW);
BEGIN
    IF new_row -> TG_ARGV[0] IS NOT DISTINCT FROM old_row -> TG_ARGV[0]
       AND new_row -> TG_ARGV[0] <> 'null'::jsonb THEN
        FOR i IN 1 .. TG_NARGS - 1 LOOP
            IF new_row -> TG_ARGV[i] IS DISTINCT FROM old_row -> TG_ARGV[i] THEN
                RETURN jsonb_populate_record(NEW, jsonb_build_object(TG_ARGV[0], NULL));
            END IF;
        END LOOP;
    END IF;
    RETURN NEW;
END $$;
-- statement triggers with transition tables: one dynamic INSERT per statement, not one per row
CREATE OR REPLACE FUNCTION _livevec_log_changes() RETURNS trigger LANGUAGE plpgsql
SET search_path FROM CURRENT AS $$
DECLARE
    log TEXT := 'INSERT INTO _livevec_changes (table_name, key, op, at) ';
    now TEXT := 'extract(epoch FROM clock_timestamp())';
    pk TEXT := quote_ident(TG_ARGV[0]);
BEGIN
    IF TG_OP = 'INSERT' THEN
        EXECUTE log || format('SELECT %L, to_jsonb(%s), ''insert'', %s FROM new_rows',
                              TG_TABLE_NAME, pk, now);
    ELSIF TG_OP = 'UPDATE' THEN
        -- a key the update changed away is, for followers, a deleted row
        EXECUTE log || format('SELECT %L, to_jsonb(o.%s), ''delete'', %s FROM old_rows o '
                              'WHERE NOT EXISTS (SELECT 1 FROM new_rows n WHERE n.%s = o.%s)',
                              TG_TABLE_NAME, pk, now, pk, pk);
        EXECUTE log || format('SELECT %L, to_jsonb(%s), ''update'', %s FROM new_rows',
                              TG_TABLE_NAME, pk, now);
    ELSIF TG_OP = 'DELETE' THEN
        EXECUTE log || format('SELECT %L, to_jsonb(%s), ''delete'', %s FROM old_rows',
                              TG_TABLE_NAME, pk, now);
    ELSE  -- TRUNCATE
        EXECUTE log || format('SELECT %L, NULL, ''reset'', %s', TG_TABLE_NAME, now);
    END IF;
    PERFORM pg_notify('{_CHANNEL}', '');
    RETURN NULL;
END $$;
"""


def parse_url(url: str) -> tuple[str, dict[str, float]]:
    """(libpq connection URL, livevec options) from a `postgresql://` URL with livevec's parameters."""
    parts = urlsplit(url)
    options: dict[str, float] = {name: default for name, (default, _, _) in _URL_OPTIONS.items()}
    rest = []
    for name, value in parse_qsl(parts.query, keep_blank_values=True):
        if name not in _URL_OPTIONS:
            rest.append((name, value))
            continue
        _, lowest, highest = _URL_OPTIONS[name]
        seconds = name == "busy_timeout"
        try:
            number = float(value) if seconds else int(value) if value.isdigit() else None
        except ValueError:
            number = None
        if number is None or not lowest <= number <= highest:  # NaN fails the comparison too
            kind = "a number of seconds" if seconds else "an integer"
            raise ValidationError(f"must be {kind} from {lowest} to {highest}, got {value!r}", field=name)
        options[name] = number
    if options["hnsw_ef_construction"] < 2 * options["hnsw_m"]:
        raise ValidationError(
            f"must be at least twice hnsw_m ({2 * options['hnsw_m']}), got {options['hnsw_ef_construction']}",
            field="hnsw_ef_construction",
        )
    return urlunsplit(parts._replace(query=urlencode(rest))), options


def _ident(name: str) -> str:
    """A quoted identifier for a statement with parameters (where `%` is psycopg's mark)."""
    return quote(name).replace("%", "%%")


def to_sql(column_type: str, value: Any, field: str | None = None) -> Any:
    if value is None:
        return None
    if column_type == "datetime":
        return value.isoformat() if isinstance(value, dt.datetime) else value
    if column_type == "json":
        if _holds_nul(value):
            # PostgreSQL keeps it, but then no path of the document can be read (nor any filter on one)
            raise ValidationError(
                "contains a NUL character, which PostgreSQL's JSON paths cannot read", field=field
            )
        return Jsonb(value, dumps=json_text)
    if column_type == "vector":
        return np.asarray(value, dtype=np.float32)
    if isinstance(value, str) and "\x00" in value:
        raise ValidationError("contains a NUL character, which PostgreSQL text cannot hold", field=field)
    return value


def json_text(value: Any) -> str:
    """`value` as JSON text whose floats read back as floats from jsonb.

    jsonb keeps a number as a decimal and writes `1e+16` back as `10000000000000000`, which JSON
    readers take for an integer: a float is written positionally with a fraction (`1e16` as
    `10000000000000000.0`), which jsonb keeps as written. Keys are converted as `json.dumps` does.
    """
    if isinstance(value, float):
        text = repr(value)
        if "e" not in text:
            return text
        text = format(Decimal(text), "f")
        return text if "." in text else text + ".0"
    if isinstance(value, Mapping):
        return "{" + ",".join(f"{_json_key(k)}:{json_text(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list | tuple):
        return "[" + ",".join(json_text(v) for v in value) + "]"
    return json.dumps(value, ensure_ascii=False)


def _json_key(key: Any) -> str:
    """An object's key as `json.dumps` writes it (a number or a literal becomes its text)."""
    return json.dumps({key: 0}, ensure_ascii=False)[1:-4]


def _holds_nul(value: Any) -> bool:
    """Does a JSON value hold a NUL character in a string or a key?"""
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_holds_nul(k) or _holds_nul(v) for k, v in value.items())
    if isinstance(value, list | tuple):
        return any(_holds_nul(v) for v in value)
    return False


def from_sql(column_type: str, value: Any) -> Any:
    if value is None:
        return None
    if column_type == "datetime":
        return dt.datetime.fromisoformat(value)
    if column_type == "vector":
        return value.to_list()
    return value


class PostgresBackend(Backend):
    def __init__(self, url: str, busy_timeout: float | None = None) -> None:
        """`busy_timeout`, if given, wins over the URL's."""
        self.url = url
        self._conninfo, options = parse_url(url)
        if busy_timeout is not None:
            _, lowest, highest = _URL_OPTIONS["busy_timeout"]
            number = isinstance(busy_timeout, int | float) and not isinstance(busy_timeout, bool)
            if not number or not lowest <= busy_timeout <= highest:
                raise ValidationError(
                    f"must be a number of seconds from {lowest} to {highest}, got {busy_timeout!r}",
                    field="busy_timeout",
                )
            options["busy_timeout"] = busy_timeout
        self._hnsw_m = options["hnsw_m"]
        self._hnsw_ef_construction = options["hnsw_ef_construction"]
        self._hnsw_ef_search = options["hnsw_ef_search"]
        self._busy_timeout = options["busy_timeout"]
        # PostgreSQL's lock_timeout, for the write lock and every other lock a write waits for;
        # 0 would mean "forever" there, while busy_timeout=0 means "do not wait" (as in SQLite)
        self._lock_timeout = f"{max(1, round(self._busy_timeout * 1000))}ms"
        self._iterative_scan = self._create_meta()
        self._pool = ConnectionPool(
            self._conninfo,
            min_size=1,
            max_size=int(options["pool_size"]),
            # autocommit: psycopg's transaction() blocks then issue BEGIN/SAVEPOINT themselves;
            # no prepared statements: a table re-created under the same name must not hit an old plan
            kwargs={"autocommit": True, "prepare_threshold": None},
            configure=register_vector,
            # a connection the server dropped (restart, pg_terminate_backend) is never handed out
            check=self._check_connection,
            open=True,
            name="livevec",
        )
        self._local = threading.local()  # .conn: this thread's connection while in a transaction
        self.followers = _changelog.Followers()
        self._published: tuple[int | None, float] = (None, 0.0)  # (position, time) last published
        self._closed = False
        self._listener_lock = threading.Lock()
        self._change_listener: _ChangeListener | None = None  # started by the first wait_for_change

    def __repr__(self) -> str:
        return f"<PostgresBackend {self.url!r}>"

    def _create_meta(self) -> bool:
        """Create livevec's own tables and functions; True if pgvector can iterate HNSW scans (0.8+)."""
        try:
            with psycopg.connect(self._conninfo, autocommit=True) as conn, conn.transaction():
                self._lock_writes(conn)  # two processes starting
                installed = conn.execute("SELECT extversion FROM pg_extension WHERE extname = 'vector'")
                row = installed.fetchone()
                if row is None:
                    try:
                        with conn.transaction():
                            conn.execute("CREATE EXTENSION vector")
                    except psycopg.Error as exc:
                        raise StorageError(
                            f"pgvector is not installed in this database and cannot be created here "
                            f"({exc}); run `CREATE EXTENSION vector` as a superuser"
                        ) from exc
                    row = conn.execute(
                        "SELECT extversion FROM pg_extension WHERE extname = 'vector'"
                    ).fetchone()
                conn.execute(_META)
                conn.execute(_JSON_TO_JSONB)
        except psycopg.errors.LockNotAvailable as exc:
            raise StorageError(self._busy_message()) from exc
        except psycopg.Error as exc:
            raise StorageError(f"cannot open PostgreSQL database {self.url!r}: {exc}") from exc
        version = tuple(int(p) for p in row[0].split(".")[:2])
        return version >= (0, 8)

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        # spare nobody any longer
        with contextlib.suppress(psycopg.Error, PoolTimeout, PoolClosed), self._pool.connection(1.0) as conn:
            conn.execute("DELETE FROM _livevec_followers WHERE process = %s", (self.followers.process,))
        if self._change_listener is not None:
            self._change_listener.close()
        self._pool.close()

    def wait_for_indexes(self) -> None:
        """Nothing waits: pgvector's HNSW indexes take each row inside the write's own transaction."""

    @property
    def closed(self) -> bool:
        return self._closed

    def in_transaction(self) -> bool:
        return getattr(self._local, "conn", None) is not None

    # --- connections and transactions ---------------------------------------------------------

    def _check_connection(self, conn: psycopg.Connection) -> None:
        """The pool's check before it hands out an idle connection: one round trip."""
        try:
            ConnectionPool.check_connection(conn)
        except psycopg.Error:
            # the server went away, so the other idle connections are dead too: replace them all now
            # (else the pool tries them one by one, waiting 1, 2, 4... seconds between them)
            threading.Thread(target=self._pool.check, name="livevec-pool-check", daemon=True).start()
            raise

    @contextmanager
    def _connection(self, timeout: float | None = None) -> Iterator[psycopg.Connection]:
        """This thread's transaction connection if it is in one, else a pooled one (waiting for it
        `timeout` seconds at most, the pool's 30 by default)."""
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            yield conn
            return
        if self._closed:
            raise DatabaseClosedError(f"the database {self.url!r} is closed")
        try:
            with self._pool.connection(timeout) as conn:
                yield conn
        except (PoolTimeout, PoolClosed, TooManyRequests) as exc:
            raise StorageError(f"no connection to {self.url!r} available: {exc}") from exc

    def _lock_writes(self, conn: psycopg.Connection) -> None:
        # one round trip; SET LOCAL ends with the transaction
        conn.execute(
            f"SET LOCAL lock_timeout = '{self._lock_timeout}'; SELECT pg_advisory_xact_lock({_WRITE_LOCK})"
        )

    def _busy_message(self) -> str:
        return f"waited {self._busy_timeout:g} s for another writer to finish its transaction (busy_timeout)"

    def _errors(self) -> AbstractContextManager[None]:
        return _mapped_errors(self._busy_message)

    @contextmanager
    def transaction(self) -> Iterator[None]:
        conn = getattr(self._local, "conn", None)
        if conn is not None:  # nested: a savepoint
            with self._errors(), conn.transaction():
                yield
            return
        with self._connection() as conn:
            self._local.conn = conn
            try:
                with self._errors(), conn.transaction():
                    # taken before the first row lock, so two writers wait here rather than deadlock
                    self._lock_writes(conn)
                    yield
                    self._prune_change_log(conn)
            finally:
                self._local.conn = None

    def _query(self, sql: str, params: Any = None, timeout: float | None = None) -> list[tuple]:
        with self._connection(timeout) as conn, self._errors():
            return conn.execute(sql, params).fetchall()

    def _execute(self, sql: str, params: Any = None) -> int:
        """Run a write inside the current transaction; returns the rows it touched."""
        with self._connection() as conn, self._errors():
            return conn.execute(sql, params).rowcount

    # --- tables -------------------------------------------------------------------------------

    def table_names(self) -> list[str]:
        return [r[0] for r in self._query("SELECT name FROM _livevec_tables ORDER BY name")]

    def load_spec(self, name: str) -> TableSpec | None:
        rows = self._query("SELECT spec FROM _livevec_tables WHERE name = %s", (name,))
        return TableSpec.from_json(rows[0][0]) if rows else None

    def create_table(self, spec: TableSpec) -> None:
        pk = spec.primary_key
        columns = []
        for c in spec.columns:
            sql_type = _SQL_TYPES[c.type]
            if c.type == "vector":
                sql_type = sql_type.format(dimensions=spec.vector(c.name).dimensions)
            sql = f"{quote(c.name)} {sql_type}"
            if c.primary_key:
                sql += " PRIMARY KEY"
            elif not c.nullable and c.type != "vector":
                sql += " NOT NULL"
            columns.append(sql)
        columns += [f"{quote(h)} BYTEA" for h in spec.hash_columns]
        texts = [f"coalesce({quote(c.name)}, '')" for c in spec.columns if c.fulltext]
        if texts:
            # the words of the full-text columns, kept in step by PostgreSQL itself on every write
            text = " || ' ' || ".join(texts)
            columns.append(
                f"{_TEXT_COLUMN} TSVECTOR GENERATED ALWAYS AS "
                f"(to_tsvector('_livevec_text', _livevec_fold({text}))) STORED"
            )
        t = quote(spec.name)
        key = pk.name.replace("'", "''")  # the trigger function quotes it
        with self.transaction():
            self._execute(f"CREATE TABLE {t} ({', '.join(columns)})")
            self._create_vector_indexes(spec)
            for c in spec.columns:
                for index, on in self._filter_indexes(spec.name, c).items():
                    self._execute(f"CREATE INDEX {index} ON {t} ({on})")
            if texts:
                self._execute(f"CREATE INDEX ON {t} USING gin ({_TEXT_COLUMN})")
            self._execute(
                f"CREATE TRIGGER _livevec_lock BEFORE INSERT OR UPDATE OR DELETE OR TRUNCATE ON {t} "
                "FOR EACH STATEMENT EXECUTE FUNCTION _livevec_lock_writes()"
            )
            for op, tables in (
                ("INSERT", "NEW TABLE AS new_rows"),
                ("UPDATE", "OLD TABLE AS old_rows NEW TABLE AS new_rows"),
                ("DELETE", "OLD TABLE AS old_rows"),
            ):
                self._execute(
                    f"CREATE TRIGGER _livevec_{op.lower()} AFTER {op} ON {t} REFERENCING {tables} "
                    f"FOR EACH STATEMENT EXECUTE FUNCTION _livevec_log_changes('{key}')"
                )
            self._execute(
                f"CREATE TRIGGER _livevec_truncate AFTER TRUNCATE ON {t} "
                f"FOR EACH STATEMENT EXECUTE FUNCTION _livevec_log_changes('{key}')"
            )
            self._create_staleness(spec)
            self._execute(
                "INSERT INTO _livevec_tables (name, spec) VALUES (%s, %s)", (spec.name, Jsonb(spec.to_json()))
            )
            self._log_reset(spec.name)

    def _save_spec(self, spec: TableSpec) -> None:
        self._execute(
            "UPDATE _livevec_tables SET spec = %s WHERE name = %s", (Jsonb(spec.to_json()), spec.name)
        )

    def _filter_indexes(self, table: str, column: ColumnSpec) -> dict[str, str]:
        """A name is a digest of what the index is for: PostgreSQL cuts names at 63 bytes, and an
        index's name is unique in its schema. (A table of a livevec before 2026-12-03 has its
        `index=True` indexes under PostgreSQL's own names, which no later change of indexes drops.)"""
        wanted: list[tuple[str, str]] = []
        if column.index and not column.primary_key:
            wanted.append((f"{table}\0{column.name}", quote(column.name)))
        for path in column.paths:  # a JSON field's paths, each for the numbers and the strings there
            for kind in INDEXED_KINDS:
                expression = POSTGRES_JSON.index_expression(quote(column.name), tuple(path.split(".")), kind)
                wanted.append((f"{table}\0{column.name}\0{path}\0{kind}", f"({expression})"))
        return {
            quote("_livevec_ix_" + hashlib.sha256(what.encode()).hexdigest()[:24]): on for what, on in wanted
        }

    def _create_vector_indexes(self, spec: TableSpec) -> None:
        for vector in spec.vectors:
            if vector.dimensions > _HNSW_MAX_DIMENSIONS:
                continue  # pgvector cannot index it: searches scan the column exactly
            ops = "vector_cosine_ops" if vector.distance == "cosine" else "vector_l2_ops"
            self._execute(
                f"CREATE INDEX ON {quote(spec.name)} USING hnsw ({quote(vector.name)} {ops}) "
                f"WITH (m = {self._hnsw_m}, ef_construction = {self._hnsw_ef_construction})"
            )

    @contextmanager
    def bulk_load(self, spec: TableSpec) -> Iterator[None]:
        """Build the HNSW indexes once, after the load, rather than row by row: ten times faster."""
        with self.transaction():
            indexes = self._query(
                "SELECT c.relname FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
                "JOIN pg_am am ON am.oid = c.relam WHERE i.indrelid = %s::regclass AND am.amname = 'hnsw'",
                (quote(spec.name),),
            )
            for (index,) in indexes:
                self._execute(f"DROP INDEX {quote(index)}")
            yield
            self._create_vector_indexes(spec)

    def drop_table(self, name: str) -> None:
        spec = self.load_spec(name)
        with self.transaction():
            for vector in spec.vectors if spec else []:
                self._execute(f"DROP TABLE IF EXISTS {self._shadow(spec, vector.name)}")
            self._execute(f"DROP TABLE IF EXISTS {quote(name)}")
            self._execute("DELETE FROM _livevec_tables WHERE name = %s", (name,))
            self._log_reset(name)

    def _log_reset(self, name: str) -> None:
        self._execute(
            "INSERT INTO _livevec_changes (table_name, op, at) "
            "VALUES (%s, 'reset', extract(epoch FROM clock_timestamp()))",
            (name,),
        )
        self._execute(f"NOTIFY {_CHANNEL}")

    # --- rows ---------------------------------------------------------------------------------

    def _where(self, spec: TableSpec, filters: Filters | None) -> tuple[str, list[Any]]:
        return compile_filters(filters, spec, "%s", to_sql, json=POSTGRES_JSON)

    def insert(self, spec: TableSpec, rows: list[dict[str, Any]], *, upsert: bool = False) -> list[Any]:
        if not rows:
            return []
        pk = spec.primary_key.name
        types = spec.write_types()
        t = _ident(spec.name)
        with self.transaction():
            keys = [row.get(pk) for row in rows]
            if None in keys:
                # as SQLite's rowid: one past the largest key; safe, as we hold the write lock
                (largest,) = self._query(f"SELECT coalesce(max({quote(pk)}), 0) FROM {t}")[0]
                for i, position in enumerate(p for p, k in enumerate(keys) if k is None):
                    keys[position] = largest + 1 + i
            names = list(dict.fromkeys([pk, *(n for row in rows for n in row)]))
            others = [n for n in names if n != pk]
            sql = f"INSERT INTO {t} ({', '.join(map(quote, names))}) VALUES "
            suffix = ""
            if upsert:
                sets = ", ".join(f"{quote(n)} = excluded.{quote(n)}" for n in others)
                suffix = f" ON CONFLICT ({quote(pk)}) DO " + (f"UPDATE SET {sets}" if sets else "NOTHING")
            marks = "(" + ", ".join(["%s"] * len(names)) + ")"
            per_statement = max(1, min(1000, _MAX_PARAMS // len(names)))
            for start in range(0, len(rows), per_statement):
                params = []
                chunk = range(start, min(start + per_statement, len(rows)))
                for i in chunk:
                    params.append(keys[i])
                    params += [to_sql(types[n], rows[i].get(n), n) for n in others]
                self._execute(sql + ", ".join([marks] * len(chunk)) + suffix, params)
        return keys

    def update(self, spec: TableSpec, values: dict[str, Any], filters: Filters | None) -> int:
        types = spec.write_types()
        where, params = self._where(spec, filters)
        sets = ", ".join(f"{quote(n)} = %s" for n in values)
        with self.transaction():
            return self._execute(
                f"UPDATE {_ident(spec.name)} SET {sets} WHERE {where}",
                [to_sql(types[n], v, n) for n, v in values.items()] + params,
            )

    def delete(self, spec: TableSpec, filters: Filters | None) -> int:
        where, params = self._where(spec, filters)
        with self.transaction():
            return self._execute(f"DELETE FROM {_ident(spec.name)} WHERE {where}", params)

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
        # SQLite sorts NULL below every value
        sort = ", ".join(quote(n) + (" DESC NULLS LAST" if desc else " NULLS FIRST") for n, desc in order)
        sql = (
            f"SELECT {', '.join(map(quote, names))} FROM {_ident(spec.name)} WHERE {where} ORDER BY {sort}"
            f"{f' LIMIT {int(limit)}' if limit is not None else ''} OFFSET {int(offset)}"
        )
        return self._rows(spec, names, self._query(sql, params))

    def _rows(self, spec: TableSpec, names: list[str], rows: list[tuple]) -> list[dict[str, Any]]:
        types = [c.type if (c := spec.column(n)) else "hash" for n in names]  # hash: a hidden column
        return [{n: from_sql(t, v) for n, t, v in zip(names, types, row, strict=True)} for row in rows]

    def count(self, spec: TableSpec, filters: Filters | None = None) -> int:
        where, params = self._where(spec, filters)
        return self._query(f"SELECT count(*) FROM {_ident(spec.name)} WHERE {where}", params)[0][0]

    # --- vector search ------------------------------------------------------------------------

    def vector_search(self, spec: TableSpec, request: VectorSearch) -> list[tuple[dict[str, Any], float]]:
        vector = spec.vector(request.column)
        query = np.asarray(request.query, dtype=np.float32)
        distance = f"({quote(vector.name)} {'<=>' if vector.distance == 'cosine' else '<->'} %s)"
        where, filter_params = self._where(spec, request.filters)
        conditions = [f"{quote(vector.name)} IS NOT NULL", f"({where})"]
        params: list[Any] = [query, *filter_params]
        if request.max_distance is not None:
            conditions.append(f"{distance} <= %s")
            params += [query, request.max_distance]
        if request.min_distance is not None:
            conditions.append(f"{distance} >= %s")
            params += [query, request.min_distance]
        names = request.row_columns(spec)
        pk = quote(spec.primary_key.name)
        select = (
            f"SELECT {', '.join(map(quote, names))}, {distance} AS _livevec_distance "
            f"FROM {_ident(spec.name)} WHERE {' AND '.join(conditions)}"
        )
        limit = request.limit
        rows = None
        filtered = request.filters or request.max_distance is not None or request.min_distance is not None
        # without iterative scans (pgvector < 0.8) the index filters only the ef_search rows it found,
        # so a filtered search would miss matches further out: scan those exactly
        if vector.dimensions <= _HNSW_MAX_DIMENSIONS and (self._iterative_scan or not filtered):
            # the index only serves ORDER BY <distance> alone: take one row more than asked, then
            # break ties by key; a tie across the limit (or too few rows) needs the exact scan
            rows = self._indexed_search(
                f"SELECT * FROM ({select} ORDER BY _livevec_distance LIMIT {limit + 1}) AS nearest "
                f"ORDER BY _livevec_distance, {pk}",
                params,
                limit + 1,
            )
            if len(rows) < limit or (len(rows) > limit and rows[limit][-1] == rows[limit - 1][-1]):
                rows = None
        if rows is None:
            rows = self._query(f"{select} ORDER BY _livevec_distance, {pk} LIMIT {limit}", params)
        return [(self._rows(spec, names, [row[:-1]])[0], float(row[-1])) for row in rows[:limit]]

    def _indexed_search(self, sql: str, params: list[Any], limit: int) -> list[tuple]:
        settings = [("hnsw.ef_search", str(min(max(self._hnsw_ef_search, limit), _HNSW_MAX_EF_SEARCH)))]
        if self._iterative_scan:
            # keep walking the graph until enough rows pass the filter, still nearest first
            settings.append(("hnsw.iterative_scan", "strict_order"))
        with self._connection() as conn, self._errors(), conn.transaction():
            conn.execute(
                "SELECT " + ", ".join(["set_config(%s, %s, true)"] * len(settings)),
                [p for pair in settings for p in pair],
            )
            return conn.execute(sql, params).fetchall()

    # --- stale vectors (text changed by another client) ----------------------------------------

    def _create_staleness(self, spec: TableSpec) -> None:
        """Per embedded vector: a row trigger that clears the text hash when a write changes a source
        text without setting the hash (any client but livevec), and a partial index of the stale rows."""
        t = quote(spec.name)  # statements without parameters: no % doubling
        for i, vector in enumerate(spec.vectors):
            if not vector.hash_column:
                continue
            args = ", ".join("'" + n.replace("'", "''") + "'" for n in [vector.hash_column, *vector.sources])
            self._execute(f"DROP TRIGGER IF EXISTS _livevec_stale_{i} ON {t}")
            self._execute(
                f"CREATE TRIGGER _livevec_stale_{i} BEFORE UPDATE OF "
                f"{', '.join(map(quote, vector.sources))} ON {t} "
                f"FOR EACH ROW EXECUTE FUNCTION _livevec_mark_stale({args})"
            )
            h, index = quote(vector.hash_column), quote(f"_livevec_stale_{spec.name}_{i}"[:63])
            self._execute(f"CREATE INDEX IF NOT EXISTS {index} ON {t} ({h}) WHERE {h} IS NULL")

    def ensure_hashes(self, spec: TableSpec) -> None:
        """Give a table made before text hashes existed its hash columns: its rows start stale."""
        if not spec.hash_columns:
            return
        sql = (
            "SELECT column_name FROM information_schema.columns "
            "WHERE table_schema = current_schema() AND table_name = %s"
        )
        if set(spec.hash_columns) <= {r[0] for r in self._query(sql, (spec.name,))}:
            return
        with self.transaction():
            for h in spec.hash_columns:
                self._execute(f"ALTER TABLE {quote(spec.name)} ADD COLUMN IF NOT EXISTS {quote(h)} BYTEA")
            self._create_staleness(spec)

    def search_state(self, spec: TableSpec, vector: VectorSpec | None) -> tuple[Any, bool]:
        h = vector.hash_column if vector else None
        stale = f"EXISTS (SELECT 1 FROM {_ident(spec.name)} WHERE {_ident(h)} IS NULL)" if h else "false"
        rows = self._query(f"SELECT spec, {stale} FROM _livevec_tables WHERE name = %s", (spec.name,))
        return (rows[0][0], bool(rows[0][1])) if rows else (None, False)

    def stale_rows(self, spec: TableSpec, vector: VectorSpec, limit: int) -> list[dict[str, Any]]:
        names = [spec.primary_key.name, *vector.sources]
        sql = (
            f"SELECT {', '.join(map(quote, names))} FROM {quote(spec.name)} "
            f"WHERE {quote(vector.hash_column)} IS NULL LIMIT {int(limit)}"
        )
        return self._rows(spec, names, self._query(sql))

    def set_vectors(self, spec: TableSpec, vector: VectorSpec, items: list[StaleFix]) -> int:
        t, pk, h = _ident(spec.name), _ident(spec.primary_key.name), _ident(vector.hash_column)
        done = 0
        with self.transaction():
            for key, texts, value, digest in items:
                sets = f"{h} = %s" if value is None else f"{_ident(vector.name)} = %s, {h} = %s"
                same = "".join(f" AND {_ident(s)} IS NOT DISTINCT FROM %s::text" for s in texts)
                params = [digest] if value is None else [to_sql("vector", value), digest]
                done += self._execute(
                    f"UPDATE {t} SET {sets} WHERE {pk} = %s AND {h} IS NULL{same}",
                    [*params, key, *texts.values()],
                )
        return done

    # --- reembed ------------------------------------------------------------------------------

    def _shadow(self, spec: TableSpec, vector: str) -> str:
        digest = hashlib.blake2b(f"{spec.name}\x00{vector}".encode(), digest_size=10).hexdigest()
        return f"_livevec_reembed_{digest}"  # within PostgreSQL's 63 bytes, whatever the names

    def reembed_begin(self, spec: TableSpec, target: VectorSpec) -> bool:
        shadow = self._shadow(spec, target.name)
        key_type = _SQL_TYPES[spec.primary_key.type].replace("%", "%%")
        with self.transaction():
            stored = self.load_spec(spec.name)
            fresh = stored.reembedding.get(target.name) != asdict(target)
            if fresh:
                self._execute(f"DROP TABLE IF EXISTS {shadow}")
                stored.reembedding[target.name] = asdict(target)
                self._save_spec(stored)
            self._execute(
                f"CREATE TABLE IF NOT EXISTS {shadow} "
                f"(key {key_type} PRIMARY KEY, hash BYTEA NOT NULL, vector VECTOR({int(target.dimensions)}))"
            )
        return fresh

    def reembed_todo(
        self, spec: TableSpec, vector: VectorSpec, after: Any, limit: int
    ) -> list[dict[str, Any]]:
        t, pk, h = _ident(spec.name), _ident(spec.primary_key.name), _ident(vector.hash_column)
        names = [spec.primary_key.name, *vector.sources]
        sql = (
            f"SELECT {', '.join(f't.{_ident(n)}' for n in names)} FROM {t} AS t "
            f"LEFT JOIN {self._shadow(spec, vector.name)} AS s ON s.key = t.{pk} "
            f"WHERE t.{h} IS NOT NULL AND (s.key IS NULL OR s.hash IS DISTINCT FROM t.{h})"
            + ("" if after is None else f" AND t.{pk} > %s")
            + f" ORDER BY t.{pk} LIMIT {int(limit)}"
        )
        return self._rows(spec, names, self._query(sql, None if after is None else (after,)))

    def reembed_store(self, spec: TableSpec, vector: VectorSpec, items: list[tuple[Any, Any, bytes]]) -> None:
        if not items:
            return
        with self.transaction(), self._connection() as conn, self._errors(), conn.cursor() as cursor:
            cursor.executemany(
                f"INSERT INTO {self._shadow(spec, vector.name)} (key, vector, hash) VALUES (%s, %s, %s) "
                "ON CONFLICT (key) DO UPDATE SET vector = excluded.vector, hash = excluded.hash",
                [(key, to_sql("vector", value), digest) for key, value, digest in items],
            )

    def reembed_progress(self, spec: TableSpec, vector: VectorSpec) -> tuple[int, int]:
        t, pk, h = quote(spec.name), quote(spec.primary_key.name), quote(vector.hash_column)
        sql = (
            f"SELECT (SELECT count(*) FROM {t} AS t JOIN {self._shadow(spec, vector.name)} AS s "
            f"ON s.key = t.{pk} AND s.hash = t.{h}), (SELECT count(*) FROM {t})"
        )
        return tuple(self._query(sql)[0])

    def reembed_finish(self, spec: TableSpec, target: VectorSpec) -> int:
        t, pk, column = quote(spec.name), quote(spec.primary_key.name), quote(target.name)
        shadow = self._shadow(spec, target.name)
        with self.transaction():  # the write lock: no writer changes a row between the count and the swap
            stored = self.load_spec(spec.name)
            done, total = self.reembed_progress(stored, stored.vector(target.name))
            if done < total:
                return total - done
            # from here searches wait for the commit (ALTER TABLE's lock): none sees half a swap
            indexes = self._query(
                "SELECT i.relname FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid "
                "JOIN pg_am am ON am.oid = i.relam JOIN pg_attribute a ON a.attrelid = x.indrelid "
                "AND a.attnum = ANY(x.indkey) WHERE x.indrelid = %s::regclass AND am.amname = 'hnsw' "
                "AND a.attname = %s",
                (quote(spec.name), target.name),
            )
            for (index,) in indexes:
                self._execute(f"DROP INDEX {quote(index)}")
            self._execute(
                f"ALTER TABLE {t} ALTER COLUMN {column} TYPE VECTOR({int(target.dimensions)}) USING NULL"
            )
            self._execute(f"UPDATE {t} SET {column} = s.vector FROM {shadow} AS s WHERE s.key = {t}.{pk}")
            self._create_vector_indexes(TableSpec(spec.name, [], [target]))
            stored.vectors = [target if v.name == target.name else v for v in stored.vectors]
            stored.reembedding.pop(target.name, None)
            self._save_spec(stored)
            self._execute(f"DROP TABLE {shadow}")
            self._log_reset(spec.name)
        return 0

    # --- full-text search ---------------------------------------------------------------------

    def fulltext_search(self, spec: TableSpec, request: FulltextSearch) -> list[tuple[dict[str, Any], float]]:
        # each word becomes its own query, ORed: the text is words, never tsquery syntax
        words = list(dict.fromkeys(w.lower() for w in _WORD.findall(request.query)))[:_MAX_QUERY_WORDS]
        if not words:
            return []
        query = " || ".join(["plainto_tsquery('_livevec_text', _livevec_fold(%s))"] * len(words))
        where, filter_params = self._where(spec, request.filters)
        names = spec.column_names
        sql = (
            f"SELECT {', '.join(map(quote, names))}, ts_rank({_TEXT_COLUMN}, query) AS _livevec_rank "
            f"FROM {_ident(spec.name)}, ({'SELECT ' + query} AS query) AS words "
            f"WHERE {_TEXT_COLUMN} @@ query AND ({where}) "
            f"ORDER BY _livevec_rank DESC, {quote(spec.primary_key.name)} LIMIT {int(request.limit)}"
        )
        rows = self._query(sql, [*words, *filter_params])
        return [(self._rows(spec, names, [row[:-1]])[0], float(row[-1])) for row in rows]

    # --- embedding cache ----------------------------------------------------------------------

    def get_embeddings(self, model_key: str, hashes: list[bytes]) -> dict[bytes, np.ndarray]:
        if not hashes:
            return {}
        rows = self._query(
            "SELECT hash, vector FROM _livevec_embeddings WHERE model = %s AND hash = ANY(%s)",
            (model_key, hashes),
        )
        return {bytes(h): v.to_numpy() for h, v in rows}

    def put_embeddings(self, model_key: str, items: list[tuple[bytes, np.ndarray]]) -> None:
        if not items:
            return
        with self.transaction(), self._connection() as conn, self._errors(), conn.cursor() as cursor:
            cursor.executemany(
                "INSERT INTO _livevec_embeddings (model, hash, vector) VALUES (%s, %s, %s) "
                "ON CONFLICT DO NOTHING",
                [(model_key, h, np.asarray(v, dtype=np.float32)) for h, v in items],
            )

    # --- change feed --------------------------------------------------------------------------

    def changes(self, since: int, limit: int = 1000) -> list[Change]:
        # one statement, one snapshot: the pruned mark and the entries agree
        rows = self._query(
            "SELECT NULL::bigint, seq::text, NULL, NULL::jsonb, NULL::float8 FROM _livevec_log_pruned "
            "UNION ALL (SELECT seq, table_name, op, key, at FROM _livevec_changes "
            "WHERE seq > %s ORDER BY seq LIMIT %s)",
            (since, limit),
        )
        pruned = next((int(row[1]) for row in rows if row[0] is None), 0)
        if since < pruned:
            raise ChangeLogGapError(since, pruned)
        return [Change(*row) for row in rows if row[0] is not None]

    def _prune_change_log(self, conn: psycopg.Connection) -> None:
        """Inside a commit: publish this process's followers, then forget what nobody needs (see
        `_changelog`)."""
        now = time.time()
        self._publish_followers(conn, now)
        newest, pruned = conn.execute(
            "SELECT coalesce((SELECT max(seq) FROM _livevec_changes), 0), (SELECT seq FROM _livevec_log_pruned)"
        ).fetchone()
        if _changelog.prune_bound(newest, pruned, None) is None:  # nothing to prune: no more reads
            return
        conn.execute("DELETE FROM _livevec_followers WHERE seen < %s", (now - _changelog.ALIVE_SECONDS,))
        slowest = conn.execute("SELECT min(seq) FROM _livevec_followers").fetchone()[0]
        bound = _changelog.prune_bound(newest, pruned, slowest)
        if bound is None:
            return
        conn.execute("DELETE FROM _livevec_changes WHERE seq <= %s", (bound,))
        conn.execute("UPDATE _livevec_log_pruned SET seq = %s", (bound,))

    def _publish_followers(self, conn: psycopg.Connection, now: float) -> None:
        """Record where this process's slowest follower is, if it moved or is due."""
        lowest = self.followers.lowest()
        if not _changelog.publish_due(lowest, self._published, now):
            return
        if lowest is None:
            conn.execute("DELETE FROM _livevec_followers WHERE process = %s", (self.followers.process,))
        else:
            conn.execute(
                "INSERT INTO _livevec_followers (process, seq, seen) VALUES (%s, %s, %s) "
                "ON CONFLICT (process) DO UPDATE SET seq = excluded.seq, seen = excluded.seen",
                (self.followers.process, lowest, now),
            )
        self._published = (lowest, now)

    def publish_followers(self) -> None:
        if self._closed or not _changelog.publish_due(self.followers.lowest(), self._published, time.time()):
            return
        try:
            with self._pool.connection(1.0) as conn, conn.transaction():
                self._publish_followers(conn, time.time())
        except (psycopg.Error, PoolTimeout, PoolClosed, TooManyRequests):
            pass  # the server is away: the next call, or our next commit, publishes

    def last_change(self) -> int:
        return self._query(_LAST_CHANGE)[0][0]

    def wait_for_change(self, since: int, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        listener = self._listener()
        if not listener.listening.wait(timeout):
            return  # the server cannot be reached: the caller's next read says why
        count = listener.count  # taken before the check: a commit after it will change the count
        try:
            # a pool timeout of 0 fails even with a connection ready: allow a little
            newest = self._query(_LAST_CHANGE, timeout=max(deadline - time.monotonic(), 0.1))[0][0]
        except StorageError:
            return  # the connection was lost: as above
        if newest > since:
            return
        with listener.changed:
            listener.changed.wait_for(lambda: listener.count != count, max(deadline - time.monotonic(), 0))

    def follow(self, since: int, poll_interval: float = 0.1) -> Iterator[Change]:
        """As `Backend.follow`, through server restarts and dropped connections: a read that lost
        its connection is tried again (after 0.1 s, doubling to 5 s) from the last change given,
        so no change is missed; one warning per outage. Other errors are raised."""
        backoff = _Backoff("db.follow()")
        while True:
            try:
                batch = self.changes(since)
                if not batch:
                    self.wait_for_change(since, poll_interval)
            except StorageError as exc:
                if not _connection_lost(exc):
                    raise
                backoff.failed(exc)
                continue
            backoff.succeeded()
            for change in batch:
                since = change.seq
                yield change

    def _listener(self) -> _ChangeListener:
        with self._listener_lock:
            if self._change_listener is None:
                self._change_listener = _ChangeListener(self._conninfo)
            return self._change_listener

    # --- raw SQL ------------------------------------------------------------------------------

    def execute(self, sql: str, params: list[Any] | dict[str, Any] | None) -> int:
        # no parameters: psycopg then leaves every % of the statement alone
        with self.transaction():
            return max(self._execute(sql, params or None), 0)

    def query(self, sql: str, params: list[Any] | dict[str, Any] | None) -> tuple[list[str], list[tuple]]:
        with self._connection() as conn, self._errors():
            cursor = conn.execute(sql, params or None)
            if cursor.description is None:  # a statement that returns no rows
                return [], []
            return [column.name for column in cursor.description], cursor.fetchall()


class _ChangeListener:
    """One LISTEN connection per backend, on its own thread: each NOTIFY wakes every waiter."""

    def __init__(self, conninfo: str) -> None:
        self._conninfo = conninfo
        self.changed = threading.Condition()
        self.count = 0  # notifications so far (and reconnections, after which anything may have changed)
        self.listening = threading.Event()
        self._closed = threading.Event()
        self._thread = threading.Thread(target=self._listen, name="livevec-listen", daemon=True)
        self._thread.start()

    def _listen(self) -> None:
        backoff = _Backoff("the change listener", sleep=self._closed.wait)  # close() ends a wait
        while not self._closed.is_set():
            try:
                with psycopg.connect(self._conninfo, autocommit=True) as conn:
                    conn.execute(f"LISTEN {_CHANNEL}")
                    self.listening.set()
                    backoff.succeeded()
                    self._wake()  # whatever was committed while nobody listened
                    while not self._closed.is_set():
                        for _ in conn.notifies(timeout=0.5):  # the timeout notices close()
                            self._wake()
            except Exception as exc:  # whatever it is, this thread must live on: followers need it
                self.listening.clear()
                backoff.failed(exc)  # the server went away: listen again once it is back

    def _wake(self) -> None:
        with self.changed:
            self.count += 1
            self.changed.notify_all()

    def close(self) -> None:
        self._closed.set()
        self._thread.join(timeout=5)


class _Backoff:
    """Waits between reconnection attempts (0.1 s, doubling to 5 s); one warning per outage."""

    def __init__(self, who: str, sleep: Callable[[float], object] = time.sleep) -> None:
        self._who = who
        self._sleep = sleep
        self._delay = 0.0

    def failed(self, exc: BaseException) -> None:
        if not self._delay:
            logger.warning("%s lost its connection to PostgreSQL, reconnecting: %s", self._who, exc)
        self._delay = min(max(2 * self._delay, _RETRY_FIRST), _RETRY_MAX)
        self._sleep(self._delay)

    def succeeded(self) -> None:
        if self._delay:
            logger.info("%s is connected to PostgreSQL again", self._who)
            self._delay = 0.0


def _connection_lost(exc: StorageError) -> bool:
    """Whether the error is the server being unreachable for now (and not, say, the pool closed)."""
    cause = exc.__cause__
    return isinstance(cause, psycopg.OperationalError) and not isinstance(cause, PoolClosed)


@contextmanager
def _mapped_errors(busy_message: Callable[[], str]) -> Iterator[None]:
    """PostgreSQL's errors as livevec's: bad data names its field, the rest is a StorageError."""
    try:
        yield
    except psycopg.errors.LockNotAvailable as exc:  # lock_timeout: another writer held on too long
        raise StorageError(busy_message()) from exc
    except psycopg.errors.UniqueViolation as exc:
        raise DuplicateKeyError("a row with this key already exists", field=_key_column(exc)) from exc
    except psycopg.errors.NotNullViolation as exc:
        raise ValidationError("a value is required", field=exc.diag.column_name) from exc
    except (psycopg.errors.IntegrityError, psycopg.errors.DataError) as exc:
        raise ValidationError(exc.diag.message_primary or str(exc)) from exc
    except psycopg.Error as exc:
        raise StorageError(f"PostgreSQL: {exc}") from exc


def _key_column(exc: psycopg.errors.UniqueViolation) -> str | None:
    # detail reads: Key (id)=(p1) already exists.
    detail = exc.diag.message_detail or ""
    if detail.startswith("Key (") and ")=" in detail:
        return detail[len("Key (") : detail.index(")=")]
    return None
