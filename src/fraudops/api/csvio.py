"""CSV in, scored CSV out: the body is validated as a whole, then scored and written in chunks."""

from __future__ import annotations

import io
from collections.abc import Iterator
from typing import Any

import pyarrow as pa
import pyarrow.csv as pacsv

from fraudops.model import FraudScorer
from fraudops.scoring import scored_table
from fraudops.validation import REQUIRED, SchemaError, validate_batch

CHUNK_ROWS = 10_000
MAX_REPORTED = 100  # rejection lines returned in a 422


class CsvRejected(ValueError):
    """The CSV cannot be scored as a whole; ``errors`` name the row and column at fault."""

    def __init__(self, errors: list[dict[str, Any]]) -> None:
        super().__init__(f"{len(errors)} problem(s) in the CSV body")
        self.errors = errors


def _body_error(msg: str, kind: str) -> CsvRejected:
    return CsvRejected([{"type": kind, "loc": ("body",), "msg": msg}])


def read_text_table(body: bytes) -> pa.Table:
    """The contract's columns of a CSV body, every value as text (validation types them)."""
    try:
        with pacsv.open_csv(io.BytesIO(body)) as reader:  # the header, for the column names
            names = reader.schema.names
        table = pacsv.read_csv(
            io.BytesIO(body),
            read_options=pacsv.ReadOptions(use_threads=False),
            convert_options=pacsv.ConvertOptions(
                column_types={name: pa.string() for name in names},
                include_columns=[name for name in REQUIRED if name in names],
                strings_can_be_null=False,
                quoted_strings_can_be_null=False,
            ),
        )
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, UnicodeDecodeError) as exc:
        raise _body_error(f"not a readable CSV: {exc}", "csv_invalid") from None
    missing = [name for name in REQUIRED if name not in names]
    if missing:
        raise _body_error(f"missing required column(s): {', '.join(missing)}", "csv_columns")
    return table


def score_csv(scorer: FraudScorer, body: bytes) -> pa.Table:
    """Validate every row, then score: transaction_id, fraud_probability, is_fraud.

    Raises:
        CsvRejected: the body is not a CSV, lacks columns, or has invalid rows (all reported
            up to ``MAX_REPORTED``, each with its data row number, 1 = first row after the header).
    """
    try:
        result = validate_batch(read_text_table(body), first_row=1)
    except SchemaError as exc:
        raise _body_error(str(exc), "csv_columns") from None
    if result.rejected.num_rows:
        rows = result.rejected.slice(0, MAX_REPORTED).to_pylist()
        errors = [
            {
                "type": "csv_row",
                "loc": ("body", r["row"], r["column"]),
                "msg": f"row {r['row']}: {r['reason']}",
                "input": r["value"],
            }
            for r in rows
        ]
        if result.rejected.num_rows > MAX_REPORTED:
            more = result.rejected.num_rows - MAX_REPORTED
            errors.append(
                {"type": "csv_row", "loc": ("body",), "msg": f"{more} more problem(s) not listed"}
            )
        raise CsvRejected(errors)
    return scored_table(scorer, result.valid)


def iter_csv(scored: pa.Table, *, model_version: str) -> Iterator[bytes]:
    """The scored table as CSV chunks, with the model version on every row."""
    table = scored.append_column(
        "model_version", pa.array([model_version] * scored.num_rows, pa.string())
    )
    if table.num_rows == 0:
        yield ",".join(table.column_names).encode() + b"\n"
        return
    for start in range(0, table.num_rows, CHUNK_ROWS):
        sink = io.BytesIO()
        pacsv.write_csv(
            table.slice(start, CHUNK_ROWS),
            sink,
            write_options=pacsv.WriteOptions(include_header=start == 0),
        )
        yield sink.getvalue()
