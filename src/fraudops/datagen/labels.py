"""Label events: how and when a bank learns the truth about its transactions (pure, seeded).

* **Fraud** is mostly reported by a **chargeback**: the card holder disputes it days later
  (log-normal delay, median 3 days, a tail over weeks). Analysts catch some fraud first,
  within a few days. A few frauds are **never reported** (3%): they stay in the data as
  legitimate-looking rows, as in a real bank.
* **Legitimate** transactions get no event, except a small sample confirmed by analysts.

Events are deterministic per (seed, transaction day); :func:`reported_on` gives the events a
bank receives during given days, from every transaction day they can come from.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from fraudops.datagen.days import generate_day
from fraudops.datagen.transactions import slice_seed, slice_sizes
from fraudops.schema import LABEL, LABEL_SOURCES, label_event_schema

MAX_DELAY_DAYS = 60  # no event is reported later than this after its transaction
UNREPORTED_FRAUD = 0.03
ANALYST_FRAUD = 0.08  # share of fraud an analyst flags before any chargeback
ANALYST_LEGIT = 0.005  # share of legitimate transactions an analyst confirms
CHARGEBACK_MEDIAN_DAYS = 3.0
CHARGEBACK_SIGMA = 0.9

_US_PER_DAY = 86_400 * 1_000_000


def label_events(truth: pa.Table, *, day: dt.date, seed: int) -> pa.Table:
    """The label events, ever, of one day of transactions (``truth`` has ``is_fraud``)."""
    parts, offset = [], 0
    for part, size in enumerate(slice_sizes(truth.num_rows)):
        parts.append(slice_label_events(truth.slice(offset, size), day=day, seed=seed, part=part))
        offset += size
    return parts[0] if len(parts) == 1 else pa.concat_tables(parts)


def slice_label_events(truth: pa.Table, *, day: dt.date, seed: int, part: int) -> pa.Table:
    """The label events, ever, of one slice of a day (each slice draws from its own seed)."""
    rng = np.random.default_rng(slice_seed(seed, day, part, stream=1))
    n = truth.num_rows
    fraud = np.asarray(truth[LABEL.name].to_numpy(), dtype=bool)
    u = rng.random(n)
    analyst = np.where(fraud, u < ANALYST_FRAUD, u < ANALYST_LEGIT)
    chargeback = fraud & (u >= ANALYST_FRAUD) & (u < 1.0 - UNREPORTED_FRAUD)
    chargeback_delay = rng.lognormal(np.log(CHARGEBACK_MEDIAN_DAYS), CHARGEBACK_SIGMA, n)
    delay_days = np.minimum(chargeback_delay, MAX_DELAY_DAYS)
    delay_days = np.where(analyst & fraud, rng.uniform(0.5, 3.0, n), delay_days)
    delay_days = np.where(analyst & ~fraud, rng.uniform(0.5, 5.0, n), delay_days)
    keep = analyst | chargeback
    event_us = truth["event_ts"].cast(pa.int64()).to_numpy()
    reported_us = event_us + (delay_days * _US_PER_DAY).astype(np.int64)
    idx = pa.array(np.flatnonzero(keep))
    source = np.where(analyst, 1, 0)[keep]  # index into LABEL_SOURCES
    return pa.Table.from_arrays(
        [
            pc.take(truth["transaction_id"], idx),
            pc.take(truth["event_ts"], idx),
            pa.array(fraud[keep].astype(np.int32)),
            pa.array(reported_us[keep], pa.timestamp("us", tz="UTC")),
            pa.DictionaryArray.from_arrays(
                pa.array(source, pa.int32()), pa.array(LABEL_SOURCES)
            ).dictionary_decode(),
        ],
        schema=label_event_schema(),
    )


def reported_on(
    days: Iterable[dt.date],
    *,
    rows: int,
    seed: int,
    fraud_rate: float,
    drift_from: dt.date | None,
    truth: dict[dt.date, pa.Table] | None = None,
) -> pa.Table:
    """Every event reported during ``days``, whatever day its transaction was.

    ``truth`` holds days already generated (they are not generated again).
    """
    wanted = sorted(set(days))
    if not wanted:
        return label_event_schema().empty_table()
    first = wanted[0] - dt.timedelta(days=MAX_DELAY_DAYS)
    parts = []
    day = first
    while day <= wanted[-1]:
        table = (truth or {}).get(day)
        if table is None:
            table = generate_day(
                day, rows=rows, seed=seed, fraud_rate=fraud_rate, drift_from=drift_from
            )
        parts.append(reported_during(label_events(table, day=day, seed=seed), wanted))
        day += dt.timedelta(days=1)
    return in_report_order(parts)


def reported_during(events: pa.Table, days: list[dt.date]) -> pa.Table:
    """The events reported during ``days`` (sorted, no repeats)."""
    start = dt.datetime.combine(days[0], dt.time(), tzinfo=dt.UTC)
    stop = dt.datetime.combine(days[-1] + dt.timedelta(days=1), dt.time(), tzinfo=dt.UTC)
    in_span = pc.and_(
        pc.greater_equal(events["reported_at"], pa.scalar(start, events["reported_at"].type)),
        pc.less(events["reported_at"], pa.scalar(stop, events["reported_at"].type)),
    )
    events = events.filter(in_span)
    on_days = pc.is_in(
        pc.cast(events["reported_at"], pa.date32()), value_set=pa.array(days, pa.date32())
    )
    return events.filter(on_days)


def in_report_order(parts: list[pa.Table]) -> pa.Table:
    """Events of transaction days (in day order) as one table, in the order reported."""
    return pa.concat_tables(parts).sort_by([("reported_at", "ascending")])
