"""Vectorised validation of raw (text) transaction batches against the contract in ``schema``.

CSV input (the inbox and ``POST /predict/csv``) arrives as text columns. :func:`validate_batch`
checks every row with Arrow compute kernels (no Python loop per row), returns the valid rows
typed as the contract's Arrow schema, and one rejection line per failing (row, column).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from fraudops.schema import TRANSACTION_COLUMNS, Column, arrow_schema

REQUIRED: tuple[str, ...] = tuple(c.name for c in TRANSACTION_COLUMNS)
REJECTED_SCHEMA = pa.schema(
    [("row", pa.int64()), ("column", pa.string()), ("value", pa.string()), ("reason", pa.string())]
)

_FLOAT_RE = r"^\s*[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?\s*$"
_INT_RE = r"^\s*[+-]?\d+(\.0*)?\s*$"
_TS_RE = r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(\.\d{1,6})?(Z|[+-]\d{2}:\d{2})?$"
_NONFINITE_RE = r"(?i)^\s*[+-]?(nan|inf|infinity)\s*$"
_TRUE = ("true", "1", "t", "yes", "y")
_FALSE = ("false", "0", "f", "no", "n")


class SchemaError(ValueError):
    """The batch as a whole does not fit the contract (e.g. required columns are missing)."""


@dataclass(frozen=True)
class ValidationResult:
    """Valid rows (typed) and rejections of one batch."""

    valid: pa.Table
    valid_rows: np.ndarray  # row numbers of the valid rows
    rejected: pa.Table  # REJECTED_SCHEMA
    rows: int


def check_columns(names: list[str]) -> None:
    """Raise :class:`SchemaError` naming missing required columns (order and extras are fine)."""
    missing = [c for c in REQUIRED if c not in names]
    if missing:
        raise SchemaError(f"missing required column(s): {', '.join(missing)}")
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise SchemaError(f"duplicate column(s): {', '.join(dupes)}")


def _as_text(arr: pa.ChunkedArray | pa.Array) -> pa.Array:
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    return arr if pa.types.is_string(arr.type) else arr.cast(pa.string())


def _parse_timestamp(text: pa.Array) -> tuple[pa.Array, pa.Array]:
    """(timestamps in µs UTC, ok mask) for ISO-8601 text; offsets are applied, naive is UTC."""
    ok = pc.fill_null(pc.match_substring_regex(text, _TS_RE), False)
    safe = pc.if_else(ok, text, "1970-01-01T00:00:00")
    base = pc.replace_substring(pc.utf8_slice_codeunits(safe, 0, 19), " ", "T")
    parsed = pc.strptime(base, format="%Y-%m-%dT%H:%M:%S", unit="us", error_is_null=True)
    # strptime rolls 2026-02-30 over to March: a round trip catches impossible dates
    same_day = pc.equal(
        pc.strftime(parsed, format="%Y-%m-%d"), pc.utf8_slice_codeunits(safe, 0, 10)
    )
    ok = pc.and_(ok, pc.fill_null(same_day, False))
    frac = pc.extract_regex(safe, r"\.(?P<f>\d{1,6})")
    frac_txt = pc.utf8_rpad(pc.fill_null(pc.struct_field(frac, "f"), "0"), 6, "0")
    micros = pc.cast(frac_txt, pa.int64())
    off = pc.extract_regex(safe, r"(?P<s>[+-])(?P<h>\d{2}):(?P<m>\d{2})$")
    sign = pc.if_else(pc.equal(pc.struct_field(off, "s"), "-"), -1, 1)
    minutes = pc.add(
        pc.multiply(pc.cast(pc.struct_field(off, "h"), pa.int64()), 60),
        pc.cast(pc.struct_field(off, "m"), pa.int64()),
    )
    offset_us = pc.fill_null(pc.multiply(pc.multiply(sign, minutes), 60_000_000), 0)
    epoch_us = pc.add(pc.cast(pc.fill_null(parsed, 0), pa.int64()), micros)
    epoch_us = pc.subtract(epoch_us, offset_us)
    return pc.cast(epoch_us, pa.timestamp("us", tz="UTC")), ok


def _fast(column: Column, text: pa.Array) -> pa.Array | None:
    """Typed values when every row of a numeric/timestamp column is valid, else None.

    Clean files are the common case: one cast kernel and a range check per column. Any
    failure falls back to :func:`_check`, which finds the reason for each row.
    """
    if column.kind not in ("float", "int", "timestamp", "bool") or text.null_count:
        return None
    try:
        # for booleans the cast accepts true/false/1/0 in any case: a subset of _check's
        values = pc.cast(text, column.arrow_type)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return None
    if column.kind == "bool":
        return values
    if column.kind == "timestamp":
        # the cast also takes forms _check refuses (+0100, no seconds): same verdict either way
        return values if pc.all(pc.match_substring_regex(text, _TS_RE)).as_py() else None
    ok = pc.is_finite(values) if column.kind == "float" else pa.scalar(True)
    if column.minimum is not None:
        cmp = pc.greater if column.exclusive_minimum else pc.greater_equal
        ok = pc.and_(ok, cmp(values, column.minimum))
    if column.maximum is not None:
        ok = pc.and_(ok, pc.less_equal(values, column.maximum))
    return values if pc.all(ok).as_py() is not False else None


def _check(
    column: Column, text: pa.Array, *, explain: bool = True
) -> tuple[pa.Array, pa.Array, pa.Array | None]:
    """(typed values, ok mask, reason per row) for one text column.

    With ``explain=False`` the reasons are not built (None): most columns of most batches
    have no failure, and the reasons cost as much as the checks.
    """
    present = pc.fill_null(pc.greater(pc.utf8_length(pc.utf8_trim_whitespace(text)), 0), False)
    empty_reason = pa.scalar("missing value")
    reason: pa.Array | None = None
    kind = column.kind
    if kind == "string":
        length = pc.utf8_length(text)
        ok = pc.and_(present, pc.fill_null(pc.less_equal(length, column.max_length), False))
        if explain:
            reason = pc.if_else(
                present, f"longer than {column.max_length} characters", empty_reason
            )
        return text, ok, reason
    if kind == "category":
        ok = pc.is_in(text, value_set=pa.array(column.categories))
        if explain:
            reason = pc.if_else(
                present, f"unknown category (allowed: {', '.join(column.categories)})", empty_reason
            )
        return text, ok, reason
    if kind == "bool":
        low = pc.utf8_lower(pc.utf8_trim_whitespace(text))
        is_true = pc.is_in(low, value_set=pa.array(_TRUE))
        ok = pc.or_(is_true, pc.is_in(low, value_set=pa.array(_FALSE)))
        if explain:
            reason = pc.if_else(present, "not a boolean (true/false)", empty_reason)
        return is_true, ok, reason
    if kind == "timestamp":
        values, ok = _parse_timestamp(text)
        if explain:
            reason = pc.if_else(present, "not an ISO-8601 timestamp", empty_reason)
        return values, ok, reason
    # numbers: the regex refuses nan/inf spellings, range checks follow
    pattern = _FLOAT_RE if kind == "float" else _INT_RE
    numeric = pc.fill_null(pc.match_substring_regex(text, pattern), False)
    values = pc.cast(pc.if_else(numeric, pc.utf8_trim_whitespace(text), "0"), pa.float64())
    ok = pc.and_(numeric, pc.is_finite(values))
    if explain:
        not_finite = pc.fill_null(pc.match_substring_regex(text, _NONFINITE_RE), False)
        reason = pc.if_else(
            present,
            pc.if_else(
                not_finite,
                "not a finite number (NaN/inf)",
                "not an integer" if kind == "int" else "not a number",
            ),
            empty_reason,
        )
    lo, hi = column.minimum, column.maximum
    if lo is not None:
        below = pc.less_equal(values, lo) if column.exclusive_minimum else pc.less(values, lo)
        sym = ">" if column.exclusive_minimum else ">="
        if reason is not None:
            reason = pc.if_else(pc.and_(ok, below), f"must be {sym} {lo:g}", reason)
        ok = pc.and_(ok, pc.invert(below))
    if hi is not None:
        above = pc.greater(values, hi)
        if reason is not None:
            reason = pc.if_else(pc.and_(ok, above), f"must be <= {hi:g}", reason)
        ok = pc.and_(ok, pc.invert(above))
    if kind == "int":
        values = pc.cast(pc.if_else(ok, values, 0.0), pa.int32())
    return values, ok, reason


def validate_batch(
    batch: pa.Table | pa.RecordBatch, *, first_row: int = 1, unique_ids: bool = True
) -> ValidationResult:
    """Validate text columns of a batch; ``first_row`` numbers the batch's first data row.

    ``unique_ids=False`` leaves the uniqueness of ``transaction_id`` to the caller (the inbox
    checks it across the chunks of a whole file).
    """
    table = batch if isinstance(batch, pa.Table) else pa.Table.from_batches([batch])
    check_columns(table.column_names)
    n = table.num_rows
    rows = np.arange(first_row, first_row + n, dtype=np.int64)
    all_ok = np.ones(n, dtype=bool)
    typed: list[pa.Array] = []
    rejects: list[pa.Table] = []
    for column in TRANSACTION_COLUMNS:
        text = _as_text(table[column.name])
        fast = _fast(column, text)
        if fast is not None:
            typed.append(fast)
            continue
        values, ok, _ = _check(column, text, explain=False)
        ok_np = np.asarray(pc.fill_null(ok, False).to_numpy(zero_copy_only=False), dtype=bool)
        dup = None
        if column.name == "transaction_id" and unique_ids:
            first = _first_occurrence(text)
            dup = ok_np & ~first
            ok_np &= first
        typed.append(values)
        bad = ~ok_np
        if bad.any():
            _, _, reason = _check(column, text)
            assert reason is not None
            if dup is not None:
                reason = pc.if_else(pa.array(dup), "duplicate transaction_id in this batch", reason)
            idx = pa.array(np.flatnonzero(bad))
            rejects.append(
                pa.table(
                    {
                        "row": pa.array(rows[bad]),
                        "column": pa.array([column.name] * int(bad.sum()), pa.string()),
                        "value": pc.take(text, idx),
                        "reason": pc.take(reason, idx),
                    },
                    schema=REJECTED_SCHEMA,
                )
            )
        all_ok &= ok_np
    schema = arrow_schema(with_label=False)
    valid = pa.Table.from_arrays(
        [a.cast(f.type) for a, f in zip(typed, schema, strict=True)], names=schema.names
    )
    if not all_ok.all():
        valid = valid.filter(pa.array(all_ok))
    rejected = (
        pa.concat_tables(rejects).sort_by([("row", "ascending")])
        if rejects
        else REJECTED_SCHEMA.empty_table()
    )
    return ValidationResult(valid, rows[all_ok], rejected, n)


def _first_occurrence(ids: pa.Array) -> np.ndarray:
    """True where an id appears for the first time in the batch."""
    codes = pc.dictionary_encode(pc.fill_null(ids, "")).indices.to_numpy(zero_copy_only=False)
    first = np.zeros(len(codes), dtype=bool)
    _, idx = np.unique(codes, return_index=True)
    first[idx] = True
    return first
