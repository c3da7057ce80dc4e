"""What a client can make the server hold before a request reaches the app (issue 22): the size of a
request head, a head that never finishes or trickles in, idle connections, and their number. On a
real `livevec serve` process with small limits."""

from __future__ import annotations

import socket
import time
from urllib.parse import urlsplit

import httpx
import pytest

from .conftest import ServerProcess

MAX_CONNECTIONS = 6


@pytest.fixture(scope="module")
def limited(shop, shop_db):
    args = ["serve", "--db", str(shop_db), "--port", "0", "--max-head", "8kB", "--head-timeout", "1"]
    args += ["--keep-alive", "1", "--max-connections", str(MAX_CONNECTIONS)]
    server = ServerProcess(args, shop.env).start()
    yield server
    server.stop()


def address(server: ServerProcess) -> tuple[str, int]:
    parts = urlsplit(server.url)
    return parts.hostname, parts.port


def exchange(server: ServerProcess, head: bytes, timeout: float = 30) -> bytes:
    with socket.create_connection(address(server), timeout=timeout) as sock:
        sock.sendall(head)
        return sock.recv(200)


def closed_after(sock: socket.socket, limit: float) -> float | None:
    """Seconds until the server closes `sock` (reading nothing), or None if it is open after `limit`."""
    started = time.monotonic()
    sock.settimeout(0.2)
    while time.monotonic() - started < limit:
        try:
            if sock.recv(100) == b"":
                return time.monotonic() - started
        except TimeoutError:
            continue
        except OSError:
            return time.monotonic() - started
    return None


def test_a_request_head_over_the_cap_is_a_431(limited):
    one_big = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: " + b"a" * 20_000 + b"\r\n\r\n"
    many = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n" + b"".join(
        b"X-%d: bbbb\r\n" % i for i in range(2000)
    )
    for head in (one_big, many + b"\r\n"):
        assert exchange(limited, head).startswith(b"HTTP/1.1 431 ")
    # a head under the cap, with a body in the same write: the body does not count
    body = b'{"profile": "' + b"x" * 30_000 + b'"}'
    request = b"POST /recommendations HTTP/1.1\r\nHost: 127.0.0.1\r\ncontent-type: application/json\r\n"
    answer = exchange(limited, request + b"content-length: %d\r\n\r\n" % len(body) + body)
    assert not answer.startswith(b"HTTP/1.1 431 ")


def test_a_head_that_never_finishes_or_trickles_is_closed(limited):
    with socket.create_connection(address(limited)) as silent:
        assert closed_after(silent, 20) is not None  # connected, sent nothing
    with socket.create_connection(address(limited)) as unfinished:
        unfinished.sendall(b"GET /healthz HTTP/1.1\r\n")
        assert closed_after(unfinished, 20) is not None
    with socket.create_connection(address(limited)) as trickle:
        trickle.sendall(b"GET /healthz HTTP/1.1\r\n")
        started, closed = time.monotonic(), False
        while time.monotonic() - started < 20 and not closed:
            try:
                trickle.sendall(b"X-Line: a\r\n")  # one header line every 0.3 s
            except OSError:
                closed = True
                break
            closed = closed_after(trickle, 0.3) is not None
        assert closed, "a head sent a line at a time kept its connection"


def test_requests_on_a_kept_alive_connection_still_work(limited):
    with httpx.Client(base_url=limited.url, timeout=30) as client:
        for _ in range(3):
            assert client.get("/healthz").status_code == 200


def test_connections_beyond_the_cap_are_a_503(limited):
    # uvicorn counts open connections and running requests together: a stream counts for both
    streams, refused = [], None
    try:
        for _ in range(MAX_CONNECTIONS + 1):  # long-lived requests hold their connections
            sock = socket.create_connection(address(limited), timeout=30)
            sock.sendall(b"GET /events HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            status = sock.recv(12)
            streams.append(sock)
            if status != b"HTTP/1.1 200":
                refused = status
                break
        assert refused == b"HTTP/1.1 503" and 1 < len(streams) <= MAX_CONNECTIONS
        answer = exchange(limited, b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        assert answer.startswith(b"HTTP/1.1 503 ")
    finally:
        for sock in streams:
            sock.close()
    for _ in range(50):  # the server lets them go, and answers again
        if exchange(limited, b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n").startswith(b"HTTP/1.1 200"):
            break
        time.sleep(0.2)
    else:
        pytest.fail("the server did not answer again once the streams closed")


@pytest.fixture(scope="module")
def few_streams(shop, shop_db):
    args = [
        "serve",
        "--db",
        str(shop_db),
        "--port",
        "0",
        "--max-streams-per-client",
        "2",
        "--max-streams",
        "3",
    ]
    server = ServerProcess(args, shop.env).start()
    yield server
    server.stop()


def open_stream(server: ServerProcess, path: str) -> tuple[socket.socket, bytes]:
    sock = socket.create_connection(address(server), timeout=30)
    sock.sendall(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode())
    return sock, sock.recv(4096)


def test_streams_beyond_a_clients_share_are_a_429_and_come_back_when_closed(few_streams):
    paths = ["/events", "/recommendations/stream?profile=sports"]
    held = [open_stream(few_streams, path) for path in paths]
    try:
        assert all(head.startswith(b"HTTP/1.1 200") for _, head in held)
        sock, head = open_stream(few_streams, "/events")
        sock.close()
        assert head.startswith(b"HTTP/1.1 429") and b"retry-after: 5" in head.lower()
    finally:
        for sock, _ in held:
            sock.close()
    for _ in range(100):  # the slots are given back when the streams end, however they end
        sock, head = open_stream(few_streams, "/events")
        sock.close()
        if head.startswith(b"HTTP/1.1 200"):
            break
        time.sleep(0.1)
    else:
        pytest.fail("closed streams kept their client's slots")
