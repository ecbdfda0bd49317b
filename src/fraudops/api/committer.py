"""The inference log's committer: a process of each API worker's own that commits its rows.

Started with the worker (its imports and its opening of ``fraud.predictions`` never land
under live traffic), niced (a commit is never urgent, an answer always is), and deaf to
SIGINT/SIGTERM: the worker drains its last rows into it when it stops. Each commit appends
one snapshot, then forgets the log's old snapshots (``lake.forget_own``), so commits hardly
slow down as the table's history grows.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import os
import signal
from collections.abc import Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import TYPE_CHECKING

import pyarrow as pa

from fraudops.config import Settings
from fraudops.errors import redact

if TYPE_CHECKING:
    from pyiceberg.table import Table

log = logging.getLogger(__name__)

SOURCE = "api"  # the snapshot summary's fraudops.source of the log's commits
SNAPSHOTS_KEPT = 10  # the log's own snapshots the table's metadata keeps (at least)
NICENESS = 10  # the committer's CPU weight is a tenth of a serving process's


class Committer:
    """One worker's committer process, (re)started on demand."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._pool: ProcessPoolExecutor | None = None

    def _process(self) -> ProcessPoolExecutor:
        if self._pool is None:
            self._pool = ProcessPoolExecutor(
                max_workers=1,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=_background,
            )
        return self._pool

    def start(self) -> None:
        """Start the process and open the table in it, in the background."""
        self._process().submit(_open, self.settings).add_done_callback(_opened)

    async def commit(self, ipcs: Sequence[bytes]) -> None:
        """Append the Arrow IPC parts' rows as one snapshot.

        Raises:
            Exception: the lake refused (the rows are the caller's to keep).
        """
        try:
            await asyncio.wrap_future(self._process().submit(_append, self.settings, list(ipcs)))
        except BrokenProcessPool:  # the committer died: a new one takes the next try
            self._pool = None
            raise

    def stop(self) -> None:
        """Stop the process (after the last commit)."""
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None


def ipc_stream(data: pa.Table) -> bytes:
    """``data`` as an Arrow IPC stream, the committer process's input."""
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, data.schema) as writer:
        writer.write_table(data)
    return bytes(sink.getvalue().to_pybytes())


def _background() -> None:
    """In the committer: ignore a shutdown's signals, and give way to the serving process.

    The server drains into the committer before it stops; a commit is never urgent, an
    answer always is.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    os.nice(NICENESS)


_TABLES: dict[str, Table] = {}  # in the committer: fraud.predictions per catalog, opened once


def _table(settings: Settings) -> Table:
    """In the committer: ``fraud.predictions``, opened on first use and kept."""
    from fraudops import lake  # the committer's import: the serving process never opens the lake

    table = _TABLES.get(settings.catalog_url)
    if table is None:
        table = _TABLES[settings.catalog_url] = lake.predictions_table(lake.open_catalog(settings))
    return table


def _open(settings: Settings) -> None:
    """In the committer, at start-up: its imports done and ``fraud.predictions`` opened."""
    _table(settings)


def _opened(future: Future[None]) -> None:
    """The start-up's opening of the table, done: a failure is said, the first flush retries."""
    if not future.cancelled() and (exc := future.exception()) is not None:
        log.warning("inference log: the lake is not open yet: %s", redact(str(exc)))


def _append(settings: Settings, ipcs: Sequence[bytes]) -> int:
    """In the committer: the parts' rows appended to ``fraud.predictions`` as one snapshot."""
    from fraudops import lake

    table = _table(settings)
    data = pa.concat_tables([pa.ipc.open_stream(ipc).read_all() for ipc in ipcs])
    lake.append(table, data, properties={lake.appends.SOURCE_PROPERTY: SOURCE})
    lake.forget_own(table, source=SOURCE, keep=SNAPSHOTS_KEPT)
    return int(data.num_rows)
