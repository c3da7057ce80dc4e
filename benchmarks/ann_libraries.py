"""Which ANN library backs livevec's index: usearch, hnswlib and faiss side by side on the same data.

    .venv/bin/python benchmarks/ann_libraries.py --rows 100000

Measures, for HNSW with the same graph parameters (M=16, ef_construction=128): bulk build rate,
single-vector add latency (the real-time write path), whether rows can be deleted or replaced in
place, search p50 at k=10 and recall@10 against exact search at several ef values, and memory.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from _data import dataset
from _report import exact_top_k, percentile_ms, rss_mb, table

M, EF_CONSTRUCTION, K = 16, 128, 10


class Usearch:
    name = "usearch"
    deletes = "yes: remove(keys)"

    def __init__(self, dim: int, dtype: str = "f32") -> None:
        from usearch.index import Index

        self.name = f"usearch {dtype}"
        self.index = Index(ndim=dim, metric="cos", dtype=dtype, connectivity=M, expansion_add=EF_CONSTRUCTION)

    def build(self, ids, vectors):
        self.index.add(ids, vectors, threads=2)

    def add_one(self, key, vector):
        self.index.add(key, vector, threads=1)

    def delete(self, key):
        self.index.remove(key)

    def search(self, q, ef):
        self.index.expansion_search = ef
        return self.index.search(q, K, threads=1).keys


class Hnswlib:
    name = "hnswlib f32"
    deletes = "mark_deleted + replace_deleted"

    def __init__(self, dim: int) -> None:
        import hnswlib

        self.index = hnswlib.Index(space="cosine", dim=dim)
        self.dim = dim

    def build(self, ids, vectors):
        self.index.init_index(
            max_elements=len(ids) + 10_000, ef_construction=EF_CONSTRUCTION, M=M, allow_replace_deleted=True
        )
        self.index.set_num_threads(2)
        self.index.add_items(vectors, ids)
        self.index.set_num_threads(1)

    def add_one(self, key, vector):
        self.index.add_items(vector[None], [key], replace_deleted=True)

    def delete(self, key):
        self.index.mark_deleted(key)

    def search(self, q, ef):
        self.index.set_ef(max(ef, K))
        return self.index.knn_query(q, K)[0][0]


class Faiss:
    deletes = "no (HNSW cannot remove_ids: rebuild)"

    def __init__(self, dim: int, kind: str = "Flat") -> None:
        import faiss

        faiss.omp_set_num_threads(2)
        self.faiss = faiss
        self.name = f"faiss HNSW{kind}"
        inner = (
            faiss.IndexHNSWFlat(dim, M, faiss.METRIC_INNER_PRODUCT)
            if kind == "Flat"
            else faiss.IndexHNSWSQ(dim, faiss.ScalarQuantizer.QT_8bit, M, faiss.METRIC_INNER_PRODUCT)
        )
        inner.hnsw.efConstruction = EF_CONSTRUCTION
        self.inner = inner
        self.index = faiss.IndexIDMap(inner)

    def build(self, ids, vectors):
        if not self.inner.is_trained:
            self.inner.train(vectors)
        self.index.add_with_ids(vectors, ids.astype(np.int64))

    def add_one(self, key, vector):
        self.index.add_with_ids(vector[None], np.array([key], dtype=np.int64))

    def delete(self, key):
        raise NotImplementedError

    def search(self, q, ef):
        self.faiss.omp_set_num_threads(1)
        self.inner.hnsw.efSearch = ef
        return self.index.search(q[None], K)[1][0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=300)
    args = parser.parse_args()
    _, vectors, queries = dataset(args.rows, args.queries)
    queries = queries / np.linalg.norm(queries, axis=1, keepdims=True)
    truth = exact_top_k(vectors, queries, K)
    ids = np.arange(len(vectors), dtype=np.int64)
    held = vectors[:200] * 0.999  # re-added under new keys for the single-add latency
    rows = []
    for make in (
        lambda d: Usearch(d),
        lambda d: Usearch(d, "f16"),
        lambda d: Usearch(d, "i8"),
        Hnswlib,
        Faiss,
        lambda d: Faiss(d, "SQ8"),
    ):
        before = rss_mb()
        lib = make(vectors.shape[1])
        started = time.perf_counter()
        lib.build(ids, vectors)
        build = time.perf_counter() - started
        memory = rss_mb() - before
        adds = []
        for i, v in enumerate(held):
            t = time.perf_counter()
            lib.add_one(len(vectors) + i, v)
            adds.append(time.perf_counter() - t)
        for ef in (32, 64, 128):
            latencies, hits = [], 0
            for q, want in zip(queries, truth, strict=True):
                t = time.perf_counter()
                got = lib.search(q, ef)
                latencies.append(time.perf_counter() - t)
                hits += len(set(np.asarray(got).tolist()) & set(want.tolist()))
            rows.append(
                [
                    lib.name,
                    ef,
                    f"{len(vectors) / build:,.0f}",
                    percentile_ms(adds, 50),
                    percentile_ms(latencies, 50),
                    percentile_ms(latencies, 99),
                    f"{hits / (K * len(queries)):.3f}",
                    f"{memory:,.0f}",
                    lib.deletes,
                ]
            )
        del lib
    print(
        f"{args.rows:,} rows x {vectors.shape[1]}-d, {len(queries)} queries, k={K}, M={M}, "
        f"ef_construction={EF_CONSTRUCTION}"
    )
    print(
        table(
            [
                "library",
                "ef",
                "build rows/s",
                "add 1 (ms)",
                "p50 (ms)",
                "p99 (ms)",
                "recall@10",
                "memory (MB)",
                "delete / replace",
            ],
            rows,
        )
    )


if __name__ == "__main__":
    main()
