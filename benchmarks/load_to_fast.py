"""From the end of a load to searches on a complete graph: livevec beside raw usearch's own build.

    .venv/bin/python benchmarks/load_to_fast.py --rows 100000 [--batch 10000] [--dims 384] [--search-every 0.05]

A new user's way: insert the rows in batches (vectors given, so no model runs), then search. For
livevec it prints the load time, the time from the end of the load until the column's graph is
complete (`db.wait_for_indexes()` after one search, which works on any livevec version) and the
latency of searches made meanwhile, one every `--search-every` seconds (a shop's traffic; 0 searches
back to back, which leaves the build one of the two cores); for raw usearch, the time to build a
graph of the same vectors with the same parameters on every core. Both graphs' recall@10 (against an
exact scan, at livevec's default search breadth) shows what growing a graph in steps costs. The
ratio is the issue's goal (at most 1.25). Vectors are synthetic: 1,000 clustered directions plus
noise (seeded), unit length.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

import livevec
from _report import exact_top_k, recall
from livevec import EmbeddingFunction, Field, TableModel
from livevec.embeddings import EmbeddingProvider
from livevec.storage.vector_index import search_breadth


class GivenVectors(EmbeddingProvider):
    dimensions = 384

    def embed(self, texts):
        raise AssertionError("the rows bring their vectors")


def vectors(n: int, dims: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((1000, dims)).astype(np.float32)
    x = centres[rng.integers(0, 1000, n)] + 0.6 * rng.standard_normal((n, dims)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def livevec_run(
    data: np.ndarray, queries: np.ndarray, truth: list, batch: int, folder: Path, every: float, pace: float
) -> dict[str, float]:
    """livevec's figures; `truth` is the exact top 10 of the first 100 `queries`, for recall."""

    class Row(TableModel):
        __tablename__ = "rows"
        id: int = Field(primary_key=True)
        vec: list[float] | None = EmbeddingFunction("given/x").VectorField(None)

    db = livevec.connect(folder / "load.db")
    table = db.create_table(Row)
    started = time.perf_counter()
    for start in range(0, len(data), batch):
        chunk = data[start : start + batch]
        table.insert([{"id": start + i, "vec": v} for i, v in enumerate(chunk)])
        if pace:  # rows arrive no faster than a model would embed them
            time.sleep(max(0.0, started + (start + len(chunk)) / pace - time.perf_counter()))
    loaded = time.perf_counter()
    latencies: list[float] = []
    done = threading.Event()

    def search_meanwhile() -> None:
        i = 0
        while not done.is_set():
            t = time.perf_counter()
            table.search(queries[i % len(queries)]).limit(10).to_list()
            latencies.append(time.perf_counter() - t)
            i += 1
            done.wait(max(0.0, every - (time.perf_counter() - t)))

    first = time.perf_counter()
    table.search(queries[0]).limit(10).to_list()  # a livevec before 0.2 loads the column only here
    first = time.perf_counter() - first
    searcher = threading.Thread(target=search_meanwhile)
    searcher.start()
    db.backend.wait_for_indexes()
    complete = time.perf_counter()
    done.set()
    searcher.join()
    after, found = [], []
    for q in queries[:100]:
        t = time.perf_counter()
        rows = table.search(q).limit(10).to_list()
        after.append(time.perf_counter() - t)
        found.append([row["id"] for row in rows])
    db.close()
    return {
        "load s": loaded - started,
        "first search ms": 1000 * first,
        "load end to complete graph s": complete - loaded,
        "searches meanwhile": len(latencies),
        "p50 meanwhile ms": 1000 * statistics.median(latencies) if latencies else float("nan"),
        "p99 meanwhile ms": 1000 * float(np.percentile(latencies, 99)) if latencies else float("nan"),
        "p50 after ms": 1000 * statistics.median(after),
        "recall@10 after": recall(found, truth),
    }


def usearch_build(data: np.ndarray, queries: np.ndarray, truth: list) -> tuple[float, float]:
    """Seconds to build the same graph in one call on every core, and its recall@10 at livevec's
    default search breadth for this size (a graph grown in steps, as a load grows livevec's, finds
    less at the same breadth: see RESULTS.md)."""
    from usearch.index import Index

    index = Index(ndim=data.shape[1], metric="cos", dtype="f16", connectivity=32, expansion_add=128)
    started = time.perf_counter()
    index.add(np.arange(len(data)), data, threads=0)
    seconds = time.perf_counter() - started
    index.expansion_search = search_breadth(len(data))
    found = index.search(queries[:100], 10, threads=1).keys.tolist()
    return seconds, recall(found, truth)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--batch", type=int, default=10_000)
    parser.add_argument("--dims", type=int, default=384)
    parser.add_argument("--search-every", type=float, default=0.05, help="seconds between searches")
    parser.add_argument(
        "--rows-per-second",
        type=float,
        default=0,
        help="load no faster than this (0: as fast as inserts go); a load that embeds its texts is "
        "bound by the model: about 170 texts/s on 2 cores",
    )
    args = parser.parse_args()
    GivenVectors.dimensions = args.dims
    livevec.register_provider("given", GivenVectors)
    data = vectors(args.rows, args.dims)
    queries = vectors(200, args.dims, seed=1)
    truth = exact_top_k(data, queries[:100], 10)
    with tempfile.TemporaryDirectory() as folder:
        mine = livevec_run(
            data, queries, truth, args.batch, Path(folder), args.search_every, args.rows_per_second
        )
    raw, raw_recall = usearch_build(data, queries, truth)
    print(
        f"rows {args.rows}, batches of {args.batch}, {args.dims} dimensions, a search every "
        f"{args.search_every} s, loaded at {args.rows_per_second or 'full speed'} rows/s"
    )
    for name, value in mine.items():
        print(
            f"  livevec {name}: {value:.3f}"
            if name.startswith("recall")
            else f"  livevec {name}: {value:.2f}"
        )
    print(f"  raw usearch build on every core s: {raw:.2f}")
    print(f"  raw usearch recall@10 at livevec's search breadth: {raw_recall:.3f}")
    print(
        f"  ratio (livevec load end to complete graph / raw build): {mine['load end to complete graph s'] / raw:.2f}"
    )


if __name__ == "__main__":
    main()
