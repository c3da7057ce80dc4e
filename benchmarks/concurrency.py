"""Live under concurrency: searches while other processes write, the first search after a restart
with a backlog, and write throughput with several writer processes.

Every figure comes from real processes on one SQLite file (vectors given, so no model runs):

- **search under load**: this process serves searches (random 384-d queries, k=10) while another
  process inserts `--insert` rows as fast as it can, in batches of 100; latency p50/p99/max over
  the searches made until the writer is done and the index has caught up.
- **HTTP under load**: the same through the shop (`livevec serve` in its own process): `/search`
  with a cached query text and `GET /products?limit=1`, while another process inserts products.
- **restart with a backlog**: a saved graph, then another process inserts `--backlog` rows; how long
  the first search takes in a process that opens the file afterwards.
- **writers**: 1 and 4 processes inserting batches of 100 for `--seconds`, each with its index
  loaded (as a service instance keeps it); committed rows per second in all.

Run it on two checkouts in one go to compare them side by side (PYTHONPATH picks the code):

    .venv/bin/python benchmarks/concurrency.py
    git worktree add /tmp/livevec-old <commit> && PYTHONPATH=/tmp/livevec-old/src .venv/bin/python benchmarks/concurrency.py
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import statistics
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
import urllib.parse
from pathlib import Path

import numpy as np

from _report import start_shop

DIM = 384

# a process that inserts rows with given vectors into `table` of the file: `first` count batch [search]
WRITER = textwrap.dedent(
    """
    import json, sys, time
    import numpy as np
    import livevec
    path, table_name, first, count, batch, search = sys.argv[1:7]
    first, count, batch, seconds = int(first), int(count), int(batch), float(sys.argv[7])
    db = livevec.connect(path)
    table = db.open_table(table_name)
    rng = np.random.default_rng(first)
    if search == "1":
        table.search(rng.standard_normal(384).astype(np.float32)).limit(1).to_list()
    print("ready", flush=True)
    sys.stdin.readline()
    started, done = time.perf_counter(), 0
    while done < count and time.perf_counter() - started < seconds:
        vecs = rng.standard_normal((batch, 384)).astype(np.float32)
        ids = range(first + done, first + done + batch)
        if table_name == "products":
            rows = [{"id": f"bench-{i}", "name": f"Item {i}", "description": f"Bench item {i}",
                     "category": "bench", "price": 1.0, "description_vec": v} for i, v in zip(ids, vecs)]
        else:
            rows = [{"id": i, "bucket": i % 100, "vec": v} for i, v in zip(ids, vecs)]
        table.insert(rows)
        done += batch
    print(json.dumps({"rows": done, "seconds": time.perf_counter() - started}), flush=True)
    """
)


class Writer:
    def __init__(self, path: Path, table: str, first: int, count: int, *, search: bool, seconds: float = 1e9):
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-c",
                WRITER,
                str(path),
                table,
                str(first),
                str(count),
                "100",
                str(int(search)),
                str(seconds),
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.process.stdout.readline().strip() == "ready"

    def start(self) -> None:
        self.process.stdin.write("go\n")
        self.process.stdin.flush()

    def result(self) -> dict:
        line = self.process.stdout.readline()
        self.process.wait(timeout=600)
        return json.loads(line)


def clustered(n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(100, DIM))
    x = centres[rng.integers(0, 100, n)] + rng.normal(scale=0.6, size=(n, DIM))
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


def row_table(path: Path, rows: int):
    import livevec
    from livevec import EmbeddingFunction, Field, TableModel

    class Row(TableModel):
        __tablename__ = "rows"
        id: int = Field(primary_key=True)
        bucket: int = Field(index=True)
        vec: list[float] | None = EmbeddingFunction().VectorField(None)

    db = livevec.connect(path)
    table = db.create_table(Row)
    vecs = clustered(rows, seed=0)
    for start in range(0, rows, 5000):
        table.insert(
            [{"id": i, "bucket": i % 100, "vec": vecs[i]} for i in range(start, min(rows, start + 5000))]
        )
    settle(db, table)
    return db, table


def settle(db, table) -> None:
    """Load the index and let the graph take every row (the old code built it inside the search)."""
    table.search(np.ones(DIM, dtype=np.float32)).limit(1).to_list()
    if hasattr(db.backend, "wait_for_indexes"):
        db.backend.wait_for_indexes()


def pending(db) -> int:
    columns = list(getattr(db.backend, "_indexes", {}).values())
    return sum(getattr(c, "pending", 0) for c in columns)


def summary(latencies: list[float]) -> dict:
    ms = sorted(x * 1000 for x in latencies)
    return {
        "searches": len(ms),
        "p50_ms": round(statistics.median(ms), 2),
        "p99_ms": round(ms[min(len(ms) - 1, int(len(ms) * 0.99))], 2),
        "max_ms": round(ms[-1], 2),
    }


def search_under_load(folder: Path, rows: int, insert: int) -> dict:
    db, table = row_table(folder / "load.db", rows)
    queries = clustered(200, seed=1)
    writer = Writer(folder / "load.db", "rows", rows, insert, search=False)
    latencies, i = [], 0
    started = time.perf_counter()
    writer.start()
    result: dict = {}
    threading.Thread(target=lambda: result.update(writer.result()), daemon=True).start()
    while not result or pending(db):
        t = time.perf_counter()
        table.search(queries[i % len(queries)]).limit(10).to_list()
        latencies.append(time.perf_counter() - t)
        i += 1
    caught_up = time.perf_counter() - started
    assert table.count() == rows + insert
    db.close()
    return {
        **summary(latencies),
        "writer_rows_s": round(result["rows"] / result["seconds"]),
        "until_graph_caught_up_s": round(caught_up, 1),
    }


class _Http:
    """GET on one kept-alive connection (the standard library's client: httpx's took ~45 ms a request
    on loopback here, where curl and http.client take 4)."""

    def __init__(self, port: int) -> None:
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=600)

    def get(self, path: str, **params: object) -> dict:
        self.conn.request("GET", f"{path}?{urllib.parse.urlencode(params)}")
        response = self.conn.getresponse()
        body = response.read()
        if response.status != 200:
            raise RuntimeError(f"{path}: {response.status} {body[:200]!r}")
        return json.loads(body)


def http_under_load(folder: Path, insert: int) -> dict:
    import livevec
    from livevec.demo import Product, load_catalog

    path = folder / "shop.db"
    rng = np.random.default_rng(0)
    with livevec.connect(path) as db:
        table = db.create_table(Product)
        table.insert([{**p, "description_vec": rng.normal(size=DIM).tolist()} for p in load_catalog()])
    server, port = start_shop(path)
    try:
        client = _Http(port)
        for _ in range(3):  # the model loads; the query's vector is cached from here on
            client.get("/search", q="a user likes sports", limit=10)
        writer = Writer(path, "products", 0, insert, search=False)
        searches, pages = [], []
        result: dict = {}
        writer.start()
        threading.Thread(target=lambda: result.update(writer.result()), daemon=True).start()
        extra = 0
        while extra < 20:  # until the writer is done, and 20 rounds after
            extra += bool(result)
            t = time.perf_counter()
            client.get("/search", q="a user likes sports", limit=10)
            searches.append(time.perf_counter() - t)
            t = time.perf_counter()
            client.get("/products", limit=1)
            pages.append(time.perf_counter() - t)
        total = client.get("/products", limit=1)["total"]
        assert total == insert + len(load_catalog()), total
    finally:
        server.terminate()
        server.wait(timeout=60)
    s, p = summary(searches), summary(pages)
    return {
        "searches": s["searches"],
        "search_p50_ms": s["p50_ms"],
        "search_p99_ms": s["p99_ms"],
        "search_max_ms": s["max_ms"],
        "page_p50_ms": p["p50_ms"],
        "page_p99_ms": p["p99_ms"],
        "page_max_ms": p["max_ms"],
        "writer_rows_s": round(result["rows"] / result["seconds"]),
    }


RESTART = textwrap.dedent(
    """
    import json, sys, time
    import numpy as np
    t = time.perf_counter()
    import livevec
    db = livevec.connect(sys.argv[1])
    table = db.open_table("rows")
    q = np.random.default_rng(5).standard_normal(384).astype(np.float32)
    opened = time.perf_counter()
    table.search(q).limit(10).to_list()
    first = time.perf_counter()
    table.search(q).limit(10).to_list()
    second = time.perf_counter()
    print(json.dumps({"first_search_s": first - opened, "second_search_ms": (second - first) * 1000}))
    import os; os._exit(0)
    """
)


def restart_with_backlog(folder: Path, rows: int, backlog: int) -> dict:
    path = folder / "restart.db"
    db, _ = row_table(path, rows)
    db.close()  # the graph is saved with the log position it reflects
    writer = Writer(path, "rows", rows, backlog, search=False)
    writer.start()
    writer.result()
    out = subprocess.run(
        [sys.executable, "-c", RESTART, str(path)], capture_output=True, text=True, check=True
    )
    return {"backlog_rows": backlog, **{k: round(v, 3) for k, v in json.loads(out.stdout).items()}}


def writers(folder: Path, rows: int, processes: int, seconds: float) -> dict:
    path = folder / f"writers{processes}.db"
    db, _ = row_table(path, rows)
    db.close()
    group = [
        Writer(path, "rows", 10_000_000 * (n + 1), 10**9, search=True, seconds=seconds)
        for n in range(processes)
    ]
    for w in group:
        w.start()
    results = [w.result() for w in group]
    total = sum(r["rows"] for r in results)
    return {"processes": processes, "rows_s": round(total / max(r["seconds"] for r in results))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=20_000, help="rows in the table before the load")
    parser.add_argument("--insert", type=int, default=20_000, help="rows the writer process inserts")
    parser.add_argument("--backlog", type=int, default=50_000, help="rows written while no one had the graph")
    parser.add_argument("--seconds", type=float, default=10.0, help="how long each writer group writes")
    parser.add_argument("--only", nargs="*", default=["search", "http", "restart", "writers"])
    args = parser.parse_args()
    import livevec

    print(f"# livevec from {Path(livevec.__file__).parent}, load {os.getloadavg()[0]:.1f}", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        if "search" in args.only:
            print("search under load:", search_under_load(folder, args.rows, args.insert), flush=True)
        if "http" in args.only:
            print("HTTP under load:", http_under_load(folder, args.insert), flush=True)
        if "restart" in args.only:
            print(
                "restart with a backlog:", restart_with_backlog(folder, args.rows, args.backlog), flush=True
            )
        if "writers" in args.only:
            for n in (1, 4):
                print("writers:", writers(folder, args.rows, n, args.seconds), flush=True)


if __name__ == "__main__":
    main()
