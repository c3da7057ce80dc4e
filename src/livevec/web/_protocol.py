"""The HTTP connection as the shop serves it: uvicorn's h11 protocol with the limits a public server
needs on what a client can make it hold before a request even reaches the app.

uvicorn bounds none of these with h11: a request head of 100 kB in many lines was read whole (h11's
own cap only applies to one incomplete event), a head that never finishes held its connection for
good, and a client sending one header line every few seconds kept resetting the keep-alive timer.
Here a head larger than `max_head` bytes is answered 431 and the connection closed, and a connection
that has not sent a whole head `head_timeout` seconds after it opened (or after its last response)
is closed. The number of connections is capped by uvicorn's own `limit_concurrency` (503 beyond).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol


@dataclass(frozen=True)
class ServerLimits:
    """What one client can make the server hold, before the app sees a request.

    Parameters:
        max_head: bytes of a request head (its line and headers); 431 beyond.
        head_timeout: seconds a connection has to send a whole request head; closed after.
        keep_alive: seconds an idle connection stays open between requests.
        max_connections: open connections and requests in all; 503 beyond.
        max_streams: open event and recommendation streams in all; 503 beyond.
        max_streams_per_client: the same per client address; 429 beyond.
    """

    max_head: int = 32_000
    head_timeout: float = 10.0
    keep_alive: float = 5.0
    max_connections: int = 1000
    max_streams: int = 500
    max_streams_per_client: int = 20


def protocol(limits: ServerLimits) -> type[asyncio.Protocol]:
    """uvicorn's h11 protocol with `limits` on request heads (give it to `uvicorn.Config(http=...)`)."""

    class LimitedH11Protocol(H11Protocol):
        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(transport)
            self._head_bytes = 0
            self._tail = b""  # the last bytes of the head so far: its end may straddle two reads
            self._head_timer: asyncio.TimerHandle | None = None
            self._await_head()

        def _await_head(self) -> None:
            if self._head_timer is None:
                self._head_timer = self.loop.call_later(limits.head_timeout, self._head_too_slow)

        def _head_arrived(self) -> None:
            self._head_bytes, self._tail = 0, b""
            if self._head_timer is not None:
                self._head_timer.cancel()
                self._head_timer = None

        def _head_too_slow(self) -> None:
            self._head_timer = None
            if self.conn.their_state is h11.IDLE and not self.transport.is_closing():
                self.transport.close()

        def data_received(self, data: bytes) -> None:
            if self.conn.their_state is h11.IDLE:  # this is (part of) a request head
                # only what comes before the blank line counts: a body may arrive in the same read
                window = self._tail + data
                end = window.find(b"\r\n\r\n")
                self._head_bytes += len(data) if end < 0 else max(0, end + 4 - len(self._tail))
                self._tail = window[-3:]
                if self._head_bytes > limits.max_head:
                    self._refuse_head()
                    return
            super().data_received(data)
            if self.conn.their_state is h11.IDLE and not self.transport.is_closing():
                self._await_head()
            else:
                self._head_arrived()

        def _refuse_head(self) -> None:
            body = f"the request head is larger than {limits.max_head} bytes".encode()
            self.transport.write(
                b"HTTP/1.1 431 Request Header Fields Too Large\r\ncontent-type: text/plain; charset=utf-8\r\n"
                b"connection: close\r\ncontent-length: %d\r\n\r\n%s" % (len(body), body)
            )
            self.transport.close()

        def on_response_complete(self) -> None:
            super().on_response_complete()
            if not self.transport.is_closing():
                self._await_head()  # the next request's head, if any, within the same time

        def connection_lost(self, exc: Exception | None) -> None:
            self._head_arrived()
            super().connection_lost(exc)

    return LimitedH11Protocol
