"""What open streams may hold: a number of them per client address and in all, and the messages they
share, in bytes.

Without bounds, 1,100 short-lived `/recommendations/stream` connections with distinct profiles took a
server from 469 to 2,230 MB, which stayed after they closed: the cache of encoded messages held 1,024
whole messages whatever their size. Here a client past its share of streams gets a 429, and any
client past the server's total a 503, both with `Retry-After`; the message cache is bounded in bytes.
"""

from __future__ import annotations

import asyncio
import gc
import threading
from collections import OrderedDict
from collections.abc import Hashable

from fastapi import HTTPException

from .._memory import release_freed_memory
from ._workers import Workers, run

RETRY_AFTER = "5"  # seconds a refused client waits before trying again


class StreamSlots:
    """Counts the open streams of each client address and in all; `take` one, `give_back` it."""

    def __init__(self, per_client: int, total: int) -> None:
        self.per_client = per_client
        self.total = total
        self._open: dict[str, int] = {}
        self._lock = threading.Lock()

    def take(self, client: str) -> None:
        """Count a stream for `client`.

        Raises:
            HTTPException: 429 when the client has `per_client` streams open, 503 when the server has
                `total`; both with `Retry-After`.
        """
        with self._lock:
            if sum(self._open.values()) >= self.total:
                raise HTTPException(
                    503, f"the server has {self.total} streams open; try again", {"Retry-After": RETRY_AFTER}
                )
            if self._open.get(client, 0) >= self.per_client:
                raise HTTPException(
                    429,
                    f"this client has {self.per_client} streams open; close one first",
                    {"Retry-After": RETRY_AFTER},
                )
            self._open[client] = self._open.get(client, 0) + 1

    def give_back(self, client: str) -> bool:
        """Count one stream of `client` closed; whether it was the last open stream of the server."""
        with self._lock:
            left = self._open.get(client, 0) - 1
            if left > 0:
                self._open[client] = left
            else:
                self._open.pop(client, None)
            return not self._open

    @property
    def open(self) -> int:
        with self._lock:
            return sum(self._open.values())


class MessageCache:
    """Encoded stream messages shared by the streams of one query, the least recently used dropped
    first once they hold more than `max_bytes`."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self._messages: OrderedDict[Hashable, str] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    def get(self, key: Hashable) -> str | None:
        with self._lock:
            message = self._messages.get(key)
            if message is not None:
                self._messages.move_to_end(key)
            return message

    def put(self, key: Hashable, message: str) -> None:
        size = len(message)
        with self._lock:
            if key in self._messages or size > self.max_bytes:
                return
            self._messages[key] = message
            self._bytes += size
            while self._bytes > self.max_bytes:
                self._bytes -= len(self._messages.popitem(last=False)[1])

    @property
    def size(self) -> int:
        """Bytes held (characters: the messages are ASCII JSON)."""
        with self._lock:
            return self._bytes


def _collect_and_release() -> None:
    # what closed streams leave in reference cycles (an exception's traceback and the frames it
    # holds, messages and rows with them) only the cyclic collector frees, and its full collections
    # are rare: with it, 2,000 abusive streams leave +39 MB once closed instead of +126 (hostile.py)
    gc.collect()
    release_freed_memory()


class MemoryRelease:
    """Hands the memory closed streams took back to the system once the last open stream has closed,
    at most every `every` seconds (trimming a large heap holds the allocator's lock a moment), and
    once more after a burst. It runs the cyclic collector first: a cancelled stream's exception holds
    its traceback's frames and their rows in a cycle. Without the two, 2,000 streams of 100 long
    products each left 220 MB after they had all closed; with them, 39 MB (benchmarks/hostile.py).

    `run()` is a task the app's lifespan starts and cancels; `request()` may be called any time.
    """

    def __init__(self, workers: Workers, every: float = 5.0) -> None:
        self.workers = workers
        self.every = every
        self._wanted = asyncio.Event()

    def request(self) -> None:
        self._wanted.set()

    async def run(self) -> None:
        while True:
            await self._wanted.wait()
            self._wanted.clear()
            await run(self.workers.probe, _collect_and_release)
            await asyncio.sleep(self.every)  # requests meanwhile make one more trim after it
