"""Dynamic batching of ``POST /predict``: concurrent requests of a worker scored together.

Each booster call and each card-history store transaction has a fixed cost (about 90 µs
and a write transaction) that a one-transaction request pays alone. Like Triton's dynamic
batcher, the requests a worker has validated while the event loop was busy are gathered
into one batch: one store step (record, fetch, in event-time order, as if the requests had
come one after the other), one booster call, one entry in the inference log, one update of
the metrics. Each request then gets exactly its own rows back, in its own order. Requests
that ask for reasons (``explain=true``) are batched alike, then wait for their rows'
TreeSHAP call in the worker's explaining thread (``api.explain``).

A batch is closed when the event loop has turned once without a new request (a lone
request waits one turn: tens of microseconds), when it holds ``batch_max_rows``
transactions, or ``batch_max_wait_us`` after its first request. A batch that fails for a
reason other than the store (which fails everyone alike: a 503 each) is scored again one
request at a time, so one request's failure is its own. Once its answers are settled, a
batch's feature rows go to the shadow model, if there is one (``api.shadow``).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from fraudops.api.explain import Asked, Explained, ExplainQueue, settle
from fraudops.api.holder import LoadedModel
from fraudops.api.metrics import Metrics
from fraudops.api.predlog import PredictionLog
from fraudops.api.shadow import ShadowScorer
from fraudops.cardhistory.online import record_and_compute
from fraudops.cardhistory.stores import HistoryStore, StoreUnavailable
from fraudops.features import build_features, columns_from_values, record_values
from fraudops.scoring import score_matrix

log = logging.getLogger(__name__)

Scored = tuple[np.ndarray, np.ndarray]  # (probability, decision) per transaction


@dataclass
class _Waiting:
    """One request in a batch: its model, its records, and the future its answer goes to."""

    model: LoadedModel
    records: Sequence[Any]
    answer: asyncio.Future[Any] = field(repr=False)  # Scored, or Explained if it asked
    explain: bool = False


class PredictBatcher:
    """Gathers a worker's concurrent requests into batches and scores each batch at once."""

    def __init__(
        self,
        *,
        store: HistoryStore,
        metrics: Metrics,
        predictions: PredictionLog,
        max_rows: int,
        max_wait_us: float,
        clock: Callable[[], float] = time.perf_counter,
        shadow: ShadowScorer | None = None,
    ) -> None:
        self.store = store
        self.shadow = shadow
        self.metrics = metrics
        self.predictions = predictions
        self.max_rows = max_rows
        self.max_wait = max_wait_us / 1e6
        self.clock = clock
        self._queue: list[_Waiting] = []
        self._rows = 0
        self._collector: asyncio.Task[None] | None = None
        self.explainer = ExplainQueue()

    async def score(self, model: LoadedModel, records: Sequence[Any]) -> Scored:
        """(probability, decision) for ``records``, scored in the next batch.

        Raises:
            StoreUnavailable: the card-history store did not answer for this batch.
        """
        answer: Scored = await self._wait(model, records, explain=False)
        return answer

    async def explain(self, model: LoadedModel, records: Sequence[Any]) -> Explained:
        """(probability, decision, reasons) for ``records``.

        Scored in the next batch, then explained in the worker's explaining thread.

        Raises:
            StoreUnavailable: the card-history store did not answer for this batch.
        """
        answer: Explained = await self._wait(model, records, explain=True)
        return answer

    async def _wait(self, model: LoadedModel, records: Sequence[Any], *, explain: bool) -> Any:
        loop = asyncio.get_running_loop()
        waiting = _Waiting(model, records, loop.create_future(), explain)
        self._queue.append(waiting)
        self._rows += len(records)
        if self._rows >= self.max_rows:
            self._flush()
        elif self._collector is None:
            self._collector = loop.create_task(self._collect(), name="fraudops-predict-batch")
        return await waiting.answer

    async def _collect(self) -> None:
        """Close the batch once the loop turns with nothing new, or it is full, or late."""
        deadline = self.clock() + self.max_wait
        seen = 0
        while self._queue and len(self._queue) != seen and self.clock() < deadline:
            seen = len(self._queue)
            await asyncio.sleep(0)
        self._collector = None
        self._flush()

    def _flush(self) -> None:
        batch, self._queue, self._rows = self._queue, [], 0
        if self._collector is not None:  # full early: this batch's collector has nothing to do
            self._collector.cancel()
            self._collector = None
        by_model: dict[int, list[_Waiting]] = {}
        for waiting in batch:  # a model swap between requests: each keeps its own model
            by_model.setdefault(id(waiting.model), []).append(waiting)
        for group in by_model.values():
            self._score(group)

    def _score(self, group: list[_Waiting]) -> None:
        try:
            self._answer(group)
        except StoreUnavailable as exc:
            for waiting in group:
                settle(waiting.answer, exc)
        except Exception as exc:
            if len(group) == 1:
                settle(group[0].answer, exc)
                return
            log.warning("a batch of %d requests failed; scoring them one by one", len(group))
            for waiting in group:
                try:
                    self._answer([waiting])
                except Exception as own:  # noqa: BLE001  (it goes to its own request)
                    settle(waiting.answer, own)

    def _answer(self, group: list[_Waiting]) -> None:
        model = group[0].model
        records = [r for waiting in group for r in waiting.records]
        history = self.history(records)
        values = record_values(records)  # once: the model's columns and the log's rows
        matrix = build_features(columns_from_values(values, history))  # the shadow's too
        proba, flags = score_matrix(model.scorer, matrix)
        self.metrics.batch_rows.observe(len(records))
        self.answered(model, records, history, proba, flags, values=values)
        start = 0
        asked: list[Asked] = []  # the batch's explained requests: one call for them together
        for waiting in group:
            end = start + len(waiting.records)
            if waiting.explain:
                times = values["event_ts"][start:end]
                rows = (matrix[start:end], times, proba[start:end], flags[start:end])
                asked.append(Asked(model.scorer, *rows, answer=waiting.answer))
            else:
                settle(waiting.answer, (proba[start:end], flags[start:end]))
            start = end
        self.explainer.ask(asked)
        self.shadowed(values, matrix)

    def history(self, records: Sequence[Any]) -> dict[str, np.ndarray]:
        """The records' card-history features, each recorded in the store on the way (timed).

        Raises:
            StoreUnavailable: the store did not answer.
        """
        started = time.perf_counter()
        history = record_and_compute(self.store, records)
        self.metrics.history_seconds.observe(time.perf_counter() - started)
        return history

    def answered(
        self,
        model: LoadedModel,
        records: Sequence[Any],
        history: dict[str, np.ndarray],
        proba: np.ndarray,
        flags: np.ndarray,
        *,
        values: Mapping[str, Sequence[Any]] | None = None,
    ) -> None:
        """Count what the API scored and keep it for the inference log.

        ``values``: the records' columns if the caller took them (``features.record_values``).
        """
        self.metrics.scored(flags, proba)
        self.predictions.add(
            records if values is None else values,
            proba,
            flags,
            history=history,
            model_name=model.name,
            model_version=model.version,
            source="api",
        )

    def shadowed(self, values: Mapping[str, Sequence[Any]], matrix: np.ndarray) -> None:
        """After the answers are settled: the shadow model scores the same rows, later."""
        if self.shadow is None:
            return
        try:
            self.shadow.add(values, matrix)
        except Exception:  # never back into the batch's error path: it would score it again
            self.metrics.shadow_errors.inc()
            log.exception("the shadow model could not take a batch")
