"""livevec against the stores a user would pick instead, on the same vectors, queries and filters.

    .venv/bin/pip install -e ".[local,dev,bench]"
    .venv/bin/python benchmarks/peers.py --rows 10000 100000
    .venv/bin/python benchmarks/peers.py --rows 1000000 --systems livevec,usearch

Each (system, size) runs in its own process so resident memory is its own. Per system it measures:
ingest rate until every row is searchable (the system's own bulk path and index), query latency
p50/p99 at k=10 without a filter and with filters keeping 1% and 30% of rows, recall@10 against an
exact scan with the same filter, the share of filtered queries that came back with a full page,
write-to-visible latency (insert one row, search until it is found) and resident memory. Ratios are
the peer's figure over livevec's: above 1 means slower (latency) or faster (ingest rate).

`--hold-files` keeps every system's files in the operating system's file cache while it is timed
(`_report.file_cache_held`): the VMs these benchmarks run on page out a cached file page no process
maps after about a minute idle, so without it a system that reads its files (livevec's rows,
LanceDB, sqlite-vec) reads from disk what it wrote more than a minute before, which a machine with
free memory would not. Run both ways to tell the host's policy from the system's own cost.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from _data import CACHE, buckets, dataset
from _report import exact_top_k, file_cache_held, percentile_ms, recall, rss_mb, table
from livevec.storage.vector_index import search_breadth

K = 10
BATCH = 1000
# the graph search breadth of every system: --ef, else livevec's default for the size (search_breadth)
EF_SEARCH = 128
EF_OPTION: int | None = None  # --ef as given: None leaves livevec's default
M, EF_CONSTRUCTION = 32, 128  # livevec's defaults; peers with an HNSW graph get the same
FILTERS = {"none": None, "1%": ("eq", 0), "30%": ("lt", 30)}
SYSTEMS = ["livevec", "livevec-bulk", "usearch", "sqlite-vec", "lancedb", "chroma", "pgvector"]
# stop a query phase after this many seconds (a brute-force peer at 1M rows takes ~1 s a query)
PHASE_SECONDS = 60.0
# the breadths of the unfiltered sweep (384 and 768 between the powers of two, to compare at equal recall)
SWEEP = (64, 128, 256, 384, 512, 768, 1024, 2048)
# --hold-files: keep each system's files in the file cache while it is timed (see _timed's caller)
HOLD_FILES = False


# --- the systems --------------------------------------------------------------------------------


class Livevec:
    """livevec with its index kept in step with every insert (what a live table does)."""

    bulk = False

    def __init__(self, folder: Path, dim: int) -> None:
        import livevec
        from livevec import EmbeddingFunction, Field, TableModel

        class Row(TableModel):
            __tablename__ = "rows"
            id: int = Field(primary_key=True)
            bucket: int = Field(index=True)  # as the peers get a scalar index on it
            vec: list[float] | None = EmbeddingFunction().VectorField(None)

        options = livevec.IndexOptions(expansion_search=EF_OPTION)
        self.db = livevec.connect(folder / "livevec.db", index_options=options)
        self.table = self.db.create_table(Row)
        self.probe = np.ones(dim, dtype=np.float32)
        if not self.bulk:
            self.table.search(self.probe).to_list()  # index loaded: kept in step from here

    def add(self, ids, vectors, groups):
        self.table.insert(
            [{"id": int(i), "bucket": int(b), "vec": v} for i, v, b in zip(ids, vectors, groups, strict=True)]
        )

    def finish(self):
        # rows are searchable once inserted (exactly, from the index's delta); the graph takes them
        # in the background: the ingest figure counts until the graph holds every row
        self.table.search(self.probe).to_list()
        self.db.backend.wait_for_indexes()

    def set_ef(self, ef: int) -> None:
        # benchmark-only: retune the live graph in place instead of rebuilding a million rows
        graph = self.db.backend._indexes[("rows", "vec")].main
        graph.options = dataclasses.replace(graph.options, expansion_search=ef)
        graph._index.expansion_search = ef

    def search(self, q, where):
        # the key only, as every peer here is asked (pgvector's SELECT id, Chroma's include=[]): the
        # vector is then not made into a list of 384 floats per row (rows keep it without select())
        s = self.table.search(q).select("id").limit(K)
        if where:
            s = s.filter({"bucket": where[1] if where[0] == "eq" else {"$lt": where[1]}})
        return [r["id"] for r in s.to_list()]


class LivevecBulk(Livevec):
    """livevec loaded as pgvector and LanceDB are: rows first, then the index in one pass (the first
    search builds the graph from the table on every core), as a process opening an existing file does."""

    bulk = True


class Usearch:
    """The raw index library alone: no storage, no filtering language (a numpy mask post-filters)."""

    def __init__(self, folder: Path, dim: int) -> None:
        from usearch.index import Index

        self.index = Index(
            ndim=dim, metric="cos", connectivity=M, expansion_add=EF_CONSTRUCTION, expansion_search=EF_SEARCH
        )
        self.groups = np.empty(0, dtype=np.int64)

    def add(self, ids, vectors, groups):
        self.index.add(ids, vectors, threads=0 if len(ids) > 1 else 1)
        top = int(ids.max()) + 1
        if top > len(self.groups):
            self.groups = np.resize(self.groups, max(top, 2 * len(self.groups)))
        self.groups[ids] = groups

    def set_ef(self, ef: int) -> None:
        self.index.expansion_search = ef

    def search(self, q, where):
        if not where:
            return self.index.search(q, K, threads=1).keys.tolist()
        share = 0.01 if where[0] == "eq" else 0.3
        fetch = int(K / share * 1.5)
        while True:
            keys = self.index.search(q, fetch, threads=1).keys
            g = self.groups[keys]
            keys = keys[g == where[1]] if where[0] == "eq" else keys[g < where[1]]
            if len(keys) >= K or fetch >= len(self.index):
                return keys[:K].tolist()
            fetch *= 4


class SqliteVec:
    """sqlite-vec's vec0 table: an exact scan (it has no ANN index), with a metadata column to filter."""

    def __init__(self, folder: Path, dim: int) -> None:
        import sqlean  # the sqlite3 module with extension loading, which this Python's build lacks
        import sqlite_vec

        self.db = sqlean.connect(str(folder / "sqlite_vec.db"), isolation_level=None)
        self.db.enable_load_extension(True)
        sqlite_vec.load(self.db)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute(
            f"CREATE VIRTUAL TABLE rows USING vec0(id integer primary key, "
            f"vec float[{dim}] distance_metric=cosine, bucket integer)"
        )

    def add(self, ids, vectors, groups):
        self.db.execute("BEGIN")
        self.db.executemany(
            "INSERT INTO rows (id, vec, bucket) VALUES (?, ?, ?)",
            [
                (int(i), v.astype(np.float32).tobytes(), int(b))
                for i, v, b in zip(ids, vectors, groups, strict=True)
            ],
        )
        self.db.execute("COMMIT")

    def search(self, q, where):
        sql = "SELECT id FROM rows WHERE vec MATCH ? AND k = ?"
        params: list = [q.astype(np.float32).tobytes(), K]
        if where:
            sql += " AND bucket = ?" if where[0] == "eq" else " AND bucket < ?"
            params.append(where[1])
        return [r[0] for r in self.db.execute(sql + " ORDER BY distance", params)]


class Lancedb:
    """LanceDB: appends are searchable at once (unindexed rows are scanned); an IVF-HNSW-SQ index
    is built after the bulk load for tables of 100k rows and more, as its docs advise."""

    def __init__(self, folder: Path, dim: int) -> None:
        import lancedb
        import pyarrow as pa

        self.pa = pa
        self.dim = dim
        self.db = lancedb.connect(folder / "lancedb")
        self.schema = pa.schema(
            [("id", pa.int64()), ("bucket", pa.int64()), ("vec", pa.list_(pa.float32(), dim))]
        )
        self.table = self.db.create_table("rows", schema=self.schema)
        self.rows = 0

    def add(self, ids, vectors, groups):
        flat = self.pa.array(np.ascontiguousarray(vectors, dtype=np.float32).ravel())
        batch = self.pa.table(
            {
                "id": self.pa.array(ids, self.pa.int64()),
                "bucket": self.pa.array(groups, self.pa.int64()),
                "vec": self.pa.FixedSizeListArray.from_arrays(flat, self.dim),
            },
            schema=self.schema,
        )
        self.table.add(batch)
        self.rows += len(ids)

    def finish(self):
        if self.rows >= 100_000:
            self.table.create_index(
                metric="cosine",
                vector_column_name="vec",
                index_type="IVF_HNSW_SQ",
                num_partitions=max(1, self.rows // 100_000) * 4,
                m=M,
                ef_construction=EF_CONSTRUCTION,
            )
            self.table.create_scalar_index("bucket")
        self.table.optimize() if self.rows >= 100_000 else None

    def search(self, q, where):
        s = self.table.search(q, vector_column_name="vec").distance_type("cosine").limit(K)
        if self.rows >= 100_000:
            s = s.ef(EF_SEARCH).nprobes(8)
        if where:
            s = s.where(
                f"bucket = {where[1]}" if where[0] == "eq" else f"bucket < {where[1]}", prefilter=True
            )
        return s.select(["id", "_distance"]).to_arrow()["id"].to_pylist()


class Chroma:
    def __init__(self, folder: Path, dim: int) -> None:
        import chromadb

        self.client = chromadb.PersistentClient(path=str(folder / "chroma"))
        self.collection = self.client.create_collection(
            "rows",
            configuration={
                "hnsw": {
                    "space": "cosine",
                    "ef_construction": EF_CONSTRUCTION,
                    "ef_search": EF_SEARCH,
                    "max_neighbors": M,
                }
            },
        )

    def add(self, ids, vectors, groups):
        self.collection.add(
            ids=[str(i) for i in ids], embeddings=vectors, metadatas=[{"bucket": int(b)} for b in groups]
        )

    def search(self, q, where):
        w = None
        if where:
            w = {"bucket": where[1]} if where[0] == "eq" else {"bucket": {"$lt": where[1]}}
        found = self.collection.query(query_embeddings=[q], n_results=K, where=w, include=[])
        return [int(i) for i in found["ids"][0]]


class Pgvector:
    """PostgreSQL + pgvector (bundled by pgserver); HNSW index built after the bulk load, as advised."""

    def __init__(self, folder: Path, dim: int) -> None:
        import pgserver
        import psycopg
        from pgvector.psycopg import register_vector

        self.server = pgserver.get_server(folder / "pg", cleanup_mode="stop")
        self.conn = psycopg.connect(self.server.get_uri(), autocommit=True)
        self.conn.execute("CREATE EXTENSION IF NOT EXISTS vector")
        register_vector(self.conn)
        self.conn.execute(f"CREATE TABLE rows (id bigint PRIMARY KEY, bucket int, vec vector({dim}))")
        self.conn.execute("CREATE INDEX ON rows (bucket)")
        version = self.conn.execute("SELECT extversion FROM pg_extension WHERE extname = 'vector'").fetchone()
        self.version = version[0]
        self.conn.execute(f"SET hnsw.ef_search = {EF_SEARCH}")
        if tuple(int(x) for x in self.version.split(".")[:2]) >= (0, 8):
            self.conn.execute("SET hnsw.iterative_scan = relaxed_order")  # full pages with filters
        self.indexed = False

    def add(self, ids, vectors, groups):
        with (
            self.conn.cursor() as cur,
            cur.copy("COPY rows (id, bucket, vec) FROM STDIN WITH (FORMAT BINARY)") as copy,
        ):
            copy.set_types(["int8", "int4", "vector"])
            for i, v, b in zip(ids, vectors, groups, strict=True):
                copy.write_row((int(i), int(b), v))

    def finish(self):
        self.conn.execute("SET maintenance_work_mem = '2GB'")
        self.conn.execute("SET max_parallel_maintenance_workers = 1")
        self.conn.execute(
            f"CREATE INDEX ON rows USING hnsw (vec vector_cosine_ops) WITH (m = {M}, ef_construction = {EF_CONSTRUCTION})"
        )
        self.conn.execute("ANALYZE rows")

    def search(self, q, where):
        sql, params = "SELECT id FROM rows", []
        if where:
            sql += " WHERE bucket = %s" if where[0] == "eq" else " WHERE bucket < %s"
            params.append(where[1])
        params.append(q)
        return [r[0] for r in self.conn.execute(sql + f" ORDER BY vec <=> %s LIMIT {K}", params)]

    def memory_mb(self) -> float:
        """Resident memory of this server's processes: its postmaster and the postmaster's children
        (another benchmark's server may be running beside it)."""
        import psutil

        postmaster = psutil.Process(self.server.get_pid())
        return sum(p.memory_info().rss for p in [postmaster, *postmaster.children(recursive=True)]) / 2**20

    def close(self):
        self.conn.close()
        self.server.cleanup()


IMPLEMENTATIONS = {
    "livevec": Livevec,
    "livevec-bulk": LivevecBulk,
    "usearch": Usearch,
    "sqlite-vec": SqliteVec,
    "lancedb": Lancedb,
    "chroma": Chroma,
    "pgvector": Pgvector,
}


# --- one system at one size, in its own process ----------------------------------------------------


def worker(system: str, rows: int, queries_n: int) -> dict:
    _, vectors, queries = dataset(rows, queries_n)
    groups = buckets(rows + 1000)
    truth = {
        name: exact_top_k(
            vectors,
            queries,
            K,
            None if f is None else (groups[:rows] == f[1] if f[0] == "eq" else groups[:rows] < f[1]),
        )
        for name, f in FILTERS.items()
    }
    folder = Path(tempfile.mkdtemp(prefix=f"peer-{system}-", dir=CACHE))
    before = rss_mb()
    impl = IMPLEMENTATIONS[system](folder, vectors.shape[1])
    ids = np.arange(rows, dtype=np.int64)
    started = time.perf_counter()
    for start in range(0, rows, BATCH):
        impl.add(ids[start : start + BATCH], vectors[start : start + BATCH], groups[start : start + BATCH])
    if hasattr(impl, "finish"):
        impl.finish()
    impl.search(queries[0], None)  # the first search may finish loading
    ingest = time.perf_counter() - started
    out = {
        "system": system,
        "rows": rows,
        "ef": EF_SEARCH,
        "ingest_rows_s": rows / ingest,
        "held": HOLD_FILES,
    }
    # --hold-files: what a machine that keeps the files it wrote in its cache would see (see
    # _report.file_cache_held); the memory figures below are not affected
    with file_cache_held(folder) if HOLD_FILES else contextlib.nullcontext():
        out.update(_timed(impl, rows, queries, groups, truth))
    out["rss_mb"] = impl.memory_mb() if hasattr(impl, "memory_mb") else rss_mb() - before
    out["disk_mb"] = sum(f.stat().st_size for f in folder.rglob("*") if f.is_file()) / 2**20
    if hasattr(impl, "close"):
        impl.close()
    if hasattr(impl, "version"):
        out["note"] = f"pgvector {impl.version}"
    shutil.rmtree(folder, ignore_errors=True)
    return out


def _timed(impl, rows: int, queries: np.ndarray, groups: np.ndarray, truth: dict) -> dict:
    """The query phases, the unfiltered breadth sweep and write-to-visible of a loaded system."""
    out: dict = {}
    for name, where in FILTERS.items():
        latencies, found = [], []
        phase = time.perf_counter()
        for q in queries:
            t = time.perf_counter()
            found.append(impl.search(q, where))
            latencies.append(time.perf_counter() - t)
            if time.perf_counter() - phase > PHASE_SECONDS:
                break
        n = len(found)
        out[f"p50_{name}"] = float(percentile_ms(latencies, 50))
        out[f"p99_{name}"] = float(percentile_ms(latencies, 99))
        out[f"recall_{name}"] = recall([f[:K] for f in found], truth[name][:n])
        out[f"full_{name}"] = sum(len(f) >= K for f in found) / n
        out[f"queries_{name}"] = n
    if hasattr(impl, "set_ef"):  # what the graph's search breadth buys, unfiltered
        out["ef_sweep"] = []
        for ef in SWEEP:
            impl.set_ef(ef)
            latencies, found = [], []
            for q in queries:
                t = time.perf_counter()
                found.append(impl.search(q, None))
                latencies.append(time.perf_counter() - t)
            out["ef_sweep"].append(
                [
                    ef,
                    float(percentile_ms(latencies, 50)),
                    float(percentile_ms(latencies, 99)),
                    recall(found, truth["none"]),
                ]
            )
        impl.set_ef(EF_SEARCH)
    visible = []
    rng = np.random.default_rng(5)
    for j in range(30):
        v = queries[j] + rng.normal(0, 0.01, queries.shape[1]).astype(np.float32)
        v /= np.linalg.norm(v)
        key = rows + j
        t = time.perf_counter()
        impl.add(np.array([key]), v[None], groups[key : key + 1])
        while key not in impl.search(v, None):
            if time.perf_counter() - t > 10:
                break
        visible.append(time.perf_counter() - t)
    out["visible_p50_ms"] = float(percentile_ms(visible, 50))
    return out


def report(results: list[dict]) -> str:
    lines = []
    for rows in sorted({r["rows"] for r in results}):
        group = [r for r in results if r["rows"] == rows]
        base = next((r for r in group if r["system"] == "livevec"), None)

        def ratio(r, key, base=base):
            if base is None or r is base or not base.get(key):
                return ""
            return f" ({r[key] / base[key]:.1f}x)"

        lines.append(f"\n### {rows:,} rows\n")
        body = []
        for r in group:
            body.append(
                [
                    r["system"] + (f" ({r['note']})" if r.get("note") else ""),
                    f"{r['ingest_rows_s']:,.0f}{ratio(r, 'ingest_rows_s')}",
                    *(f"{r[f'p50_{n}']:.2f}{ratio(r, f'p50_{n}')} / {r[f'p99_{n}']:.2f}" for n in FILTERS),
                    *(f"{r[f'recall_{n}']:.3f}" for n in FILTERS),
                    " / ".join(f"{r[f'full_{n}']:.0%}" for n in ("1%", "30%")),
                    f"{r['visible_p50_ms']:.1f}{ratio(r, 'visible_p50_ms')}",
                    f"{r['rss_mb']:,.0f}",
                    f"{r['disk_mb']:,.0f}",
                ]
            )
        lines.append(
            table(
                [
                    "system",
                    "ingest rows/s",
                    "p50 / p99 ms, no filter",
                    "p50 / p99 ms, 1% filter",
                    "p50 / p99 ms, 30% filter",
                    "recall@10",
                    "recall@10 1%",
                    "recall@10 30%",
                    "full pages 1% / 30%",
                    "write-to-visible p50 ms",
                    "RSS MB",
                    "disk MB",
                ],
                body,
            )
        )
        sweeps = [r for r in group if r.get("ef_sweep")]
        if sweeps:
            lines.append("\nUnfiltered search breadth (ef): recall@10 at p50 / p99 ms\n")
            efs = sorted({e[0] for r in sweeps for e in r["ef_sweep"]})  # runs may have swept others
            cells = [{e[0]: f"{e[3]:.3f} at {e[1]:.2f} / {e[2]:.2f}" for e in r["ef_sweep"]} for r in sweeps]
            lines.append(
                table(
                    ["system", *(f"ef={ef}" for ef in efs)],
                    [
                        [r["system"], *(c.get(ef, "-") for ef in efs)]
                        for r, c in zip(sweeps, cells, strict=True)
                    ],
                )
            )
        short = [
            f"{r['system']}: {r['queries_none']}/{r['queries_1%']}/{r['queries_30%']}"
            for r in group
            if min(r["queries_none"], r["queries_1%"], r["queries_30%"])
            < max(g["queries_none"] for g in group)
        ]
        if short:
            lines.append(
                f"\nQueries run within {PHASE_SECONDS:.0f} s per phase (none/1%/30%): " + "; ".join(short)
            )
    return "\n".join(lines)


def main() -> None:
    global EF_SEARCH, EF_OPTION, HOLD_FILES
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--systems", default=",".join(SYSTEMS))
    parser.add_argument("--queries", type=int, default=500)
    parser.add_argument(
        "--ef", type=int, help="HNSW search breadth (ef) for every system; default: livevec's for the size"
    )
    parser.add_argument(
        "--hold-files",
        action="store_true",
        help="keep each system's files in the file cache while it is timed (this VM pages out idle ones)",
    )
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help="also append the JSON results to this file")
    parser.add_argument("--report", type=Path, nargs="+", help="print the tables of saved results instead")
    args = parser.parse_args()
    if args.report:  # a later result for the same system and size replaces an earlier one
        saved = {}
        for path in args.report:
            for line in path.read_text().splitlines():
                r = json.loads(line)
                saved[(r["rows"], r["system"])] = r
        order = {s: i for i, s in enumerate(SYSTEMS)}
        print(report(sorted(saved.values(), key=lambda r: (r["rows"], order[r["system"]]))))
        return
    if args.worker:
        EF_OPTION, HOLD_FILES = args.ef, args.hold_files
        EF_SEARCH = args.ef or search_breadth(args.rows[0])
        print(json.dumps(worker(args.worker, args.rows[0], args.queries)))
        return
    results = []
    for rows in args.rows:
        for system in args.systems.split(","):
            started = time.perf_counter()
            run = subprocess.run(
                [
                    sys.executable,
                    __file__,
                    "--worker",
                    system,
                    "--rows",
                    str(rows),
                    "--queries",
                    str(args.queries),
                    *(["--ef", str(args.ef)] if args.ef else []),
                    *(["--hold-files"] if args.hold_files else []),
                ],
                capture_output=True,
                text=True,
            )
            if run.returncode != 0:
                print(f"{system} at {rows:,} rows failed:\n{run.stderr[-2000:]}", file=sys.stderr)
                continue
            result = json.loads(run.stdout.strip().splitlines()[-1])
            results.append(result)
            print(f"{system} {rows:,} rows done in {time.perf_counter() - started:.0f} s", file=sys.stderr)
            if args.out:
                with open(args.out, "a") as f:
                    f.write(json.dumps(result) + "\n")
    print(
        f"Machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores (shared), "
        f"Python {platform.python_version()}; k={K}, HNSW M={M}, ef_construction={EF_CONSTRUCTION}, "
        f"ef_search={args.ef or 'livevec default by size'}"
        + ("; files held in the file cache while timed" if args.hold_files else "")
    )
    print(report(results))


if __name__ == "__main__":
    main()
