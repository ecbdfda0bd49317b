"""The online executor: the features of a request's transactions, from and into a store.

Each transaction is recorded in the store and its card's earlier transactions fetched, in
event-time order (one atomic step per transaction). The store hands each transaction exactly
its history (the card's transactions in ``[ts - HORIZON, ts)``), so the aggregates are plain
counts and sums over it, computed for the whole request at once with numpy; the features
then come from the definition's :func:`derive`, as offline. The tests and
``bench/cardhistory.py`` hold the two executors to the same features.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pyarrow as pa

from fraudops.cardhistory.definition import (
    AMOUNT_WINDOWS,
    EVENT_COLUMNS,
    HISTORY_FEATURES,
    WINDOWS,
    derive,
)
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
    features = features_of([events[i] for i in order], fetched)
    out = {name: np.empty(len(events), dtype=np.float64) for name in HISTORY_FEATURES}
    where = np.array(order, dtype=np.intp)
    for name in HISTORY_FEATURES:
        out[name][where] = features[name]
    return out


def features_of(
    events: Sequence[Event], histories: Sequence[Sequence[Event]]
) -> dict[str, np.ndarray]:
    """The features of each event from exactly its history (its card, ``[ts - HORIZON, ts)``)."""
    n = len(events)
    sizes = np.fromiter((len(h) for h in histories), dtype=np.intp, count=n)
    group = np.repeat(np.arange(n), sizes)  # history row -> its event
    flat = [e for h in histories for e in h]
    ts = np.fromiter((e[1] for e in events), dtype=np.int64, count=n)
    amount = np.fromiter((e[3] for e in events), dtype=np.float64, count=n)
    h_ts = np.fromiter((e[1] for e in flat), dtype=np.int64, count=len(flat))
    h_amount = np.fromiter((e[3] for e in flat), dtype=np.float64, count=len(flat))
    agg: dict[str, np.ndarray] = {}
    age = ts[group] - h_ts  # > 0: the store gives strictly earlier transactions
    for w, width in WINDOWS.items():
        inside = age <= width
        agg[f"count_{w}"] = np.bincount(group, weights=inside, minlength=n)
        if w in AMOUNT_WINDOWS:
            agg[f"sum_{w}"] = np.bincount(group, weights=h_amount * inside, minlength=n)
    # the previous transaction: the latest, ties in time to the larger transaction id
    prev_dt = np.full(n, np.nan)
    prev_lat = np.full(n, np.nan)
    prev_lon = np.full(n, np.nan)
    seen = np.zeros(n, dtype=np.float64)
    for i, history in enumerate(histories):
        if history:
            last = max(history, key=lambda e: (e[1], e[2]))
            prev_dt[i] = ts[i] - last[1]
            prev_lat[i], prev_lon[i] = last[4], last[5]
            merchant = events[i][6]
            seen[i] = sum(1 for e in history if e[6] == merchant)
    agg["prev_dt_us"], agg["prev_lat"], agg["prev_lon"] = prev_dt, prev_lat, prev_lon
    agg["merchant_seen"] = seen
    agg["amount"] = amount
    agg["lat"] = np.fromiter((e[4] for e in events), dtype=np.float64, count=n)
    agg["lon"] = np.fromiter((e[5] for e in events), dtype=np.float64, count=n)
    return derive(agg)
