"""Generator throughput into Arrow in memory, and the lake append rate beside it.

Goal (issue: lifecycle core): at least 1,000,000 transactions/s into Arrow on 2 cores.
"""

from __future__ import annotations

import datetime as dt
import tempfile
import time
from pathlib import Path

import pyarrow as pa

from fraudops import lake
from fraudops.config import Settings
from fraudops.datagen import card_holders, generate_day

GOAL_ROWS_PER_S = 1_000_000
DAYS = 10
ROWS = 500_000


def main() -> None:
    start = dt.date(2026, 1, 1)
    card_holders(42, max(2_000, ROWS // 2))  # population is built once per seed, not per day
    generate_day(start, rows=10_000)  # warm-up
    tables = []
    t0 = time.perf_counter()
    for i in range(DAYS):
        tables.append(generate_day(start + dt.timedelta(days=i), rows=ROWS))
    gen_s = time.perf_counter() - t0
    data = pa.concat_tables(tables).drop_columns(["is_fraud"])  # labels go to fraud.labels
    rate = data.num_rows / gen_s
    print(
        f"generator: {data.num_rows:,} rows in {gen_s:.2f} s = {rate:,.0f} rows/s "
        f"({rate / GOAL_ROWS_PER_S:.2f}x the 1,000,000 rows/s goal)"
    )

    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(_env_file=None, home=Path(tmp) / "home")  # type: ignore[call-arg]
        table = lake.transactions_table(lake.open_catalog(settings))
        days = [start + dt.timedelta(days=i) for i in range(DAYS)]
        t0 = time.perf_counter()
        lake.write_days(table, data, days)
        append_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        lake.write_days(table, data, days)
        overwrite_s = time.perf_counter() - t0
    print(
        f"lake append (Iceberg, local warehouse): {data.num_rows / append_s:,.0f} rows/s "
        f"({append_s:.2f} s); overwrite of the same days: {data.num_rows / overwrite_s:,.0f} rows/s"
    )
    print(f"end to end (generate + append): {data.num_rows / (gen_s + append_s):,.0f} rows/s")


if __name__ == "__main__":
    main()
