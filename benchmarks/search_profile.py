"""Where a search's time goes, path by path, beside the raw usearch graph it walks.

    .venv/bin/python benchmarks/search_profile.py --rows 100000 [--queries 300] [--keep]

Loads `--rows` generated rows (benchmarks/_data.py: Icecat vectors and variants, a `bucket` column
0..99 with an SQL index) into a SQLite file, waits for the graph, then times each search path:
unfiltered, a filter keeping 1% of rows and one keeping 30%, write-to-visible (insert one row, search
until it is found), and a text query. Each path's time is split into exclusive stages by wrapping
the functions that do the work (a stage's time excludes the stages it calls):

- graph walk: usearch's search on livevec's own graph,
- exact part: the delta and overlay scans, and the scan of a selective filter's rows in memory,
- filter rows upkeep: bringing a selective filter's rows kept in memory up to date (and reading them
  the first time),
- SQL: reading rows, vectors and filter matches from SQLite, catching up with the change log,
- rows: turning SQLite values into Python values,
- embed: the query text's embedding,
- the rest: the search builder, validation, merging and sorting (Python).

Each of the three search paths is timed twice: whole rows (the vector a list of 384 floats in each,
as a `to_list()` without `select()` gives it) and the key only (`select("id")`: what the floor
returns, and what `peers.py` asks of every system). Whole rows go first, so the key-only pass asks
the same queries again: where the first pass read its rows from disk, they are then in the file
cache and the reader's own page cache, and the two passes differ by that too (the SQL stage shows it).

Beside each livevec query the floor answers the same query: raw usearch with the same parameters on
the same vectors (`peers.Usearch`: no storage, a filter as a numpy mask over its neighbours), the two
taking turns query by query so both see the same machine, whatever else runs on it. Recall@10 of
both is against an exact scan with the same filter; where the floor finds less than livevec at the
same breadth (ef), a second row times it at the breadth where it finds as much (the goal compares
at equal recall). Memory is each one's growth of this process's resident memory: livevec's from
connecting to its graph being ready, the floor's while its graph is built (or loaded).

`--keep` keeps the loaded table, livevec's graph file and the floor's graph in
`benchmarks/.cache/search-profile-<rows>/` and reuses them next time (a million rows take about half
an hour to load and build): both graphs are then loaded from their files.

`--hold-files` keeps the table's files in the operating system's file cache while the paths are
timed (`_report.file_cache_held`). The VMs these benchmarks run on page out a cached file page that
no process maps once it has been idle for about a minute, so a kept table, or one whose load took
five minutes, is otherwise read from disk by the first pass (about 100 µs a row at a million rows).
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import pstats
import shutil
import tempfile
import time
from collections import defaultdict
from contextlib import contextmanager
from pathlib import Path

import numpy as np

import livevec
from _data import CACHE, buckets, dataset
from _report import exact_top_k, file_cache_held, recall, rss_mb, table
from livevec import EmbeddingFunction, Field, TableModel
from livevec.storage import _filter_cache, _filter_plan, _sqlite_index, sqlite, vector_index
from peers import Usearch

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
    for name in ("catch_up", "_nearest_rows", "_scan", "_stored"):
        stages.wrap(_sqlite_index.ColumnIndex, name, "SQL")
    stages.wrap(_filter_plan.FilterPlanner, "plan", "SQL")
    stages.wrap(_filter_cache.FilterCache, "rows", "filter rows upkeep")
    stages.wrap(EmbeddingFunction, "embed_query", "embed")


def kept_folder(rows: int) -> Path:
    """Where `--keep` keeps the table and graphs of `rows` rows."""
    return CACHE / f"search-profile-{rows}"


def loaded_table(
    db: livevec.Database, vectors: np.ndarray, groups: np.ndarray, *, reuse: bool
) -> livevec.Table:
    """The profile's table in `db` with its graph complete: opened as a kept run left it (`reuse`),
    else loaded anew with `vectors` and their `groups`."""
    rows = len(vectors)
    if reuse:
        tbl = db.open_table("rows", schema=Row)
        tbl.delete({"id": {"$gte": rows}})  # left by a run that stopped before its clean-up
    else:
        tbl = db.create_table(Row, if_exists="overwrite")
        for start in range(0, rows, 5000):
            tbl.insert(
                [
                    {"id": i, "bucket": int(groups[i]), "text": "-", "vec": vectors[i]}
                    for i in range(start, min(rows, start + 5000))
                ]
            )
    tbl.search(vectors[0]).limit(K).to_list()
    db.backend.wait_for_indexes()
    return tbl


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--cprofile", action="store_true", help="also print each path's top functions")
    parser.add_argument("--keep", action="store_true", help="keep (and reuse) the loaded table and graphs")
    parser.add_argument(
        "--hold-files",
        action="store_true",
        help="keep the table's files in the file cache while timing (this VM pages out idle ones)",
    )
    args = parser.parse_args()

    _, vectors, queries = dataset(args.rows, args.queries)
    groups = buckets(args.rows + 1000)
    if args.keep:
        folder = kept_folder(args.rows)
        folder.mkdir(parents=True, exist_ok=True)
    else:
        folder = Path(tempfile.mkdtemp(prefix="search-profile-", dir=CACHE))
    floor_file = folder / "floor.usearch"
    reuse = floor_file.exists()
    before = rss_mb()
    started = time.perf_counter()
    db = livevec.connect(folder / "profile.db")
    tbl = loaded_table(db, vectors, groups, reuse=reuse)
    ours_mb = rss_mb() - before
    verb = "opened" if reuse else "loaded"
    print(f"{verb} {args.rows:,} rows in {time.perf_counter() - started:.0f} s; RSS +{ours_mb:,.0f} MB")
    column = db.backend._indexes[("rows", "vec")]

    # the floor: raw usearch with the same parameters on the same vectors, filtered as peers.py does
    # (a numpy mask over neighbours, widening until `K` pass); timed query by query beside livevec
    # so both see the same machine
    before = rss_mb()
    floor = Usearch(folder, vectors.shape[1])
    if reuse:
        floor.index.load(str(floor_file))
        floor.groups = groups[: args.rows].copy()
    else:
        for start in range(0, args.rows, 100_000):
            stop = min(args.rows, start + 100_000)
            floor.add(np.arange(start, stop), vectors[start:stop], groups[start:stop])
        if args.keep:
            floor.index.save(str(floor_file))
    floor.index.expansion_search = column.main.breadth
    floor_mb = rss_mb() - before
    print(
        f"floor graph ready: RSS +{floor_mb:,.0f} MB (livevec {ours_mb / floor_mb:.2f}x); "
        f"livevec's graph breadth (ef) {column.main.breadth}, the floor's the same"
    )

    # --hold-files: what a machine that keeps the files it wrote in its cache would see
    with file_cache_held(folder) if args.hold_files else contextlib.nullcontext():
        rows_out = _timed_paths(tbl, column, floor, vectors, queries, groups, cprofile=args.cprofile)

    print(
        f"\n{args.rows:,} rows, k={K}, graph breadth (ef) {column.main.breadth}; memory: livevec "
        f"+{ours_mb:,.0f} MB, raw usearch +{floor_mb:,.0f} MB ({ours_mb / floor_mb:.2f}x); disk "
        f"{sum(f.stat().st_size for f in folder.rglob('*') if f.is_file() and f != floor_file) / 2**20:,.0f} MB (SQLite + graph file)"
    )
    print(
        table(
            [
                "path",
                "livevec p50 / p99 ms",
                "raw usearch p50 / p99 ms",
                "ratio p50",
                "recall@10 livevec / usearch",
                *(f"{s} (mean ms)" for s in STAGE_NAMES),
            ],
            rows_out,
        )
    )
    if args.keep:
        tbl.delete({"id": {"$gte": args.rows}})  # the table as loaded, for the next run
        db.close()
    else:
        db.close()
        shutil.rmtree(folder, ignore_errors=True)


def _timed_paths(tbl, column, floor, vectors, queries, groups, *, cprofile: bool) -> list:
    """Each path timed beside the floor, split into stages: the rows of the table."""
    rows = len(vectors)
    stages = Stages()
    instrument(stages)
    filters = {"unfiltered": None, "1% filter": ("eq", 0), "30% filter": ("lt", 30)}
    rows_out = []
    for name, where in filters.items():
        mask = None if where is None else (groups[:rows] == 0 if where[0] == "eq" else groups[:rows] < 30)
        truth = exact_top_k(vectors, queries, K, mask)
        condition = (
            None if where is None else ({"bucket": 0} if where[0] == "eq" else {"bucket": {"$lt": 30}})
        )

        def whole(q, condition=condition):
            return [r["id"] for r in tbl.search(q).filter(condition).limit(K).to_list()]

        def key_only(q, condition=condition):
            return [r["id"] for r in tbl.search(q).filter(condition).select("id").limit(K).to_list()]

        runs = {name: whole, f"{name}, key only": key_only}

        def timed(suffix: str = "", runs=runs, where=where, truth=truth) -> tuple[float, float]:
            """Each way beside the floor, a table row each; (livevec's, the floor's) recall of the last."""
            for label, way in runs.items():
                stages.reset()
                ours, theirs, found_ours, found_theirs = _alternated(way, floor, queries, where, stages)
                recalls = recall(found_ours, truth), recall(found_theirs, truth)
                rows_out.append(_row(label + suffix, ours, theirs, *recalls, stages.seconds))
            return recalls

        for q in queries[:20]:  # warm: plans cached, filter rows in memory, pages cached
            whole(q)
            floor.search(q, where)
        our_recall, their_recall = timed()
        # the goal compares at equal recall: where the floor finds less at the same breadth, widen
        # its breadth until it finds as much, and time both again there
        breadth = column.main.breadth
        if their_recall < our_recall:
            for ef in range(breadth + breadth // 4, 4 * breadth + 1, breadth // 4):
                floor.set_ef(ef)
                if recall([floor.search(q, where) for q in queries], truth) >= our_recall:
                    timed(f", the floor at livevec's recall (its ef {ef})")
                    break
            floor.set_ef(breadth)
        if cprofile:
            profile = cProfile.Profile()
            profile.runcall(lambda run=whole: [run(q) for q in queries])
            print(f"\n--- {name}: top functions by own time")
            pstats.Stats(profile).sort_stats("tottime").print_stats(12)

    # write-to-visible: one insert, then search until it is found (the floor: add, then search)
    stages.reset()
    ours, theirs, lost = [], [], 0
    rng = np.random.default_rng(5)
    for j in range(100):
        v = queries[j % len(queries)] + rng.normal(0, 0.01, queries.shape[1]).astype(np.float32)
        v /= np.linalg.norm(v)
        key = rows + j
        t = time.perf_counter()
        with stages.total():
            tbl.insert({"id": key, "bucket": int(groups[key]), "text": "-", "vec": v})
            while key not in [r["id"] for r in tbl.search(v).limit(K).to_list()]:
                pass
        ours.append(time.perf_counter() - t)
        t = time.perf_counter()
        floor.add(np.array([key]), v[None], groups[key : key + 1])
        while key not in floor.search(v, None):
            if time.perf_counter() - t > 10:  # seen at 1M: a node added alone that no search finds
                lost += 1
                break
        theirs.append(time.perf_counter() - t)
    rows_out.append(_row("write-to-visible", ours, theirs, None, None, stages.seconds))
    if lost:
        print(f"raw usearch: {lost} of 100 rows added one by one were not found by their own vector in 10 s")

    # a text query: the embedding plus the unfiltered search
    phrases = [f"wireless headphones {i}" for i in range(100)]
    tbl.search(phrases[0]).limit(K).to_list()  # the model loaded
    for label in ("text query (new text each time)", "text query (asked before)"):  # the same texts twice
        stages.reset()
        latencies = []
        for text in phrases:
            t = time.perf_counter()
            with stages.total():
                tbl.search(text).limit(K).to_list()
            latencies.append(time.perf_counter() - t)
        rows_out.append(_row(label, latencies, None, None, None, stages.seconds))
    return rows_out


def _alternated(run, floor, queries, where, stages: Stages) -> tuple[list, list, list, list]:
    """Each query answered by livevec (`run`) and by the floor in turn, who goes first alternating:
    (livevec's seconds, the floor's, livevec's results, the floor's)."""
    ours, theirs, found_ours, found_theirs = [], [], [], []
    for i, q in enumerate(queries):
        for turn in (0, 1) if i % 2 else (1, 0):
            t = time.perf_counter()
            if turn == 0:
                with stages.total():
                    found_ours.append(run(q))
                ours.append(time.perf_counter() - t)
            else:
                found_theirs.append(floor.search(q, where))
                theirs.append(time.perf_counter() - t)
    return ours, theirs, found_ours, found_theirs


def _row(name, ours, theirs, our_recall, their_recall, seconds) -> list:
    def ms(values, p):
        return np.percentile(values, p) * 1000

    return [
        name,
        f"{ms(ours, 50):.2f} / {ms(ours, 99):.2f}",
        f"{ms(theirs, 50):.2f} / {ms(theirs, 99):.2f}" if theirs else "-",
        f"{ms(ours, 50) / ms(theirs, 50):.2f}x" if theirs else "-",
        f"{our_recall:.3f} / {their_recall:.3f}" if our_recall is not None else "-",
        *(f"{seconds.get(s, 0.0) / len(ours) * 1000:.3f}" for s in STAGE_NAMES),
    ]


if __name__ == "__main__":
    main()
