"""Streams that connect and drop at once leave nothing behind in the server (issue 21's leak check).

    .venv/bin/python benchmarks/stream_leaks.py [--streams 2000] [--concurrency 50]

Runs the shop in this process (uvicorn on loopback, the demo catalog), so that what it holds can be
counted: open live queries, futures waiting on them, and the process's resident memory. Each client
sends `GET /recommendations/stream` with a distinct profile and closes its socket at once, half of
them before the answer's first byte (the disconnect lands while the live query is being opened),
half right after it. Prints the counts and RSS before and after; exits 1 if anything stayed open
or memory grew by more than 20 MB once the streams closed.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import socket
import sys
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import quote

import uvicorn

from livevec.demo import open_shop
from livevec.live import live_queries
from livevec.web import create_app


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def drop(port: int, i: int) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    profile = quote(f"a shopper who likes item {i} and sports")
    writer.write(
        f"GET /recommendations/stream?profile={profile}&limit=5 HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode()
    )
    await writer.drain()
    if i % 2:
        await reader.read(1)  # the stream began: drop it right after its first byte
    writer.close()
    await writer.wait_closed()


async def clients(port: int, n: int, concurrency: int) -> None:
    gate = asyncio.Semaphore(concurrency)

    async def one(i: int) -> None:
        async with gate:
            with contextlib.suppress(OSError):
                await drop(port, i)

    await asyncio.gather(*(one(i) for i in range(n)))


def held(registry) -> tuple[int, int]:
    with registry._lock:
        entries = list(registry._entries.values())
    return len(entries), sum(len(e.futures) for e in entries)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--streams", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=50)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "shop.db"
        db, _ = open_shop(path)  # the catalog, embedded once
        db.close()
        app = create_app(path)
        port = free_port()
        server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        while not server.started:
            time.sleep(0.05)
        registry = live_queries(app.state.shop.db.backend)
        asyncio.run(clients(port, 50, 10))  # warm up: the model, the pools, the caches
        time.sleep(1.0)
        gc.collect()
        before = rss_mb(), *held(registry)
        started = time.perf_counter()
        asyncio.run(clients(port, args.streams, args.concurrency))
        took = time.perf_counter() - started
        deadline = time.monotonic() + 30
        while held(registry)[0] and time.monotonic() < deadline:  # streams the server is still closing
            time.sleep(0.2)
        gc.collect()
        after = rss_mb(), *held(registry)
        server.should_exit = True
        thread.join(30)
    print(f"{args.streams} streams dropped at once ({args.concurrency} at a time) in {took:.1f} s")
    print(f"  before: RSS {before[0]:.0f} MB, live queries {before[1]}, futures {before[2]}")
    print(f"  after:  RSS {after[0]:.0f} MB, live queries {after[1]}, futures {after[2]}")
    print(f"  RSS growth: {after[0] - before[0]:+.1f} MB (allowed +20)")
    leaked = after[1] or after[2] or after[0] - before[0] > 20
    print("LEAK" if leaked else "nothing left behind")
    return 1 if leaked else 0


if __name__ == "__main__":
    sys.exit(main())
