"""A stopping server answers a request that was already on its way on a kept-alive connection.

uvicorn closed an idle keep-alive connection as soon as its graceful shutdown began: a request
the client had sent a moment before the SIGTERM, still unread in the socket, was reset and
never answered (found by ``make chaos``: api: 2 hot swaps + SIGTERM under load). The protocol
is driven here as the event loop drives it, through a transport that delivers nothing once
closed, as a real one does.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from uvicorn.config import Config
from uvicorn.server import ServerState

from fraudops.api import protocol
from tests.support.settings import make_settings

REQUEST = b"GET / HTTP/1.1\r\nHost: api\r\n\r\n"


class Transport(asyncio.Transport):
    """What the protocol writes, and whether it closed the connection."""

    def __init__(self) -> None:
        super().__init__()
        self.written = b""
        self.closed = False

    def write(self, data: bytes | bytearray | memoryview) -> None:
        self.written += bytes(data)

    def close(self) -> None:
        self.closed = True

    def is_closing(self) -> bool:
        return self.closed

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return {"sockname": ("127.0.0.1", 8000), "peername": ("127.0.0.1", 50000)}.get(
            name, default
        )

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass


async def _app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"ok"})


async def _answers(transport: Transport, n: int) -> None:
    while transport.written.count(b"HTTP/1.1 200") < n:  # liveness only: bounded below
        await asyncio.sleep(0.01)


def test_a_request_sent_just_before_the_shutdown_is_answered(tmp_path: Any) -> None:
    protocol.configure(make_settings(tmp_path / "home"))

    async def scenario() -> Transport:
        config = Config(app=_app, lifespan="off", log_level="warning")
        config.load()
        conn = protocol.GuardedHttpToolsProtocol(
            config=config, server_state=ServerState(), app_state={}
        )
        transport = Transport()
        conn.connection_made(transport)
        conn.data_received(REQUEST)
        await asyncio.wait_for(_answers(transport, 1), 10)  # the connection is idle now

        conn.shutdown()  # the server stops; the client's next request is already on its way
        if not transport.is_closing():  # a closed transport delivers nothing more
            conn.data_received(REQUEST)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(_answers(transport, 2), 10)
        return transport

    transport = asyncio.run(scenario())

    assert transport.written.count(b"HTTP/1.1 200") == 2, "the second request was dropped"
    last = transport.written.rsplit(b"HTTP/1.1 200", 1)[1].lower()
    assert b"connection: close" in last  # answered, and told the connection ends
    assert transport.closed
