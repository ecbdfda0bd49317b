"""A TCP proxy in front of an endpoint that cuts connections in the middle of a transfer.

Why a proxy rather than stopping moto's server: a stopped server refuses new connections,
which clients see before sending a byte and simply retry; a real endpoint failing mid-file
also breaks transfers already under way: a download ends halfway, an upload is reset after
part of its body. While ``cutting`` is on, every connection (old or new) forwards part of
its next chunk, in either direction, then is reset (RST), so both kinds of failure happen.
The proxy counts the connections it cut: that count is the fault, measured outside the
system under test.
"""

from __future__ import annotations

import random
import socket
import struct
import threading
from contextlib import suppress

from fraudops.procs import LOOPBACK, free_port

Pair = tuple[socket.socket, socket.socket]


class FaultProxy:
    """Forwards ``127.0.0.1:<port>`` to ``target``; cuts transfers while ``cutting`` is set."""

    def __init__(self, target_host: str, target_port: int, *, seed: int = 0) -> None:
        self.target = (target_host, target_port)
        self.port = free_port()
        self.endpoint = f"http://{LOOPBACK}:{self.port}"
        self.cutting = threading.Event()
        self.cuts = 0
        self._rng = random.Random(seed)
        self._lock = threading.Lock()
        self._listener = socket.create_server((LOOPBACK, self.port))
        self._open: set[socket.socket] = set()
        self._half_closed: dict[Pair, int] = {}
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._accept, daemon=True)

    def start(self) -> None:
        """Start accepting connections."""
        self._thread.start()

    def stop(self) -> None:
        """Stop accepting and reset every connection."""
        self._stopped.set()
        with suppress(OSError):
            self._listener.close()
        with self._lock:
            for sock in list(self._open):
                _reset(sock)

    def _accept(self) -> None:
        while not self._stopped.is_set():
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(self.target, timeout=10)
            except OSError:
                _reset(client)
                continue
            upstream.settimeout(None)
            with self._lock:
                self._open.update((client, upstream))
            pair: Pair = (client, upstream)
            for src, dst in (pair, pair[::-1]):
                threading.Thread(target=self._pump, args=(src, dst, pair), daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket, pair: Pair) -> None:
        try:
            while True:
                data = src.recv(65536)
                if not data:  # a clean end of this direction: pass it on
                    with suppress(OSError):
                        dst.shutdown(socket.SHUT_WR)
                    self._finish(pair, reset=False)
                    return
                if self.cutting.is_set():
                    with self._lock:
                        keep = self._rng.randrange(len(data))
                    dst.sendall(data[:keep])  # part of the transfer gets through, then a reset
                    self._finish(pair, reset=True)
                    return
                dst.sendall(data)
        except OSError:
            self._finish(pair, reset=True)

    def _finish(self, pair: Pair, *, reset: bool) -> None:
        """Reset both ends, or close them once both directions ended cleanly."""
        with self._lock:
            if not set(pair) <= self._open:
                return  # the other direction already ended this connection
            if reset:
                self.cuts += 1 if self.cutting.is_set() else 0
            else:
                self._half_closed[pair] = self._half_closed.get(pair, 0) + 1
                if self._half_closed[pair] < 2:
                    return
            self._open.difference_update(pair)
            self._half_closed.pop(pair, None)
        for sock in pair:
            if reset:
                _reset(sock)
            else:
                with suppress(OSError):
                    sock.close()


def _reset(sock: socket.socket) -> None:
    """Close with an RST (linger 0), as a dying endpoint or a broken network does."""
    with suppress(OSError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    with suppress(OSError):
        sock.close()
