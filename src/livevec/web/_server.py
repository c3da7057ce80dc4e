"""`serve()`: run the shop with uvicorn until interrupted."""

from __future__ import annotations

import os
import socket
from collections.abc import Callable
from pathlib import Path

import uvicorn

from .._errors import LivevecError
from ._app import create_app


def serve(
    db_url: str | Path,
    host: str = "127.0.0.1",
    port: int = 8000,
    *,
    on_ready: Callable[[str], None] | None = None,
) -> None:
    """Serve the shop on `host:port` (port 0 picks a free one) until interrupted.

    `on_ready` gets the page's address once the server answers requests (the model is loaded by then).
    The socket is bound first, so a busy port is a clear error and the address is the real one.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    try:
        sock = socket.create_server((host, port), family=family)
    except OSError as exc:
        reason = os.strerror(exc.errno) if exc.errno else str(exc)
        raise LivevecError(f"cannot listen on {host}:{port}: {reason}; pick another --port") from None
    shown = {"0.0.0.0": "127.0.0.1", "::": "[::1]"}.get(
        host, f"[{host}]" if family == socket.AF_INET6 else host
    )
    config = uvicorn.Config(
        create_app(db_url),
        log_level="warning",
        access_log=False,
        timeout_graceful_shutdown=5,
    )
    server = _Server(config, f"http://{shown}:{sock.getsockname()[1]}/", on_ready)
    server.run(sockets=[sock])


class _Server(uvicorn.Server):
    """uvicorn's server, telling `on_ready` when it answers requests and ending event streams on exit."""

    def __init__(self, config: uvicorn.Config, url: str, on_ready: Callable[[str], None] | None) -> None:
        super().__init__(config)
        self.url = url
        self.on_ready = on_ready

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        if self.started and self.on_ready is not None:
            self.on_ready(self.url)

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        # uvicorn waits for open responses to finish; event streams finish only when told to
        shop = getattr(self.config.app.state, "shop", None)
        if shop is not None:
            shop.changes.close()
        await super().shutdown(sockets)
