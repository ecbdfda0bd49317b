"""One file: validate every row, score the valid ones, stage the outputs; lake rows.

Three passes, memory bounded by a chunk plus a few columns of the file:

1. validate the file chunk by chunk: rejected rows to the rejected CSV, valid rows (typed)
   to a staged Parquet file; repeated ``transaction_id`` values are rejected after;
2. the card-history features of every valid row, at once, from the lake's history of the
   file's cards plus the file's own earlier rows (event-time order, not file order);
3. score the valid rows batch by batch: the scored CSV for the outbox, and the predictions
   (typed inputs, features, scores) as Parquet, from which both lake commits are made.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from fraudops.cardhistory import EVENT_COLUMNS, HISTORY_FEATURES, enrich
from fraudops.csvio import (
    WRITE_OPTIONS,
    neutralise_table,
    read_chunks,
    read_header,
    read_typed,
    validate_chunk,
)
from fraudops.explain import COLUMN, reasons_column
from fraudops.schema import arrow_schema
from fraudops.scoring import FraudScorer, scored_table
from fraudops.validation import REJECTED_SCHEMA, duplicate_rows

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
BATCH_ROWS = 100_000  # rows scored and committed at a time (with the chunk size: memory)
HistoryOf = Callable[[pa.Table], pa.Table | None]  # a file's valid rows -> earlier history
ReadProgress = Callable[[int], None]  # bytes of the file read so far


def no_history(rows: pa.Table) -> pa.Table | None:
    """Nothing before the file: each row's history is the file's earlier rows."""
    return None


_TS = pa.timestamp("us", tz="UTC")


@dataclass(frozen=True)
class Staged:
    """Outputs of one input, written to staging, not yet published or committed."""

    scored: Path
    rejected: Path | None
    predictions: Path
    rows_scored: int
    rows_rejected: int


def file_hash(path: Path) -> str:
    """SHA-256 of a file's bytes (hex)."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(4 * 1024 * 1024):
            digest.update(block)
    return digest.hexdigest()


def _constant(value: str, n: int) -> pa.Array:
    return pa.repeat(pa.scalar(value, pa.string()), n)


def predictions_path(staging: Path, path: Path) -> Path:
    """Where :func:`score_file` stages the predictions of ``path``."""
    return staging / f"{hashlib.sha256(str(path).encode()).hexdigest()[:16]}.predictions.parquet"


def score_file(
    path: Path,
    *,
    scorer: FraudScorer,
    model_name: str,
    model_version: str,
    staging: Path,
    chunk_rows: int,
    history: HistoryOf = no_history,
    on_progress: ReadProgress | None = None,
    explain: bool = False,
) -> Staged:
    """Validate and score every row of a CSV file into staged outputs.

    ``history`` gives the transactions of the file's cards before the file (the lake's);
    ``explain`` adds a ``reasons`` column to the scored CSV (``fraudops.explain``).

    Raises:
        Unparseable: the file is not a CSV of transactions (nothing is staged).
    """
    names = read_header(path)
    predictions = predictions_path(staging, path)
    token = predictions.name.split(".", 1)[0]
    scored_path = staging / f"{token}.scored.csv"
    rejected_path = staging / f"{token}.rejected.csv"
    valid_path = staging / f"{token}.valid.parquet"
    ids: list[pa.Array] = []  # every row's transaction_id: uniqueness is per file
    id_rows: list[np.ndarray] = []
    valid_rows: list[np.ndarray] = []
    rows_rejected = 0
    rejected_writer: pacsv.CSVWriter | None = None
    try:
        # a scratch file read back once: not worth compressing
        with pq.ParquetWriter(valid_path, arrow_schema(), compression="none") as valid_out:
            for chunk in read_chunks(path, names, chunk_rows=chunk_rows, on_progress=on_progress):
                result = validate_chunk(chunk)
                if result.rejected.num_rows:
                    if rejected_writer is None:
                        rejected_writer = pacsv.CSVWriter(
                            rejected_path, REJECTED_SCHEMA, write_options=WRITE_OPTIONS
                        )
                    rejected_writer.write_table(neutralise_table(result.rejected))
                    rows_rejected += len(pc.unique(result.rejected["row"]))
                valid_out.write_table(result.valid.cast(arrow_schema()))
                ids.append(chunk.table["transaction_id"].combine_chunks())
                id_rows.append(chunk.rows)
                valid_rows.append(result.valid_rows)
                _release()
    finally:
        if rejected_writer is not None:
            rejected_writer.close()
    rows = np.concatenate(id_rows) if id_rows else np.zeros(0, np.int64)
    dups = duplicate_rows(pa.chunked_array(ids, pa.string()), rows)
    scored_rows = np.concatenate(valid_rows) if valid_rows else np.zeros(0, np.int64)
    keep = ~np.isin(scored_rows, dups["row"].to_numpy())
    if dups.num_rows:
        rows_rejected += int((~keep).sum())
        _add_rejected(rejected_path if rejected_writer else None, rejected_path, dups)
    features = _history_features(valid_path, keep, history)
    _release()
    rows_scored = _score_valid(
        valid_path,
        keep,
        features,
        scorer=scorer,
        names=(model_name, model_version),
        scored_path=scored_path,
        predictions=predictions,
        explain=explain,
    )
    valid_path.unlink()
    has_rejected = rejected_writer is not None or dups.num_rows > 0
    return Staged(
        scored_path,
        rejected_path if has_rejected else None,
        predictions,
        rows_scored,
        rows_rejected,
    )


def _release() -> None:
    """Hand the chunk's freed Arrow memory back (the allocator would keep it for reuse)."""
    pa.default_memory_pool().release_unused()


def _add_rejected(earlier: Path | None, path: Path, dups: pa.Table) -> None:
    """Merge the repeated ids into the rejected rows, in row order."""
    before = read_typed(earlier, REJECTED_SCHEMA) if earlier else REJECTED_SCHEMA.empty_table()
    merged = pa.concat_tables([before, neutralise_table(dups)]).sort_by([("row", "ascending")])
    pacsv.write_csv(merged, path, write_options=WRITE_OPTIONS)


def _history_features(valid: Path, keep: np.ndarray, history: HistoryOf) -> pa.Table:
    """The history features of the kept valid rows, in their order."""
    events = pq.read_table(valid, columns=list(EVENT_COLUMNS)).filter(pa.array(keep))
    return enrich(events, history(events)).select(list(HISTORY_FEATURES))


def _score_valid(
    valid: Path,
    keep: np.ndarray,
    features: pa.Table,
    *,
    scorer: FraudScorer,
    names: tuple[str, str],
    scored_path: Path,
    predictions: Path,
    explain: bool = False,
) -> int:
    """Score the kept valid rows batch by batch into the scored CSV and the predictions."""
    done = offset = 0
    schema = SCORED_CSV_SCHEMA.append(pa.field(COLUMN, pa.string())) if explain else None
    with (
        pacsv.CSVWriter(
            scored_path, schema or SCORED_CSV_SCHEMA, write_options=WRITE_OPTIONS
        ) as out,
        pq.ParquetWriter(predictions, PREDICTIONS_SCHEMA, compression="lz4") as preds,
    ):
        for batch in pq.ParquetFile(valid).iter_batches(batch_size=BATCH_ROWS):
            kept = pa.Table.from_batches([batch]).filter(
                pa.array(keep[offset : offset + len(batch)])
            )
            offset += len(batch)
            n = kept.num_rows
            if n == 0:
                continue
            for name, values in zip(HISTORY_FEATURES, features.slice(done, n).columns, strict=True):
                kept = kept.append_column(name, values)
            scored = scored_table(scorer, kept)
            model = (_constant(names[0], n), _constant(names[1], n))
            reasons = [reasons_column(scorer, kept)] if schema else []
            out.write_table(
                neutralise_table(
                    pa.Table.from_arrays(
                        [*scored.columns, *model, *reasons], schema=schema or SCORED_CSV_SCHEMA
                    )
                )
            )
            preds.write_table(
                pa.Table.from_arrays(
                    [*kept.columns, *scored.columns[1:], *model], schema=PREDICTIONS_SCHEMA
                )
            )
            done += n
            _release()
    return done


def lake_batches(
    predictions: Path, *, extra: dict[str, pa.Scalar], columns: list[str]
) -> Iterator[pa.Table]:
    """The staged predictions, batch by batch, with constant ``extra`` columns, as ``columns``."""
    for batch in pq.ParquetFile(predictions).iter_batches(batch_size=BATCH_ROWS):
        table = pa.Table.from_batches([batch])
        n = table.num_rows
        for name, value in extra.items():
            table = table.append_column(name, pa.repeat(value, n))
        yield table.select(columns)


def at(timestamp: str) -> pa.Scalar:
    """An ISO-8601 time as a UTC timestamp scalar."""
    return pa.scalar(dt.datetime.fromisoformat(timestamp), _TS)
