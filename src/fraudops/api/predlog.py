"""The inference log: what the API scored, committed to ``fraud.predictions`` in batches.

No request waits on the lake. A request appends its validated inputs and answers to a list
on the event loop (no lock: one thread); every ``prediction_log_seconds`` the list is swapped
out, turned into one Arrow table, and committed as one Iceberg snapshot by a committer
process of this worker's own, so the table gets few, large snapshots and pyiceberg's Python
work (manifests, the catalog) never holds the serving process's GIL. Shutting down
(SIGTERM included) commits what is left. If the lake cannot be reached the rows wait for
the next try, up to ``prediction_log_max_rows``; beyond that the oldest are dropped and
counted, so memory stays bounded.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import itertools
import logging
import multiprocessing
import signal
from collections.abc import Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import anyio.to_thread
import numpy as np
import pyarrow as pa

from fraudops.api.metrics import Metrics
from fraudops.cardhistory import HISTORY_FEATURES
from fraudops.config import Settings
from fraudops.errors import redact
from fraudops.features import record_values
from fraudops.schema import TRANSACTION_COLUMNS, arrow_schema

if TYPE_CHECKING:
    from pyiceberg.table import Table

log = logging.getLogger(__name__)

_NAMES = tuple(c.name for c in TRANSACTION_COLUMNS)
_TS = pa.timestamp("us", tz="UTC")


Values = Mapping[str, Sequence[Any]]  # records' columns, as ``features.record_values`` gives


@dataclass(frozen=True)
class _Entry:
    """One request's worth of predictions (its records' columns or an Arrow table of inputs)."""

    inputs: Values | pa.Table
    proba: np.ndarray
    flags: np.ndarray
    model_name: str
    model_version: str
    predicted_at: dt.datetime
    source: str
    history: Mapping[str, np.ndarray] | None  # records' card-history features
    role: str = "production"  # or "shadow": scored beside production, not answered

    @property
    def rows(self) -> int:
        return len(self.proba)


def rows_of(entries: Sequence[_Entry]) -> pa.Table:
    """Entries as rows of ``fraud.predictions``, built column by column for all at once.

    A request's records are kept as the columns the request path took from them once (no
    model objects wait in the buffer for the collector to walk), so a flush only copies
    columns: one Arrow array per input column for all the records of the flush.
    """
    tables = [e for e in entries if isinstance(e.inputs, pa.Table)]
    records = [e for e in entries if not isinstance(e.inputs, pa.Table)]
    parts: list[pa.Table] = []
    if records:
        schema = arrow_schema()
        arrays = [pa.array(_joined([e.inputs[f.name] for e in records]), f.type) for f in schema]
        inputs = pa.Table.from_arrays(arrays, schema=schema)
        for name in HISTORY_FEATURES:
            values = [e.history[name] for e in records if e.history is not None]
            assert len(values) == len(records), "records come with their history features"
            inputs = inputs.append_column(name, pa.array(np.concatenate(values), pa.float64()))
        parts.append(_with_answers(inputs, records))
    for entry in tables:
        assert isinstance(entry.inputs, pa.Table)
        inputs = entry.inputs.select(list(_NAMES)).cast(arrow_schema())
        for name in HISTORY_FEATURES:
            inputs = inputs.append_column(name, entry.inputs[name])
        parts.append(_with_answers(inputs, [entry]))
    return pa.concat_tables(parts)


def _joined(columns: list[Sequence[Any]]) -> Sequence[Any]:
    return columns[0] if len(columns) == 1 else list(itertools.chain.from_iterable(columns))


def _with_answers(inputs: pa.Table, entries: Sequence[_Entry]) -> pa.Table:
    counts = [e.rows for e in entries]

    def each(values: list[Any], type_: pa.DataType) -> pa.Array:
        return pa.array([v for v, n in zip(values, counts, strict=True) for _ in range(n)], type_)

    return (
        inputs.append_column(
            "fraud_probability", pa.array(np.concatenate([e.proba for e in entries]), pa.float64())
        )
        .append_column("is_fraud", pa.array(np.concatenate([e.flags for e in entries]), pa.bool_()))
        .append_column("model_name", each([e.model_name for e in entries], pa.string()))
        .append_column("model_version", each([e.model_version for e in entries], pa.string()))
        .append_column("predicted_at", each([e.predicted_at for e in entries], _TS))
        .append_column("source", each([e.source for e in entries], pa.string()))
        .append_column("role", each([e.role for e in entries], pa.string()))
    )


class PredictionLog:
    """Buffers the API's predictions and commits them to the lake in batches."""

    def __init__(self, settings: Settings, *, metrics: Metrics) -> None:
        self.settings = settings
        self.metrics = metrics
        self.enabled = settings.prediction_log
        self._pending: list[_Entry] = []
        self._rows = 0
        self._pool: ProcessPoolExecutor | None = None
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
        role: str = "production",
    ) -> None:
        """Keep one request's predictions for the next commit (the request path: cheap).

        ``inputs``: records, or their columns (``features.record_values``), with their
        ``history`` features; or an enriched Arrow table.
        """
        if not self.enabled or len(proba) == 0:
            return
        if not isinstance(inputs, pa.Table | Mapping):
            inputs = record_values(inputs)  # the columns, not the records, wait for the commit
        entry = _Entry(
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
        self._rows += entry.rows
        if self._rows > self.settings.prediction_log_max_rows:
            self._drop_oldest()
        self.metrics.prediction_log_pending.set(self._rows)

    def warm(self) -> None:
        """Load what the first flush would (pyarrow's time zones: half a second, the GIL held)."""
        if self.enabled:
            pa.array([dt.datetime.now(dt.UTC)], _TS)

    def _drop_oldest(self) -> None:
        while self._pending and self._rows > self.settings.prediction_log_max_rows:
            dropped = self._pending.pop(0)
            self._rows -= dropped.rows
            self.metrics.prediction_log_dropped.inc(dropped.rows)

    async def run(self) -> None:
        """Commit every ``prediction_log_seconds`` until cancelled."""
        while True:
            await asyncio.sleep(self.settings.prediction_log_seconds)
            await self.flush()

    async def flush(self) -> int:
        """Commit what is pending as one snapshot (in the committer process); rows committed."""
        async with self._flushing:
            entries, self._pending, rows = self._pending, [], self._rows
            self._rows = 0
            if not entries:
                return 0
            try:
                await self._commit(entries)
            except Exception as exc:  # the lake is away: keep the rows for the next try
                self.metrics.prediction_log_errors.inc()
                log.warning("inference log: %s rows wait: %s", rows, redact(str(exc)))
                self._pending = entries + self._pending
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
            if not self._pending:
                return
            await self.flush()
            if self._pending:
                await asyncio.sleep(0.5 * (attempt + 1))
        if self._pending:
            log.error("inference log: %s rows could not be committed at shutdown", self._rows)

    def _committer(self) -> ProcessPoolExecutor:
        if self._pool is None:
            self._pool = ProcessPoolExecutor(
                max_workers=1, mp_context=multiprocessing.get_context("spawn"), initializer=_quiet
            )
        return self._pool

    async def _commit(self, entries: list[_Entry]) -> None:
        ipc = await anyio.to_thread.run_sync(_serialised, entries)
        try:
            await asyncio.wrap_future(self._committer().submit(_append, self.settings, ipc))
        except BrokenProcessPool:  # the committer died: a new one takes the next try
            self._pool = None
            raise

    def stop(self) -> None:
        """Stop the committer process (after :meth:`close`)."""
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None


def _serialised(entries: Sequence[_Entry]) -> bytes:
    """The entries' rows as an Arrow IPC stream, for the committer process."""
    data = rows_of(entries)
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, data.schema) as writer:
        writer.write_table(data)
    return bytes(sink.getvalue().to_pybytes())


def _quiet() -> None:
    """In the committer: ignore what a shutdown sends; the server drains into it first."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)


_TABLES: dict[str, Table] = {}  # in the committer: fraud.predictions per catalog, opened once


def _append(settings: Settings, ipc: bytes) -> int:
    """In the committer: the rows appended to ``fraud.predictions`` as one snapshot."""
    from fraudops import lake  # the committer's import: the serving process never opens the lake

    table = _TABLES.get(settings.catalog_url)
    if table is None:
        table = _TABLES[settings.catalog_url] = lake.predictions_table(lake.open_catalog(settings))
    data = pa.ipc.open_stream(ipc).read_all()
    lake.append(table, data, properties={"fraudops.source": "api"})
    return int(data.num_rows)
