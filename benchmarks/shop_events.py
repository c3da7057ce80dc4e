"""How soon a committed write reaches the shop's `/events` clients, side by side.

Runs the real app (uvicorn on a local port, one process) on a temporary database of the demo catalog,
changes a product's price through the library (as another writer would) and times each write's
commit to its event arriving at every connected SSE client. Compares the feed's poll interval
(0.05 / 0.2 = default / 0.5 s) and 1 vs 20 clients on one app (one poller serves them all).

    .venv/bin/python benchmarks/shop_events.py [--writes 40]
"""

from __future__ import annotations

import argparse
import json
import random
import socket
import statistics
import tempfile
import threading
import time
from pathlib import Path

import httpx
import numpy as np
import uvicorn

import livevec
from livevec.demo import Product, load_catalog
from livevec.web import create_app


def make_database(path: Path) -> None:
    """The catalog with made-up vectors: this measures the change feed, not the model."""
    rng = np.random.default_rng(0)
    with livevec.connect(path) as db:
        table = db.create_table(Product)
        table.insert([{**p, "description_vec": rng.normal(size=384).tolist()} for p in load_catalog()])


class Server:
    def __init__(self, db: Path, poll_interval: float) -> None:
        sock = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{sock.getsockname()[1]}"
        config = uvicorn.Config(create_app(db, poll_interval=poll_interval), log_level="warning")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [sock]}, daemon=True)
        self.thread.start()
        while not self.server.started:
            time.sleep(0.05)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(30)


class Client:
    """One `/events` subscriber: when each seq arrived."""

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
                        self.arrived[f"{event['id']}:{event['product']['price']}"] = time.monotonic()
        except httpx.HTTPError:
            pass

    def close(self) -> None:
        self.http.close()


def measure(db: Path, poll_interval: float, clients: int, writes: int) -> list[float]:
    server = Server(db, poll_interval)
    readers = [Client(server.url) for _ in range(clients)]
    latencies = []
    with livevec.connect(db) as other_writer:
        table = other_writer.open_table("products", schema=Product)
        for i in range(writes):
            time.sleep(random.uniform(0.05, 0.4))  # out of step with the poller
            price = 1000.0 + i
            table.update({"price": price}, {"id": "MH01"})
            committed = time.monotonic()
            key = f"MH01:{price}"
            deadline = committed + 10
            while not all(key in r.arrived for r in readers) and time.monotonic() < deadline:
                time.sleep(0.002)
            latencies += [r.arrived[key] - committed for r in readers if key in r.arrived]
    for reader in readers:
        reader.close()
    server.stop()
    return latencies


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--writes", type=int, default=40)
    args = parser.parse_args()
    random.seed(0)
    with tempfile.TemporaryDirectory() as folder:
        db = Path(folder) / "shop.db"
        make_database(db)
        runs = [(0.05, 1), (0.2, 1), (0.5, 1), (0.2, 20)]
        results = {run: measure(db, *run, args.writes) for run in runs}
    base = statistics.median(results[(0.2, 1)])
    print(f"write committed -> event received, {args.writes} writes per row (ms)")
    print(
        f"{'poll s':>7} {'clients':>8} {'events':>7} {'median':>8} {'p95':>8} {'max':>8} {'median/default':>15}"
    )
    for (interval, clients), values in results.items():
        values = sorted(values)
        p95 = values[int(0.95 * (len(values) - 1))]
        print(
            f"{interval:>7} {clients:>8} {len(values):>7} {statistics.median(values) * 1000:>8.1f} "
            f"{p95 * 1000:>8.1f} {values[-1] * 1000:>8.1f} {statistics.median(values) / base:>15.2f}"
        )


if __name__ == "__main__":
    main()
