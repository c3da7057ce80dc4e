"""`serve()`: run the shop with uvicorn until interrupted."""

from __future__ import annotations

import ipaddress
import os
import socket
from collections.abc import Callable, Iterable
from pathlib import Path

import uvicorn

from .._errors import LivevecError
from ._app import MAX_BODY, MAX_IMPORT, create_app
from ._protocol import ServerLimits, protocol
from ._security import LOOPBACK, check_token


def serve(
    db_url: str | Path,
    host: str = "127.0.0.1",
    port: int = 8000,
    *,
    token: str | None = None,
    allowed_hosts: Iterable[str] = (),
    max_body: int = MAX_BODY,
    max_import: int = MAX_IMPORT,
    limits: ServerLimits | None = None,
    on_ready: Callable[[str], None] | None = None,
) -> None:
    """Serve the shop on `host:port` until interrupted: what `livevec demo` and `livevec serve` run.

    The socket is bound first, so a busy port is a clear error and the address is the real one.

    Usage:
        ```python
        from livevec.web import ServerLimits, serve

        serve("shop.db", port=8000, limits=ServerLimits(max_streams=100), on_ready=print)
        ```

    Parameters:
        db_url: the shop's database: a SQLite file or a `postgresql://` URL.
        host: the address to listen on; beyond loopback it needs a `token` (see `check_exposure`).
        port: the port to listen on; 0 picks a free one.
        token: catalog writes and shoppers' data need `Authorization: Bearer <token>` (or a shopper
            token it mints).
        allowed_hosts: names, or IP networks such as "10.0.0.0/8", the Host header may name besides
            loopback ones and the address listened on (any IP address when that is all of them).
        max_body: bytes a request body may hold.
        max_import: bytes an import's body may hold.
        limits: what one client can make the server hold (request heads, idle connections, streams);
            `ServerLimits`' defaults fit a small server.
        on_ready: called with the page's address once the server answers requests (the model is
            loaded by then).

    Raises:
        LivevecError: no token beyond loopback, a bad token, or the address cannot be listened on.
    """
    limits = limits or ServerLimits()
    check_exposure(host, token)
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    try:
        sock = _listen(host, port, family)
    except OSError as exc:
        reason = os.strerror(exc.errno) if exc.errno else str(exc)
        raise LivevecError(f"cannot listen on {host}:{port}: {reason}; pick another --port") from None
    shown = {"0.0.0.0": "127.0.0.1", "::": "[::1]"}.get(
        host, f"[{host}]" if family == socket.AF_INET6 else host
    )
    # all addresses (0.0.0.0, and :: which takes IPv4 too): a rebinding page sends a name, not an address
    bound = {"0.0.0.0": ["0.0.0.0/0"], "::": ["::/0", "0.0.0.0/0"]}.get(host, [host])
    app = create_app(
        db_url,
        token=token,
        allowed_hosts=[*LOOPBACK, *bound, *allowed_hosts],
        max_body=max_body,
        max_import=max_import,
        max_streams=limits.max_streams,
        max_streams_per_client=limits.max_streams_per_client,
    )
    config = uvicorn.Config(
        app,
        http=protocol(limits),
        limit_concurrency=limits.max_connections,
        timeout_keep_alive=limits.keep_alive,
        log_level="warning",
        access_log=False,
        server_header=False,
        timeout_graceful_shutdown=5,
    )
    server = _Server(config, f"http://{shown}:{sock.getsockname()[1]}/", on_ready)
    server.run(sockets=[sock])


def _listen(host: str, port: int, family: socket.AddressFamily) -> socket.socket:
    """A listening TCP socket, made as `socket.create_server` makes it but for its protocol number:
    asyncio sets TCP_NODELAY only on sockets that say they are TCP (`create_server` says 0), and
    without it every response after the first on a kept-alive connection (a browser's) waited ~40 ms
    for the client's delayed ACK."""
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if family == socket.AF_INET6:
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        sock.bind((host, port))
        sock.listen(1024)  # hundreds of pages may connect at once
    except OSError:
        sock.close()
        raise
    return sock


def check_exposure(host: str, token: str | None) -> None:
    """Refuse to listen beyond this machine without a token: whoever reached the shop could rewrite it.

    Also refuses a token that cannot travel in a header as given.

    Parameters:
        host: the address the server would listen on.
        token: the service token, or None.

    Raises:
        LivevecError: no token for a host other than a loopback one (the message says how to set
            one), or a token that is not visible ASCII.
    """
    check_token(token)
    if token is None and not _loopback(host):
        raise LivevecError(
            f"--host {host} lets other machines reach the shop, and anyone could change its catalog: "
            "set a token first, in the LIVEVEC_TOKEN environment variable (or --token), e.g. "
            "export LIVEVEC_TOKEN=$(python -c 'import secrets; print(secrets.token_urlsafe(32))')"
        )


def _loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return host.lower() == "localhost"


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
