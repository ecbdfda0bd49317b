"""One file: validate every row, score the valid ones, stage the outputs; lake rows.

Three passes, memory bounded by the file's typed valid rows plus a batch:

1. read and validate the file chunk by chunk (:mod:`fraudops.inbox.checkfile`): rejected
   rows to the rejected CSV, valid rows kept typed in memory, repeated ``transaction_id``
   values rejected after;
2. the card-history features of every valid row, at once, from the lake's history of the
   file's cards plus the file's own earlier rows (event-time order, not file order);
3. score the valid rows batch by batch, a writer thread writing the scored CSV of a batch
   while the next one is scored; the predictions (typed inputs, features, scores) stay in
   memory, and both lake commits are made from them.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv

from fraudops.cardhistory import EVENT_COLUMNS, HISTORY_FEATURES, enrich
from fraudops.csvio import WRITE_OPTIONS, neutralise_table, read_header
from fraudops.explain import COLUMN, reasons_column
from fraudops.features import FEATURE_NAMES, build_features, columns_from_table
from fraudops.inbox.checkfile import (
    HistoryOf,
    ReadProgress,
    add_rejected,
    check_file,
    without_repeats,
)
from fraudops.inbox.overlap import Behind
from fraudops.inbox.report import Stopwatch
from fraudops.memory import release
from fraudops.schema import arrow_schema
from fraudops.scoring import FraudScorer, score_matrix

SCORED_CSV_SCHEMA = pa.schema(
    [
        ("transaction_id", pa.string()),
        ("fraud_probability", pa.float64()),
        ("is_fraud", pa.bool_()),
        ("model_name", pa.string()),
        ("model_version", pa.string()),
    ]
)
PREDICTIONS_SCHEMA = pa.schema(
    [
        *arrow_schema(),
        *(pa.field(name, pa.float64()) for name in HISTORY_FEATURES),
        *(f for f in SCORED_CSV_SCHEMA if f.name != "transaction_id"),
    ]
)
SCORE_COLUMNS = ("fraud_probability", "is_fraud")
BATCH_ROWS = 100_000  # rows scored and committed at a time (with the chunk size: memory)
# a file's valid rows -> their history features, fraud_probability and is_fraud, in row order
# (the Spark engine: the same features and scoring code on executors)
RemoteScoring = Callable[[pa.Table], pa.Table]


def no_history(rows: pa.Table) -> pa.Table | None:
    """Nothing before the file: each row's history is the file's earlier rows."""
    return None


@dataclass(frozen=True)
class Staged:
    """Outputs of one input: files in staging, not yet published; predictions for the lake."""

    scored: Path
    rejected: Path | None
    predictions: list[pa.Table]  # PREDICTIONS_SCHEMA, in row order
    rows_scored: int
    rows_rejected: int


def _constant(value: str, n: int) -> pa.Array:
    return pa.repeat(pa.scalar(value, pa.string()), n)


def _token(path: Path) -> str:
    return hashlib.sha256(str(path).encode()).hexdigest()[:16]


def score_file(
    path: Path,
    *,
    scorer: FraudScorer,
    model_name: str,
    model_version: str,
    staging: Path,
    chunk_rows: int,
    history: HistoryOf = no_history,
    remote: RemoteScoring | None = None,
    on_progress: ReadProgress | None = None,
    explain: bool = False,
    watch: Stopwatch | None = None,
) -> Staged:
    """Validate and score every row of a CSV file into staged outputs.

    ``history`` gives the transactions of the file's cards before the file (the lake's);
    ``remote``, when given, computes the features and scores instead (Spark); ``explain``
    adds a ``reasons`` column to the scored CSV (``fraudops.explain``); ``watch`` times
    the steps.

    Raises:
        Unparseable: the file is not a CSV of transactions (nothing is staged).
    """
    names = read_header(path)
    token = _token(path)
    scored_path = staging / f"{token}.scored.csv"
    rejected_path = staging / f"{token}.rejected.csv"
    watch = watch or Stopwatch()
    with watch.step("validate"):
        checked = check_file(path, names, chunk_rows, rejected_path, on_progress)
    with watch.step("lake_history"):
        valid, past, dups, keep = without_repeats(checked, history if remote is None else None)
    rows_rejected = checked.rows_rejected
    if dups.num_rows:
        rows_rejected += int((~keep).sum())
        add_rejected(rejected_path if checked.rejected_written else None, rejected_path, dups)
    scores = None
    events = valid.select(list(EVENT_COLUMNS))
    if remote is None:
        with watch.step("card_history"):
            features = enrich(events, past).select(list(HISTORY_FEATURES))
    else:
        with watch.step("spark"):
            done = remote(valid)
        features, scores = done.select(list(HISTORY_FEATURES)), done.select(list(SCORE_COLUMNS))
    release()
    predictions = _score_valid(
        valid,
        features,
        scores=scores,
        scorer=scorer,
        names=(model_name, model_version),
        scored_path=scored_path,
        explain=explain,
        watch=watch,
    )
    release()
    has_rejected = checked.rejected_written or dups.num_rows > 0
    return Staged(
        scored_path,
        rejected_path if has_rejected else None,
        predictions,
        valid.num_rows,
        rows_rejected,
    )


def _score_valid(
    valid: pa.Table,
    features: pa.Table,
    *,
    scores: pa.Table | None,
    scorer: FraudScorer,
    names: tuple[str, str],
    scored_path: Path,
    explain: bool = False,
    watch: Stopwatch,
) -> list[pa.Table]:
    """Pass 3: score every valid row in one booster call; the scored CSV is written behind.

    The model matrix is built a batch at a time; one call for the whole file (not one per
    batch) spares the booster's threads a start and a wait per batch. ``scores`` holds the
    rows' probabilities and decisions when they were computed elsewhere (Spark).
    """
    n_all = valid.num_rows
    matrix = np.empty((n_all if scores is None else 0, len(FEATURE_NAMES)), dtype=np.float32)
    batches: list[pa.Table] = []
    with watch.step("features"):
        for start in range(0, n_all, BATCH_ROWS):
            kept = valid.slice(start, BATCH_ROWS)
            n = kept.num_rows
            history = features.slice(start, n).columns
            for name, values in zip(HISTORY_FEATURES, history, strict=True):
                kept = kept.append_column(name, values)
            if scores is None:
                build_features(columns_from_table(kept), out=matrix[start : start + n])
            batches.append(kept)
    if scores is None:
        with watch.step("predict"):
            proba, flag = score_matrix(scorer, matrix)
    else:  # scored already, by the same code elsewhere
        proba = scores["fraud_probability"].to_numpy()
        flag = scores["is_fraud"].to_numpy(zero_copy_only=False)
    del matrix
    predictions: list[pa.Table] = []
    schema = SCORED_CSV_SCHEMA.append(pa.field(COLUMN, pa.string())) if explain else None
    with (
        watch.step("outbox"),
        pacsv.CSVWriter(
            scored_path, schema or SCORED_CSV_SCHEMA, write_options=WRITE_OPTIONS
        ) as out,
        Behind() as writer,
    ):
        start = 0
        for kept in batches:
            n = kept.num_rows
            scored = [pa.array(proba[start : start + n]), pa.array(flag[start : start + n])]
            model = (_constant(names[0], n), _constant(names[1], n))
            reasons = [reasons_column(scorer, kept)] if schema else []
            rows = pa.Table.from_arrays(
                [kept["transaction_id"], *scored, *model, *reasons],
                schema=schema or SCORED_CSV_SCHEMA,
            )
            writer.submit(functools.partial(_write, out, rows))
            predictions.append(
                pa.Table.from_arrays([*kept.columns, *scored, *model], schema=PREDICTIONS_SCHEMA)
            )
            start += n
    return predictions


def _write(out: pacsv.CSVWriter, rows: pa.Table) -> None:
    out.write_table(neutralise_table(rows))
