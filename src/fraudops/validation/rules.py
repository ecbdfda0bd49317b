"""The contract's rules as words: every problem a value can have, and the one text for it.

JSON requests and CSV rows are checked by different code (pydantic for typed JSON, Arrow
kernels for text columns), but both name their problems here, so the same bad value gets
the same reason on every path, and every rejection has the same shape.
"""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from fraudops.schema import TRANSACTION_COLUMNS, Column

REQUIRED: tuple[str, ...] = tuple(c.name for c in TRANSACTION_COLUMNS)
REJECTED_SCHEMA = pa.schema(
    [
        ("row", pa.int64()),
        ("column", pa.string()),
        ("value", pa.string()),
        ("problem", pa.string()),
        ("reason", pa.string()),
    ]
)
ROW_COLUMN = "*"  # the column of a problem with the row as a whole (wrong number of fields)
MAX_VALUE_CHARS = 1_000  # of a refused value, echoed in a rejection


class Problem(enum.StrEnum):
    """What is wrong with a value (the ``type`` of an API error)."""

    MISSING = "missing"
    TOO_LONG = "too_long"
    NOT_TEXT = "not_text"
    UNKNOWN_CATEGORY = "unknown_category"
    NOT_BOOLEAN = "not_boolean"
    NOT_TIMESTAMP = "not_timestamp"
    OUT_OF_RANGE = "out_of_range"
    NOT_NUMBER = "not_number"
    NOT_INTEGER = "not_integer"
    NOT_FINITE = "not_finite"
    BELOW_MINIMUM = "below_minimum"
    ABOVE_MAXIMUM = "above_maximum"
    DUPLICATE_ID = "duplicate_id"
    UNKNOWN_FIELD = "unknown_field"
    FIELD_COUNT = "field_count"


class SchemaError(ValueError):
    """The input as a whole does not fit the contract (e.g. required columns are missing)."""


def _day(value: dt.datetime | None) -> str:
    return value.date().isoformat() if value else "?"


def reason(column: Column | None, problem: Problem) -> str:
    """The one text for ``problem`` in ``column`` (None: a field the contract does not have)."""
    if problem is Problem.UNKNOWN_FIELD or column is None:
        return "unknown field (not in the contract)"
    if problem is Problem.MISSING:
        return "missing value"
    if problem is Problem.TOO_LONG:
        return f"longer than {column.max_length} characters"
    if problem is Problem.NOT_TEXT:
        return "not text"
    if problem is Problem.UNKNOWN_CATEGORY:
        return f"unknown category (allowed: {', '.join(column.categories)})"
    if problem is Problem.NOT_BOOLEAN:
        return "not a boolean (true/false)"
    if problem is Problem.NOT_TIMESTAMP:
        return "not an ISO-8601 timestamp (YYYY-MM-DDTHH:MM:SS[.ffffff][Z|+HH:MM])"
    if problem is Problem.OUT_OF_RANGE:
        return (
            f"must be from {_day(column.earliest)} up to (not including) {_day(column.latest)}, UTC"
        )
    if problem is Problem.NOT_FINITE:
        return "not a finite number (NaN/inf)"
    if problem is Problem.NOT_INTEGER:
        return "not an integer"
    if problem is Problem.NOT_NUMBER:
        return "not a number"
    if problem is Problem.BELOW_MINIMUM and column.minimum is not None:
        return f"must be {'>' if column.exclusive_minimum else '>='} {column.minimum:g}"
    if problem is Problem.ABOVE_MAXIMUM and column.maximum is not None:
        return f"must be <= {column.maximum:g}"
    if problem is Problem.DUPLICATE_ID:
        return "duplicate transaction_id"
    if problem is Problem.FIELD_COUNT:
        return "wrong number of fields"
    return "out of the contract's range"


def duplicate_reason(first: int, *, unit: str = "row") -> str:
    """The reason of a repeated transaction_id: where its first occurrence is."""
    return f"duplicate transaction_id (same as {unit} {first})"


@dataclass(frozen=True)
class Rejection:
    """One problem with one value: where (row or list item, column), what, and why."""

    row: int | None  # CSV: data row (1 = first after the header); JSON: list index (or None)
    column: str  # a contract column, "*" for the row as a whole, "body" for the whole input
    value: Any
    problem: str
    reason: str


def more_problems(n: int) -> Rejection:
    """The last line of a bounded list of problems: how many more were found."""
    return Rejection(None, "body", None, "too_many_errors", f"{n} more problem(s) not listed")


def check_columns(names: Sequence[str]) -> None:
    """Raise :class:`SchemaError` naming missing or repeated columns (order and extras are fine).

    Linear in the number of names: a header with 190,000 columns is judged in milliseconds.
    """
    seen: set[str] = set()
    dupes: set[str] = set()
    for name in names:
        if name in seen:
            dupes.add(name)
        seen.add(name)
    missing = [c for c in REQUIRED if c not in seen]
    if missing:
        raise SchemaError(f"missing required column(s): {', '.join(missing)}")
    if dupes:
        shown = sorted(dupes)
        more = f" and {len(shown) - 10} more" if len(shown) > 10 else ""
        raise SchemaError(f"duplicate column(s): {', '.join(shown[:10])}{more}")


def first_occurrences(ids: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """For each position, the position of the first occurrence of the same id."""
    if isinstance(ids, pa.ChunkedArray):
        ids = ids.combine_chunks()
    codes = pc.dictionary_encode(pc.fill_null(ids, "")).indices.to_numpy(zero_copy_only=False)
    # dictionary codes number distinct ids in order of first appearance
    _, first_idx = np.unique(codes, return_index=True)
    return np.asarray(first_idx[codes], dtype=np.int64)


def _strings(value: str | pa.Array | Sequence[str], n: int) -> pa.Array:
    if isinstance(value, str):
        return pa.repeat(pa.scalar(value, pa.string()), n)
    if isinstance(value, pa.Array):
        return value.cast(pa.string())
    return pa.array(value, pa.string())


def shortened(values: pa.Array) -> pa.Array:
    """Values cut to ``MAX_VALUE_CHARS`` characters, marked with an ellipsis where cut."""
    long = pc.fill_null(pc.greater(pc.utf8_length(values), MAX_VALUE_CHARS), False)
    if not pc.any(long).as_py():
        return values
    cut = pc.binary_join_element_wise(
        pc.utf8_slice_codeunits(values, 0, MAX_VALUE_CHARS), pa.scalar("…"), ""
    )
    return pc.if_else(long, cut, values)


def rejected_table(
    rows: np.ndarray | Sequence[int],
    *,
    column: str | pa.Array | Sequence[str],
    values: pa.Array | Sequence[str],
    problem: str | pa.Array | Sequence[str],
    reason: str | pa.Array | Sequence[str],
) -> pa.Table:
    """Rejections as a table (``REJECTED_SCHEMA``); a scalar is repeated for every row."""
    n = len(rows)
    return pa.table(
        [
            pa.array(rows, pa.int64()),
            _strings(column, n),
            shortened(_strings(values, n)),
            _strings(problem, n),
            _strings(reason, n),
        ],
        schema=REJECTED_SCHEMA,
    )


def rejections(table: pa.Table, *, limit: int | None = None) -> list[Rejection]:
    """Rows of a rejected table as :class:`Rejection` values (the first ``limit``)."""
    rows = table if limit is None else table.slice(0, limit)
    return [
        Rejection(r["row"], r["column"], r["value"], r["problem"], r["reason"])
        for r in rows.to_pylist()
    ]
