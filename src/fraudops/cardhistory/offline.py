"""The offline executor: card-history features of every row of a table, vectorised.

Rows are sorted by (card, event time, transaction id); for each row, binary searches over a
key that keeps cards apart find where each window starts and where the row's own timestamp
starts (the rows strictly before it), and prefix sums give the totals. No Python loop runs
per row or per card, so a month of transactions takes seconds. Point-in-time by
construction: a row's figures come only from rows of its card strictly earlier in time.
"""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from fraudops.cardhistory.definition import (
    AMOUNT_WINDOWS,
    EVENT_COLUMNS,
    HISTORY_FEATURES,
    HORIZON,
    WINDOWS,
    derive,
)
from fraudops.memory import release

_TS = pa.timestamp("us", tz="UTC")
_KEY_LIMIT = 2**62  # keys stay well inside int64


GROUP_ROWS = 50_000  # events of a group of cards computed at once (~1.5 kB each)
THREADS = 2  # groups computed side by side: numpy's sorts and searches, Arrow's take and
# most arithmetic release the GIL (the inbox's 1M-row file: `make bench ARGS=inbox`)


def _codes(values: pa.ChunkedArray | pa.Array) -> np.ndarray:
    """Integer codes equal exactly where the values are equal."""
    if isinstance(values, pa.ChunkedArray):  # one dictionary, not one per chunk to unify
        values = values.combine_chunks() if values.num_chunks != 1 else values.chunk(0)
    encoded = pc.dictionary_encode(values)
    return np.asarray(encoded.indices.to_numpy(zero_copy_only=False), dtype=np.int64)


def _micros(values: pa.ChunkedArray | pa.Array) -> np.ndarray:
    return np.asarray(
        pc.cast(pc.cast(values, _TS), pa.int64()).to_numpy(zero_copy_only=False), dtype=np.int64
    )


def _floats(values: pa.ChunkedArray | pa.Array) -> np.ndarray:
    return np.asarray(values.to_numpy(zero_copy_only=False), dtype=np.float64)


def _chunks(rank: np.ndarray, span: int) -> Iterator[tuple[int, int, int]]:
    """(first row, end row, first rank) of runs of groups whose keys fit in int64."""
    per_chunk = max(1, _KEY_LIMIT // span)
    start = 0
    n = len(rank)
    while start < n:
        first = int(rank[start])
        end = int(np.searchsorted(rank, first + per_chunk, side="left"))
        yield start, end, first
        start = end


def _bounds(
    rank: np.ndarray, t: np.ndarray, windows: dict[str, int]
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """For rows sorted by (rank, t): where each row's own time starts, and each window.

    ``own[i]``: the first row of the group at time ``t[i]`` (rows before it are strictly
    earlier); ``lo[w][i]``: the first row of the group at or after ``t[i] - w``.
    """
    n = len(t)
    own = np.empty(n, dtype=np.int64)
    lo = {w: np.empty(n, dtype=np.int64) for w in windows}
    if n == 0:
        return own, lo
    t0 = int(t.min())
    span = int(t.max()) - t0 + max(windows.values()) + 1
    for start, end, first in _chunks(rank, span):
        key = (rank[start:end] - first) * span + (t[start:end] - t0)
        own[start:end] = start + np.searchsorted(key, key, side="left")
        for w, width in windows.items():
            lo[w][start:end] = start + np.searchsorted(key, key - width, side="left")
    return own, lo


def _sort(keys: list[np.ndarray], groups: int) -> tuple[np.ndarray, np.ndarray]:
    """Row order by ``keys`` (major first) and each sorted row's group rank.

    A group is the rows equal in the first ``groups`` keys.
    """
    order = np.lexsort(keys[::-1])
    change = np.zeros(len(order), dtype=bool)
    for key in keys[:groups]:
        k = key[order]
        change[1:] |= k[1:] != k[:-1]
    return order, np.cumsum(change)


def compute(events: pa.Table, targets: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """The features of the ``targets`` rows of ``events`` (all rows by default), in row order.

    ``events`` has at least ``EVENT_COLUMNS``; every row is history for the rows of its card
    after it. Rows with the same card, time and transaction id are one transaction.
    """
    n = events.num_rows
    if n == 0:
        return {name: np.zeros(0, dtype=np.float64) for name in HISTORY_FEATURES}
    card = _codes(events["card_id"])
    t = _micros(events["event_ts"])
    # ties in time are ordered by transaction id, in both executors
    ids = events["transaction_id"]
    ids = ids.combine_chunks() if isinstance(ids, pa.ChunkedArray) else ids
    txn = np.asarray(pc.rank(ids, sort_keys="ascending", tiebreaker="dense"), dtype=np.int64)
    order, rank = _sort([card, t, txn], groups=1)
    ts = t[order]
    own, lo = _bounds(rank, ts, WINDOWS)
    amount = _floats(events["transaction_amount"])
    lat, lon = _floats(events["latitude"]), _floats(events["longitude"])
    cum = np.concatenate([[0.0], np.cumsum(amount[order])])
    agg: dict[str, np.ndarray] = {}
    for w in WINDOWS:
        agg[f"count_{w}"] = own - lo[w]
    for w in AMOUNT_WINDOWS:
        agg[f"sum_{w}"] = cum[own] - cum[lo[w]]
    has_prev = agg["count_30d"] > 0
    prev = np.where(has_prev, own - 1, 0)
    agg["prev_dt_us"] = np.where(has_prev, ts - ts[prev], np.nan)
    agg["prev_lat"] = np.where(has_prev, lat[order][prev], np.nan)
    agg["prev_lon"] = np.where(has_prev, lon[order][prev], np.nan)
    agg["amount"], agg["lat"], agg["lon"] = amount[order], lat[order], lon[order]
    # the same merchant on the same card within the horizon, strictly earlier
    merchant = _codes(events["merchant_id"])
    order2, rank2 = _sort([card, merchant, t], groups=2)
    own2, lo2 = _bounds(rank2, t[order2], {"30d": HORIZON})
    seen = np.empty(n, dtype=np.int64)
    seen[order2] = own2 - lo2["30d"]
    agg["merchant_seen"] = seen[order]
    features = derive(agg)
    pick = np.empty(n, dtype=np.int64)
    pick[order] = np.arange(n)  # row -> its position in sorted order
    rows = pick if targets is None else pick[np.asarray(targets, dtype=bool)]
    return {name: features[name][rows] for name in HISTORY_FEATURES}


def _by_card_groups(events: pa.Table, targets: np.ndarray) -> dict[str, np.ndarray]:
    """:func:`compute`, a group of cards at a time, ``THREADS`` groups side by side.

    Memory is bounded by ``THREADS`` x ``GROUP_ROWS`` events. A card's transactions are all
    in one group, so each feature is the same as at once; each group fills its own rows.
    """
    groups = -(-events.num_rows // GROUP_ROWS)
    if groups <= 1:
        return compute(events, targets)
    group = _codes(events["card_id"]) % groups
    out = {name: np.empty(int(targets.sum()), dtype=np.float64) for name in HISTORY_FEATURES}
    position = np.cumsum(targets) - 1  # a target event -> its row

    def one(g: int) -> None:
        members = np.flatnonzero(group == g)
        part = compute(events.take(pa.array(members)), targets[members])
        rows = position[members[targets[members]]]
        for name in HISTORY_FEATURES:
            out[name][rows] = part[name]
        del part
        release()  # the group's arrays, before the next group's

    with ThreadPoolExecutor(max_workers=THREADS, thread_name_prefix="fraudops-enrich") as pool:
        list(pool.map(one, range(groups)))
    return out


def enrich(rows: pa.Table, history: pa.Table | None = None) -> pa.Table:
    """``rows`` with the history features appended, from ``rows`` and earlier ``history``.

    ``history`` (the lake's, or a store's) adds transactions before and among ``rows``; a
    transaction in both counts once (the row's copy).
    """
    events = rows.select(list(EVENT_COLUMNS))
    targets = np.ones(rows.num_rows, dtype=bool)
    if history is not None and history.num_rows:
        ids = rows["transaction_id"]
        past = history.select(list(EVENT_COLUMNS))
        past = past.filter(pc.invert(pc.is_in(past["transaction_id"], value_set=ids)))
        events = pa.concat_tables([events, past.cast(events.schema)])
        targets = np.concatenate([targets, np.zeros(past.num_rows, dtype=bool)])
    features = _by_card_groups(events, targets)
    out = rows.drop_columns([c for c in HISTORY_FEATURES if c in rows.column_names])
    for name in HISTORY_FEATURES:
        out = out.append_column(name, pa.array(features[name], pa.float64()))
    return out
