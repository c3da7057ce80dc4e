"""How a parallel add is checked for nodes no search reaches: the links walk against own-vector searches.

One graph is added on every core without a check (as usearch leaves it), copied, and mended each
way: by walking its links (`HnswIndex.unreachable` for a large add) and by searching for every row's
own vector at breadths 4, 64 and 512 (its way for a small add). Prints each way's time and nodes
added again, and recall@10 of each mended graph at three breadths against the exact top 10, so the
two can be compared side by side on one graph (they also set `_WALK_SHARE` in vector_index.py).
On Linux it also prints the walk's peak memory reading the graph's saved form as bytes and, as
livevec does, from a mapped temporary file (the process's peak resident size, reset before each).

    .venv/bin/python benchmarks/graph_check.py --rows 200000 --data icecat
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from _data import dataset
from _report import exact_top_k, peak_growth_mb, recall
from livevec import IndexOptions
from livevec.storage._graph_links import unreachable_keys
from livevec.storage.vector_index import HnswIndex
from load_to_fast import vectors


def found_by(graph: HnswIndex, queries: np.ndarray, breadth: int) -> np.ndarray:
    graph._index.expansion_search = breadth
    return graph._index.search(queries, 10, threads=0).keys.reshape(len(queries), -1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument(
        "--data",
        choices=["icecat", "clustered"],
        default="icecat",
        help="Icecat's vectors and variants (peers.py's), or load_to_fast.py's harder clustered ones",
    )
    args = parser.parse_args()
    if args.data == "icecat":
        _, data, queries = dataset(args.rows, 300)
    else:
        data, queries = vectors(args.rows, 384), vectors(300, 384, seed=1)
    data = np.ascontiguousarray(data, dtype=np.float32)
    queries = np.ascontiguousarray(queries[:300], dtype=np.float32)
    truth = exact_top_k(data, queries, 10)
    ids = np.arange(args.rows)

    graph = HnswIndex(384, "cosine", IndexOptions())
    started = time.perf_counter()
    graph._index.add(ids.astype(np.uint64), data, threads=0)
    print(
        f"{args.data}, {args.rows:,} rows: added on every core, unchecked, in {time.perf_counter() - started:.1f} s"
    )

    as_bytes = peak_growth_mb(lambda: unreachable_keys(graph._index.save()))
    mapped = peak_growth_mb(graph._unreachable_by_links)
    if as_bytes is not None and mapped is not None:
        print(
            f"  the walk's peak memory: +{as_bytes:,.0f} MB from the saved form as bytes, +{mapped:,.0f} MB mapped"
        )

    walked, searched = graph.copy(), graph.copy()
    started = time.perf_counter()
    walk_added = walked.repair(ids, data)  # all rows at once: the walk
    walk_s = time.perf_counter() - started
    started = time.perf_counter()
    missed = searched._not_found_by_own_vector(ids.astype(np.uint64), data)
    check_s = time.perf_counter() - started
    searched._index.remove(missed)
    searched._index.add(missed, data[missed.astype(np.int64)], threads=1)
    search_s = time.perf_counter() - started
    print(f"  links walk: {walk_s:.1f} s, {walk_added} nodes added again")
    print(
        f"  own-vector searches: {check_s:.1f} s to check, {search_s:.1f} s in all, {len(missed)} nodes added again"
    )
    print(f"  ratio (searches / walk): {search_s / walk_s:.1f}")
    for breadth in (64, 128, 256):
        print(
            f"  recall@10 at ef {breadth}: unchecked {recall(found_by(graph, queries, breadth), truth):.3f}, "
            f"walk-mended {recall(found_by(walked, queries, breadth), truth):.3f}, "
            f"search-mended {recall(found_by(searched, queries, breadth), truth):.3f}"
        )


if __name__ == "__main__":
    main()
