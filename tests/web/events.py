"""A client of the shop's `/events` stream, reading it in a background thread as a browser would."""

from __future__ import annotations

import json
import queue
import socket
import threading
import time
from typing import Any

import httpx


class EventStream:
    """Opens `/events` and collects its events; `ready` is set once the stream says it follows."""

    def __init__(self, base_url: str, *, params: dict | None = None, headers: dict | None = None) -> None:
        self.events: queue.Queue[dict[str, Any]] = queue.Queue()
        self.ready = threading.Event()
        self.content_type = ""
        self.retry_ms: int | None = None
        self.error: BaseException | None = None
        self._socket: socket.socket | None = None
        self._client = httpx.Client(base_url=base_url, timeout=httpx.Timeout(30, read=None))
        self._thread = threading.Thread(target=self._read, args=(params, headers), daemon=True)
        self._thread.start()
        if not self.ready.wait(60):
            raise AssertionError(f"/events did not start: {self.error!r}")

    def _read(self, params: dict | None, headers: dict | None) -> None:
        try:
            with self._client.stream("GET", "/events", params=params, headers=headers) as response:
                self.content_type = response.headers["content-type"]
                self._socket = response.extensions["network_stream"].get_extra_info("socket")
                data: list[str] = []
                event_id = None
                for line in response.iter_lines():
                    if line.startswith(":"):
                        self.ready.set()
                    elif line.startswith("retry:"):
                        self.retry_ms = int(line[6:])
                    elif line.startswith("id:"):
                        event_id = line[3:].strip()
                    elif line.startswith("data:"):
                        data.append(line[5:].strip())
                    elif not line and data:
                        self.events.put({**json.loads("\n".join(data)), "_event_id": event_id})
                        data, event_id = [], None
        except httpx.HTTPError as exc:  # closed by the test, or the server went away
            self.error = exc

    def take(self, product_id: str | None, count: int, timeout: float = 30) -> list[dict[str, Any]]:
        """The next `count` events about `product_id` (others are dropped), waiting up to `timeout`.

        None takes events about no product: a profile's activity, the news that the shoppers changed.
        """
        found: list[dict[str, Any]] = []
        deadline = time.monotonic() + timeout
        while len(found) < count:
            try:
                event = self.events.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                raise AssertionError(f"events for {product_id!r}: got only {found}") from None
            if event.get("id") == product_id:
                found.append(event)
        return found

    def until(self, product_id: str, timeout: float = 30) -> list[dict[str, Any]]:
        """Every event up to the first about `product_id`, that one included."""
        seen: list[dict[str, Any]] = []
        deadline = time.monotonic() + timeout
        while not seen or seen[-1].get("id") != product_id:
            try:
                seen.append(self.events.get(timeout=max(0.0, deadline - time.monotonic())))
            except queue.Empty:
                raise AssertionError(f"no event for {product_id!r} after {seen}") from None
        return seen

    def close(self) -> None:
        if self._socket is not None:  # wakes the reading thread, blocked until the next event
            self._socket.shutdown(socket.SHUT_RDWR)
        self._thread.join(10)
        assert not self._thread.is_alive()
        self._client.close()
