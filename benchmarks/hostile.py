"""What a hostile client can make the shop hold, and what the limits cost: issue 22's attacks, measured.

Starts `livevec serve` (with a token, on a copy of the demo catalog given long descriptions) in a
child process and tries, one after another:

- **abuse**: 2,000 `/recommendations/stream` requests with distinct profiles and `limit=100` from
  100 loopback addresses, half of them slow readers (they read nothing and hold the connection 10
  s), half instant disconnects; meanwhile a well-behaved client's requests (a product, a search):
  their p50 and p99 before, during and after, and the server's memory at the start, at its peak and
  once every stream has closed;
- **streams**: `--streams` short-lived `/recommendations/stream` connections, each with its own
  profile and `limit=100`, `--parallel` at a time: the server's resident memory before, at its peak and after
  every stream has closed, and how many were refused (429/503);
- **users**: 1,500 shoppers with 5,000-character profiles: the size of one `GET /users` answer,
  without the token and with it;
- **big head**: one request with a 2 MB header: its status;
- **unfinished heads**: ten connections each sending 30 MB of 1 kB header lines, never finished:
  memory held, and how many the server closed;
- **slow heads**: 300 connections sending one header line every 5 s: how many are still open after
  `--slow-seconds`;
- **latency**: p50 and p95 of `GET /products/{id}` on one kept-alive connection, with the shop's
  protocol (limits) and with uvicorn's stock h11 protocol, side by side (each its own server
  process, on the same database, measured alternately).

Run it on the code of any commit to compare (`PYTHONPATH=<checkout>/src`): a server without a limit
shows what the attack took. Figures and commands: benchmarks/RESULTS.md.

    .venv/bin/python benchmarks/hostile.py [--streams 1100] [--slow-seconds 30]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import psutil

TOKEN = "hostile-benchmark-token"
BEARER = {"Authorization": f"Bearer {TOKEN}"}
HERE = Path(__file__).resolve().parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Server:
    """A shop server process on `db`: `livevec serve`, or uvicorn's stock protocol (`stock=True`)."""

    def __init__(self, db: Path, stock: bool = False) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = {**os.environ, "LIVEVEC_TOKEN": TOKEN, "HF_HUB_OFFLINE": "1"}
        if stock:
            program = (
                "import sys, uvicorn; from livevec.web import create_app;"
                f"uvicorn.run(create_app(sys.argv[1], token={TOKEN!r}), host='127.0.0.1', port={self.port},"
                "http='h11', log_level='warning')"
            )
            command = [sys.executable, "-c", program, str(db)]
        else:
            command = [sys.executable, "-m", "livevec", "serve", "--db", str(db), "--port", str(self.port)]
        self.process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{self.url}/readyz", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            if self.process.poll() is not None:
                raise RuntimeError(f"the server exited: {self.process.stderr.read().decode()[-2000:]}")
            time.sleep(0.2)
        raise RuntimeError("the server did not start within 120 s")

    def rss_mb(self) -> float:
        """Resident memory of the server and its children, MB."""
        main = psutil.Process(self.process.pid)
        return sum(p.memory_info().rss for p in [main, *main.children(recursive=True)]) / 1e6

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()


def make_catalog(folder: Path) -> Path:
    """The demo catalog with descriptions 4x as long (bigger messages per stream), embedded once."""
    from livevec.demo import open_shop

    db_path = folder / "shop.db"
    db, products = open_shop(db_path)
    try:
        for product in products.query(limit=10_000):
            row = product if isinstance(product, dict) else product.model_dump()
            products.update(values={"description": (row["description"] + " ") * 4}, filters={"id": row["id"]})
    finally:
        db.close()
    return db_path


def streams(server: Server, count: int, parallel: int) -> dict[str, float]:
    refused = 0
    lock = threading.Lock()

    def one(i: int) -> None:
        nonlocal refused
        params = {"profile": f"shopper {i} likes sports, yoga and hiking gear number {i}", "limit": 100}
        with (
            httpx.Client(base_url=server.url, timeout=60) as client,
            client.stream("GET", "/recommendations/stream", params=params) as response,
        ):
            if response.status_code != 200:
                with lock:
                    refused += 1
                return
            for line in response.iter_lines():
                if line.startswith("data:"):
                    return  # the first message: the client leaves

    before = server.rss_mb()
    peak = before
    done = threading.Event()

    def watch() -> None:
        nonlocal peak
        while not done.is_set():
            peak = max(peak, server.rss_mb())
            time.sleep(0.2)

    watcher = threading.Thread(target=watch)
    watcher.start()
    with ThreadPoolExecutor(parallel) as pool:
        list(pool.map(one, range(count)))
    done.set()
    watcher.join()
    time.sleep(3)  # streams closed by then
    return {"before_mb": before, "peak_mb": peak, "after_mb": server.rss_mb(), "refused": refused}


class Ordinary:
    """A well-behaved client in a thread of its own: `GET /products/{id}` and a search, in turn,
    recording each request's time, so the attack's effect on everyone else shows as latency."""

    def __init__(self, server: Server) -> None:
        self.server = server
        self.times: list[float] = []
        self.failures = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run)

    def _run(self) -> None:
        paths = ["/products/24-WG085", "/search?q=yoga+mat&limit=5"]
        with httpx.Client(base_url=self.server.url, timeout=30) as client:
            while not self._stop.is_set():
                for path in paths:
                    started = time.perf_counter()
                    try:
                        client.get(path).raise_for_status()
                        self.times.append((time.perf_counter() - started) * 1000)
                    except httpx.HTTPError:
                        self.failures += 1
                time.sleep(0.02)

    def __enter__(self) -> Ordinary:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def figures(self) -> dict[str, float]:
        t = self.times
        return {
            "requests": len(t),
            "p50_ms": statistics.median(t),
            "p99_ms": statistics.quantiles(t, n=100)[98],
            "failed": self.failures,
        }


def ordinary_for(server: Server, seconds: float) -> dict[str, float]:
    with Ordinary(server) as ordinary:
        time.sleep(seconds)
    return ordinary.figures()


def abusive_streams(server: Server, count: int, hold: float) -> dict[str, object]:
    """`count` /recommendations/stream requests with distinct profiles and `limit=100`, from 100
    loopback addresses (127.0.1.1 ...): half never read a byte and hold the connection `hold`
    seconds (slow readers), half close right after sending the request (instant disconnects)."""
    answered: dict[str, int] = {}
    lock = threading.Lock()

    def one(i: int) -> None:
        source = f"127.0.1.{i % 100 + 1}"
        query = f"profile=shopper+{i}+likes+sports+yoga+and+hiking+gear+{i}&limit=100"
        request = f"GET /recommendations/stream?{query} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode()
        try:
            with socket.create_connection(("127.0.0.1", server.port), source_address=(source, 0)) as sock:
                sock.sendall(request)
                if i % 2:
                    return  # instant disconnect
                sock.settimeout(2)
                try:
                    status = sock.recv(12).decode(errors="replace")[9:12] or "closed"
                except TimeoutError:
                    status = "no answer"
                time.sleep(hold)  # and read nothing more: the server's sends pile up
        except OSError as exc:
            status = type(exc).__name__
        with lock:
            answered[status] = answered.get(status, 0) + 1

    start_mb = server.rss_mb()
    before = ordinary_for(server, 5)
    peak = start_mb
    with Ordinary(server) as during, ThreadPoolExecutor(200) as pool:
        futures = [pool.submit(one, i) for i in range(count)]
        while not all(f.done() for f in futures):
            peak = max(peak, server.rss_mb())
            time.sleep(0.2)
    time.sleep(5)  # every stream closed by then
    after = ordinary_for(server, 5)
    return {
        "rss_mb": {"start": round(start_mb), "peak": round(peak), "after": round(server.rss_mb())},
        "slow readers answered": answered,
        "ordinary before": before,
        "ordinary during": during.figures(),
        "ordinary after": after,
    }


def users(server: Server) -> dict[str, float]:
    with httpx.Client(base_url=server.url, timeout=60, headers=BEARER) as client:
        for i in range(1500):
            client.put(f"/users/hostile-{i:05d}", json={"profile": f"likes {i} " + "x" * 4990})
        open_answer = httpx.get(f"{server.url}/users", timeout=60)
        with_token = client.get("/users")
    return {
        "status_without_token": open_answer.status_code,
        "bytes_without_token": len(open_answer.content),
        "bytes_with_token": len(with_token.content),
        "shoppers_in_answer": len(with_token.json()),
    }


def big_head(server: Server) -> dict[str, float]:
    try:
        response = httpx.get(f"{server.url}/healthz", headers={"X-Big": "a" * 2_000_000}, timeout=30)
        return {"status": response.status_code}
    except httpx.HTTPError as exc:
        return {"status": f"connection error: {type(exc).__name__}"}


def unfinished_heads(server: Server) -> dict[str, float]:
    before = server.rss_mb()
    sockets = []
    closed = 0
    for _ in range(10):
        sock = socket.create_connection(("127.0.0.1", server.port))
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        sockets.append(sock)
    # header lines of 1 kB: each is small enough for h11's own cap on one incomplete event
    chunk = b"".join(b"X-Pad-%d: %s\r\n" % (i, b"a" * 1000) for i in range(1000))  # ~1 MB
    for sock in sockets:
        try:
            for _ in range(30):
                sock.sendall(chunk)
        except OSError:
            closed += 1
    time.sleep(2)
    held = server.rss_mb() - before
    for sock in sockets:
        sock.close()
    return {"held_mb": held, "closed_by_server": closed}


def slow_heads(server: Server, seconds: float) -> dict[str, object]:
    ordinary = Ordinary(server).__enter__()
    sockets = []
    for _ in range(300):
        sock = socket.create_connection(("127.0.0.1", server.port))
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        sockets.append(sock)
    started = time.monotonic()
    line = 0
    while time.monotonic() - started < seconds:
        time.sleep(5)
        line += 1
        for sock in sockets:
            with contextlib.suppress(OSError):  # closed by the server
                sock.sendall(f"X-Line-{line}: x\r\n".encode())
    time.sleep(1)
    ordinary.__exit__()
    still_open = 0
    for sock in sockets:
        sock.setblocking(False)
        try:
            still_open += sock.recv(1) != b""  # b"": closed by the server
        except BlockingIOError:
            still_open += 1
        except OSError:
            pass
        sock.close()
    return {
        "still_open": still_open,
        "of": len(sockets),
        "after_s": seconds,
        "ordinary during": ordinary.figures(),
    }


def latency(servers: dict[str, Server], requests: int) -> dict[str, dict[str, float]]:
    clients = {name: httpx.Client(base_url=s.url, timeout=30) for name, s in servers.items()}
    times: dict[str, list[float]] = {name: [] for name in servers}
    try:
        for client in clients.values():
            for _ in range(50):  # warm up
                client.get("/products/24-WG085")
        for _ in range(requests):
            for name, client in clients.items():  # alternately: the machine's noise falls on both
                started = time.perf_counter()
                client.get("/products/24-WG085").raise_for_status()
                times[name].append((time.perf_counter() - started) * 1000)
    finally:
        for client in clients.values():
            client.close()
    return {
        name: {"p50_ms": statistics.median(t), "p95_ms": statistics.quantiles(t, n=20)[18]}
        for name, t in times.items()
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--abusive", type=int, default=2000, help="abusive streams (slow readers, disconnects)"
    )
    parser.add_argument("--hold", type=float, default=10, help="seconds a slow reader holds its stream")
    parser.add_argument("--streams", type=int, default=1100)
    parser.add_argument(
        "--parallel", type=int, default=20, help="streams open at once (the default per-client cap is 20)"
    )
    parser.add_argument("--slow-seconds", type=float, default=30)
    parser.add_argument("--requests", type=int, default=2000, help="requests per protocol (latency)")
    parser.add_argument("--skip-latency", action="store_true", help="for code without the limits protocol")
    attacks = ["abuse", "abuse again", "streams", "users", "big head", "unfinished heads", "slow heads"]
    parser.add_argument("--only", nargs="+", choices=attacks, default=attacks, metavar="ATTACK")
    args = parser.parse_args()
    import livevec

    print(f"livevec from {Path(livevec.__file__).parent}")
    with tempfile.TemporaryDirectory() as folder:
        catalog = make_catalog(Path(folder))
        results: dict[str, object] = {}
        attacked = Path(folder) / "attacked.db"
        shutil.copy(catalog, attacked)
        server = Server(attacked)
        try:
            for name, run in (
                ("abuse", lambda: abusive_streams(server, args.abusive, args.hold)),
                # the same again: memory kept after the first is a high-water mark, not a leak, if
                # a second round ends where the first did
                ("abuse again", lambda: abusive_streams(server, args.abusive, args.hold)),
                ("streams", lambda: streams(server, args.streams, args.parallel)),
                ("users", lambda: users(server)),
                ("big head", lambda: big_head(server)),
                ("unfinished heads", lambda: unfinished_heads(server)),
                ("slow heads", lambda: slow_heads(server, args.slow_seconds)),
            ):
                if name not in args.only:
                    continue
                started = time.perf_counter()
                results[name] = run()
                print(
                    f"{name}: {json.dumps(results[name])} ({time.perf_counter() - started:.0f} s)", flush=True
                )
        finally:
            server.stop()
        if not args.skip_latency:
            pair = {"limits (livevec serve)": Server(catalog), "stock h11": Server(catalog, stock=True)}
            try:
                measured = latency(pair, args.requests)
            finally:
                for s in pair.values():
                    s.stop()
            for name, figures in measured.items():
                print(f"latency, {name}: p50 {figures['p50_ms']:.2f} ms, p95 {figures['p95_ms']:.2f} ms")
            ratio = measured["limits (livevec serve)"]["p50_ms"] / measured["stock h11"]["p50_ms"]
            print(f"latency ratio (limits / stock) at p50: {ratio:.2f}")


if __name__ == "__main__":
    main()
