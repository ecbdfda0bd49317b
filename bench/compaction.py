"""Reading a day of ``fraud.predictions`` as the API's log leaves it, and after compaction.

A day of the inference log is committed the way the API's committers commit it (one small
snapshot every few seconds per worker: ``--commits`` commits of ``--rows`` rows each, to one
event day, through the committer's own function), then read back whole, as ``fraudops
monitor`` reads its window; then ``lake.compact`` rewrites the day as one file and the day
is read again. Each read is warmed once and timed three times (median), the same way before
and after. A real day at two workers committing every 10 s has about 17,000 files.

Reported (no goal in an issue): the read before and after, the ratio, the compaction's time.

    python -m bench compaction          # via make bench ARGS=compaction
    python -m bench.compaction --commits 2000 --rows 200
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa

if TYPE_CHECKING:
    from pyiceberg.table import Table

DAY, AFTER = dt.date(2026, 2, 1), dt.date(2026, 2, 2)


def _rows(rows: int) -> pa.Table:
    """``rows`` logged predictions of ``DAY``'s transactions."""
    from fraudops import datagen
    from fraudops.api import logrows
    from fraudops.cardhistory import HISTORY_FEATURES

    table = datagen.generate_day(DAY, rows=rows, seed=1).drop_columns(["is_fraud"])
    for name in HISTORY_FEATURES:
        table = table.append_column(name, pa.array(np.zeros(rows)))
    now = dt.datetime.now(dt.UTC)
    entry = logrows.Entry(table, np.zeros(rows), np.zeros(rows, bool), "m", "1", now, "api", None)
    return logrows.rows_of([entry])


def _read(table: Table, times: int = 3) -> tuple[float, int]:
    """Median seconds to read ``DAY`` whole (warmed once), and its rows."""
    from fraudops.lake.days import days_filter

    spent, rows = [], 0
    for _ in range(times + 1):
        table.refresh()
        started = time.perf_counter()
        rows = table.scan(row_filter=days_filter([DAY])).to_arrow().num_rows
        spent.append(time.perf_counter() - started)
    return statistics.median(spent[1:]), rows


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.compaction", description=__doc__)
    parser.add_argument("--commits", type=int, default=1000)
    parser.add_argument("--rows", type=int, default=200, help="Rows per commit.")
    args = parser.parse_args(argv or [])

    from fraudops import lake
    from fraudops.api import committer
    from fraudops.config import Settings

    with tempfile.TemporaryDirectory(prefix="bench-compaction-") as tmp:
        settings = Settings(_env_file=None, home=Path(tmp))
        ipc = committer.ipc_stream(_rows(args.rows))
        started = time.perf_counter()
        for _ in range(args.commits):
            committer._append(settings, [ipc])
        print(
            f"{args.commits:,} commits of {args.rows:,} rows to one day, as a committer makes "
            f"them: {time.perf_counter() - started:.1f} s",
            flush=True,
        )
        table = lake.predictions_table(lake.open_catalog(settings))
        before, rows = _read(table)
        started = time.perf_counter()
        done = lake.compact(table, before=AFTER)
        took = time.perf_counter() - started
        after, rows_after = _read(table)
    assert rows == rows_after == args.commits * args.rows, (rows, rows_after)
    files = done[0].files_before if done else 0
    print(f"read the day, {files:,} files: {before:.2f} s ({rows:,} rows)")
    print(f"compaction: {took:.2f} s")
    print(f"read the day, 1 file: {after:.3f} s ({before / after:.0f}x faster)")


if __name__ == "__main__":
    main(sys.argv[1:])
