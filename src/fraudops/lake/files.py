"""Data files written elsewhere (Spark executors), then added to a table in one commit.

An executor writes plain Parquet (no Iceberg field ids) of one partition under the table's
location; the driver replaces whole days with those files in one atomic commit: the days'
old files are dropped and the new ones added, or nothing changes. Files of a job that dies
before its commit are referenced by no snapshot: readers never see them.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterable

import pyarrow as pa
import pyarrow.parquet as pq
from pyiceberg.io import load_file_io
from pyiceberg.table import Table

from fraudops.config import Settings
from fraudops.lake.appends import retried
from fraudops.lake.days import days_filter


def job_folder(table: Table) -> str:
    """A fresh folder under the table's data location for one job's files."""
    return f"{table.location().rstrip('/')}/data/job-{uuid.uuid4().hex}"


def write_parquet(settings: Settings, path: str, data: pa.Table) -> str:
    """Write ``data`` as one Parquet file at ``path`` (a local or s3:// location)."""
    io = load_file_io(settings.s3_options, path)
    with io.new_output(path).create(overwrite=True) as out:
        pq.write_table(data, out, compression="zstd")
    return path


def replace_days(
    table: Table,
    paths: list[str],
    days: Iterable[dt.date],
    *,
    properties: dict[str, str] | None = None,
) -> int:
    """Replace ``days`` of ``event_ts`` with the data files at ``paths``; one commit, its id."""
    days = sorted(set(days))
    summary = {"fraudops.days": ",".join(d.isoformat() for d in days), **(properties or {})}

    def commit() -> None:
        with table.transaction() as tx:
            tx.delete(days_filter(days), snapshot_properties=summary)
            tx.add_files(paths, snapshot_properties=summary)

    snapshot = retried(table, commit)
    assert snapshot is not None
    return snapshot
