"""Transactions labelled as known at a cut-off, read from pinned snapshots of both tables."""

from __future__ import annotations

import threading
from dataclasses import dataclass

from pyiceberg.catalog import Catalog

from fraudops.cardhistory import enrich
from fraudops.lake.catalog import arrow_schema_of, labels_table, transactions_table
from fraudops.lake.days import read_labels, read_transactions, resolve_snapshot
from fraudops.trainset import Labelled, cutoff_of, label_at


@dataclass(frozen=True)
class Pinned:
    """The snapshots a training run or a gate reads: the same data on every retry."""

    transactions: int
    labels: int | None  # None: no label event written yet


def pin(catalog: Catalog, *, snapshot_id: int | None = None) -> Pinned:
    """Pin ``fraud.transactions`` (at ``snapshot_id`` or its current snapshot) and the labels."""
    transactions = resolve_snapshot(transactions_table(catalog), snapshot_id).snapshot_id
    labels = labels_table(catalog).current_snapshot()
    return Pinned(transactions, labels.snapshot_id if labels else None)


_last: dict[tuple[str, str, Pinned, int], Labelled] = {}  # the last read, by what it read
_lock = threading.Lock()


def read_labelled(catalog: Catalog, pinned: Pinned, *, maturity_days: int) -> Labelled:
    """A snapshot's transactions, history enriched, labelled as known at its cut-off.

    Snapshots never change: the process keeps its last read, and a second read of the same
    pinned snapshots (the gate after the training that wrote its candidate) reuses it.
    """
    where = catalog.properties
    key = (str(where.get("uri")), str(where.get("warehouse")), pinned, maturity_days)
    with _lock:
        if key not in _last:
            _last.clear()  # one table at most stays in memory
            _last[key] = _read_labelled(catalog, pinned, maturity_days=maturity_days)
        return _last[key]


def _read_labelled(catalog: Catalog, pinned: Pinned, *, maturity_days: int) -> Labelled:
    table = transactions_table(catalog)
    # every transaction of the snapshot is history, labelled or not
    transactions = enrich(read_transactions(table, snapshot_id=pinned.transactions))
    cutoff = cutoff_of(transactions)
    events_table = labels_table(catalog)
    if pinned.labels is None:
        events = arrow_schema_of(events_table).empty_table()
    else:
        events = read_labels(events_table, before=cutoff, snapshot_id=pinned.labels)
    return label_at(transactions, events, cutoff=cutoff, maturity_days=maturity_days)
