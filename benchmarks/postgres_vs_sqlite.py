"""SQLite and PostgreSQL side by side: bulk insert, search latency (plain and filtered) and recall.

    .venv/bin/python benchmarks/postgres_vs_sqlite.py [--data icecat|random] [--rows 10000]

Rows bring their own vectors, so the figures measure the stores, not the embedding model:
  icecat  the first N Icecat electronics products of ../shared/data/eval ("product data by
          Icecat"), embedded once with the default model (kept in benchmarks/.cache/), searched with
          the 135 shopper queries of the same folder
  random  N random unit vectors of 384 dimensions and 200 queries near some of them: the hardest
          case for an HNSW graph (no structure to find)
PostgreSQL is a pgserver started in a temporary folder, or the server in $LIVEVEC_TEST_POSTGRES_URL.
Recall@10 is measured against an exact numpy scan; SQLite's search is exact.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

import livevec
from _data import DATA
from livevec import EmbeddingFunction, Field, TableModel

DIMENSIONS = 384
CACHE = Path(__file__).parent / ".cache"
EF_SEARCH = (40, 100, 200)  # 100 is livevec's default, 40 pgvector's
embed = EmbeddingFunction()


class Item(TableModel):
    __tablename__ = "items"
    id: int = Field(primary_key=True)
    shelf: int
    vec: list[float] = embed.VectorField()


def load(url: str, vectors: np.ndarray, shelves: np.ndarray) -> float:
    """Insert every row in batches of 1,000; returns rows per second."""
    with livevec.connect(url) as db:
        table = db.create_table(schema=Item, if_exists="overwrite")
        rows = [{"id": i, "shelf": int(shelves[i]), "vec": vectors[i]} for i in range(len(vectors))]
        start = time.perf_counter()
        for begin in range(0, len(rows), 1000):
            table.insert(rows[begin : begin + 1000])
        return len(rows) / (time.perf_counter() - start)


def search(url: str, vectors: np.ndarray, queries: np.ndarray) -> dict[str, float]:
    """Median milliseconds per search of 10 rows, plain and filtered, and recall@10 of the plain one."""
    figures = {}
    with livevec.connect(url) as db:
        table = db.open_table("items")
        table.search(queries[0]).limit(10).to_list()  # warm: SQLite loads its index, PG its pool
        for name, build in (
            ("search ms", lambda q: table.search(q).limit(10)),
            ("search, 1% filter ms", lambda q: table.search(q).filter({"shelf": 7}).limit(10)),
            ("search, 50% filter ms", lambda q: table.search(q).filter({"shelf": {"$lt": 50}}).limit(10)),
        ):
            times, found = [], []
            for q in queries:
                start = time.perf_counter()
                found.append([r["id"] for r in build(q).to_list()])
                times.append(time.perf_counter() - start)
            figures[name] = statistics.median(times) * 1000
            if name == "search ms":
                figures["recall@10"] = recall(found, vectors, queries)
    return figures


def recall(found: list[list[int]], vectors: np.ndarray, queries: np.ndarray) -> float:
    units = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    hits = 0
    for ids, q in zip(found, queries, strict=True):
        exact = np.argsort(-(units @ (q / np.linalg.norm(q))), kind="stable")[:10]
        hits += len(set(ids) & set(exact.tolist()))
    return hits / (10 * len(queries))


def icecat(rows: int) -> tuple[np.ndarray, np.ndarray]:
    """(product vectors, query vectors), the products embedded once and kept in the cache folder."""
    cached = CACHE / f"icecat-{rows}.npy"
    if cached.exists():
        vectors = np.load(cached)
    else:
        with gzip.open(DATA / "icecat_products.jsonl.gz", "rt", encoding="utf-8") as lines:
            products = [json.loads(line) for _, line in zip(range(rows), lines, strict=False)]
        vectors = embed.embed_documents([f"{p['name']}. {p['description'] or ''}" for p in products])
        CACHE.mkdir(exist_ok=True)
        np.save(cached, vectors)
    texts = [line.split("\t", 1)[1] for line in (DATA / "queries.tsv").read_text().splitlines()[1:]]
    return vectors, np.array([embed.embed_query(t) for t in texts])


def random_vectors(rows: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    vectors = rng.normal(size=(rows, DIMENSIONS)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    # queries near stored rows, as a shopper's profile is near some products
    return vectors, vectors[rng.choice(rows, 200)] + rng.normal(0, 0.02, (200, DIMENSIONS))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", choices=("icecat", "random"), default="icecat")
    parser.add_argument("--rows", type=int, default=10_000)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    vectors, queries = icecat(args.rows) if args.data == "icecat" else random_vectors(args.rows, rng)
    shelves = rng.integers(0, 100, args.rows)

    server = None
    postgres_url = os.environ.get("LIVEVEC_TEST_POSTGRES_URL")
    if not postgres_url:
        import pgserver

        server = pgserver.get_server(tempfile.mkdtemp(prefix="livevec-bench-pg-"), cleanup_mode="delete")
        postgres_url = server.get_uri()
    separator = "&" if "?" in postgres_url else "?"
    columns = {
        "SQLite": None,
        **{f"PG ef={ef}": f"{postgres_url}{separator}hnsw_ef_search={ef}" for ef in EF_SEARCH},
    }
    figures: dict[str, dict[str, float]] = {}
    try:
        with tempfile.TemporaryDirectory() as folder:
            columns["SQLite"] = str(Path(folder) / "bench.db")
            inserted = {
                "SQLite": load(columns["SQLite"], vectors, shelves),
                "PG": load(postgres_url, vectors, shelves),
            }
            with livevec.connect(columns["SQLite"]) as source, livevec.connect(postgres_url) as target:
                start = time.perf_counter()
                livevec.copy_table(source, target, "items", overwrite=True, progress=False)
                copied = len(vectors) / (time.perf_counter() - start)
            for name, url in columns.items():
                figures[name] = search(url, vectors, queries)
    finally:
        if server is not None:
            server.cleanup()

    print(
        f"{args.data}: {len(vectors)} rows of {DIMENSIONS} dimensions, {len(queries)} queries; times are medians"
    )
    print(
        f"insert rows/s: SQLite {inserted['SQLite']:.0f}, PostgreSQL {inserted['PG']:.0f} "
        f"(PG / SQLite {inserted['PG'] / inserted['SQLite']:.2f}; PG builds its HNSW index row by row)"
    )
    print(
        f"livevec copy SQLite -> PostgreSQL rows/s: {copied:.0f} (index built after the load: "
        f"{copied / inserted['PG']:.1f} x PG's inserts)"
    )
    print(
        f"{'':24}"
        + "".join(f"{name:>12}" for name in columns)
        + "".join(f"{name + ' / SQLite':>22}" for name in columns if name != "SQLite")
    )
    for row in figures["SQLite"]:
        values = [figures[name][row] for name in columns]
        ratios = [v / values[0] for v in values[1:]]
        print(f"{row:24}" + "".join(f"{v:12.2f}" for v in values) + "".join(f"{r:22.2f}" for r in ratios))


if __name__ == "__main__":
    main()
