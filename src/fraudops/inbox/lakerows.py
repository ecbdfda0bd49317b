"""A scored file as the lake's rows: its content hash, its predictions, their commit."""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pyarrow as pa

from fraudops.inbox.ledger import Claim
from fraudops.schema import PRODUCTION_ROLE

if TYPE_CHECKING:  # the lake (pyiceberg): imported with the first commit
    from pyiceberg.table import Table

    from fraudops.lake import Fence

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


def commit_file(
    scores: Table, predictions: Table, rows: list[pa.Table], claim: Claim, fence: Fence
) -> int:
    """A scored file's ``rows`` into ``fraud.scores`` and ``fraud.predictions``, each once.

    Each append carries the file's content hash: a rerun finds it instead of appending
    again. Returns the ``fraud.scores`` snapshot.
    """
    from fraudops import lake

    assert claim.content_hash is not None
    assert claim.scored_at is not None
    summary = {
        "fraudops.source_file": claim.name,
        "fraudops.model_version": str(claim.model_version),
        "fraudops.rows": str(claim.rows_scored),
    }
    once = functools.partial(
        lake.append_once, content_hash=claim.content_hash, properties=summary, fence=fence
    )
    scored_at = at(claim.scored_at)
    extra = {
        "source_file": pa.scalar(claim.name),
        "content_hash": pa.scalar(claim.content_hash),
        "scored_at": scored_at,
    }
    snapshot_id = once(
        scores, lake_batches(rows, extra=extra, columns=lake.SCORES_SCHEMA.column_names)
    )
    extra = {
        "predicted_at": scored_at,
        "source": pa.scalar("inbox"),
        "role": pa.scalar(PRODUCTION_ROLE),
    }
    once(predictions, lake_batches(rows, extra=extra, columns=lake.PREDICTIONS_SCHEMA.column_names))
    return snapshot_id
