"""The training data: a pinned lake snapshot, split by time, and the lineage that names it."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from fraudops.errors import FraudOpsError
from fraudops.schema import LABEL


@dataclass(frozen=True)
class Split:
    """A time-based split: train on older days, validate, hold out the most recent ones."""

    train: pa.Table
    valid: pa.Table
    holdout: pa.Table
    train_days: list[dt.date]
    valid_days: list[dt.date]
    holdout_days: list[dt.date]


def time_split(table: pa.Table, *, valid_days: int, holdout_days: int) -> Split:
    """Split by day of ``event_ts``; never a random split across time."""
    day = pc.cast(table["event_ts"], pa.date32())
    days = sorted(pc.unique(day).to_pylist())
    if len(days) < valid_days + holdout_days + 1:
        raise FraudOpsError(
            f"training needs at least {valid_days + holdout_days + 1} days of data "
            f"({valid_days} validation + {holdout_days} holdout + 1 train); "
            f"the lake has {len(days)}."
        )
    hold = days[-holdout_days:]
    val = days[-(holdout_days + valid_days) : -holdout_days]
    train = days[: -(holdout_days + valid_days)]

    def pick(ds: list[dt.date]) -> pa.Table:
        return table.filter(pc.is_in(day, value_set=pa.array(ds, pa.date32())))

    return Split(pick(train), pick(val), pick(hold), train, val, hold)


def labels(table: pa.Table) -> np.ndarray:
    """The ``is_fraud`` label as a numpy int array."""
    return np.asarray(table[LABEL.name].to_numpy(), dtype=np.int32)


def lineage_tags(
    *, table: str, snapshot_id: int, data: pa.Table, split: Split, code_version: str
) -> dict[str, str]:
    """The tags that tie a run to the exact lake data it saw."""
    all_days = split.train_days + split.valid_days + split.holdout_days
    return {
        "fraudops.lake_table": table,
        "fraudops.snapshot_id": str(snapshot_id),
        "fraudops.rows": str(data.num_rows),
        "fraudops.fraud_rate": f"{float(pc.mean(data[LABEL.name]).as_py()):.5f}",
        "fraudops.date_from": min(all_days).isoformat(),
        "fraudops.date_to": max(all_days).isoformat(),
        "fraudops.train_days": f"{split.train_days[0]}..{split.train_days[-1]}",
        "fraudops.valid_days": f"{split.valid_days[0]}..{split.valid_days[-1]}",
        "fraudops.holdout_days": f"{split.holdout_days[0]}..{split.holdout_days[-1]}",
        "fraudops.code_version": code_version,
    }
