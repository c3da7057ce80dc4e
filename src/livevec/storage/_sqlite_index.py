"""A SQLite vector column's in-memory index: kept in step with the change log, persisted, searched.

The index holds row ids (SQLite rowids) and vectors. `sync()` applies every change logged since the
last one it saw, whoever committed it; the backend calls it after each of its own commits and before
each search. A large column's HNSW graph is saved beside the database file with the log position it
reflects, reloaded at start and caught up from the log; a file that is missing, corrupt, built with
other options, or older than the pruned log is ignored and the index rebuilt from the table.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import sqlite3
import zlib
from collections import OrderedDict
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote as url_quote

import numpy as np

from .._schema import TableSpec, VectorSpec
from ..filters import quote
from ._base import VectorSearch
from .vector_index import ExactIndex, HnswIndex, IndexOptions, VectorIndex, candidates_to_fetch, distances

_FORMAT = 1
# rows sampled to estimate how many rows a filter keeps
_SAMPLE = 500
# a filter keeping at most this many rows (found through an SQL index) is always scanned exactly
_CHEAP_SCAN_ROWS = 1_000
# fetch at most this share of the graph before a filtered search falls back to an exact scan
_MAX_GRAPH_SHARE = 0.2


def _ids_json(ids: Any) -> str:
    return json.dumps(np.asarray(ids, dtype=np.int64).tolist())


class ColumnIndex:
    """One vector column's index, the change-log position it reflects, and its file on disk."""

    def __init__(
        self,
        conn: sqlite3.Connection,
        spec: TableSpec,
        vector: VectorSpec,
        options: IndexOptions,
        directory: Path | None,
    ) -> None:
        self.conn = conn
        self.spec = spec
        self.vector = vector
        self.options = options
        self.index: VectorIndex = ExactIndex(vector.dimensions, vector.distance)
        self.seq = -1  # -1: not loaded
        stem = url_quote(f"{spec.name}.{vector.name}", safe="")
        self.path = directory / f"{stem}.usearch" if directory else None
        self._unsaved = 0  # changes applied since the file was written
        self._verify_count = False  # check the row count once a loaded file has caught up
        # rows applied from the current transaction's uncommitted writes, to repair on rollback
        self._committed_seq: int | None = None
        self._uncommitted: set[int] | None = set()  # None: the whole index was rebuilt uncommitted
        self._table, self._column = quote(spec.name), quote(vector.name)
        self._plans: OrderedDict[tuple, tuple[int | None, float, int]] = OrderedDict()  # see _plan()

    # --- keeping in step ----------------------------------------------------------------------

    def sync(self, in_transaction: bool) -> None:
        """Apply the changes committed (or, inside our own transaction, written) since the last sync."""
        last = self.conn.execute("SELECT coalesce(max(seq), 0) FROM _livevec_changes").fetchone()[0]
        if self.seq == last:
            return
        if in_transaction and self._committed_seq is None:
            self._committed_seq = self.seq
        if self.seq < 0:
            self.seq = self._load_file()
        changes: list[tuple[int, str]] = []
        if self.seq >= 0:
            oldest = self.conn.execute("SELECT min(seq) FROM _livevec_changes").fetchone()[0] or 0
            if oldest > self.seq + 1:  # the log was pruned past us: what changed is unknown
                self.seq = -1
            else:
                changes = self.conn.execute(
                    "SELECT row_id, op FROM _livevec_changes WHERE seq > ? AND table_name = ?",
                    (self.seq, self.spec.name),
                ).fetchall()
                if any(op == "reset" for _, op in changes):
                    self.seq = -1
        if self.seq < 0:
            self._rebuild(last, in_transaction)
            return
        changed = sorted({row_id for row_id, _ in changes})
        self._apply(changed)
        if in_transaction and self._uncommitted is not None:
            self._uncommitted.update(changed)
        self.seq = last
        self._unsaved += len(changed)
        if self._verify_count:
            self._verify_count = False
            if len(self.index) != self._count_rows():
                self._rebuild(last, in_transaction)
                return
        if self._wrong_kind():
            self._rebuild(last, in_transaction)
        elif not in_transaction and self._unsaved >= 50_000:
            self.save()  # so that after a crash the log still reaches back to the file

    def _apply(self, row_ids: list[int]) -> None:
        if not row_ids:
            return
        rows = self.conn.execute(
            f"SELECT rowid, {self._column} FROM {self._table} "
            "WHERE rowid IN (SELECT value FROM json_each(?))",
            (_ids_json(row_ids),),
        ).fetchall()
        present = [(r, blob) for r, blob in rows if blob is not None]
        gone = set(row_ids) - {r for r, _ in present}
        self.index.remove(np.array(sorted(gone), dtype=np.int64))
        self._upsert(present)

    def _upsert(self, rows: list[tuple[int, bytes]]) -> None:
        if rows:
            ids = np.array([r for r, _ in rows], dtype=np.int64)
            vectors = np.frombuffer(b"".join(blob for _, blob in rows), dtype="<f4")
            self.index.upsert(ids, vectors.reshape(len(rows), self.vector.dimensions))

    def _count_rows(self) -> int:
        sql = f"SELECT count(*) FROM {self._table} WHERE {self._column} IS NOT NULL"
        return self.conn.execute(sql).fetchone()[0]

    def _wrong_kind(self) -> bool:
        size, ann = len(self.index), isinstance(self.index, HnswIndex)
        return (not ann and size >= self.options.ann_min_rows) or (
            ann and size < self.options.ann_min_rows // 2
        )

    def _rebuild(self, last: int, in_transaction: bool) -> None:
        """Reload the column from the table, as an exact index or a graph depending on its size."""
        if in_transaction:
            self._uncommitted = None
        exists = self.conn.execute(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (self.spec.name,)
        ).fetchone()
        size = self._count_rows() if exists else 0
        if size >= self.options.ann_min_rows:
            self.index = HnswIndex(self.vector.dimensions, self.vector.distance, self.options)
        else:
            self.index = ExactIndex(self.vector.dimensions, self.vector.distance)
        if exists:
            cursor = self.conn.execute(
                f"SELECT rowid, {self._column} FROM {self._table} WHERE {self._column} IS NOT NULL"
            )
            while rows := cursor.fetchmany(50_000):
                self._upsert(rows)
        self.seq = last
        self._unsaved = len(self.index)
        if not in_transaction and isinstance(self.index, HnswIndex):
            self.save()  # a graph takes long to build: keep it for the next start

    def commit(self) -> None:
        """The transaction committed: what it applied is now the committed state."""
        self._committed_seq = None
        self._uncommitted = set()

    def rollback(self, in_transaction: bool) -> None:
        """A (partial) rollback: undo what was applied from the rolled-back writes."""
        if self._committed_seq is None:
            return
        if self._uncommitted is None:
            self.seq = -1  # rebuilt from uncommitted rows: rebuild again at the next sync
        else:
            self._apply(sorted(self._uncommitted))  # re-read those rows as they are now
            self.seq = self._committed_seq
        if not in_transaction:
            self.commit()

    # --- the file beside the database ---------------------------------------------------------

    @property
    def _meta_path(self) -> Path:
        assert self.path is not None
        return self.path.with_suffix(".json")

    @contextlib.contextmanager
    def _locked(self, exclusive: bool) -> Iterator[None]:
        """Serialise savers and readers of the files across processes."""
        assert self.path is not None
        self.path.parent.mkdir(exist_ok=True)
        with open(self.path.parent / ".lock", "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def _identity(self) -> dict[str, Any]:
        return {
            "format": _FORMAT,
            "table": self.spec.name,
            "column": self.vector.name,
            "dimensions": self.vector.dimensions,
            "distance": self.vector.distance,
            "precision": self.options.precision,
            "connectivity": self.options.connectivity,
        }

    def save(self) -> None:
        """Write the graph and what it reflects (log position, count, checksum); small indexes are not kept."""
        if self.path is None or not self.options.persist or not isinstance(self.index, HnswIndex):
            return
        at = self.conn.execute(
            "SELECT table_name, at FROM _livevec_changes WHERE seq = ?", (self.seq,)
        ).fetchone()
        if at is None:
            return
        with self._locked(exclusive=True):
            temp = self.path.with_suffix(f".tmp{os.getpid()}")
            self.index.save(temp)
            meta = {
                **self._identity(),
                "seq": self.seq,
                "seq_table": at[0],
                "seq_at": at[1],
                "count": len(self.index),
                "crc32": _crc32(temp),
            }
            os.replace(temp, self.path)
            temp_meta = self._meta_path.with_suffix(f".tmp{os.getpid()}")
            temp_meta.write_text(json.dumps(meta))
            os.replace(temp_meta, self._meta_path)
        self._unsaved = 0

    def save_if_changed(self) -> None:
        if self._unsaved and self.seq >= 0:
            self.save()

    def _load_file(self) -> int:
        """Load the saved graph if it can be trusted; its log position, or -1 to rebuild."""
        if self.path is None or not self.options.persist:
            return -1
        try:
            with self._locked(exclusive=False):
                meta = json.loads(self._meta_path.read_text())
                if {k: meta.get(k) for k in self._identity()} != self._identity():
                    return -1
                if _crc32(self.path) != meta["crc32"]:
                    return -1
                index = HnswIndex(self.vector.dimensions, self.vector.distance, self.options)
                index.load(self.path)
        except (OSError, ValueError, KeyError, TypeError, RuntimeError):
            return -1
        if len(index) != meta["count"]:
            return -1
        # the log entry the file reflects must still be there, unchanged: else this database is not
        # the one the file was saved from (replaced, restored from a backup) or the log was pruned
        at = self.conn.execute(
            "SELECT table_name, at FROM _livevec_changes WHERE seq = ?", (meta["seq"],)
        ).fetchone()
        if at is None or list(at) != [meta["seq_table"], meta["seq_at"]]:
            return -1
        self.index = index
        self._verify_count = True
        self._unsaved = 0
        return int(meta["seq"])

    def delete_files(self) -> None:
        if self.path is not None:
            with self._locked(exclusive=True):
                self.path.unlink(missing_ok=True)
                self._meta_path.unlink(missing_ok=True)

    # --- search -------------------------------------------------------------------------------

    def search(
        self, request: VectorSearch, where: tuple[str, list[Any]] | None, columns: str
    ) -> list[tuple[tuple, float]]:
        """(row, exact distance) of candidates, nearest first; the caller breaks ties and cuts.

        `where` is the filter's compiled SQL; `columns` the SQL list of columns each row carries.
        A filter that an SQL index answers and that keeps few rows is a scan of those rows; otherwise
        the index is asked for enough neighbours that `limit` of them pass the filter, widening until
        they do, and scanning the matching rows when the filter keeps too few of the nearest.
        """
        size = len(self.index)
        if size == 0:
            return []
        limit, tolerance = request.limit, self.index.tolerance
        if isinstance(self.index, ExactIndex):
            if where:
                return self._scan(request, where, columns)
            ids, _ = self.index.search(
                request.query, limit, max_distance=request.max_distance, min_distance=request.min_distance
            )
            return self._rows(request, ids, None, columns)
        matches, selectivity = self._plan(where) if where else (None, 1.0)
        fetch = candidates_to_fetch(limit, selectivity, tolerance)
        # a scan of few rows is cheap; a graph asked for more neighbours than its search breadth
        # returns a loose list, so a rare filter loses recall there: scan its rows while affordable
        if where and matches is not None and (matches <= _CHEAP_SCAN_ROWS or fetch > self.index.breadth):
            return self._scan(request, where, columns)
        while fetch <= max(limit, _MAX_GRAPH_SHARE * size):
            ids, approximate = self.index.search(request.query, fetch)
            hits = self._rows(request, ids, where, columns)
            if len(hits) >= limit:
                return hits
            if request.max_distance is not None and approximate[-1] > request.max_distance + tolerance:
                return hits  # the next neighbours are all farther than max_distance
            fetch *= 4
        if where:
            return self._scan(request, where, columns)
        ids, _ = self.index.search(
            request.query,
            limit,
            max_distance=request.max_distance,
            min_distance=request.min_distance,
            exact=True,
        )
        return self._rows(request, ids, None, columns)

    def _scan(
        self, request: VectorSearch, where: tuple[str, list[Any]], columns: str
    ) -> list[tuple[tuple, float]]:
        """Exact search over the rows `where` keeps, with their float32 vectors from the table."""
        rows = self.conn.execute(
            f"SELECT rowid, {self._column} FROM {self._table} WHERE {self._column} IS NOT NULL AND ({where[0]})",
            where[1],
        ).fetchall()
        if not rows:
            return []
        ids = np.fromiter((r for r, _ in rows), dtype=np.int64, count=len(rows))
        vectors = np.frombuffer(b"".join(blob for _, blob in rows), dtype="<f4").reshape(len(rows), -1)
        found = distances(request.query, vectors, self.vector.distance)
        keep = np.ones(len(found), dtype=bool)
        if request.max_distance is not None:
            keep &= found <= request.max_distance
        if request.min_distance is not None:
            keep &= found >= request.min_distance
        ids, found = ids[keep], found[keep]
        if request.limit < len(found):  # the k nearest plus any tied with the k-th
            ids = ids[found <= np.partition(found, request.limit - 1)[request.limit - 1]]
        return self._rows(request, ids, None, columns)

    def _rows(
        self, request: VectorSearch, ids: np.ndarray, where: tuple[str, list[Any]] | None, columns: str
    ) -> list[tuple[tuple, float]]:
        """The rows of `ids` that pass `where`, with exact distances from their float32 vectors, in range."""
        if not len(ids):
            return []
        sql = (
            f"SELECT {self._column}, {columns} FROM {self._table} "
            "WHERE rowid IN (SELECT value FROM json_each(?))"
        )
        params: list[Any] = [_ids_json(ids)]
        if where:
            sql += f" AND ({where[0]})"
            params += where[1]
        rows = [row for row in self.conn.execute(sql, params) if row[0] is not None]
        if not rows:
            return []
        vectors = np.frombuffer(b"".join(row[0] for row in rows), dtype="<f4")
        found = distances(request.query, vectors.reshape(len(rows), -1), self.vector.distance)
        hits = []
        for row, distance in zip(rows, found.tolist(), strict=True):
            if request.max_distance is not None and distance > request.max_distance:
                continue
            if request.min_distance is not None and distance < request.min_distance:
                continue
            hits.append((row[1:], distance))
        hits.sort(key=lambda hit: hit[1])
        return hits

    def _plan(self, where: tuple[str, list[Any]]) -> tuple[int | None, float]:
        """(how many rows the filter keeps if an SQL index counts them cheaply, else None; the share
        of rows it keeps), kept while the size holds.

        Shop filters repeat (a category, a price band), and a plan decides only speed, never which
        rows come back, so it is reused until the column grows or shrinks by a tenth.
        """
        key = (where[0], tuple(where[1]))
        size = len(self.index)
        cached = self._plans.get(key)
        if cached is not None and abs(cached[2] - size) <= size // 10:
            self._plans.move_to_end(key)
            return cached[0], cached[1]
        matches = self._indexed_matches(where)
        selectivity = matches / max(1, size) if matches is not None else self._selectivity(where)
        self._plans[key] = (matches, selectivity, size)
        while len(self._plans) > 256:
            self._plans.popitem(last=False)
        return matches, selectivity

    def _indexed_matches(self, where: tuple[str, list[Any]]) -> int | None:
        """How many rows the filter keeps, if an SQL index finds them and they are at most
        `exact_filter_rows`; else None."""
        plan = self.conn.execute(
            f"EXPLAIN QUERY PLAN SELECT rowid FROM {self._table} WHERE {where[0]}", where[1]
        )
        if any(detail.startswith("SCAN") for *_, detail in plan):
            return None  # finding the matches means reading the whole table
        cap = self.options.exact_filter_rows
        count = self.conn.execute(
            f"SELECT count(*) FROM (SELECT 1 FROM {self._table} WHERE {where[0]} LIMIT {cap + 1})", where[1]
        ).fetchone()[0]
        return count if count <= cap else None

    def _selectivity(self, where: tuple[str, list[Any]]) -> float:
        """The share of rows the filter keeps, from a fixed random sample of rowids."""
        top = self.conn.execute(f"SELECT max(rowid) FROM {self._table}").fetchone()[0] or 0
        sample = np.unique(np.random.default_rng(0).integers(1, top + 1, _SAMPLE))
        present, kept = self.conn.execute(
            f"SELECT count(*), total(CASE WHEN ({where[0]}) THEN 1 ELSE 0 END) FROM {self._table} "
            f"WHERE {self._column} IS NOT NULL AND rowid IN (SELECT value FROM json_each(?))",
            [*where[1], _ids_json(sample)],
        ).fetchone()
        if present < _SAMPLE // 10:  # rowids too sparse for the sample to say much: count
            kept = self.conn.execute(
                f"SELECT count(*) FROM {self._table} WHERE {self._column} IS NOT NULL AND ({where[0]})",
                where[1],
            ).fetchone()[0]
            return kept / max(1, len(self.index))
        return max(float(kept), 0.5) / present  # none seen: rarer than one in the sample


def _crc32(path: Path) -> int:
    crc = 0
    with open(path, "rb") as f:
        while chunk := f.read(1 << 24):
            crc = zlib.crc32(chunk, crc)
    return crc
