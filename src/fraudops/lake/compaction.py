"""Compaction: a finished event day's many small files rewritten as one, its rows unchanged.

Every API worker's committer adds a small file to ``fraud.predictions`` every few seconds:
thousands a day, which a reader of the day (``fraudops monitor``, ``fraudops shadow
report``) then opens one by one. Once a day is over, its files are read and written again as
one, and one overwrite snapshot swaps exactly the files that were read for the new one.
Rows appended to that day meanwhile (a late transaction, another worker's commit) are in
files the swap does not touch: nothing is lost or doubled. When another compaction replaced
the files first, this one gives up; the file it wrote is in no snapshot, so no reader sees it.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass

from pyiceberg.exceptions import CommitFailedException
from pyiceberg.expressions import AlwaysTrue
from pyiceberg.io.pyarrow import ArrowScan, _dataframe_to_data_files
from pyiceberg.manifest import DataFile
from pyiceberg.table import FileScanTask, Table

from fraudops.config import Settings
from fraudops.errors import FraudOpsError
from fraudops.lake.appends import COMMIT_ATTEMPTS, SOURCE_PROPERTY, own_retries
from fraudops.lake.days import days_filter

MIN_FILES = 8  # a day with fewer files is left as it is
SOURCE = "compaction"  # the snapshot summary's fraudops.source of a compaction
EPOCH = dt.date(1970, 1, 1)


@dataclass(frozen=True)
class Compacted:
    """One day rewritten: how many files it had, how many it has now, its rows."""

    day: dt.date
    files_before: int
    files_after: int
    rows: int


def compact(table: Table, *, before: dt.date, min_files: int = MIN_FILES) -> list[Compacted]:
    """Rewrite each day before ``before`` that has ``min_files`` files or more as one file.

    ``table`` is partitioned by the day of ``event_ts``; days with delete files are skipped.
    """
    own_retries(table)
    table.refresh()
    days: dict[dt.date, list[FileScanTask]] = defaultdict(list)
    for task in table.scan().plan_files():
        days[EPOCH + dt.timedelta(days=int(task.file.partition[0]))].append(task)
    done = []
    for day, tasks in sorted(days.items()):
        if day < before and len(tasks) >= min_files and not any(t.delete_files for t in tasks):
            compacted = _compact_day(table, day, tasks)
            if compacted is not None:
                done.append(compacted)
    return done


def compact_predictions(settings: Settings, *, before: dt.date) -> list[Compacted]:
    """Compact the finished days (before ``before``) of ``fraud.predictions``."""
    from fraudops.lake.catalog import open_catalog, predictions_table

    return compact(predictions_table(open_catalog(settings)), before=before)


def _compact_day(table: Table, day: dt.date, tasks: list[FileScanTask]) -> Compacted | None:
    """Swap ``tasks``' files for one file of their rows; None if they were replaced first."""
    read = [t.file for t in tasks]
    scan = ArrowScan(table.metadata, table.io, table.schema(), AlwaysTrue())
    data = scan.to_table(tasks)
    written = list(_dataframe_to_data_files(table_metadata=table.metadata, df=data, io=table.io))
    for _ in range(COMMIT_ATTEMPTS):  # the table may have moved since the plan: look first
        live = {t.file.file_path for t in table.scan(row_filter=days_filter([day])).plan_files()}
        if not {f.file_path for f in read} <= live:
            return None  # another compaction got there first: its rows are in its file
        try:
            _swap(table, read, written)
        except CommitFailedException:  # another writer committed since: look again
            table.refresh()
            continue
        return Compacted(day, len(read), len(written), data.num_rows)
    raise FraudOpsError(f"{'.'.join(table.name())}: {COMMIT_ATTEMPTS} commits were refused")


def _swap(table: Table, read: list[DataFile], written: list[DataFile]) -> None:
    with table.transaction() as tx:
        update = tx.update_snapshot(snapshot_properties={SOURCE_PROPERTY: SOURCE})
        with update.overwrite() as overwrite:
            for file in read:
                overwrite.delete_data_file(file)
            for file in written:
                overwrite.append_data_file(file)
