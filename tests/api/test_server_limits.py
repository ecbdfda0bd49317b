"""``fraudops serve`` (real uvicorn, real sockets) holds up against hostile clients.

Huge or slow request heads and too many connections must not stall anyone else: the server
refuses them (431, 408, a fast 503) and keeps answering the others.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator

import httpx
import pytest

from fraudops.config import Settings
from fraudops.procs import wait_until
from tests.support.api import served

pytestmark = [pytest.mark.integration, pytest.mark.slow]

HEADER_TIMEOUT = 2.0
CONCURRENCY = 40


@pytest.fixture(scope="module")
def server(served_settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    settings = served_settings.model_copy(
        update={"serving_cache": tmp_path_factory.mktemp("limits-cache")}
    )
    with served(
        settings,
        log=tmp_path_factory.mktemp("limits") / "serve.log",
        FRAUDOPS_API_HEADER_TIMEOUT=str(HEADER_TIMEOUT),
        FRAUDOPS_API_MAX_CONCURRENCY=str(CONCURRENCY),
        FRAUDOPS_API_MAX_HEADER_BYTES="16384",
    ) as url:
        yield url


def _connect(url: str) -> socket.socket:
    host, port = url.removeprefix("http://").split(":")
    return socket.create_connection((host, int(port)), timeout=30)


def _answer(sock: socket.socket) -> bytes:
    """Everything the server sends until it closes the connection."""
    chunks = []
    while chunk := sock.recv(65536):
        chunks.append(chunk)
    return b"".join(chunks)


def test_a_huge_header_is_refused_and_others_are_still_served(server: str) -> None:
    sock = _connect(server)
    try:
        sock.sendall(b"GET /health/live HTTP/1.1\r\nHost: x\r\nX-Big: ")
        try:
            for _ in range(2_000):  # up to 96 MB, refused long before
                sock.sendall(b"a" * 48_000)
        except (BrokenPipeError, ConnectionResetError):
            pass
        answer = b""
        try:
            answer = _answer(sock)
        except ConnectionResetError:
            pass
    finally:
        sock.close()
    assert answer == b"" or answer.startswith(b"HTTP/1.1 431")
    assert httpx.get(f"{server}/health/live").status_code == 200


def test_too_many_header_fields_get_431(server: str) -> None:
    headers = {f"x-field-{i}": "v" for i in range(150)}

    resp = httpx.get(f"{server}/health/live", headers=headers)

    assert resp.status_code == 431


def test_slow_heads_are_cut_off_and_do_not_stall_others(server: str) -> None:
    slow = [_connect(server) for _ in range(CONCURRENCY - 5)]
    try:
        for sock in slow:
            sock.sendall(b"GET /health/live HTTP/1.1\r\nHost: x\r\n")  # and never the rest
        assert httpx.get(f"{server}/health/live").status_code == 200  # others still served
        for sock in slow:  # each is closed by the server once its head is overdue
            answer = _answer(sock)
            assert answer == b"" or answer.startswith(b"HTTP/1.1 408"), answer[:80]
    finally:
        for sock in slow:
            sock.close()


def test_beyond_the_concurrency_bound_answers_a_fast_503_then_recovers(server: str) -> None:
    idle = [_connect(server) for _ in range(CONCURRENCY)]
    try:
        resp = wait_until(
            lambda: (r := httpx.get(f"{server}/health/live")).status_code == 503 and r,
            what="a 503 at the bound",
            timeout=10,
        )
        assert resp.status_code == 503
    finally:
        for sock in idle:
            sock.close()
    wait_until(
        lambda: httpx.get(f"{server}/health/live").status_code == 200,
        what="the server to answer again",
        timeout=30,
    )
