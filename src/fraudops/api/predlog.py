"""The inference log: what the API scored, committed to ``fraud.predictions`` in batches.

No request waits on the lake. A request appends its validated inputs and answers to a list
on the event loop (no lock: one thread); every few dozen batches the list is packed into
an Arrow part between two turns of the loop (under a millisecond), and every
``prediction_log_seconds`` the parts go to a committer process of this worker's own (started,
niced, with the server) and are committed as one Iceberg snapshot, so the table gets few,
large snapshots and pyiceberg's Python work (manifests, the catalog) never holds the serving
process's GIL. Shutting down (SIGTERM included) commits what is left. If the lake cannot be
reached the rows wait for the next try, up to ``prediction_log_max_rows``; beyond that the
oldest are dropped and counted, so memory stays bounded.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa

from fraudops.api.committer import Committer, ipc_stream
from fraudops.api.logrows import TS, Entry, Values, rows_of
from fraudops.api.metrics import Metrics
from fraudops.config import Settings
from fraudops.errors import redact
from fraudops.features import record_values
from fraudops.schema import PRODUCTION_ROLE

log = logging.getLogger(__name__)

PACK_ENTRIES = 32  # batch entries packed into Arrow at once: half a millisecond or so, so
PACK_ROWS = 512  # a pack never holds the event loop long enough to make the p99


@dataclass(frozen=True)
class _Part:
    """Entries' rows, already an Arrow IPC stream: what a flush hands the committer."""

    ipc: bytes
    rows: int


class PredictionLog:
    """Buffers the API's predictions and commits them to the lake in batches."""

    def __init__(self, settings: Settings, *, metrics: Metrics) -> None:
        self.settings = settings
        self.metrics = metrics
        self.enabled = settings.prediction_log
        self._pending: list[Entry] = []  # as the requests left them
        self._pending_rows = 0
        self._parts: list[_Part] = []  # packed, waiting for the next commit
        self._rows = 0  # both
        self._packing = False
        self._committer = Committer(settings)
        self._flushing = asyncio.Lock()

    @property
    def pending_rows(self) -> int:
        """Rows waiting for the next commit."""
        return self._rows

    def add(
        self,
        inputs: Sequence[Any] | Values | pa.Table,
        proba: np.ndarray,
        flags: np.ndarray,
        *,
        model_name: str,
        model_version: str,
        source: str,
        history: Mapping[str, np.ndarray] | None = None,
        role: str = PRODUCTION_ROLE,
    ) -> None:
        """Keep one request's predictions for the next commit (the request path: cheap).

        ``inputs``: records, or their columns (``features.record_values``), with their
        ``history`` features; or an enriched Arrow table. A shadow's (``role`` =
        ``SHADOW_ROLE``) needs only ``schema.LOGGED_KEY``'s columns and no history.
        """
        if not self.enabled or len(proba) == 0:
            return
        if not isinstance(inputs, pa.Table | Mapping):
            inputs = record_values(inputs)  # the columns, not the records, wait for the commit
        entry = Entry(
            inputs,
            proba,
            flags,
            model_name,
            model_version,
            dt.datetime.now(dt.UTC),
            source,
            history,
            role,
        )
        self._pending.append(entry)
        self._pending_rows += entry.rows
        self._rows += entry.rows
        if len(self._pending) >= PACK_ENTRIES or self._pending_rows >= PACK_ROWS:
            self._pack_soon()
        if self._rows > self.settings.prediction_log_max_rows:
            self._drop_oldest()
        self.metrics.prediction_log_pending.set(self._rows)

    def _pack_soon(self) -> None:
        """Pack the pending entries on the event loop's next turn (this batch answered first)."""
        if self._packing:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # no loop (a script): now
            self._pack()
            return
        self._packing = True
        loop.call_soon(self._pack)

    def _pack(self) -> None:
        """The pending entries as one Arrow IPC part."""
        # packed as they come: a flush's worth at once held the loop for tens of milliseconds
        self._packing = False
        if not self._pending:
            return
        entries, rows = self._pending, self._pending_rows
        self._pending, self._pending_rows = [], 0
        try:
            part = _Part(ipc_stream(rows_of(entries)), rows)
        except Exception:  # rows Arrow refuses would be refused by every later try too
            log.exception("inference log: %s rows could not be packed; dropped", rows)
            self._rows -= rows
            self.metrics.prediction_log_errors.inc()
            self.metrics.prediction_log_dropped.inc(rows)
            return
        self._parts.append(part)

    def start(self) -> None:
        """Start the committer, which opens ``fraud.predictions`` in the background.

        Its imports (a second of CPU) never land under live traffic. A lake that cannot be
        opened yet waits for the first flush.
        """
        if self.enabled:
            self._committer.start()

    def warm(self) -> None:
        """Pay the first flush's one-time cost now, before serving (a thread may call this).

        pyarrow's time zones load here: half a second, the GIL held.
        """
        if self.enabled:
            pa.array([dt.datetime.now(dt.UTC)], TS)

    def _drop_oldest(self) -> None:
        while self._rows > self.settings.prediction_log_max_rows and (self._parts or self._pending):
            if self._parts:
                rows = self._parts.pop(0).rows
            else:
                rows = self._pending.pop(0).rows
                self._pending_rows -= rows
            self._rows -= rows
            self.metrics.prediction_log_dropped.inc(rows)

    async def run(self) -> None:
        """Commit every ``prediction_log_seconds`` until cancelled."""
        while True:
            await asyncio.sleep(self.settings.prediction_log_seconds)
            await self.flush()

    async def flush(self) -> int:
        """Commit what is pending as one snapshot (in the committer process); rows committed."""
        async with self._flushing:
            self._pack()
            parts, self._parts = self._parts, []
            rows = sum(part.rows for part in parts)
            if not parts:
                return 0
            self._rows -= rows
            try:
                await self._committer.commit([part.ipc for part in parts])
            except Exception as exc:  # the lake is away: keep the rows for the next try
                self.metrics.prediction_log_errors.inc()
                log.warning("inference log: %s rows wait: %s", rows, redact(str(exc)))
                self._parts = parts + self._parts
                self._rows += rows
                self._drop_oldest()
                return 0
            finally:
                self.metrics.prediction_log_pending.set(self._rows)
            self.metrics.prediction_log_rows.inc(rows)
            return rows

    async def close(self) -> None:
        """Commit what is left (shutdown, SIGTERM), trying a few times."""
        for attempt in range(3):
            if not self._rows:
                return
            await self.flush()
            if self._rows:
                await asyncio.sleep(0.5 * (attempt + 1))
        if self._rows:
            log.error("inference log: %s rows could not be committed at shutdown", self._rows)

    def stop(self) -> None:
        """Stop the committer process (after :meth:`close`)."""
        self._committer.stop()
