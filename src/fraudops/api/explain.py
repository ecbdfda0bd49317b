"""``/predict?explain=true``: the answer of ``/predict`` with each transaction's top reasons.

Explained requests go through the batcher like any other (one store step, one booster call,
one log entry); their TreeSHAP pass then goes to the worker's :class:`ExplainQueue`. A
TreeSHAP call has a fixed cost on top of its rows' (and a row's costs a hundred times its
prediction: ``make bench ARGS=explain``), so, like the batcher, the queue runs one call at a
time per worker, in a thread (XGBoost lets go of the GIL: the event loop goes on serving),
and the rows that arrive meanwhile go together into the next call. A client that does not
ask for reasons never pays for them.
"""

from __future__ import annotations

import asyncio
import os
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

Explained = tuple[np.ndarray, np.ndarray, list[list[Reason]]]  # probability, decision, reasons


@dataclass
class _Asked:
    """One request's rows waiting for their reasons, with the answers already scored."""

    scorer: FraudScorer
    matrix: np.ndarray
    times: Sequence[Any]
    proba: np.ndarray
    flags: np.ndarray
    answer: asyncio.Future[Any] = field(repr=False)


class ExplainQueue:
    """A worker's TreeSHAP passes: one call at a time, the rows asked meanwhile together.

    The served booster scores with one thread (a request's rows are few); a TreeSHAP pass
    over a batch takes milliseconds and splits its rows over every core, with a copy of the
    booster of its own, made once per model.
    """

    def __init__(self) -> None:
        self.threads = os.cpu_count() or 1
        self._asked: list[_Asked] = []
        self._runner: asyncio.Task[None] | None = None
        self._wide: tuple[FraudScorer, FraudScorer] | None = None  # (served, its copy)

    def _explainer(self, scorer: FraudScorer) -> FraudScorer:
        if self.threads == 1:
            return scorer
        if self._wide is None or self._wide[0] is not scorer:
            booster = scorer.booster.copy()
            booster.set_param({"nthread": self.threads})
            self._wide = (scorer, FraudScorer(booster, scorer.threshold))
        return self._wide[1]

    def ask(
        self,
        scorer: FraudScorer,
        matrix: np.ndarray,
        times: Sequence[Any],
        scored: tuple[np.ndarray, np.ndarray],
        answer: asyncio.Future[Any],
    ) -> None:
        """Explain ``matrix``'s rows; ``answer`` gets (probability, decision, reasons)."""
        self._asked.append(_Asked(scorer, matrix, times, scored[0], scored[1], answer))
        if self._runner is None:
            self._runner = asyncio.get_running_loop().create_task(
                self._run(), name="fraudops-explain"
            )

    async def _run(self) -> None:
        try:
            while self._asked:
                scorer = self._asked[0].scorer  # a model swap: each model's rows apart
                batch = [a for a in self._asked if a.scorer is scorer]
                self._asked = [a for a in self._asked if a.scorer is not scorer]
                matrix = np.concatenate([a.matrix for a in batch])
                times = [t for a in batch for t in a.times]
                try:
                    explainer = self._explainer(scorer)
                    found = await asyncio.to_thread(explain_matrix, explainer, matrix, times=times)
                except Exception as exc:  # noqa: BLE001  (it goes to the requests that asked)
                    for asked in batch:
                        settle(asked.answer, exc)
                    continue
                start = 0
                for asked in batch:
                    end = start + len(asked.matrix)
                    settle(asked.answer, (asked.proba, asked.flags, found[start:end]))
                    start = end
        finally:
            self._runner = None


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
