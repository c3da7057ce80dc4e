"""The service's blocking work, on thread pools sized for what each kind does.

asyncio's default executor (`asyncio.to_thread`) has 6 threads on 2 cores and is shared by whatever
calls it: six imports in flight (each embedding for seconds) left `/readyz` waiting in its queue until
it timed out, and a stream could not open. Each kind of work has its own pool here, so a burst of one
kind waits behind itself only:

- `imports`: parsing and embedding an import (CPU-bound: more threads would only share the cores);
- `streams`: opening a live query for a stream, and replaying `/events` after a reconnect;
- `feed`: the one reader of the change feed that publishes `/events`;
- `probe`: `/readyz`'s query, which must answer whatever the rest is doing.

Every pool lives as long as the app (made and shut down by its lifespan).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

T = TypeVar("T")


class Closable(Protocol):
    def close(self) -> None: ...


def _pool(name: str, threads: int) -> ThreadPoolExecutor:
    return ThreadPoolExecutor(max_workers=threads, thread_name_prefix=f"livevec-{name}")


@dataclass
class Workers:
    """One thread pool per kind of blocking work (see the module's doc)."""

    imports: ThreadPoolExecutor = field(default_factory=lambda: _pool("imports", 2))
    streams: ThreadPoolExecutor = field(default_factory=lambda: _pool("streams", 8))
    feed: ThreadPoolExecutor = field(default_factory=lambda: _pool("feed", 1))
    probe: ThreadPoolExecutor = field(default_factory=lambda: _pool("probe", 1))

    def shutdown(self) -> None:
        for pool in (self.imports, self.streams, self.feed, self.probe):
            pool.shutdown(wait=False, cancel_futures=True)


async def run(pool: ThreadPoolExecutor, function: Callable[..., T], *args: Any) -> T:
    """`function(*args)` on `pool`, awaited."""
    return await asyncio.get_running_loop().run_in_executor(pool, function, *args)


async def open_handle(
    pool: ThreadPoolExecutor, opener: Callable[[], tuple[Closable, Any]]
) -> tuple[Closable, Any]:
    """Run `opener` on `pool`; it returns (a handle, anything). If the caller is cancelled meanwhile
    (the client went away while the stream was starting), the handle is closed as soon as the
    opener returns it: nothing it opened outlives the request."""
    future: Future = pool.submit(opener)
    waited = asyncio.wrap_future(future)
    try:
        return await asyncio.shield(waited)
    except asyncio.CancelledError:
        future.add_done_callback(_close_abandoned)
        # nobody awaits it any more: its outcome is taken here (a closing server's error is no news)
        waited.add_done_callback(lambda done: done.cancelled() or done.exception())
        raise


def _close_abandoned(future: Future) -> None:
    if not future.cancelled() and future.exception() is None:
        future.result()[0].close()
