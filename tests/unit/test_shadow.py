"""Shadow periods from the history, and monitoring reading only what production answered."""

from __future__ import annotations

import datetime as dt

import pyarrow as pa

from fraudops.history import Event, Kind
from fraudops.monitoring.check import answered
from fraudops.shadow import days_in_shadow

T0 = dt.datetime(2026, 3, 1, tzinfo=dt.UTC)


def _event(kind: Kind, version: str, days: float) -> Event:
    at = (T0 + dt.timedelta(days=days)).isoformat(timespec="microseconds")
    return Event(kind=kind, version=version, previous="1", by="ci", at=at, reason="")


def test_the_latest_stretch_in_shadow_counts() -> None:
    events = [
        _event(Kind.SHADOW_STARTED, "4", 0),
        _event(Kind.SHADOW_STOPPED, "4", 3),  # three days, then stopped
        _event(Kind.SHADOW_STARTED, "5", 3),
        _event(Kind.SHADOW_STARTED, "4", 5),  # started again: the count starts again
    ]
    now = T0 + dt.timedelta(days=6)
    assert days_in_shadow(events, "4", now) == 1.0
    assert days_in_shadow(events, "5", now) == 3.0  # still running
    assert days_in_shadow(events[:2], "4", now) == 3.0  # stopped: its length stays
    assert days_in_shadow(events, "6", now) == 0.0  # never in shadow


def test_monitoring_leaves_the_shadow_rows_out() -> None:
    rows = pa.table(
        {
            "transaction_id": ["a", "a", "b", "c"],
            "role": ["production", "shadow", None, "shadow"],  # null: logged before the column
        }
    )
    assert answered(rows)["transaction_id"].to_pylist() == ["a", "b"]
