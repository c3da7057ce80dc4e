"""How a filtered vector search on a SQLite column is carried out: a plan per filter.

A plan decides only speed, never which rows come back: whether an SQL index finds the filter's rows
(then they are counted, up to `exact_filter_rows`), whether that index lists them without reading
any row (`covered`: the filter's rows can be held as a mask), and the share of rows the filter keeps
(counted, or estimated from a fixed sample of rowids), which sizes the graph request. SQLite says
how it would find the rows in `EXPLAIN QUERY PLAN`, whose text is read here and nowhere else.

Shop filters repeat (a category, a price band), so plans are kept, the 256 used last, until the
column grows or shrinks by a tenth.
"""

from __future__ import annotations

import sqlite3
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

import numpy as np

# rows sampled to estimate how many rows a filter keeps
_SAMPLE = 500
_PLANS = 256


def ids_json(ids: Any) -> str:
    """Row ids as a JSON array, for `rowid IN (SELECT value FROM json_each(?))`: one parameter.
    (Integers written as Python writes them are JSON; `json.dumps` takes twice as long.)"""
    return "[" + ",".join(map(str, np.asarray(ids, dtype=np.int64).tolist())) + "]"


@dataclass
class Plan:
    """How a filter is searched."""

    matches: int | None  # how many rows it keeps, when an SQL index counts them cheaply
    selectivity: float  # the share of rows it keeps
    covered: bool  # an SQL index lists its rows without reading them
    size: int  # the column's size when planned


class FilterPlanner:
    """The plans of one column's filters (`table` and `column` are quoted SQL names)."""

    def __init__(self, table: str, column: str, exact_filter_rows: int) -> None:
        self._table, self._column = table, column
        self._cap = exact_filter_rows
        self._plans: OrderedDict[tuple, Plan] = OrderedDict()

    def plan(self, conn: sqlite3.Connection, where: tuple[str, list[Any]], size: int) -> Plan:
        """How to search with the compiled filter `where` a column of `size` rows."""
        key = (where[0], tuple(where[1]))
        cached = self._plans.get(key)
        if cached is not None and abs(cached.size - size) <= size // 10:
            self._plans.move_to_end(key)
            return cached
        steps = [
            detail
            for *_, detail in conn.execute(
                f"EXPLAIN QUERY PLAN SELECT rowid FROM {self._table} WHERE {where[0]}", where[1]
            )
        ]
        # finding the matches without reading the whole table, or without reading any row
        indexed = not any(step.startswith("SCAN") for step in steps)
        covered = indexed and all("COVERING INDEX" in step or "INTEGER PRIMARY KEY" in step for step in steps)
        matches = self._indexed_matches(conn, where) if indexed else None
        selectivity = matches / max(1, size) if matches is not None else self._selectivity(conn, where, size)
        plan = self._plans[key] = Plan(matches, selectivity, covered, size)
        while len(self._plans) > _PLANS:
            self._plans.popitem(last=False)
        return plan

    def _indexed_matches(self, conn: sqlite3.Connection, where: tuple[str, list[Any]]) -> int | None:
        """How many rows the filter keeps (which an SQL index finds), if at most `exact_filter_rows`;
        else None."""
        count = conn.execute(
            f"SELECT count(*) FROM (SELECT 1 FROM {self._table} WHERE {where[0]} LIMIT {self._cap + 1})",
            where[1],
        ).fetchone()[0]
        return count if count <= self._cap else None

    def _selectivity(self, conn: sqlite3.Connection, where: tuple[str, list[Any]], size: int) -> float:
        """The share of rows the filter keeps, from a fixed random sample of rowids."""
        top = conn.execute(f"SELECT max(rowid) FROM {self._table}").fetchone()[0] or 0
        sample = np.unique(np.random.default_rng(0).integers(1, top + 1, _SAMPLE))
        present, kept = conn.execute(
            f"SELECT count(*), total(CASE WHEN ({where[0]}) THEN 1 ELSE 0 END) FROM {self._table} "
            f"WHERE {self._column} IS NOT NULL AND rowid IN (SELECT value FROM json_each(?))",
            [*where[1], ids_json(sample)],
        ).fetchone()
        if present < _SAMPLE // 10:  # rowids too sparse for the sample to say much: count
            kept = conn.execute(
                f"SELECT count(*) FROM {self._table} WHERE {self._column} IS NOT NULL AND ({where[0]})",
                where[1],
            ).fetchone()[0]
            return kept / max(1, size)
        return max(float(kept), 0.5) / present  # none seen: rarer than one in the sample
