"""One file: validate every row, score the valid ones, stage the outbox files; lake rows.

The file is read in chunks (memory stays bounded by a chunk), each validated and scored on
its own; uniqueness of ``transaction_id`` is checked once over the whole file, and in the
rare file with repeats the staged files are rewritten without them.
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

from fraudops.csvio import (
    BLOCK_SIZE,
    WRITE_OPTIONS,
    neutralise_table,
    read_chunks,
    read_header,
    read_typed,
    restore,
    validate_chunk,
)
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


@dataclass(frozen=True)
class Staged:
    """Outbox files of one input, written to staging, not yet published."""

    scored: Path
    rejected: Path | None
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
    """Validate and score every row of a CSV file into staged scored/rejected CSV files.

    Raises:
        Unparseable: the file is not a CSV of transactions (nothing is staged).
    """
    names = read_header(path)
    token = hashlib.sha256(str(path).encode()).hexdigest()[:16]
    scored_path = staging / f"{token}.scored.csv"
    rejected_path = staging / f"{token}.rejected.csv"
    ids: list[pa.Array] = []  # every row's transaction_id: uniqueness is per file
    id_rows: list[np.ndarray] = []
    valid_rows: list[np.ndarray] = []
    rows_scored = rows_rejected = 0
    rejected_writer: pacsv.CSVWriter | None = None
    try:
        with pacsv.CSVWriter(scored_path, SCORED_CSV_SCHEMA, write_options=WRITE_OPTIONS) as out:
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
                    out.write_table(
                        neutralise_table(
                            pa.Table.from_arrays(
                                [
                                    *scored.columns,
                                    _constant(model_name, n),
                                    _constant(model_version, n),
                                ],
                                schema=SCORED_CSV_SCHEMA,
                            )
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
        scored_path, rejected_path if rejected_writer else None, rows_scored, rows_rejected
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
        staged.scored, rejected_path, staged.rows_scored - newly, staged.rows_rejected + newly
    )


def scores_batches(
    path: Path, *, source_file: str, content_hash: str, scored_at: dt.datetime, chunk_rows: int
) -> Iterator[pa.Table]:
    """Rows for ``fraud.scores``, read back from a published scored CSV (lake == outbox)."""
    reader = pacsv.open_csv(
        path,
        read_options=pacsv.ReadOptions(block_size=BLOCK_SIZE),
        convert_options=pacsv.ConvertOptions(
            column_types=SCORED_CSV_SCHEMA, strings_can_be_null=False
        ),
    )
    pending: list[pa.RecordBatch] = []
    pending_rows = 0

    def build(batches: list[pa.RecordBatch]) -> pa.Table:
        table = pa.Table.from_batches(batches, schema=reader.schema)
        for name in ("transaction_id", "model_name", "model_version"):  # the values, unquoted
            table = table.set_column(table.schema.get_field_index(name), name, restore(table[name]))
        n = table.num_rows
        return (
            table.append_column("source_file", _constant(source_file, n))
            .append_column("content_hash", _constant(content_hash, n))
            .append_column(
                "scored_at", pa.repeat(pa.scalar(scored_at, pa.timestamp("us", tz="UTC")), n)
            )
        )

    for batch in reader:
        pending.append(batch)
        pending_rows += batch.num_rows
        if pending_rows >= chunk_rows:
            yield build(pending)
            pending, pending_rows = [], 0
    if pending:
        yield build(pending)
