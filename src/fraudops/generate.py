"""The generate step: days of synthetic transactions overwritten in the lake (idempotent)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

import pyarrow as pa
import pyarrow.compute as pc

from fraudops import datagen, lake
from fraudops.config import Settings


@dataclass(frozen=True)
class GenerateResult:
    """What a generate step wrote."""

    days: list[str]
    rows: int
    fraud_rows: int
    snapshot_id: int


def generate(
    settings: Settings,
    *,
    start: dt.date | None = None,
    days: int | None = None,
    rows_per_day: int | None = None,
    on_day: Callable[[dt.date], None] | None = None,
) -> GenerateResult:
    """Generate days of transactions and overwrite those days in the lake (idempotent)."""
    start = start or settings.start_date
    n_days = days if days is not None else settings.days
    wanted = [start + dt.timedelta(days=i) for i in range(n_days)]
    tables = []
    for day in wanted:
        tables.append(
            datagen.generate_day(
                day,
                rows=rows_per_day or settings.rows_per_day,
                seed=settings.seed,
                fraud_rate=settings.fraud_rate,
                drift_from=settings.drift_from,
            )
        )
        if on_day:
            on_day(day)
    data = pa.concat_tables(tables)
    table = lake.transactions_table(lake.open_catalog(settings))
    snapshot_id = lake.write_days(table, data, wanted)
    return GenerateResult(
        days=[d.isoformat() for d in wanted],
        rows=data.num_rows,
        fraud_rows=int(pc.sum(data["is_fraud"]).as_py()),
        snapshot_id=snapshot_id,
    )
