"""One file: validate every row, score the valid ones, stage the outputs; lake rows.

The file is read in chunks (memory stays bounded by a chunk), each validated and scored on
its own. Three files are staged: the scored and rejected CSV files for the outbox, and the
predictions (the valid rows, typed, with their scores) as Parquet, from which both lake
commits are made. Uniqueness of ``transaction_id`` is checked once over the whole file; in
the rare file with repeats the staged files are rewritten without them.
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

from fraudops.csvio import (
    WRITE_OPTIONS,
    neutralise_table,
    read_chunks,
    read_header,
    read_typed,
    validate_chunk,
)
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
    [*arrow_schema(), *(f for f in SCORED_CSV_SCHEMA if f.name != "transaction_id")]
)
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
    on_progress: Callable[[int], None] | None = None,
) -> Staged:
    """Validate and score every row of a CSV file into staged outputs.

    Raises:
        Unparseable: the file is not a CSV of transactions (nothing is staged).
    """
    names = read_header(path)
    predictions = predictions_path(staging, path)
    token = predictions.name.split(".", 1)[0]
    scored_path = staging / f"{token}.scored.csv"
    rejected_path = staging / f"{token}.rejected.csv"
    ids: list[pa.Array] = []  # every row's transaction_id: uniqueness is per file
    id_rows: list[np.ndarray] = []
    valid_rows: list[np.ndarray] = []
    rows_scored = rows_rejected = 0
    rejected_writer: pacsv.CSVWriter | None = None
    try:
        with (
            pacsv.CSVWriter(scored_path, SCORED_CSV_SCHEMA, write_options=WRITE_OPTIONS) as out,
            pq.ParquetWriter(predictions, PREDICTIONS_SCHEMA) as preds,
        ):
            for chunk in read_chunks(path, names, chunk_rows=chunk_rows, on_progress=on_progress):
                result = validate_chunk(chunk)
                rejected = result.rejected
                if rejected.num_rows:
                    if rejected_writer is None:
                        rejected_writer = pacsv.CSVWriter(
                            rejected_path, REJECTED_SCHEMA, write_options=WRITE_OPTIONS
                        )
                    rejected_writer.write_table(neutralise_table(rejected))
                    rows_rejected += len(pc.unique(rejected["row"]))
                n = result.valid.num_rows
                if n:
                    scored = scored_table(scorer, result.valid)
                    name, version = _constant(model_name, n), _constant(model_version, n)
                    table = pa.Table.from_arrays(
                        [*scored.columns, name, version], schema=SCORED_CSV_SCHEMA
                    )
                    out.write_table(neutralise_table(table))
                    preds.write_table(
                        pa.Table.from_arrays(
                            [*result.valid.columns, *scored.columns[1:], name, version],
                            schema=PREDICTIONS_SCHEMA,
                        )
                    )
                rows_scored += n
                ids.append(chunk.table["transaction_id"].combine_chunks())
                id_rows.append(chunk.rows)
                valid_rows.append(result.valid_rows)
    finally:
        if rejected_writer is not None:
            rejected_writer.close()
    staged = Staged(
        scored_path,
        rejected_path if rejected_writer else None,
        predictions,
        rows_scored,
        rows_rejected,
    )
    return _drop_duplicate_ids(staged, ids, id_rows, valid_rows)


def _drop_duplicate_ids(
    staged: Staged, ids: list[pa.Array], id_rows: list[np.ndarray], valid_rows: list[np.ndarray]
) -> Staged:
    """Reject every repeat of a transaction_id in the file (the first occurrence is kept)."""
    rows = np.concatenate(id_rows) if id_rows else np.zeros(0, np.int64)
    dups = duplicate_rows(pa.chunked_array(ids, pa.string()), rows)
    if dups.num_rows == 0:
        return staged
    dup_rows = dups["row"].to_numpy()
    scored_rows = np.concatenate(valid_rows) if valid_rows else np.zeros(0, np.int64)
    drop = np.isin(scored_rows, dup_rows)
    if drop.any():
        kept = read_typed(staged.scored, SCORED_CSV_SCHEMA).filter(pa.array(~drop))
        pacsv.write_csv(kept, staged.scored, write_options=WRITE_OPTIONS)
        pq.write_table(
            pq.read_table(staged.predictions).filter(pa.array(~drop)), staged.predictions
        )
    rejected_path = staged.rejected or staged.scored.with_name(
        staged.scored.name.replace(".scored.", ".rejected.")
    )
    earlier = (
        read_typed(staged.rejected, REJECTED_SCHEMA)
        if staged.rejected
        else REJECTED_SCHEMA.empty_table()
    )
    merged = pa.concat_tables([earlier, neutralise_table(dups)]).sort_by([("row", "ascending")])
    pacsv.write_csv(merged, rejected_path, write_options=WRITE_OPTIONS)
    newly = int(drop.sum())
    return Staged(
        staged.scored,
        rejected_path,
        staged.predictions,
        staged.rows_scored - newly,
        staged.rows_rejected + newly,
    )


def lake_batches(
    predictions: Path, *, extra: dict[str, pa.Scalar], columns: list[str]
) -> Iterator[pa.Table]:
    """The staged predictions, batch by batch, with constant ``extra`` columns, as ``columns``."""
    for batch in pq.ParquetFile(predictions).iter_batches(batch_size=200_000):
        table = pa.Table.from_batches([batch])
        n = table.num_rows
        for name, value in extra.items():
            table = table.append_column(name, pa.repeat(value, n))
        yield table.select(columns)


def at(timestamp: str) -> pa.Scalar:
    """An ISO-8601 time as a UTC timestamp scalar."""
    return pa.scalar(dt.datetime.fromisoformat(timestamp), _TS)
