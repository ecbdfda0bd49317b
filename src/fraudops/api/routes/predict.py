"""``POST /predict`` (JSON) and ``POST /predict/csv``: score transactions with the served model."""

from __future__ import annotations

import logging
from typing import Annotated

import numpy as np
import pyarrow as pa
from fastapi import APIRouter, HTTPException, Query, Request, Response, Security, status
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic_core import to_json

from fraudops.api.auth import require_api_key
from fraudops.api.deps import HolderDep, MetricsDep, ModelDep, current_model
from fraudops.api.explain import explained, with_reasons
from fraudops.api.metrics import Metrics
from fraudops.api.openapi import CSV_BODY, ERRORS, JSON_BODY
from fraudops.api.schemas import PredictResponse, error_items
from fraudops.cardhistory import enrich, sources
from fraudops.cardhistory.stores import HistoryStore, StoreUnavailable
from fraudops.csvio import Unparseable, iter_csv, read_chunks, read_header, validate_chunk
from fraudops.errors import redact
from fraudops.scoring import FraudScorer, scored_table
from fraudops.validation import (
    RecordsRejected,
    Rejection,
    duplicate_rows,
    more_problems,
    parse_transactions,
    rejections,
)

log = logging.getLogger(__name__)

Explain = Annotated[
    bool,
    Query(
        description="Also give each transaction its top three reasons, strongest first, from "
        "XGBoost's TreeSHAP contributions (a reasons column for CSV)."
    ),
]
router = APIRouter(tags=["predict"], dependencies=[Security(require_api_key)])

CSV_CHUNK_ROWS = 100_000
MAX_ERRORS = 100  # problems listed in one 422


class CsvRejected(ValueError):
    """The CSV body cannot be scored as a whole; ``rejections`` say where and why."""

    def __init__(self, found: list[Rejection]) -> None:
        super().__init__(f"{len(found)} problem(s) in the CSV body")
        self.rejections = found


def _unprocessable(found: list[Rejection]) -> JSONResponse:
    return JSONResponse({"detail": error_items(found)}, status_code=422)


def _require_content_type(request: Request, *allowed: str) -> None:
    media_type = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if media_type not in allowed:
        raise HTTPException(
            status.HTTP_415_UNSUPPORTED_MEDIA_TYPE,
            f"Content-Type must be {' or '.join(allowed)}, not {media_type or 'missing'}",
        )


@router.post("/predict", response_model=PredictResponse, responses=ERRORS, openapi_extra=JSON_BODY)
async def predict(request: Request, holder: HolderDep, explain: Explain = False) -> Response:
    """Score one transaction or a list: fraud probability and decision per transaction.

    With ``explain=true`` each prediction also gives its top reasons (TreeSHAP, in words).
    """
    # settings and metrics come through the holder: each dependency FastAPI resolves costs
    # about 10 µs per request, a lot next to the ~100 µs of the prediction itself
    model = current_model(holder)
    _require_content_type(request, "application/json")
    try:
        records = parse_transactions(
            await request.body(), max_batch=holder.settings.max_batch, max_errors=MAX_ERRORS
        )
    except RecordsRejected as exc:
        return _unprocessable(exc.rejections)
    try:
        if explain:  # batched too, then a TreeSHAP pass for the reasons
            return await explained(request, model, records)
        proba, flags = await request.app.state.batcher.score(model, records)
    except StoreUnavailable as exc:
        raise _store_unavailable(exc, holder.metrics) from None
    body = to_json(
        {
            "model_name": model.name,
            "model_version": model.version,
            "threshold": model.threshold,
            "predictions": [
                {"transaction_id": r.transaction_id, "fraud_probability": p, "is_fraud": f}
                for r, p, f in zip(records, proba.tolist(), flags.tolist(), strict=True)
            ],
        }
    )
    return Response(body, media_type="application/json", headers={"X-Model-Version": model.version})


def _store_unavailable(exc: StoreUnavailable, metrics: Metrics) -> HTTPException:
    metrics.history_errors.inc()
    log.warning("%s", redact(str(exc)))
    return HTTPException(
        status.HTTP_503_SERVICE_UNAVAILABLE,
        "the card-history store is unavailable: transactions cannot be scored without "
        "their card's history (the API's log says why)",
        headers={"Retry-After": "5"},
    )


def score_csv(scorer: FraudScorer, body: bytes, store: HistoryStore) -> tuple[pa.Table, pa.Table]:
    """Validate every row of a CSV body (the inbox's reader and rules), then score it all.

    Each row's card history is the store's (read, not updated) plus the body's earlier rows.
    Returns the valid rows (typed, with their history features) and their scores.

    Raises:
        CsvRejected: the body is not a CSV of transactions, or rows are invalid (the first
            ``MAX_ERRORS`` problems listed, each with its data row number).
    """
    valid: list[pa.Table] = []
    rejected: list[pa.Table] = []
    ids: list[pa.ChunkedArray] = []
    rows: list[np.ndarray] = []
    try:
        names = read_header(body)
        for chunk in read_chunks(body, names, chunk_rows=CSV_CHUNK_ROWS):
            result = validate_chunk(chunk)
            valid.append(result.valid)
            rejected.append(result.rejected)
            ids.append(chunk.table["transaction_id"])
            rows.append(chunk.rows)
    except Unparseable as exc:
        raise CsvRejected([Rejection(None, "body", None, "csv_invalid", str(exc))]) from None
    all_ids = pa.chunked_array([c for a in ids for c in a.chunks], pa.string())
    rejected.append(duplicate_rows(all_ids, np.concatenate(rows)))
    problems = pa.concat_tables(rejected).sort_by([("row", "ascending")])
    if problems.num_rows:
        found = rejections(problems, limit=MAX_ERRORS)
        if problems.num_rows > MAX_ERRORS:
            found.append(more_problems(problems.num_rows - MAX_ERRORS))
        raise CsvRejected(found)
    inputs = pa.concat_tables(valid)
    inputs = enrich(inputs, sources.from_store(store, inputs))
    return inputs, scored_table(scorer, inputs)


@router.post(
    "/predict/csv",
    response_class=StreamingResponse,
    responses={
        **ERRORS,
        200: {
            "content": {"text/csv": {}},
            "description": "transaction_id,fraud_probability,is_fraud,model_version per row.",
        },
    },
    openapi_extra=CSV_BODY,
)
async def predict_csv(
    request: Request, model: ModelDep, metrics: MetricsDep, explain: Explain = False
) -> Response:
    """Score a CSV of transactions; the scored CSV streams back (422 lists rejected rows).

    With ``explain=true`` a ``reasons`` column gives each row's top reasons in words.
    """
    _require_content_type(request, "text/csv", "application/csv")
    body = await request.body()
    try:
        inputs, scored = await run_in_threadpool(
            score_csv, model.scorer, body, request.app.state.store
        )
    except CsvRejected as exc:
        return _unprocessable(exc.rejections)
    except StoreUnavailable as exc:
        raise _store_unavailable(exc, metrics) from None
    proba = np.asarray(scored["fraud_probability"].to_numpy())
    flags = np.asarray(scored["is_fraud"].to_numpy(zero_copy_only=False))
    metrics.scored(flags, proba)
    request.app.state.predictions.add(
        inputs,
        proba,
        flags,
        model_name=model.name,
        model_version=model.version,
        source="api-csv",
    )
    table = scored.append_column(
        "model_version", pa.repeat(pa.scalar(model.version, pa.string()), scored.num_rows)
    )
    if explain:
        table = await run_in_threadpool(with_reasons, table, model, inputs)
    return StreamingResponse(
        iter_csv(table), media_type="text/csv", headers={"X-Model-Version": model.version}
    )
