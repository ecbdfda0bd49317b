"""The one CSV reader and writer: the inbox's files and ``POST /predict/csv`` bodies.

:func:`read_header` judges the first line (a file that fails it is not a CSV of transactions
at all), then :func:`read_chunks` streams the contract's columns as text, a chunk at a time,
keeping each row's number in the file and reporting rows with the wrong number of fields as
rejections of their own. Parsing on every core numbers rows only while none is malformed: it
stops at the first one (:class:`NeedsRowNumbers`); one thread then reads it all again.
"""

from __future__ import annotations

import codecs
import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from fraudops.validation import (
    REJECTED_SCHEMA,
    REQUIRED,
    ROW_COLUMN,
    Problem,
    SchemaError,
    ValidationResult,
    check_columns,
    rejected_table,
    validate_table,
)

HEADER_LIMIT = 1024 * 1024  # a header line longer than this is not a CSV we take
MAX_COLUMNS = 1_000  # the contract has 18; extra columns are ignored, but not without end
MAX_NAME_CHARS = 200  # a column name longer than this is not one
BLOCK_SIZE = 4 * 1024 * 1024  # bytes parsed at a time
MAX_REPORTED_TEXT = 1000  # characters of a malformed row kept in the rejected file
WRITE_OPTIONS = pacsv.WriteOptions(quoting_style="needed")

Source = Path | bytes  # a file, or a whole body in memory


class Unparseable(Exception):
    """The input cannot be read as a CSV of transactions at all (it goes to quarantine)."""


class NeedsRowNumbers(Exception):
    """A multi-threaded read met a malformed row: only a single-threaded one can number it."""


def _head(source: Source) -> bytes:
    if isinstance(source, bytes):
        return source[: HEADER_LIMIT + 1]
    with open(source, "rb") as fh:
        return fh.read(HEADER_LIMIT + 1)


def read_header(source: Source) -> list[str]:
    """The column names of a CSV; raises :class:`Unparseable` for what is not one."""
    head = _head(source).removeprefix(codecs.BOM_UTF8)
    if not head.strip():
        raise Unparseable("empty file")
    ends = [i for i in (head.find(b"\n"), head.find(b"\r")) if i >= 0]
    line = head[: min(ends)] if ends else head
    # counted before anything parses it (linear): 190,000 columns are refused in milliseconds
    columns = line.count(b",") + 1
    if columns > MAX_COLUMNS:
        raise Unparseable(f"{columns:,} columns: a CSV of transactions has at most {MAX_COLUMNS:,}")
    if not ends and len(head) > HEADER_LIMIT:
        raise Unparseable(f"no header line within the first {HEADER_LIMIT} bytes")
    if b"\x00" in line:
        raise Unparseable("not a text file (NUL byte in the first line)")
    try:
        text = line.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise Unparseable(
            f"not UTF-8 text (invalid byte at offset {exc.start} of the first line)"
        ) from None
    try:
        names = [name.strip() for name in next(csv.reader([text]), [])]
    except csv.Error as exc:
        raise Unparseable(f"not a readable header line: {exc}") from None
    if len(names) == 1 and (sep := next((c for c in ";\t|" if c in text), "")):
        raise Unparseable(f"one column, split by {sep!r}: a CSV of transactions is comma-separated")
    if any(len(name) > MAX_NAME_CHARS for name in names):
        raise Unparseable(f"a column name is longer than {MAX_NAME_CHARS} characters")
    try:
        check_columns(names)
    except SchemaError as exc:
        raise Unparseable(str(exc)) from None
    return names


@dataclass(frozen=True)
class Chunk:
    """Rows of one input as text, with their row numbers (1 = first row after the header)."""

    table: pa.Table
    first: int  # the number of the first row if no row before it was malformed
    rows: np.ndarray  # the real row number of every row of ``table``
    malformed: pa.Table  # rejections (REJECTED_SCHEMA) of malformed rows in this span
    read_bytes: int = 0  # bytes of the input read when the chunk was complete


def _original_rows(start: int, n: int, skipped: np.ndarray) -> np.ndarray:
    """Row numbers of parsed rows ``start..start+n-1`` given the malformed rows skipped."""
    idx = np.arange(start, start + n, dtype=np.int64)
    if len(skipped) == 0:
        return idx + 1
    parsed_before = skipped - np.arange(len(skipped)) - 1  # parsed rows before each skip
    return np.asarray(idx + 1 + np.searchsorted(parsed_before, idx, side="right"))


def _malformed_table(malformed: list[tuple[int, str, int, int]]) -> pa.Table:
    return rejected_table(
        [m[0] for m in malformed],
        column=ROW_COLUMN,
        values=[m[1] for m in malformed],
        problem=Problem.FIELD_COUNT.value,
        reason=[f"expected {m[2]} fields, found {m[3]}" for m in malformed],
    )


def read_chunks(
    source: Source,
    names: list[str],
    *,
    chunk_rows: int,
    threads: bool = False,
) -> Iterator[Chunk]:
    """Stream the contract's columns as text, ``chunk_rows`` at a time.

    Rows with the wrong number of fields are skipped, and reported with their row's chunk.

    Raises:
        Unparseable: the bytes stop being a CSV (e.g. invalid UTF-8 further down).
        NeedsRowNumbers: ``threads`` and a row is malformed (read again without threads).
    """
    malformed: list[tuple[int, str, int, int]] = []
    interrupted: list[int] = []

    def on_invalid(row: Any) -> str:
        text = row.text or ""
        if threads:  # row numbers are only known to a single-threaded reader
            interrupted.append(row.actual_columns)
            return "error"  # the read stops with ArrowInvalid: NeedsRowNumbers below
        if row.number is None:
            raise Unparseable("cannot number malformed rows")
        if text.strip():  # blank lines are not rows
            malformed.append(
                (row.number - 1, text[:MAX_REPORTED_TEXT], row.expected_columns, row.actual_columns)
            )
        return "skip"

    stream = pa.BufferReader(source) if isinstance(source, bytes) else pa.OSFile(str(source))
    try:
        reader = pacsv.open_csv(
            stream,
            # one thread knows the numbers of skipped rows; on every core, a skip stops it
            read_options=pacsv.ReadOptions(
                column_names=names, skip_rows=1, block_size=BLOCK_SIZE, use_threads=threads
            ),
            parse_options=pacsv.ParseOptions(invalid_row_handler=on_invalid),
            convert_options=pacsv.ConvertOptions(
                column_types={name: pa.string() for name in REQUIRED},
                include_columns=list(REQUIRED),
                strings_can_be_null=False,
                quoted_strings_can_be_null=False,
            ),
        )
        parsed = 0  # rows parsed so far
        reported = 0  # malformed rows handed out so far
        pending: list[pa.RecordBatch] = []
        pending_rows = 0

        def emit(batches: list[pa.RecordBatch], n: int, *, last: bool) -> Chunk:
            nonlocal parsed, reported
            skipped = np.fromiter((m[0] for m in malformed), np.int64, len(malformed))
            rows = _original_rows(parsed, n, skipped)
            upto = len(malformed) if last or n == 0 else int(np.searchsorted(skipped, rows[-1]))
            mine = malformed[reported:upto]
            reported = upto
            table = pa.Table.from_batches(batches, schema=reader.schema).combine_chunks()
            bad = _malformed_table(mine) if mine else REJECTED_SCHEMA.empty_table()
            chunk = Chunk(table, parsed + 1, rows, bad, stream.tell())
            parsed += n
            return chunk

        while True:
            try:
                batch = reader.read_next_batch()
            except StopIteration:
                break
            except pa.ArrowInvalid as exc:
                raise _unreadable(exc, interrupted) from None
            while batch.num_rows:
                take = min(batch.num_rows, chunk_rows - pending_rows)
                pending.append(batch.slice(0, take))
                pending_rows += take
                batch = batch.slice(take)
                if pending_rows == chunk_rows:
                    yield emit(pending, pending_rows, last=False)
                    pending, pending_rows = [], 0
        yield emit(pending, pending_rows, last=True)
    except pa.ArrowInvalid as exc:  # from opening: the first block
        raise _unreadable(exc, interrupted) from None
    finally:
        stream.close()


def validate_chunk(chunk: Chunk) -> ValidationResult:
    """Validate a chunk's rows, every row and rejection numbered as in the input.

    The malformed rows are among the rejections; ``transaction_id`` uniqueness across chunks
    is left to the caller (:func:`fraudops.validation.duplicate_rows`).
    """
    result = validate_table(chunk.table, first_row=chunk.first, unique_ids=False)
    rejected, good_rows = result.rejected, result.valid_rows
    n = len(chunk.rows)
    if n and chunk.rows[-1] != chunk.first + n - 1:  # malformed rows came before
        good_rows = chunk.rows[good_rows - chunk.first]
        renumbered = chunk.rows[rejected["row"].to_numpy() - chunk.first]
        rejected = rejected.set_column(0, "row", pa.array(renumbered, pa.int64()))
    if chunk.malformed.num_rows:
        rejected = pa.concat_tables([rejected, chunk.malformed]).sort_by([("row", "ascending")])
    return ValidationResult(result.valid, good_rows, rejected, result.rows)


def _unreadable(exc: Exception, interrupted: list[int]) -> Exception:
    if interrupted:
        return NeedsRowNumbers(f"a row has {interrupted[0]} fields")
    msg = str(exc).splitlines()[0]
    if "UTF8" in msg or "UTF-8" in msg:
        return Unparseable(f"not UTF-8 text: {msg}")
    return Unparseable(f"not a readable CSV: {msg}")


def header_problem(source: Source) -> str | None:
    """Why the input is not a CSV of transactions (None: its header is fine)."""
    try:
        read_header(source)
    except Unparseable as exc:
        return str(exc)
    return None


# Cells a spreadsheet would run as a formula (OWASP "CSV injection"): they are written with a
# leading apostrophe. Plain numbers (-12.5) are left as they are; a value that starts with an
# apostrophe gets one more, so the apostrophe always means "added here".
_FORMULA_START = r"^[=+\-@\t\r']"
_PLAIN_NUMBER = r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$"


def neutralise(values: pa.Array | pa.ChunkedArray) -> pa.Array | pa.ChunkedArray:
    """Text that spreadsheets show as text: risky cells get a leading apostrophe."""
    risky = pc.and_(
        pc.fill_null(pc.match_substring_regex(values, _FORMULA_START), False),
        pc.invert(pc.fill_null(pc.match_substring_regex(values, _PLAIN_NUMBER), False)),
    )
    if not pc.any(risky).as_py():
        return values
    return pc.if_else(risky, pc.binary_join_element_wise("'", values, ""), values)


def neutralise_table(table: pa.Table) -> pa.Table:
    """Every text column of a table :func:`neutralise`d (an output CSV people open)."""
    for i, field in enumerate(table.schema):
        if pa.types.is_string(field.type):
            table = table.set_column(i, field, neutralise(table.column(i)))
    return table


def to_csv_bytes(table: pa.Table, *, header: bool = True) -> bytes:
    """A table as CSV text."""
    sink = io.BytesIO()
    options = pacsv.WriteOptions(quoting_style="needed", include_header=header)
    pacsv.write_csv(table, sink, write_options=options)
    return sink.getvalue()


def iter_csv(table: pa.Table, *, chunk_rows: int = 10_000) -> Iterator[bytes]:
    """A table as CSV text in chunks, the header first (a response body people may open)."""
    if table.num_rows == 0:
        yield ",".join(table.column_names).encode() + b"\n"
        return
    table = neutralise_table(table)
    for start in range(0, table.num_rows, chunk_rows):
        yield to_csv_bytes(table.slice(start, chunk_rows), header=start == 0)


def read_typed(path: Path, schema: pa.Schema) -> pa.Table:
    """A CSV this package wrote, read back with its own schema (strings stay strings)."""
    return pacsv.read_csv(
        path,
        convert_options=pacsv.ConvertOptions(column_types=schema, strings_can_be_null=False),
    )
