"""Pass 1 over a file: read and validate every row; repeated ids rejected.

The reader parses the next chunk in a thread while this one is validated: rejected rows go
to the rejected CSV, valid rows are kept typed in memory. The reader parses on every core;
a malformed row (whose number only a single-threaded reader knows) starts the pass again
with one thread. Repeated ``transaction_id`` values are found after, across the file.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from fraudops.cardhistory import EVENT_COLUMNS
from fraudops.csvio import (
    WRITE_OPTIONS,
    NeedsRowNumbers,
    neutralise_table,
    read_chunks,
    read_typed,
    validate_chunk,
)
from fraudops.inbox.overlap import prefetch
from fraudops.memory import release
from fraudops.schema import arrow_schema
from fraudops.validation import REJECTED_SCHEMA, duplicate_rows

HistoryOf = Callable[[pa.Table], pa.Table | None]  # a file's valid rows -> earlier history
ReadProgress = Callable[[int], None]  # bytes of the file read so far


@dataclass
class Checked:
    """What the validation pass keeps of a file."""

    valid: list[pa.Table] = field(default_factory=list)  # typed valid rows, chunk by chunk
    ids: list[pa.Array] = field(default_factory=list)  # every row's transaction_id
    id_rows: list[np.ndarray] = field(default_factory=list)
    valid_rows: list[np.ndarray] = field(default_factory=list)
    rows_rejected: int = 0
    rejected_written: bool = False


def check_file(
    path: Path,
    names: list[str],
    chunk_rows: int,
    rejected_path: Path,
    on_progress: ReadProgress | None,
) -> Checked:
    """Every row read and validated; the rejected ones written to ``rejected_path``."""
    try:
        return _validate(path, names, chunk_rows, rejected_path, on_progress, threads=True)
    except NeedsRowNumbers:
        return _validate(path, names, chunk_rows, rejected_path, on_progress, threads=False)


def without_repeats(
    checked: Checked, history: HistoryOf | None
) -> tuple[pa.Table, pa.Table | None, pa.Table, np.ndarray]:
    """(valid rows without repeated ids, their lake history, the repeats, which were kept).

    Repeated ids are rare: they are looked for while the lake's history is read, which is
    read again without them when there are some (a repeat is no one's history).
    """
    rows = np.concatenate(checked.id_rows) if checked.id_rows else np.zeros(0, np.int64)
    valid = pa.concat_tables(checked.valid) if checked.valid else arrow_schema().empty_table()
    checked.valid.clear()
    release()

    def past_of(valid: pa.Table) -> pa.Table | None:
        return history(valid.select(list(EVENT_COLUMNS))) if history is not None else None

    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="fraudops-inbox-ids") as pool:
        looking = pool.submit(duplicate_rows, pa.chunked_array(checked.ids, pa.string()), rows)
        past = past_of(valid)
        dups = looking.result()
    checked.ids.clear()
    release()  # the search's memory, before the features'
    scored_rows = (
        np.concatenate(checked.valid_rows) if checked.valid_rows else np.zeros(0, np.int64)
    )
    keep = ~np.isin(scored_rows, dups["row"].to_numpy())
    if not keep.all():
        valid = valid.filter(pa.array(keep))
        past = past_of(valid)
    return valid, past, dups, keep


def _validate(
    path: Path,
    names: list[str],
    chunk_rows: int,
    rejected_path: Path,
    on_progress: ReadProgress | None,
    *,
    threads: bool,
) -> Checked:
    """Pass 1: every chunk validated as the reader thread parses the next one."""
    checked = Checked()
    rejected_writer: pacsv.CSVWriter | None = None
    chunks = read_chunks(path, names, chunk_rows=chunk_rows, threads=threads)
    try:
        for chunk in prefetch(chunks):
            if on_progress is not None:
                on_progress(chunk.read_bytes)
            result = validate_chunk(chunk)
            if result.rejected.num_rows:
                if rejected_writer is None:
                    rejected_writer = pacsv.CSVWriter(
                        rejected_path, REJECTED_SCHEMA, write_options=WRITE_OPTIONS
                    )
                rejected_writer.write_table(neutralise_table(result.rejected))
                checked.rows_rejected += len(pc.unique(result.rejected["row"]))
            checked.valid.append(result.valid.cast(arrow_schema()))
            checked.ids.append(chunk.table["transaction_id"].combine_chunks())
            checked.id_rows.append(chunk.rows)
            checked.valid_rows.append(result.valid_rows)
            del chunk, result
            release()
    finally:
        if rejected_writer is not None:
            rejected_writer.close()
    checked.rejected_written = rejected_writer is not None
    return checked


def add_rejected(earlier: Path | None, path: Path, dups: pa.Table) -> None:
    """Merge the repeated ids into the rejected rows, in row order."""
    before = read_typed(earlier, REJECTED_SCHEMA) if earlier else REJECTED_SCHEMA.empty_table()
    merged = pa.concat_tables([before, neutralise_table(dups)]).sort_by([("row", "ascending")])
    pacsv.write_csv(merged, path, write_options=WRITE_OPTIONS)
