"""Overlap the passes over one file: a reader thread ahead of the work, a writer behind it.

Arrow's CSV parser and compute kernels, XGBoost and file writes release the GIL, so a
thread reading the next chunk (or writing the previous batch) runs beside the main one.
Both are bounded (memory stays a few chunks), both hand their errors to the main thread,
and both stop when the main thread stops, whatever the reason.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, TypeVar

T = TypeVar("T")
_POLL = 0.1  # seconds a blocked reader waits before checking whether it should stop


def prefetch(items: Iterator[T], *, depth: int = 2) -> Iterator[T]:
    """``items`` produced in a thread, at most ``depth`` ahead; its errors are raised here."""
    slots: queue.Queue[tuple[bool, Any]] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def put(entry: tuple[bool, Any]) -> bool:
        while not stop.is_set():
            try:
                slots.put(entry, timeout=_POLL)
            except queue.Full:
                continue
            return True
        return False

    def run() -> None:
        try:
            for item in items:
                if not put((True, item)):
                    return
            put((False, None))
        except BaseException as exc:  # noqa: BLE001  (re-raised in the consuming thread)
            put((False, exc))
        finally:
            close = getattr(items, "close", None)
            if close is not None:
                close()

    thread = threading.Thread(target=run, name="fraudops-inbox-reader", daemon=True)
    thread.start()
    try:
        while True:
            more, item = slots.get()
            if more:
                yield item
            elif item is None:
                return
            else:
                raise item
    finally:
        stop.set()
        thread.join()


class Behind:
    """Run jobs in order in one thread, at most one waiting behind the one running."""

    def __init__(self) -> None:
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="fraudops-inbox-writer")
        self._pending: list[Future[None]] = []

    def submit(self, job: Callable[[], None]) -> None:
        """Queue ``job``; first wait for (and raise the error of) all but the last one queued."""
        while len(self._pending) > 1:
            self._pending.pop(0).result()
        self._pending.append(self._pool.submit(job))

    def __enter__(self) -> Behind:
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            for job in self._pending:  # every job ends before the files are closed
                if exc[0] is None:
                    job.result()
                else:
                    job.exception()
        finally:
            self._pool.shutdown(wait=True)
