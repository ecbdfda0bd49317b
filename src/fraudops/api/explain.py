"""``/predict?explain=true``: the answer of ``/predict`` with each transaction's top reasons.

Its own branch off the request path: the TreeSHAP pass costs more than the prediction, and a
client that does not ask for reasons never pays for it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

import numpy as np
import pyarrow as pa
from fastapi import Request, Response
from fastapi.concurrency import run_in_threadpool
from pydantic_core import to_json

from fraudops.api.holder import LoadedModel
from fraudops.explain import COLUMN, Reason, explain_matrix, reasons_column
from fraudops.features import build_features, columns_from_values, record_values
from fraudops.scoring import score_matrix

INLINE_ROWS = 4  # more rows: the TreeSHAP pass runs in a worker thread, off the event loop

Found = tuple[np.ndarray, np.ndarray, list[list[Reason]]]


def _score_and_explain(model: LoadedModel, matrix: np.ndarray, times: Sequence[Any]) -> Found:
    proba, flags = score_matrix(model.scorer, matrix)
    return proba, flags, explain_matrix(model.scorer, matrix, times=list(times))


async def explained(
    request: Request,
    model: LoadedModel,
    records: Sequence[Any],
) -> Response:
    """Score validated records as ``/predict`` does, and give each its reasons.

    Raises:
        StoreUnavailable: the card-history store did not answer.
    """
    batcher = request.app.state.batcher  # the store step and the log, as /predict's
    history = batcher.history(records)
    values = record_values(records)  # once: the model's columns, the log's and the shadow's
    matrix = build_features(columns_from_values(values, history))
    times = values["event_ts"]
    if len(records) > INLINE_ROWS:  # a batch's TreeSHAP takes long: never block the loop
        proba, flags, found = await run_in_threadpool(_score_and_explain, model, matrix, times)
    else:
        proba, flags, found = _score_and_explain(model, matrix, times)
    batcher.answered(model, records, history, proba, flags, values=values)
    batcher.shadowed(values, history, matrix)
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
                    "reasons": [dataclasses.asdict(reason) for reason in why],
                }
                for r, p, f, why in zip(records, proba.tolist(), flags.tolist(), found, strict=True)
            ],
        }
    )
    return Response(body, media_type="application/json", headers={"X-Model-Version": model.version})


def with_reasons(table: pa.Table, model: LoadedModel, inputs: pa.Table) -> pa.Table:
    """The scored CSV's table with a ``reasons`` column (``/predict/csv?explain=true``)."""
    return table.append_column(COLUMN, reasons_column(model.scorer, inputs))
