"""The online executor: the features of a request's transactions, from and into a store.

Each transaction is recorded in the store and its card's earlier transactions fetched, in
event-time order (one atomic step per transaction); the features are then computed by the
offline executor's own code over those few rows, each transaction with its own history.
Same definition, same code: a transaction gets the features the lake would give it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pyarrow as pa

from fraudops.cardhistory.definition import EVENT_COLUMNS, HISTORY_FEATURES
from fraudops.cardhistory.offline import compute
from fraudops.cardhistory.stores.base import Event, HistoryStore

_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_US = dt.timedelta(microseconds=1)
_TS = pa.timestamp("us", tz="UTC")


def micros(when: dt.datetime) -> int:
    """Integer microseconds since the epoch (exact, no float on the way)."""
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return (when - _EPOCH) // _US


def event_of(record: Any) -> Event:
    """The event a validated transaction (a model or a mapping) adds to its card's history."""
    r = record if isinstance(record, Mapping) else vars(record)
    return (
        str(r["card_id"]),
        micros(r["event_ts"]),
        str(r["transaction_id"]),
        float(r["transaction_amount"]),
        float(r["latitude"]),
        float(r["longitude"]),
        str(r["merchant_id"]),
    )


def events_table(events: Sequence[Event], *, groups: Sequence[str] | None = None) -> pa.Table:
    """Events as a table of ``EVENT_COLUMNS`` (``groups`` replace the card ids if given)."""
    cards, ts, txns, amounts, lats, lons, merchants = (
        (list(col) for col in zip(*events, strict=True)) if events else ([], [], [], [], [], [], [])
    )
    columns = {
        "transaction_id": pa.array(txns, pa.string()),
        "event_ts": pa.array(ts, pa.int64()).cast(_TS),
        "card_id": pa.array(groups if groups is not None else cards, pa.string()),
        "merchant_id": pa.array(merchants, pa.string()),
        "transaction_amount": pa.array(amounts, pa.float64()),
        "latitude": pa.array(lats, pa.float64()),
        "longitude": pa.array(lons, pa.float64()),
    }
    return pa.table({name: columns[name] for name in EVENT_COLUMNS})


def record_and_compute(store: HistoryStore, records: Sequence[Any]) -> dict[str, np.ndarray]:
    """Features of ``records`` (in their order), each recorded in ``store`` on the way.

    Raises:
        StoreUnavailable: the store did not answer (nothing is scored without history).
    """
    events = [event_of(r) for r in records]
    order = sorted(range(len(events)), key=lambda i: (events[i][1], events[i][2]))
    fetched = store.record_and_fetch([events[i] for i in order])
    rows: list[Event] = []
    groups: list[str] = []
    targets: list[bool] = []
    for j, (i, history) in enumerate(zip(order, fetched, strict=True)):
        label = str(j)  # each transaction is scored with exactly its own history
        rows.extend(history)
        rows.append(events[i])
        groups.extend([label] * (len(history) + 1))
        targets.extend([False] * len(history) + [True])
    computed = compute(events_table(rows, groups=groups), np.array(targets, dtype=bool))
    out = {name: np.empty(len(events), dtype=np.float64) for name in HISTORY_FEATURES}
    for name in HISTORY_FEATURES:
        out[name][np.array(order, dtype=np.intp)] = computed[name]
    return out
