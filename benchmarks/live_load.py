"""Many open shop pages while the catalog changes: live streams against refetch-on-event, side by side.

Runs `livevec serve` (its own process) on the demo catalog and opens N pages, over a few distinct
profiles and some shoppers, as asyncio clients in this process:

- **live**: each page follows `GET /recommendations/stream` (the server pushes a page's result when,
  and only when, it changes);
- **refetch**: each page follows `/events` and fetches `GET /recommendations` again on every event
  (what the page did before live queries).

Writes go through the API at a fixed rate, in cycles of five: a product described in a profile's
words is added (it enters that profile's pages), another product's price changes (it may or may not
show anywhere), the new product's price changes, a shopper likes their first recommendation (it
leaves their pages), the new product is deleted. Reported per configuration: write -> page updated
p50/p95/max (from sending each write to the first update, on each page the write must reach, that
shows it), updates missed, stale pages at the end (last result differs from a fresh
`GET /recommendations`), server CPU (% of one core) and the writes' own latency.

    .venv/bin/python benchmarks/live_load.py --streams 100 300 1000 --rates 1 10
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import statistics
import tempfile
import time
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from _report import start_shop

PROFILES = [
    "a user likes sports",
    "yoga at home",
    "running every morning",
    "good coffee and a quiet kitchen",
    "hiking in the mountains",
    "a new laptop for work",
    "music and headphones",
    "gifts for a teenager",
    "a cosy bedroom",
    "cooking for a big family",
    "the beach in summer",
    "cycling to work",
    "makeup and skin care",
    "a gamer who streams",
    "gardening on a balcony",
    "travel with a small bag",
]


@dataclass
class Page:
    """One open page: its parameters and when its results arrived."""

    params: dict
    updates: list[tuple[float, list]] = field(default_factory=list)

    @property
    def query(self) -> str:
        return urllib.parse.urlencode(self.params)


async def http_get(port: int, path: str) -> tuple[int, bytes]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n".encode())
    await writer.drain()
    data = await reader.read()
    writer.close()
    head, _, body = data.partition(b"\r\n\r\n")
    status = int(head.split()[1])
    if b"transfer-encoding: chunked" in head.lower():
        body = _unchunk(body)
    return status, body


async def http_send(port: int, method: str, path: str, payload: dict | None = None) -> int:
    body = json.dumps(payload).encode() if payload is not None else b""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(
        f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n".encode()
        + body
    )
    await writer.drain()
    data = await reader.read()
    writer.close()
    return int(data.split()[1])


def _unchunk(body: bytes) -> bytes:
    out, rest = b"", body
    while rest:
        size, _, rest = rest.partition(b"\r\n")
        n = int(size, 16)
        if n == 0:
            break
        out, rest = out + rest[:n], rest[n + 2 :]
    return out


async def sse(port: int, path: str, on_data) -> None:
    """Follow a Server-Sent Events stream, calling `on_data(json)` for each `data:` message."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port, limit=2**24)
    writer.write(
        f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nAccept: text/event-stream\r\n\r\n".encode()
    )
    await writer.drain()
    await reader.readuntil(b"\r\n\r\n")
    chunked_data = b""
    try:
        while True:
            size = int((await reader.readline()).strip() or b"0", 16)
            if size == 0:
                return
            chunked_data += await reader.readexactly(size + 2)
            while b"\n\n" in chunked_data:
                message, _, chunked_data = chunked_data.partition(b"\n\n")
                for line in message.split(b"\n"):
                    if line.startswith(b"data:"):
                        await on_data(json.loads(line[5:]))
    finally:
        writer.close()


def ids(items: list) -> list:
    return [item["id"] for item in items]


@dataclass
class Write:
    """A write sent through the API, the pages it must reach, and how a page's items show it."""

    at: float
    kind: str
    pages: list[int]
    shows: Callable[[list], bool]


async def run(port: int, mode: str, streams: int, rate: float, seconds: float, server_pid: int) -> dict:
    import psutil

    rng = random.Random(0)
    shoppers = [f"shopper-{n}" for n in range(4)]
    pages = []
    for n in range(streams):
        params = {"limit": 10}
        if n % 5 == 4:
            params["user_id"] = shoppers[n % len(shoppers)]
        else:
            params["profile"] = PROFILES[n % len(PROFILES)]
        pages.append(Page(params))
    tasks = []

    async def follow_live(page: Page) -> None:
        async def got(data):
            page.updates.append((time.perf_counter(), data["items"]))

        await sse(port, f"/recommendations/stream?{page.query}", got)

    async def follow_refetch(page: Page) -> None:
        async def refetch(_event=None):
            status, body = await http_get(port, f"/recommendations?{page.query}")
            if status == 200:
                page.updates.append((time.perf_counter(), json.loads(body)))

        await refetch()
        user = page.params.get("user_id")
        await sse(port, "/events" + (f"?user_id={user}" if user else ""), refetch)

    for page in pages:
        tasks.append(asyncio.create_task(follow_live(page) if mode == "live" else follow_refetch(page)))
    deadline = time.perf_counter() + 120
    while any(not p.updates for p in pages) and time.perf_counter() < deadline:
        await asyncio.sleep(0.1)
    opened = sum(bool(p.updates) for p in pages)
    process = psutil.Process(server_pid)
    cpu_before, wall_before = sum(process.cpu_times()[:2]), time.perf_counter()
    _, body = await http_get(port, "/products?limit=200")
    catalog = [p["id"] for p in json.loads(body)["items"]]
    by_profile = {
        text: [i for i, p in enumerate(pages) if p.params.get("profile") == text] for text in PROFILES
    }
    by_shopper = {
        user: [i for i, p in enumerate(pages) if p.params.get("user_id") == user] for user in shoppers
    }
    writes: list[Write] = []
    write_latency: list[float] = []
    n, started = 0, time.perf_counter()
    while time.perf_counter() - started < seconds:
        cycle, step = divmod(n, 5)
        key, text = f"load-{cycle}", PROFILES[cycle % len(PROFILES)]
        t = time.perf_counter()
        if step == 0:  # a product described as a profile is typed: it enters that profile's pages first
            product = {
                "id": key,
                "name": f"Load {cycle}",
                "description": text,
                "category": "load",
                "price": 10.0,
            }
            await http_send(port, "POST", "/products", product)
            writes.append(Write(t, "add", by_profile[text], lambda items, key=key: key in ids(items)))
        elif step == 1:  # another product's price: any page may or may not show it
            await http_send(
                port, "PATCH", f"/products/{rng.choice(catalog)}", {"price": round(rng.uniform(1, 200), 2)}
            )
        elif step == 2:  # the new product's price: its pages show the new one
            price = round(rng.uniform(1, 200), 2)
            await http_send(port, "PATCH", f"/products/{key}", {"price": price})
            writes.append(
                Write(
                    t,
                    "price",
                    by_profile[text],
                    lambda items, key=key, price=price: any(
                        i["id"] == key and i["price"] == price for i in items
                    ),
                )
            )
        elif step == 3:  # a shopper likes their first recommendation: it leaves their pages
            user = shoppers[cycle % len(shoppers)]
            shown = next(
                (p.updates[-1][1] for p in pages if p.params.get("user_id") == user and p.updates), []
            )
            if shown:
                liked = shown[0]["id"]
                await http_send(port, "POST", f"/users/{user}/events", {"product_id": liked, "kind": "like"})
                writes.append(
                    Write(t, "like", by_shopper[user], lambda items, liked=liked: liked not in ids(items))
                )
        else:  # the new product goes: it leaves its pages
            await http_send(port, "DELETE", f"/products/{key}")
            writes.append(Write(t, "delete", by_profile[text], lambda items, key=key: key not in ids(items)))
        write_latency.append(time.perf_counter() - t)
        n += 1
        await asyncio.sleep(max(0.0, started + n / rate - time.perf_counter()))
    writes_end = time.perf_counter()
    # quiescence: no page updated for 2 s (30 s at most)
    while time.perf_counter() - writes_end < 30:
        last = max((p.updates[-1][0] for p in pages if p.updates), default=0)
        if time.perf_counter() - max(last, writes_end) > 2:
            break
        await asyncio.sleep(0.2)
    cpu = (sum(process.cpu_times()[:2]) - cpu_before) / (time.perf_counter() - wall_before) * 100
    # write -> page updated: the first update after the write that shows it, on each page it must reach
    latencies, missed, by_kind = [], 0, {}
    for write in writes:
        for index in write.pages:
            seen = next(
                (at for at, items in pages[index].updates if at > write.at and write.shows(items)), None
            )
            if seen is None:
                missed += 1
            else:
                latencies.append(seen - write.at)
                by_kind.setdefault(write.kind, []).append(seen - write.at)
    fresh: dict[str, list] = {}
    stale = 0
    for page in pages:
        if page.query not in fresh:
            _, body = await http_get(port, f"/recommendations?{page.query}")
            fresh[page.query] = [(i["id"], i["price"]) for i in json.loads(body)]
        if not page.updates or [(i["id"], i["price"]) for i in page.updates[-1][1]] != fresh[page.query]:
            stale += 1
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    latencies.sort()

    def pct(q: float) -> float | None:
        return (
            round(latencies[min(len(latencies) - 1, int(q * len(latencies)))] * 1000) if latencies else None
        )

    return {
        "mode": mode,
        "streams": streams,
        "opened": opened,
        "writes_s": rate,
        "writes": n,
        "page_updates_due": len(latencies) + missed,
        "missed": missed,
        "update_p50_ms": pct(0.5),
        "update_p95_ms": pct(0.95),
        "update_max_ms": round(latencies[-1] * 1000) if latencies else None,
        "p95_ms_by_kind": {k: round(sorted(v)[int(0.95 * len(v))] * 1000) for k, v in by_kind.items()},
        "stale_at_end": stale,
        "server_cpu_pct": round(cpu),
        "write_p50_ms": round(statistics.median(write_latency) * 1000, 1),
        "write_p95_ms": round(sorted(write_latency)[int(0.95 * len(write_latency))] * 1000, 1),
    }


def main() -> None:
    import resource

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--streams", type=int, nargs="+", default=[100, 300, 1000])
    parser.add_argument("--rates", type=float, nargs="+", default=[1.0, 10.0])
    parser.add_argument("--modes", nargs="+", default=["live", "refetch"])
    parser.add_argument("--seconds", type=float, default=20.0)
    args = parser.parse_args()
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 65536), hard))
    from livevec.demo import open_shop

    with tempfile.TemporaryDirectory() as tmp:
        template = Path(tmp) / "template.db"
        db, _ = open_shop(template)  # the demo catalog, embedded once
        db.close()
        for streams in args.streams:
            for rate in args.rates:
                for mode in args.modes:
                    path = Path(tmp) / f"{mode}-{streams}-{rate}.db"
                    path.write_bytes(template.read_bytes())
                    server, port = start_shop(path)
                    try:
                        result = asyncio.run(run(port, mode, streams, rate, args.seconds, server.pid))
                    finally:
                        server.terminate()
                        server.wait(timeout=60)
                    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
