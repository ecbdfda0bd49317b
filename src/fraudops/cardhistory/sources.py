"""Where a batch's card history comes from: the lake, or the online store (read only)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import TYPE_CHECKING

import pyarrow as pa
import pyarrow.compute as pc

from fraudops.cardhistory.definition import EVENT_COLUMNS, HORIZON
from fraudops.cardhistory.online import events_table
from fraudops.cardhistory.stores.base import HistoryStore
from fraudops.config import Settings

if TYPE_CHECKING:
    from pyiceberg.table import Table

_TS = pa.timestamp("us", tz="UTC")


def _span(rows: pa.Table) -> tuple[int, int]:
    ts = pc.cast(pc.cast(rows["event_ts"], _TS), pa.int64())
    lo, hi = pc.min_max(ts).values()
    return int(lo.as_py()), int(hi.as_py())


def from_lake(table: Table, rows: pa.Table, *, snapshot_id: int | None) -> pa.Table | None:
    """The lake's transactions (at a snapshot) of the rows' cards, back to the horizon."""
    if rows.num_rows == 0 or snapshot_id is None:
        return None
    # the lake (pyiceberg, SQLAlchemy, pandas) only for the callers that read it: the API
    # reads the store and never imports it
    from fraudops import lake

    lo, hi = _span(rows)
    first = (dt.datetime.fromtimestamp((lo - HORIZON) / 1e6, dt.UTC)).date()
    last = dt.datetime.fromtimestamp(hi / 1e6, dt.UTC).date()
    days = [first + dt.timedelta(days=i) for i in range((last - first).days + 1)]
    history = lake.read_transactions(
        table, snapshot_id=snapshot_id, days=days, columns=EVENT_COLUMNS
    )
    return history.filter(pc.is_in(history["card_id"], value_set=pc.unique(rows["card_id"])))


def lake_snapshot(settings: Settings) -> int | None:
    """The lake's current transactions snapshot, to pin a batch's history to (None: empty)."""
    from fraudops import lake

    snapshot = lake.transactions_table(lake.open_catalog(settings)).current_snapshot()
    return snapshot.snapshot_id if snapshot else None


def lake_history(
    settings: Settings, snapshot_id: int | None
) -> Callable[[pa.Table], pa.Table | None]:
    """:func:`from_lake` at a pinned snapshot, for the rows it is given."""
    from fraudops import lake

    table = lake.transactions_table(lake.open_catalog(settings))
    return lambda rows: from_lake(table, rows, snapshot_id=snapshot_id)


def from_store(store: HistoryStore, rows: pa.Table) -> pa.Table | None:
    """The store's events of the rows' cards, back to the horizon (nothing is written)."""
    if rows.num_rows == 0:
        return None
    lo, hi = _span(rows)
    cards = pc.unique(rows["card_id"]).to_pylist()
    return events_table(store.fetch(cards, since=lo - HORIZON, until=hi))
