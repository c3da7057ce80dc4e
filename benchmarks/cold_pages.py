"""Searches when the operating system keeps dropping its file cache, by the size of livevec's own
page cache per reader connection.

    .venv/bin/python benchmarks/cold_pages.py [--rows 1000000] [--passes 6] [--cache-mib 2 64]

A search reads its rows by rowid through the table's B-tree, in the database file. Where the
operating system keeps the file's pages in memory, those reads are cheap; a machine that hands its
memory back to its host (the VMs these benchmarks run on page out a cached file page that no
process maps once it has been idle for about a minute) reads them from disk again, 12 to 100 µs a
page. SQLite's own page cache, one per connection, lives
in the process, where nothing takes it away: this script measures what its size changes.

It opens the table that `search_profile.py --keep` keeps for `--rows` (and loads it first, as that
script does, when there is none: a quarter to half an hour at a million rows; kept for next time),
then for each size in `--cache-mib` (2 MiB is SQLite's default) a database on that file with its
reader connection's cache set to that size, each with its own graph. Each pass takes new queries (the profile's,
moved a little), drops the operating system's file cache (as root; otherwise it says so and
measures what the cache holds), and runs them on each database in turn, the file cache dropped
before each. Last, for each database: a one-row insert, then a search, 100 times (a commit by any
connection empties every other connection's cache in WAL mode: this shows whether a large cache
then costs anything), the file cache dropped first. p50 per search, key only (`select("id")`).
"""

from __future__ import annotations

import argparse
import subprocess
import time

import numpy as np

import livevec
from _data import buckets, dataset
from _report import table
from search_profile import K, kept_folder, loaded_table


def drop_file_cache() -> bool:
    """Empty the operating system's file cache (Linux, as root); False where that is not allowed."""
    subprocess.run(["sync"], check=False)
    try:
        with open("/proc/sys/vm/drop_caches", "w") as control:
            control.write("1")
    except OSError:
        return False
    return True


def set_reader_cache(db: livevec.Database, mib: int) -> None:
    """Benchmark-only: resize the cache of every reader connection `db` has opened."""
    for conn in db.backend._readers:
        conn.execute(f"PRAGMA cache_size=-{mib * 1024}")


def p50_ms(tbl, queries: np.ndarray) -> float:
    seconds = []
    for q in queries:
        started = time.perf_counter()
        tbl.search(q).select("id").limit(K).to_list()
        seconds.append(time.perf_counter() - started)
    return float(np.median(seconds) * 1000)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--passes", type=int, default=6)
    parser.add_argument("--cache-mib", type=int, nargs="+", default=[2, 64])
    args = parser.parse_args()

    _, vectors, queries = dataset(args.rows, args.queries)
    folder = kept_folder(args.rows)
    folder.mkdir(parents=True, exist_ok=True)
    loaded = folder / "cold-pages-loaded"  # search_profile.py's floor file says the same
    reuse = (folder / "floor.usearch").exists() or loaded.exists()
    databases = {}
    for mib in args.cache_mib:
        db = livevec.connect(folder / "profile.db")
        tbl = loaded_table(db, vectors, buckets(args.rows + 1000), reuse=reuse)
        loaded.touch()
        reuse = True
        set_reader_cache(db, mib)
        databases[mib] = (db, tbl)
    print(f"{args.rows:,} rows, {len(databases)} databases on one file, each with its graph", flush=True)

    rng = np.random.default_rng(3)
    passes: dict[int, list[float]] = {mib: [] for mib in databases}
    dropped = True
    for _ in range(args.passes):
        moved = queries + rng.normal(0, 0.05, queries.shape).astype(np.float32)
        for mib, (_, tbl) in databases.items():
            dropped &= drop_file_cache()
            passes[mib].append(p50_ms(tbl, moved))
    if not dropped:
        print("could not drop the file cache (not root): the passes ran on whatever it held")

    after_write: dict[int, float] = {}
    for n, (mib, (_, tbl)) in enumerate(databases.items()):
        seconds = []
        drop_file_cache()
        for j, q in enumerate(queries[:100]):
            key = 10 * args.rows + 1000 * n + j
            tbl.insert({"id": key, "bucket": 0, "text": "-", "vec": q})
            started = time.perf_counter()
            tbl.search(q).select("id").limit(K).to_list()
            seconds.append(time.perf_counter() - started)
        after_write[mib] = float(np.median(seconds) * 1000)
        tbl.delete({"id": {"$gte": args.rows}})

    rows = [
        [
            f"{mib} MiB" + (" (SQLite's default)" if mib == 2 else ""),
            *(f"{p:.2f}" for p in passes[mib]),
            f"{np.mean(passes[mib][1:]):.2f}",
            f"{after_write[mib]:.2f}",
        ]
        for mib in databases
    ]
    header = [
        "reader cache",
        *(f"pass {i + 1}" for i in range(args.passes)),
        "passes 2+ (mean of p50s)",
        "right after a write",
    ]
    print("\np50 ms per search, the file cache dropped before each pass")
    print(table(header, rows))
    for db, _ in databases.values():
        db.close()


if __name__ == "__main__":
    main()
