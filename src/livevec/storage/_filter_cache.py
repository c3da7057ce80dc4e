"""What the filters searched last keep, held in memory and kept up to date from the change log.

A shop searches the same few filters again and again (a category, a brand, a price band):

- a selective filter is an exact scan of its rows: reading their vectors from the table costs far
  more than scanning them, so the vectors of the rows the filters searched last keep are held (an
  exact index of just those rows), up to `filter_cache_rows` rows in all;
- a broad filter checks the graph's candidates: in SQL that reads each candidate's row, a random
  page each (most of a 30% filter's search time at a million rows), so for a filter an SQL index
  answers alone (`Plan.covered`), which rows it keeps is held as one byte per rowid (1 MB per filter
  at a million rows), for the `_MASKS` filters used last.

Each entry remembers the log position it reflects; when next used, only the rows changed since are
read again, whoever changed them. An entry the log was pruned past is dropped and read afresh.
Called with the column's lock held, on a connection whose snapshot the caller chose.
"""

from __future__ import annotations

import sqlite3
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from ._filter_plan import ids_json
from .vector_index import ExactIndex

# which rows a filter keeps is held, one byte per rowid, for this many filters
_MASKS = 16

Where = tuple[str, list[Any]]  # a filter compiled to SQL, and its parameters


@dataclass
class _Rows:
    """The current vectors of the committed rows a filter keeps, as of log position `seq`."""

    index: ExactIndex
    seq: int


@dataclass
class _Mask:
    """Which committed rows a filter keeps (`keeps[rowid]`), as of log position `seq`."""

    keeps: np.ndarray
    seq: int


def rowids(conn: sqlite3.Connection, table: str, where: Where, among: np.ndarray | None = None) -> np.ndarray:
    """The sorted rowids of the rows of `table` (quoted) that `where` keeps (of those `among`)."""
    sql, params = f"SELECT rowid FROM {table} WHERE ({where[0]})", list(where[1])
    if among is not None:
        sql += " AND rowid IN (SELECT value FROM json_each(?))"
        params.append(ids_json(among))
    rows = conn.execute(sql, params).fetchall()
    return np.sort(np.fromiter((r for (r,) in rows), dtype=np.int64, count=len(rows)))


class FilterCache:
    """The rows and masks of one column's filters.

    `stored(conn, where=, among=)` reads (ids, vectors) of the column's rows; `changes_since(conn,
    seq)` the rowids changed after a log position (None when the log no longer reaches back)."""

    def __init__(
        self,
        table: str,
        max_rows: int,
        new_index: Callable[[], ExactIndex],
        stored: Callable[..., tuple[np.ndarray, np.ndarray]],
        changes_since: Callable[[sqlite3.Connection, int], set[int] | None],
    ) -> None:
        self._table = table
        self._max_rows = max_rows
        self._new_index = new_index
        self._stored = stored
        self._changes_since = changes_since
        self._rows: OrderedDict[tuple, _Rows] = OrderedDict()
        self._masks: OrderedDict[tuple, _Mask] = OrderedDict()

    def clear(self) -> None:
        """Forget every filter (the column was loaded again)."""
        self._rows.clear()
        self._masks.clear()

    def _kept(
        self, cache: OrderedDict, key: tuple, conn: sqlite3.Connection, seq: int
    ) -> tuple[Any, set[int]] | None:
        """A filter's entry in `cache` (now its most recently used) and the rows changed since its
        `seq`, which the caller applies before it sets `seq`; None if there is none, or if the change
        log no longer reaches back to it (the entry is then dropped)."""
        entry = cache.get(key)
        if entry is None:
            return None
        cache.move_to_end(key)
        changed = self._changes_since(conn, entry.seq) if entry.seq != seq else set()
        if changed is None:
            del cache[key]
            return None
        return entry, changed

    def rows(self, conn: sqlite3.Connection, where: Where, seq: int) -> ExactIndex:
        """The vectors of the rows `where` keeps, as of log position `seq` (the column's)."""
        key = (where[0], tuple(where[1]))
        if (kept := self._kept(self._rows, key, conn, seq)) is not None:
            entry, changed = kept
            if changed:
                ids = sorted(changed)
                entry.index.remove(np.array(ids, dtype=np.int64))
                entry.index.upsert(*self._stored(conn, where=where, among=ids))
            entry.seq = seq
            return entry.index
        index = self._new_index()
        index.upsert(*self._stored(conn, where=where))
        if len(index) <= self._max_rows:
            self._rows[key] = _Rows(index, seq)
            held = sum(len(e.index) for e in self._rows.values())
            while held > self._max_rows:
                held -= len(self._rows.popitem(last=False)[1].index)
        return index

    def mask(self, conn: sqlite3.Connection, where: Where, seq: int) -> np.ndarray | None:
        """Which rows `where` keeps, as `keeps[rowid]`, as of `seq`; None if a rowid is negative."""
        key = (where[0], tuple(where[1]))
        if (kept := self._kept(self._masks, key, conn, seq)) is not None:
            entry, changed = kept
            if changed:
                ids = np.array(sorted(changed), dtype=np.int64)
                passing = rowids(conn, self._table, where, among=ids)
                if len(passing) and passing[0] < 0:
                    del self._masks[key]
                    return None
                if len(passing) and passing[-1] >= len(entry.keeps):  # new rows past the end
                    grown = np.zeros(max(2 * len(entry.keeps), int(passing[-1]) + 1), dtype=bool)
                    grown[: len(entry.keeps)] = entry.keeps
                    entry.keeps = grown
                entry.keeps[ids[(ids >= 0) & (ids < len(entry.keeps))]] = False
                entry.keeps[passing] = True
            entry.seq = seq
            return entry.keeps
        passing = rowids(conn, self._table, where)
        if len(passing) and passing[0] < 0:
            return None
        keeps = np.zeros(int(passing[-1]) + 1 if len(passing) else 0, dtype=bool)
        keeps[passing] = True
        self._masks[key] = _Mask(keeps, seq)
        while len(self._masks) > _MASKS:
            self._masks.popitem(last=False)
        return keeps
