"""Whole days of transactions: a day is its slices, one after the other (pure, no IO)."""

from __future__ import annotations

import datetime as dt

import pyarrow as pa

from fraudops.datagen.transactions import generate_slice, slice_sizes


def generate_day(
    day: dt.date,
    *,
    rows: int = 20_000,
    seed: int = 42,
    fraud_rate: float = 0.01,
    drift_from: dt.date | None = None,
    n_cards: int | None = None,
) -> pa.Table:
    """One day of transactions with the truth (``is_fraud``): the bank never sees it whole.

    A day is its slices (:func:`slice_sizes`) one after the other, each drawn from its own
    seed, so a slice can be generated anywhere (a Spark executor) and give the same rows.
    :mod:`fraudops.datagen.labels` turns the truth into the label events a bank receives.
    """
    parts = [
        generate_slice(
            day,
            part=i,
            rows=rows,
            seed=seed,
            fraud_rate=fraud_rate,
            drift_from=drift_from,
            n_cards=n_cards,
        )
        for i in range(len(slice_sizes(rows)))
    ]
    return parts[0] if len(parts) == 1 else pa.concat_tables(parts)


def generate_days(
    start: dt.date,
    days: int,
    *,
    rows: int = 20_000,
    seed: int = 42,
    fraud_rate: float = 0.01,
    drift_from: dt.date | None = None,
) -> list[tuple[dt.date, pa.Table]]:
    """Generate consecutive days, each as its own table."""
    out = []
    for i in range(days):
        day = start + dt.timedelta(days=i)
        out.append(
            (
                day,
                generate_day(
                    day, rows=rows, seed=seed, fraud_rate=fraud_rate, drift_from=drift_from
                ),
            )
        )
    return out
