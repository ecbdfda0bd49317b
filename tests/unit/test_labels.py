"""Labels arrive late, and training sees them only as the bank knew them at its cut-off."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from fraudops.datagen import generate_day, label_events, reported_on
from fraudops.datagen.labels import MAX_DELAY_DAYS, UNREPORTED_FRAUD
from fraudops.schema import LABEL, label_event_schema
from fraudops.trainset import cutoff_of, label_at

DAY = dt.date(2026, 1, 10)
UTC = dt.UTC


@pytest.fixture(scope="module")
def truth() -> pa.Table:
    return generate_day(DAY, rows=20_000, seed=5)


def test_events_are_deterministic_and_late(truth: pa.Table) -> None:
    events = label_events(truth, day=DAY, seed=5)
    assert events.equals(label_events(truth, day=DAY, seed=5))
    delay = (
        pc.subtract(
            events["reported_at"].cast(pa.int64()), events["event_ts"].cast(pa.int64())
        ).to_numpy()
        / 86_400e6
    )
    assert (delay > 0).all() and (delay <= MAX_DELAY_DAYS).all()
    fraud = events.filter(pc.equal(events["label"], 1))
    chargebacks = fraud.filter(pc.equal(fraud["source"], "chargeback"))
    cb_delay = np.sort(delay[(events["label"].to_numpy() == 1)])
    assert 1.5 < np.median(cb_delay) < 5  # most fraud reported within days
    assert (cb_delay > 14).any()  # a tail over weeks
    frauds = int(pc.sum(truth[LABEL.name]).as_py())
    assert chargebacks.num_rows > 0.8 * frauds
    missing = frauds - fraud.num_rows  # never reported
    assert 0 < missing < 3 * UNREPORTED_FRAUD * frauds
    legit = events.filter(pc.equal(events["label"], 0))
    assert set(legit["source"].to_pylist()) == {"analyst"}
    assert 0 < legit.num_rows < 0.01 * truth.num_rows


def test_reported_on_gives_each_event_once_on_its_day() -> None:
    kw = {"rows": 2_000, "seed": 3, "fraud_rate": 0.05, "drift_from": None}
    days = [DAY + dt.timedelta(days=i) for i in range(5)]
    together = reported_on(days, **kw)
    apart = pa.concat_tables([reported_on([d], **kw) for d in days])
    assert together.sort_by("transaction_id").equals(apart.sort_by("transaction_id"))
    assert set(pc.cast(together["reported_at"], pa.date32()).to_pylist()) <= set(days)
    assert pc.count_distinct(together["transaction_id"]).as_py() == together.num_rows
    # from transactions of earlier days too, never of later ones
    tx_days = set(pc.cast(together["event_ts"], pa.date32()).to_pylist())
    assert min(tx_days) < days[0] and max(tx_days) <= days[-1]


def _tx(ids_days: list[tuple[str, int]]) -> pa.Table:
    base = dt.datetime(2026, 1, 1, 12, tzinfo=UTC)
    return pa.table(
        {
            "transaction_id": [i for i, _ in ids_days],
            "event_ts": pa.array(
                [base + dt.timedelta(days=d) for _, d in ids_days], pa.timestamp("us", tz="UTC")
            ),
        }
    )


def _events(rows: list[tuple[str, int, int, float]]) -> pa.Table:
    """(transaction id, its day, label, reported on day (fractional))."""
    base = dt.datetime(2026, 1, 1, tzinfo=UTC)
    ts = pa.timestamp("us", tz="UTC")
    return pa.table(
        {
            "transaction_id": [r[0] for r in rows],
            "event_ts": pa.array([base + dt.timedelta(days=r[1], hours=12) for r in rows], ts),
            "label": pa.array([r[2] for r in rows], pa.int32()),
            "reported_at": pa.array([base + dt.timedelta(days=r[3]) for r in rows], ts),
            "source": ["chargeback"] * len(rows),
        },
        schema=label_event_schema(),
    )


def test_a_label_reported_after_the_cutoff_is_never_used() -> None:
    # days 0..9; cut-off = end of day 9 = day 10.0; maturity 3: days 0..6 mature
    tx = _tx([("old-fraud", 0), ("late-report", 2), ("old-quiet", 3), ("young", 8), ("y2", 9)])
    events = _events(
        [
            ("old-fraud", 0, 1, 2.0),
            ("late-report", 2, 1, 10.5),  # reported after the cut-off: never seen
            ("young", 8, 1, 9.5),
        ]
    )
    cutoff = cutoff_of(tx)
    assert cutoff == dt.datetime(2026, 1, 11, tzinfo=UTC)

    got = label_at(tx, events, cutoff=dt.datetime(2026, 1, 11, tzinfo=UTC), maturity_days=3)
    labels = dict(
        zip(got.table["transaction_id"].to_pylist(), got.table[LABEL.name].to_pylist(), strict=True)
    )

    assert labels == {"old-fraud": 1, "late-report": 0, "old-quiet": 0}  # young ones left out
    assert got.rows == 5 and got.known == 4  # 3 mature + "young" (reported)
    assert got.coverage == pytest.approx(0.8)
    assert got.events == 2


def test_the_latest_event_before_the_cutoff_wins() -> None:
    tx = _tx([("disputed", 0), ("other", 1)])
    events = _events([("disputed", 0, 1, 1.0), ("disputed", 0, 0, 3.0), ("disputed", 0, 1, 30)])

    got = label_at(tx, events, cutoff=dt.datetime(2026, 1, 20, tzinfo=UTC), maturity_days=3)

    labels = dict(
        zip(got.table["transaction_id"].to_pylist(), got.table[LABEL.name].to_pylist(), strict=True)
    )
    assert labels == {"disputed": 0, "other": 0}


def test_the_labelled_rows_come_in_time_then_id_order_with_plain_fields() -> None:
    # out of order, two at the same instant, and a NOT NULL field with a doc, as the lake has
    tx = _tx([("c", 2), ("b", 0), ("young", 9), ("a", 2), ("z", 1)])
    tx = tx.cast(
        pa.schema(
            [
                pa.field("transaction_id", pa.string(), nullable=False, metadata={"doc": "id"}),
                tx.schema.field("event_ts"),
            ]
        )
    )
    events = _events([("a", 2, 1, 3.0)])

    got = label_at(tx, events, cutoff=dt.datetime(2026, 1, 11, tzinfo=UTC), maturity_days=3)

    assert got.table["transaction_id"].to_pylist() == ["b", "z", "a", "c"]
    assert got.table[LABEL.name].to_pylist() == [0, 0, 1, 0]
    assert got.table.schema == pa.schema(  # the fields as a join gives them: no doc, nullable
        [
            pa.field("transaction_id", pa.string()),
            pa.field("event_ts", pa.timestamp("us", tz="UTC")),
            pa.field(LABEL.name, pa.int32()),
        ]
    )
    assert all(field.metadata is None for field in got.table.schema)
