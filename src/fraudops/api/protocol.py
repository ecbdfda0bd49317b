"""uvicorn's HTTP protocol with the limits a proxy in front of a model server would add.

uvicorn with httptools puts no bound on a request's head: a 96 MB header or 500 connections
sending their headers one byte at a time hold a worker. As Envoy and nginx do in front of
KServe and Triton, this protocol refuses a head over ``max_header_bytes`` or with more than
``max_headers`` fields (431), closes a connection whose head is not complete within
``header_timeout`` or whose body stalls for ``body_timeout`` (408), and leaves the rest to
uvicorn, whose ``limit_concurrency`` answers a fast 503 beyond the bound. When the server
stops, a kept-alive connection with no request under way is not closed at once: a request
already on its way in it is answered first (see :meth:`GuardedHttpToolsProtocol.shutdown`).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol

from fraudops.config import Settings, get_settings

SHUTDOWN_GRACE = 1.0  # seconds an idle connection stays open once the server stops


@dataclass(frozen=True)
class Limits:
    """What one request may cost the server before it is refused."""

    max_header_bytes: int
    max_headers: int
    header_timeout: float
    body_timeout: float

    @classmethod
    def of(cls, settings: Settings) -> Limits:
        """The limits the settings give."""
        return cls(
            max_header_bytes=settings.api_max_header_bytes,
            max_headers=settings.api_max_headers,
            header_timeout=settings.api_header_timeout,
            body_timeout=settings.api_body_timeout,
        )


_configured: Limits | None = None


def configure(settings: Settings) -> None:
    """Set the limits of this process (workers started by uvicorn read the environment)."""
    global _configured
    _configured = Limits.of(settings)


def current_limits() -> Limits:
    """The configured limits, else those of the environment's settings."""
    return _configured or Limits.of(get_settings())


class _Refused(Exception):
    """Raised inside a parser callback to stop parsing a request we refuse."""


class GuardedHttpToolsProtocol(HttpToolsProtocol):
    """httptools, with bounded request heads and timeouts on slow clients."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.limits = current_limits()
        self._head: int | None = 0  # bytes of the head being read; None once it is complete
        self._tail = b""  # the last bytes seen, to find a head's end across reads
        self._fields = 0
        self._refusal: tuple[int, str] | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._stopping = False

    # -- timers --------------------------------------------------------------------------
    def _arm(self, seconds: float, status: int, message: str) -> None:
        self._disarm()
        self._timer = self.loop.call_later(seconds, self._timed_out, status, message)

    def _disarm(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _timed_out(self, status: int, message: str) -> None:
        self._timer = None
        if not self.transport.is_closing():
            self._refuse(status, message)

    def _refuse(self, status: int, message: str) -> None:
        body = message.encode()
        self.transport.write(
            b"".join(
                [
                    STATUS_LINE[status],
                    b"content-type: text/plain; charset=utf-8\r\n",
                    b"content-length: " + str(len(body)).encode() + b"\r\n",
                    b"connection: close\r\n\r\n",
                    body,
                ]
            )
        )
        self.transport.close()

    # -- connection and data -------------------------------------------------------------
    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        """Start the clock on the first request's head."""
        super().connection_made(transport)
        self._arm(self.limits.header_timeout, 408, "request head not received in time")

    def connection_lost(self, exc: Exception | None) -> None:
        """Stop the timers with the connection."""
        self._disarm()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        """Count the bytes of a head before the parser buffers them."""
        if self._head is not None:
            seen = self._tail + data
            end = seen.find(b"\r\n\r\n")
            self._head += len(data) if end < 0 else max(0, end + 4 - len(self._tail))
            self._tail = seen[-3:]
            if self._head > self.limits.max_header_bytes:
                limit = self.limits.max_header_bytes
                self._refuse(431, f"request head larger than {limit} bytes")
                return
        super().data_received(data)

    def send_400_response(self, msg: str) -> None:
        """A refusal raised from a parser callback, or uvicorn's own 400."""
        if self._refusal is not None:
            self._refuse(*self._refusal)
            return
        super().send_400_response(msg)

    # -- parser callbacks ----------------------------------------------------------------
    def on_message_begin(self) -> None:
        """A new request: its head is counted and timed from its first byte."""
        super().on_message_begin()
        self._fields = 0
        if self._head is None:
            self._head, self._tail = 0, b""
        if self._timer is None:
            self._arm(self.limits.header_timeout, 408, "request head not received in time")

    def on_header(self, name: bytes, value: bytes) -> None:
        """Count the fields of the head."""
        self._fields += 1
        if self._fields > self.limits.max_headers:
            self._refusal = (431, f"more than {self.limits.max_headers} header fields")
            raise _Refused
        super().on_header(name, value)

    def on_headers_complete(self) -> None:
        """The head is in: the body, if any, may not stall."""
        self._head = None
        self._disarm()
        self._arm(self.limits.body_timeout, 408, "request body not received in time")
        super().on_headers_complete()
        if self._stopping and self.cycle is not None:
            self.cycle.keep_alive = False  # answered with Connection: close, then closed

    # -- graceful shutdown ---------------------------------------------------------------
    def shutdown(self) -> None:
        """The server stops: finish the request under way, or one already on its way.

        uvicorn closes an idle kept-alive connection at once; a request the client sent just
        before (it could not know), still unread in the socket, was then reset unanswered.
        An idle connection stays open for ``SHUTDOWN_GRACE``: a request arriving meanwhile
        is answered with ``Connection: close``; the server waits for it before exiting.
        """
        self._stopping = True
        if self.cycle is None or self.cycle.response_complete:
            self.loop.call_later(SHUTDOWN_GRACE, self._close_if_idle)
        else:
            self.cycle.keep_alive = False

    def _close_if_idle(self) -> None:
        if self.cycle is None or self.cycle.response_complete:
            self.transport.close()

    def on_body(self, body: bytes) -> None:
        """Body bytes came: the stall clock starts again."""
        self._arm(self.limits.body_timeout, 408, "request body not received in time")
        super().on_body(body)

    def on_message_complete(self) -> None:
        """The request is in: no clock runs while the app answers."""
        self._disarm()
        super().on_message_complete()
