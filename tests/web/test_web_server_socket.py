"""The socket `livevec serve` listens on: asyncio must be able to turn Nagle's algorithm off on it."""

from __future__ import annotations

import asyncio
import socket

from livevec.web._server import _listen

from .conftest import run


def test_accepted_connections_send_at_once():
    # with Nagle's algorithm on, each response after the first on a kept-alive connection waited
    # ~40 ms for the client's delayed ACK (44 ms against 2.8 ms per request, measured)
    async def nodelay_of_an_accepted_connection() -> int:
        found: asyncio.Future[int] = asyncio.get_running_loop().create_future()

        class Probe(asyncio.Protocol):
            def connection_made(self, transport: asyncio.BaseTransport) -> None:
                sock = transport.get_extra_info("socket")
                found.set_result(sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
                transport.close()

        server = await asyncio.get_running_loop().create_server(
            Probe, sock=_listen("127.0.0.1", 0, socket.AF_INET)
        )
        port = server.sockets[0].getsockname()[1]
        _, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            return await asyncio.wait_for(found, 10)
        finally:
            writer.close()
            server.close()

    assert run(nodelay_of_an_accepted_connection()) != 0
