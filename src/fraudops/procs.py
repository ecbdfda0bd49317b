"""Child processes and local servers: free ports, readiness, stopping whole process groups.

The local Airflow, the demo's MLflow UI, the benchmarks and the tests all start servers as
subprocesses in their own session; they are found, waited for and stopped through here.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable
from contextlib import suppress
from typing import TypeVar

LOOPBACK = "127.0.0.1"
T = TypeVar("T")


def free_port(host: str = LOOPBACK) -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def http_status(url: str, *, timeout: float = 3.0) -> int | None:
    """The status of a GET (None when nothing answers)."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:
            return int(resp.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)
    except (OSError, ValueError):
        return None


def wait_http(
    url: str,
    *,
    timeout: float = 60.0,
    proc: subprocess.Popen[bytes] | None = None,
    ready: Callable[[int], bool] = lambda status: status < 500,
    interval: float = 0.3,
) -> None:
    """Wait until a GET of ``url`` answers with a status ``ready`` accepts.

    Raises:
        RuntimeError: ``proc`` exited before the URL answered.
        TimeoutError: nothing good answered within ``timeout`` seconds.
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"the process serving {url} exited with {proc.returncode}")
        status = http_status(url, timeout=2.0)
        if status is not None and ready(status):
            return
        time.sleep(interval)
    raise TimeoutError(f"{url} did not answer within {timeout:.0f} s")


def wait_until(
    condition: Callable[[], T | None],
    *,
    what: str,
    timeout: float = 60.0,
    interval: float = 0.05,
) -> T:
    """Poll ``condition()`` until it returns something truthy, and return that.

    A bound on liveness, never a speed check: the timeout is generous.

    Raises:
        TimeoutError: still nothing after ``timeout`` seconds.
    """
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"gave up waiting for {what} after {timeout:.0f} s")
        time.sleep(interval)


def start_group(
    argv: list[str],
    *,
    env: dict[str, str] | None = None,
    log: os.PathLike[str] | str | None = None,
    cwd: os.PathLike[str] | str | None = None,
) -> subprocess.Popen[bytes]:
    """Start a command in a new session (its own process group), output appended to ``log``."""
    if log is None:
        return subprocess.Popen(
            argv, env=env, cwd=cwd, stdin=subprocess.DEVNULL, start_new_session=True
        )
    with open(log, "ab") as out:
        return subprocess.Popen(
            argv,
            env=env,
            cwd=cwd,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )


def session_groups(leader: int) -> set[int]:
    """The process groups of the session ``leader`` started (``start_new_session``).

    Airflow's task runners move into a process group of their own (``setpgid``) but stay in
    the session, so signalling the leader's group alone would leave them running. Linux lists
    every process in /proc; elsewhere this is the leader's group alone.
    """
    groups = {leader}
    with suppress(OSError):
        for entry in os.listdir("/proc"):
            if entry.isdigit():
                with suppress(OSError):  # gone meanwhile, or not ours to see
                    if os.getsid(int(entry)) == leader:
                        groups.add(os.getpgid(int(entry)))
    return groups


def _signal_sessions(procs: Iterable[subprocess.Popen[bytes]], sig: signal.Signals) -> None:
    for proc in procs:
        for group in session_groups(proc.pid):
            with suppress(ProcessLookupError, PermissionError):
                os.killpg(group, sig)


def stop_groups(processes: Iterable[subprocess.Popen[bytes]], *, grace: float = 20.0) -> None:
    """SIGTERM each process's session, then SIGKILL what is left after ``grace`` seconds.

    Children outlive their leader (uvicorn workers, Airflow's task runners, which take a
    process group of their own), so every process group of the session is signalled, not only
    the process that was started.
    """
    procs = list(processes)
    _signal_sessions(procs, signal.SIGTERM)
    deadline = time.monotonic() + grace
    try:
        for proc in procs:
            with suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
    except KeyboardInterrupt:  # a second Ctrl-C: stop waiting
        pass
    _signal_sessions(procs, signal.SIGKILL)
    for proc in procs:
        with suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=5)
