"""A scored file as the lake's rows: its content hash, its predictions batch by batch."""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa

_TS = pa.timestamp("us", tz="UTC")


def file_hash(path: Path) -> str:
    """SHA-256 of a file's bytes (hex)."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(4 * 1024 * 1024):
            digest.update(block)
    return digest.hexdigest()


def lake_batches(
    predictions: list[pa.Table], *, extra: dict[str, pa.Scalar], columns: list[str]
) -> Iterator[pa.Table]:
    """The predictions, batch by batch, with constant ``extra`` columns, as ``columns``."""
    for table in predictions:
        n = table.num_rows
        for name, value in extra.items():
            table = table.append_column(name, pa.repeat(value, n))
        yield table.select(columns)


def at(timestamp: str) -> pa.Scalar:
    """An ISO-8601 time as a UTC timestamp scalar."""
    return pa.scalar(dt.datetime.fromisoformat(timestamp), _TS)
