"""Child processes: a free port, waiting for a server, stopping a whole session."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import pytest

from fraudops.procs import free_port, http_status, start_group, stop_groups, wait_http

# a server's child: in the server's process group (uvicorn's workers), or in a group of its own
# (Airflow's task runners call setpgid: the group's signal misses them)
CHILD_GROUP = {"same group": "None", "own group": "0"}


@pytest.mark.parametrize("group", CHILD_GROUP)
def test_a_server_is_waited_for_and_its_whole_session_stopped(group: str, tmp_path: Path) -> None:
    port = free_port()
    child_pid = tmp_path / "child.pid"
    script = (
        "import subprocess, sys, http.server, pathlib;"
        "p = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(600)'],"
        f" process_group={CHILD_GROUP[group]});"
        f"pathlib.Path({str(child_pid)!r}).write_text(str(p.pid));"
        f"http.server.HTTPServer(('127.0.0.1', {port}), http.server.SimpleHTTPRequestHandler)"
        ".serve_forever()"
    )
    proc = start_group([sys.executable, "-c", script], log=tmp_path / "server.log", cwd=tmp_path)
    try:
        wait_http(f"http://127.0.0.1:{port}/", timeout=30, proc=proc)
        assert http_status(f"http://127.0.0.1:{port}/missing") == 404
    finally:
        stop_groups([proc], grace=5)
    assert proc.poll() is not None
    grandchild = int(child_pid.read_text())
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        try:
            os.kill(grandchild, 0)
        except ProcessLookupError:
            break
        time.sleep(0.05)
    else:
        pytest.fail("the server's child outlived the stop")
    assert http_status(f"http://127.0.0.1:{port}/") is None


def test_waiting_for_a_server_that_died_says_so(tmp_path: Path) -> None:
    proc = start_group([sys.executable, "-c", "raise SystemExit(3)"], log=tmp_path / "log")
    proc.wait()

    with pytest.raises(RuntimeError, match="exited with 3"):
        wait_http(f"http://127.0.0.1:{free_port()}/", timeout=5, proc=proc)


def test_waiting_for_nothing_times_out() -> None:
    with pytest.raises(TimeoutError):
        wait_http(f"http://127.0.0.1:{free_port()}/", timeout=0.5, interval=0.1)
