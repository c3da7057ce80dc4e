"""A SQLite vector column's in-memory index: kept in step with the change log, persisted, searched.

The index reflects the committed table at change-log position `seq`. It has two parts:

- `main`: an exact numpy index for a small column, or usearch's HNSW graph for a large one;
- `delta`: the rows changed since the graph got them (their current vectors, scanned exactly), and
  `masked`: the graph entries those changes made outdated.

Catching up with the log only reads the changed rows into `delta`, which is fast, so a search can
always catch up first and see every committed write. Inserting into the graph is what is slow: the
backend's builder thread moves rows from `delta` into the graph in short slices (or builds a whole
graph off the lock), so no search waits for a long backlog. A search inside a write transaction
also sees that transaction's own rows (the "overlay": rows logged since `seq`, scanned exactly)
without the index ever holding uncommitted data.

A graph is saved beside the database file (`_graph_file`) with the log position it reflects; at
start it is loaded only if it can be trusted, else the column is rebuilt from the table.
"""

from __future__ import annotations

import contextlib
import logging
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .._memory import release_freed_memory
from .._schema import TableSpec, VectorSpec
from ..filters import quote
from ._base import VectorSearch
from ._filter_cache import FilterCache, rowids
from ._filter_plan import FilterPlanner, Plan, ids_json
from ._graph_file import GraphFile
from .vector_index import (
    ExactIndex,
    HnswIndex,
    IndexOptions,
    VectorIndex,
    candidates_to_fetch,
    distances,
    nearest,
    within_bounds,
)

logger = logging.getLogger("livevec")

# a filter keeping at most this many rows (found through an SQL index) is always scanned exactly
_CHEAP_SCAN_ROWS = 1_000
# fetch at most this share of the graph before a filtered search falls back to an exact scan
_MAX_GRAPH_SHARE = 0.2
# at least this many rows waiting (and a hundredth of the graph, up to _MERGE_ROWS): they are added
# off the lock, on every core, to a copy of the graph (or a new one) that then replaces it; searches
# meanwhile use the graph as it was and scan the waiting rows exactly. A load in batches so grows its
# graph while the rows arrive, and ends with little left to add. (Copying costs about 1 ms per
# thousand nodes, adding a row about 0.3 ms on one core: past a hundredth, a copy costs less than
# moving the rows in slices; fewer rows move in slices, under the lock, one core.)
_BULK_BUILD_ROWS = 2_000
_MERGE_ROWS = 20_000
# a process that has written at least this many rows to a table (in one commit or in many) loads its
# vector columns (and then grows their graphs while the rows arrive); fewer wait for a search
LOAD_ON_WRITE_ROWS = _BULK_BUILD_ROWS
# a slice of rows moved into the graph holds the lock for about this long (seconds)
_SLICE_SECONDS = 0.01
# changed rows wait in the exact delta (each search scans it: ~0.1 ms per 1,000 rows) until the column
# has had no change for this long, or this many wait: a graph insertion holds the lock that the next
# search needs, so moving each write at once made the search after it wait (write-to-visible)
_QUIET_SECONDS = 0.5
_WAITING_ROWS = 1_000
# save the graph again once this many changes reached it since the last save
_SAVE_EVERY = 50_000
# a graph of at least this many rows, more than half of them added in steps (a load's builds, slices),
# is built again in one call once its column has had no change for _REBUILD_QUIET_SECONDS: from
# 200,000 rows on, a graph grown in many calls finds less (benchmarks/graph_steps.py: 0.973 of the
# true top 10 against 0.988 at 200k). The rebuild costs a second build's time and, while it runs, a
# second graph's memory and a copy of the vectors; searches use the old graph meanwhile. A build
# that would leave a graph so grown builds it anew with its rows instead (see build_step): a graph
# of one call of half its rows or more, grown by less, finds as much as one built in one call.
_REBUILD_ROWS = 150_000
_REBUILD_QUIET_SECONDS = 5.0


def _mostly_grown(rows: int, grown: int) -> bool:
    """Whether a graph of `rows`, `grown` of them added in steps, finds less than one built in one
    call, enough to build it again (see _REBUILD_ROWS)."""
    return rows >= _REBUILD_ROWS and grown >= rows // 2


class _GhostRowsError(Exception):
    """Rows the index holds are gone from the table (see `ColumnIndex.search`)."""

    def __init__(self, ids: list[int]) -> None:
        self.ids = ids
        super().__init__(f"rows {ids[:10]} are gone")


@dataclass(frozen=True)
class _Build:
    """The graph a build off the lock will make: its rows, how many of them added in steps (see
    _REBUILD_ROWS), and how many of the waiting rows it took."""

    rows: int
    grown: int
    taken: int


@dataclass
class _Overlay:
    """Rows a search must take from its own connection rather than from the index (see module doc)."""

    ids: set[int] = field(default_factory=set)
    index: ExactIndex | None = None


class ColumnIndex:
    """One vector column's index, the change-log position it reflects, and its file on disk.

    Every method but `build_step` and `save` is called with `lock` held and a connection whose read
    snapshot the caller chose; `build_step` and `save` run on the backend's builder thread.
    """

    def __init__(
        self,
        spec: TableSpec,
        vector: VectorSpec,
        options: IndexOptions,
        directory: Path | None,
        file_key: bytes | None,
    ) -> None:
        self.spec = spec
        self.vector = vector
        self.options = options
        self.lock = threading.Lock()
        # searches waiting for `lock`: the builder lets them in before its next slice (a lock is
        # not fair: a thread that releases it and asks again at once usually gets it back)
        self._waiting = 0
        self._queue = threading.Condition()
        self.main: VectorIndex = self._exact()
        self.delta = self._exact()
        self.masked: set[int] = set()
        self.seq = -1  # -1: not loaded
        self.mark: tuple[str, float] | None = None  # (table_name, at) of the log entry at `seq`
        # rows changed while a graph is built off the lock: their entries in it are outdated
        self._touched: set[int] | None = None
        self._generation = 0  # bumped whenever `main` is replaced: a build started before is stale
        # the graph holds the table as of this log position, plus only newer changes (see save)
        self._main_seq: tuple[int, tuple[str, float]] | None = None
        self._saved_seq = -1
        # a graph is built or saved off the lock: nothing changes `main` in place meanwhile (no
        # slice, no removal of masked entries), so it can be copied, read and written unlocked
        self._building = False
        self._grown = 0  # rows added to the graph after it was built in one call (see _REBUILD_ROWS)
        self._build: _Build | None = None  # the graph a build off the lock is making
        self._abandoned = False  # that build is of no use: stop it (see flush)
        self._save_due = False  # the graph was built anew: save it without waiting for _SAVE_EVERY
        self._slice = 16  # rows per slice moved into the graph, tuned to _SLICE_SECONDS
        self._changed_at = 0.0  # time.monotonic() of the last change caught up
        self.file = GraphFile(
            directory,
            spec.name,
            vector.name,
            {
                "dimensions": vector.dimensions,
                "distance": vector.distance,
                "precision": options.graph_precision(vector.distance),
                "connectivity": options.connectivity,
            },
            file_key if options.persist else None,
        )
        self._save_failed = False
        self._table, self._column = quote(spec.name), quote(vector.name)
        self.planner = FilterPlanner(self._table, self._column, options.exact_filter_rows)
        self.filters = FilterCache(
            self._table, options.filter_cache_rows, self._exact, self._stored, self._changes_since
        )

    def _exact(self) -> ExactIndex:
        return ExactIndex(self.vector.dimensions, self.vector.distance)

    def __len__(self) -> int:
        """Rows with a vector, as of `seq`."""
        return len(self.main) - len(self.masked) + len(self.delta)

    def size(self) -> int:
        """`len()` for other threads: taken under the lock, as the builder moves rows meanwhile."""
        with self.lock:
            return len(self)

    @property
    def is_graph(self) -> bool:
        return isinstance(self.main, HnswIndex)

    @property
    def pending(self) -> int:
        """Rows waiting to be moved into the graph."""
        return len(self.delta) + len(self.masked) if self.is_graph else 0

    # --- keeping in step ----------------------------------------------------------------------

    def catch_up(self, conn: sqlite3.Connection) -> None:
        """Bring the index to the newest change `conn` sees (committed state: never call it inside
        a write transaction)."""
        last = newest_change(conn)
        if last[0] == self.seq:
            return
        changes = self._changes_since(conn, self.seq) if self.seq >= 0 else None
        if changes is None:
            self._load(conn, last)
            return
        self._apply(conn, sorted(changes))
        self.seq, self.mark = last
        self._reshape(conn)

    def _changes_since(self, conn: sqlite3.Connection, seq: int) -> set[int] | None:
        """Row ids this table changed after log position `seq`; None when only a reload can tell
        (the table was reset, or the log was pruned past `seq`)."""
        pruned = conn.execute("SELECT value FROM _livevec_meta WHERE name = 'log_pruned_through'").fetchone()
        if pruned is not None and seq < (pruned[0] or 0):
            return None
        changes = conn.execute(
            "SELECT row_id, op FROM _livevec_changes WHERE seq > ? AND table_name = ?",
            (seq, self.spec.name),
        ).fetchall()
        if any(op == "reset" for _, op in changes):
            return None
        return {row_id for row_id, _ in changes}

    def _apply(self, conn: sqlite3.Connection, row_ids: list[int]) -> None:
        """Read the rows' current vectors: changed rows go to `delta` (or straight into an exact main)."""
        if not row_ids:
            return
        self._changed_at = time.monotonic()
        ids = np.array(row_ids, dtype=np.int64)
        target = self.delta if self.is_graph else self.main
        target.remove(ids)
        target.upsert(*self._stored(conn, among=row_ids))
        if self.is_graph:
            in_graph = ids[self.main.contains(ids)]
            self.masked.update(in_graph.tolist())
            if self._touched is not None:
                self._touched.update(row_ids)

    def _arrays(self, rows: list[tuple[int, bytes]]) -> tuple[np.ndarray, np.ndarray]:
        """(ids, float32 vectors) of (rowid, vector blob) rows."""
        ids = np.fromiter((r for r, _ in rows), dtype=np.int64, count=len(rows))
        vectors = np.frombuffer(b"".join(blob for _, blob in rows), dtype="<f4")
        return ids, vectors.reshape(len(rows), self.vector.dimensions)

    def _reshape(self, conn: sqlite3.Connection) -> None:
        """Exact scan below `ann_min_rows`, graph above (and back under half of it)."""
        if not self.is_graph and len(self.main) >= self.options.ann_min_rows:
            # the rows wait in `delta`, scanned exactly, while the builder makes the graph
            self.delta, self.main, self._grown = self.main, self._graph(), 0
            self._generation += 1
        elif self.is_graph and len(self) < self.options.ann_min_rows // 2:
            self._load(conn, (self.seq, self.mark), from_file=False)

    def _graph(self) -> HnswIndex:
        return HnswIndex(self.vector.dimensions, self.vector.distance, self.options)

    def _load(self, conn: sqlite3.Connection, last: tuple[int, Any], from_file: bool = True) -> None:
        """Start over: the saved graph caught up from the log if it can be trusted, else the table."""
        self._generation += 1
        self._touched, self._main_seq, self._grown = None, None, 0
        self.masked, self.delta = set(), self._exact()
        self.filters.clear()
        loaded = self._load_file(conn) if from_file else None
        if loaded is not None:
            graph, seq, mark = loaded
            self.main, self.seq, self.mark = graph, seq, mark
            self._main_seq, self._saved_seq = (seq, mark), seq
            changes = self._changes_since(conn, self.seq)
            if changes is not None:
                self._apply(conn, sorted(changes))
                self.seq, self.mark = last
                if len(self) == self._count_rows(conn):
                    self._reshape(conn)
                    return
            logger.warning("livevec: the saved index of %s.%s is out of step; rebuilding it", *self._names)
            self.masked, self.delta = set(), self._exact()
        exists = conn.execute(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (self.spec.name,)
        ).fetchone()
        size = self._count_rows(conn) if exists else 0
        self.main = self._graph() if size >= self.options.ann_min_rows else self._exact()
        target = self.delta if self.is_graph else self.main
        if exists:
            cursor = conn.execute(
                f"SELECT rowid, {self._column} FROM {self._table} WHERE {self._column} IS NOT NULL"
            )
            while rows := cursor.fetchmany(50_000):
                target.upsert(*self._arrays(rows))
        self.seq, self.mark = last

    @property
    def _names(self) -> tuple[str, str]:
        return self.spec.name, self.vector.name

    def _count_rows(self, conn: sqlite3.Connection) -> int:
        sql = f"SELECT count(*) FROM {self._table} WHERE {self._column} IS NOT NULL"
        return conn.execute(sql).fetchone()[0]

    # --- the builder thread -------------------------------------------------------------------

    def build_step(self, stopping: Callable[[], bool] = lambda: False, *, eager: bool = False) -> bool:
        """Move some waiting rows into the graph, or rebuild a graph grown in steps; False when
        there was nothing to do here yet.

        Rows changed in a graph wait until the column is quiet or many wait (see _QUIET_SECONDS),
        unless `eager`. A few are moved in a slice under the lock; many are added to a copy of the
        graph (or a new one) off the lock, which `stopping` interrupts (_BULK_BUILD_ROWS). A large
        graph mostly grown in steps is built again in one call once the column is quiet (see
        _REBUILD_ROWS), or at once if `eager`.
        """
        with self.lock:
            if not self.is_graph or self._building:
                return False
            if not (self.delta or self.masked):
                if not self._rebuild_due(eager):
                    return False
                rebuild = True  # the graph's own nodes, read off the lock
                ids, vectors = np.empty(0, dtype=np.int64), np.empty((0, self.vector.dimensions), np.float32)
            else:
                busy = time.monotonic() - self._changed_at < _QUIET_SECONDS
                if len(self.main) > 0 and busy and len(self.delta) < _WAITING_ROWS and not eager:
                    return False
                self._drop_masked()
                if len(self.delta) < max(_BULK_BUILD_ROWS, min(len(self.main) // 100, _MERGE_ROWS)):
                    self._move_slice()
                    return True
                rebuild, (ids, vectors) = False, self.delta.items()
            # grown by these rows, the graph would be mostly grown in steps, and due a rebuild: it
            # is built anew with them instead, in one call, which costs less than growing it and
            # rebuilding it later. So a large load ends with a graph built in a few calls, each
            # at least as large as the graph before it, and no rebuild after it.
            rows, stepped = len(self.main) + len(ids), self._grown + len(ids)
            anew = rebuild or _mostly_grown(rows, stepped)
            self._touched, generation, at = set(), self._generation, (self.seq, self.mark)
            source = self.main if len(self.main) else None
            grown = 0 if anew or source is None else stepped
            self._building, self._abandoned = True, False
            self._build = _Build(rows, grown, len(ids))
        try:
            # nothing changes a graph while `_building`, so it is read off the lock: its nodes for a
            # new graph, or a copy of it (a memory copy: about 1 s at a million rows) to grow
            if source is None:
                graph, parts = self._graph(), [(ids, vectors)]
            elif anew:
                graph, parts = self._graph(), source.joined(ids, vectors)
            else:
                graph, parts = source.copy(), [(ids, vectors)]
            # on every core, in one call (a better graph than in chunks), checked for unreachable
            # nodes; a stop, or a wait that found this build's graph would be built anew after it
            # (see flush), drops it half grown
            for part_ids, part_vectors in parts:
                if not graph.upsert(part_ids, part_vectors, lambda: stopping() or self._abandoned):
                    return True
            del parts
        finally:
            with self.lock:
                self._building, self._build = False, None
                stale, self._touched = self._touched or set(), None
        with self.lock:
            if generation != self._generation:
                return True  # reloaded meanwhile: this graph is of no use
            keep = np.isin(ids, np.fromiter(stale, dtype=np.int64, count=len(stale)), invert=True)
            self.delta.remove(ids[keep])
            # the few rows left (changed during the build) move to a small delta: the emptied one
            # would keep the memory of every row the graph now holds
            left = self._exact()
            left.upsert(*self.delta.items())
            self.delta = left
            # the graph's entries of rows changed during the build (built from, or copied with, their
            # vectors of before): outdated, as their current vectors wait in the delta
            stale_ids = np.fromiter(stale, dtype=np.int64, count=len(stale))
            self.masked = set(stale_ids[graph.contains(stale_ids)].tolist())
            self.main = graph
            self._generation += 1
            self._main_seq = at
            self._grown = grown
            self._save_due |= anew  # a better graph: saved without waiting for _SAVE_EVERY changes
        del ids, vectors
        release_freed_memory()
        return True

    def _rebuild_due(self, eager: bool) -> bool:
        """Whether the graph, large and mostly grown in steps, should be built again in one call."""
        quiet = time.monotonic() - self._changed_at >= _REBUILD_QUIET_SECONDS
        return _mostly_grown(len(self.main), self._grown) and (quiet or eager)

    def _drop_masked(self) -> None:
        """Remove the graph's outdated entries (their rows' current vectors are in `delta`)."""
        self.main.remove(np.fromiter(self.masked, dtype=np.int64, count=len(self.masked)))
        self.masked.clear()

    def _move_slice(self) -> None:
        started = time.perf_counter()
        ids, vectors = self.delta.items(self._slice)
        self.main.upsert(ids, vectors)
        self._grown += len(ids)
        self.delta.remove(ids)
        if not self.delta:
            self.delta = self._exact()  # give back the memory of a large backlog
            self._main_seq = (self.seq, self.mark)
        elapsed = max(time.perf_counter() - started, 1e-4)
        self._slice = int(min(128, max(1, self._slice * _SLICE_SECONDS / elapsed)))

    @contextlib.contextmanager
    def searching(self) -> Iterator[None]:
        """Hold `lock` for a search, ahead of the builder's next slice."""
        with self._queue:
            self._waiting += 1
        try:
            self.lock.acquire()
        finally:
            with self._queue:
                self._waiting -= 1
                self._queue.notify_all()
        try:
            yield
        finally:
            self.lock.release()

    def let_searches_in(self, timeout: float = 0.05) -> None:
        """Wait (up to `timeout` seconds) until no search waits for the lock (the builder, between slices)."""
        with self._queue:
            self._queue.wait_for(lambda: self._waiting == 0, timeout)

    def settle(self, max_rows: int = 5_000) -> None:
        """Put every waiting row into the graph at once, on every core, if there are at most
        `max_rows` (at close, so that the saved graph is whole; more are caught up at next start)."""
        with self.lock:
            if not self.is_graph or self._building or len(self.delta) > max_rows:
                return
            self._drop_masked()
            self._grown += len(self.delta)
            self.main.upsert(*self.delta.items())
            self.delta = self._exact()
            self._main_seq = (self.seq, self.mark)

    def flush(self) -> None:
        """Do now what the builder thread would do next for this column: move every waiting row
        into the graph, rebuild a graph due for it, and write a save that is due (a rebuilt graph,
        or `_SAVE_EVERY` changes), so that none of it runs, on the cores and the disk, after the
        call. A save of a million rows takes seconds; searches during it are slower."""
        while True:
            # under the lock: read between two steps of a graph swap, `pending` could say 0 too early
            with self.lock:
                self._abandon_a_wasted_build()
                built = not self.pending and not (self.is_graph and self._rebuild_due(eager=True))
                if built and not self._building and not self._save_wanted(force=False):
                    return
            done = self.build_step(eager=True) if not built else self.save()
            if not done:
                time.sleep(0.01)  # the builder thread is building or saving this graph
            self.let_searches_in()  # as the builder does between its slices

    def _abandon_a_wasted_build(self) -> None:
        """Stop a build running off the lock if, with the rows that arrived since it started, its
        graph would be built anew right after it (a load's last build, still running when the
        load ends): its work would be thrown away. Called with `lock` held, by a wait only: during
        a load, that graph serves the searches until the next one."""
        build = self._build
        if build is None:
            return
        waiting = len(self.delta) - build.taken  # the build's own rows leave the delta after it
        if waiting > 0 and _mostly_grown(build.rows + waiting, build.grown + waiting):
            self._abandoned = True

    # --- the file beside the database ---------------------------------------------------------

    def save(self, force: bool = False) -> bool:
        """Write the graph with the log position it reflects, if `_SAVE_EVERY` changes reached it
        since the last save, it was rebuilt, or `force`; small columns are not kept. True if written.

        Runs on the builder thread (or at close), the only one that changes the graph, so the file is
        written without blocking searches. The graph holds the table as of `_main_seq` plus some
        later changes: a process that loads it catches up from that position, and so rewrites every
        row that changed since, which makes those later entries harmless.
        """
        with self.lock:
            graph, at = self.main, self._main_seq
            if self._building or not self._save_wanted(force):
                return False
            assert isinstance(graph, HnswIndex) and at is not None
            self._building = True  # searches go on while it is written (see HnswIndex.save)
        saved = False
        try:
            saved = self.file.save(graph, at)
        finally:
            with self.lock:  # no other graph could be swapped in meanwhile: this one was saved
                self._building = False
                if saved:
                    self._saved_seq, self._save_due = at[0], False
        if not saved:
            self._save_failed = True  # kept in memory only from now on
        return saved

    def _save_wanted(self, force: bool) -> bool:
        """Is the graph due to be written (see `save`)? Called with `lock` held."""
        at = self._main_seq
        return (
            self.file.usable
            and not self._save_failed
            and isinstance(self.main, HnswIndex)
            and at is not None
            and at[1] is not None
            and (at[0] != self._saved_seq or self._save_due)
            and (force or self._save_due or at[0] - self._saved_seq >= _SAVE_EVERY)
        )

    def _load_file(self, conn: sqlite3.Connection) -> tuple[HnswIndex, int, tuple[str, float]] | None:
        return self.file.load(conn, self._graph)

    def delete_files(self) -> None:
        self.file.delete()

    # --- search -------------------------------------------------------------------------------

    def search(
        self,
        conn: sqlite3.Connection,
        request: VectorSearch,
        where: tuple[str, list[Any]] | None,
        columns: list[str],
        *,
        in_transaction: bool,
    ) -> list[tuple[tuple, float]]:
        """(row, distance) of the nearest rows, nearest first, plus any tied with the last; the
        caller breaks ties by key and cuts.

        An entry whose row is gone without the log saying so (a ghost: a client dropped a trigger,
        or a path of SQLite's that fires none) would leave a page short: it is dropped from the
        index, with a warning, and the search runs again; inside a transaction, whose view the index
        cannot take, the table is scanned instead.
        """
        for _ in range(3):
            try:
                return self._search(conn, request, where, columns, in_transaction=in_transaction)
            except _GhostRowsError as ghosts:
                logger.warning(
                    "livevec: %d rows of %s.%s were gone without a change-log entry; dropped from its index",
                    len(ghosts.ids),
                    *self._names,
                )
                if in_transaction:
                    break
                self._forget(ghosts.ids)
        return self._scan(conn, request, where or ("1", []), columns, cached=False)

    def _forget(self, ids: list[int]) -> None:
        """Drop rows that no longer exist from every part of the index (and the filters' caches)."""
        array = np.array(ids, dtype=np.int64)
        self.delta.remove(array)
        if self.is_graph:
            self.masked.update(array[self.main.contains(array)].tolist())
            if self._touched is not None:  # a graph being built off the lock may hold them too
                self._touched.update(ids)
        else:
            self.main.remove(array)
        self.filters.clear()

    def _search(
        self,
        conn: sqlite3.Connection,
        request: VectorSearch,
        where: tuple[str, list[Any]] | None,
        columns: list[str],
        *,
        in_transaction: bool,
    ) -> list[tuple[tuple, float]]:
        """See `search`.

        `where` is the filter's compiled SQL; `columns` the names of the columns each row carries.
        Outside a transaction the index first catches up with what `conn` sees; inside one, the
        rows the transaction changed come from `conn` (the overlay), and the index is left alone.

        A filter that an SQL index answers and that keeps few rows is an exact scan of those rows'
        vectors, taken from memory; otherwise the index is asked for enough neighbours that `limit`
        of them pass the filter, widening until they do, and scanning the matching rows when the
        filter keeps too few of the nearest.
        """
        overlay = _Overlay()
        if in_transaction:
            changed = self._changes_since(conn, self.seq) if self.seq >= 0 else None
            if changed is None:  # no usable index: scan the table as this transaction sees it
                return self._scan(conn, request, where or ("1", []), columns, cached=False)
            overlay = self._overlay(conn, changed)
        else:
            self.catch_up(conn)
        size = len(self) + len(overlay.ids)
        if size == 0:
            return []
        limit, tolerance = request.limit, self.main.tolerance
        if not self.is_graph or len(self.main) == 0:  # every vector is in an exact index
            if where:
                return self._scan(conn, request, where, columns, cached=not in_transaction)
            ids, found, _ = self._candidates(request, limit, overlay, bounded=True)
            return self._nearest_rows(conn, request, ids, found, columns, measured=True)
        plan = self.planner.plan(conn, where, len(self)) if where else Plan(None, 1.0, False, size)
        fetch = candidates_to_fetch(limit, plan.selectivity, tolerance)
        # a scan of few rows is cheap; a graph asked for more neighbours than its search breadth
        # returns a loose list, so a rare filter loses recall there: scan its rows while affordable
        matches = plan.matches
        if where and matches is not None and (matches <= _CHEAP_SCAN_ROWS or fetch > self.main.breadth):
            return self._scan(conn, request, where, columns, cached=not in_transaction)
        # the rows a transaction changed are not in the mask: it checks them in SQL
        keeps = (
            self.filters.mask(conn, where, self.seq)
            if where and plan.covered and not in_transaction
            else None
        )
        while fetch <= max(limit, _MAX_GRAPH_SHARE * size):
            ids, found, farthest = self._candidates(request, fetch, overlay)
            if where:
                ids, found = self._passing(conn, ids, found, where, keeps)
            hits = self._nearest_rows(conn, request, ids, found, columns, measured=False)
            if len(hits) >= limit:
                return hits
            if request.max_distance is not None and farthest > request.max_distance + tolerance:
                return hits  # the next neighbours are all farther than max_distance
            fetch *= 4
        if where:
            return self._scan(conn, request, where, columns, cached=not in_transaction)
        ids, found, _ = self._candidates(request, limit, overlay, bounded=True, exact=True)
        return self._nearest_rows(conn, request, ids, found, columns, measured=False)

    def _overlay(self, conn: sqlite3.Connection, changed: set[int]) -> _Overlay:
        overlay = _Overlay(ids=changed)
        if changed:
            overlay.index = self._exact()
            overlay.index.upsert(*self._stored(conn, among=sorted(changed)))
        return overlay

    def _candidates(
        self, request: VectorSearch, k: int, overlay: _Overlay, *, bounded: bool = False, exact: bool = False
    ) -> tuple[np.ndarray, np.ndarray, float]:
        """(ids, distances) of about the `k` nearest from the graph (or exact main), `delta` and the
        overlay, and the smallest distance any part may still hold beyond what it returned (inf if
        none). The parts hold disjoint rows.

        `bounded` applies the distance bounds inside each part; `exact` scans the graph exactly.
        """
        bounds = {"max_distance": request.max_distance, "min_distance": request.min_distance}
        bounds = bounds if bounded else {}
        hidden = self.masked | overlay.ids
        parts = [(self.main, hidden), (self.delta, overlay.ids)]
        if overlay.index is not None:
            parts.append((overlay.index, set()))
        found_ids, found_distances, farthest = [], [], float("inf")
        for index, skip in parts:
            if not len(index):
                continue
            ask = k + len(skip)
            ids, found = index.search(request.query, ask, exact=exact, **bounds)
            if len(ids) >= ask and len(found):
                farthest = min(farthest, float(found[-1]))
            if skip:
                keep = np.isin(ids, np.fromiter(skip, dtype=np.int64, count=len(skip)), invert=True)
                ids, found = ids[keep], found[keep]
            found_ids.append(ids)
            found_distances.append(found)
        if not found_ids:
            return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.float32), farthest
        return np.concatenate(found_ids), np.concatenate(found_distances), farthest

    def _scan(
        self,
        conn: sqlite3.Connection,
        request: VectorSearch,
        where: tuple[str, list[Any]],
        columns: list[str],
        *,
        cached: bool,
    ) -> list[tuple[tuple, float]]:
        """Exact search over the rows `where` keeps. `cached`: from the filter's rows kept in memory
        (committed state only); else from the table as `conn` sees it."""
        if cached:
            ids, found = self.filters.rows(conn, where, self.seq).search(
                request.query,
                request.limit,
                max_distance=request.max_distance,
                min_distance=request.min_distance,
            )
        else:
            ids, vectors = self._stored(conn, where=where)
            found = distances(request.query, vectors, self.vector.distance)
        return self._nearest_rows(conn, request, ids, found, columns, measured=True)

    def _passing(
        self,
        conn: sqlite3.Connection,
        ids: np.ndarray,
        found: np.ndarray,
        where: tuple[str, list[Any]],
        keeps: np.ndarray | None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """The candidates (ids, distances) that `where` keeps: looked up in its mask, else in SQL."""
        if keeps is not None:
            inside = (ids >= 0) & (ids < len(keeps))
            keep = np.zeros(len(ids), dtype=bool)
            keep[inside] = keeps[ids[inside]]
        elif len(ids):
            keep = np.isin(ids, rowids(conn, self._table, where, among=ids))
        else:
            return ids, found
        return ids[keep], found[keep]

    def _stored(
        self,
        conn: sqlite3.Connection,
        *,
        among: list[int] | np.ndarray | None = None,
        where: tuple[str, list[Any]] | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """(ids, float32 vectors) read from the table: of the rows `among` those ids and kept by
        `where` (either may be None: no restriction) that have a vector."""
        sql = f"SELECT rowid, {self._column} FROM {self._table} WHERE {self._column} IS NOT NULL"
        params: list[Any] = []
        if among is not None:
            sql += " AND rowid IN (SELECT value FROM json_each(?))"
            params.append(ids_json(among))
        if where is not None:
            sql += f" AND ({where[0]})"
            params += where[1]
        return self._arrays(conn.execute(sql, params).fetchall())

    def _nearest_rows(
        self,
        conn: sqlite3.Connection,
        request: VectorSearch,
        ids: np.ndarray,
        found: np.ndarray,
        columns: list[str],
        *,
        measured: bool,
    ) -> list[tuple[tuple, float]]:
        """The rows of the nearest `limit` of candidates `ids` at distances `found` within the
        bounds (plus any tied with the last), nearest first.

        `measured`: every distance is `distances()`'s own number for the row's stored vector (an
        exact index or scan found them), so only the rows' columns are read. Otherwise some came
        from the graph, whose numbers are its own (and approximate when it is quantized: every
        candidate within its tolerance of the `limit`-th is read): the rows' stored vectors are
        read and measured, so the same row and query always get the same number whichever part of
        the index found the row.
        """
        tolerance = 0.0 if measured else self.main.tolerance
        ids, found = within_bounds(ids, found, request.max_distance, request.min_distance, tolerance)
        # a candidate within the tolerance of a bound may be outside it once measured exactly:
        # one more is read for each, so that `limit` are left
        unsure = 0
        if tolerance and request.min_distance is not None:
            unsure += int(np.count_nonzero(found < request.min_distance + tolerance))
        if tolerance and request.max_distance is not None:
            unsure += int(np.count_nonzero(found > request.max_distance - tolerance))
        ids, found = nearest(ids, found, request.limit + unsure, 2 * tolerance)
        if not len(ids):
            return []
        # the vector is read once: from the row's own columns when they carry it
        carried = self.vector.name in columns
        read = columns if carried or measured else [self.vector.name, *columns]
        rows = conn.execute(
            f"SELECT rowid, {', '.join(map(quote, read))} FROM {self._table} "
            "WHERE rowid IN (SELECT value FROM json_each(?))",
            [ids_json(ids)],
        ).fetchall()
        if len(rows) < len(ids):  # every candidate is a row with a vector, unless it is a ghost
            raise _GhostRowsError(sorted(set(ids.tolist()) - {row[0] for row in rows}))
        first = 2 if len(read) > len(columns) else 1
        if measured:
            by_id = {row[0]: row[first:] for row in rows}
            return [(by_id[i], d) for i, d in zip(ids.tolist(), found.tolist(), strict=True)]
        blob_at = 1 + read.index(self.vector.name)
        vectors = np.frombuffer(b"".join(row[blob_at] for row in rows), dtype="<f4").reshape(len(rows), -1)
        exact = distances(request.query, vectors, self.vector.distance)
        at, exact = within_bounds(
            np.arange(len(rows)), exact, request.max_distance, request.min_distance, 0.0
        )
        at, exact = nearest(at, exact, request.limit)
        return [(rows[i][first:], d) for i, d in zip(at.tolist(), exact.tolist(), strict=True)]


def newest_change(conn: sqlite3.Connection) -> tuple[int, tuple[str, float] | None]:
    row = conn.execute(
        "SELECT seq, table_name, at FROM _livevec_changes ORDER BY seq DESC LIMIT 1"
    ).fetchone()
    return (row[0], (row[1], row[2])) if row else (0, None)
