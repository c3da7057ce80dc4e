"""Where a search's time goes, path by path, beside the raw usearch graph it walks.

    .venv/bin/python benchmarks/search_profile.py --rows 100000 [--queries 300]

Loads `--rows` generated rows (benchmarks/_data.py: Icecat vectors and variants, a `bucket` column
0..99 with an SQL index) into a SQLite file, waits for the graph, then times each search path:
unfiltered, a filter keeping 1% of rows and one keeping 30%, write-to-visible (insert one row, search
until it is found), and a text query. Each path's time is split into exclusive stages by wrapping
the functions that do the work (a stage's time excludes the stages it calls):

- graph walk: usearch's search on livevec's own graph (the floor's work),
- exact part: the delta and overlay scans, and the scan of a selective filter's rows in memory,
- filter rows upkeep: bringing a selective filter's rows kept in memory up to date (and reading them
  the first time),
- SQL: reading rows, vectors and filter matches from SQLite, catching up with the change log,
- rows: turning SQLite values into Python values,
- embed: the query text's embedding,
- the rest: the search builder, validation, merging and sorting (Python).

It also prints raw usearch's time for the same walk (`Index.search` with the same k and breadth on
the same graph), so "livevec / floor" is measured on one graph in one process.
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import shutil
import statistics
import tempfile
import time
from collections import defaultdict
from contextlib import contextmanager
from pathlib import Path

import numpy as np

import livevec
from _data import CACHE, buckets, dataset
from _report import rss_mb, table
from livevec import EmbeddingFunction, Field, TableModel
from livevec.storage import _sqlite_index, sqlite, vector_index

K = 10


class Row(TableModel):
    __tablename__ = "rows"
    id: int = Field(primary_key=True)
    bucket: int = Field(index=True)
    text: str = ""
    vec: list[float] | None = EmbeddingFunction().VectorField("text")


class Stages:
    """Exclusive time per stage: a wrapped call's time minus the wrapped calls inside it."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = defaultdict(float)
        self._stack: list[list[float]] = []
        self._patches: list[tuple[object, str, object]] = []

    def wrap(self, owner: object, name: str, stage: str) -> None:
        original = getattr(owner, name)
        stack, seconds = self._stack, self.seconds

        def timed(*args, **kwargs):
            stack.append([0.0])
            started = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                elapsed = time.perf_counter() - started
                inner = stack.pop()[0]
                seconds[stage] += elapsed - inner
                if stack:
                    stack[-1][0] += elapsed

        self._patches.append((owner, name, original))
        setattr(owner, name, timed)

    def reset(self) -> None:
        self.seconds.clear()

    @contextmanager
    def total(self):
        """Time a whole call; what no stage claimed is "the rest"."""
        self._stack.append([0.0])
        started = time.perf_counter()
        try:
            yield
        finally:
            elapsed = time.perf_counter() - started
            self.seconds["the rest"] += elapsed - self._stack.pop()[0]
            self.seconds["total"] += elapsed


STAGE_NAMES = ["graph walk", "exact part", "filter rows upkeep", "SQL", "rows", "embed", "the rest"]


def instrument(stages: Stages) -> None:
    stages.wrap(vector_index.HnswIndex, "search", "graph walk")
    stages.wrap(vector_index.ExactIndex, "search", "exact part")
    stages.wrap(vector_index, "distances", "exact part")
    stages.wrap(_sqlite_index, "distances", "exact part")
    for name in ("_query", "_execute"):
        stages.wrap(sqlite.SQLiteBackend, name, "SQL")
    stages.wrap(sqlite.SQLiteBackend, "_rows", "rows")
    # the index reads through its own connection: its SQL methods
    for name in ("catch_up", "_nearest_rows", "_scan", "_plan", "_stored"):
        stages.wrap(_sqlite_index.ColumnIndex, name, "SQL")
    stages.wrap(_sqlite_index.ColumnIndex, "_filter_rows", "filter rows upkeep")
    stages.wrap(EmbeddingFunction, "embed_query", "embed")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--cprofile", action="store_true", help="also print each path's top functions")
    args = parser.parse_args()

    _, vectors, queries = dataset(args.rows, args.queries)
    groups = buckets(args.rows + 1000)
    folder = Path(tempfile.mkdtemp(prefix="search-profile-", dir=CACHE))
    before = rss_mb()
    db = livevec.connect(folder / "profile.db")
    tbl = db.create_table(Row)
    started = time.perf_counter()
    for start in range(0, args.rows, 5000):
        tbl.insert(
            [
                {"id": i, "bucket": int(groups[i]), "text": "-", "vec": vectors[i]}
                for i in range(start, min(args.rows, start + 5000))
            ]
        )
    tbl.search(queries[0]).limit(K).to_list()
    db.backend.wait_for_indexes()
    print(
        f"loaded {args.rows:,} rows in {time.perf_counter() - started:.0f} s; RSS +{rss_mb() - before:,.0f} MB"
    )
    column = db.backend._indexes[("rows", "vec")]

    stages = Stages()
    instrument(stages)
    paths = {
        "unfiltered": lambda q: tbl.search(q).limit(K).to_list(),
        "1% filter": lambda q: tbl.search(q).filter({"bucket": 0}).limit(K).to_list(),
        "30% filter": lambda q: tbl.search(q).filter({"bucket": {"$lt": 30}}).limit(K).to_list(),
    }
    rows_out = []
    for name, run in paths.items():
        for q in queries[:20]:  # warm: plans cached, pages in memory
            run(q)
        stages.reset()
        latencies = []
        for q in queries:
            t = time.perf_counter()
            with stages.total():
                run(q)
            latencies.append(time.perf_counter() - t)
        rows_out.append(_row(name, latencies, stages.seconds, len(queries)))
        if args.cprofile:
            profile = cProfile.Profile()
            profile.runcall(lambda run=run: [run(q) for q in queries])
            print(f"\n--- {name}: top functions by own time")
            pstats.Stats(profile).sort_stats("tottime").print_stats(12)

    # raw usearch on the same graph: the walk an unfiltered search needs
    graph = column.main._index
    graph.expansion_search = column.main.breadth
    floor = []
    for q in queries:
        t = time.perf_counter()
        graph.search(q, K, threads=1)
        floor.append(time.perf_counter() - t)

    # write-to-visible: one insert, then search until it is found
    stages.reset()
    latencies = []
    rng = np.random.default_rng(5)
    for j in range(50):
        v = queries[j] + rng.normal(0, 0.01, queries.shape[1]).astype(np.float32)
        v /= np.linalg.norm(v)
        key = args.rows + j
        t = time.perf_counter()
        with stages.total():
            tbl.insert({"id": key, "bucket": int(groups[key]), "text": "-", "vec": v})
            while key not in [r["id"] for r in tbl.search(v).limit(K).to_list()]:
                pass
        latencies.append(time.perf_counter() - t)
    rows_out.append(_row("write-to-visible", latencies, stages.seconds, 50))

    # a text query: the embedding plus the unfiltered search
    phrases = [f"wireless headphones {i}" for i in range(100)]
    tbl.search(phrases[0]).limit(K).to_list()  # the model loaded
    stages.reset()
    latencies = []
    for text in phrases:
        t = time.perf_counter()
        with stages.total():
            tbl.search(text).limit(K).to_list()
        latencies.append(time.perf_counter() - t)
    rows_out.append(_row("text query (new text each time)", latencies, stages.seconds, len(phrases)))
    stages.reset()
    latencies = []
    for text in phrases:
        t = time.perf_counter()
        with stages.total():
            tbl.search(text).limit(K).to_list()
        latencies.append(time.perf_counter() - t)
    rows_out.append(_row("text query (asked before)", latencies, stages.seconds, len(phrases)))

    print(f"\n{args.rows:,} rows, k={K}, graph breadth (ef) {column.main.breadth}, {len(graph):,} nodes")
    print(
        f"raw usearch walk on the same graph: p50 {statistics.median(floor) * 1000:.3f} ms, "
        f"p99 {np.percentile(floor, 99) * 1000:.3f} ms\n"
    )
    print(
        table(
            ["path", "p50 ms", "p99 ms", "mean ms", *(f"{s} (mean ms)" for s in STAGE_NAMES)],
            rows_out,
        )
    )
    db.close()
    shutil.rmtree(folder, ignore_errors=True)


def _row(name: str, latencies: list[float], seconds: dict[str, float], n: int) -> list:
    return [
        name,
        f"{statistics.median(latencies) * 1000:.2f}",
        f"{np.percentile(latencies, 99) * 1000:.2f}",
        f"{statistics.fmean(latencies) * 1000:.2f}",
        *(f"{seconds.get(s, 0.0) / n * 1000:.3f}" for s in STAGE_NAMES),
    ]


if __name__ == "__main__":
    main()
