"""``generate`` on Spark: one task per (day, slice), the lake's days replaced in one commit.

Each task runs the package's generator for its slice (:func:`fraudops.datagen.generate_slice`,
seeded per (seed, day, slice)), writes the slice's transactions as one Parquet file under the
table's location and returns the slice's label events reported during the generated days
(tasks of the days before them only return events, as the in-process engine's
``reported_on`` does). The driver adds every file to ``fraud.transactions`` in one commit that
also drops the days' old files, so the same seed and days give the same rows on either engine.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from functools import partial

import pyarrow as pa
import pyarrow.compute as pc

from fraudops import lake
from fraudops.config import Settings
from fraudops.datagen import generate_slice, slice_sizes
from fraudops.datagen.labels import (
    MAX_DELAY_DAYS,
    in_report_order,
    reported_during,
    slice_label_events,
)
from fraudops.schema import LABEL, arrow_schema, label_event_schema
from fraudops.spark.session import spark_session


@dataclass(frozen=True)
class Task:
    """One slice of one day; ``write``: the day is generated (else only its labels count)."""

    day: dt.date
    part: int
    write: bool


@dataclass(frozen=True)
class SliceResult:
    """What a task sends back to the driver (its data stays in its file)."""

    path: str | None
    rows: int
    fraud_rows: int
    events: pa.Table


@dataclass(frozen=True)
class SparkWritten:
    """What a Spark generate job committed to ``fraud.transactions``, and the label events."""

    rows: int
    fraud_rows: int
    events: pa.Table  # reported during the days, in the order the in-process engine gives
    snapshot_id: int
    tasks: int


def tasks_for(wanted: list[dt.date], rows: int) -> list[Task]:
    """Every slice of the days and of the days whose labels can be reported during them."""
    first = wanted[0] - dt.timedelta(days=MAX_DELAY_DAYS)
    days = [first + dt.timedelta(days=i) for i in range((wanted[-1] - first).days + 1)]
    chosen = set(wanted)
    parts = range(len(slice_sizes(rows)))
    return [Task(day, part, day in chosen) for day in days for part in parts]


def run_task(
    task: Task, *, settings: Settings, rows: int, wanted: list[dt.date], folder: str
) -> SliceResult:
    """Generate one slice (on an executor): its file if its day is wanted, its label events."""
    truth = generate_slice(
        task.day,
        part=task.part,
        rows=rows,
        seed=settings.seed,
        fraud_rate=settings.fraud_rate,
        drift_from=settings.drift_from,
    )
    events = slice_label_events(truth, day=task.day, seed=settings.seed, part=task.part)
    events = reported_during(events, wanted)
    if not task.write:
        return SliceResult(None, 0, 0, events)
    path = lake.write_parquet(
        settings,
        f"{folder}/{task.day.isoformat()}-{task.part:05d}.parquet",
        truth.drop_columns([LABEL.name]).cast(arrow_schema()),
    )
    fraud = int(pc.sum(truth[LABEL.name]).as_py() or 0)
    return SliceResult(path, truth.num_rows, fraud, events)


def generate_on_spark(settings: Settings, *, wanted: list[dt.date], rows: int) -> SparkWritten:
    """Generate ``wanted`` days of ``rows`` on Spark; replace them in the lake in one commit."""
    wanted = sorted(set(wanted))
    table = lake.transactions_table(lake.open_catalog(settings))
    folder = lake.job_folder(table)
    tasks = tasks_for(wanted, rows)
    spark = spark_session(settings, app="fraudops-generate")
    work = partial(run_task, settings=settings, rows=rows, wanted=wanted, folder=folder)
    # a few slices per Spark task (each task costs its scheduling); collect() keeps the
    # tasks' order: (day, slice), as in-process
    spread = min(len(tasks), 4 * spark.sparkContext.defaultParallelism)
    results = spark.sparkContext.parallelize(tasks, numSlices=spread).map(work).collect()
    paths = [r.path for r in results if r.path is not None]
    snapshot_id = lake.replace_days(table, paths, wanted, properties={"fraudops.engine": "spark"})
    events = in_report_order([r.events for r in results]) if results else None
    return SparkWritten(
        rows=sum(r.rows for r in results),
        fraud_rows=sum(r.fraud_rows for r in results),
        events=events if events is not None else label_event_schema().empty_table(),
        snapshot_id=snapshot_id,
        tasks=len(tasks),
    )
