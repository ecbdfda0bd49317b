"""Compaction of ``fraud.predictions``: a finished day's small files become one, rows unchanged.

Runs on the embedded lake (SQLite catalog, local warehouse): the same pyiceberg commits as
on PostgreSQL and S3.
"""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pytest
from pyiceberg.table import Table

from fraudops import datagen, lake
from fraudops.api import logrows
from fraudops.cardhistory import HISTORY_FEATURES
from fraudops.config import Settings
from fraudops.lake import compaction

DAY_A, DAY_B, TODAY = dt.date(2026, 2, 1), dt.date(2026, 2, 2), dt.date(2026, 2, 3)


def _rows(day: dt.date, seed: int, rows: int = 40) -> pa.Table:
    """``rows`` logged predictions of transactions of ``day``."""
    table = datagen.generate_day(day, rows=rows, seed=seed).drop_columns(["is_fraud"])
    for name in HISTORY_FEATURES:
        table = table.append_column(name, pa.array(np.full(rows, float(seed))))
    entry = logrows.Entry(
        table, np.linspace(0, 1, rows), np.zeros(rows, bool), "m", "1",
        dt.datetime(2026, 2, 3, tzinfo=dt.UTC), "api", None,
    )  # fmt: skip
    return logrows.rows_of([entry])


def _table(settings: Settings) -> Table:
    return lake.predictions_table(lake.open_catalog(settings))


def _files_per_day(table: Table) -> Counter[dt.date]:
    table.refresh()
    return Counter(
        compaction.EPOCH + dt.timedelta(days=int(t.file.partition[0]))
        for t in table.scan().plan_files()
    )


def _ids(table: Table) -> Counter[str]:
    table.refresh()
    return Counter(
        table.scan(selected_fields=("transaction_id",)).to_arrow()["transaction_id"].to_pylist()
    )


@pytest.fixture
def logged(settings: Settings) -> Table:
    """Ten commits to each of two finished days and three to today, as a committer makes."""
    table = _table(settings)
    for seed in range(10):
        lake.append(table, pa.concat_tables([_rows(DAY_A, seed), _rows(DAY_B, 100 + seed)]))
    for seed in range(3):
        lake.append(table, _rows(TODAY, 200 + seed))
    return table


def test_each_finished_day_becomes_one_file_with_the_same_rows(logged: Table) -> None:
    before = _ids(logged)
    assert _files_per_day(logged) == {DAY_A: 10, DAY_B: 10, TODAY: 3}

    done = lake.compact(logged, before=TODAY)

    assert [(c.day, c.files_before, c.files_after, c.rows) for c in done] == [
        (DAY_A, 10, 1, 400),
        (DAY_B, 10, 1, 400),
    ]
    assert _files_per_day(logged) == {DAY_A: 1, DAY_B: 1, TODAY: 3}  # today is not over
    assert _ids(logged) == before
    assert lake.compact(logged, before=TODAY) == []  # nothing left to do


def test_rows_another_writer_adds_meanwhile_are_kept(
    logged: Table, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    swap = compaction._swap
    late = _rows(DAY_A, seed=999, rows=5)
    calls: list[int] = []

    def another_writer_first(table: Table, *args: Any) -> None:
        if not calls:  # between the read and the swap: a late transaction of that day
            lake.append(_table(settings), late)
        calls.append(1)
        swap(table, *args)

    monkeypatch.setattr(compaction, "_swap", another_writer_first)
    before = _ids(logged) + Counter(late["transaction_id"].to_pylist())

    lake.compact(logged, before=TODAY)

    assert len(calls) >= 3  # day A refused once (the table moved), then day A and day B
    assert _ids(logged) == before  # the late rows kept, nothing doubled
    assert _files_per_day(logged)[DAY_A] == 2  # the compacted file and the late one


def test_a_compaction_that_lost_the_race_changes_nothing(
    logged: Table, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    swap = compaction._swap
    calls: list[int] = []

    def another_compaction_first(table: Table, *args: Any) -> None:
        if not calls:
            calls.append(1)
            monkeypatch.setattr(compaction, "_swap", swap)
            lake.compact(_table(settings), before=TODAY)  # wins both days
        swap(table, *args)

    before = _ids(logged)
    monkeypatch.setattr(compaction, "_swap", another_compaction_first)

    done = lake.compact(logged, before=TODAY)

    assert done == []  # both days: given up, their files were replaced first
    assert _ids(logged) == before
    assert _files_per_day(logged) == {DAY_A: 1, DAY_B: 1, TODAY: 3}


def test_fraudops_compact(logged: Table, settings: Settings) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FRAUDOPS_")}
    env["FRAUDOPS_HOME"] = str(settings.home_dir)
    fraudops = str(Path(sys.executable).with_name("fraudops"))

    done = subprocess.run(
        [fraudops, "compact", "--before", TODAY.isoformat()],
        env=env, capture_output=True, text=True, check=True,
    )  # fmt: skip

    assert "2026-02-01: 10 files -> 1 (400 rows)" in done.stdout
    assert "2 day(s) before 2026-02-03 compacted" in done.stdout
    assert _files_per_day(logged) == {DAY_A: 1, DAY_B: 1, TODAY: 3}
