"""A process's process starts, thread starts and environment writes, recorded in order.

Why the order matters: a process started (vfork, then exec with this process's environment)
while another thread adds a variable to the environment may read it mid-change; its exec
fails silently and it exits with 255. MLflow, scikit-learn and XGBoost add variables as they
load, so what starts processes starts them before the threads that load those libraries.

In code run in a fresh interpreter, call :func:`record`; or run a module under it:
``python -m tests.support.startorder OUT MODULE ARG...`` writes the events to OUT (JSON) as
the process exits.
"""

from __future__ import annotations

import atexit
import json
import os
import runpy
import sys
import threading
from multiprocessing import util
from typing import Any

EVENTS: list[list[str]] = []  # [kind, thread name, detail]


def record() -> list[list[str]]:
    """Start recording; returns the list the events are appended to.

    multiprocessing starts every process, the resource tracker's too, with
    ``util.spawnv_passfds``; ``os.environ`` writes through ``os.putenv``.
    """
    putenv, spawn, start_thread = os.putenv, util.spawnv_passfds, threading.Thread.start

    def recording_putenv(key: Any, value: Any) -> None:
        EVENTS.append(["env", threading.current_thread().name, os.fsdecode(key)])
        putenv(key, value)

    def recording_spawn(path: Any, args: Any, passfds: Any) -> int:
        EVENTS.append(["start", threading.current_thread().name, os.fsdecode(args[-1])])
        try:
            return spawn(path, args, passfds)
        finally:
            EVENTS.append(["started", threading.current_thread().name, ""])

    def recording_thread_start(thread: threading.Thread) -> None:
        EVENTS.append(["thread", threading.current_thread().name, thread.name])
        start_thread(thread)

    os.putenv = recording_putenv
    util.spawnv_passfds = recording_spawn
    threading.Thread.start = recording_thread_start  # type: ignore[method-assign]
    return EVENTS


def env_writes_before_last_start(events: list[list[str]]) -> list[list[str]]:
    """The environment writes made before the recording's last process start ended."""
    kinds = [event[0] for event in events]
    assert "started" in kinds, "no process was started"
    last = len(kinds) - 1 - kinds[::-1].index("started")
    return [event for event in events[:last] if event[0] == "env"]


def main() -> None:
    """``OUT MODULE ARG...``: run MODULE as ``__main__`` with the arguments, recording."""
    out, module, *args = sys.argv[1:]
    record()
    atexit.register(lambda: open(out, "w").write(json.dumps(EVENTS)))
    sys.argv = [module, *args]
    runpy.run_module(module, run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main()
