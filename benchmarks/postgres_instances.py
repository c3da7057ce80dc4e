"""Two shop instances on one database: how soon a write through instance A reaches B's `/events`.

Starts `livevec serve` twice (two processes, ports picked freely) on one SQLite file, then twice on
one PostgreSQL database (a pgserver in a temporary folder, or $LIVEVEC_TEST_POSTGRES_URL), and
changes a product's price through A's API; each row times the request to A until the event arrives
at B. SQLite's instances read the change feed every 0.2 s (the default); PostgreSQL's are woken by
NOTIFY.

    .venv/bin/python benchmarks/postgres_instances.py [--writes 40]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
import numpy as np

import livevec
from livevec.demo import Product, load_catalog


def make_database(url: str) -> None:
    """The catalog with made-up vectors: this measures the change feed, not the model."""
    rng = np.random.default_rng(0)
    with livevec.connect(url) as db:
        table = db.create_table(Product, if_exists="overwrite")
        table.insert([{**p, "description_vec": rng.normal(size=384).tolist()} for p in load_catalog()])


class Instance:
    """`livevec serve --db URL --port 0` in a child process."""

    def __init__(self, db: str) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "livevec", "serve", "--db", db, "--port", "0"],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for line in self.process.stdout:
            found = re.search(r"Open (http://\S+/)", line)
            if found:
                self.url = found.group(1)
                break
        else:
            raise RuntimeError(f"livevec serve --db {db} did not start")
        threading.Thread(target=self.process.stdout.read, daemon=True).start()

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(30)


class Events:
    """B's `/events`: when each (product, price) arrived."""

    def __init__(self, url: str) -> None:
        self.arrived: dict[str, float] = {}
        self.ready = threading.Event()
        self.http = httpx.Client(base_url=url, timeout=httpx.Timeout(30, read=None))
        threading.Thread(target=self._read, daemon=True).start()
        self.ready.wait(30)

    def _read(self) -> None:
        try:
            with self.http.stream("GET", "/events") as response:
                for line in response.iter_lines():
                    if line.startswith(":"):
                        self.ready.set()
                    elif line.startswith("data:"):
                        event = json.loads(line[5:])
                        if event["product"]:
                            self.arrived[f"{event['id']}:{event['product']['price']}"] = time.monotonic()
        except httpx.HTTPError:
            pass


def measure(db: str, writes: int) -> list[float]:
    a, b = Instance(db), Instance(db)
    events = Events(b.url)
    latencies = []
    try:
        with httpx.Client(base_url=a.url, timeout=30) as api:
            for i in range(writes):
                time.sleep(random.uniform(0.05, 0.4))  # out of step with SQLite's poller
                price = 1000.0 + i
                sent = time.monotonic()
                api.patch("/products/MH01", json={"price": price}).raise_for_status()
                key = f"MH01:{price}"
                deadline = sent + 10
                while key not in events.arrived and time.monotonic() < deadline:
                    time.sleep(0.001)
                if key in events.arrived:
                    latencies.append(events.arrived[key] - sent)
    finally:
        events.http.close()
        a.stop()
        b.stop()
    return latencies


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--writes", type=int, default=40)
    args = parser.parse_args()
    random.seed(0)
    server = None
    postgres_url = os.environ.get("LIVEVEC_TEST_POSTGRES_URL")
    if not postgres_url:
        import pgserver

        server = pgserver.get_server(tempfile.mkdtemp(prefix="livevec-bench-pg-"), cleanup_mode="delete")
        postgres_url = server.get_uri()
    results = {}
    try:
        with tempfile.TemporaryDirectory() as folder:
            for name, db in (("SQLite", str(Path(folder) / "shop.db")), ("PostgreSQL", postgres_url)):
                make_database(db)
                results[name] = sorted(measure(db, args.writes))
    finally:
        if server is not None:
            server.cleanup()
    base = statistics.median(results["SQLite"])
    print(f"PATCH through instance A -> event at instance B, {args.writes} writes (ms)")
    print(f"{'':12}{'events':>8}{'median':>9}{'p95':>9}{'max':>9}{'median / SQLite':>17}")
    for name, values in results.items():
        p95 = values[int(0.95 * (len(values) - 1))]
        print(
            f"{name:12}{len(values):>8}{statistics.median(values) * 1000:>9.1f}{p95 * 1000:>9.1f}"
            f"{values[-1] * 1000:>9.1f}{statistics.median(values) / base:>17.2f}"
        )


if __name__ == "__main__":
    main()
