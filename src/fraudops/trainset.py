"""The training data: transactions labelled as the bank knew them at a cut-off, split by time.

Labels arrive late (:mod:`fraudops.datagen.labels`), so a training set is point-in-time: only
label events reported before the cut-off count. A transaction older than the maturity window
with no event counts as legitimate; a younger one is left out (its label is not known yet).
Validation and holdout are the most recent *mature* days; training takes the days before
them. Young transactions, labelled or not, come after the holdout and are left out too:
training on them would look into the holdout's future.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from fraudops.errors import FraudOpsError
from fraudops.schema import LABEL


@dataclass(frozen=True)
class Labelled:
    """Transactions with the label the bank knew at ``cutoff``; only mature ones."""

    table: pa.Table  # the transactions' columns and ``is_fraud``
    cutoff: dt.datetime  # label events reported before this were used, none after
    mature_before: dt.datetime  # transactions before this are mature
    rows: int  # all transactions in the data
    known: int  # with a known label at the cut-off: mature ones, and young ones reported
    events: int  # label events used

    @property
    def coverage(self) -> float:
        """The share of transactions whose label was known at the cut-off."""
        return self.known / self.rows if self.rows else 0.0


def cutoff_of(transactions: pa.Table) -> dt.datetime:
    """The cut-off of a snapshot: the end of its last day of transactions (data time)."""
    if transactions.num_rows == 0:
        raise FraudOpsError("no transactions to label: run `fraudops generate` first.")
    last = pc.max(pc.cast(transactions["event_ts"], pa.date32())).as_py()
    return dt.datetime.combine(last + dt.timedelta(days=1), dt.time(), tzinfo=dt.UTC)


def label_at(
    transactions: pa.Table, events: pa.Table, *, cutoff: dt.datetime, maturity_days: int
) -> Labelled:
    """Join label events to transactions as known at ``cutoff`` (the latest event wins).

    The transactions' wide table is copied once, by the ``take`` that keeps the mature rows
    in (event time, id) order: a join, then a filter, then a sort copied it three times,
    and on a fresh process's memory those copies were most of the read.
    """
    ts_type = events["reported_at"].type
    events = events.filter(pc.less(events["reported_at"], pa.scalar(cutoff, ts_type)))
    latest = (
        events.sort_by([("reported_at", "ascending")])
        .group_by("transaction_id", use_threads=False)
        .aggregate([("label", "last")])
    )
    ids = transactions["transaction_id"]
    reported = latest["label_last"].take(pc.index_in(ids, value_set=latest["transaction_id"]))
    mature_before = cutoff - dt.timedelta(days=maturity_days)
    event_ts = transactions["event_ts"]
    mature = pc.less(event_ts, pa.scalar(mature_before, event_ts.type))
    known = int(pc.sum(pc.or_(mature, pc.is_valid(reported))).as_py() or 0)
    keys = pa.table(
        {"event_ts": event_ts, "transaction_id": ids, "row": np.arange(transactions.num_rows)}
    ).filter(mature)
    order = pc.sort_indices(keys, [("event_ts", "ascending"), ("transaction_id", "ascending")])
    rows = keys["row"].take(order)
    taken = transactions.take(rows)
    label = pc.fill_null(reported, 0).cast(pa.int32()).take(rows)
    # plain fields, as the join gave: the lake's docs and NOT NULLs stay with the lake
    table = pa.Table.from_arrays([*taken.columns, label], names=[*taken.column_names, LABEL.name])
    return Labelled(table, cutoff, mature_before, transactions.num_rows, known, events.num_rows)


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
            f"training needs at least {valid_days + holdout_days + 1} days of mature data "
            f"({valid_days} validation + {holdout_days} holdout + 1 train); "
            f"the lake has {len(days)} (transactions younger than the maturity window "
            "have no known label yet)."
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


def day_codes(table: pa.Table) -> np.ndarray:
    """Each row's event day as an integer (days since the epoch)."""
    return np.asarray(pc.cast(table["event_ts"], pa.date32()).cast(pa.int32()).to_numpy())


def amounts(table: pa.Table) -> np.ndarray:
    """Each row's amount: what a missed fraud costs."""
    return np.asarray(table["transaction_amount"].to_numpy(), dtype=np.float64)


def lineage_tags(
    *,
    table: str,
    snapshot_id: int,
    labels_snapshot_id: int | None,
    data: Labelled,
    split: Split,
    maturity_days: int,
    code_version: str,
) -> dict[str, str]:
    """The tags that tie a run to the exact lake data and labels it saw."""
    all_days = split.train_days + split.valid_days + split.holdout_days
    return {
        "fraudops.lake_table": table,
        "fraudops.snapshot_id": str(snapshot_id),
        "fraudops.labels_snapshot_id": str(labels_snapshot_id),
        "fraudops.label_cutoff": data.cutoff.isoformat(),
        "fraudops.label_maturity_days": str(maturity_days),
        "fraudops.label_coverage": f"{data.coverage:.4f}",
        "fraudops.label_events": str(data.events),
        "fraudops.rows": str(data.table.num_rows),
        "fraudops.rows_in_snapshot": str(data.rows),
        "fraudops.fraud_rate": f"{float(pc.mean(data.table[LABEL.name]).as_py() or 0):.5f}",
        "fraudops.date_from": min(all_days).isoformat(),
        "fraudops.date_to": max(all_days).isoformat(),
        "fraudops.train_days": f"{split.train_days[0]}..{split.train_days[-1]}",
        "fraudops.valid_days": f"{split.valid_days[0]}..{split.valid_days[-1]}",
        "fraudops.holdout_days": f"{split.holdout_days[0]}..{split.holdout_days[-1]}",
        "fraudops.code_version": code_version,
    }
