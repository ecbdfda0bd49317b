"""``/predict?explain=true``: the answer of ``/predict`` with each transaction's top reasons.

Explained requests go through the batcher like any other (one store step, one booster call,
one log entry); their rows then go to the worker's :class:`ExplainQueue` for TreeSHAP. A
row's TreeSHAP costs more than its prediction (``make bench ARGS=explain``), so it runs beside
the event loop, in a thread of its own (numpy lets go of the GIL for the table's lookups),
while the loop goes on answering, parsing and scoring the next requests. A client that does
not ask for reasons never pays for them.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa
from fastapi import Request, Response
from pydantic_core import to_json

from fraudops.api.holder import LoadedModel
from fraudops.explain import COLUMN, Reason, explain_matrix, reasons_column
from fraudops.scoring import FraudScorer

log = logging.getLogger(__name__)

Explained = tuple[np.ndarray, np.ndarray, list[list[Reason]]]  # probability, decision, reasons
CALL_ROWS = 64  # a call takes no more waiting requests once it has this many rows
IDLE_SECONDS = 1.0  # the explaining thread stops after this long with nothing to do
# The serving process hands the GIL over every 0.1 ms (Python's default: 5 ms). After each
# step that let go of it (a table lookup, an XGBoost call) the explaining thread needs the GIL
# back for a few microseconds of Python; behind a busy event loop it waited up to the whole
# interval, several times a call.
GIL_SWITCH_SECONDS = 0.0001


@dataclass
class Asked:
    """One request's rows waiting for their reasons, with the answers already scored."""

    scorer: FraudScorer
    matrix: np.ndarray
    times: Sequence[Any]
    proba: np.ndarray
    flags: np.ndarray
    answer: asyncio.Future[Any] = field(repr=False)


class ExplainQueue:
    """A worker's TreeSHAP calls, made one after another by a thread of their own.

    The thread takes the requests waiting (whole, until it has ``CALL_ROWS`` rows),
    explains them in one call, hands the answers to the event loop and goes straight on to
    what arrived meanwhile. It never waits for the loop between two calls: when it did (a
    task on the loop started each call), the loop, busy answering and scoring the next wave
    of requests, left the calls' thread idle a third of the time, and the worker's two
    halves took turns instead of working together. The thread stops after ``IDLE_SECONDS``
    with nothing to do, and starts again with the next request.
    """

    def __init__(self) -> None:
        self._asked: queue.SimpleQueue[list[Asked]] = queue.SimpleQueue()
        self._lock = threading.Lock()  # the thread's start and stop, against a new request
        self._thread: threading.Thread | None = None

    def ask(self, asked: list[Asked]) -> None:
        """Explain a batch's requests, in one call if they fit.

        Each answer gets (probability, decision, reasons), or the call's error.
        """
        if not asked:
            return
        with self._lock:
            self._asked.put(asked)
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._serve, name="fraudops-explain", daemon=True
                )
                self._thread.start()

    def _serve(self) -> None:
        held: list[Asked] = []  # another model's requests (a swap), for the next call
        while True:
            batch, held = self._take(held)
            if not batch:
                return
            try:
                matrix = np.concatenate([a.matrix for a in batch])
                times = [t for a in batch for t in a.times]
                outcome: Any = explain_matrix(batch[0].scorer, matrix, times=times)
            except Exception as exc:  # noqa: BLE001  (it goes to the requests that asked)
                outcome = exc
            try:
                batch[0].answer.get_loop().call_soon_threadsafe(_answer_all, batch, outcome)
            except RuntimeError:  # the loop is closed: nobody waits for these any more
                log.debug("explained %d requests after their event loop closed", len(batch))

    def _take(self, held: list[Asked]) -> tuple[list[Asked], list[Asked]]:
        """(the next call's requests, the ones held back); ([], []) after an idle spell."""
        waiting = held
        if not waiting:
            try:
                waiting = self._asked.get(timeout=IDLE_SECONDS)
            except queue.Empty:
                with self._lock:  # no request slips in between this check and the stop
                    if self._asked.empty():
                        self._thread = None
                        return [], []
                waiting = self._asked.get()
        rows = sum(len(a.matrix) for a in waiting)
        while rows < CALL_ROWS:
            try:
                more = self._asked.get_nowait()
            except queue.Empty:
                break
            waiting = waiting + more
            rows += sum(len(a.matrix) for a in more)
        scorer = waiting[0].scorer  # a model swap: each model's rows apart
        return [a for a in waiting if a.scorer is scorer], [
            a for a in waiting if a.scorer is not scorer
        ]


def _answer_all(batch: list[Asked], outcome: Any) -> None:
    """On the event loop: each request of a call gets its own rows' reasons, or the error."""
    if isinstance(outcome, BaseException):
        for asked in batch:
            settle(asked.answer, outcome)
        return
    start = 0
    for asked in batch:
        end = start + len(asked.matrix)
        settle(asked.answer, (asked.proba, asked.flags, outcome[start:end]))
        start = end


def settle(answer: asyncio.Future[Any], outcome: object) -> None:
    """Give a waiting request its answer or its error (unless it went away)."""
    if answer.done():  # the request went away (client gone, server stopping)
        return
    if isinstance(outcome, BaseException):
        answer.set_exception(outcome)
    else:
        answer.set_result(outcome)


async def explained(request: Request, model: LoadedModel, records: Sequence[Any]) -> Response:
    """Score validated records as ``/predict`` does, and give each its reasons.

    Raises:
        StoreUnavailable: the card-history store did not answer.
    """
    proba, flags, found = await request.app.state.batcher.explain(model, records)
    body = to_json(
        {
            "model_name": model.name,
            "model_version": model.version,
            "threshold": model.threshold,
            "predictions": [
                {
                    "transaction_id": r.transaction_id,
                    "fraud_probability": p,
                    "is_fraud": f,
                    "reasons": why,  # dataclasses: serialised as they are
                }
                for r, p, f, why in zip(records, proba.tolist(), flags.tolist(), found, strict=True)
            ],
        }
    )
    return Response(body, media_type="application/json", headers={"X-Model-Version": model.version})


def with_reasons(table: pa.Table, model: LoadedModel, inputs: pa.Table) -> pa.Table:
    """The scored CSV's table with a ``reasons`` column (``/predict/csv?explain=true``)."""
    return table.append_column(COLUMN, reasons_column(model.scorer, inputs))
