"""Does a graph grown in many adds find less than one built in one call? Each way built several times.

    .venv/bin/python benchmarks/graph_steps.py --rows 100000 [--repeats 3] [--queries 300]
        [--threads 0] [--ways "one call" "calls of 4,096 rows"]

Raw usearch (livevec's parameters: cosine, float16, 32 links, breadth 128 to add and to search) on
the Icecat vectors and variants of `benchmarks/_data.py`, in the order livevec would get them (the
catalog's own order), built each way `--repeats` times: in one call on every core (`--threads`), in
calls of 4,096 rows (livevec's chunk off the lock until December 2026) and of 20,000 (its largest
step during a load), in one call with a progress callback (livevec's build since, which a stop
interrupts), in one call and in calls of 4,096 in a shuffled order, and in two or three large
calls (a load's builds since, each at least as large as the graph it grows, about). Per way it prints
recall@10 against an exact scan (mean, lowest, highest over the builds), the mean links per node at
the base level and the p50 of one-thread searches.

A multi-threaded build is not deterministic (threads race to link nodes), so one build per way says
little: the spread between builds of one way is the yardstick for any difference between ways.
"""

from __future__ import annotations

import argparse
import itertools
import statistics
import time

import numpy as np

from _data import dataset
from _report import exact_top_k, recall, table

CHUNKED = {"one call": None, "calls of 4,096 rows": 4096, "calls of 20,000 rows": 20_000}
# a few large calls, as fractions of the rows (livevec's load builds: each call at least as large as
# the graph it grows, or about so)
SPLITS = {
    "two calls, 1/2 + 1/2": (0.5, 0.5),
    "two calls, 3/10 + 7/10": (0.3, 0.7),
    "two calls, 7/10 + 3/10": (0.7, 0.3),
    "three calls, 1/10 + 3/10 + 6/10": (0.1, 0.3, 0.6),
}


def go_on(done, total):
    return True


go_on.__annotations__ = {"done": int, "total": int, "return": bool}  # usearch checks them, as types


def build(vectors: np.ndarray, order: np.ndarray, chunk, threads: int = 0, stop_callback=False):
    """A graph of `vectors` added in `order`: in calls of `chunk` rows, or in calls of the given
    fractions of the rows (a tuple), or in one call (None)."""
    from usearch.index import Index

    index = Index(
        ndim=vectors.shape[1],
        metric="cos",
        dtype="f16",
        connectivity=32,
        expansion_add=128,
        expansion_search=128,
    )
    if isinstance(chunk, tuple):
        bounds = np.round(np.cumsum((0.0, *chunk)) * len(order)).astype(int)
    else:
        bounds = [*range(0, len(order), chunk or len(order)), len(order)]
    for start, stop in itertools.pairwise(bounds):
        part = order[start:stop]
        progress = {"progress": go_on} if stop_callback else {}
        index.add(part.astype(np.uint64), vectors[part], threads=threads, **progress)
    return index


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--ways", nargs="*", help="only these ways (by name)")
    parser.add_argument("--threads", type=int, default=0, help="threads per add call (0: every core)")
    args = parser.parse_args()

    _, vectors, queries = dataset(args.rows, args.queries)
    truth = exact_top_k(vectors, queries, 10)
    in_order = np.arange(args.rows)
    ways = [(name, in_order, chunk, False) for name, chunk in (CHUNKED | SPLITS).items()]
    # livevec's build: one call, with the progress callback through which a stop is heard
    ways.append(("one call, with a progress callback", in_order, None, True))
    shuffled = np.random.default_rng(0).permutation(args.rows)
    ways.append(("one call, shuffled order", shuffled, None, False))
    ways.append(("calls of 4,096 rows, shuffled order", shuffled, 4096, False))
    if args.ways:
        ways = [way for way in ways if way[0] in args.ways]
    rows = []
    for name, order, chunk, stop_callback in ways:
        recalls, links, latencies, seconds = [], [], [], []
        for _ in range(args.repeats):
            started = time.perf_counter()
            index = build(vectors, order, chunk, args.threads, stop_callback)
            seconds.append(time.perf_counter() - started)
            found = []
            for q in queries:
                t = time.perf_counter()
                keys = index.search(q, 10, threads=1).keys
                latencies.append(time.perf_counter() - t)
                found.append(keys.astype(np.int64).tolist())
            assert len(index) == len(order), f"{name}: {len(index)} vectors kept of {len(order)}"
            recalls.append(recall(found, truth))
            links.append(index.levels_stats[0].edges / len(index))
        rows.append(
            [
                name,
                f"{statistics.mean(recalls):.4f}",
                f"{min(recalls):.4f} / {max(recalls):.4f}",
                f"{statistics.mean(links):.2f}",
                f"{statistics.median(latencies) * 1e3:.3f}",
                f"{statistics.mean(seconds):.1f}",
            ]
        )
        print(f"{name}: recall {', '.join(f'{r:.4f}' for r in recalls)}", flush=True)
    print(f"\n{args.rows:,} rows, {args.repeats} builds per way, {len(queries)} queries, k=10, ef 128")
    headers = ["way", "recall@10 mean", "lowest / highest", "links per node", "search p50 ms", "build s"]
    print(table(headers, rows))


if __name__ == "__main__":
    main()
